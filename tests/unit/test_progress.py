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


class TestScriptLines:
    """Outside a notebook: one plain line per status change and a final line, never a carriage return."""

    def test_status_changes_and_the_end_each_on_a_line(self, clock, capsys):
        """
        1. Poll a check that goes InProgress → Training → Completed, outside a kernel.
        2. Three lines: the two statuses with the time so far and the step count in words, then the final line.
        """
        def check():
            status = "InProgress" if clock.now < 1 else "Training" if clock.now < 2 else "Completed"
            return status == "Completed", {"InProgress": 1, "Training": 3, "Completed": 5}[status], status

        progress.poll(check, "training job t", total=5)
        out = capsys.readouterr().out
        assert "\r" not in out
        assert out.splitlines() == ["training job t: InProgress (0 s so far; step 1 of 5)",
                                    "training job t: InProgress → Training (1 s so far; step 3 of 5)",
                                    "training job t: Completed after 2 s"]

    def test_the_count_is_worded_by_the_caller(self, clock, capsys):
        """
        1. Poll with counting="{done} of {total} states done".
        2. The waiting line says "2 of 6 states done".
        """
        progress.poll(lambda: (clock.now > 0.1, 2, "RUNNING" if clock.now <= 0.1 else "SUCCEEDED"), "execution of m",
                      total=6, counting="{done} of {total} states done")
        assert capsys.readouterr().out.splitlines()[0] == "execution of m: RUNNING (0 s so far; 2 of 6 states done)"


NOTEBOOK_WAIT = '''
import itertools
from helpers import progress
statuses = itertools.chain(["InProgress"] * 5, ["Training"] * 5, itertools.repeat("Completed"))
def check():
    status = next(statuses)
    return status == "Completed", 3 if status == "Training" else 1, status
print("before")
progress.poll(check, "training job t", total=5, first_delay=0.01)
print("after")
'''


class TestNotebookLine:
    """In a notebook's kernel the line is one display updated in place (display_id), which every front end shows
    whole; a ``\\r`` was drawn character by character over the longer line by JupyterLab ("… 0 sfar) [1/2]")."""

    def test_papermill_keeps_one_final_line_and_the_kernel_sent_updates(self):
        """
        1. Execute a notebook cell that polls a check going InProgress → Training → Completed, with nbclient
           (papermill's executor), recording the kernel's messages.
        2. The saved cell holds "before", one display whose text is the final line, and "after"; no "\\r" anywhere.
        3. The kernel sent one display_data and update_display_data messages with the same display_id, the first
           of them saying "so far; step 1 of 5".
        """
        import nbformat
        from nbclient import NotebookClient

        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(NOTEBOOK_WAIT)])
        messages = []
        client = NotebookClient(notebook, timeout=120, kernel_name="python3")
        original = client.process_message

        def process_message(msg, cell, cell_index):
            messages.append(msg)
            return original(msg, cell, cell_index)

        client.process_message = process_message
        client.execute()
        outputs = notebook.cells[0].outputs
        texts = [o.get("text") or o.get("data", {}).get("text/plain") for o in outputs]
        assert [o.output_type for o in outputs] == ["stream", "display_data", "stream"], outputs
        assert texts[0] == "before\n" and texts[2] == "after\n"
        assert texts[1] == "training job t: Completed after 0 s"
        assert not any("\r" in text for text in texts)
        shown = [m for m in messages if m["msg_type"] in ("display_data", "update_display_data")]
        ids = {m["content"]["transient"]["display_id"] for m in shown}
        assert len(ids) == 1 and [m["msg_type"] for m in shown][:2] == ["display_data", "update_display_data"]
        assert shown[0]["content"]["data"]["text/plain"] == "training job t: InProgress (0 s so far; step 1 of 5)"
