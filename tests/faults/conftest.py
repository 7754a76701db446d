"""Fixtures of the fault tests (the helpers they use are in faults_support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from faults_support import Deployed, FileServer, connect, deploy_pipeline, new_prefix


@pytest.fixture(scope="module")
def pipeline(cloud) -> Deployed:
    """The pipeline under a prefix of this module's own, on the session's cloud."""
    kit = connect(cloud.url, new_prefix("flt"), data_url=f"{cloud.data_url}/iris.data")
    return deploy_pipeline(kit)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Iterator[FileServer]:
    server = FileServer(tmp_path_factory.mktemp("served"))
    yield server
    server.stop()
