"""Ingest Lambda (the article's container-image function): bring the raw CSV into the run's S3 prefix.

Two ways in, one way out (``s3://<bucket>/<run_prefix>/raw/<the source's file name>``, e.g. ``iris.data``):

* ``{"data_url": "https://…/iris.data", "bucket": …, "run_id": …}`` downloads with requests
  (the article's way; ``DATA_URL``/``BUCKET`` in the environment serve as defaults);
* ``{"source_s3_uri": "s3://…/incoming/new.csv", "bucket": …, "event_id": …}`` copies a file
  someone uploaded (the S3 → EventBridge trigger of notebook 07) into a run of its own.

A run id that the event does not give is made from the event id or the time, so every
triggered upload gets its own prefix and job names. The run's SageMaker names come back as
``job_names`` (unless the event gives them): the state machines read them there, because
Amazon States Language cannot shorten a name that would pass SageMaker's 63 characters.
``JOB_NAME_PREFIX`` in the environment starts them (default ``pipeline-dreams``).
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from typing import Any

import boto3
import requests

RAW_FILE_NAME = "iris.data"  # when the source's name gives none
JOB_STEPS = ("preprocess", "train", "predict", "evaluate", "model")  # as helpers.names.JOB_STEPS


def _file_name(source: str) -> str:
    """The learner's file name (the URL's or key's last part), so errors later name their file, not iris.data."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", source.split("?")[0].rstrip("/").rsplit("/", 1)[-1])
    return name if name.strip("._") and "://" not in source.rstrip("/").rsplit("/", 1)[-1] else RAW_FILE_NAME


def _setting(event: dict[str, Any], key: str, env: str, default: str | None = None) -> str:
    value = event.get(key) or os.environ.get(env) or default
    if not value:
        raise ValueError(f"missing '{key}': give it in the event or set {env} on the function")
    return value


def _run_id(event: dict[str, Any]) -> str:
    if event.get("run_id"):
        return str(event["run_id"])
    source = re.sub(r"[^a-z0-9]", "", str(event.get("event_id", "")).lower())[:8] or f"{int(time.time()):x}"
    return f"t-{source}"


def job_name(prefix: str, run_id: str, step: str) -> str:
    """SageMaker name ``<prefix>-<step>-<run_id>``: ≤ 63 letters, digits and hyphens; cut + hash when longer.

    A copy of helpers.names.job_name (this handler is a single file); a unit test checks both agree.
    """
    full = "-".join(part for part in (prefix, "" if step == "model" else step, run_id) if part)
    name = re.sub(r"[^a-zA-Z0-9-]", "", full.replace("_", "-")).strip("-") or "job"
    if len(name) <= 63:
        return name
    return f"{name[:54].rstrip('-')}-{hashlib.sha256(full.encode()).hexdigest()[:8]}"


def _split(uri: str) -> tuple[str, str]:
    match = re.match(r"^s3://([^/]+)/(.+)$", uri)
    if not match:
        raise ValueError(f"source_s3_uri {uri!r} is not s3://bucket/key")
    return match.group(1), match.group(2)


def _read_object(s3, uri: str) -> bytes:
    """The bytes of ``s3://bucket/key``; a missing object raises NoSuchKey naming it (S3's message does not)."""
    bucket, key = _split(uri)
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey as error:
        error.response["Error"]["Message"] = f"{uri} does not exist (nothing was ingested)"
        raise type(error)(error.response, error.operation_name) from None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Put the raw data at ``<run_prefix>/raw/<file name>`` and return the event with the run's names."""
    bucket = _setting(event, "bucket", "BUCKET")
    run_id = _run_id(event)
    run_prefix = (event.get("run_prefix") or os.environ.get("RUN_PREFIX") or f"runs/{run_id}").strip("/")
    s3 = boto3.client("s3")
    if event.get("source_s3_uri"):
        body = _read_object(s3, event["source_s3_uri"])
        source = event["source_s3_uri"]
    else:
        source = _setting(event, "data_url", "DATA_URL")
        response = requests.get(source, timeout=30)
        response.raise_for_status()
        body = response.content
    key = f"{run_prefix}/raw/{_file_name(source)}"
    if not body.strip():
        raise ValueError(f"{source} returned an empty body; nothing was written to s3://{bucket}/{key}")
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/csv")
    print(f"ingested {len(body)} bytes from {source} into s3://{bucket}/{key}")
    prefix = os.environ.get("JOB_NAME_PREFIX", "pipeline-dreams")
    job_names = event.get("job_names") or {step: job_name(prefix, run_id, step) for step in JOB_STEPS}
    return {**event, "bucket": bucket, "run_id": run_id, "run_prefix": run_prefix,
            "raw_s3_uri": f"s3://{bucket}/{key}", "raw_bytes": len(body), "source": source, "job_names": job_names}
