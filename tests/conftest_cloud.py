"""``python -m localcloud`` in a subprocess, for tests and for nbval's kernels."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

from localcloud import clients

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class CloudProcess:
    """``python -m localcloud`` running in a subprocess, as a learner's terminal would run it."""

    def __init__(self, *extra_args: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            # --exit-with-parent: a test run killed midway (a timeout) leaves no cloud behind
            [sys.executable, "-m", "localcloud", "--port", "0", "--exit-with-parent", *extra_args],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=PROJECT_ROOT, env=env)
        deadline = time.monotonic() + 30
        self.ready_line = ""
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if "ready" in line:
                self.ready_line = line
                break
            if not line and self.process.poll() is not None:
                raise RuntimeError("localcloud exited before it was ready")
        match = re.search(r"ready at (http://\S+) \(data at (\S+)\)", self.ready_line)
        if not match:
            self.process.kill()
            raise RuntimeError(f"no ready line from localcloud: {self.ready_line!r}")
        self.url, self.data_url = match.group(1), match.group(2)

    def client(self, service: str, region: str = "eu-west-1"):
        """A new client in a new session (reading the environment as it is now), on one shared data loader:
        it keeps the service models it parsed, which a new session's loader parses again (~90 ms of CPU a
        client, hundreds of clients a run)."""
        return clients.client(service, region, self.url, {"AWS_ACCESS_KEY_ID": "testing",
                                                           "AWS_SECRET_ACCESS_KEY": "testing"})

    def stop(self) -> int:
        self.process.terminate()
        try:
            return self.process.wait(timeout=20)
        finally:
            self.process.stdout.close()
