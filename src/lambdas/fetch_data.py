"""Ingest Lambda (the article's container-image function): download the raw CSV into S3.

Event (every field optional when the function's environment provides it)::

    {"data_url": "https://…/iris.data", "bucket": "…", "run_prefix": "runs/demo"}

Environment: ``DATA_URL``, ``BUCKET``, ``RUN_PREFIX``. Nothing is hard-coded: the same
image runs on AWS (UCI's URL) and offline (a 127.0.0.1 URL served by the local cloud).
"""

from __future__ import annotations

import os
from typing import Any

import boto3
import requests

RAW_FILE_NAME = "iris.data"


def _setting(event: dict[str, Any], key: str, env: str, default: str | None = None) -> str:
    value = event.get(key) or os.environ.get(env) or default
    if not value:
        raise ValueError(f"missing '{key}': give it in the event or set {env} on the function")
    return value


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Fetch ``data_url`` with requests and put it at ``<run_prefix>/raw/iris.data``."""
    url = _setting(event, "data_url", "DATA_URL")
    bucket = _setting(event, "bucket", "BUCKET")
    run_prefix = _setting(event, "run_prefix", "RUN_PREFIX", "runs/default").strip("/")
    key = f"{run_prefix}/raw/{RAW_FILE_NAME}"

    response = requests.get(url, timeout=30)
    response.raise_for_status()
    if not response.content.strip():
        raise ValueError(f"{url} returned an empty body; nothing was written to s3://{bucket}/{key}")
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=response.content, ContentType="text/csv")
    print(f"fetched {len(response.content)} bytes from {url} into s3://{bucket}/{key}")
    return {**event, "bucket": bucket, "run_prefix": run_prefix, "raw_s3_uri": f"s3://{bucket}/{key}",
            "raw_bytes": len(response.content), "data_url": url}
