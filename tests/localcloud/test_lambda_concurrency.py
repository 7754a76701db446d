"""Concurrent invokes of one function run side by side, each once, up to the account's concurrency.

AWS scales a function's execution environments with its concurrent invokes, up to the Region's account
concurrency (1,000 by default: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html); past it,
a synchronous Invoke answers 429 TooManyRequestsException "Rate Exceeded." with Reason
ConcurrentInvocationLimitExceeded (https://docs.aws.amazon.com/botocore/latest/reference/services/lambda/client/exceptions/TooManyRequestsException.html,
as reported in https://github.com/HumanCellAtlas/data-store/issues/1118), while an asynchronous one is queued
and runs later. The local cloud's limit is ``--lambda-concurrency`` (1,000 by default).

Every test talks to ``python -m localcloud`` through boto3 only; the handlers meet at a barrier of files in a
folder the event names, so "side by side" does not depend on timing.
"""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from _support import create_role, unique_name, zip_bytes
from _wait import wait_for
from botocore.exceptions import ClientError
from conftest_cloud import CloudProcess

REGION = "eu-west-1"
# Records that it ran, then waits until `wanted` invocations have started (or `release` exists, or 40 s pass).
BARRIER = '''
import os, time

def handler(event, context):
    folder = event["folder"]
    with open(os.path.join(folder, "ran.log"), "a") as ran:
        ran.write(event["id"] + "\\n")
    open(os.path.join(folder, event["id"] + ".started"), "w").close()
    deadline = time.time() + 40
    while time.time() < deadline:
        started = [n for n in os.listdir(folder) if n.endswith(".started")]
        if len(started) >= event["wanted"] or os.path.exists(os.path.join(folder, "release")):
            break
        time.sleep(0.05)
    return {"id": event["id"], "pid": os.getpid(), "together": len(started)}
'''


def _function(cloud) -> str:
    name = unique_name("together")
    cloud.client("lambda", REGION).create_function(
        FunctionName=name, Runtime="python3.11", Role=create_role(cloud, unique_name("together")),
        Handler="app.handler", Code={"ZipFile": zip_bytes({"app.py": BARRIER})}, Timeout=60)
    return name


def _ran(folder: Path) -> list[str]:
    path = folder / "ran.log"
    return sorted(path.read_text().split()) if path.exists() else []


class TestConcurrentInvokesRunSideBySide:
    def test_twelve_invokes_meet_and_each_runs_once(self, cloud, tmp_path):
        """
        1. A function whose handler notes its event id, then waits until 12 invocations have started.
        2. Invoke it 12 times at once, synchronously, from 12 threads.
        3. Every invocation saw all 12 started (they ran side by side in 12 environments, not 4 at a time),
           every id ran exactly once, and the burst took far less than 12 invocations one after another
           (each handler's wait is up to 40 s).
        """
        name = _function(cloud)
        lam = cloud.client("lambda", REGION)

        def invoke(number: int) -> dict:
            event = {"folder": str(tmp_path), "id": f"event-{number:02d}", "wanted": 12}
            response = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
            assert "FunctionError" not in response
            return json.loads(response["Payload"].read())

        started = time.monotonic()
        with ThreadPoolExecutor(12) as pool:
            results = list(pool.map(invoke, range(12)))
        seconds = time.monotonic() - started

        assert [r["together"] for r in results] == [12] * 12, results
        assert len({r["pid"] for r in results}) == 12
        assert _ran(tmp_path) == [f"event-{n:02d}" for n in range(12)]
        assert seconds < 30, f"12 invokes that meet took {seconds:.1f} s"


@pytest.fixture
def limited_cloud(tmp_path):
    """A cloud of the test's own whose account concurrency is 2."""
    cloud = CloudProcess("--lambda-concurrency", "2", env={**os.environ, "TMPDIR": str(tmp_path)})
    yield cloud
    cloud.stop()


class TestAccountConcurrency:
    def test_over_the_limit_sync_is_429_and_async_waits(self, limited_cloud, tmp_path):
        """
        1. On a cloud started with --lambda-concurrency 2, two invocations hold at the barrier (waiting for 3).
        2. A third synchronous Invoke: 429 TooManyRequestsException "Rate Exceeded.", Reason
           ConcurrentInvocationLimitExceeded; its handler did not run.
        3. An asynchronous Invoke is accepted (202) and runs once the two are released.
        """
        folder = tmp_path / "barrier"
        folder.mkdir()
        name = _function(limited_cloud)
        lam = limited_cloud.client("lambda", REGION)
        held = [threading.Thread(target=lam.invoke, kwargs={"FunctionName": name, "Payload": json.dumps(
            {"folder": str(folder), "id": f"held-{n}", "wanted": 3}).encode()}) for n in range(2)]
        for thread in held:
            thread.start()
        wait_for(lambda: len(_ran(folder)) == 2, timeout=30, description="two invocations at the barrier")

        with pytest.raises(ClientError) as caught:
            lam.invoke(FunctionName=name,
                       Payload=json.dumps({"folder": str(folder), "id": "third", "wanted": 3}).encode())
        error = caught.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert error["Error"]["Code"] == "TooManyRequestsException"
        assert error["Error"]["Message"] == "Rate Exceeded."
        assert error["Reason"] == "ConcurrentInvocationLimitExceeded"
        accepted = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(
            {"folder": str(folder), "id": "queued", "wanted": 1}).encode())
        assert accepted["StatusCode"] == 202
        assert _ran(folder) == ["held-0", "held-1"]

        (folder / "release").touch()
        for thread in held:
            thread.join(timeout=30)
        wait_for(lambda: _ran(folder) == ["held-0", "held-1", "queued"], timeout=30, description="the queued event")
