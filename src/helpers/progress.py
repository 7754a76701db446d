"""Polling that shows one line per wait: what it waits for, its status changes and the time so far.

In a notebook the line is one output that is replaced while waiting (an IPython display with a
``display_id``, updated in place), so every front end shows it whole — JupyterLab, the classic Notebook,
papermill's saved outputs and the handout — and the saved notebook keeps one final line,
``training job …: Completed after 14 s``. While waiting the line says how far the wait is, in words:
``(3 s so far; step 2 of 5)`` for a training job's five steps (Starting, Downloading, Training, Uploading,
Completed), ``(3 s so far; 2 of 6 states done)`` for an execution. Outside a notebook (a script, a terminal)
only status changes and the final line are printed, one line each.

Waits poll every 0.05 s for their first 2 s, every 0.1 s until 10 s, then back off up to 15 s: the
same code suits a local cloud whose jobs end in a second or two (a slow poll would sleep past the end:
half a poll on average, every wait) and AWS jobs that take minutes (a fast poll would spend API calls:
these make 120 in a wait's first 10 s, then about one every 15 s).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def in_kernel() -> bool:
    """True in a notebook's kernel (which can update a display in place), False in a script or terminal IPython."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of the kit
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class Display:
    """One output of a notebook cell that is replaced in place: shown once, then updated by its ``display_id``.

    Jupyter's update_display_data replaces the output everywhere it is shown (JupyterLab, the classic
    Notebook, papermill's saved notebook), so a front end never has to interpret control characters.
    """

    def __init__(self) -> None:
        self._handle: Any = None
        self._shown: dict[str, Any] | None = None

    def show(self, bundle: dict[str, Any]) -> None:
        """Show ``bundle`` (MIME type → data), or replace what this display showed; unchanged bundles send nothing."""
        if bundle == self._shown:
            return
        self._shown = bundle
        if self._handle is None:
            from IPython.display import display

            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)


class _Line:
    """A wait's line: an updating display in a notebook's kernel, plain lines on stdout elsewhere."""

    def __init__(self) -> None:
        self.display = Display() if in_kernel() else None

    def show(self, text: str, final: bool = False, changed: bool = False) -> None:
        if self.display is not None:
            self.display.show({"text/plain": text})
        elif final or changed:
            print(text, flush=True)


def describe_wait(description: str, history: list[str], elapsed: float, done: bool, counted: str = "") -> str:
    """The wait's line: ``<description>: A → B (12 s so far; step 2 of 5)`` while waiting, ``<status> after 12 s``
    at the end."""
    if done:
        return f"{description}: {history[-1]} after {elapsed:.0f} s"
    return f"{description}: {' → '.join(history)} ({elapsed:.0f} s so far{'; ' + counted if counted else ''})"


def poll(check: Callable[[], tuple[bool, int, str]], description: str, total: int,
         timeout: float = 3600.0, first_delay: float = 0.05, max_delay: float = 15.0, quick_for: float = 2.0,
         eager_for: float = 10.0, counting: str = "step {done} of {total}",
         shown: Callable[[bool], None] | None = None) -> None:
    """Call ``check`` until it reports done, showing one line with its status changes and elapsed time.

    Args:
        check: returns ``(done, steps_completed, status_text)``.
        description: what is waited for, e.g. ``training job pipeline-dreams-train-demo``.
        total: how many steps the check counts.
        timeout: seconds before giving up with TimeoutError.
        first_delay, quick_for: the pause between checks for the first ``quick_for`` seconds; twice that
            pause until ``eager_for`` seconds; then 1.5 times longer after every check, up to ``max_delay``.
        counting: how the line words the count while waiting, with ``{done}`` and ``{total}``
            (``"{done} of {total} states done"``).
        shown: called with ``done`` after each check's line is shown (e.g. to redraw a picture below it).
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
        counted = counting.format(done=min(steps, total), total=total)
        line.show(describe_wait(description, history, elapsed, done, counted), final=done, changed=changed)
        if shown is not None:
            shown(done)
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
