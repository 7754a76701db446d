"""Seams 12/13: Lambda and SageMaker requests are checked as AWS checks them before moto acts.

moto 5.2.5 accepts any FunctionName, job, model or endpoint name, any Invoke payload size and any
deployment package (one that unpacks to gigabytes too); the local cloud then makes folders from those
names, feeds the payloads to handlers and unpacks the packages. The checks themselves are in
:mod:`localcloud.common.constraints` (AWS's API model) and :mod:`localcloud.awslambda.lambda_code` (the unzipped size);
this module reads the request the way moto's ``call_action`` sees it and answers AWS's error before moto
runs.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from moto.awslambda.models import _validate_s3_bucket_and_key
from moto.awslambda.responses import LambdaResponse
from moto.sagemaker.responses import SageMakerResponse
from moto.utilities.utils import get_partition

from localcloud.common import constraints
from localcloud.awslambda import lambda_code
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
    if service == "lambda" and operation in ("CreateFunction", "UpdateFunctionCode"):
        return _code_size_refusal(response, params.get("Code") if operation == "CreateFunction" else params)
    return None


def _code_size_refusal(response: LambdaResponse, code: Any) -> tuple[int, dict[str, str], str] | None:
    """AWS refuses a package that unpacks past 250 MB before it keeps it (localcloud.awslambda.lambda_code)."""
    package = _package(response, code) if isinstance(code, dict) else None
    size = lambda_code.unzipped_size(package) if package else None
    if size is None or size <= lambda_code.CODE_SIZE_UNZIPPED:
        return None
    return _error(400, "InvalidParameterValueException", lambda_code.UNZIPPED_TOO_LARGE)


def _package(response: LambdaResponse, code: dict[str, Any]) -> bytes | None:
    """The Zip package a request hands over, inline or in S3; None when moto is to answer (bad input, no key)."""
    if isinstance(code.get("ZipFile"), str):
        try:
            return base64.b64decode(code["ZipFile"])
        except ValueError:
            return None
    if not (isinstance(code.get("S3Bucket"), str) and isinstance(code.get("S3Key"), str)):
        return None
    try:  # moto's own S3 lookup for Lambda code (the missing-bucket and missing-key answers stay moto's)
        key = _validate_s3_bucket_and_key(response.current_account, get_partition(response.region), code)
    except Exception:  # noqa: BLE001 - moto answers it when it runs
        return None
    return key.value if key is not None else None


def _lambda_call_action(self: LambdaResponse):
    return _refusal(self, "lambda") or _state.originals["lambda_call_action"](self)


def _sagemaker_call_action(self: SageMakerResponse):
    return _refusal(self, "sagemaker") or _state.originals["sagemaker_call_action"](self)
