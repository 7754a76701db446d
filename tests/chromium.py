"""Debian's chromium for the tests that open pages as a person sees them (tests/handout).

When chromium is missing, :func:`find_or_install` installs it once with ``scripts/ensure_chromium.sh`` (apt-get;
the project's own setup, so a fresh machine or CI needs no manual step); if that is impossible (no apt, not root)
the calling test skips and says why. Chromium always runs with the network-off flags below.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                  "--disable-default-apps", "--hide-scrollbars", "--mute-audio"]


def find_or_install() -> str:
    """The chromium binary's path, installed by scripts/ensure_chromium.sh when missing; else skip the test."""
    found = shutil.which("chromium")
    if not found:
        done = subprocess.run(["bash", str(ROOT / "scripts/ensure_chromium.sh")], capture_output=True, text=True,
                              timeout=1200)
        found = shutil.which("chromium")
        if done.returncode != 0 or not found:
            pytest.skip(f"Debian's chromium is not installed and scripts/ensure_chromium.sh could not install it "
                        f"(exit {done.returncode}): {(done.stderr or done.stdout).strip()[-500:]}")
    return found
