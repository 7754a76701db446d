"""``python -m helpers run|clean|preflight …``: execute the notebook series, clean up, check AWS (``--help``)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from helpers.runner.cloud_process import use_keys_of
from helpers.config import DEFAULT_LOCAL_ENDPOINT, ENV_ENDPOINT, ENV_TARGET, ConfigError
from helpers.runner.series import (CLEANUP_NOTEBOOK, DEFAULT_NOTEBOOKS, Interrupted, SeriesFailed, SeriesResult,
                            run_series, select_notebooks, signals_interrupt, summary_lines)


def _parse_value(text: str) -> Any:
    """papermill -p semantics: numbers and booleans become numbers and booleans."""
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def summary_kit(parameters: dict[str, Any], run_id: str | None) -> Any:
    """The kit the summary reads the cloud with, its S3 and SageMaker clients made (~0.2 s of botocore)."""
    import helpers

    kit = helpers.connect(target=parameters.get("target"), region=parameters.get("region"),
                          prefix=parameters.get("prefix"), run_id=run_id)
    kit.client("s3"), kit.client("sagemaker")
    return kit


class FactsCollector:
    """:func:`collect_facts` for a run, its kit made ahead by :meth:`prepare` (series.run_series calls it while
    the last notebook runs, when one core is mostly idle)."""

    def __init__(self, parameters: dict[str, Any]) -> None:
        self.parameters = parameters
        self.kit: Any = None

    def prepare(self) -> None:
        try:
            self.kit = summary_kit(self.parameters, self.parameters.get("run_id"))
        except Exception:  # noqa: BLE001 - collecting makes its own kit, and reports what is wrong
            self.kit = None

    def __call__(self, result: SeriesResult) -> None:
        kit = self.kit if self.kit is not None and self.kit.settings.run_id == result.run_id else None
        collect_facts(result, self.parameters, kit)


def collect_facts(result: SeriesResult, parameters: dict[str, Any], kit: Any = None) -> None:
    """What the run left in the cloud: objects, job statuses, the model and its accuracy."""
    import helpers

    kit = kit or summary_kit(parameters, result.run_id)
    objects = helpers.s3.list_objects(kit, kit.names.bucket, f"runs/{result.run_id}")
    result.facts["S3 objects"] = f"{len(objects)} under s3://{kit.names.bucket}/runs/{result.run_id}*"
    for run in (result.run_id, f"{result.run_id}-pipeline", f"{result.run_id}-gated"):
        jobs = helpers.sagemaker.run_jobs(kit, run)
        for kind, job in jobs.items():
            status = job.get("ProcessingJobStatus") or job.get("TrainingJobStatus")
            result.facts[f"{kind} job {run}"] = status
            if kind == "training" and status == "Completed":
                result.facts["model"] = job["ModelArtifacts"]["S3ModelArtifacts"]
                metrics = {m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList", [])}
                if "test:multiclass_accuracy" in metrics:
                    result.facts["test accuracy"] = round(metrics["test:multiclass_accuracy"], 4)


def clean_command(parameters: dict[str, Any], dry_run: bool) -> int:
    """``python -m helpers clean``: remove the kit's resources and prove none is left."""
    import helpers

    kit = helpers.connect(target=parameters.get("target"), region=parameters.get("region"),
                          prefix=parameters.get("prefix"))
    print(f"cleaning {kit.settings.target} ({kit.region}, prefix {kit.settings.prefix})")
    removed = helpers.cleanup.clean(kit, dry_run=dry_run)
    print(removed.to_string(index=False) if len(removed) else "nothing of the kit's was found")
    if dry_run:
        return 0
    left = helpers.cleanup.remaining(kit)
    print(f"left: {len(left)}" + (f"\n{left.to_string(index=False)}" if len(left) else ""))
    kept = helpers.cleanup.kept(kit)
    if len(kept):
        print(f"kept by AWS: {len(kept)} SageMaker job records (they cannot be deleted and cost nothing once "
              f"ended; their names stay taken): {', '.join(kept['name'])}")
    return 1 if len(left) else 0


def dry_run_command(parameters: dict[str, Any], notebooks: list[Path]) -> int:
    """``python -m helpers run --dry-run``: what the run would create on AWS, its cost, the cleanup command.

    Creates nothing, starts no cloud and calls no AWS (the account shows as ``<account>``).
    """
    from helpers import config, plan

    try:
        settings = config.settings(target=parameters.get("target"), region=parameters.get("region"),
                                   prefix=parameters.get("prefix"),
                                   run_id=parameters.get("run_id") or config.new_run_id())
    except ConfigError as error:
        print(f"dry run FAILED: {error}", file=sys.stderr)
        return 1
    numbers = {path.name[:2] for path in notebooks}
    resources = plan.plan(settings)
    resources = resources[resources["notebook"].isin(numbers)]
    print(f"dry run: nothing is created, no cloud is started, AWS is not called.\n"
          f"On AWS, region {settings.region}, prefix {settings.prefix} and run id {settings.run_id}, "
          f"notebooks {', '.join(sorted(numbers))} would create {len(resources)} resources:\n")
    print(resources.to_string(index=False))
    print("\nCost (USD, us-east-1 list prices; README \"Running on AWS\"):\n")
    print(plan.costs_display().to_string(index=False))
    print(f"\nRemove everything afterwards (add --dry-run to list it first):\n  {plan.cleanup_command(settings)}")
    return 0


def preflight_command(parameters: dict[str, Any]) -> int:
    """``python -m helpers preflight``: check an AWS account before anything is created; 1 if a blocking check fails."""
    import helpers
    from helpers import config

    try:
        settings = config.settings(target=parameters.get("target"), region=parameters.get("region"),
                                   prefix=parameters.get("prefix"), run_id=parameters.get("run_id"))
        if settings.target != "aws":  # no local cloud is needed to say what would be checked
            print(helpers.preflight.offline_report(settings))
            return 0
        kit = helpers.connect(target="aws", region=settings.region, prefix=settings.prefix, run_id=settings.run_id)
    except ConfigError as error:
        print(f"preflight FAILED: {error}", file=sys.stderr)
        return 1
    report = helpers.preflight.run(kit)
    print(report)
    if not report.ok:
        print("\npreflight FAILED: fix the FAIL lines above before running the series on AWS", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="execute the notebooks in order with papermill")
    run.add_argument("--out", type=Path, help="folder for the executed notebooks (default runs/<run-id>/)")
    run.add_argument("--endpoint", help="use this running local cloud instead of starting one")
    run.add_argument("--cloud-arg", action="append", default=[], metavar="OPTION",
                     help="an option for the local cloud the run starts, repeatable; a value goes in the same "
                          "argument: --cloud-arg=--account=ID --cloud-arg=--image=REPO=DIR "
                          "--cloud-arg=--mirror=URL=FILE (see python -m localcloud --help)")
    run.add_argument("--notebooks", help="comma-separated numbers, e.g. 01,02,03 (default 01-08)")
    run.add_argument("--cleanup", action="store_true", help="run 99_cleanup at the end: remove everything the kit made")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                     help="a notebook parameter (target, region, prefix, run_id, data_url)")
    run.add_argument("--no-parameters", action="store_true",
                     help="run with the notebooks' own defaults, no injected cell (to refresh committed outputs)")
    run.add_argument("--dry-run", action="store_true",
                     help="list what the run would create on AWS, its cost and the cleanup command; create nothing")
    clean = commands.add_parser("clean", help="remove everything the kit made (found by tag and name)")
    clean.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")
    clean.add_argument("--endpoint", help="the local cloud to clean (default: $PIPELINE_DREAMS_ENDPOINT or :5050)")
    clean.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                       help="target, region, prefix (as for run)")
    preflight = commands.add_parser("preflight", help="check an AWS account can run the series; create nothing")
    preflight.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                           help="target, region, prefix (as for run)")
    args = parser.parse_args(argv)
    if args.command == "preflight":
        return preflight_command({name: _parse_value(value) for name, value in args.parameter})
    if args.command == "clean":
        if args.endpoint:
            os.environ[ENV_ENDPOINT] = args.endpoint
        clean_parameters = {name: _parse_value(value) for name, value in args.parameter}
        target = str(clean_parameters.get("target") or os.environ.get(ENV_TARGET) or "local").lower()
        if target == "local":
            try:  # the keys of the user's own running cloud
                use_keys_of(os.environ.get(ENV_ENDPOINT) or DEFAULT_LOCAL_ENDPOINT)
            except RuntimeError as error:
                print(f"clean: {error}", file=sys.stderr)
                return 1
        return clean_command(clean_parameters, args.dry_run)

    parameters = {name: _parse_value(value) for name, value in args.parameter}
    try:
        selection = args.notebooks or ",".join(DEFAULT_NOTEBOOKS)
        if args.cleanup and CLEANUP_NOTEBOOK not in selection.split(","):
            selection += f",{CLEANUP_NOTEBOOK}"
        notebooks = select_notebooks(selection)
        if args.cloud_arg and (args.endpoint or os.environ.get(ENV_ENDPOINT)):
            raise SeriesFailed("--cloud-arg configures the cloud the run starts; this run uses the running cloud "
                               f"at {args.endpoint or os.environ.get(ENV_ENDPOINT)}: start that one with the options")
        if args.dry_run:
            return dry_run_command(parameters, notebooks)
        with signals_interrupt():  # SIGTERM/SIGHUP unwind like Ctrl-C: the cloud it started is stopped
            result = run_series(args.out, notebooks, parameters,
                                endpoint=args.endpoint or os.environ.get(ENV_ENDPOINT),
                                inject=not args.no_parameters, collect=FactsCollector(parameters),
                                cloud_args=args.cloud_arg)
    except SeriesFailed as error:
        print(f"series FAILED: {error}", file=sys.stderr)
        return 1
    except Interrupted as interrupted:
        print(f"series {interrupted}", file=sys.stderr)
        return 128 + interrupted.signum
    print("\n".join(summary_lines(result)))
    return 0


def exit_now(code: int) -> None:
    """Exit without the interpreter's teardown: the run has stopped its kernels and cloud and written its files,
    and tearing down pandas, botocore, papermill and jupyter_client's modules took ~0.2 s of every run."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

