"""``make lab`` as a learner starts it, on free ports with a token, for the tests that need JupyterLab."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Lab:
    base: str  # JupyterLab's URL
    token: str
    cloud_port: int


@contextmanager
def running_lab(extra_args: str = "", timeout: float = 90) -> Iterator[Lab]:
    """Start ``make lab``, wait for JupyterLab's API, and stop it (Ctrl-C twice) on exit.

    Raises:
        RuntimeError: JupyterLab did not answer in ``timeout`` seconds (with its output).
    """
    lab_port, cloud_port, token = free_port(), free_port(), os.urandom(8).hex()
    env = {**os.environ, "LAB_ARGS": f"--IdentityProvider.token={token} --ServerApp.port={lab_port} "
                                     f"--ServerApp.port_retries=0 {extra_args}".strip()}
    env.pop("PIPELINE_DREAMS_ENDPOINT", None)
    process = subprocess.Popen(["make", "-s", "lab", f"LAB_PORT={cloud_port}"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lab = Lab(f"http://127.0.0.1:{lab_port}", token, cloud_port)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(urllib.request.Request(
                    f"{lab.base}/api/status", headers={"Authorization": f"token {token}"}), timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    output = process.stdout.read() if process.poll() is not None else ""
                    raise RuntimeError(f"JupyterLab did not answer: {output}") from None
                time.sleep(0.5)
        yield lab
    finally:
        os.killpg(process.pid, signal.SIGINT)
        time.sleep(1)
        os.killpg(process.pid, signal.SIGINT)  # JupyterLab asks for a second Ctrl-C
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        process.stdout.close()
