"""Polling helpers for behaviour tests: wait for the cloud's asynchronous work with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """The condition did not hold before the deadline (an AssertionError, so pytest shows it plainly)."""


def wait_for(fn: Callable[[], T], timeout: float = 10.0, interval: float = 0.1,
             description: str | None = None) -> T:
    """Call ``fn`` until it returns a truthy value, and return that value.

    Exceptions raised by ``fn`` count as "not yet" (e.g. NoSuchKey while an object is
    still being written); the last one is shown if the deadline passes.

    Args:
        fn: the probe; a truthy return value ends the wait.
        timeout: seconds before giving up.
        interval: seconds between probes.
        description: what is awaited, for the failure message.

    Raises:
        WaitTimeout: ``fn`` never returned a truthy value within ``timeout``.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            value = fn()
            if value:
                return value
            last = value
        except Exception as exc:  # noqa: BLE001 - "not yet"; reported if it never succeeds
            last = exc
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:g} s waiting for "
                              f"{description or getattr(fn, '__name__', 'condition')}; last result: {last!r}")
        time.sleep(interval)


def wait_for_status(describe: Callable[[], dict[str, Any]], field: str, done: set[str],
                    timeout: float = 30.0, interval: float = 0.1) -> dict[str, Any]:
    """Poll a Describe* call until ``field`` reaches one of ``done``; return that response."""
    seen: list[str] = []

    def probe() -> dict[str, Any] | None:
        response = describe()
        seen.append(str(response.get(field)))
        return response if response.get(field) in done else None

    try:
        return wait_for(probe, timeout=timeout, interval=interval, description=f"{field} in {sorted(done)}")
    except WaitTimeout as exc:
        raise WaitTimeout(f"{exc}; {field} was {seen[-1] if seen else 'never read'}") from None
