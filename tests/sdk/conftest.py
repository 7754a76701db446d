"""Fixtures of the SDK tests: the session's cloud, and what the series' first notebooks make in it."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
