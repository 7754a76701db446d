"""The headline figures of one ``make bench`` run, in one table, after the three benches' own output.

Usage: .venv/bin/python bench/summary.py FILE   (FILE: the JSON lines the benches wrote through BENCH_GOALS)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_note, machine_line  # noqa: E402


def main() -> None:
    path = Path(sys.argv[1])
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []
    print(f"\n=== make bench: the issue's figures in this run — {machine_line()}")
    print(f"    {load_note()}")
    if not rows:
        print("    (no figures reported: a bench failed, or ran below full size; see its output above)")
        return
    width = max(len(row["figure"]) for row in rows)
    for row in rows:
        verdict = {True: "met", False: "NOT met", None: ""}[row["met"]]
        print(f"  {row['figure']:<{width}}  {row['value']:<34} {row['goal']:<16} {verdict}")


if __name__ == "__main__":
    main()
