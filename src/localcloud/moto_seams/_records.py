"""Records the executors update: CloudWatch Logs streams and SageMaker job attributes."""

from __future__ import annotations

import time
from typing import Any

from moto.awslambda.models import lambda_backends
from moto.logs.exceptions import ResourceAlreadyExistsException
from moto.logs.models import logs_backends
from moto.sagemaker.models import sagemaker_backends

from localcloud.child import log_events
from localcloud.moto_seams import _iam, _state
from localcloud.moto_seams._state import cloud_account


# -- logs and job records (used by the executors through callbacks) ---------------------
def write_logs(region: str, group: str, stream: str, lines: list[str]) -> None:
    """Append lines to a CloudWatch Logs stream, creating group and stream as needed; a line longer than an
    event (256 KB) goes as several, as Lambda stores it (:mod:`localcloud.child.log_events`).

    With IAM enforced, the lines are written as the role of the function, job or model that made
    them: a role without the logs grants leaves no logs (and the work itself goes on), as on AWS.
    """
    backend = logs_backends[cloud_account()][region]
    role = _log_role(region, group, stream)
    if role is not None:
        new_group = group not in backend.groups
        new_stream = new_group or stream not in backend.groups[group].streams
        denied = _iam.logs_denial(cloud_account(), region, role, group, stream, new_group, new_stream)
        if denied:
            _state.log.warning("no logs for %s: %s", group, denied)
            return
    backend.ensure_log_group(group)
    try:
        backend.create_log_stream(group, stream)
    except ResourceAlreadyExistsException:
        pass
    now = int(time.time() * 1000)
    # Events of at most 256 KB, in PutLogEvents-sized batches; what a writer keeps is bounded by the writer
    for batch in log_events.batches(log_events.events(lines)):
        backend.put_log_events(group, stream, [{"timestamp": now, "message": message or " "} for message in batch])


def update_job(kind: str, region: str, name: str, fields: dict[str, Any]) -> None:
    """Set attributes on moto's record of a job; they appear in Describe* responses."""
    backend = sagemaker_backends[cloud_account()][region]
    jobs = {"processing": backend.processing_jobs, "training": backend.training_jobs,
            "transform": backend.transform_jobs}[kind]
    job = jobs.get(name)
    if job is not None:
        for key, value in fields.items():
            setattr(job, key, value)



def _log_role(region: str, group: str, stream: str) -> str | None:
    """The role whose keys write this log (None: nothing to check, IAM off or unknown writer)."""
    if not _state.iam_enforced:
        return None
    sagemaker = sagemaker_backends[cloud_account()][region]
    name = stream.split("/", 1)[0]
    try:
        if group.startswith("/aws/lambda/"):
            return lambda_backends[cloud_account()][region].get_function(group.removeprefix("/aws/lambda/")).role
        if group == "/aws/sagemaker/ProcessingJobs":
            return sagemaker.processing_jobs[name].role_arn
        if group == "/aws/sagemaker/TrainingJobs":
            return sagemaker.training_jobs[name].role_arn
        if group == "/aws/sagemaker/TransformJobs":
            return sagemaker._models[sagemaker.transform_jobs[name].model_name].execution_role_arn
        if group.startswith("/aws/sagemaker/Endpoints/"):
            endpoint = sagemaker.endpoints[group.removeprefix("/aws/sagemaker/Endpoints/")]
            config = sagemaker.endpoint_configs[endpoint.endpoint_config_name]
            return sagemaker._models[config.production_variants[0]["ModelName"]].execution_role_arn
    except Exception:  # noqa: BLE001 - a writer already gone: its logs are kept
        return None
    return None
