"""nbval compares a display updated in place (helpers.progress's wait line) as it ends (tests/nbval_displays.py)."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import nbval_displays

TESTS = Path(__file__).resolve().parents[1]
CELL = '''
import itertools
from helpers import progress
statuses = itertools.chain(["InProgress"] * 3, itertools.repeat("Completed"))
progress.poll(lambda: (s := next(statuses)) == "Completed" and (True, 2, s) or (False, 1, s), "processing job p",
              total=2, first_delay=0.01)
'''


class TestApplyUpdate:
    def test_an_update_replaces_the_data_nbval_keeps(self):
        """
        1. A display_data with a display id, then an update_display_data for it.
        2. The first message's data object now holds the update's data; the update is handed on as no cell's.
        """
        shown: dict = {}
        first = {"msg_type": "display_data", "parent_header": {"msg_id": "m"},
                 "content": {"data": {"text/plain": "waiting"}, "metadata": {}, "transient": {"display_id": "d"}}}
        kept = nbval_displays.apply_update(first, shown)["content"]["data"]
        update = {"msg_type": "update_display_data", "parent_header": {"msg_id": "m"},
                  "content": {"data": {"text/plain": "done"}, "metadata": {}, "transient": {"display_id": "d"}}}
        handed = nbval_displays.apply_update(update, shown)
        assert kept == {"text/plain": "done"} and handed["parent_header"] == {}

    def test_nbval_still_keeps_the_message_data_object(self):
        """nbval's contract this relies on: the output's data is the message's own ``content["data"]`` object, and
        kernel messages come through ``IPyNbFile.get_kernel_message(timeout, stream)``."""
        from nbformat.notebooknode import NotebookNode, from_dict
        from nbval.plugin import IPyNbCell, IPyNbFile

        assert "out['data'] = reply['data']" in inspect.getsource(IPyNbCell.runtest), \
            "nbval changed how it stores display data: tests/nbval_displays.py needs a look"
        data, out = from_dict({"text/plain": "x"}), NotebookNode(output_type="display_data")
        out["data"] = data
        assert out["data"] is data, "NotebookNode copies a NotebookNode given to it: tests/nbval_displays.py needs a look"
        assert list(inspect.signature(IPyNbFile.get_kernel_message).parameters)[:3] == ["self", "timeout", "stream"]


class TestNbvalRun:
    """pytest --nbval over a notebook whose saved output is papermill's (nbclient's): the final line."""

    @pytest.fixture(scope="class")
    @classmethod
    def folder(cls, tmp_path_factory) -> Path:
        folder = tmp_path_factory.mktemp("nbval-displays")
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CELL)])
        NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
        assert notebook.cells[0].outputs[0]["data"]["text/plain"] == "processing job p: Completed after 0 s"
        nbformat.write(notebook, folder / "wait.ipynb")
        return folder

    def run(self, folder: Path, installed: bool) -> subprocess.CompletedProcess:
        (folder / "conftest.py").write_text(
            f"import sys\nsys.path.insert(0, {str(TESTS)!r})\nimport nbval_displays\n"
            + ("def pytest_configure(config):\n    nbval_displays.install()\n" if installed else ""))
        return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist",
                               "--nbval", "--nbval-current-env", "wait.ipynb", "-q"], cwd=folder,
                              capture_output=True, text=True, timeout=180)

    def test_passes_with_updates_applied(self, folder):
        done = self.run(folder, installed=True)
        assert done.returncode == 0, done.stdout + done.stderr

    def test_nbval_alone_compares_the_first_state(self, folder):
        """Without the wrapper nbval compares the line as first shown: the reason the wrapper exists."""
        done = self.run(folder, installed=False)
        assert done.returncode != 0 and "so far" in done.stdout, done.stdout + done.stderr
