"""What a notebook needs from the earlier ones, checked before it creates anything.

Each notebook's first cell after the settings asks for what it builds on (``require(kit, "bucket",
"processed data")``). Everything found is listed; anything missing stops the notebook there, naming the
notebook that makes it, so a notebook run out of order (or after 99_cleanup) never leaves half a step behind.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from helpers.config import Kit
from helpers.errors import EarlierNotebookNeeded


def _bucket(kit: Kit, found: dict[str, str]) -> str | None:
    from botocore.exceptions import ClientError

    try:
        kit.client("s3").head_bucket(Bucket=kit.names.bucket)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("404", "NoSuchBucket", "NotFound"):
            return None
        raise
    return kit.names.bucket


def _objects_under(suffix: str) -> Callable[[Kit, dict[str, str]], str | None]:
    def check(kit: Kit, found: dict[str, str]) -> str | None:
        if not found.get("bucket"):
            return None
        prefix = f"{kit.settings.run_prefix}/{suffix}"
        listed = kit.client("s3").list_objects_v2(Bucket=found["bucket"], Prefix=prefix, MaxKeys=1)
        return f"s3://{found['bucket']}/{prefix}" if listed.get("KeyCount") else None

    return check


def _function(purpose: str) -> Callable[[Kit, dict[str, str]], str | None]:
    def check(kit: Kit, found: dict[str, str]) -> str | None:
        lam = kit.client("lambda")
        try:
            return lam.get_function(FunctionName=kit.names.function(purpose))["Configuration"]["FunctionArn"]
        except lam.exceptions.ResourceNotFoundException:
            return None

    return check


def _image(image: str) -> Callable[[Kit, dict[str, str]], str | None]:
    def check(kit: Kit, found: dict[str, str]) -> str | None:
        from helpers import ecr

        return ecr.published_uri(kit, image)

    return check


def _gated_pipeline(kit: Kit, found: dict[str, str]) -> str | None:
    sfn = kit.client("stepfunctions")
    name = kit.names.state_machine("pipeline")
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                definition = json.loads(sfn.describe_state_machine(
                    stateMachineArn=machine["stateMachineArn"])["definition"])
                # 05's pipeline ends at Train; 06 adds the evaluation whose accuracy 07 reads
                return machine["stateMachineArn"] if "Evaluate" in definition.get("States", {}) else None
    return None


# need -> (what it is, the notebook that makes it, how to find it)
NEEDS: dict[str, tuple[str, str, Callable[[Kit, dict[str, str]], str | None]]] = {
    "bucket": ("the kit's bucket", "01_bucket", _bucket),
    "raw data": ("the raw CSV under runs/<run_id>/raw/", "02_ingest", _objects_under("raw/")),
    "processed data": ("the train/test splits under runs/<run_id>/processed/", "03_preprocess",
                       _objects_under("processed/train/")),
    "fetch-data": ("the fetch-data function", "02_ingest", _function("fetch-data")),
    "start-preprocessing": ("the start-preprocessing function", "03_preprocess", _function("start-preprocessing")),
    "preprocess image": ("the preprocessing image <prefix>/preprocess:latest", "03_preprocess", _image("preprocess")),
    "start-training": ("the start-training function", "04_train", _function("start-training")),
    "gated pipeline": ("the pipeline state machine with its evaluation and gate", "06_evaluate", _gated_pipeline),
}


def require(kit: Kit, *needs: str) -> dict[str, str]:
    """Find what this notebook builds on, print one line each, and stop if anything is missing.

    Args:
        needs: keys of :data:`NEEDS`, in the order the notebooks make them.

    Returns:
        need → what was found (the bucket's name, an ``s3://`` prefix, an ARN).

    Raises:
        EarlierNotebookNeeded: something is missing; the message names the first notebook to run.
        ValueError: an unknown need.
    """
    unknown = [need for need in needs if need not in NEEDS]
    if unknown:
        raise ValueError(f"unknown need(s) {', '.join(unknown)}: one of {', '.join(NEEDS)}")
    found: dict[str, str] = {}
    missing: list[tuple[str, str]] = []
    for need in needs:
        what, notebook, check = NEEDS[need]
        value = check(kit, found)
        if value:
            found[need] = value
        else:
            missing.append((what, notebook))
    if missing:
        first = min(notebook for _, notebook in missing)
        raise EarlierNotebookNeeded(
            f"{'; '.join(what for what, _ in missing)} not found for run_id {kit.settings.run_id!r} and prefix "
            f"{kit.settings.prefix!r}: run {first} first (and the notebooks after it), then this one. "
            "Nothing was created here.")
    print("builds on: " + ", ".join(f"{need} ({NEEDS[need][1]})" for need in needs) + " — found")
    return found
