"""Tests for what the series runner does around papermill: warmed kernels, its engine, a light ``import helpers``.

Real kernels are started here (no cloud): a notebook must run in a warmed kernel exactly as in a fresh one.
"""

from __future__ import annotations

import threading
import types
from pathlib import Path

import nbformat
import papermill
import pytest
from fresh_python import printed_lines

from helpers.runner import kernels, papermill_engine, series
from helpers.runner.kernels import KernelStarter, imported_modules, warm_up_code


def write_notebook(path: Path, *sources: str) -> Path:
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                 "language": "python"}})
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(notebook, path)
    return path


def execute(source: Path, target: Path, manager=None, **kwargs) -> nbformat.NotebookNode:
    papermill.execute_notebook(str(source), str(target), kernel_name="python3", progress_bar=False,
                               cwd=str(source.parent), **({"km": manager} if manager else {}), **kwargs)
    return nbformat.read(target, as_version=4)


def outputs(notebook: nbformat.NotebookNode) -> list[str]:
    """Each cell's stream text and results, in order."""
    texts = []
    for cell in notebook.cells:
        texts.append("".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in cell.outputs))
    return texts


class TestImportedModules:
    """imported_modules() names what a notebook's import lines import, as the warm-up will import it."""

    def test_import_forms(self, tmp_path):
        """
        1. A notebook with `import a as b, c.d`, `from e.f import g`, an indented import, a relative one,
           a comment, a multi-line `from … import (`, a repeat, and an import inside a string.
        2. The unindented absolute ones, in order, once each.
        """
        notebook = write_notebook(tmp_path / "n.ipynb",
                                  "import json\nimport pandas as pd, numpy.linalg  # why not\n",
                                  "from helpers import display\nif True:\n    import csv\nfrom . import sibling\n",
                                  "from collections import (\n    OrderedDict,\n)\nimport json\ntext = 'import os'\n")
        assert imported_modules(notebook) == ["json", "pandas", "numpy.linalg", "helpers", "collections"]

    def test_the_series_notebooks(self):
        """
        1. Read 01-05.
        2. Each names json, pandas and helpers: what the runner's kernels import ahead (and the bench's floor
           cell imports).
        """
        from helpers.runner.series import select_notebooks

        for notebook in select_notebooks("01,02,03,04,05"):
            assert imported_modules(notebook) == ["json", "pandas", "helpers"], notebook.name


    def test_warm_calls_for_notebooks_that_import_helpers(self):
        """
        1. The warm-up calls for the imports of a notebook with helpers (twice, once as a submodule), and without.
        2. helpers.sessions.warm once for the first; nothing for the second.
        """
        assert kernels.warm_calls(["json", "helpers.display", "helpers"]) == ["helpers.sessions:warm"]
        assert kernels.warm_calls(["json", "pandas"]) == []

    @pytest.mark.parametrize("warmed", [True, False])
    def test_a_warmed_kit_reads_no_service_model_again(self, warmed):
        """
        1. In a fresh Python (a port listening as the cloud), `from helpers import *` (boto3 is not imported yet:
           warming is not redundant); then, or not, the warm-up call helpers.sessions.warm().
        2. connect() and a client of each of the kit's services.
        3. Warmed: botocore read no data file for them (models, endpoint rules, partitions); not warmed: it did.
        """
        code = ("import os, socket, sys\n"
                "listening = socket.create_server(('127.0.0.1', 0))\n"
                "os.environ['PIPELINE_DREAMS_ENDPOINT'] = f'http://127.0.0.1:{listening.getsockname()[1]}'\n"
                "from helpers import *\nimport helpers\nfrom helpers import sessions\n"
                "print('boto3' in sys.modules)\n"
                f"if {warmed}:\n    sessions.warm()\n"
                "import botocore.loaders\n"
                "read, original = [], botocore.loaders.JSONFileLoader.load_file\n"
                "botocore.loaders.JSONFileLoader.load_file = lambda self, path: read.append(path) or original(self, path)\n"
                "kit = helpers.connect(target='local', run_id='r1', data_url='http://127.0.0.1:9/iris.data')\n"
                "clients = [kit.client(service) for service in sessions.KIT_SERVICES]\n"
                "print(len(read))\n")
        before, reads = printed_lines(code)
        assert before == "False"
        assert (int(reads) == 0) is warmed, reads


class TestWarmedKernel:
    """A kernel warmed for a notebook runs it exactly as a fresh one would, with its modules already imported."""

    def test_modules_imported_namespace_untouched(self, tmp_path):
        """
        1. Start a kernel warmed for a notebook that imports wave and email.mime.text.
        2. Before the notebook imports anything, both are in sys.modules.
        3. The notebook's namespace and execution counts are those of the same notebook in papermill's own
           fresh kernel (no wave, no name of the warm-up's).
        """
        notebook = write_notebook(tmp_path / "n.ipynb",
                                  "import sys\nprint(sorted(m for m in ('wave', 'email.mime.text') if m in sys.modules))",
                                  "print(sorted(k for k in globals() if k not in ('_i2', '_ii', '_iii')))",
                                  "import wave\nimport email.mime.text")
        fresh = execute(notebook, tmp_path / "fresh.ipynb")
        starter = KernelStarter(tmp_path, [notebook])
        starter.start_next()
        manager = starter.take()
        try:
            done = execute(notebook, tmp_path / "out.ipynb", manager)
        finally:
            starter.stop(manager)
            starter.close()
        assert outputs(done)[0].strip() == "['email.mime.text', 'wave']"
        assert outputs(fresh)[0].strip() == "[]"
        assert "wave" not in outputs(done)[1] and "_module" not in outputs(done)[1]
        assert outputs(done)[1] == outputs(fresh)[1]
        assert [cell.execution_count for cell in done.cells] == [cell.execution_count for cell in fresh.cells] == [1, 2, 3]

    def test_a_missing_module_fails_in_the_notebooks_own_cell(self, tmp_path):
        """
        1. Warm a kernel for a notebook that imports a module that does not exist.
        2. The warm-up swallows it; the notebook's own import cell fails with ModuleNotFoundError naming it.
        """
        notebook = write_notebook(tmp_path / "n.ipynb", "print('before')", "import no_such_module_here")
        starter = KernelStarter(tmp_path, [notebook])
        starter.start_next()
        manager = starter.take()
        try:
            with pytest.raises(papermill.PapermillExecutionError) as failure:
                execute(notebook, tmp_path / "out.ipynb", manager)
        finally:
            starter.stop(manager)
            starter.close()
        assert failure.value.ename == "ModuleNotFoundError" and "no_such_module_here" in failure.value.evalue
        assert failure.value.cell_index == 1

    def test_warm_up_code_binds_nothing(self):
        """
        1. Run the warm-up code for json, a missing module and helpers (with its warm call) in a fresh namespace.
        2. No error; the namespace gained nothing but __builtins__.
        """
        namespace: dict = {}
        modules = ["json", "no_such_module_here", "helpers"]
        exec(warm_up_code(modules, kernels.warm_calls(modules)), namespace)
        assert set(namespace) == {"__builtins__"}


class TestKernelsAhead:
    """The starter keeps two kernels starting ahead, one per upcoming notebook, and leaves none behind."""

    def test_two_ahead_then_one_per_take(self, tmp_path, monkeypatch):
        """
        1. Three notebooks; start_next() with kernel start replaced by a recorder.
        2. Kernels start for the first two notebooks, warmed for each one's modules.
        3. After take(), start_next() starts the third notebook's; after the next take(), nothing more.
        4. The first kernel (its notebook waits for it) only imports; the others make helpers' warm call too.
        """
        started, calls = [], []
        monkeypatch.setattr(KernelStarter, "_start", lambda self, box, modules, warm: (started.append(modules),
                                                                                       calls.append(warm)))
        notebooks = [write_notebook(tmp_path / f"{n}.ipynb", f"import mod{n}\nimport helpers") for n in "abc"]
        starter = KernelStarter(tmp_path, notebooks)
        starter.start_next()
        assert started_after(starter, started) == [["moda", "helpers"], ["modb", "helpers"]]
        starter.take()
        starter.start_next()
        assert started_after(starter, started) == [["moda", "helpers"], ["modb", "helpers"], ["modc", "helpers"]]
        starter.take()
        starter.start_next()
        starter.take()
        starter.start_next()
        assert started_after(starter, started) == [["moda", "helpers"], ["modb", "helpers"], ["modc", "helpers"]]
        assert not starter.started
        assert calls == [[], ["helpers.sessions:warm"], ["helpers.sessions:warm"]]  # the first kernel only imports


def started_after(starter: KernelStarter, started: list) -> list:
    for thread, _ in starter._pending:
        thread.join()
    return started


class TestReadyClient:
    """The runner's kernel client is ready at its kernel_info's idle status; nothing a cell prints is lost."""

    def test_first_cells_output_arrives(self, tmp_path):
        """
        1. Three times: a fresh kernel from the starter (its client class is the ready client), then a notebook
           whose first cell prints at once.
        2. Every run has the first cell's output and the second's.
        """
        notebook = write_notebook(tmp_path / "n.ipynb", "print('first')", "print('second')")
        starter = KernelStarter(tmp_path)
        try:
            for attempt in range(3):
                starter.start_next()
                manager = starter.take()
                assert manager.client_factory.__name__ == "ReadyClient"
                done = execute(notebook, tmp_path / f"out{attempt}.ipynb", manager)
                starter.stop(manager)
                assert outputs(done) == ["first\n", "second\n"], attempt
        finally:
            starter.close()


class TestThrottledSavesEngine:
    """The runner's papermill engine writes the notebook less often, and the same notebook in the end."""

    def test_fewer_writes_same_result(self, tmp_path, monkeypatch):
        """
        1. Execute a 20-cell notebook with papermill's engine, then with the runner's, counting writes.
        2. papermill's writes twice a cell (42); the runner's at the start, the end and at most once a second.
        3. Both files have every output, and papermill's metadata (each cell completed, with a duration).
        """
        import papermill.engines

        notebook = write_notebook(tmp_path / "n.ipynb", *[f"print({n})" for n in range(20)])
        writes = []
        real_write = papermill.engines.write_ipynb
        monkeypatch.setattr(papermill.engines, "write_ipynb", lambda nb, path: (writes.append(path), real_write(nb, path)))
        plain = execute(notebook, tmp_path / "plain.ipynb")
        plain_writes, writes[:] = len(writes), []
        ours = execute(notebook, tmp_path / "ours.ipynb", engine_name=papermill_engine.ENGINE_NAME)
        assert plain_writes == 42
        assert 2 <= len(writes) <= 4, writes
        assert outputs(ours) == outputs(plain) == [f"{n}\n" for n in range(20)]
        for cell in ours.cells:
            assert cell.metadata.papermill["status"] == "completed" and cell.metadata.papermill["duration"] is not None
        assert ours.metadata.papermill["duration"] is not None

    def test_a_failed_cell_is_written(self, tmp_path):
        """
        1. Execute a notebook whose second cell raises, with the runner's engine.
        2. papermill raises; the file holds the traceback and the failed status (the final write is never skipped).
        """
        notebook = write_notebook(tmp_path / "n.ipynb", "print('ok')", "raise ValueError('bad row 7')", "print('never')")
        with pytest.raises(papermill.PapermillExecutionError):
            execute(notebook, tmp_path / "out.ipynb", engine_name=papermill_engine.ENGINE_NAME)
        done = nbformat.read(tmp_path / "out.ipynb", as_version=4)
        failed = [c for c in done.cells if c.cell_type == "code" and c.metadata.papermill.get("exception")]
        assert len(failed) == 1 and failed[0].outputs[0]["evalue"] == "bad row 7"

    def test_a_slow_cell_is_seen_running(self, tmp_path, monkeypatch):
        """
        1. Execute `print('a')`, then a cell that sleeps 1.5 s, with the runner's engine, recording each write.
        2. Some write made before the notebook ended shows the sleeping cell running: a long cell on AWS is
           seen in the file as with papermill's engine.
        """
        import papermill.engines

        notebook = write_notebook(tmp_path / "n.ipynb", "print('a')", "import time; time.sleep(1.5)", "print('b')")
        seen = []
        real_write = papermill.engines.write_ipynb
        monkeypatch.setattr(papermill.engines, "write_ipynb", lambda nb, path: (
            seen.append([c.metadata.papermill["status"] for c in nb.cells]), real_write(nb, path)))
        execute(notebook, tmp_path / "out.ipynb", engine_name=papermill_engine.ENGINE_NAME)
        assert ["completed", "running", "pending"] in seen


class TestLightImport:
    """`import helpers` imports its submodules when first used; `python -m helpers` does not import pandas."""

    def test_runner_import_leaves_pandas_out(self):
        """
        1. In a fresh Python, import helpers.__main__ (what `python -m helpers run` imports before its cloud).
        2. pandas was not imported; helpers.s3 works once asked for, and `from helpers import *` gives every
           submodule; an unknown name raises AttributeError naming it.
        """
        code = ("import sys, helpers.__main__\n"
                "print('pandas' in sys.modules)\n"
                "import helpers\n"
                "print(helpers.s3.__name__)\n"
                "ns = {}\nexec('from helpers import *', ns)\n"
                "print(all(n in ns for n in helpers.SUBMODULES))\n"
                "try:\n    helpers.nope\nexcept AttributeError as e:\n    print(e)\n")
        assert printed_lines(code) == ["False", "helpers.s3", "True", "module 'helpers' has no attribute 'nope'"]


class TestSummaryPreparedBesideTheLastNotebook:
    """The summary's imports and kit are made while the last notebook runs, not before it starts."""

    class _Collector:
        def __init__(self) -> None:
            self.last_notebook_running = threading.Event()
            self.events: list[str] = []

        def prepare(self) -> None:
            self.events.append(f"prepared, last notebook running: {self.last_notebook_running.wait(timeout=5)}")

        def __call__(self, result) -> None:
            self.events.append("collected")

    def run(self, monkeypatch, tmp_path, selection: str) -> list[str]:
        monkeypatch.setenv("PIPELINE_DREAMS_LOCAL_ACCESS_KEY_ID", "LCUNITTESTKEY0000000")  # a cloud run elsewhere
        monkeypatch.setenv("PIPELINE_DREAMS_LOCAL_SECRET_ACCESS_KEY", "unit-test-secret")
        collector = self._Collector()

        def execute_notebook(input_path, output_path, parameters=None, **kwargs):
            collector.events.append(f"executing {Path(input_path).name[:2]}")
            if Path(input_path).name.startswith(selection[-2:]):
                collector.last_notebook_running.set()
            nbformat.write(nbformat.read(input_path, as_version=4), output_path)

        monkeypatch.setattr(papermill, "execute_notebook", execute_notebook)
        monkeypatch.setattr(series, "KernelStarter", lambda *args, **kwargs: types.SimpleNamespace(
            started=False, start_next=lambda: None, take=lambda: None, stop=lambda manager: None,
            close=lambda: None))
        series.run_series(tmp_path, series.select_notebooks(selection), {"target": "local"},
                          endpoint="http://127.0.0.1:9", collect=collector)
        return collector.events

    def test_the_last_notebook_starts_while_the_summary_prepares(self, monkeypatch, tmp_path):
        """
        1. Run 01,02 (papermill faked) with a collector whose prepare() waits (≤ 5 s) for notebook 02 to be running.
        2. 02 started while prepare() waited (it did not wait for the summary's imports and kit), and the
           collection came after both.
        """
        events = self.run(monkeypatch, tmp_path, "01,02")
        assert events[0] == "executing 01"
        assert "prepared, last notebook running: True" in events and events[-1] == "collected"

    def test_a_single_notebook_is_not_run_beside_imports(self, monkeypatch, tmp_path):
        """
        1. Run 02 alone (its run makes papermill's own first imports, which must not meet another import thread).
        2. Nothing is prepared beside it; the collection makes its own kit afterwards.
        """
        assert self.run(monkeypatch, tmp_path, "02") == ["executing 02", "collected"]


def test_warm_up_seconds_is_bounded():
    """The warm-up never holds a kernel longer than papermill's own start-up wait (60 s)."""
    assert 0 < kernels.WARM_UP_SECONDS <= 60
