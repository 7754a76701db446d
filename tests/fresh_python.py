"""Run a few lines in a fresh interpreter of the suite's Python: what an import pulls in, seen from outside."""

from __future__ import annotations

import subprocess
import sys


def printed_lines(code: str, timeout: float = 120) -> list[str]:
    """The lines ``code`` prints in a new Python process; a failure of the code fails the test with its stderr."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()
