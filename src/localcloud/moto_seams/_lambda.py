"""Seam 1: Lambda Invoke runs the real handler in the kit's runtime (429 past the account's concurrency).

Seam 29: DeleteFunction ends the function's environments.
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.exceptions import JsonRESTError

from localcloud.child.lambda_bootstrap import RESPONSE_LIMIT
from localcloud.awslambda.invocation import ConcurrencyLimitExceeded, FunctionSpec, encode_log_tail
from localcloud.awslambda.lambda_runtime import LambdaRuntime
from localcloud.moto_seams import _state
from localcloud.moto_seams._iam import lambda_may_assume


# -- 1. Lambda ----------------------------------------------------------------------------
class _Payload(bytes):
    """Invoke's answer, sized for moto's own response check.

    moto's ``LambdaResponse.invoke`` turns any answer with ``sys.getsizeof(payload) > 6000000`` into
    Function.ResponseSizeTooLarge, so answers of 6.0-6.29 MB that AWS returns were refused. The
    runtime already enforces AWS's limit (6291556 bytes), so an answer within it reports no size.
    """

    def __sizeof__(self) -> int:
        return 0 if len(self) <= RESPONSE_LIMIT else len(self)


class _RoleNotAssumable(JsonRESTError):
    """AWS's answer to an Invoke whose execution role Lambda cannot assume (deleted, or no longer trusts Lambda)."""

    code = 400

    def __init__(self) -> None:
        super().__init__("InvalidParameterValueException", "The role defined for the function cannot be assumed by "
                                                           "Lambda.")


class _TooManyRequests(JsonRESTError):
    """AWS's answer when the account's concurrency is in use: 429, Reason ConcurrentInvocationLimitExceeded."""

    code = 429

    def __init__(self) -> None:
        super().__init__("TooManyRequestsException", "Rate Exceeded.")
        self.description = json.dumps({"__type": "TooManyRequestsException", "message": "Rate Exceeded.",
                                       "Reason": "ConcurrentInvocationLimitExceeded", "Type": "User"})


def _function_spec(fn: Any) -> FunctionSpec:
    image_uri = fn.code.get("ImageUri") if fn.package_type == "Image" else None
    return FunctionSpec(
        name=fn.function_name, arn=fn.function_arn, region=fn.region, handler=fn.handler,
        timeout=float(fn.timeout), memory_size=int(fn.memory_size),
        environment={k: str(v) for k, v in (fn.environment_vars or {}).items()},
        code_sha256=fn.code_sha_256 or "", zip_bytes=None if image_uri else fn.code_bytes,
        image_uri=image_uri, image_command=tuple(fn.image_config.cmd or ()), role=fn.role or "",
        ephemeral_mb=int(fn.ephemeral_storage or 512))


def _lambda_invoke(self: Any, body: str, request_headers: Any, response_headers: Any) -> bytes:
    runtime: LambdaRuntime = _state.cloud.lambda_runtime
    event = json.loads(body) if body else {}
    spec = _function_spec(self)
    if not lambda_may_assume(self.account_id, spec.role):
        raise _RoleNotAssumable()
    response_headers["X-Amz-Executed-Version"] = spec.version
    if request_headers.get("x-amz-invocation-type") == "Event":  # queued: it waits for a free slot
        _state.cloud.run_in_background(runtime.invoke, spec, event, True)
        return b""
    try:
        result = runtime.invoke(spec, event)
    except ConcurrencyLimitExceeded:
        raise _TooManyRequests() from None
    if result.function_error:
        response_headers["x-amz-function-error"] = result.function_error
    response_headers["x-amz-log-result"] = encode_log_tail(result.log_tail)
    return _Payload(result.payload)



# -- 29. Lambda DeleteFunction ------------------------------------------------------------
def _lambda_delete_function(self: Any, function_name: str, qualifier: str | None = None) -> None:
    """Delete in moto, then stop the function's warm environments (and what their handlers started).

    AWS deletes a function's execution environments with it; here they stayed warm until reclaimed
    as idle (5 minutes), with every process their handlers had left running.
    """
    try:
        arn = self.get_function(function_name, qualifier).function_arn  # unqualified for $LATEST
    except Exception:  # noqa: BLE001 - no such function: moto's own delete answers as it always did
        arn = None
    _state.originals["lambda_delete_function"](self, function_name, qualifier)
    if arn:
        _state.cloud.lambda_runtime.forget(arn)
