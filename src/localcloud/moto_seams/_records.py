"""Records the executors update: CloudWatch Logs streams and SageMaker job attributes."""

from __future__ import annotations

import os
import time
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.logs.exceptions import ResourceAlreadyExistsException
from moto.logs.models import logs_backends
from moto.sagemaker.models import sagemaker_backends


def cloud_account() -> str:
    """The account the cloud plays: ``--account`` (moto's ``MOTO_ACCOUNT_ID``), else moto's default."""
    return os.environ.get("MOTO_ACCOUNT_ID") or DEFAULT_ACCOUNT_ID


# -- logs and job records (used by the executors through callbacks) ---------------------
def write_logs(region: str, group: str, stream: str, lines: list[str]) -> None:
    """Append lines to a CloudWatch Logs stream, creating group and stream as needed."""
    backend = logs_backends[cloud_account()][region]
    backend.ensure_log_group(group)
    try:
        backend.create_log_stream(group, stream)
    except ResourceAlreadyExistsException:
        pass
    now = int(time.time() * 1000)
    events = [{"timestamp": now, "message": line or " "} for line in lines[-10000:]]
    if events:
        backend.put_log_events(group, stream, events)


def update_job(kind: str, region: str, name: str, fields: dict[str, Any]) -> None:
    """Set attributes on moto's record of a job; they appear in Describe* responses."""
    backend = sagemaker_backends[cloud_account()][region]
    jobs = {"processing": backend.processing_jobs, "training": backend.training_jobs,
            "transform": backend.transform_jobs}[kind]
    job = jobs.get(name)
    if job is not None:
        for key, value in fields.items():
            setattr(job, key, value)

