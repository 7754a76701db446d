"""Polling with a progress bar whose final line reads the same on every run.

Waits poll every 0.1 s for their first 10 s, then back off up to 15 s: the same code suits
a local cloud whose jobs end in a second or two (a slow poll would sleep past the end) and
AWS jobs that take minutes (a fast poll would spend API calls).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from tqdm import tqdm

BAR_FORMAT = "{desc} |{bar:20}| {n}/{total}"


def poll(check: Callable[[], tuple[bool, int, str]], description: str, total: int,
         timeout: float = 3600.0, first_delay: float = 0.1, max_delay: float = 15.0, eager_for: float = 10.0) -> None:
    """Call ``check`` until it reports done, showing its progress.

    Args:
        check: returns ``(done, steps_completed, status_text)``.
        description: the bar's label.
        total: how many steps make the bar full.
        timeout: seconds before giving up with TimeoutError.
    """
    delay = first_delay
    started = time.monotonic()
    deadline = started + timeout
    with tqdm(total=total, desc=description, bar_format=BAR_FORMAT, file=sys.stdout, mininterval=0.5,
              ascii=" #") as bar:
        while True:
            done, steps, status = check()
            bar.n = min(steps, total)
            bar.set_description_str(f"{description}: {status}", refresh=False)
            bar.refresh()
            if done:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{description}: still '{status}' after {timeout:.0f} s")
            time.sleep(delay)
            if time.monotonic() - started > eager_for:
                delay = min(delay * 1.5, max_delay)


def strip_metadata(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}
