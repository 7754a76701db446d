"""Tests for the series runner (helpers.runner.series) and its CLI (``python -m helpers run``).

No notebook is executed and no cloud is started here: papermill's execute_notebook is
replaced where run_series is exercised, and the CLI is only run on inputs that must
fail before anything starts.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

from helpers.runner import cli
from helpers.runner import series
from helpers.config import ENV_DATA_URL, ENV_ENDPOINT, ENV_LOCAL_KEY_ID, ENV_LOCAL_SECRET, ENV_RUN_ID
from helpers.paths import NOTEBOOKS_DIR, PROJECT_ROOT
from helpers.runner.series import SeriesFailed, SeriesResult


def numbered_notebooks() -> list[str]:
    return [p.stem for p in sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))]


class TestSelectNotebooks:
    """select_notebooks() picks notebooks by number, in the order asked for."""

    def test_two_numbers(self):
        """
        1. Select "01,03".
        2. The bucket and preprocess notebooks, in that order, from notebooks/.
        """
        chosen = series.select_notebooks("01,03")
        assert [p.name for p in chosen] == ["01_bucket.ipynb", "03_preprocess.ipynb"]
        assert all(p.parent == NOTEBOOKS_DIR and p.is_file() for p in chosen)

    def test_default_is_01_to_08(self):
        """
        1. Select nothing.
        2. Notebooks 01 to 08, in series order (99_cleanup only with --cleanup).
        """
        chosen = series.select_notebooks(None)
        assert [p.name[:2] for p in chosen] == ["01", "02", "03", "04", "05", "06", "07", "08"]

    def test_spaces_and_full_names(self):
        """
        1. Select " 02 , 04_train " (spaces, and a full stem).
        2. Notebooks 02 and 04.
        """
        assert [p.stem for p in series.select_notebooks(" 02 , 04_train ")] == ["02_ingest", "04_train"]

    def test_unknown_number_lists_what_exists(self):
        """
        1. Select "01,77".
        2. SeriesFailed names '77' and lists every numbered notebook there is.
        """
        with pytest.raises(SeriesFailed) as raised:
            series.select_notebooks("01,77")
        message = str(raised.value)
        assert "no notebook numbered '77'" in message
        assert f"(have: {', '.join(numbered_notebooks())})" in message


class TestParseValue:
    """-p values follow papermill: numbers and booleans are converted, the rest stays text."""

    @pytest.mark.parametrize("text, expected", [
        ("3", 3), ("-2", -2), ("0.25", 0.25), ("1e3", 1000.0), ("true", True), ("False", False),
        ("eu-west-1", "eu-west-1"), ("20261125-101502-3f9a", "20261125-101502-3f9a"), ("", ""),
        ("http://127.0.0.1:8000/iris.data", "http://127.0.0.1:8000/iris.data"),
    ])
    def test_value(self, text, expected):
        """
        1. Parse one command-line value.
        2. It has the expected value and type.
        """
        value = cli._parse_value(text)
        assert value == expected and type(value) is type(expected)


class TestStripRunMetadata:
    """strip_run_metadata() drops papermill's timings and keeps everything a reader sees."""

    def test_strip(self, tmp_path):
        """
        1. Write a notebook with papermill metadata at notebook and cell level, tags, outputs and counts.
        2. Strip it.
        3. The papermill/execution metadata is gone; kernelspec, tags, outputs and execution counts remain.
        """
        notebook = nbformat.v4.new_notebook()
        notebook.metadata.update(kernelspec={"name": "python3", "display_name": "Python 3", "language": "python"},
                                 papermill={"duration": 1.2, "parameters": {"run_id": "x"}})
        parameters = nbformat.v4.new_code_cell("target = 'local'", execution_count=1)
        parameters.metadata.update(tags=["parameters"], papermill={"duration": 0.1, "status": "completed"},
                                   execution={"iopub.execute_input": "2026-11-25T10:15:02"})
        shown = nbformat.v4.new_code_cell("print('hello')", execution_count=2, outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="hello\n")])
        shown.metadata.update(papermill={"duration": 0.2}, tags=["NBVAL_CHECK_OUTPUT"])
        notebook.cells = [nbformat.v4.new_markdown_cell("# Title"), parameters, shown]
        path = tmp_path / "run.ipynb"
        nbformat.write(notebook, path)

        series.strip_run_metadata(path)

        stripped = nbformat.read(path, as_version=4)
        assert "papermill" not in stripped.metadata
        assert stripped.metadata.kernelspec.name == "python3"
        for cell in stripped.cells:
            assert "papermill" not in cell.metadata and "execution" not in cell.metadata
        assert stripped.cells[1].metadata.tags == ["parameters"]
        assert stripped.cells[2].metadata.tags == ["NBVAL_CHECK_OUTPUT"]
        assert stripped.cells[2].outputs[0].text == "hello\n"
        assert [c.get("execution_count") for c in stripped.cells[1:]] == [1, 2]
        nbformat.validate(stripped)


@pytest.fixture(autouse=True)
def client_variables_restored(monkeypatch):
    """start_cloud and run_series set the variables `localcloud env` prints for the kernels (AWS_ENDPOINT_URL, …):
    each test's are undone after it, or a later in-process moto test's boto3 would reach a port nobody serves."""
    from helpers.runner.cloud_process import CLIENT_VARIABLES

    for name in (*CLIENT_VARIABLES, ENV_ENDPOINT, ENV_DATA_URL, ENV_LOCAL_KEY_ID, ENV_LOCAL_SECRET):
        monkeypatch.setenv(name, os.environ.get(name, ""))  # recorded, so the end of the test puts it back
        if not os.environ[name]:
            monkeypatch.delenv(name)


@pytest.fixture
def fake_papermill(monkeypatch, cloud_keys_given):
    """Replace papermill.execute_notebook: record calls, write an executed-looking copy, optionally fail."""
    import papermill

    calls: list[dict] = []
    behaviour = {"fail_on": None}

    def execute_notebook(input_path, output_path, parameters=None, **kwargs):
        from papermill.exceptions import PapermillExecutionError

        calls.append({"input": Path(input_path), "output": Path(output_path), "parameters": parameters,
                      "endpoint": os.environ.get(ENV_ENDPOINT), **kwargs})
        if behaviour["fail_on"] and Path(input_path).name.startswith(behaviour["fail_on"]):
            raise PapermillExecutionError(4, 3, "kit = helpers.connect()", "CloudNotReachable",
                                          "no local cloud answers", [])
        notebook = nbformat.read(input_path, as_version=4)
        notebook.metadata["papermill"] = {"duration": 1.0}
        nbformat.write(notebook, output_path)

    monkeypatch.setattr(papermill, "execute_notebook", execute_notebook)
    return calls, behaviour


class TestRunSeries:
    """run_series() runs the notebooks in order against the given cloud and restores the environment."""

    def test_runs_in_order_with_a_generated_run_id(self, tmp_path, monkeypatch, fake_papermill):
        """
        1. Run notebooks 01 and 02 against a given endpoint, with no run_id.
        2. Both run in order into the out folder, with a generated run id and the endpoint set while they run.
        3. Afterwards the endpoint variable is as before.
        """
        calls, _ = fake_papermill
        monkeypatch.delenv(ENV_RUN_ID, raising=False)
        monkeypatch.setenv(ENV_ENDPOINT, "http://127.0.0.1:1111")
        result = series.run_series(tmp_path / "out", series.select_notebooks("01,02"), {"target": "local"},
                                   endpoint="http://127.0.0.1:2222")
        assert [c["input"].name for c in calls] == ["01_bucket.ipynb", "02_ingest.ipynb"]
        assert [c["output"] for c in calls] == result.notebooks == [tmp_path / "out" / "01_bucket.ipynb",
                                                                     tmp_path / "out" / "02_ingest.ipynb"]
        assert all(c["endpoint"] == "http://127.0.0.1:2222" for c in calls)
        run_id = calls[0]["parameters"]["run_id"]
        assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{4}", run_id) and result.run_id == run_id
        assert calls[0]["cwd"] == str(NOTEBOOKS_DIR)
        assert set(result.seconds) == {"01_bucket", "02_ingest"}
        assert os.environ[ENV_ENDPOINT] == "http://127.0.0.1:1111"

    def test_run_id_from_environment(self, tmp_path, monkeypatch, fake_papermill):
        """
        1. Set PIPELINE_DREAMS_RUN_ID and run one notebook.
        2. That run id is injected.
        """
        calls, _ = fake_papermill
        monkeypatch.setenv(ENV_RUN_ID, "from-env")
        series.run_series(tmp_path, series.select_notebooks("01"), {}, endpoint="http://127.0.0.1:2222")
        assert calls[0]["parameters"]["run_id"] == "from-env"

    def test_no_parameters_strips_metadata(self, tmp_path, fake_papermill):
        """
        1. Run with inject=False (refreshing committed outputs).
        2. No parameters are injected and papermill's metadata is stripped from the result.
        """
        calls, _ = fake_papermill
        result = series.run_series(tmp_path, series.select_notebooks("01"), {}, endpoint="http://127.0.0.1:2222",
                                   inject=False)
        assert calls[0]["parameters"] is None
        assert "papermill" not in nbformat.read(result.notebooks[0], as_version=4).metadata

    def test_failure_names_notebook_cell_and_error(self, tmp_path, monkeypatch, fake_papermill):
        """
        1. Make notebook 02 fail in a cell; run 01,02,03.
        2. SeriesFailed names 02, the cell, the error and the executed notebook; 03 never runs.
        3. The endpoint variable is restored (here: unset again).
        """
        calls, behaviour = fake_papermill
        behaviour["fail_on"] = "02"
        monkeypatch.delenv(ENV_ENDPOINT, raising=False)
        with pytest.raises(SeriesFailed) as raised:
            series.run_series(tmp_path, series.select_notebooks("01,02,03"), {"run_id": "r1"},
                              endpoint="http://127.0.0.1:2222")
        message = str(raised.value)
        assert "02_ingest.ipynb failed in cell 4 (execution count 3): CloudNotReachable: no local cloud answers" \
            in message
        assert str(tmp_path / "02_ingest.ipynb") in message
        assert [c["input"].name[:2] for c in calls] == ["01", "02"]
        assert ENV_ENDPOINT not in os.environ

    def test_summary_lines(self, tmp_path):
        """
        1. Summarise a result with timings and facts.
        2. One line for the run, one per notebook, one per fact (lists as JSON).
        """
        result = SeriesResult("r1", tmp_path, notebooks=[tmp_path / "a.ipynb"], seconds={"01_bucket": 1.25},
                              facts={"test accuracy": 0.9667, "objects": ["a", "b"]})
        lines = series.summary_lines(result)
        assert lines[0] == f"run r1: 1 notebooks in 1.2 s → {tmp_path}"
        assert lines[1:] == ["  01_bucket               1.2 s", "  test accuracy: 0.9667", '  objects: ["a", "b"]']


class TestMain:
    """main() turns the command line into a run_series call and an exit code."""

    @pytest.fixture
    def recorded(self, monkeypatch) -> list[dict]:
        calls: list[dict] = []

        def run_series(out_dir, notebooks, parameters, endpoint=None, inject=True, collect=None, cloud_args=()):
            calls.append({"out": out_dir, "notebooks": [p.stem for p in notebooks], "parameters": parameters,
                          "endpoint": endpoint, "inject": inject, "cloud_args": list(cloud_args)})
            return SeriesResult("r1", out_dir or Path("runs/r1"))

        monkeypatch.setattr(cli, "run_series", run_series)
        return calls

    def test_parameters_and_endpoint(self, recorded, monkeypatch, capsys, tmp_path):
        """
        1. Run main with --notebooks, --out and -p values, and PIPELINE_DREAMS_ENDPOINT set.
        2. run_series gets the notebooks, typed parameters and the endpoint from the environment; exit code 0.
        """
        monkeypatch.setenv(ENV_ENDPOINT, "http://127.0.0.1:3333")
        code = cli.main(["run", "--notebooks", "01,02", "--out", str(tmp_path), "-p", "epochs", "5",
                         "-p", "target", "local", "-p", "gate", "0.9"])
        assert code == 0
        assert recorded == [{"out": tmp_path, "notebooks": ["01_bucket", "02_ingest"], "endpoint": "http://127.0.0.1:3333",
                             "parameters": {"epochs": 5, "target": "local", "gate": 0.9}, "inject": True,
                             "cloud_args": []}]
        assert capsys.readouterr().out.startswith("run r1: 0 notebooks")

    def test_cloud_args_reach_the_cloud_the_run_starts(self, recorded, monkeypatch, capsys):
        """
        1. Run main with --cloud-arg=--account=… and --cloud-arg=--mirror=URL=FILE, no endpoint.
        2. run_series gets both options, in order, for the cloud it starts.
        3. With an endpoint (a running cloud) the same options are refused: they could not apply.
        """
        monkeypatch.delenv(ENV_ENDPOINT, raising=False)
        options = ["--account=210987654321", "--mirror=https://example.com/a.csv=data/iris.data"]
        assert cli.main(["run", "--notebooks", "01", *(f"--cloud-arg={o}" for o in options)]) == 0
        assert recorded[0]["cloud_args"] == options
        assert cli.main(["run", "--notebooks", "01", "--endpoint", "http://127.0.0.1:4444",
                         f"--cloud-arg={options[0]}"]) == 1
        assert "--cloud-arg configures the cloud the run starts" in capsys.readouterr().err
        assert len(recorded) == 1

    def test_no_parameters_flag(self, recorded, monkeypatch):
        """
        1. Run main with --no-parameters and --endpoint.
        2. run_series is asked not to inject, against that endpoint.
        """
        monkeypatch.delenv(ENV_ENDPOINT, raising=False)
        assert cli.main(["run", "--no-parameters", "--endpoint", "http://127.0.0.1:4444", "--notebooks", "01"]) == 0
        assert (recorded[0]["inject"], recorded[0]["endpoint"]) == (False, "http://127.0.0.1:4444")

    def test_series_failure_exits_1(self, monkeypatch, capsys):
        """
        1. Make run_series raise SeriesFailed.
        2. main prints "series FAILED" and the reason on stderr and returns 1.
        """
        def failing(*args, **kwargs):
            raise SeriesFailed("03_preprocess.ipynb failed in cell 7")

        monkeypatch.setattr(cli, "run_series", failing)
        assert cli.main(["run", "--notebooks", "03"]) == 1
        assert capsys.readouterr().err == "series FAILED: 03_preprocess.ipynb failed in cell 7\n"


class TestCliUnknownNotebook:
    """`python -m helpers run --notebooks 77` fails at once, before starting any cloud."""

    def test_exit_1_naming_77(self, tmp_path):
        """
        1. Run the CLI as a subprocess with an unknown notebook number and an --out folder.
        2. It exits 1 with a message naming 77 and listing the notebooks there are.
        3. It started nothing: the out folder was not created and no cloud was reported started.
        """
        out = tmp_path / "out"
        environment = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_DREAMS_")}
        completed = subprocess.run([sys.executable, "-m", "helpers", "run", "--notebooks", "77", "--out", str(out)],
                                   cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60)
        assert completed.returncode == 1
        assert "series FAILED: no notebook numbered '77'" in completed.stderr
        assert "01_bucket" in completed.stderr
        assert "local cloud started" not in completed.stdout
        assert not out.exists()
        assert not (PROJECT_ROOT / "runs" / "77").exists()


class TestKernelsStartAhead:
    """The runner starts each notebook's kernel while the notebook before it runs; none outlives the run."""

    def test_each_notebook_gets_its_own_fresh_kernel_and_none_is_left(self, tmp_path, monkeypatch, fake_papermill):
        """
        1. Run 01 and 02 (papermill faked; the kernels are real).
        2. Each call got a kernel manager of its own, with a kernel running in the notebooks' folder that
           sees the run's endpoint, as papermill's own kernels do.
        3. After the run every one of those kernels is gone.
        """
        calls, _ = fake_papermill
        seen: list[dict] = []
        import papermill

        recording = papermill.execute_notebook

        def execute_notebook(input_path, output_path, parameters=None, **kwargs):
            manager = kwargs["km"]
            client = manager.blocking_client()
            client.start_channels()
            try:
                client.wait_for_ready(timeout=60)
                reply_id = client.execute("import os; print(os.getcwd(), os.environ.get('%s'))" % ENV_ENDPOINT)
                printed = ""
                while True:
                    message = client.get_iopub_msg(timeout=30)
                    if message["parent_header"].get("msg_id") != reply_id:
                        continue
                    if message["msg_type"] == "stream":
                        printed += message["content"]["text"]
                    if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                        break
            finally:
                client.stop_channels()
            seen.append({"manager": manager, "pid": manager.provisioner.process.pid, "printed": printed})
            return recording(input_path, output_path, parameters=parameters, **kwargs)

        monkeypatch.setattr(papermill, "execute_notebook", execute_notebook)
        series.run_series(tmp_path / "out", series.select_notebooks("01,02"), {"target": "local"},
                          endpoint="http://127.0.0.1:2222")
        assert len(calls) == 2 and len({id(s["manager"]) for s in seen}) == 2
        assert all(s["printed"].split() == [str(NOTEBOOKS_DIR), "http://127.0.0.1:2222"] for s in seen)
        for kernel in seen:
            with pytest.raises(ProcessLookupError):
                os.kill(kernel["pid"], 0)


class TestTheCloudStartsWithTheFirstKernel:
    """The runner picks the cloud's ports, so the first kernel (which reads them at its start) starts with the cloud."""

    class _Kernels:
        def __init__(self):
            self.calls: list[tuple[str, str | None]] = []

        def start_next(self):
            self.calls.append(("start", os.environ.get(ENV_ENDPOINT)))

        def discard(self):
            self.calls.append(("discard", None))

    def test_kernel_starts_before_the_cloud_is_ready_with_its_url(self, monkeypatch):
        """
        1. Start the cloud through start_cloud (the cloud process faked: it records the ports it was given).
        2. The kernel was started before the cloud, with PIPELINE_DREAMS_ENDPOINT already naming the cloud's port.
        3. The cloud was asked to warm its Step Functions parser (notebook 05), besides the user's own options.
        """
        from helpers.runner import cloud_process

        kernels, seen = self._Kernels(), {}

        def start(extra_args=(), ports=(0, 0), timeout=60):
            seen["ports"], seen["kernel calls"], seen["args"] = ports, list(kernels.calls), list(extra_args)
            return types.SimpleNamespace(url=f"http://127.0.0.1:{ports[0]}", data_url=f"http://127.0.0.1:{ports[1]}")

        monkeypatch.setattr(cloud_process.LocalCloudProcess, "start", staticmethod(start))
        monkeypatch.delenv(ENV_ENDPOINT, raising=False)
        monkeypatch.delenv("PIPELINE_DREAMS_DATA_URL", raising=False)
        cloud = cloud_process.start_cloud(["--account", "210987654321"], kernels)
        assert seen["args"] == ["--warm-stepfunctions", "--warm-clients", "--account", "210987654321"]
        port, data_port = seen["ports"]
        assert port and data_port and port != data_port
        assert seen["kernel calls"] == [("start", f"http://127.0.0.1:{port}")]
        assert os.environ[ENV_ENDPOINT] == cloud.url == f"http://127.0.0.1:{port}"
        assert "PIPELINE_DREAMS_DATA_URL" not in os.environ  # settings.toml's, else the kit asks the cloud

    def test_a_port_taken_meanwhile_starts_over_on_ports_the_cloud_picks(self, monkeypatch):
        """
        1. The first start fails (another program took the port); the second, with port 0, succeeds.
        2. The early kernel is discarded (it was told the wrong port); the environment names the cloud's real URLs.
        """
        from helpers.runner import cloud_process

        kernels, starts = self._Kernels(), []

        def start(extra_args=(), ports=(0, 0), timeout=60):
            starts.append(ports)
            if ports != (0, 0):
                raise RuntimeError("the local cloud did not start: port in use")
            return types.SimpleNamespace(url="http://127.0.0.1:1111", data_url="http://127.0.0.1:2222")

        monkeypatch.setattr(cloud_process.LocalCloudProcess, "start", staticmethod(start))
        monkeypatch.delenv(ENV_ENDPOINT, raising=False)
        monkeypatch.delenv("PIPELINE_DREAMS_DATA_URL", raising=False)
        cloud_process.start_cloud([], kernels)
        assert len(starts) == 2 and starts[1] == (0, 0)
        assert [name for name, _ in kernels.calls] == ["start", "discard"]
        assert os.environ[ENV_ENDPOINT] == "http://127.0.0.1:1111"
        assert "PIPELINE_DREAMS_DATA_URL" not in os.environ  # settings.toml's, else the kit asks the cloud


class TestFactsCollector:
    """The summary's kit is made ahead (while the last notebook runs) and used by the collection."""

    def test_prepared_kit_is_used_once_made(self, monkeypatch):
        """
        1. prepare() with summary_kit replaced by a recorder; then collect a result of the same run id.
        2. The kit was made once, ahead, and collect_facts got it.
        3. A result of another run id (not what was prepared) gets a kit of its own.
        """
        made, collected = [], []

        class FakeKit:
            def __init__(self, run_id):
                self.settings = types.SimpleNamespace(run_id=run_id)

        monkeypatch.setattr(cli, "summary_kit", lambda parameters, run_id: made.append(run_id) or FakeKit(run_id))
        monkeypatch.setattr(cli, "collect_facts", lambda result, parameters, kit=None: collected.append(kit))
        collector = cli.FactsCollector({"run_id": "r1"})
        collector.prepare()
        collector(SeriesResult("r1", Path("out")))
        assert made == ["r1"] and collected[0].settings.run_id == "r1"
        collector(SeriesResult("r2", Path("out")))
        assert collected[1] is None  # collect_facts makes its own for r2

    def test_a_failed_preparation_leaves_it_to_the_collection(self, monkeypatch):
        """
        1. prepare() whose kit cannot be made (no cloud answers).
        2. No error escapes; the collection is called without a kit and makes (and reports on) its own.
        """
        def unreachable(parameters, run_id):
            raise ConnectionError("nothing listens at 127.0.0.1:9")

        collected = []
        monkeypatch.setattr(cli, "summary_kit", unreachable)
        monkeypatch.setattr(cli, "collect_facts", lambda result, parameters, kit=None: collected.append(kit))
        collector = cli.FactsCollector({"run_id": "r1"})
        collector.prepare()
        collector(SeriesResult("r1", Path("out")))
        assert collected == [None]
