"""localcloud.child.log_events: lines cut at CloudWatch Logs' event size, outputs kept within the local cloud's budget.

AWS: an event is at most 256 KB with 26 bytes of overhead
(https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html); PutLogEvents takes at
most 10,000 events and 1,048,576 bytes a call (same page).
"""

from __future__ import annotations

import threading

from localcloud.child import log_events


class TestSplitLine:
    def test_cuts_between_characters(self):
        """A 600,000-byte line of 3-byte characters: pieces of at most 262,118 bytes, whole characters, in order."""
        line = "€" * 200_000
        pieces = log_events.split_line(line)
        assert len(pieces) == 3 and "".join(pieces) == line
        assert all(len(p.encode()) <= log_events.MESSAGE_LIMIT for p in pieces)
        assert log_events.split_line("short") == ["short"]


class TestBatches:
    def test_put_log_events_limits(self):
        """25,000 one-byte events and five 262,118-byte ones: no batch over 10,000 events or 1,048,576 bytes."""
        messages = ["a"] * 25_000 + ["b" * log_events.MESSAGE_LIMIT] * 5
        batches = list(log_events.batches(messages))
        assert [m for batch in batches for m in batch] == messages
        assert all(len(batch) <= 10_000 for batch in batches)
        assert all(sum(len(m) + 26 for m in batch) <= 1_048_576 for batch in batches)


class TestBoundedLog:
    def test_head_marker_tail(self):
        """50,000 lines: the first 20,000, one marker naming the 20,000 left out, the last 10,000."""
        sent: list[list[str]] = []
        log = log_events.BoundedLog(sent.append, what="the test's output")
        for number in range(50_000):
            log.write(f"line {number}\n")
        log.close()
        kept = [m for batch in sent for m in batch]
        assert kept[:20_000] == [f"line {n}" for n in range(20_000)]
        assert kept[20_000].startswith("[localcloud: 20000 log events (") and "the test's output" in kept[20_000]
        assert kept[20_001:] == [f"line {n}" for n in range(40_000, 50_000)]

    def test_a_long_line_in_small_chunks(self):
        """A 1,000,000-byte line written 1,000 bytes at a time comes out as its pieces, nothing held back."""
        log = log_events.BoundedLog()
        for _ in range(1000):
            log.write("x" * 1000)
        assert log._partial_chars < log_events.MESSAGE_LIMIT + 1000
        log.write("\n")
        assert "".join(log.close()) == "x" * 1_000_000


class TestFollow:
    def test_reads_until_done(self, tmp_path):
        """Lines appended to a file while it is followed all reach the log, whole, transformed."""
        path = tmp_path / "output.log"
        path.write_text("")
        log, done = log_events.BoundedLog(), threading.Event()
        follower = threading.Thread(target=log_events.follow, args=(path, log, done, str.upper, 0.01))
        follower.start()
        with open(path, "a") as sink:
            for number in range(100):
                sink.write(f"line {number}\n")
                sink.flush()
        done.set()
        follower.join(timeout=10)
        assert log.close() == [f"LINE {n}" for n in range(100)]
