"""Seams 12/13: Lambda and SageMaker requests are checked as AWS checks them before moto acts.

moto 5.2.5 accepts any FunctionName, job, model or endpoint name and any Invoke payload size;
the local cloud then makes folders from those names and feeds the payloads to handlers. The
checks themselves are in :mod:`localcloud.constraints` (AWS's API model); this module reads the
request the way moto's ``call_action`` sees it and answers AWS's error before moto runs.
"""

from __future__ import annotations

import json
from typing import Any

from moto.awslambda.responses import LambdaResponse
from moto.sagemaker.responses import SageMakerResponse

from localcloud import constraints
from localcloud.moto_seams import _state

_JSON = "application/json"


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], str]:
    # x-amzn-ErrorType is what botocore reads for rest-json (Lambda); __type for json (SageMaker)
    body = json.dumps({"__type": code, "message": message, "Type": "User"})
    return status, {"Content-Type": _JSON, "x-amzn-ErrorType": code, "status": str(status)}, body


def _json_body(response: Any) -> dict[str, Any]:
    try:
        parsed = json.loads(response.body or "{}")
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _lambda_params(response: LambdaResponse, operation: str) -> dict[str, Any]:
    params = {key: value for key, value in (response.uri_match or {}).items() if isinstance(value, str)}
    if operation not in ("Invoke", "InvokeAsync"):  # their body is the payload, not input members
        params.update(_json_body(response))
    if "FunctionName" not in params and operation in ("Invoke", "InvokeAsync"):
        params["FunctionName"] = response.path.split("/functions/", 1)[-1].rsplit("/", 1)[0]
    return params


def _payload_refusal(response: LambdaResponse, operation: str) -> tuple[int, dict[str, str], str] | None:
    size = len(response.raw_body or b"")
    if operation == "InvokeAsync":
        limit, kind = constraints.INVOKE_ASYNC_REQUEST_LIMIT, "InvokeAsync"
    elif (response.headers.get("X-Amz-Invocation-Type") or "RequestResponse") == "Event":
        limit, kind = constraints.ASYNC_REQUEST_LIMIT, "Event"
    else:
        limit, kind = constraints.SYNC_REQUEST_LIMIT, None
    if size <= limit:
        return None
    if kind is None:  # the wire code AWS answers with (botocore's model calls the shape RequestTooLargeException)
        message = f"Request must be smaller than {limit} bytes for the InvokeFunction operation"
    else:
        message = f"{size} byte payload is too large for the {kind} invocation type (limit {limit} bytes)"
    return _error(413, "RequestEntityTooLargeException", message)


def _refusal(response: Any, service: str) -> tuple[int, dict[str, str], str] | None:
    try:
        operation = response._get_action()
    except Exception:  # noqa: BLE001 - an unknown route is moto's to answer
        return None
    if operation not in constraints.VALIDATED.get(service, ()):
        return None
    params = _lambda_params(response, operation) if service == "lambda" else _json_body(response)
    errors = constraints.validation_errors(service, operation, params)
    if errors:
        return _error(400, "ValidationException", constraints.validation_message(errors))
    if service == "lambda" and operation in ("Invoke", "InvokeAsync"):
        return _payload_refusal(response, operation)
    return None


def _lambda_call_action(self: LambdaResponse):
    return _refusal(self, "lambda") or _state.originals["lambda_call_action"](self)


def _sagemaker_call_action(self: SageMakerResponse):
    return _refusal(self, "sagemaker") or _state.originals["sagemaker_call_action"](self)
