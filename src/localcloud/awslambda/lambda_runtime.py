"""Run Lambda handlers for real, in warm execution environments.

Each environment is a :mod:`localcloud.child.lambda_bootstrap` subprocess whose working
directory holds the function's code (the zip unpacked, or the files an image's
Dockerfile COPYs into ``${LAMBDA_TASK_ROOT}``). Environments are kept while the
function's code and configuration stay the same, as AWS keeps them warm, so a warm
invoke costs a pipe round trip instead of a new interpreter.
"""

from __future__ import annotations

import dataclasses
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from localcloud.awslambda import lambda_code
from localcloud.awslambda.lambda_code import CodeTooLarge
from localcloud.awslambda.invocation import (
    ACCOUNT_CONCURRENCY,
    ConcurrencyLimitExceeded,
    FunctionSpec,
    InvokeResult,
    RuntimeExited,
)
from localcloud.awslambda.lambda_exit import exit_reason
from localcloud.awslambda.lambda_spare import Spares
from localcloud.child import private_tmp, process_group
from localcloud.child.lambda_bootstrap import RESPONSE_LIMIT, response_too_large
from localcloud.common.images import ImageCatalog, ImageNotFound
from localcloud.contracts import Credentials, LogWriter, standalone_credentials
from localcloud.server.keys import runtime_dir

# AWS allows the init phase 10 s; a laptop starting several interpreters at once needs more,
# and nothing offline should fail because the machine is busy.
_INIT_TIMEOUT_SECONDS = 30.0
_MAX_IDLE_PER_FUNCTION = 4
# Only what a Python process needs to start; the user's AWS settings never reach a handler.
_INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR", "PYTHONPATH")
# Set last in every environment: no function's Environment can point a handler at the user's AWS files
_FIXED_ENV = {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "PYTHONUNBUFFERED": "1",
              "TZ": "UTC"}


@dataclass
class _Environment:
    process: subprocess.Popen
    replies: queue.Queue
    log_stream: str
    cold: bool = True
    init_ms: float = 0.0
    stderr_lines: list[str] = field(default_factory=list)  # the last 200
    stderr_count: int = 0  # lines read from stderr in all
    collector: threading.Thread | None = None  # reads stderr until the process ends
    tmp_dir: Path | None = None  # the fallback's TMPDIR folder (localcloud.child.private_tmp), removed with it
    started: float = field(default_factory=time.monotonic)

    last_used: float = 0.0  # time.monotonic() when it went back to the warm pool

    def close(self) -> None:
        process_group.kill(self.process)  # a handler's own subprocesses go with it
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            if pipe:
                pipe.close()
        private_tmp.remove(self.tmp_dir)


class LambdaRuntime:
    """Invokes handlers of Zip and Image functions.

    Args:
        workdir: where function code is unpacked.
        endpoint_url: the local cloud URL handlers' boto3 clients are pointed at.
        images_dir: the kit's ``docker/`` folder, or an :class:`ImageCatalog` (with ``--image`` folders).
        write_logs: ``(region, group, stream, lines)`` sink for CloudWatch Logs.
        idle_seconds: a warm environment unused this long is stopped, as Lambda reclaims idle
            environments (it does not document when; minutes), so memory stays bounded.
        child_env: variables every environment gets (the ``--mirror`` table, see localcloud.child.mirror).
        spares: start cold environments from a spare process that has imported boto3 already.
        concurrency: invocations that may run at once (AWS's account concurrency); each has an environment
            of its own, as on AWS. Past it a synchronous invoke is refused and an asynchronous one waits.
    """

    def __init__(self, workdir: Path, endpoint_url: str, images_dir: Path | ImageCatalog, write_logs: LogWriter,
                 idle_seconds: float = 300.0, child_env: dict[str, str] | None = None, spares: bool = True,
                 concurrency: int = ACCOUNT_CONCURRENCY) -> None:
        self.workdir = workdir
        self.endpoint_url = endpoint_url
        self.images = images_dir if isinstance(images_dir, ImageCatalog) else ImageCatalog(images_dir)
        self.images_dir = self.images.images_dir
        self.child_env = dict(child_env or {})
        self.write_logs = write_logs
        self._idle: dict[tuple, list[_Environment]] = {}
        self.concurrency = concurrency
        self._running = 0  # invocations holding an environment, all functions together
        self._deleted: dict[str, float] = {}  # function ARN -> time.monotonic() of its DeleteFunction
        self._lock = threading.Lock()
        self._slot_freed = threading.Condition(self._lock)
        self._code_lock = threading.Lock()
        self._closed = False
        self.idle_seconds = idle_seconds
        self._reaper_wake = threading.Event()
        threading.Thread(target=self._reap_idle, daemon=True, name="localcloud-lambda-reaper").start()
        # (role ARN, session name) -> the role's temporary keys; the cloud sets its own (LocalCloud.credentials)
        self.credentials: Credentials = standalone_credentials
        # a bootstrap with boto3 imported, ready for the next cold start (localcloud.awslambda.lambda_spare)
        # each environment's own /tmp, and the cloud's key folder out of its sight (localcloud.server.keys)
        self.tmp = private_tmp.EnvironmentTmp(workdir / "lambda-tmp", hide=(str(runtime_dir()),))
        self.spares = Spares(lambda: {**self._process_env(), **self.tmp.spare_env()}, workdir / "lambda-spare") \
            if spares else None

    # -- code ---------------------------------------------------------------------------
    def _code_dir(self, spec: FunctionSpec) -> tuple[Path, str, dict[str, str]]:
        """Unpack or stage the code once per version; return (dir, handler, image env)."""
        with self._code_lock:  # concurrent cold starts of one version share one folder
            return lambda_code.materialise(self.workdir, self.images, spec)

    # -- environments -------------------------------------------------------------------
    def _inherited_env(self) -> dict[str, str]:
        """The cloud's own variables a Python process needs, and the ones every environment gets (``child_env``)."""
        return {**{k: os.environ[k] for k in _INHERITED_ENV if k in os.environ}, **self.child_env}

    def _process_env(self) -> dict[str, str]:
        """What every environment's variables start with (a spare's are exactly these)."""
        return {**self._inherited_env(), **_FIXED_ENV}

    def _start(self, spec: FunctionSpec) -> _Environment:
        code_dir, handler, image_env = self._code_dir(spec)
        env = self._inherited_env()
        tmp_env, tmp_dir = self.tmp.prepare(spec.ephemeral_mb)
        env.update(tmp_env)
        env.update(image_env)
        env.update(spec.environment)
        env.update({
            "_HANDLER": handler,
            "LAMBDA_TASK_ROOT": str(code_dir),
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            # the execution role's temporary keys, as Lambda hands them to a handler
            **self.credentials(spec.role, spec.name),
            **_FIXED_ENV,
        })
        started = time.monotonic()
        process = self.spares.take(env, code_dir) if self.spares and not self._closed else None
        if process is None:
            process = process_group.start(
                [sys.executable, "-m", "localcloud.child.lambda_bootstrap"],
                cwd=code_dir, env=env, text=True,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )
        now = datetime.now(timezone.utc)
        environment = _Environment(process, queue.Queue(), f"{now:%Y/%m/%d}/[{spec.version}]{uuid.uuid4().hex}",
                                   tmp_dir=tmp_dir)
        threading.Thread(target=_pump, args=(process.stdout, environment.replies), daemon=True).start()
        environment.collector = threading.Thread(target=_collect, args=(process.stderr, environment),
                                                 daemon=True)
        environment.collector.start()
        try:
            ready = environment.replies.get(timeout=_INIT_TIMEOUT_SECONDS)
        except queue.Empty:
            environment.close()
            raise TimeoutError(f"{spec.name}: init phase took longer than {_INIT_TIMEOUT_SECONDS:.0f} s")
        if ready is None:  # the bootstrap died before it was ready (the init code exited the process)
            self._exit_log(environment, 0)
            environment.close()
            raise RuntimeExited(exit_reason(process.returncode))
        environment.init_ms = (time.monotonic() - started) * 1000
        return environment

    def _acquire(self, spec: FunctionSpec, wait: bool) -> _Environment:
        """A warm environment of the function, or a new one, within the account's concurrency.

        Raises:
            ConcurrencyLimitExceeded: the concurrency is in use and ``wait`` is False (a synchronous invoke).
        """
        with self._slot_freed:
            stale = [key for key in self._idle if key[0] == spec.arn and key != spec.warm_key]
            for key in stale:
                for environment in self._idle.pop(key):
                    environment.close()
            while True:
                if self._closed:
                    raise OSError("the local cloud is stopping")
                if self._running < self.concurrency:
                    break
                if not wait:
                    raise ConcurrencyLimitExceeded(f"{self._running} invocations running, the limit is "
                                                   f"{self.concurrency}")
                self._slot_freed.wait(0.5)  # an asynchronous invoke waits, as AWS queues it
            self._running += 1
            pool = self._idle.get(spec.warm_key, [])
            while pool and pool[-1].process.poll() is not None:  # ended while idle: never handed out
                pool.pop().close()
            if pool:
                return pool.pop()
        try:
            return self._start(spec)
        except BaseException:
            self._give_back(spec, None)
            raise

    def _give_back(self, spec: FunctionSpec, environment: _Environment | None, keep: bool = False) -> None:
        """End a checkout: keep the environment warm, or close it; wake a waiting invoke."""
        with self._slot_freed:
            self._running -= 1
            pool = self._idle.setdefault(spec.warm_key, [])
            if environment is not None:
                deleted = any(when > environment.started for arn, when in self._deleted.items()
                              if spec.arn == arn or spec.arn.startswith(arn + ":"))
                if keep and not self._closed and not deleted and len(pool) < _MAX_IDLE_PER_FUNCTION:
                    environment.last_used = time.monotonic()
                    pool.append(environment)
                else:
                    environment.close()
            self._slot_freed.notify_all()

    def _release(self, spec: FunctionSpec, environment: _Environment) -> None:
        self._give_back(spec, environment, keep=True)

    # -- invoke -------------------------------------------------------------------------
    def invoke(self, spec: FunctionSpec, event: object, wait: bool = False) -> InvokeResult:
        """Run the handler with ``event`` and return what AWS's Invoke would.

        Args:
            wait: wait for a free slot when the account's concurrency is in use (asynchronous invokes).

        Raises:
            ConcurrencyLimitExceeded: the concurrency is in use and ``wait`` is False.
        """
        request_id = str(uuid.uuid4())
        try:
            if spec.image_uri:  # moto stubs ECR: key warm environments by the Dockerfile's files instead
                spec = dataclasses.replace(spec, code_sha256=self.images.resolve(spec.image_uri).digest())
            environment = self._acquire(spec, wait)
        except RuntimeExited as exc:  # the init code ended the process
            error = {"errorType": "Runtime.ExitError", "errorMessage": f"RequestId: {request_id} Error: {exc}"}
            return InvokeResult(json.dumps(error).encode(), "Unhandled", str(exc), request_id)
        except (ImageNotFound, zipfile.BadZipFile, CodeTooLarge, TimeoutError, OSError) as exc:
            error = {"errorMessage": str(exc), "errorType": "Runtime.InvalidEntrypoint" if isinstance(
                exc, ImageNotFound) else type(exc).__name__, "requestId": request_id}
            return InvokeResult(json.dumps(error).encode(), "Unhandled", str(exc), request_id)
        started = time.monotonic()
        request = {"request_id": request_id, "event": event, "function_arn": spec.arn,
                   "timeout": spec.timeout, "log_stream_name": environment.log_stream}
        stderr_seen = environment.stderr_count
        try:
            environment.process.stdin.write(json.dumps(request) + "\n")
            environment.process.stdin.flush()
            reply = environment.replies.get(timeout=spec.timeout)
        except queue.Empty:
            reply = {"timeout": True}
        except (BrokenPipeError, OSError):
            reply = None
        duration_ms = (time.monotonic() - started) * 1000
        log_lines = [f"START RequestId: {request_id} Version: {spec.version}"]
        if reply is None:  # the handler ended the process (sys.exit, os._exit, a crash): AWS answers at once
            log_lines += self._exit_log(environment, stderr_seen)
            self._give_back(spec, environment)  # a dead environment is not reused: the next invoke is cold
            message = exit_reason(environment.process.returncode)
            log_lines += [f"RequestId: {request_id} Error: {message}", "Runtime.ExitError"]
            payload = {"errorType": "Runtime.ExitError", "errorMessage": f"RequestId: {request_id} Error: {message}"}
            function_error, body = "Unhandled", json.dumps(payload)
        elif "timeout" in reply:
            self._give_back(spec, environment)  # a timed-out environment is not reused
            message = f"Task timed out after {spec.timeout:.2f} seconds"
            payload = {"errorType": "Sandbox.Timedout", "errorMessage": f"RequestId: {request_id} Error: {message}"}
            log_lines.append(f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%S.%f}Z {request_id} {message}")
            function_error, body = "Unhandled", json.dumps(payload)
        else:
            log_lines.extend(reply.get("log") or [])  # events already (localcloud.child.log_events)
            if "error" in reply:
                function_error, body = "Unhandled", json.dumps(reply["error"])
            else:
                function_error, body = None, reply["result"]
            if len(body.encode()) > RESPONSE_LIMIT:  # the bootstrap checks results; this also covers errors
                function_error, body = "Unhandled", json.dumps(response_too_large())
            self._release(spec, environment)
        report = (f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
                  f"Billed Duration: {max(1, round(duration_ms))} ms\tMemory Size: {spec.memory_size} MB")
        if environment.cold:
            report += f"\tInit Duration: {environment.init_ms:.2f} ms"
            environment.cold = False
        log_lines += [f"END RequestId: {request_id}", report]
        self.write_logs(spec.region, f"/aws/lambda/{spec.name}", environment.log_stream, log_lines)
        return InvokeResult(body.encode(), function_error, "\n".join(log_lines)[-4096:], request_id)

    @staticmethod
    def _exit_log(environment: _Environment, seen: int) -> list[str]:
        """What an environment that ended wrote to stderr during the invoke (its handler's output among it)."""
        try:
            environment.process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # the reply pipe closed but the process lingers: end it
            process_group.kill(environment.process)
        if environment.collector is not None:
            environment.collector.join(timeout=2)
        written = environment.stderr_count - seen
        return "".join(environment.stderr_lines[-written:] if written > 0 else []).splitlines()

    def _reap_idle(self) -> None:
        """Stop warm environments idle for longer than ``idle_seconds`` (until :meth:`close`)."""
        while not self._reaper_wake.wait(timeout=min(max(self.idle_seconds / 4, 0.1), 30.0)):
            cutoff = time.monotonic() - self.idle_seconds
            with self._slot_freed:
                expired = [e for pool in self._idle.values() for e in pool if e.last_used < cutoff]
                for key, pool in list(self._idle.items()):
                    pool[:] = [e for e in pool if e.last_used >= cutoff]
                    if not pool:
                        del self._idle[key]
            for environment in expired:
                environment.close()

    def forget(self, arn: str) -> None:
        """DeleteFunction: stop the warm environments of ``arn`` (and of its versions ``arn:N``) now."""
        with self._slot_freed:
            self._deleted[arn] = time.monotonic()  # one busy now is closed when its invoke ends
            keys = [key for key in self._idle if key[0] == arn or key[0].startswith(arn + ":")]
            pools = [self._idle.pop(key) for key in keys]
        for pool in pools:
            for environment in pool:
                environment.close()

    def close(self) -> None:
        """Stop every warm environment (and the spare)."""
        self._reaper_wake.set()
        if self.spares:
            self.spares.close()
        with self._slot_freed:
            self._closed = True
            self._slot_freed.notify_all()
            pools, self._idle = list(self._idle.values()), {}
        for pool in pools:
            for environment in pool:
                environment.close()


def _pump(stream, replies: queue.Queue) -> None:
    try:
        for line in stream:
            replies.put(json.loads(line))
    except (OSError, ValueError):  # a closed pipe, or not a reply: the environment is gone either way
        pass
    replies.put(None)  # the process ended: a waiting invoke learns it now, not at its timeout


def _collect(stream, environment: _Environment) -> None:
    lines = environment.stderr_lines
    for line in stream:
        lines.append(line)
        environment.stderr_count += 1
        del lines[:-200]
