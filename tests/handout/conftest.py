"""What the tests that open pages in Chromium share: the browser (tests/chromium.py)."""

import pytest

import chromium


@pytest.fixture(scope="session")
def chromium_binary() -> str:
    """Debian's chromium, installed by scripts/ensure_chromium.sh when missing (apt-get, once)."""
    return chromium.find_or_install()
