"""Dry run: what the series would create on AWS, what it costs, and the command that removes it.

Nothing here calls AWS. Names come from :class:`helpers.config.Names`, as the notebooks make
them; the account id, unknown without credentials, is shown as ``<account>``.

In a notebook: ``helpers.plan.show(kit)``. From a shell: ``python -m helpers run --dry-run``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from helpers.config import Kit, Names, Settings

ACCOUNT_PLACEHOLDER = "<account>"
_SENTINEL_ACCOUNT = "0" * 12  # stands in for the account while Names validates the bucket name
ENDPOINT_SUFFIX = "iris"  # notebook 06: endpoint_name = f"{prefix}-iris"
TRIGGERED_RUN = "t-<event>"  # notebook 07: an upload's run id is made from its event id (src/lambdas/fetch_data.py)

# On-demand list prices in USD, region us-east-1, from the AWS pricing pages of SageMaker AI, Step Functions,
# Lambda, S3 and ECR, as recorded for the kit in 2026-11. Other regions cost more or less: check before a workshop.
PRICE_PROCESSING_ML_T3_MEDIUM_HOUR = 0.05
PRICE_TRAINING_ML_M5_LARGE_HOUR = 0.115
PRICE_TRANSFORM_ML_M5_LARGE_HOUR = 0.115
PRICE_ENDPOINT_ML_M5_LARGE_HOUR = 0.115
PRICE_STEP_FUNCTIONS_PER_1000_TRANSITIONS = 0.025
PRICE_LAMBDA_GB_SECOND = 0.0000166667
PRICE_LAMBDA_PER_MILLION_REQUESTS = 0.20
PRICE_S3_GB_MONTH = 0.023
PRICE_ECR_GB_MONTH = 0.10

# What one run (01→07) uses, estimated generously: SageMaker bills per second, start-up included.
MINUTES_PER_JOB = 5
ENDPOINT_HOURS_PER_RUN = 0.5  # from notebook 06 to a 99_cleanup run straight after 07
TRANSITIONS_PER_RUN = 150  # 6 executions; the endpoint's wait loop adds 3 per 30 s while it is created
LAMBDA_INVOCATIONS, LAMBDA_SECONDS, LAMBDA_GB = 10, 2, 0.25
IMAGES_GB = 0.5  # ingest + preprocess images in ECR

COST_COLUMNS = ["service", "what one run uses", "unit price (USD)", "per", "one run (USD)"]


def _names(settings: Settings, account: str | None) -> tuple[Names, str]:
    """The kit's names and its bucket's name, with ``<account>`` when the account is not known."""
    if account:
        names = Names(settings.prefix, account, settings.region)
        return names, names.bucket
    names = Names(settings.prefix, _SENTINEL_ACCOUNT, settings.region)
    bucket = names.bucket.replace(_SENTINEL_ACCOUNT, ACCOUNT_PLACEHOLDER)  # validated with the account's length
    return Names(settings.prefix, ACCOUNT_PLACEHOLDER, settings.region), bucket


# Job and run names end in a short hash of their settings and data (helpers.settings_file.fingerprint),
# known only when they are made.
HASH = "-HASH"  # stands for the hash of a run's settings (a job name keeps only letters, digits, hyphens)


def _pipeline_run(names: Names, run: str, deploy: bool, evaluate: bool = True,
                  by_lambda: bool = False) -> list[tuple[str, str, str, str]]:
    """(service, kind, name, billed) of what one execution of the pipeline makes.

    ``by_lambda``: the article's chain, whose Lambdas add a hash of their request to the job names.
    """
    end = HASH if by_lambda else ""
    rows = [("sagemaker", "processing job", names.job("preprocess", run) + end, "per second, ml.t3.medium"),
            ("sagemaker", "training job", names.job("train", run) + end, "per second, ml.m5.large")]
    if evaluate:
        rows += [("sagemaker", "model", names.job("model", run), "free"),
                 ("sagemaker", "transform job", names.job("predict", run), "per second, ml.m5.large"),
                 ("sagemaker", "processing job", names.job("evaluate", run), "per second, ml.t3.medium")]
    if deploy:
        rows.append(("sagemaker", "endpoint config", names.job("model", run), "free"))
    return rows


def plan(settings: Settings, account: str | None = None) -> pd.DataFrame:
    """Every resource notebooks 01-07 create on AWS for these settings, in the order they are made.

    Args:
        settings: target, region, prefix and run id (see :func:`helpers.config.settings`).
        account: the account id when known (``kit.account``); ``<account>`` otherwise.

    Returns:
        One row per resource: notebook, service, kind, name and how it is billed.
    """
    names, bucket = _names(settings, account)
    run = settings.run_id
    rows: list[tuple[str, str, str, str, str]] = []

    def add(notebook: str, *resources: tuple[str, str, str, str]) -> None:
        rows.extend((notebook, *resource) for resource in resources)

    def function(purpose: str, package: str) -> list[tuple[str, str, str, str]]:
        return [("lambda", f"function ({package})", names.function(purpose), "per request and GB-second"),
                ("logs", "log group", f"/aws/lambda/{names.function(purpose)}", "per GB ingested (a few KB)")]

    def managed_rule(jobs: str) -> tuple[str, str, str, str]:
        return "events", "rule (made by Step Functions for .sync)", f"StepFunctionsGetEventsFor{jobs}Rule", "free"

    add("01", ("s3", "bucket", bucket, "per GB-month"))
    add("02", ("iam", "role", names.role("fetch-data"), "free"), ("ecr", "repository", names.repository("ingest"),
                                                              "per GB-month"), *function("fetch-data", "image"))
    add("03", ("iam", "role", names.role("sagemaker"), "free"), ("iam", "role", names.role("start-preprocessing"), "free"),
        ("ecr", "repository", names.repository("preprocess"), "per GB-month"), *function("start-preprocessing", "zip"),
        ("sagemaker", "processing job", names.job("preprocess", run) + HASH, "per second, ml.t3.medium"))
    add("04", ("iam", "role", names.role("start-training"), "free"), *function("start-training", "zip"),
        ("sagemaker", "training job", names.job("train", run) + HASH, "per second, ml.m5.large"))
    add("05", ("iam", "role", names.role("states"), "free"),
        ("stepfunctions", "state machine", names.state_machine("article-chain"), "per state transition"),
        *_pipeline_run(names, f"{run}-article{HASH}", deploy=False, evaluate=False, by_lambda=True),
        ("stepfunctions", "state machine", names.state_machine("pipeline"), "per state transition"),
        managed_rule("SageMakerProcessingJobs"), managed_rule("SageMakerTrainingJobs"),
        *_pipeline_run(names, f"{run}-pipeline{HASH}", deploy=False, evaluate=False))
    add("06", managed_rule("SageMakerTransformJobs"), *_pipeline_run(names, f"{run}-gated{HASH}", deploy=True),
        ("sagemaker", "endpoint", f"{names.prefix}-{ENDPOINT_SUFFIX}", "per hour while it exists, ml.m5.large"),
        *_pipeline_run(names, f"{run}-strict{HASH}", deploy=False))
    add("07", ("iam", "role", names.role("events"), "free"),
        ("s3", "EventBridge notifications", bucket, "free"),
        ("events", "rule", f"{names.prefix}-incoming", "free"),
        *_pipeline_run(names, TRIGGERED_RUN, deploy=True))
    return pd.DataFrame(rows, columns=["notebook", "service", "kind", "name", "billed"])


def _count(resources: pd.DataFrame, kind: str) -> int:
    return int((resources["kind"] == kind).sum())


def costs() -> pd.DataFrame:
    """The cost table of one run 01→07 (README "Running on AWS" has the same rows).

    Job counts come from :func:`plan`; prices and durations are the constants of this module.
    """
    resources = plan(Settings(target="aws"))
    processing, training = _count(resources, "processing job"), _count(resources, "training job")
    transform = _count(resources, "transform job")
    hours = MINUTES_PER_JOB / 60
    lambda_cost = (LAMBDA_INVOCATIONS * LAMBDA_SECONDS * LAMBDA_GB * PRICE_LAMBDA_GB_SECOND
                   + LAMBDA_INVOCATIONS * PRICE_LAMBDA_PER_MILLION_REQUESTS / 1e6)
    rows = [
        ("SageMaker Processing", f"ml.t3.medium, {processing} jobs × ~{MINUTES_PER_JOB} min",
         PRICE_PROCESSING_ML_T3_MEDIUM_HOUR, "instance-hour", processing * hours * PRICE_PROCESSING_ML_T3_MEDIUM_HOUR),
        ("SageMaker Training", f"ml.m5.large, {training} jobs × ~{MINUTES_PER_JOB} min",
         PRICE_TRAINING_ML_M5_LARGE_HOUR, "instance-hour", training * hours * PRICE_TRAINING_ML_M5_LARGE_HOUR),
        ("SageMaker Batch Transform", f"ml.m5.large, {transform} jobs × ~{MINUTES_PER_JOB} min",
         PRICE_TRANSFORM_ML_M5_LARGE_HOUR, "instance-hour", transform * hours * PRICE_TRANSFORM_ML_M5_LARGE_HOUR),
        ("SageMaker endpoint", f"ml.m5.large, ~{ENDPOINT_HOURS_PER_RUN:g} h from 06 to 99_cleanup",
         PRICE_ENDPOINT_ML_M5_LARGE_HOUR, "instance-hour", ENDPOINT_HOURS_PER_RUN * PRICE_ENDPOINT_ML_M5_LARGE_HOUR),
        ("SageMaker endpoint, left running", "ml.m5.large, all day: clean up!",
         round(24 * PRICE_ENDPOINT_ML_M5_LARGE_HOUR, 2), "day", math.nan),
        ("Step Functions", f"Standard workflows, ~{TRANSITIONS_PER_RUN} state transitions",
         PRICE_STEP_FUNCTIONS_PER_1000_TRANSITIONS, "1,000 transitions",
         TRANSITIONS_PER_RUN / 1000 * PRICE_STEP_FUNCTIONS_PER_1000_TRANSITIONS),
        ("Lambda", f"~{LAMBDA_INVOCATIONS} invocations × ~{LAMBDA_SECONDS} s at {int(LAMBDA_GB * 1024)} MB "
                   f"(+ ${PRICE_LAMBDA_PER_MILLION_REQUESTS:.2f} per 1M requests)",
         PRICE_LAMBDA_GB_SECOND, "GB-second", lambda_cost),
        ("S3", "< 1 MB of data", PRICE_S3_GB_MONTH, "GB-month", 0.0),
        ("ECR", f"two images, ~{IMAGES_GB:g} GB, kept a month", PRICE_ECR_GB_MONTH, "GB-month",
         IMAGES_GB * PRICE_ECR_GB_MONTH),
    ]
    table = pd.DataFrame(rows, columns=COST_COLUMNS)
    table["one run (USD)"] = table["one run (USD)"].round(3)
    total = round(table["one run (USD)"].sum(), 3)  # of the rounded rows, so the table adds up
    table.loc[len(table)] = ("total", "one run, at most, cleaned up within the hour", math.nan, "", total)
    return table


def format_price(value: float) -> str:
    """A price as written in the tables: as many decimals as it has, "—" for none."""
    return "—" if value is None or math.isnan(value) else f"{value:.10f}".rstrip("0").rstrip(".")


def costs_display() -> pd.DataFrame:
    """:func:`costs` with prices written as in the README (for printing and notebooks)."""
    table = costs()
    table["unit price (USD)"] = table["unit price (USD)"].map(format_price)
    table["one run (USD)"] = table["one run (USD)"].map(lambda v: "—" if math.isnan(v) else f"{v:.3f}")
    return table


def costs_markdown() -> str:
    """:func:`costs` as the Markdown table of the README."""
    lines = ["| " + " | ".join(COST_COLUMNS) + " |", "|" + "---|" * len(COST_COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in costs_display().itertuples(index=False)]
    return "\n".join(lines)


def cleanup_command(settings: Settings) -> str:
    """The shell command that removes everything the kit made with these settings (add --dry-run to list it)."""
    return (f".venv/bin/python -m helpers clean -p target aws -p region {settings.region} "
            f"-p prefix {settings.prefix}")


@dataclass
class PlanReport:
    """What :func:`show` returns: the plan, the costs and the cleanup command, displayable in a notebook."""

    resources: pd.DataFrame
    costs: pd.DataFrame
    cleanup: str

    def __repr__(self) -> str:
        return (f"What the series creates on AWS ({len(self.resources)} resources):\n"
                f"{self.resources.to_string(index=False)}\n\nCost (USD, us-east-1 list prices):\n"
                f"{self.costs.to_string(index=False)}\n\nClean up: {self.cleanup}")

    def _repr_html_(self) -> str:
        return (f"<p><b>What the series creates on AWS</b> ({len(self.resources)} resources)</p>"
                f"{self.resources.to_html(index=False)}<p><b>Cost</b> (USD, us-east-1 list prices)</p>"
                f"{self.costs.to_html(index=False)}<p><b>Clean up</b>: <code>{self.cleanup}</code></p>")


def show(kit: Kit) -> PlanReport:
    """The dry run for a connected kit (its account is already known from STS); creates nothing."""
    return PlanReport(plan(kit.settings, kit.account), costs_display(), cleanup_command(kit.settings))
