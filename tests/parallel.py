"""How ``make test`` shares the suite between pytest-xdist workers (``-n 2 --dist loadgroup --no-loadscope-reorder``).

* Each test module is one group, run whole on one worker, so a module fixture (a deployed kit, an executed
  series) is made once.
* The modules that read the one shared series (tests/series/conftest.py) are one group, ``SHARED_SERIES``,
  so that it runs once. They run in the order of ``SHARED_SERIES_MODULES``: the last one cleans the series
  up, after every other has read it (their file names sort in that order too, for a run without xdist).
* Every notebook nbval checks is in one group, "notebooks": nbval runs a notebook's cells in order in one
  kernel, and 02 reads the bucket 01 made in the same cloud (conftest.py starts it for the notebooks).
* Groups are handed out longest first (xdist gives a free worker the next group in collection order, which
  ``order_longest_first`` sets on every worker), so the workers finish together rather than one of them
  starting a whole series at the end. A test costs its ``pytest.mark.slow(seconds)`` (measured on a quiet
  2-core machine), else a typical test's time.

The groups are named here from the test's node id, not with xdist's ``xdist_group`` mark: xdist 3.8 passes a
mark's group on by renaming ``item._nodeid``, which pytest 9.2 no longer reads (the node id lives in
``item._id``), so the mark never reaches the controller. ``GroupScheduling`` is xdist's loadscope scheduling
with these groups as its scopes (conftest.py hands it to xdist). Once it knows the shared series was collected,
it starts making the other Python's venv that the series runs on (tests/other_venv.py) in the controller, which
runs no test, while the workers start.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from xdist.scheduler import LoadScopeScheduling

import other_venv

NOTEBOOKS = "notebooks"
SHARED_SERIES = "shared-series"
SHARED_SERIES_MODULES = ("tests/series/test_loopback_only.py", "tests/series/test_python_versions.py",
                         "tests/series/test_series_e2e.py", "tests/series/test_shared_series_cleanup.py")
TYPICAL_TEST_SECONDS = 0.3  # the median test of tests/ (junit times of a whole `make test`)
TYPICAL_CELL_SECONDS = 1.0  # nbval: 71 s for the 80 cells of 01-07 and 99
OTHER_VENV_KEY = "pipeline_dreams_other_venv"  # workerinput: the folder the controller makes the venv in
_OTHER_VENV = pytest.StashKey[dict]()  # the controller's: {"folder": ..., "thread": ...}


def group_of(nodeid: str) -> str:
    """The group of a test: "notebooks" for nbval's cells, ``SHARED_SERIES``, else the test's module."""
    module = nodeid.split("::", 1)[0]
    if module.endswith(".ipynb"):
        return NOTEBOOKS
    return SHARED_SERIES if module in SHARED_SERIES_MODULES else module


def seconds_of(item: pytest.Item) -> float:
    mark = item.get_closest_marker("slow")
    if mark is not None:
        return float(mark.args[0])
    return TYPICAL_CELL_SECONDS if group_of(item.nodeid) == NOTEBOOKS else TYPICAL_TEST_SECONDS


def order_longest_first(items: list[pytest.Item], shared_series_at: int = 0) -> None:
    """Reorder ``items`` in place: whole groups, by cost, longest first.

    Within a group the collection order stays (a module's tests, a notebook's cells, 01 before 02), except
    that the shared series' modules go in the order of ``SHARED_SERIES_MODULES`` (the cleanup last).
    ``shared_series_at``: the shared series' place among the groups at least (2 when the controller makes its
    venv: each worker starts on another long group meanwhile, rather than one of them waiting for pip).
    """
    groups: dict[str, list[pytest.Item]] = {}
    for item in items:
        groups.setdefault(group_of(item.nodeid), []).append(item)
    if SHARED_SERIES in groups:  # list.sort is stable: a module's tests keep their order
        groups[SHARED_SERIES].sort(key=lambda item: SHARED_SERIES_MODULES.index(item.nodeid.split("::", 1)[0]))
    cost = {name: sum(map(seconds_of, members)) for name, members in groups.items()}
    order = sorted(groups, key=lambda name: -cost[name])
    if SHARED_SERIES in order and order.index(SHARED_SERIES) < shared_series_at:
        order.remove(SHARED_SERIES)
        order.insert(min(shared_series_at, len(order)), SHARED_SERIES)
    items[:] = [item for name in order for item in groups[name]]


def shared_series_cleanup_last(items: list[pytest.Item]) -> None:
    """Without xdist: the module that cleans the shared series up runs after every other test, whatever the
    order of the paths given (pytest keeps it); everything else keeps its order."""
    items.sort(key=lambda item: item.nodeid.split("::", 1)[0] == SHARED_SERIES_MODULES[-1])


class GroupScheduling(LoadScopeScheduling):
    """xdist's loadscope scheduling (a whole scope to one worker, the next one to whoever is free first),
    with ``group_of`` as the scope."""

    def _split_scope(self, nodeid: str) -> str:
        return group_of(nodeid)

    def schedule(self) -> None:
        super().schedule()  # sets self.collection, the tests every worker collected
        venv = self.config.stash.get(_OTHER_VENV, None)
        if venv and "thread" not in venv and any(group_of(nodeid) == SHARED_SERIES for nodeid in self.collection or []):
            venv["thread"] = other_venv.start(Path(venv["folder"]))


def other_venv_folder(config: pytest.Config) -> str:
    """The controller's folder for the other Python's venv (made once; removed by :func:`remove_other_venv`)."""
    venv = config.stash.setdefault(_OTHER_VENV, {})
    if "folder" not in venv:
        venv["folder"] = tempfile.mkdtemp(prefix="pipeline-dreams-other-venv-")
    return venv["folder"]


def remove_other_venv(config: pytest.Config) -> None:
    """At the controller's end: the venv's folder goes (the workers, which used it, have ended)."""
    venv = config.stash.get(_OTHER_VENV, None)
    if venv:
        shutil.rmtree(venv["folder"], ignore_errors=True)
