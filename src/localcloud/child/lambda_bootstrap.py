"""The process that plays a warm Lambda execution environment.

Started by :mod:`localcloud.awslambda.lambda_runtime` with the function's code folder as its
working directory. It imports the handler once (the "init" phase, as on AWS) and then
serves invocations: one JSON request line on stdin, one JSON response line on a private
descriptor. What the handler prints or logs is captured per invocation and returned as
its log events (lines cut at CloudWatch Logs' event size, the output kept within the local
cloud's budget: :mod:`localcloud.child.log_events`), which the runtime writes to CloudWatch Logs.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import os
import sys
import time
import traceback
from typing import Any

from localcloud.child import log_events, mirror, spare

_LOG_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s"


class LambdaContext:
    """The subset of the Lambda context object handlers use."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = request["log_stream_name"]
        self.invoked_function_arn = request["function_arn"]
        self.aws_request_id = request["request_id"]
        self._deadline = time.monotonic() + float(request["timeout"])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class _Capture(io.TextIOBase):
    """One invocation's log, as events within the local cloud's budget (:class:`log_events.BoundedLog`).

    A handler that closes it (``sys.stdout.close()``) ends its own writes, not the log: what it printed before
    still goes back with its result.
    """

    def __init__(self, before: str = "") -> None:
        super().__init__()
        self.log = log_events.BoundedLog(what="this invocation's output")
        self.log.write(before)
        self._closed_by_handler = False

    def close(self) -> None:
        self._closed_by_handler = True

    @property
    def closed(self) -> bool:
        return self._closed_by_handler

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self._closed_by_handler:
            raise ValueError("I/O operation on closed file.")
        self.log.write(text)
        return len(text)

    def events(self) -> list[str]:
        """The log's events (this ends it)."""
        return self.log.close()


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


def _error_payload(exc: BaseException, request_id: str) -> dict[str, Any]:
    frames = traceback.extract_tb(exc.__traceback__)[1:]  # drop this module's frame
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(frames),
    }


def _load_handler(spec: str):
    module_name, _, function_name = spec.rpartition(".")
    if not module_name:
        raise ValueError(f"Bad handler '{spec}': expected <module>.<function>")
    module = importlib.import_module(module_name.replace("/", "."))
    try:
        return getattr(module, function_name)
    except AttributeError:
        raise AttributeError(f"Handler '{function_name}' missing on module '{module_name}'") from None


# Lambda's synchronous response limit; AWS's message names 6291556 bytes (6 MiB + 100).
RESPONSE_LIMIT = 6 * 1024 * 1024 + 100


def response_too_large() -> dict[str, str]:
    """The error payload Lambda returns instead of a response over :data:`RESPONSE_LIMIT`."""
    return {"errorMessage": f"Response payload size exceeded maximum allowed payload size ({RESPONSE_LIMIT} bytes).",
            "errorType": "Function.ResponseSizeTooLarge"}


def main() -> int:
    if "--spare" in sys.argv[1:]:  # a spare environment: see localcloud.awslambda.lambda_spare (and .child.spare)
        try:
            import boto3  # noqa: F401  (the handlers' dependency, part of AWS's Python runtime)
        except ImportError:
            pass
        line = sys.stdin.readline()
        if not line:
            return 0
        spare.become(line)
    mirror.install()  # --mirror URLs answered, every other non-loopback URL refused (before the handler loads)
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # stray writes from C code or subprocesses go to stderr, not the protocol
    sys.path.insert(0, os.getcwd())
    log_filter = _RequestIdFilter()
    log_handler = logging.StreamHandler()
    log_handler.setFormatter(logging.Formatter(_LOG_FORMAT, datefmt="%Y-%m-%dT%H:%M:%S"))
    log_handler.addFilter(log_filter)
    logging.getLogger().addHandler(log_handler)
    logging.Formatter.converter = time.gmtime

    init_log = io.StringIO()
    try:
        with contextlib.redirect_stdout(init_log), contextlib.redirect_stderr(init_log):
            log_handler.setStream(init_log)
            handler = _load_handler(os.environ["_HANDLER"])
        init_error = None
    except Exception as exc:  # reported on every invoke, as AWS reports Runtime.ImportModuleError
        init_error = _error_payload(exc, "")
        init_error["errorType"] = f"Runtime.ImportModuleError: {type(exc).__name__}"
        init_error["errorMessage"] = f"Unable to import module '{os.environ['_HANDLER']}': {exc}"
    protocol.write(json.dumps({"ready": True}) + "\n")

    for line in sys.stdin:
        request = json.loads(line)
        captured = _Capture(init_log.getvalue())
        init_log = io.StringIO()
        log_filter.request_id = request["request_id"]
        log_handler.setStream(captured)
        if init_error is not None:
            response = {"error": init_error, "log": captured.events()}
        else:
            try:
                with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
                    result = handler(request["event"], LambdaContext(request))
                payload = json.dumps(result, default=str)
                if len(payload.encode()) > RESPONSE_LIMIT:  # never ship it to the cloud's memory
                    response = {"error": response_too_large(), "log": captured.events()}
                else:
                    response = {"result": payload, "log": captured.events()}
            except Exception as exc:
                captured.log.write(f"[ERROR] {type(exc).__name__}: {exc}\n{traceback.format_exc()}")
                response = {"error": _error_payload(exc, request["request_id"]), "log": captured.events()}
            except BaseException:  # sys.exit(): the runtime process ends, as on AWS; its output goes to stderr first
                sys.__stderr__.write("".join(f"{event}\n" for event in captured.events()))
                sys.__stderr__.flush()
                raise
        protocol.write(json.dumps(response) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
