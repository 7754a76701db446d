"""Shared fixtures: a local cloud in another process, and boto3 clients pointed at it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
EVENTS_DIR = Path(__file__).resolve().parent / "events"


class CloudProcess:
    """``python -m localcloud`` running in a subprocess, as a learner's terminal would run it."""

    def __init__(self, *extra_args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "localcloud", "--port", "0", *extra_args],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=PROJECT_ROOT)
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
        return boto3.session.Session().client(
            service, region_name=region, endpoint_url=self.url,
            aws_access_key_id="testing", aws_secret_access_key="testing")

    def stop(self) -> int:
        self.process.terminate()
        try:
            return self.process.wait(timeout=20)
        finally:
            self.process.stdout.close()


@pytest.fixture(scope="session")
def cloud() -> Iterator[CloudProcess]:
    """One local cloud for the whole session (tests use unique names, so they do not collide)."""
    process = CloudProcess()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    yield process
    process.stop()


@pytest.fixture
def unique(request) -> str:
    """A name unique to the test, for resources in the shared cloud."""
    return re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-") + f"-{time.time_ns() % 10**8}"
