"""Polling that shows one line per wait: what it waits for, its status changes and the time so far.

In a notebook the line is rewritten in place while waiting (a carriage return), so the saved notebook
keeps one final line — ``training job …: Completed after 14 s`` — instead of a progress bar's every
redraw. Outside a notebook only status changes and the final line are printed.

Waits poll every 0.05 s for their first 2 s, every 0.1 s until 10 s, then back off up to 15 s: the
same code suits a local cloud whose jobs end in a second or two (a slow poll would sleep past the end:
half a poll on average, every wait) and AWS jobs that take minutes (a fast poll would spend API calls:
these make 120 in a wait's first 10 s, then about one every 15 s).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


class _Line:
    """One output line: rewritten in place with a carriage return in a notebook, plain lines elsewhere.

    A notebook keeps only the text after the last ``\\r`` of a line (JupyterLab when showing it, nbval when
    comparing, papermill with ``coalesce_streams``), so a saved notebook holds the final line alone.
    """

    def __init__(self) -> None:
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover - IPython is a dependency of the kit
            get_ipython = None  # noqa: N806
        self.in_notebook = bool(get_ipython and get_ipython() is not None)

    def show(self, text: str, final: bool = False, changed: bool = False) -> None:
        if self.in_notebook:
            print("\r" + text, end="\n" if final else "", flush=True)
        elif final or changed:
            print(text, flush=True)


def describe_wait(description: str, history: list[str], elapsed: float, done: bool) -> str:
    """The wait's line: ``<description>: A → B → C after 12 s`` while waiting, ``<status> after 12 s`` at the end."""
    if done:
        return f"{description}: {history[-1]} after {elapsed:.0f} s"
    return f"{description}: {' → '.join(history)} ({elapsed:.0f} s so far)"


def poll(check: Callable[[], tuple[bool, int, str]], description: str, total: int,
         timeout: float = 3600.0, first_delay: float = 0.05, max_delay: float = 15.0, quick_for: float = 2.0,
         eager_for: float = 10.0) -> None:
    """Call ``check`` until it reports done, showing one line with its status changes and elapsed time.

    Args:
        check: returns ``(done, steps_completed, status_text)``.
        description: what is waited for, e.g. ``training job pipeline-dreams-train-demo``.
        total: how many steps the check counts (kept in the line as ``step/total`` while waiting).
        timeout: seconds before giving up with TimeoutError.
        first_delay, quick_for: the pause between checks for the first ``quick_for`` seconds; twice that
            pause until ``eager_for`` seconds; then 1.5 times longer after every check, up to ``max_delay``.
    """
    delay = first_delay
    started = time.monotonic()
    deadline = started + timeout
    line, history = _Line(), []
    while True:
        done, steps, status = check()
        changed = not history or history[-1] != status
        if changed:
            history.append(status)
        elapsed = time.monotonic() - started
        text = describe_wait(description, history, elapsed, done)
        line.show(text if done else f"{text} [{min(steps, total)}/{total}]", final=done, changed=changed)
        if done:
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{description}: still '{status}' after {timeout:.0f} s")
        time.sleep(min(delay, deadline - time.monotonic()))  # the last check comes at the timeout, not past it
        waited = time.monotonic() - started
        if waited > eager_for:
            delay = min(delay * 1.5, max_delay)
        elif waited > quick_for:
            delay = 2 * first_delay


def strip_metadata(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}
