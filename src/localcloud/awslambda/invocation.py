"""What a Lambda invoke hands the runtime and gets back: the function's spec, the result, the runtime's refusals.

The seam (:mod:`localcloud.moto_seams._lambda`) builds a :class:`FunctionSpec` from moto's model and turns an
:class:`InvokeResult` or a refusal into AWS's answer; :mod:`localcloud.awslambda.lambda_runtime` runs the handler.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from localcloud.child import private_tmp

# AWS's default account concurrency: invocations running at once, all functions of the cloud together
# (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
ACCOUNT_CONCURRENCY = 1000


class ConcurrencyLimitExceeded(Exception):
    """A synchronous invoke found the account's concurrency in use (AWS: 429 TooManyRequestsException)."""


class RuntimeExited(OSError):
    """An environment's process ended during its init phase (its module-level code exited)."""


@dataclass(frozen=True)
class FunctionSpec:
    """What the runtime needs to know of a Lambda function (read from moto's model)."""

    name: str
    arn: str
    region: str
    handler: str | None
    timeout: float
    memory_size: int
    environment: dict[str, str]
    code_sha256: str
    zip_bytes: bytes | None = None
    image_uri: str | None = None
    image_command: tuple[str, ...] = ()
    version: str = "$LATEST"
    role: str = ""  # the execution role: the handler's AWS calls act as it
    ephemeral_mb: int = private_tmp.DEFAULT_MB  # EphemeralStorage: the size of the environment's /tmp

    @property
    def warm_key(self) -> tuple:
        return (self.arn, self.code_sha256, self.handler, self.timeout, self.image_command, self.role,
                tuple(sorted(self.environment.items())), self.ephemeral_mb)


@dataclass
class InvokeResult:
    """A finished invocation: the payload AWS would return and whether it is an error."""

    payload: bytes
    function_error: str | None
    log_tail: str
    request_id: str = ""


def encode_log_tail(text: str) -> str:
    """The ``X-Amz-Log-Result`` header value: base64 of the last 4 KB of the log."""
    return base64.b64encode(text.encode()[-4096:]).decode()
