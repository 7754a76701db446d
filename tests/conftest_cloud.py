"""``python -m localcloud`` in a subprocess, for tests and for nbval's kernels."""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from localcloud.common import clients
from localcloud.server.keys import ENV_RUNTIME_DIR

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# The clouds the tests start write their keys' runtime files here, not in the developer's home (the process that
# made the folder, pytest's controller under xdist, removes it when it exits; its workers inherit the variable)
if ENV_RUNTIME_DIR not in os.environ:
    os.environ[ENV_RUNTIME_DIR] = tempfile.mkdtemp(prefix="localcloud-test-runtime-")
    atexit.register(shutil.rmtree, os.environ[ENV_RUNTIME_DIR], True)


KEYS_BY_URL: dict[str, dict[str, str]] = {}  # every cloud this process started: its URL -> its root keys


def keys_from_ready_line(line: str) -> dict[str, str]:
    """The root keys of the cloud that printed ``line`` ("… keys in FILE"), as AWS_ACCESS_KEY_ID/SECRET variables."""
    match = re.search(r"keys in (\S+)", line)
    if not match:
        raise RuntimeError(f"no keys file in localcloud's ready line: {line!r}")
    record = json.loads(Path(match.group(1)).read_text())
    return {"AWS_ACCESS_KEY_ID": record["aws_access_key_id"], "AWS_SECRET_ACCESS_KEY": record["aws_secret_access_key"]}


def boto_keys(keys: dict[str, str]) -> dict[str, str]:
    """``boto3.client`` keyword arguments for AWS_ACCESS_KEY_ID/SECRET variables."""
    return {"aws_access_key_id": keys["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": keys["AWS_SECRET_ACCESS_KEY"]}


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
        self.keys = keys_from_ready_line(self.ready_line)  # the cloud answers no other (localcloud.server.signing)
        KEYS_BY_URL[self.url] = self.keys

    @property
    def kit_env(self) -> dict[str, str]:
        """The variables the series runner and `make lab` give the kit's kernels for this cloud."""
        from helpers.config import settings
        from localcloud.client.aws_urls import client_environment

        return {"PIPELINE_DREAMS_ENDPOINT": self.url, "PIPELINE_DREAMS_LOCAL_ACCESS_KEY_ID": self.keys["AWS_ACCESS_KEY_ID"],
                "PIPELINE_DREAMS_LOCAL_SECRET_ACCESS_KEY": self.keys["AWS_SECRET_ACCESS_KEY"],
                **client_environment(self.url, self.keys["AWS_ACCESS_KEY_ID"], self.keys["AWS_SECRET_ACCESS_KEY"],
                                     settings(target="local").region)}

    @property
    def script_env(self) -> dict[str, str]:
        """What ``eval "$(python -m localcloud env)"`` sets for a script, the AWS CLI or an SDK."""
        return {"AWS_ENDPOINT_URL": self.url, **self.keys}

    def client(self, service: str, region: str = "eu-west-1"):
        """A new client in a new session (reading the environment as it is now), on one shared data loader:
        it keeps the service models it parsed, which a new session's loader parses again (~90 ms of CPU a
        client, hundreds of clients a run)."""
        return clients.client(service, region, self.url, self.keys)

    def stop(self) -> int:
        self.process.terminate()
        try:
            return self.process.wait(timeout=20)
        finally:
            self.process.stdout.close()
