"""How `make test` shares the suite (tests/parallel.py) and where the shared series' other venv comes from
(tests/other_venv.py)."""

from __future__ import annotations

import subprocess
from types import SimpleNamespace

import other_venv
import parallel


def fake_items(*nodeids: str, slow: dict[str, float] | None = None) -> list:
    slow = slow or {}

    def item(nodeid: str):
        mark = SimpleNamespace(args=(slow[nodeid],)) if nodeid in slow else None
        return SimpleNamespace(nodeid=nodeid, get_closest_marker=lambda name, mark=mark: mark)

    return [item(n) for n in nodeids]


SERIES = "tests/series/test_loopback_only.py::test_a"
CLEANUP = "tests/series/test_shared_series_cleanup.py::test_z"


class TestOrderLongestFirst:
    """Groups go longest first; the shared series can be held back to a given place."""

    def test_longest_first_cleanup_last_in_its_group(self):
        """
        1. Three modules (one long), the shared series' cleanup collected before its first module.
        2. The shared series (longest) first, cleanup after its other module; then the long module, then the short.
        """
        items = fake_items("tests/unit/test_a.py::t", CLEANUP, "tests/faults/test_b.py::t", SERIES,
                           slow={SERIES: 60, CLEANUP: 9, "tests/faults/test_b.py::t": 20})
        parallel.order_longest_first(items)
        assert [i.nodeid for i in items] == [SERIES, CLEANUP, "tests/faults/test_b.py::t", "tests/unit/test_a.py::t"]

    def test_shared_series_held_to_third_place(self):
        """
        1. The same, with shared_series_at=2 (the controller makes its venv meanwhile).
        2. Two other groups come first, longest first; then the shared series; then the rest.
        """
        items = fake_items("tests/unit/test_a.py::t", "tests/unit/test_c.py::t", SERIES, "tests/faults/test_b.py::t",
                           slow={SERIES: 60, "tests/faults/test_b.py::t": 20, "tests/unit/test_c.py::t": 5})
        parallel.order_longest_first(items, shared_series_at=2)
        assert [i.nodeid for i in items] == ["tests/faults/test_b.py::t", "tests/unit/test_c.py::t", SERIES,
                                             "tests/unit/test_a.py::t"]


class TestOtherVenvInTheBackground:
    """The controller's venv reaches the worker as the steps and python it made, failures included."""

    def test_result_is_what_the_build_recorded(self, tmp_path, monkeypatch):
        """
        1. start() with the build replaced by one whose pip step failed; wait for result().
        2. The worker gets the other Python, no venv python, and both steps with their exit codes and stderr.
        """
        steps = [subprocess.CompletedProcess(["py", "-m", "venv"], 0, "", ""),
                 subprocess.CompletedProcess(["pip", "install"], 1, "", "No matching distribution for moto==0")]
        monkeypatch.setattr(other_venv, "other_python", lambda: "/usr/bin/python3.13")
        monkeypatch.setattr(other_venv, "build", lambda python, venv: (None, steps))
        other_venv.start(tmp_path).join(timeout=30)
        other, python, got = other_venv.result(tmp_path, timeout=5)
        assert (other, python) == ("/usr/bin/python3.13", None)
        assert [(s.args, s.returncode, s.stderr) for s in got] == [(s.args, s.returncode, s.stderr) for s in steps]

    def test_no_other_python(self, tmp_path, monkeypatch):
        """
        1. start() on a machine with no 3.12 or 3.13.
        2. result() says so: no other Python, no venv, no steps (test_python_versions then skips).
        """
        monkeypatch.setattr(other_venv, "other_python", lambda: None)
        other_venv.start(tmp_path).join(timeout=30)
        assert other_venv.result(tmp_path, timeout=5) == (None, None, [])
