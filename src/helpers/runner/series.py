"""Run the notebook series with papermill, against a local cloud it starts or one it is given.

The local cloud is started as a separate process (``python -m localcloud``), so this
module does not import it: ``helpers`` stays ignorant of which cloud answers.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from helpers.runner.cloud_process import (CLIENT_VARIABLES, LocalCloudProcess, point_clients_at,  # noqa: F401
                                          start_cloud, use_keys_of)  # (LocalCloudProcess: API)
from helpers.config import (ENV_CLI_PARAMETERS, ENV_DATA_URL, ENV_ENDPOINT, ENV_LOCAL_KEY_ID, ENV_LOCAL_SECRET,
                            ENV_RUN_ID, new_run_id)
from helpers import settings_file
from helpers.runner import kernels as kernels_module
from helpers.runner.kernels import KERNEL_ARGUMENTS, KERNEL_NAME, KernelStarter
from helpers.paths import NOTEBOOKS_DIR, PROJECT_ROOT

DEFAULT_NOTEBOOKS = ("01", "02", "03", "04", "05", "06", "07", "08")
CLEANUP_NOTEBOOK = "99"
# Notebooks 05 and 06 run the state machines as runs of their own: <run_id>-<suffix>.
DERIVED_RUNS = ("article", "pipeline", "gated", "strict")
ENV_CONTINUE_RUN = "PIPELINE_DREAMS_CONTINUE_RUN"  # "1": let an explicit run id that exists be run again


class SeriesFailed(RuntimeError):
    """A notebook failed; the message names it, the cell and the error."""


class RunIdTaken(SeriesFailed):
    """The run id already has outputs in the kit's bucket; nothing was run."""


CLAIM_KEY = "runs/{run_id}/.run-claim.json"  # written once, atomically, by the runner that owns the run id


def existing_run_keys(kit: Any, run_id: str) -> list[str]:
    """Up to 3 keys under ``runs/<run_id>/`` (or a derived run of it) in the kit's bucket, the claim excepted."""
    s3, bucket = kit.client("s3"), kit.names.bucket
    # Derived runs end in a hash of their settings (<id>-pipeline-3fa9c1/): match the start of their name.
    prefixes = [f"runs/{run_id}/"] + [f"runs/{run_id}-{suffix}" for suffix in DERIVED_RUNS]
    claim = CLAIM_KEY.format(run_id=run_id)
    found: list[str] = []
    for prefix in prefixes:
        found += [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=4).get("Contents", [])
                  if o["Key"] != claim]
        if len(found) >= 3:
            break
    return found[:3]


def claim_run_id(parameters: dict[str, Any], run_id: str) -> None:
    """Claim an explicit run id in the kit's bucket before any notebook runs, or refuse it.

    Notebooks are idempotent: re-run with the same id they find the jobs and executions of
    the earlier run and show those, so a second series under that id (say with other data)
    would silently report the first one, or overwrite its raw data while it runs. The claim
    is a conditional create (``If-None-Match: *``) of ``runs/<run_id>/.run-claim.json``: of two
    runners started at once with one id, exactly one gets it, and the other is refused before
    it writes anything. A run id whose outputs exist without a claim (made in JupyterLab, say)
    is refused too. ``PIPELINE_DREAMS_CONTINUE_RUN=1`` says the run is being continued on
    purpose (e.g. 04,05 after 01-03) and skips both. A setting or connection problem is left
    to the first notebook, which reports it with its cell.

    Raises:
        RunIdTaken: naming the run id, the bucket and what holds it, and what to do.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    import helpers
    from helpers.config import ConfigError

    kernels_module.wait_preload()  # its imports include helpers.s3: one thread imports them, never two at once

    if os.environ.get(ENV_CONTINUE_RUN, "").lower() in ("1", "true", "yes"):
        return
    try:
        kit = helpers.connect(target=parameters.get("target"), region=parameters.get("region"),
                              prefix=parameters.get("prefix"), run_id=run_id)
        bucket = helpers.s3.ensure_bucket(kit)
    except (ConfigError, ConnectionError, BotoCoreError, ClientError):
        return
    s3, claim = kit.client("s3"), CLAIM_KEY.format(run_id=run_id)
    body = json.dumps({"run_id": run_id, "claimed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       "host": socket.gethostname(), "pid": os.getpid()})
    advice = (f"Nothing was run. Use a new run id (leave out -p run_id for a generated one), or set "
              f"{ENV_CONTINUE_RUN}=1 to continue that run on purpose.")
    try:
        s3.put_object(Bucket=bucket, Key=claim, Body=body.encode(), ContentType="application/json", IfNoneMatch="*")
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("PreconditionFailed", "ConditionalRequestConflict"):
            raise
        raise RunIdTaken(f"run id {run_id!r} is taken: another run claimed it (s3://{bucket}/{claim} exists). "
                         + advice) from None
    keys = existing_run_keys(kit, run_id)
    if keys:
        s3.delete_object(Bucket=bucket, Key=claim)  # not this run's to keep: the outputs belong to another
        raise RunIdTaken(
            f"run id {run_id!r} is taken: s3://{bucket}/ already holds {', '.join(keys)}"
            f"{' …' if len(keys) >= 3 else ''} from an earlier run, whose jobs and executions the notebooks "
            f"would show instead of new ones. " + advice)


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP reached the runner: it stops as on Ctrl-C, its cloud included."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into :class:`Interrupted` (a KeyboardInterrupt) while the block runs.

    Python's default for SIGTERM ends the process at once, without ``finally`` blocks: the cloud,
    its Lambda environments and its scratch folder were left behind. Ctrl-C already unwinds.
    """
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return

    def interrupt(signum: int, _frame: object) -> None:
        raise Interrupted(signum)

    previous = {signum: signal.signal(signum, interrupt) for signum in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@dataclass
class SeriesResult:
    run_id: str
    out_dir: Path
    notebooks: list[Path] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)


def select_notebooks(selection: str | None) -> list[Path]:
    """Notebooks by number prefix (``"01,02"``), in the order given; 01-08 by default.

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
               collect: Callable[[SeriesResult], None] | None = None,
               cloud_args: list[str] | tuple[str, ...] = ()) -> SeriesResult:
    """Execute ``notebooks`` in order into ``out_dir``.

    Args:
        out_dir: where executed notebooks go (``runs/<run-id>/`` by default).
        notebooks: the notebooks, in order.
        parameters: papermill parameters; ``run_id`` is generated when absent.
        endpoint: a running local cloud's URL; None starts one for the run (target local).
        inject: False runs with the notebooks' own defaults (to refresh committed outputs).
        collect: called with the result while the cloud still runs (to gather the summary).
        cloud_args: more ``python -m localcloud`` options for the cloud the run starts (``--cloud-arg``).

    Raises:
        SeriesFailed: naming the notebook, the cell and the error.
    """
    if inject:  # before the run id is claimed: a misspelt -p would be dropped by every notebook
        cells = [cell.source for path in notebooks for cell in nbformat.read(path, as_version=4).cells
                 if "parameters" in cell.metadata.get("tags", [])]
        unknown = settings_file.unknown_parameters(set(parameters), cells)
        if unknown:
            raise SeriesFailed(f"-p {unknown}: no setting or notebook parameter of that name (settings: "
                               f"{', '.join(settings_file.NOTEBOOK_SETTINGS)}, any [dataset] key or linear-learner "
                               "hyperparameter); nothing was run")
    explicit_run_id = bool(parameters.get("run_id") or os.environ.get(ENV_RUN_ID))
    given = ",".join(sorted(parameters)) if inject else ""  # the -p names, before run_id is added to them
    if inject:
        parameters.setdefault("run_id", os.environ.get(ENV_RUN_ID) or new_run_id())
    run_id = str(parameters.get("run_id", "demo"))
    out_dir = Path(out_dir or PROJECT_ROOT / "runs" / run_id)
    cloud = None
    saved_env = {k: os.environ.get(k) for k in (ENV_ENDPOINT, ENV_DATA_URL, ENV_LOCAL_KEY_ID, ENV_LOCAL_SECRET,
                                                ENV_CLI_PARAMETERS, *CLIENT_VARIABLES)}
    os.environ[ENV_CLI_PARAMETERS] = given  # the kernels' settings tables say "-p" for these
    kernels = KernelStarter(NOTEBOOKS_DIR, notebooks)
    try:
        kernels_module.preload()  # papermill's imports (~0.3 s) while the cloud starts
        if parameters.get("target", "local") == "local":
            if endpoint:
                os.environ[ENV_ENDPOINT] = endpoint
                try:
                    use_keys_of(endpoint)
                except RuntimeError as error:
                    raise SeriesFailed(str(error)) from None
                point_clients_at(endpoint, _region(parameters))
            else:
                try:
                    cloud = start_cloud(cloud_args, kernels, _region(parameters))
                except RuntimeError as error:
                    raise SeriesFailed(str(error)) from None
                print(f"local cloud started at {cloud.url}")
        if inject and explicit_run_id and not cloud:  # a cloud started just now holds nothing
            claim_run_id(parameters, run_id)
        out_dir.mkdir(parents=True, exist_ok=True)
        result = SeriesResult(run_id, out_dir)
        collected = False
        if not kernels.started:  # the environment the notebooks run with is set: their kernels may start
            kernels.start_next()
        for position, notebook in enumerate(notebooks):
            if collect and position == len(notebooks) - 1 and position > 0:
                # the summary's modules (~0.4 s with pandas) and clients while the last notebook mostly waits for
                # the cloud (one core is idle then); not beside a first notebook, whose run makes papermill's own
                # late imports (two threads importing jupyter_client's modules at once see half-made modules)
                kernels_module.preload(["helpers.s3", "helpers.sagemaker"], then=getattr(collect, "prepare", None))
            if collect and not collected and notebook.stem.startswith(CLEANUP_NOTEBOOK):
                kernels_module.wait_preload()
                collect(result)  # before the cleanup removes what the summary describes
                collected = True
            try:
                _execute(notebook, out_dir, parameters if inject else None, result, kernels,
                         last=position == len(notebooks) - 1)
            except SeriesFailed as failure:
                cleanup = [n for n in notebooks[position + 1:] if n.stem.startswith(CLEANUP_NOTEBOOK)]
                if not cleanup:
                    raise
                # --cleanup promises nothing is left behind, a failed run included (it leaves the most).
                print(f"{notebook.stem} failed: running {cleanup[0].stem} anyway, so the run leaves nothing behind",
                      file=sys.stderr)
                try:
                    _execute(cleanup[0], out_dir, parameters if inject else None, result, kernels, last=True)
                except SeriesFailed as also:
                    raise SeriesFailed(f"{failure}\n  and the cleanup failed too: {also}") from None
                raise SeriesFailed(f"{failure}\n  {cleanup[0].stem} ran anyway and removed what the run had made"
                                   ) from None
        if collect and not collected:
            kernels_module.wait_preload()
            collect(result)
        return result
    finally:
        kernels.close()
        if cloud:
            cloud.stop()
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _region(parameters: dict[str, Any]) -> str:
    """The run's region as the notebooks resolve it (parameter, environment, settings.toml); "" if it is bad (the
    first notebook then says why)."""
    from helpers.config import ConfigError, settings

    try:
        return settings(target="local", region=parameters.get("region") or None).region
    except ConfigError:
        return ""


def _execute(notebook: Path, out_dir: Path, parameters: dict[str, Any] | None, result: SeriesResult,
             kernels: KernelStarter | None = None, last: bool = True) -> None:
    """Run one notebook into ``out_dir`` with papermill; record its time and path in ``result``.

    With ``kernels``, the notebook runs in the kernel started for it while the one before ran, and
    the next notebook's kernel starts now (unless this one is the ``last``).

    Raises:
        SeriesFailed: naming the notebook, the cell and the error.
    """
    kernels_module.wait_papermill()  # not the summary's imports: they go on while the last notebook runs
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from helpers.runner.papermill_engine import ENGINE_NAME

    target = out_dir / notebook.name
    started = time.monotonic()
    manager = kernels.take() if kernels else None
    if kernels and not last:
        kernels.start_next()
    try:
        papermill.execute_notebook(str(notebook), str(target), parameters=parameters, cwd=str(NOTEBOOKS_DIR),
                                   kernel_name=KERNEL_NAME, engine_name=ENGINE_NAME,
                                   progress_bar={"desc": notebook.stem, "leave": True},
                                   log_output=False, extra_arguments=KERNEL_ARGUMENTS,
                                   # a wait's line is rewritten with \r: keep only its final text
                                   coalesce_streams=True, **({"km": manager} if manager else {}))
    except PapermillExecutionError as error:
        raise SeriesFailed(f"{notebook.name} failed in cell {error.cell_index} "
                           f"(execution count {error.exec_count}): {error.ename}: {error.evalue}\n"
                           f"  executed notebook with the traceback: {target}") from None
    finally:
        if kernels:
            kernels.stop(manager)
    result.seconds[notebook.stem] = time.monotonic() - started
    if parameters is None:
        strip_run_metadata(target)
    result.notebooks.append(target)


def summary_lines(result: SeriesResult) -> list[str]:
    """The closing summary: where the outputs are, what was made, how the model did."""
    lines = [f"run {result.run_id}: {len(result.notebooks)} notebooks in {sum(result.seconds.values()):.1f} s "
             f"→ {result.out_dir}"]
    lines += [f"  {name:<20} {seconds:6.1f} s" for name, seconds in result.seconds.items()]
    for key, value in result.facts.items():
        lines.append(f"  {key}: {json.dumps(value) if isinstance(value, (list, dict)) else value}")
    return lines
