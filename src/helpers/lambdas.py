"""Lambda: zip or image functions, created or updated in place, and invoked with clear errors."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from helpers.calls import showable
from helpers.config import Kit
from helpers.retry import with_role_retry


class LambdaInvokeError(RuntimeError):
    """The handler raised: the message has its errorType, errorMessage and the log tail."""

    def __init__(self, function: str, error: dict[str, Any], log_tail: str) -> None:
        self.function, self.error, self.log_tail = function, error, log_tail
        super().__init__(f"{function} failed: {error.get('errorType', 'Error')}: {error.get('errorMessage', error)}")


def zip_handler(path: Path) -> bytes:
    """A deployment package holding one handler file at its root."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(path.name, date_time=(2020, 1, 1, 0, 0, 0))  # same bytes every time
        info.external_attr = 0o644 << 16
        archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


@showable
def ensure_function(kit: Kit, name: str, role_arn: str, *, zip_file: bytes | None = None,
                    handler: str | None = None, image_uri: str | None = None,
                    environment: dict[str, str] | None = None, timeout: int = 60, memory_mb: int = 256,
                    description: str = "") -> str:
    """Create the function, or update its code and configuration if it exists; return its ARN."""
    if (zip_file is None) == (image_uri is None):
        raise ValueError("give either zip_file (with handler) or image_uri")
    lam = kit.client("lambda")
    code = {"ZipFile": zip_file} if zip_file is not None else {"ImageUri": image_uri}
    configuration: dict[str, Any] = {"Role": role_arn, "Timeout": timeout, "MemorySize": memory_mb,
                                     "Description": description, "Environment": {"Variables": environment or {}}}
    if zip_file is not None:
        configuration.update(Handler=handler, Runtime="python3.11")
    try:
        lam.get_function(FunctionName=name)
    except lam.exceptions.ResourceNotFoundException:
        try:
            # A role made seconds ago may not be assumable yet on AWS (IAM is eventually consistent).
            arn = with_role_retry(lam.create_function, FunctionName=name, Code=code, Tags=kit.tag_map(),
                                  Architectures=["x86_64"], PackageType="Zip" if zip_file is not None else "Image",
                                  **configuration)["FunctionArn"]
        except lam.exceptions.ResourceConflictException:  # another run created it since we looked: update it
            pass
        else:
            lam.get_waiter("function_active_v2").wait(FunctionName=name,
                                                      WaiterConfig={"Delay": 1, "MaxAttempts": 120})
            print(f"function {name} created")
            return arn
        # the other run's function may still be Pending, and a Pending function refuses updates
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    lam.update_function_code(FunctionName=name, **code)
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    arn = with_role_retry(lam.update_function_configuration, FunctionName=name, **configuration)["FunctionArn"]
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    print(f"function {name} updated")
    return arn


@showable
def invoke(kit: Kit, name: str, payload: dict[str, Any], show_log: bool = True) -> dict[str, Any]:
    """Invoke synchronously, print the function's log tail and return the handler's result.

    Raises:
        LambdaInvokeError: the handler raised or timed out.
    """
    response = kit.client("lambda").invoke(FunctionName=name, Payload=json.dumps(payload).encode(), LogType="Tail")
    body = json.loads(response["Payload"].read() or b"null")
    log_tail = base64.b64decode(response.get("LogResult", "")).decode(errors="replace")
    if response.get("FunctionError"):
        raise LambdaInvokeError(name, body if isinstance(body, dict) else {"errorMessage": body}, log_tail)
    if show_log:  # what `aws lambda invoke --log-type Tail` shows: the last 4 KB of the function's log
        print(f"log tail of {name} (LogType='Tail'):")
        print("\n".join(f"  {line}" for line in log_tail.strip().splitlines()) or "  (empty)")
    return body


def function_arn(kit: Kit, name: str) -> str:
    """The ARN of an existing function; the error says which notebook creates it."""
    lam = kit.client("lambda")
    try:
        return lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    except lam.exceptions.ResourceNotFoundException:
        raise LookupError(f"function {name} does not exist yet: run notebooks 02-04 first") from None
