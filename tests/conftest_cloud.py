"""``python -m localcloud`` in a subprocess, for tests and for nbval's kernels."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import botocore.loaders
import botocore.session

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# One botocore data loader for every test client: it keeps the service models and endpoints.json it parsed,
# which a new session's loader parses again (~90 ms of CPU a client, hundreds of clients a run).
_LOADER = botocore.loaders.create_loader()
_LOADER_LOCK = threading.Lock()


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
        """A new client in a new session (reading the environment as it is now), on the shared data loader."""
        with _LOADER_LOCK:
            core = botocore.session.get_session()
            core.register_component("data_loader", _LOADER)
            session = boto3.session.Session(botocore_session=core)
            # boto3 appends its own data folder to the loader's search path for every session: keep it once
            _LOADER.search_paths[:] = list(dict.fromkeys(_LOADER.search_paths))
            return session.client(service, region_name=region, endpoint_url=self.url,
                                  aws_access_key_id="testing", aws_secret_access_key="testing")

    def stop(self) -> int:
        self.process.terminate()
        try:
            return self.process.wait(timeout=20)
        finally:
            self.process.stdout.close()
