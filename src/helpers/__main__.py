"""``python -m helpers run …``: execute the notebook series (see ``--help``)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from helpers.config import ENV_DATA_URL, ENV_ENDPOINT
from helpers.series import SeriesFailed, SeriesResult, run_series, select_notebooks, summary_lines


def _parse_value(text: str) -> Any:
    """papermill -p semantics: numbers and booleans become numbers and booleans."""
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def collect_facts(result: SeriesResult, parameters: dict[str, Any]) -> None:
    """What the run left in the cloud: objects, job statuses, the model and its accuracy."""
    import helpers

    kit = helpers.connect(target=parameters.get("target"), region=parameters.get("region"),
                          prefix=parameters.get("prefix"), run_id=result.run_id)
    objects = helpers.s3.list_objects(kit, kit.names.bucket, f"runs/{result.run_id}")
    result.facts["S3 objects"] = f"{len(objects)} under s3://{kit.names.bucket}/runs/{result.run_id}*"
    for run in (result.run_id, f"{result.run_id}-pipeline"):
        jobs = helpers.sagemaker._run_jobs(kit, run)
        for kind, job in jobs.items():
            status = job.get("ProcessingJobStatus") or job.get("TrainingJobStatus")
            result.facts[f"{kind} job {run}"] = status
            if kind == "training" and status == "Completed":
                result.facts["model"] = job["ModelArtifacts"]["S3ModelArtifacts"]
                metrics = {m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList", [])}
                if "test:multiclass_accuracy" in metrics:
                    result.facts["test accuracy"] = round(metrics["test:multiclass_accuracy"], 4)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="execute the notebooks in order with papermill")
    run.add_argument("--out", type=Path, help="folder for the executed notebooks (default runs/<run-id>/)")
    run.add_argument("--endpoint", help="use this running local cloud instead of starting one")
    run.add_argument("--notebooks", help="comma-separated numbers, e.g. 01,02,03 (default 01-05)")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                     help="a notebook parameter (target, region, prefix, run_id, data_url)")
    run.add_argument("--no-parameters", action="store_true",
                     help="run with the notebooks' own defaults, no injected cell (to refresh committed outputs)")
    args = parser.parse_args(argv)

    parameters = {name: _parse_value(value) for name, value in args.parameter}
    if args.endpoint and "data_url" not in parameters and not os.environ.get(ENV_DATA_URL):
        print(f"note: with --endpoint, pass -p data_url URL (or set {ENV_DATA_URL}) if the cloud is offline")
    try:
        notebooks = select_notebooks(args.notebooks)
        result = run_series(args.out, notebooks, parameters, endpoint=args.endpoint or os.environ.get(ENV_ENDPOINT),
                            inject=not args.no_parameters,
                            collect=lambda r: collect_facts(r, parameters))
    except SeriesFailed as error:
        print(f"series FAILED: {error}", file=sys.stderr)
        return 1
    print("\n".join(summary_lines(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
