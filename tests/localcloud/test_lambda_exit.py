"""A handler that ends its runtime process, or closes its standard output, gets AWS's answer at once.

On AWS a handler that calls ``sys.exit(3)`` ends the runtime: the invoke returns at once with
``FunctionError: Unhandled`` and ``{"errorType": "Runtime.ExitError", "errorMessage": "RequestId: <id> Error:
Runtime exited with error: exit status 3"}``; an exit with status 0 says "Runtime exited without providing a
reason". The environment is discarded and the next invoke starts a fresh one. Shapes as reported from AWS:
https://github.com/aws/aws-lambda-python-runtime-interface-client/issues/10 (exit status 1),
https://github.com/ballerina-platform/module-ballerinax-aws.lambda/issues/229 and
https://github.com/swift-serverless/aws-lambda-swift-sprinter/issues/27 (exit without a reason).
Closing stdout does not stop the runtime from answering (its replies do not go through the handler's stdout).

Every test talks to ``python -m localcloud`` (the ``cloud`` fixture) through boto3 only.
"""

from __future__ import annotations

import base64
import json
import re
import time

import pytest
from _support import create_role, unique_name, zip_bytes

RUNTIME = "python3.11"
TIMEOUT = 20  # far above what an answer takes, so a wait for the timeout shows
EXITING = '''
import os, sys

def handler(event, context):
    print("about to leave", event["how"])
    if event["how"] == "sys.exit":
        sys.exit(event["status"])
    if event["how"] == "os._exit":
        os._exit(event["status"])
    return {"pid": os.getpid()}
'''
CLOSING = '''
import os, sys

def handler(event, context):
    if event["close"] == "fd1":
        os.close(1)
    elif event["close"] == "sys.stdout":
        sys.stdout.close()
    return {"pid": os.getpid(), "closed": event["close"]}
'''


@pytest.fixture(scope="module")
def lam(cloud):
    return cloud.client("lambda")


@pytest.fixture(scope="module")
def role(cloud):
    return create_role(cloud, unique_name("lambda-exit"))


def _function(lam, role, source: str) -> str:
    name = unique_name("exit")
    lam.create_function(FunctionName=name, Runtime=RUNTIME, Role=role, Handler="app.handler", Timeout=TIMEOUT,
                        Code={"ZipFile": zip_bytes({"app.py": source})})
    return name


def _invoke(lam, name: str, event: dict) -> tuple[dict, object, float]:
    started = time.monotonic()
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), LogType="Tail")
    return response, json.loads(response["Payload"].read()), time.monotonic() - started


class TestHandlerExitsTheRuntime:
    """sys.exit / os._exit in a handler: Runtime.ExitError at once, and a fresh environment afterwards."""

    @pytest.mark.parametrize("how, status, reason", [
        ("sys.exit", 3, "Runtime exited with error: exit status 3"),
        ("os._exit", 0, "Runtime exited without providing a reason"),
    ])
    def test_exit_returns_at_once(self, lam, role, how, status, reason):
        """
        1. A function (Timeout 20 s) whose handler prints a line and then exits the process (``how``).
        2. Invoke it: FunctionError Unhandled, payload {"errorType": "Runtime.ExitError", "errorMessage":
           "RequestId: <id> Error: <reason>"}, well before the 20 s timeout; the log tail has the
           printed line (sys.exit) and the error line.
        3. Invoke it again with a normal event: it answers, from another process (a cold start).
        """
        name = _function(lam, role, EXITING)
        _, first, _ = _invoke(lam, name, {"how": "return"})

        response, payload, seconds = _invoke(lam, name, {"how": how, "status": status})

        assert seconds < TIMEOUT / 2, f"the invoke took {seconds:.1f} s: it waited for the timeout"
        assert response["FunctionError"] == "Unhandled"
        tail = base64.b64decode(response["LogResult"]).decode()
        request_id = re.search(r"START RequestId: (\S+)", tail).group(1)
        assert payload == {"errorType": "Runtime.ExitError", "errorMessage": f"RequestId: {request_id} Error: {reason}"}
        assert f"RequestId: {request_id} Error: {reason}" in tail
        if how == "sys.exit":
            assert "about to leave sys.exit" in tail

        response, after, _ = _invoke(lam, name, {"how": "return"})
        assert "FunctionError" not in response, after
        assert after["pid"] != first["pid"]


class TestHandlerClosesStdout:
    """A handler that closes its standard output still gets its result back, and the environment stays warm."""

    @pytest.mark.parametrize("close", ["fd1", "sys.stdout"])
    def test_result_comes_back(self, lam, role, close):
        """
        1. A function (Timeout 20 s) whose handler closes fd 1 (``os.close(1)``) or ``sys.stdout`` and returns.
        2. Invoke it: its result, no FunctionError, well before the timeout.
        3. Invoke it again: the same environment answers (same process).
        """
        name = _function(lam, role, CLOSING)

        response, payload, seconds = _invoke(lam, name, {"close": close})

        assert "FunctionError" not in response, payload
        assert payload["closed"] == close
        assert seconds < TIMEOUT / 2, f"the invoke took {seconds:.1f} s"
        response, again, _ = _invoke(lam, name, {"close": "none"})
        assert "FunctionError" not in response, again
        assert again["pid"] == payload["pid"]


class TestInitCodeExits:
    """Module-level code that exits: every invoke answers Runtime.ExitError at once."""

    def test_init_exit(self, lam, role):
        """
        1. A function whose module calls ``sys.exit(2)`` when imported.
        2. Invoke it: FunctionError Unhandled, errorType Runtime.ExitError, "... exit status 2", well before
           the timeout.
        """
        name = _function(lam, role, "import sys\nsys.exit(2)\n\ndef handler(event, context):\n    return 1\n")

        response, payload, seconds = _invoke(lam, name, {})

        assert seconds < TIMEOUT / 2, f"the invoke took {seconds:.1f} s"
        assert response["FunctionError"] == "Unhandled"
        assert payload["errorType"] == "Runtime.ExitError"
        assert payload["errorMessage"].endswith(" Error: Runtime exited with error: exit status 2"), payload


class TestInitOutputKept:
    """What the init code prints is in the first invoke's log, before what the handler prints."""

    def test_init_and_handler_output(self, lam, role):
        """
        1. A function whose module prints a long line when imported and whose handler prints a short one.
        2. The first invoke's log tail holds both lines whole, the init line first (the handler's output
           used to overwrite the start of the init output).
        """
        init_line, handler_line = "init says " + "i" * 60, "handler says hi"
        name = _function(lam, role, f"print({init_line!r})\n\ndef handler(event, context):\n"
                                    f"    print({handler_line!r})\n    return 1\n")

        response, _, _ = _invoke(lam, name, {})

        lines = base64.b64decode(response["LogResult"]).decode().splitlines()
        assert init_line in lines and handler_line in lines, lines
        assert lines.index(init_line) < lines.index(handler_line)
