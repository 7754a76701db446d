"""Start the SageMaker Processing job that runs preprocess.py (the article's second Lambda).

Event: ``{"bucket", "run_prefix", "run_id", "raw_s3_uri"?, "input_version"?, "dataset"?}`` (as fetch_data
returns them, plus which version of the raw data it reads and settings.toml's ``[dataset]``).
Environment: ``PREPROCESS_IMAGE_URI``, ``SAGEMAKER_ROLE_ARN``, ``JOB_NAME_PREFIX``,
``INSTANCE_TYPE`` (optional), ``RESOURCE_TAGS`` (optional JSON list of {Key, Value}).

Like the article's, it returns as soon as SageMaker has accepted the job; the job then
runs for minutes. Invoking it again for the same run returns the existing job instead
of failing on the duplicate name.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any

import boto3

CONTAINER_INPUT = "/opt/ml/processing/input"
CONTAINER_OUTPUT = "/opt/ml/processing/output"
OUTPUTS = ("train", "test", "meta")


def job_name(prefix: str, run_id: str, step: str, request: dict[str, Any] | None = None) -> str:
    """SageMaker name ``<prefix>-<step>-<run_id>``: ≤ 63 letters, digits and hyphens.

    Without ``request``: a copy of helpers.names.job_name (this handler is a single file; a unit test checks
    both agree): cut and ended with a hash of the whole name when longer. With ``request``, the name ends in
    a short hash of what the job would do (the request without its name and tags, plus the event's
    ``input_version``): the same settings find the same job, a changed setting makes a new one. Job names
    are unique forever in an account and region, even after cleanup, so a name must change whenever what
    the job does changes.
    """
    full = "-".join(part for part in (prefix, "" if step == "model" else step, run_id) if part)
    name = re.sub(r"[^a-zA-Z0-9-]", "", full.replace("_", "-")).strip("-") or "job"
    if request is not None:
        settings = {k: v for k, v in request.items() if k not in ("TrainingJobName", "ProcessingJobName", "Tags")}
        digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:6]
        return f"{name[:56].strip('-')}-{digest}"
    if len(name) <= 63:
        return name
    return f"{name[:54].rstrip('-')}-{hashlib.sha256(full.encode()).hexdigest()[:8]}"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Create the processing job for this run and return its name and output URIs."""
    bucket = event["bucket"]
    run_prefix = event["run_prefix"].strip("/")
    processed = f"s3://{bucket}/{run_prefix}/processed"
    sagemaker = boto3.client("sagemaker")
    request = {
        "RoleArn": os.environ["SAGEMAKER_ROLE_ARN"],
        "AppSpecification": {
            "ImageUri": os.environ["PREPROCESS_IMAGE_URI"],
            "ContainerArguments": ["--input-dir", CONTAINER_INPUT, "--output-dir", CONTAINER_OUTPUT],
        },
        "ProcessingInputs": [{"InputName": "raw", "S3Input": {
            "S3Uri": event.get("raw_s3_uri") or f"s3://{bucket}/{run_prefix}/raw/", "LocalPath": CONTAINER_INPUT,
            "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
        "ProcessingOutputConfig": {"Outputs": [
            {"OutputName": output, "S3Output": {"S3Uri": f"{processed}/{output}",
                                                "LocalPath": f"{CONTAINER_OUTPUT}/{output}",
                                                "S3UploadMode": "EndOfJob"}}
            for output in OUTPUTS]},
        "ProcessingResources": {"ClusterConfig": {
            "InstanceCount": 1, "InstanceType": os.environ.get("INSTANCE_TYPE", "ml.t3.medium"), "VolumeSizeInGB": 5}},
        "StoppingCondition": {"MaxRuntimeInSeconds": int(os.environ.get("MAX_RUNTIME_SECONDS", "900"))},
        "Tags": json.loads(os.environ.get("RESOURCE_TAGS", "[]")),
    }
    if event.get("dataset"):  # how to read the learner's CSV (settings.toml's [dataset]); preprocess.py reads it
        request["Environment"] = {"PIPELINE_DREAMS_DATASET": json.dumps(event["dataset"], sort_keys=True)}
    name = job_name(os.environ.get("JOB_NAME_PREFIX", "pipeline-dreams"), event["run_id"], "preprocess",
                    {**request, "input_version": event.get("input_version", "")})
    request = {"ProcessingJobName": name, **request}
    try:
        arn = sagemaker.create_processing_job(**request)["ProcessingJobArn"]
    except sagemaker.exceptions.ResourceInUse:
        arn = sagemaker.describe_processing_job(ProcessingJobName=name)["ProcessingJobArn"]
        print(f"processing job {name} already exists with these same settings and data: reusing it")
    else:
        print(f"processing job {name} started")
    return {**event, "processing_job_name": name, "processing_job_arn": arn,
            "train_s3_uri": f"{processed}/train/", "test_s3_uri": f"{processed}/test/"}
