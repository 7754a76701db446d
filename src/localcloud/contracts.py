"""The small contracts the cloud's executors share: their callbacks, how a job fails, and the placeholder keys.

The Lambda runtime (:mod:`localcloud.awslambda.lambda_runtime`), the job runner
(:mod:`localcloud.sagemaker.jobs.runner`) and the inference server (:mod:`localcloud.sagemaker.inference.inference`)
know nothing of moto: :mod:`localcloud.cloud` hands each of them these callbacks. What a child process must know
itself stays in :mod:`localcloud.child` (children import only the standard library and ``localcloud.child``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["ALGORITHM_ERROR", "CLIENT_ERROR", "FAILURE_REASON_CHARS", "INTERNAL_ERROR", "MAX_RUNTIME_EXCEEDED",
           "Credentials", "JobFailure", "LogWriter", "StatusUpdate", "Stopped", "standalone_credentials"]

LogWriter = Callable[[str, str, str, list[str]], None]
"""``(region, log group, log stream, lines)``: lines written to CloudWatch Logs."""

StatusUpdate = Callable[[str, str, str, dict[str, Any]], None]
"""``(kind, region, job name, attributes)``: attributes set on the cloud's record of a job (``kind``:
``"processing"``, ``"training"`` or ``"transform"``)."""

Credentials = Callable[[str, str], dict[str, str]]
"""``(role ARN, session name)`` -> ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` (and ``AWS_SESSION_TOKEN``)
for the process or client acting for that role. The running cloud's is :meth:`localcloud.cloud.LocalCloud.credentials`:
the role's temporary keys, or the cloud's root keys when IAM is not enforced."""

FAILURE_REASON_CHARS = 1024  # AWS caps a job's FailureReason at 1024 characters

# The kinds a FailureReason starts with, as SageMaker words them.
CLIENT_ERROR = "ClientError"  # the request, its data or its role: the caller's to fix
ALGORITHM_ERROR = "AlgorithmError"  # the job's own code failed
MAX_RUNTIME_EXCEEDED = "MaxRuntimeExceeded"  # ran past StoppingCondition.MaxRuntimeInSeconds
INTERNAL_ERROR = "InternalServerError"  # the cloud's own fault; the job fails, the cloud keeps serving


class JobFailure(Exception):
    """A job (processing, training or transform) ended Failed; its FailureReason is ``f"{kind}: {message}"``.

    Args:
        kind: SageMaker's failure kind (:data:`CLIENT_ERROR`, :data:`ALGORITHM_ERROR`, ...).
        message: what went wrong, for the user.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind, self.message = kind, message

    @property
    def reason(self) -> str:
        """The FailureReason SageMaker shows (the job's record cuts it to :data:`FAILURE_REASON_CHARS`)."""
        return str(self)


class Stopped(Exception):
    """A job or transform ended because a Stop* request asked it to (its status becomes Stopped)."""


def standalone_credentials(role_arn: str, session_name: str) -> dict[str, str]:
    """The keys of an executor built on its own, without a cloud (fast tests): placeholders no cloud accepts.

    A running cloud replaces this with :meth:`localcloud.cloud.LocalCloud.credentials`; the cloud answers only
    keys it issued (:mod:`localcloud.server.signing`), so these keys can reach no cloud.
    """
    return {"AWS_ACCESS_KEY_ID": "localcloud", "AWS_SECRET_ACCESS_KEY": "localcloud"}
