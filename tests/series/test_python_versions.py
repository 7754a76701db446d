"""The kit on the Python a learner has: 3.11, 3.12 and 3.13 set up from the one requirements.lock.

The suite itself runs on .venv's Python (3.11). The shared series (tests/series/conftest.py) is run
from a venv on another version found on the machine (pyenv's 3.13 or 3.12, or
PIPELINE_DREAMS_OTHER_PYTHON): its runner and papermill kernels, so every notebook, run on that version.
"""

from __future__ import annotations

import subprocess

import pytest

pytestmark = pytest.mark.series


class TestAnotherPython:
    @pytest.mark.slow(30)
    def test_the_series_runs_on_another_supported_python(self, shared_series) -> None:
        """
        1. Find Python 3.12 or 3.13 (skip, saying so, when the machine has neither).
        2. `make venv`'s steps with it: a venv, requirements.lock, the kit editable, the client .pth: each exits 0.
        3. The shared series (`python -m helpers run`, 01-08, against its cloud) ran with that venv's Python:
           exit 0 and a test accuracy.
        4. The runner and every papermill kernel ran on it (their command lines, as the loopback audit logged them).
        """
        if shared_series.other_python is None:
            pytest.skip("no Python 3.12 or 3.13 on this machine (pyenv's, python3.1x on PATH, or "
                        "PIPELINE_DREAMS_OTHER_PYTHON)")
        assert shared_series.venv_steps and all(step.returncode == 0 for step in shared_series.venv_steps), \
            "\n".join(f"{step.args}: {step.stderr[-3000:]}" for step in shared_series.venv_steps)
        assert shared_series.python.endswith("/venv/bin/python")
        version = subprocess.run([shared_series.python, "-c", "import sys; print(sys.version_info[:2])"],
                                 capture_output=True, text=True).stdout.strip()
        assert version in ("(3, 12)", "(3, 13)"), version
        result = shared_series.result
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert "test accuracy:" in result.stdout
        ran_on = {kind: [line.split("\t", 1)[1] for line in shared_series.armed if marker in line]
                  for kind, marker in (("runner", "-m helpers run"), ("kernel", "ipykernel_launcher"))}
        assert ran_on["runner"] and ran_on["kernel"], shared_series.armed
        assert all(line.startswith(shared_series.python) for lines in ran_on.values() for line in lines), ran_on
