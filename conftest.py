"""For ``pytest --nbval``: a local cloud for the notebooks' kernels, started before any kernel.

nbval starts a notebook's kernel when it collects the file, before fixtures run, so the
cloud is started in ``pytest_sessionstart`` and its URLs reach the kernels through the
environment, as ``make lab`` and the series runner give them.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "tests"))

_cloud = None


def pytest_sessionstart(session):
    global _cloud
    if not session.config.getoption("nbval", default=False):
        return
    from conftest_cloud import CloudProcess  # tests/conftest_cloud.py

    _cloud = CloudProcess()
    os.environ["PIPELINE_DREAMS_ENDPOINT"] = _cloud.url
    os.environ["PIPELINE_DREAMS_DATA_URL"] = f"{_cloud.data_url}/iris.data"
    os.environ.pop("PIPELINE_DREAMS_RUN_ID", None)  # the committed outputs were made with the default run id


def pytest_sessionfinish(session, exitstatus):
    if _cloud is not None:
        _cloud.stop()
