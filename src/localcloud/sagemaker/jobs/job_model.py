"""One running job of the local cloud: its folder, how its ``/opt/ml`` paths map, how it ended (see localcloud.sagemaker.jobs.runner)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from localcloud.common.constraints import PROCESSING_ROOT, is_processing_path
from localcloud.common.paths import PathEscape, inside
from localcloud.contracts import CLIENT_ERROR, MAX_RUNTIME_EXCEEDED, JobFailure
from localcloud.sagemaker.jobs.warm_jobs import WarmProcess

_OPT_ML = re.compile(r"(?<![\w./-])/opt/ml(?=/|$|\W)")
_STDERR_TAIL_CHARS = 800  # AWS caps FailureReason at 1024 characters


def now() -> datetime:
    return datetime.now(timezone.utc)


class Job:
    """One running job: its folder, process and how it ended."""

    def __init__(self, kind: str, region: str, name: str, root: Path) -> None:
        self.kind, self.region, self.name, self.root = kind, region, name, root
        self.fs = root / "fs"
        self.process: subprocess.Popen | WarmProcess | None = None
        self.stop_requested = threading.Event()
        self.ended = threading.Event()  # set once its final status is recorded (JobRunner._finish)
        self.log_stream = f"{name}/algo-1-{int(time.time())}"
        self.status = "InProgress"  # the status it ended with (set by JobRunner._finish)
        self.image_env: dict[str, str] = {}  # the image's ENV
        self.workdir = "/"  # the image's WORKDIR: the command's working directory
        self.volume_gb: int | None = None  # VolumeSizeInGB (localcloud.sagemaker.jobs.job_volume)

    def remap(self, value: str) -> str:
        return _OPT_ML.sub(lambda _: str(self.fs / "opt" / "ml"), value)

    def processing_path(self, local_path: str) -> Path:
        """The job-folder path of a processing ``LocalPath`` (checked at create; checked again here)."""
        if not is_processing_path(local_path):
            raise JobFailure(CLIENT_ERROR, f"LocalPath {local_path!r} is not an absolute path under {PROCESSING_ROOT}")
        root = self.fs / "opt" / "ml" / "processing"
        try:
            return inside(root, local_path[len(PROCESSING_ROOT):], what=f"LocalPath {local_path!r}")
        except PathEscape as exc:
            raise JobFailure(CLIENT_ERROR, str(exc)) from None

    def unmap(self, text: str) -> str:
        """The container's ``/opt/ml`` paths back in a log or FailureReason, as on AWS (the folder goes anyway)."""
        return text.replace(str(self.fs / "opt" / "ml"), "/opt/ml")

    def failure_detail(self, log_path: Path) -> str:
        """What a failed job's FailureReason says after its exit code: ``/opt/ml/output/failure`` if the job
        wrote one (SageMaker's contract), else the end of its output."""
        failure = self.fs / "opt" / "ml" / "output" / "failure"
        detail = failure.read_text().strip() if failure.is_file() else _tail(log_path)[-_STDERR_TAIL_CHARS:]
        return self.unmap(detail)


class RuntimeExceeded(JobFailure):
    """The job ran past its StoppingCondition's MaxRuntimeInSeconds and was stopped."""

    def __init__(self, seconds: float) -> None:
        super().__init__(MAX_RUNTIME_EXCEEDED,
                         f"the job ran longer than MaxRuntimeInSeconds ({seconds:g} s) and was stopped")


def read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    stamp = now()
    return [{"MetricName": m["MetricName"], "Value": float(m["Value"]), "Timestamp": stamp}
            for m in json.loads(path.read_text())]


def _tail(path: Path) -> str:
    """The end of a job's output file (for its FailureReason), read without reading the whole file."""
    with open(path, "rb") as source:
        source.seek(max(0, source.seek(0, os.SEEK_END) - 16 * _STDERR_TAIL_CHARS))
        return source.read().decode("utf-8", "replace").strip()
