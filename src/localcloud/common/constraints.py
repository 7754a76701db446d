"""AWS's input validation for the operations whose input becomes host paths or host work.

AWS checks every request against the constraints of its API model (lengths, regular expression
patterns) before it acts, and answers ``ValidationException`` with one line per broken
constraint. moto 5.2.5 checks almost none of them for Lambda and SageMaker, and the local cloud
turns names into folders: a ``FunctionName`` or ``ProcessingJobName`` of ``../../../tmp/x`` made
a folder outside the cloud's workdir. The constraints are read from botocore's copy of the AWS
API model (the same model AWS publishes), so they are AWS's patterns, not hand-copied ones.

Deliberately not checked: enum values and number ranges (moto and the kit's callers already stay
inside them; nothing becomes a path), map keys and values, and the few patterns written in Java
regular expression syntax that Python's ``re`` cannot compile (tag values, KMS key ARNs).

This module knows nothing of moto: :mod:`localcloud.moto_seams._validation` calls it.
"""

from __future__ import annotations

import functools
import posixpath
import re
from typing import Any

import botocore.session


# Operations whose input the local cloud turns into folders, files or processes, per service.
VALIDATED = {
    "lambda": {"CreateFunction", "UpdateFunctionCode", "UpdateFunctionConfiguration", "Invoke", "InvokeAsync"},
    "sagemaker": {"CreateProcessingJob", "CreateTrainingJob", "CreateTransformJob", "CreateModel",
                  "CreateEndpointConfig", "CreateEndpoint", "UpdateEndpoint"},
}
# SageMaker's messages show patterns anchored with ^, Lambda's show them as in the model.
_PATTERN_PREFIX = {"sagemaker": "^", "lambda": ""}
# Lambda: "The length constraint applies only to the full ARN. If you specify only the function
# name, it is limited to 64 characters in length." (API_CreateFunction.html, FunctionName)
LAMBDA_NAME_MAX = 64
# Lambda quotas: 6 MB request and response for synchronous invokes, 1 MB request for
# asynchronous ones (API_Invoke.html); the deprecated InvokeAsync keeps 256 KB (API_InvokeAsync.html).
SYNC_REQUEST_LIMIT = 6 * 1024 * 1024
ASYNC_REQUEST_LIMIT = 1024 * 1024
INVOKE_ASYNC_REQUEST_LIMIT = 256 * 1024
PROCESSING_ROOT = "/opt/ml/processing/"
_MAX_SHOWN_VALUE = 1000  # characters of a refused value echoed back (AWS echoes it whole)


@functools.lru_cache(maxsize=None)
def _service_model(service: str):
    return botocore.session.get_session().get_service_model(service)


@functools.lru_cache(maxsize=None)
def _compiled(pattern: str) -> re.Pattern | None:
    try:
        return re.compile(pattern)
    except re.error:  # Java-only syntax (\p{...}, surrogate ranges): not checked, see the docstring
        return None


def _member_path(parent: str, name: str) -> str:
    """AWS names a member by its lowerCamel name, list items as ``list.N.member``."""
    name = name[:1].lower() + name[1:]
    return f"{parent}.{name}" if parent else name


def _shown(value: Any) -> str:
    text = "[" + ", ".join(str(v) for v in value) + "]" if isinstance(value, list) else str(value)
    return text if len(text) <= _MAX_SHOWN_VALUE else text[:_MAX_SHOWN_VALUE] + "..."


def _walk(shape: Any, value: Any, path: str, prefix: str, errors: list[tuple[str, str, str]]) -> None:
    if value is None:
        return
    kind, meta = shape.type_name, shape.metadata
    if kind == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                _walk(member, value[name], _member_path(path, name), prefix, errors)
    elif kind == "list" and isinstance(value, list):
        _check_length(value, meta, path, errors)
        for index, item in enumerate(value, start=1):
            _walk(shape.member, item, f"{path}.{index}.member", prefix, errors)
    elif kind == "string" and isinstance(value, str):
        _check_length(value, meta, path, errors)
        pattern = meta.get("pattern")
        compiled = _compiled(pattern) if pattern else None
        if compiled is not None and not compiled.fullmatch(value):
            shown = pattern if pattern.startswith("^") else prefix + pattern
            errors.append((_shown(value), path, f"Member must satisfy regular expression pattern: {shown}"))


def _check_length(value: Any, meta: dict[str, Any], path: str, errors: list[tuple[str, str, str]]) -> None:
    if "min" in meta and len(value) < meta["min"]:
        errors.append((_shown(value), path, f"Member must have length greater than or equal to {meta['min']}"))
    if "max" in meta and len(value) > meta["max"]:
        errors.append((_shown(value), path, f"Member must have length less than or equal to {meta['max']}"))


def _lambda_name_errors(params: dict[str, Any]) -> list[tuple[str, str, str]]:
    name = params.get("FunctionName")
    if isinstance(name, str) and ":" not in name and len(name) > LAMBDA_NAME_MAX:
        return [(_shown(name), "functionName", f"Member must have length less than or equal to {LAMBDA_NAME_MAX}")]
    return []


def _processing_path_errors(params: dict[str, Any]) -> list[tuple[str, str, str]]:
    """LocalPath "is an absolute path ... and must begin with /opt/ml/processing/" (ProcessingS3Input)."""
    errors = []
    places = [("processingInputs", item.get("S3Input"), "s3Input") for item in params.get("ProcessingInputs") or []]
    outputs = (params.get("ProcessingOutputConfig") or {}).get("Outputs") or []
    places += [("processingOutputConfig.outputs", item.get("S3Output"), "s3Output") for item in outputs]
    counters: dict[str, int] = {}
    for parent, source, member in places:
        counters[parent] = counters.get(parent, 0) + 1
        local = (source or {}).get("LocalPath")
        if local is None:
            continue
        if not is_processing_path(local):
            errors.append((_shown(local), f"{parent}.{counters[parent]}.member.{member}.localPath",
                           f"Member must be an absolute path that begins with {PROCESSING_ROOT}"))
    return errors


def is_processing_path(local: str) -> bool:
    """True when ``local`` is an absolute container path strictly below /opt/ml/processing/."""
    if not isinstance(local, str) or not local.startswith(PROCESSING_ROOT):
        return False
    parts = local.split("/")
    normal = posixpath.normpath(local)
    return ".." not in parts and normal.startswith(PROCESSING_ROOT)


def validation_errors(service: str, operation: str, params: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(value, member path, constraint) for every constraint ``params`` breaks, as AWS checks them.

    Args:
        service: botocore service name (``lambda``, ``sagemaker``).
        operation: the API operation (``CreateProcessingJob``).
        params: the request's input members (top-level names as in the API model).
    """
    if operation not in VALIDATED.get(service, ()):
        return []
    shape = _service_model(service).operation_model(operation).input_shape
    errors: list[tuple[str, str, str]] = []
    _walk(shape, params, "", _PATTERN_PREFIX.get(service, ""), errors)
    if service == "lambda":
        errors += _lambda_name_errors(params)
    if operation == "CreateProcessingJob":
        errors += _processing_path_errors(params)
    return errors


def validation_message(errors: list[tuple[str, str, str]]) -> str:
    """AWS's ValidationException message: ``N validation error(s) detected: Value '…' at '…' failed …``."""
    count = len(errors)
    details = "; ".join(f"Value '{value}' at '{path}' failed to satisfy constraint: {constraint}"
                        for value, path, constraint in errors)
    return f"{count} validation error{'s' if count != 1 else ''} detected: {details}"
