"""For ``pytest --nbval``: a local cloud for the notebooks' kernels; for ``make test``: how workers share tests.

nbval starts a notebook's kernel when the notebook's first cell is set up, before any fixture, so
the cloud is started just before that (the first notebook cell this process runs) and its URLs
reach the kernels through the environment, as ``make lab`` and the series runner give them.
Under pytest-xdist only the worker that runs the notebooks starts it (tests/parallel.py).
"""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "tests"))

import nbval_displays  # noqa: E402  (tests/nbval_displays.py)
import parallel  # noqa: E402  (tests/parallel.py)

_cloud = None


def pytest_configure(config):
    """nbval applies display updates as Jupyter front ends do (tests/nbval_displays.py)."""
    if config.pluginmanager.hasplugin("nbval"):
        nbval_displays.install()


def pytest_collection_modifyitems(config, items):
    """On an xdist worker: the longest groups of tests first (every worker orders them the same); without
    xdist, the shared series' cleanup last (tests/parallel.py)."""
    if hasattr(config, "workerinput"):
        parallel.order_longest_first(items, shared_series_at=2 if parallel.OTHER_VENV_KEY in config.workerinput else 0)
    else:
        parallel.shared_series_cleanup_last(items)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist's controller, before a worker starts: where the shared series' other Python gets its venv (made by
    the controller once the scheduling sees the shared series; tests/other_venv.py)."""
    if node.config.getvalue("dist") == "loadgroup":
        node.workerinput[parallel.OTHER_VENV_KEY] = parallel.other_venv_folder(node.config)


def pytest_unconfigure(config):
    if not hasattr(config, "workerinput"):
        parallel.remove_other_venv(config)


def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup``: our groups (tests/parallel.py says why not xdist's own marks)."""
    if config.getvalue("dist") == "loadgroup":
        return parallel.GroupScheduling(config, log)
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Before nbval's first cell (whose set-up starts the kernel): the notebooks' cloud."""
    global _cloud
    if _cloud is not None or parallel.group_of(item.nodeid) != parallel.NOTEBOOKS:
        return
    from conftest_cloud import CloudProcess  # tests/conftest_cloud.py

    _cloud = CloudProcess()
    os.environ.update(_cloud.kit_env)
    os.environ.pop("PIPELINE_DREAMS_DATA_URL", None)  # as in make lab: the kit asks the cloud for its copy
    os.environ.pop("PIPELINE_DREAMS_RUN_ID", None)  # the committed outputs were made with the default run id


def pytest_sessionfinish(session, exitstatus):
    if _cloud is not None:
        _cloud.stop()
