"""Output turned into CloudWatch Logs events as AWS makes them, within a memory budget.

CloudWatch Logs takes events of at most 256 KB, 26 bytes of overhead included
(https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html), and Lambda cuts
a longer line into events of 2^18 - 26 = 262,118 bytes (observed:
https://stackoverflow.com/questions/77175643). :func:`split_line` cuts so, between UTF-8 characters.

The local cloud keeps its logs in memory, so one invocation's or one job's output is kept within a budget
(:class:`BoundedLog`): its first events (up to :data:`HEAD_BYTES` / :data:`HEAD_EVENTS`) and its last ones
(:data:`TAIL_BYTES` / :data:`TAIL_EVENTS`); what lies between is counted, left out, and named by one event in
its place. Text comes in as it is written, in chunks of any size, and the head goes out as it fills (a job's
log can be read while it runs): a 300 MB output never sits whole in memory.

This module knows nothing of moto: the executors hand its events to ``moto_seams.write_logs``.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

EVENT_LIMIT = 262_144
EVENT_OVERHEAD = 26
MESSAGE_LIMIT = EVENT_LIMIT - EVENT_OVERHEAD  # 262,118 UTF-8 bytes
BATCH_BYTES = 1_048_576  # PutLogEvents: message bytes + 26 a event
BATCH_EVENTS = 10_000
_READ_BYTES = 1 << 20
HEAD_BYTES, HEAD_EVENTS = 8 << 20, 20_000
TAIL_BYTES, TAIL_EVENTS = 2 << 20, 10_000


def split_line(line: str) -> list[str]:
    """``line`` as the events Lambda makes of it: pieces of at most :data:`MESSAGE_LIMIT` UTF-8 bytes."""
    if len(line) * 4 <= MESSAGE_LIMIT:  # no character takes more than 4 bytes
        return [line]
    data = line.encode("utf-8", "surrogatepass")
    if len(data) <= MESSAGE_LIMIT:
        return [line]
    pieces, start = [], 0
    while start < len(data):
        end = min(start + MESSAGE_LIMIT, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # never inside a character
            end -= 1
        pieces.append(data[start:end].decode("utf-8", "surrogatepass"))
        start = end
    return pieces


def events(lines: Iterable[str]) -> Iterator[str]:
    """Every line's pieces, in order."""
    for line in lines:
        yield from split_line(line)


def batches(messages: Iterable[str]) -> Iterator[list[str]]:
    """``messages`` in PutLogEvents-sized batches (at most 10,000 events, 1,048,576 bytes with overhead)."""
    batch: list[str] = []
    size = 0
    for message in messages:
        cost = len(message.encode("utf-8", "surrogatepass")) + EVENT_OVERHEAD
        if batch and (len(batch) >= BATCH_EVENTS or size + cost > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(message)
        size += cost
    if batch:
        yield batch


class BoundedLog:
    """One invocation's or job's output as log events, the first and last kept, within a budget.

    Args:
        send: called with the head's events as they are complete (in order, a few at a time); None keeps
            them in :attr:`head` until :meth:`close`.
        what: how the marker names the output ("this job's output").
    """

    def __init__(self, send: Callable[[list[str]], None] | None = None, what: str = "this output") -> None:
        self.send, self.what = send, what
        self.head: list[str] = []
        self._pending: list[str] = []  # head events not yet sent
        self._head_bytes = self._head_events = 0
        self._tail: deque[tuple[str, int]] = deque()
        self._tail_bytes = 0
        self.left_out_events = self.left_out_bytes = 0
        self._partial: list[str] = []  # the line being written (no newline yet)
        self._partial_chars = 0

    def write(self, text: str) -> None:
        """Add text as written (any chunk: lines end at ``\\n``)."""
        if not text:
            return
        *complete, rest = text.split("\n")
        if complete:
            self._line("".join(self._partial) + complete[0])
            for line in complete[1:]:
                self._line(line)
            self._partial, self._partial_chars = [], 0
        if rest:
            self._partial.append(rest)
            self._partial_chars += len(rest)
            if self._partial_chars >= MESSAGE_LIMIT:  # a very long line: its full pieces are events already
                *full, last = split_line("".join(self._partial))
                for piece in full:
                    self._event(piece)
                self._partial, self._partial_chars = [last], len(last)
        self._flush(force=False)

    def flush(self) -> None:
        """Send the head's events written so far (a job's log is read while it runs)."""
        self._flush(force=True)

    def close(self) -> list[str]:
        """End the output: the last line, the marker and the tail go out; returns the events not sent."""
        if self._partial:
            self._line("".join(self._partial))
            self._partial, self._partial_chars = [], 0
        if self.left_out_events:
            self._pending.append(f"[localcloud: {self.left_out_events} log events ({self.left_out_bytes} bytes) "
                                 f"of {self.what} left out here; the local cloud keeps its first "
                                 f"{HEAD_BYTES >> 20} MiB and last {TAIL_BYTES >> 20} MiB]")
        self._pending.extend(message for message, _ in self._tail)
        self._tail.clear()
        self._flush(force=True)
        return [] if self.send else self.head

    def _line(self, line: str) -> None:
        for piece in split_line(line.removesuffix("\r")):
            self._event(piece)

    def _event(self, message: str) -> None:
        size = len(message.encode("utf-8", "surrogatepass"))
        if not self._tail and self._head_events < HEAD_EVENTS and self._head_bytes + size <= HEAD_BYTES:
            self._pending.append(message)
            self._head_bytes += size
            self._head_events += 1
            return
        self._tail.append((message, size))
        self._tail_bytes += size
        while len(self._tail) > TAIL_EVENTS or self._tail_bytes > TAIL_BYTES:
            _, dropped = self._tail.popleft()
            self._tail_bytes -= dropped
            self.left_out_events += 1
            self.left_out_bytes += dropped

    def _flush(self, force: bool) -> None:
        if not self._pending:
            return
        if self.send is None:
            self.head.extend(self._pending)
        elif force or len(self._pending) >= 1000:
            for batch in batches(self._pending):
                self.send(batch)
        else:
            return
        self._pending = []


def follow(path: Path, log: BoundedLog, done: threading.Event, transform: Callable[[str], str] = str,
           interval: float = 0.2) -> int:
    """Feed ``log`` what is written to ``path`` until ``done`` is set and the file is read to its end.

    Lines reach ``transform`` whole (a path in them is never cut in two), except a line longer than a
    chunk read, which goes in pieces. Returns the bytes read.
    """
    read, carry, end = 0, b"", None
    with open(path, "rb") as source:
        while True:
            if end is None and done.is_set():  # what was written until now is read; a straggler's later writes not
                end = os.fstat(source.fileno()).st_size
            chunk = source.read(_READ_BYTES if end is None else max(0, min(_READ_BYTES, end - read)))
            if chunk:
                read += len(chunk)
                data = carry + chunk
                cut = data.rfind(b"\n") + 1 or (len(data) if len(data) >= _READ_BYTES else 0)
                data, carry = data[:cut], data[cut:]
                if data:
                    log.write(transform(data.decode("utf-8", "replace")))
                continue
            log.flush()
            if end is not None:
                break
            done.wait(interval)
    if carry:
        log.write(transform(carry.decode("utf-8", "replace")))
    return read
