"""The committed notebooks' outputs read well: no walls of the same table, nothing cut off or escaped twice.

They are the outputs of the offline run (`make notebooks`), what a learner sees before running anything and what
the handout shows.
"""

from __future__ import annotations

import html
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
SERIES = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


def outputs(name: str, containing: str | None = None) -> list[dict]:
    """The outputs of the notebook's code cells (of the cells whose source contains ``containing``)."""
    cells = nbformat.read(NOTEBOOKS / name, as_version=4).cells
    return [o for c in cells if c.cell_type == "code" and (containing is None or containing in c.source)
            for o in c.outputs]


def text(output: dict) -> str:
    return output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))


def rows(output: dict) -> int:
    """The rows of a DataFrame's text output (0 for other outputs)."""
    html = str(output.get("data", {}).get("text/html", ""))
    return html.count("<tr>") - 1 if "dataframe" in html else 0


class TestSettingsShownOnceInFull:
    def test_01_has_the_whole_table_and_the_others_what_differs(self):
        """
        1. The settings table of each committed notebook (the display.settings cell).
        2. 01 shows every setting (over 20 rows); every other notebook at most 6, with a line saying how many
           more are as in 01's table.
        """
        first = [rows(o) for o in outputs("01_bucket.ipynb", "display.settings(")]
        assert max(first) > 20, first
        for name in SERIES[1:]:
            shown = outputs(name, "display.settings(")
            assert max(rows(o) for o in shown) <= 6, name
            assert "more settings as in 01's table" in "".join(text(o) for o in shown), name


class TestNothingCutOffOrEscapedTwice:
    def test_02_shows_what_the_handler_returned_in_full(self):
        """1. 02's ingest result. 2. No value ends in pandas' "..." (job_names was cut off)."""
        shown = "".join(text(o) for o in outputs("02_ingest.ipynb", "ingested = "))
        assert "job_names" in shown and "..." not in shown, shown

    def test_07_shows_the_eventbridge_input_pretty_and_folded(self):
        """
        1. 07's outputs.
        2. No double-escaped JSON (\\") anywhere; the input EventBridge made is pretty-printed JSON folded under a
           <details> summary, with the dataset settings as an object.
        """
        all_outputs = outputs("07_triggers.ipynb")
        assert not [text(o) for o in all_outputs if '\\"' in text(o)]
        folded = [html.unescape(str(o["data"]["text/html"])) for o in all_outputs
                  if "<details><summary>the input EventBridge" in str(o.get("data", {}).get("text/html", ""))]
        assert len(folded) == 1 and '"dataset_json": {' in folded[0], folded


class TestCleanupListsOnce:
    def test_99_shows_what_it_found_by_kind_and_only_failures_after(self):
        """
        1. 99's outputs.
        2. No table over 20 rows (it showed its 45 resources, twice); the removal says how many in one line.
        """
        assert max(rows(o) for o in outputs("99_cleanup.ipynb")) <= 20
        assert "removed" in "".join(text(o) for o in outputs("99_cleanup.ipynb", "cleanup.clean(kit)"))
