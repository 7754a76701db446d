"""The kit on the Python a learner has: 3.11, 3.12 and 3.13 set up from the one requirements.lock.

The suite itself runs on .venv's Python (3.11); this test builds a venv on another version found on the
machine (pyenv's 3.13 or 3.12, or PIPELINE_DREAMS_OTHER_PYTHON) and runs the whole series with it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.series

ROOT = Path(__file__).resolve().parents[2]
CANDIDATES = [os.environ.get("PIPELINE_DREAMS_OTHER_PYTHON", ""),
              str(Path.home() / ".pyenv/versions/3.13.0/bin/python"),
              str(Path.home() / ".pyenv/versions/3.12.1/bin/python"),
              shutil.which("python3.13") or "", shutil.which("python3.12") or ""]


def other_python() -> str | None:
    """An interpreter of 3.12 or 3.13 (not the suite's own version), or None."""
    for candidate in filter(None, CANDIDATES):
        if not Path(candidate).exists():
            continue
        version = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"],
                                 capture_output=True, text=True).stdout.strip()
        if version in ("(3, 12)", "(3, 13)") and version != str(sys.version_info[:2]):
            return candidate
    return None


class TestAnotherPython:
    def test_the_series_runs_on_another_supported_python(self, cloud, tmp_path: Path) -> None:
        """
        1. Find Python 3.12 or 3.13 (skip, saying so, when the machine has neither).
        2. `make venv`'s steps with it: a venv, requirements.lock, the kit editable.
        3. `python -m helpers run` (01-07) with that venv against the session's cloud: exit 0 and a test accuracy.
        """
        python = other_python()
        if python is None:
            pytest.skip("no Python 3.12 or 3.13 on this machine (pyenv's, python3.1x on PATH, or "
                        "PIPELINE_DREAMS_OTHER_PYTHON)")
        venv = tmp_path / "venv"
        subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=120)
        pip = [str(venv / "bin/python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        installed = subprocess.run([*pip, "-r", str(ROOT / "requirements.lock")], capture_output=True, text=True,
                                   timeout=1200)
        assert installed.returncode == 0, installed.stderr[-3000:]
        subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True, capture_output=True, timeout=300)
        result = subprocess.run([str(venv / "bin/python"), "-m", "helpers", "run", "--endpoint", cloud.url,
                                 "--out", str(tmp_path / "out"), "-p", "prefix", "pyver-e2e",
                                 "-p", "data_url", f"{cloud.data_url}/iris.data"],
                                capture_output=True, text=True, timeout=1500, cwd=ROOT)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert "test accuracy:" in result.stdout
