"""The embedded local cloud: a moto server whose seams call the kit's executors."""

from __future__ import annotations

import errno
import functools
import json
import http.server
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from localcloud import moto_seams, options
from localcloud.server.guard import GuardMiddleware, RequestGuard
from localcloud.common.images import ImageCatalog
from localcloud.server.info import InfoRoute
from localcloud.sagemaker.inference.inference import Inference
from localcloud.sagemaker.jobs.runner import JobRunner
from localcloud.server.keys import CloudKeys, check_runtime_dir, write_runtime_file
from localcloud.awslambda.invocation import ACCOUNT_CONCURRENCY
from localcloud.awslambda.lambda_runtime import LambdaRuntime
from localcloud.child.mirror import ENV_TABLE
from localcloud.server.signing import Authenticator

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class PortInUse(OSError):
    """The cloud's port is taken by another program."""


class _DataHandler(http.server.SimpleHTTPRequestHandler):
    """Serves data/ read-only to requests the cloud's :class:`RequestGuard` lets through."""

    guard: RequestGuard

    def send_head(self):  # type: ignore[no-untyped-def]  # do_GET and do_HEAD both start here
        reason = self.guard.refusal(self.headers.get)
        if reason:
            body = f"Forbidden: {reason}\n".encode()
            self.send_response(403)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return None
        return super().send_head()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        pass


class LocalCloud:
    """An AWS stand-in on 127.0.0.1 that really runs Lambdas, jobs and state machines.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`. One per process:
    moto keeps its state in module globals and the Step Functions interpreter finds the
    server through the ``MOTO_PORT`` environment variable.

    Args:
        host: address to listen on; keep the loopback default.
        port: TCP port, 0 for any free one.
        images_dir: the kit's ``docker/`` folder (Image Lambdas and job images resolve there).
        data_dir: a folder served read-only over HTTP at :attr:`data_url`, so handlers that
            download with ``requests`` work offline; None serves nothing.
        workdir: scratch folder for function code and job folders; a temp dir by default.
        allowed_origins: web origins (``http://127.0.0.1:8888``) whose pages may call the cloud
            besides its own; every other ``Origin`` and any non-loopback ``Host`` is refused
            (see :mod:`localcloud.server.guard`).
        lambda_idle_seconds: a warm Lambda environment unused this long is stopped.
        lambda_concurrency: Lambda invocations that may run at once, all functions together (AWS's account
            concurrency, 1,000 by default); past it a synchronous Invoke answers 429.
        iam: enforce IAM as AWS does (roles, policies, iam:PassRole); None: as the environment says
            (``LOCALCLOUD_IAM``, see :mod:`localcloud.options`), on by default.
        account: the 12-digit account the cloud plays (ARNs, STS identity, ECR registry host);
            moto's default when None. Set through moto's ``MOTO_ACCOUNT_ID`` while the cloud runs.
        images: ECR repository name -> folder whose ``Dockerfile`` (with the folder as build context)
            its images are "built" from (``--image REPO=DIR``); before the kit's ``docker/``.
        mirrors: URL -> file whose bytes Lambda handlers and jobs get when they fetch the URL
            (``--mirror URL=FILE``); every other non-loopback URL fails in them (localcloud.child.mirror).
        data_port: the data folder server's TCP port, 0 for any free one.
        cold_jobs: start a fresh Python for every job instead of forking a warm one
            (:mod:`localcloud.sagemaker.jobs.warm_jobs`). None: as the environment says (:mod:`localcloud.options`),
            warm by default.
        keys: the root access keys requests must be signed with; by default those a parent handed over in
            ``LOCALCLOUD_ACCESS_KEY_ID``/``LOCALCLOUD_SECRET_ACCESS_KEY``, else new ones (:mod:`localcloud.server.keys`).
        runtime_file: write the URL and keys to the owner's runtime file (``python -m localcloud env`` reads it).

    Raises:
        OptionError: ``account`` or ``lambda_concurrency`` is unusable (checked as ``python -m localcloud`` checks it).
        KeysError: keys handed over in the environment are not keys.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, images_dir: Path | None = None,
                 data_dir: Path | None = PROJECT_ROOT / "data", workdir: Path | None = None,
                 allowed_origins: Iterable[str] = (), lambda_idle_seconds: float = 300.0,
                 iam: bool | None = None, account: str | None = None,
                 images: Mapping[str, Path] | None = None, mirrors: Mapping[str, Path] | None = None,
                 cold_jobs: bool | None = None, data_port: int = 0, keys: CloudKeys | None = None,
                 runtime_file: bool = False, lambda_concurrency: int = ACCOUNT_CONCURRENCY) -> None:
        self.host, self.port = host, port
        self.data_port = data_port
        self.account = options.check("account", account)
        self._previous_account: str | None = None
        self.guard = RequestGuard(allowed_origins=allowed_origins)
        self.keys = keys or options.handed_keys() or CloudKeys.generate()
        self._write_runtime_file = runtime_file
        self.runtime_file: Path | None = None
        self.lambda_idle_seconds = options.check("lambda_idle_seconds", lambda_idle_seconds)
        self.lambda_concurrency = options.check("lambda_concurrency", lambda_concurrency)
        self.iam = options.from_environment("iam") if iam is None else iam
        self.cold_jobs = options.from_environment("cold_jobs") if cold_jobs is None else cold_jobs
        self.images_dir = Path(images_dir or PROJECT_ROOT / "docker").resolve()
        self.images = ImageCatalog(self.images_dir, {name: Path(folder).resolve() for name, folder in
                                                     (images or {}).items()})
        self.mirrors = {url: str(Path(path).resolve()) for url, path in (mirrors or {}).items()}
        self.data_dir = Path(data_dir).resolve() if data_dir else None
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="localcloud-"))
        self.url = ""
        self.data_url = ""
        self._server: Any = None
        self._data_server: http.server.ThreadingHTTPServer | None = None
        self._background: set[threading.Thread] = set()
        self.lambda_runtime: LambdaRuntime | None = None
        self.jobs: JobRunner | None = None
        self.inference: Inference | None = None  # endpoints and Batch Transform (linear-learner, XGBoost)

    def start(self) -> LocalCloud:
        """Start serving; returns once requests are accepted.

        Raises:
            PortInUse: the port is taken (at once, naming the port; nothing is left running).
        """
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        if self._write_runtime_file:  # refused before any child process starts (it would hold the caller's pipes)
            check_runtime_dir()
        if self.account:
            self._previous_account = moto_seams.use_account(self.account)
        moto_seams.install(self)
        try:
            self._server, _ = moto_seams.serve_moto(self.host, self.port, lambda app: GuardMiddleware(
                InfoRoute(Authenticator(app, self.keys, moto_seams.issued_key), self.info), self.guard))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise PortInUse(error.errno, f"port {self.port} on {self.host} is already in use by another "
                                             "program; choose another --port (0 picks a free one)") from None
            raise
        self.port = self._server.server_address[1]
        self.guard.ports.add(self.port)
        self.url = f"http://{self.host}:{self.port}"
        moto_seams.use_port(self.port)  # the Step Functions interpreter calls back here
        # Every Lambda environment and job gets the mirror table (even empty: other URLs are refused at once).
        child_env = {ENV_TABLE: json.dumps(self.mirrors)}
        self.lambda_runtime = LambdaRuntime(self.workdir, self.url, self.images, moto_seams.write_logs,
                                            idle_seconds=self.lambda_idle_seconds, child_env=child_env,
                                            concurrency=self.lambda_concurrency)
        self.jobs = JobRunner(self.workdir, self.url, self.images, moto_seams.update_job, moto_seams.write_logs,
                              child_env=child_env, warm=not self.cold_jobs)
        self.jobs.instances.busy = moto_seams.executions_busy  # jobs start in AWS's order (localcloud.sagemaker.jobs.startup_order)
        self.inference = Inference(self.url, moto_seams.update_job, moto_seams.write_logs)
        for executor in (self.lambda_runtime, self.jobs, self.inference):  # handlers and jobs act as their roles
            executor.credentials = self.credentials
        if self.data_dir:
            handler = type("DataHandler", (_DataHandler,), {"guard": self.guard})
            try:
                self._data_server = http.server.ThreadingHTTPServer(
                    (self.host, self.data_port), functools.partial(handler, directory=str(self.data_dir)))
            except OSError as error:
                if error.errno == errno.EADDRINUSE:
                    raise PortInUse(error.errno, f"data port {self.data_port} on {self.host} is already in use "
                                                 "by another program; choose another (0 picks a free one)") from None
                raise
            self.guard.ports.add(self._data_server.server_address[1])
            self.data_url = f"http://{self.host}:{self._data_server.server_address[1]}"
            threading.Thread(target=self._data_server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True,
                             name="localcloud-data").start()  # a short poll: stop() waits for it
        _wait_for_port(self.host, self.port)
        if self._write_runtime_file:
            self.runtime_file = write_runtime_file(self.port, self.url, self.keys, self.data_url)

    def credentials(self, role_arn: str, session_name: str) -> dict[str, str]:
        """The keys a handler or job acting as ``role_arn`` gets: the role's, or the root's without IAM."""
        return moto_seams.role_credentials(role_arn, session_name) or self.keys.environment()

    def info(self) -> dict[str, str]:
        """What clients ask at ``/_localcloud/info``: where the data folder is served (None when it is not)."""
        return {"url": self.url, "data_url": self.data_url or None}

    def run_in_background(self, function: Callable[..., Any], *args: Any) -> None:
        """Run ``function`` in a tracked thread (asynchronous Lambda invokes, event delivery)."""
        thread = threading.Thread(target=self._tracked, args=(function, *args), daemon=True)
        self._background.add(thread)
        thread.start()

    def _tracked(self, function: Callable[..., Any], *args: Any) -> None:
        try:
            function(*args)
        finally:
            self._background.discard(threading.current_thread())

    def stop(self) -> None:
        """Stop jobs, warm Lambda environments and the servers; remove the scratch folder."""
        if self.jobs:
            self.jobs.close()
        if self.inference:  # running transform jobs stop
            self.inference.close()
        for thread in list(self._background):
            thread.join(timeout=5)
        if self.lambda_runtime:
            self.lambda_runtime.close()
        if self._data_server:
            self._data_server.shutdown()
            self._data_server.server_close()
            self._data_server = None
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self.runtime_file is not None:
            self.runtime_file.unlink(missing_ok=True)
            self.runtime_file = None
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if self.account:
            moto_seams.restore_account(self.account, self._previous_account)

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
