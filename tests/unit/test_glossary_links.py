"""The notebooks' links to the glossary work in JupyterLab, on GitHub and in the handout.

`make lab` serves notebooks/ only (scripts/lab.sh: --ServerApp.root_dir=notebooks), so a link that leaves that
folder (../docs/GLOSSARY.md) is a 404 in Lab; GitHub resolves links relative to the notebook and jumps to a
heading's slug (lower case, punctuation dropped, spaces as hyphens).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def github_slug(heading: str) -> str:
    """GitHub's anchor for a markdown heading: ``Task, Choice, Catch`` → ``task-choice-catch``."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def relative_links() -> list[tuple[str, str]]:
    """(notebook, link) for every markdown link of the notebooks that is not a URL."""
    found = []
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown":
                found += [(path.name, link) for link in _LINK.findall(cell.source)
                          if not re.match(r"[a-z]+:", link) and not link.startswith("#")]
    return found


class TestGlossaryLinks:
    def test_every_link_stays_in_the_labs_folder_and_names_a_heading(self):
        """
        1. Every relative link in the notebooks' markdown (at least the eight glossary terms).
        2. Its file is inside notebooks/ (what JupyterLab serves, and where GitHub resolves it from), and its
           #fragment is the GitHub slug of a heading in that file.
        """
        links = relative_links()
        assert len([link for _, link in links if "GLOSSARY" in link]) >= 8, links
        assert "--ServerApp.root_dir=notebooks" in (ROOT / "scripts" / "lab.sh").read_text()
        for notebook, link in links:
            path, _, fragment = link.partition("#")
            target = (NOTEBOOKS / path).resolve()
            assert target.is_relative_to(NOTEBOOKS) and target.is_file(), f"{notebook}: {link} is not in notebooks/"
            if fragment:
                headings = re.findall(r"^#+\s+(.+)$", target.read_text(), re.MULTILINE)
                assert fragment in {github_slug(h) for h in headings}, f"{notebook}: {link}: no such heading"
