"""Fixtures of the SDK tests: the session's cloud (tests/conftest.py); the localcloud tests' small helpers."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "localcloud"))  # _support: iris prepared as the series prepares it
