"""Fixtures for the unit tests: a clean AWS environment, moto in-process, and Kits built on it.

moto's ``mock_aws`` only intercepts requests to AWS's own endpoints: a client given a
custom ``endpoint_url`` (such as the local cloud's 127.0.0.1:5050) really connects there.
So every Kit made here has ``endpoint_url=None``, whatever its target.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import shutil
from collections.abc import Callable, Iterator

import boto3
import pytest
from moto import mock_aws

from helpers import config

DUMMY_KEY = "testing-unit-key"
DUMMY_SECRET = "testing-unit-secret"


@pytest.fixture
def aws_env(monkeypatch, tmp_path) -> None:
    """Dummy credentials, no profile, no config files, no endpoint and no PIPELINE_DREAMS_* from the shell."""
    for name in list(os.environ):
        if (name.startswith(("PIPELINE_DREAMS_", "AWS_ENDPOINT_URL"))
                or name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", DUMMY_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    # Handlers call boto3.client(): start each test from a fresh default session (restored afterwards).
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


@pytest.fixture
def aws(aws_env) -> Iterator[None]:
    """moto in-process: every AWS call of the test goes to an empty, private account."""
    with mock_aws():
        yield


@pytest.fixture
def cloud_keys_given(monkeypatch) -> None:
    """Keys in the kernels' variables, as a user who started a cloud elsewhere has them: the runner, given an
    ``endpoint`` with no runtime file of this user's, keeps them (helpers.runner.cloud_process.use_keys_of)."""
    monkeypatch.setenv("PIPELINE_DREAMS_LOCAL_ACCESS_KEY_ID", "LCUNITTESTKEY0000000")
    monkeypatch.setenv("PIPELINE_DREAMS_LOCAL_SECRET_ACCESS_KEY", "unit-test-secret")


@pytest.fixture
def make_kit(aws) -> Callable[..., config.Kit]:
    """Build a Kit on moto: ``make_kit(region="us-east-1", target="aws", prefix=..., run_id=...)``."""

    def make(region: str = "eu-west-1", target: str = "aws", **settings_args: str) -> config.Kit:
        resolved = config.settings(target=target, region=region, **settings_args)
        resolved = dataclasses.replace(resolved, endpoint_url=None)  # moto intercepts AWS endpoints only
        return config.Kit(resolved, boto3.session.Session(region_name=region))

    return make


@pytest.fixture
def kit(make_kit) -> config.Kit:
    """A Kit with target aws in eu-west-1, on moto."""
    return make_kit()


# The Stubber-backed AWS kit of tests/unit/_aws_stubs.py, as a fixture for every unit test module.
from _aws_stubs import aws_kit  # noqa: E402, F401

# -- the handler tests' (test_fetch_data_handler, test_job_handlers) ---------------------------------------------
from _handler_support import IRIS, REGION, QuietFiles, local_server  # noqa: E402


@pytest.fixture
def data_server(tmp_path) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 serving iris.data (a copy of data/iris.data) and an empty empty.data."""
    root = tmp_path / "served"
    root.mkdir()
    shutil.copy(IRIS, root / "iris.data")
    (root / "empty.data").write_bytes(b"\n")
    QuietFiles.requested = []
    with local_server(functools.partial(QuietFiles, directory=str(root))) as url:
        yield url


@pytest.fixture
def account(aws) -> str:
    return boto3.client("sts", region_name=REGION).get_caller_identity()["Account"]


@pytest.fixture
def bucket(aws, monkeypatch) -> str:
    """An empty bucket in eu-west-1; no handler variables set from the shell."""
    for name in ("DATA_URL", "BUCKET", "RUN_PREFIX", "HYPERPARAMETERS", "INSTANCE_TYPE", "MAX_RUNTIME_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    name = "handler-tests-bucket"
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return name


@pytest.fixture
def job_environment(account, monkeypatch) -> dict[str, str]:
    """The environment the notebooks give the job-starting functions."""
    registry = f"{account}.dkr.ecr.{REGION}.amazonaws.com"
    environment = {
        "PREPROCESS_IMAGE_URI": f"{registry}/unit-kit/preprocess:latest",
        "TRAINING_IMAGE_URI": f"{registry}/linear-learner:1",
        "SAGEMAKER_ROLE_ARN": f"arn:aws:iam::{account}:role/unit-kit-sagemaker",
        "JOB_NAME_PREFIX": "unit-kit",
        "RESOURCE_TAGS": json.dumps(config.settings(prefix="unit-kit", run_id="handler-tests").tags()),
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return environment
