"""``make lab``: JupyterLab and a local cloud, wired so a notebook runs with no extra step."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import nbformat
import pytest
from lab_process import running_lab

ROOT = Path(__file__).resolve().parents[2]
LAB_PYTHON = ROOT / ".venv-lab" / "bin" / "python"


@pytest.mark.skipif(not LAB_PYTHON.exists(), reason="no .venv-lab: `make test` builds it (make lab's venv)")
class TestMakeLab:
    def test_notebook_01_runs_in_the_kernel_jupyterlab_starts(self) -> None:
        """A learner runs `make lab`, opens 01_bucket and runs all cells.

        1. `make lab` on free ports (no token, no browser).
        2. Wait for JupyterLab's API to answer.
        3. Open 01_bucket.ipynb as a session and run every code cell in its kernel: all succeed.
        4. Ctrl-C (SIGINT) stops JupyterLab and the local cloud.
        """
        with running_lab() as lab:
            result = subprocess.run([str(LAB_PYTHON), str(Path(__file__).with_name("lab_driver.py")), lab.base,
                                     lab.token, "01_bucket.ipynb", str(ROOT / "notebooks/01_bucket.ipynb")],
                                    capture_output=True, text=True, timeout=300)
            assert result.returncode == 0, result.stdout + result.stderr
            code_cells = sum(c.cell_type == "code" for c in nbformat.read(ROOT / "notebooks/01_bucket.ipynb", 4).cells)
            assert f"all {code_cells} code cells ran" in result.stdout
        with socket.socket() as probe:  # the local cloud stopped with it
            assert probe.connect_ex(("127.0.0.1", lab.cloud_port)) != 0
