"""Shared fixtures: a local cloud in another process, and unique names."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest_cloud import PROJECT_ROOT, CloudProcess

EVENTS_DIR = Path(__file__).resolve().parent / "events"
__all__ = ["PROJECT_ROOT", "EVENTS_DIR", "CloudProcess"]


@pytest.fixture(scope="session")
def cloud() -> Iterator[CloudProcess]:
    """One local cloud for the whole session (tests use unique names, so they do not collide)."""
    process = CloudProcess()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    # the kit's own code in this process (helpers.connect) reaches the session's cloud with its keys
    os.environ["PIPELINE_DREAMS_LOCAL_ACCESS_KEY_ID"] = process.keys["AWS_ACCESS_KEY_ID"]
    os.environ["PIPELINE_DREAMS_LOCAL_SECRET_ACCESS_KEY"] = process.keys["AWS_SECRET_ACCESS_KEY"]
    yield process
    process.stop()


@pytest.fixture
def unique(request) -> str:
    """A name unique to the test, for resources in the shared cloud."""
    return re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-") + f"-{time.time_ns() % 10**8}"


# what points a client at a cloud: a test that leaves one of these changed sends the next test's requests
# (moto in-process, say) to a cloud it never chose
_CLIENT_VARIABLE = re.compile(r"^(AWS_|LOCALCLOUD_|SAGEMAKER_|PIPELINE_DREAMS_(ENDPOINT|LOCAL_|DATA_URL)|NO_PROXY$|no_proxy$)")


@pytest.fixture(autouse=True)
def _client_variables_restored(request) -> Iterator[None]:
    """Fail the test that leaves a client variable (AWS_ENDPOINT_URL, keys, …) other than it found it."""
    before = {name: value for name, value in os.environ.items() if _CLIENT_VARIABLE.match(name)}
    yield
    after = {name: value for name, value in os.environ.items() if _CLIENT_VARIABLE.match(name)}
    if after != before:
        changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
        for name in changed:  # put them back, so one leak fails one test
            if name in before:
                os.environ[name] = before[name]
            else:
                os.environ.pop(name, None)
        pytest.fail(f"{request.node.nodeid} left {', '.join(changed)} changed in os.environ "
                    "(use monkeypatch, or restore them)", pytrace=False)
