"""Run the notebook series with papermill, against a local cloud it starts or one it is given.

The local cloud is started as a separate process (``python -m localcloud``), so this
module does not import it: ``helpers`` stays ignorant of which cloud answers.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from helpers.config import ENV_DATA_URL, ENV_ENDPOINT, ENV_RUN_ID, new_run_id
from helpers.paths import NOTEBOOKS_DIR, PROJECT_ROOT

DEFAULT_NOTEBOOKS = ("01", "02", "03", "04", "05", "06", "07")
CLEANUP_NOTEBOOK = "99"
# Notebooks 05 and 06 run the state machines as runs of their own: <run_id>-<suffix>.
DERIVED_RUNS = ("article", "pipeline", "gated", "strict")
ENV_CONTINUE_RUN = "PIPELINE_DREAMS_CONTINUE_RUN"  # "1": let an explicit run id that exists be run again
_READY = re.compile(r"ready at (http://\S+) \(data at (\S+)\)")


class SeriesFailed(RuntimeError):
    """A notebook failed; the message names it, the cell and the error."""


class RunIdTaken(SeriesFailed):
    """The run id already has outputs in the kit's bucket; nothing was run."""


def existing_run_keys(parameters: dict[str, Any], run_id: str) -> tuple[str, list[str]]:
    """The kit bucket and up to 3 keys under ``runs/<run_id>/`` (or a derived run of it) that exist already.

    Returns ``("", [])`` when the bucket does not exist (nothing can collide). Raises what
    :func:`helpers.connect` and boto3 raise (a bad setting, no cloud, no credentials).
    """
    import helpers

    kit = helpers.connect(target=parameters.get("target"), region=parameters.get("region"),
                          prefix=parameters.get("prefix"), run_id=run_id)
    s3, bucket = kit.client("s3"), kit.names.bucket
    # Derived runs end in a hash of their settings (<id>-pipeline-3fa9c1/): match the start of their name.
    prefixes = [f"runs/{run_id}/"] + [f"runs/{run_id}-{suffix}" for suffix in DERIVED_RUNS]
    found: list[str] = []
    try:
        for prefix in prefixes:
            found += [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=3).get("Contents", [])]
            if len(found) >= 3:
                break
    except s3.exceptions.NoSuchBucket:
        return "", []
    return bucket, found[:3]


def refuse_taken_run_id(parameters: dict[str, Any], run_id: str) -> None:
    """Refuse an explicit run id whose outputs exist, before any notebook runs.

    Notebooks are idempotent: re-run with the same id they find the jobs and executions of
    the earlier run and show those, so a second series under that id (say with other data)
    would silently report the first one. The runner refuses instead, unless
    ``PIPELINE_DREAMS_CONTINUE_RUN=1`` says the run is being continued on purpose (e.g. 04,05
    after 01-03). A setting or connection problem is left to the first notebook, which reports
    it with its cell.

    Raises:
        RunIdTaken: naming the run id, the bucket and keys found, and what to do.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    from helpers.config import ConfigError

    if os.environ.get(ENV_CONTINUE_RUN, "").lower() in ("1", "true", "yes"):
        return
    try:
        bucket, keys = existing_run_keys(parameters, run_id)
    except (ConfigError, ConnectionError, BotoCoreError, ClientError):
        return
    if keys:
        raise RunIdTaken(
            f"run id {run_id!r} is taken: s3://{bucket}/ already holds {', '.join(keys)}"
            f"{' …' if len(keys) >= 3 else ''} from an earlier run, whose jobs and executions the notebooks "
            f"would show instead of new ones. Nothing was run. Use a new run id (leave out -p run_id for a "
            f"generated one), or set {ENV_CONTINUE_RUN}=1 to continue that run on purpose.")


@dataclass
class LocalCloudProcess:
    """``python -m localcloud`` on a free port, stopped with SIGTERM."""

    process: subprocess.Popen
    url: str
    data_url: str

    @classmethod
    def start(cls, timeout: float = 60) -> LocalCloudProcess:
        process = subprocess.Popen([sys.executable, "-m", "localcloud", "--port", "0"], cwd=PROJECT_ROOT,
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            match = _READY.search(line)
            if match:
                return cls(process, match.group(1), match.group(2))
            if not line and process.poll() is not None:
                break
        process.kill()
        raise RuntimeError("the local cloud did not start: run `python -m localcloud --port 0` to see why")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.process.stdout.close()


@dataclass
class SeriesResult:
    run_id: str
    out_dir: Path
    notebooks: list[Path] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)


def select_notebooks(selection: str | None) -> list[Path]:
    """Notebooks by number prefix (``"01,02"``), in the order given; 01-07 by default.

    Raises:
        SeriesFailed: a number matches no notebook.
    """
    wanted = [s.strip() for s in selection.split(",")] if selection else list(DEFAULT_NOTEBOOKS)
    available = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    chosen = []
    for number in wanted:
        matches = [p for p in available if p.name.startswith(f"{number}_") or p.stem == number]
        if not matches:
            names = ", ".join(p.stem for p in available)
            raise SeriesFailed(f"no notebook numbered {number!r} (have: {names})")
        chosen += matches
    return chosen


def strip_run_metadata(path: Path) -> None:
    """Drop papermill's timings so re-executed notebooks diff only where outputs changed."""
    notebook = nbformat.read(path, as_version=4)
    notebook.metadata.pop("papermill", None)
    for cell in notebook.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    nbformat.write(notebook, path)


def run_series(out_dir: Path | None, notebooks: list[Path], parameters: dict[str, Any],
               endpoint: str | None = None, inject: bool = True,
               collect: Callable[[SeriesResult], None] | None = None) -> SeriesResult:
    """Execute ``notebooks`` in order into ``out_dir``.

    Args:
        out_dir: where executed notebooks go (``runs/<run-id>/`` by default).
        notebooks: the notebooks, in order.
        parameters: papermill parameters; ``run_id`` is generated when absent.
        endpoint: a running local cloud's URL; None starts one for the run (target local).
        inject: False runs with the notebooks' own defaults (to refresh committed outputs).
        collect: called with the result while the cloud still runs (to gather the summary).

    Raises:
        SeriesFailed: naming the notebook, the cell and the error.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    explicit_run_id = bool(parameters.get("run_id") or os.environ.get(ENV_RUN_ID))
    if inject:
        parameters.setdefault("run_id", os.environ.get(ENV_RUN_ID) or new_run_id())
    run_id = str(parameters.get("run_id", "demo"))
    out_dir = Path(out_dir or PROJECT_ROOT / "runs" / run_id)
    cloud = None
    saved_env = {k: os.environ.get(k) for k in (ENV_ENDPOINT, ENV_DATA_URL)}
    try:
        if parameters.get("target", "local") == "local":
            if endpoint:
                os.environ[ENV_ENDPOINT] = endpoint
            else:
                cloud = LocalCloudProcess.start()
                os.environ[ENV_ENDPOINT] = cloud.url
                os.environ.setdefault(ENV_DATA_URL, f"{cloud.data_url}/iris.data")
                print(f"local cloud started at {cloud.url}")
        if inject and explicit_run_id and not cloud:  # a cloud started just now holds nothing
            refuse_taken_run_id(parameters, run_id)
        out_dir.mkdir(parents=True, exist_ok=True)
        result = SeriesResult(run_id, out_dir)
        collected = False
        for notebook in notebooks:
            if collect and not collected and notebook.stem.startswith(CLEANUP_NOTEBOOK):
                collect(result)  # before the cleanup removes what the summary describes
                collected = True
            target = out_dir / notebook.name
            started = time.monotonic()
            try:
                papermill.execute_notebook(str(notebook), str(target), parameters=parameters if inject else None,
                                           cwd=str(NOTEBOOKS_DIR), kernel_name="python3", progress_bar={
                                               "desc": notebook.stem, "leave": True}, log_output=False,
                                           # ipykernel's "Kernel is running over TCP without encryption" notice, once
                                           # per notebook: the kernel listens on 127.0.0.1 only (README, JupyterLab)
                                           extra_arguments=["--IPKernelApp.log_level=ERROR"],
                                           # a wait's line is rewritten with \r: keep only its final text
                                           coalesce_streams=True)
            except PapermillExecutionError as error:
                raise SeriesFailed(f"{notebook.name} failed in cell {error.cell_index} "
                                   f"(execution count {error.exec_count}): {error.ename}: {error.evalue}\n"
                                   f"  executed notebook with the traceback: {target}") from None
            result.seconds[notebook.stem] = time.monotonic() - started
            if not inject:
                strip_run_metadata(target)
            result.notebooks.append(target)
        if collect and not collected:
            collect(result)
        return result
    finally:
        if cloud:
            cloud.stop()
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def summary_lines(result: SeriesResult) -> list[str]:
    """The closing summary: where the outputs are, what was made, how the model did."""
    lines = [f"run {result.run_id}: {len(result.notebooks)} notebooks in {sum(result.seconds.values()):.1f} s "
             f"→ {result.out_dir}"]
    lines += [f"  {name:<20} {seconds:6.1f} s" for name, seconds in result.seconds.items()]
    for key, value in result.facts.items():
        lines.append(f"  {key}: {json.dumps(value) if isinstance(value, (list, dict)) else value}")
    return lines
