"""The embedded local cloud: a moto server whose seams call the kit's executors."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

from localcloud import moto_seams
from localcloud.inference import Inference
from localcloud.jobs import JobRunner
from localcloud.lambda_runtime import LambdaRuntime

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
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
        iam: enforce IAM as AWS does (roles, policies, iam:PassRole); None reads ``LOCALCLOUD_IAM``
            (``0``/``off``/``false`` turn it off), on by default.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, images_dir: Path | None = None,
                 data_dir: Path | None = PROJECT_ROOT / "data", workdir: Path | None = None,
                 iam: bool | None = None) -> None:
        self.host, self.port = host, port
        if iam is None:
            iam = os.environ.get("LOCALCLOUD_IAM", "on").strip().lower() not in ("0", "off", "false", "no")
        self.iam = iam
        self.images_dir = Path(images_dir or PROJECT_ROOT / "docker").resolve()
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
        self.inference: Inference | None = None  # endpoints and Batch Transform (linear-learner)

    def start(self) -> LocalCloud:
        """Start serving; returns once requests are accepted."""
        from moto.server import ThreadedMotoServer  # imported here: ~0.7 s, only when a cloud starts

        moto_seams.install(self)
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        self.port = self._server.get_host_and_port()[1]
        self.url = f"http://{self.host}:{self.port}"
        os.environ["MOTO_PORT"] = str(self.port)  # the Step Functions interpreter calls back here
        self.lambda_runtime = LambdaRuntime(self.workdir, self.url, self.images_dir, moto_seams.write_logs)
        self.jobs = JobRunner(self.workdir, self.url, self.images_dir, moto_seams.update_job, moto_seams.write_logs)
        self.inference = Inference(self.url, moto_seams.update_job, moto_seams.write_logs)
        for executor in (self.lambda_runtime, self.jobs, self.inference):  # handlers and jobs act as their roles
            executor.credentials = moto_seams.role_credentials
        if self.data_dir:
            handler = functools.partial(_QuietHandler, directory=str(self.data_dir))
            self._data_server = http.server.ThreadingHTTPServer((self.host, 0), handler)
            self.data_url = f"http://{self.host}:{self._data_server.server_address[1]}"
            threading.Thread(target=self._data_server.serve_forever, daemon=True, name="localcloud-data").start()
        _wait_for_port(self.host, self.port)
        return self

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
        if self._server:
            self._server.stop()
            self._server = None
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

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
