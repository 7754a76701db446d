"""``make lab``: JupyterLab and a local cloud, wired so a notebook runs with no extra step."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAB_PYTHON = ROOT / ".venv-lab" / "bin" / "python"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.skipif(not LAB_PYTHON.exists(), reason="no .venv-lab: `make test` builds it (make lab's venv)")
class TestMakeLab:
    def test_notebook_01_runs_in_the_kernel_jupyterlab_starts(self) -> None:
        """A learner runs `make lab`, opens 01_bucket and runs all cells.

        1. `make lab` on free ports (no token, no browser).
        2. Wait for JupyterLab's API to answer.
        3. Open 01_bucket.ipynb as a session and run every code cell in its kernel: all succeed.
        4. Ctrl-C (SIGINT) stops JupyterLab and the local cloud.
        """
        lab_port, cloud_port, token = free_port(), free_port(), os.urandom(8).hex()
        env = {**os.environ,
               "LAB_ARGS": f"--IdentityProvider.token={token} --ServerApp.port={lab_port} --ServerApp.port_retries=0"}
        env.pop("PIPELINE_DREAMS_ENDPOINT", None)
        lab = subprocess.Popen(["make", "-s", "lab", f"LAB_PORT={cloud_port}"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        base = f"http://127.0.0.1:{lab_port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    urllib.request.urlopen(urllib.request.Request(
                        f"{base}/api/status", headers={"Authorization": f"token {token}"}), timeout=2)
                    break
                except OSError:
                    if time.monotonic() > deadline or lab.poll() is not None:
                        pytest.fail(f"JupyterLab did not answer: {lab.stdout.read() if lab.poll() is not None else ''}")
                    time.sleep(0.5)
            result = subprocess.run([str(LAB_PYTHON), str(Path(__file__).with_name("lab_driver.py")), base, token,
                                     "01_bucket.ipynb", str(ROOT / "notebooks/01_bucket.ipynb")],
                                    capture_output=True, text=True, timeout=300)
            assert result.returncode == 0, result.stdout + result.stderr
            assert "all 5 code cells ran" in result.stdout
        finally:
            os.killpg(lab.pid, signal.SIGINT)
            time.sleep(1)
            os.killpg(lab.pid, signal.SIGINT)  # JupyterLab asks for a second Ctrl-C
            try:
                lab.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(lab.pid, signal.SIGKILL)
        with socket.socket() as probe:  # the local cloud stopped with it
            assert probe.connect_ex(("127.0.0.1", cloud_port)) != 0
