"""Fixtures the local cloud's behaviour tests share: clients of the session's cloud and iris splits.

Module-scoped: each test module gets its own clients and data, made once.
"""

from __future__ import annotations

import numpy as np
import pytest
from _support import account_id, csv_rows, run_preprocess_locally

REGION = "eu-west-1"


@pytest.fixture(scope="module")
def sm(cloud):
    return cloud.client("sagemaker", region=REGION)


@pytest.fixture(scope="module")
def s3(cloud):
    return cloud.client("s3", region=REGION)


@pytest.fixture(scope="module")
def sfn(cloud):
    return cloud.client("stepfunctions", region=REGION)


@pytest.fixture(scope="module")
def account(cloud) -> str:
    return account_id(cloud)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """iris train/test CSVs (label first, no header) made by src/jobs/preprocess.py."""
    return run_preprocess_locally(tmp_path_factory.mktemp("iris"))


@pytest.fixture(scope="module")
def test_rows(prepared) -> np.ndarray:
    """The held-out iris rows, label in column 0."""
    return np.array(csv_rows((prepared / "test" / "test.csv").read_text()), dtype=np.float64)
