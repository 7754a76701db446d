"""Start the linear-learner training job (the article's third Lambda).

Event: ``{"bucket", "run_prefix", "run_id", "train_s3_uri"?, "test_s3_uri"?, "hyperparameters"?,
"input_version"?}``: ``hyperparameters`` (linear-learner's names, from settings.toml via the notebook)
win over the defaults below; ``input_version`` says which data the job reads (a new version, a new job).
Environment: ``TRAINING_IMAGE_URI`` (looked up per region by the notebook with the
SageMaker SDK and handed over here, so this function stays boto3-only),
``SAGEMAKER_ROLE_ARN``, ``JOB_NAME_PREFIX``, ``INSTANCE_TYPE``, ``HYPERPARAMETERS``
(optional JSON object overriding the defaults below), ``RESOURCE_TAGS``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any

import boto3

# linear-learner's contract: num_classes is required for multiclass; feature_dim saves a pass.
DEFAULT_HYPERPARAMETERS = {"predictor_type": "multiclass_classifier", "num_classes": "3",
                           "feature_dim": "4", "mini_batch_size": "32", "epochs": "15"}


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


def _channel(name: str, uri: str) -> dict[str, Any]:
    return {"ChannelName": name, "ContentType": "text/csv", "InputMode": "File", "DataSource": {
        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}}}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Create the training job for this run and return its name and model location."""
    bucket = event["bucket"]
    run_prefix = event["run_prefix"].strip("/")
    processed = f"s3://{bucket}/{run_prefix}/processed"
    output_path = f"s3://{bucket}/{run_prefix}/model"
    hyperparameters = {**DEFAULT_HYPERPARAMETERS, **json.loads(os.environ.get("HYPERPARAMETERS", "{}")),
                       **event.get("hyperparameters", {})}
    if hyperparameters.get("predictor_type") != "multiclass_classifier":
        # only multiclass takes num_classes (its valid values start at 3): the default's 3 must not reach a binary job
        hyperparameters.pop("num_classes", None)
    sagemaker = boto3.client("sagemaker")
    request = {
        "RoleArn": os.environ["SAGEMAKER_ROLE_ARN"],
        "AlgorithmSpecification": {"TrainingImage": os.environ["TRAINING_IMAGE_URI"], "TrainingInputMode": "File"},
        "HyperParameters": {k: str(v) for k, v in hyperparameters.items()},
        "InputDataConfig": [_channel("train", event.get("train_s3_uri") or f"{processed}/train/"),
                            _channel("test", event.get("test_s3_uri") or f"{processed}/test/")],
        "OutputDataConfig": {"S3OutputPath": output_path},
        "ResourceConfig": {"InstanceType": os.environ.get("INSTANCE_TYPE", "ml.m5.large"), "InstanceCount": 1,
                           "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": int(os.environ.get("MAX_RUNTIME_SECONDS", "1800"))},
        "Tags": json.loads(os.environ.get("RESOURCE_TAGS", "[]")),
    }
    name = job_name(os.environ.get("JOB_NAME_PREFIX", "pipeline-dreams"), event["run_id"], "train",
                    {**request, "input_version": event.get("input_version", "")})
    request = {"TrainingJobName": name, **request}
    try:
        arn = sagemaker.create_training_job(**request)["TrainingJobArn"]
    except sagemaker.exceptions.ResourceInUse:
        arn = sagemaker.describe_training_job(TrainingJobName=name)["TrainingJobArn"]
        print(f"training job {name} already exists with these same settings and data: reusing it")
    else:
        print(f"training job {name} started with hyperparameters {json.dumps(request['HyperParameters'])}")
    return {**event, "training_job_name": name, "training_job_arn": arn,
            "model_s3_uri": f"{output_path}/{name}/output/model.tar.gz"}
