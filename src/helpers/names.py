"""Every name the kit gives a resource, and what AWS refuses of one (checked before anything is made)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from helpers.errors import ConfigError

# S3's bucket naming rules beyond characters and length (AWS rejects these at CreateBucket).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_BUCKET_RESERVED_STARTS = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_RESERVED_ENDS = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")

# SageMaker's rule for job, model and endpoint config names (ProcessingJobName in
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateProcessingJob.html, the same for the others).
JOB_NAME_MAX = 63
JOB_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
# The SageMaker names one run makes, by key; "model" (also the endpoint config) has no step in its name.
JOB_STEPS = ("preprocess", "train", "predict", "evaluate", "model")
_JOB_HASH_CHARS = 8


def job_name(prefix: str, run_id: str, step: str) -> str:
    """``<prefix>-<step>-<run_id>`` (``<prefix>-<run_id>`` for step "model") as a valid SageMaker name.

    Underscores become hyphens and other characters SageMaker refuses are dropped (as the handlers
    have always done); a name over 63 characters is cut and ends with
    ``-`` and 8 hex characters of the SHA-256 of the whole name, so it stays stable (same run, same
    name) and two long run ids that differ only at the end still get different names. The Lambda
    handlers carry a copy (they are single files); tests/unit/test_job_handlers.py checks they agree.
    """
    full = "-".join(part for part in (prefix, "" if step == "model" else step, run_id) if part)
    name = re.sub(r"[^a-zA-Z0-9-]", "", full.replace("_", "-")).strip("-") or "job"
    if len(name) <= JOB_NAME_MAX:
        return name
    digest = hashlib.sha256(full.encode()).hexdigest()[:_JOB_HASH_CHARS]
    return f"{name[:JOB_NAME_MAX - _JOB_HASH_CHARS - 1].rstrip('-')}-{digest}"


def bucket_name_problem(name: str) -> str | None:
    """What S3 would refuse about a bucket name, or None when it is valid.

    The rules of https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html for
    general purpose buckets: 3-63 characters, lower-case letters, digits, hyphens and dots, a letter
    or digit at both ends, no ``..``, not an IP address, no reserved prefix or suffix.
    """
    if not 3 <= len(name) <= 63:
        return f"it has {len(name)} characters (S3 allows 3-63)"
    if not _BUCKET.match(name):
        return "S3 allows only lower-case letters, digits, hyphens and dots, with a letter or digit at both ends"
    if ".." in name:
        return "S3 refuses two adjacent dots"
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name):
        return "S3 refuses names formatted as an IP address"
    for start in _BUCKET_RESERVED_STARTS:
        if name.startswith(start):
            return f"S3 reserves names starting with {start!r}"
    for end in _BUCKET_RESERVED_ENDS:
        if name.endswith(end):
            return f"S3 reserves names ending with {end!r}"
    return None


@dataclass(frozen=True)
class Names:
    """Every resource name, derived from the prefix (and the account, for the global bucket name)."""

    prefix: str
    account: str
    region: str

    @property
    def bucket(self) -> str:
        """``<prefix>-<account>-<region>``; ConfigError if S3 would refuse it (before anything is made)."""
        name = f"{self.prefix}-{self.account}-{self.region}"
        problem = bucket_name_problem(name)
        if problem:
            raise ConfigError(f"bucket name {name!r} (from prefix {self.prefix!r}) would be rejected by AWS: {problem}")
        return name

    def role(self, purpose: str) -> str:
        return f"{self.prefix}-{purpose}"

    def function(self, purpose: str) -> str:
        return f"{self.prefix}-{purpose}"

    def repository(self, image: str) -> str:
        return f"{self.prefix}/{image}"

    def state_machine(self, purpose: str) -> str:
        return f"{self.prefix}-{purpose}"

    def job(self, step: str, run_id: str) -> str:
        """A run's SageMaker job (or, for step "model", model) name: see :func:`job_name`."""
        return job_name(self.prefix, run_id, step)

    def jobs(self, run_id: str) -> dict[str, str]:
        """Every SageMaker name of a run, by :data:`JOB_STEPS` key (what the state machines read as ``$.job_names``)."""
        return {step: job_name(self.prefix, run_id, step) for step in JOB_STEPS}
