"""Spare Lambda environments (localcloud.awslambda.lambda_spare): a cold start begins in a process that has imported boto3.

The handler must not be able to tell, except by its shorter init: it runs in its code folder, with that
folder first on sys.path, with exactly its function's environment (AWS's runtime variables, its
Environment, its role's keys), as in a fresh process. A function whose environment changes how Python
starts gets a fresh process instead. Lambda's execution environment: https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html
"""

from __future__ import annotations

import json
import time

import pytest
from _support import create_role, unique_name, zip_bytes

RUNTIME = "python3.11"

# Records, at import time (the init phase), what the process looks like.
PROBE = '''
import os, sys
PRELOADED = "boto3" in sys.modules
SEEN = {"cwd": os.getcwd(), "path0": sys.path[0], "env": dict(os.environ), "preloaded": PRELOADED}

def handler(event, context):
    return SEEN
'''


@pytest.fixture(scope="module")
def lam(cloud):
    return cloud.client("lambda")


@pytest.fixture(scope="module")
def role(cloud):
    return create_role(cloud, unique_name("lambda-spare"))


def probe(lam, role, **kwargs) -> dict:
    name = unique_name("spare")
    lam.create_function(FunctionName=name, Runtime=RUNTIME, Role=role, Handler="app.handler", Timeout=30,
                        Code={"ZipFile": zip_bytes({"app.py": PROBE})}, **kwargs)
    time.sleep(0.5)  # the spare started after the previous cold start has finished its imports
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    assert "FunctionError" not in response, response["Payload"].read()
    return json.loads(response["Payload"].read())


def probe_with_spare(lam, role, **kwargs) -> dict:
    """``probe`` until a cold start was a spare's (at most 3 functions): a spare whose private /tmp predates a
    folder made in the machine's /tmp since (another test's cloud) is set aside and a new one started
    (localcloud.awslambda.lambda_spare), which a busy machine does now and then."""
    for _ in range(3):
        seen = probe(lam, role, **kwargs)
        if seen["preloaded"]:
            break
    return seen


class TestAColdStartUsesTheSpare:
    """The handler's module is imported in a process where boto3 is already imported."""

    def test_handler_sees_its_own_folder_and_environment(self, lam, role):
        """
        1. Create a function with an Environment variable; invoke it (a cold start).
        2. boto3 was imported before the handler's module (the spare); the working directory is the
           code folder and first on sys.path; the environment has the function's variables, AWS's
           runtime variables and the role's keys, and nothing of the spare's own start.
        """
        seen = probe_with_spare(lam, role, Environment={"Variables": {"GREETING": "hello"}})
        assert seen["preloaded"] is True
        assert seen["path0"] == seen["cwd"]
        env = seen["env"]
        assert env["GREETING"] == "hello" and env["AWS_LAMBDA_FUNCTION_NAME"].startswith("spare")
        assert env["_HANDLER"] == "app.handler" and env["LAMBDA_TASK_ROOT"] == seen["cwd"]
        assert env["AWS_ACCESS_KEY_ID"] and env["TZ"] == "UTC"

    def test_two_functions_never_share_a_spare(self, lam, role):
        """
        1. Invoke two functions (two cold starts).
        2. Each ran in its own code folder and saw only its own variables.
        """
        first = probe(lam, role, Environment={"Variables": {"ONLY_FIRST": "1"}})
        second = probe(lam, role)
        assert first["cwd"] != second["cwd"]
        assert "ONLY_FIRST" in first["env"] and "ONLY_FIRST" not in second["env"]


class TestStartupSettingsStartFresh:
    """An Environment that changes how Python starts cannot use a spare started without it."""

    def test_pythonpath_like_variable_gets_a_fresh_process(self, lam, role):
        """
        1. Create a function whose Environment sets PYTHONDONTWRITEBYTECODE; invoke it.
        2. boto3 was not imported before its handler (a fresh Python); it still runs normally.
        """
        seen = probe(lam, role, Environment={"Variables": {"PYTHONDONTWRITEBYTECODE": "1"}})
        assert seen["preloaded"] is False
        assert seen["env"]["PYTHONDONTWRITEBYTECODE"] == "1" and seen["path0"] == seen["cwd"]
