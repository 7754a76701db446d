"""Tests for helpers.progress.poll: how often a wait checks, what it shows, when it gives up (a fake clock)."""

from __future__ import annotations

import types

import pytest

from helpers import progress


class FakeClock:
    """time.monotonic and time.sleep for progress: sleeping moves the clock, and is recorded with its start."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[tuple[float, float]] = []  # (when, how long)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append((self.now, seconds))
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(progress, "time", types.SimpleNamespace(monotonic=fake.monotonic, sleep=fake.sleep))
    return fake


class TestPollCadence:
    """A wait checks every 0.05 s for 2 s, every 0.1 s until 10 s, then backs off to one check per 15 s."""

    def test_quick_then_eager_then_backing_off(self, clock, capsys):
        """
        1. Poll a check that reports done once the clock reaches 120 s.
        2. Every pause that began in the first 2 s was 0.05 s; every one that began by 10 s, 0.1 s; after that
           each was 1.5 times the one before, up to 15 s.
        3. The first 10 s held 120 checks (40 + 80: what an AWS job's wait costs in API calls before backing off).
        """
        progress.poll(lambda: (clock.now >= 120, 0, "InProgress"), "training job t", total=5)
        before = None
        for started, seconds in clock.sleeps:
            if started <= 2.0 - 1e-9:
                assert seconds == pytest.approx(0.05), (started, seconds)
            elif started <= 10.0 - 1e-9:
                assert seconds == pytest.approx(0.1), (started, seconds)
            elif before is not None and before[0] > 10.0:
                assert seconds == pytest.approx(min(before[1] * 1.5, 15.0)), (started, seconds)
            before = (started, seconds)
        assert max(seconds for _, seconds in clock.sleeps) == 15.0
        assert 119 <= sum(1 for started, _ in clock.sleeps if started < 10.0) <= 121
        assert "training job t: InProgress after 12" in capsys.readouterr().out

    def test_done_at_once_never_sleeps(self, clock):
        """
        1. Poll a check that is done at its first call.
        2. No pause at all.
        """
        progress.poll(lambda: (True, 1, "Completed"), "processing job p", total=2)
        assert clock.sleeps == []

    def test_timeout_names_the_wait_and_its_last_status(self, clock):
        """
        1. Poll a check that never ends, with a 30 s timeout.
        2. TimeoutError naming what was waited for and its last status, raised at 30 s (the last pause is cut short).
        """
        with pytest.raises(TimeoutError, match=r"execution of m: still 'RUNNING' after 30 s"):
            progress.poll(lambda: (False, 1, "RUNNING"), "execution of m", total=3, timeout=30)
        assert clock.now == pytest.approx(30)  # its last check came at the timeout, not one pause later
