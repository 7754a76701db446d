"""Where the kit's files are: handlers, job scripts, images, IAM documents, state machines."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LAMBDAS_DIR = PROJECT_ROOT / "src" / "lambdas"
JOBS_DIR = PROJECT_ROOT / "src" / "jobs"
DOCKER_DIR = PROJECT_ROOT / "docker"
IAM_DIR = PROJECT_ROOT / "iam"
STATEMACHINES_DIR = PROJECT_ROOT / "statemachines"
DATA_DIR = PROJECT_ROOT / "data"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
