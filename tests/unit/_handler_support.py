"""What the handler tests share (no test logic here): loading a handler from its file, event fixtures from
tests/events, a data server on 127.0.0.1, a bucket in moto, recorded or stubbed SageMaker requests."""

from __future__ import annotations

import contextlib
import http.server
import importlib.util
import json
import string
import sys
import threading
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
from botocore.stub import Stubber

from helpers.paths import DATA_DIR, LAMBDAS_DIR

EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"
IRIS = DATA_DIR / "iris.data"
JOB_NAME = r"[A-Za-z0-9](-*[A-Za-z0-9]){0,62}"
REGION = "eu-west-1"


def load_handler(name: str) -> types.ModuleType:
    """Import src/lambdas/<name>.py by path, as Lambda does (it is not a package module)."""
    spec = importlib.util.spec_from_file_location(f"handler_{name}", LAMBDAS_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def load_event(name: str, **values: str) -> dict:
    """tests/events/<name>.json with its ${placeholders} filled."""
    return json.loads(string.Template((EVENTS_DIR / f"{name}.json").read_text()).substitute(values))


class QuietFiles(http.server.SimpleHTTPRequestHandler):
    """Serves a folder quietly and records the paths asked for (the data server's requests)."""

    requested: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        type(self).requested.append(self.path)
        super().do_GET()

    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def local_server(handler: Callable[..., http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 (a free port) answering with ``handler``, for the ``with`` block; its URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def keys(bucket: str) -> list[str]:
    return [o["Key"] for o in boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=bucket).get("Contents", [])]


def record_requests(operation: str) -> list[dict]:
    """Record the parameters of every SageMaker ``operation`` made through boto3's default session."""
    calls: list[dict] = []
    boto3.setup_default_session(region_name=REGION)
    boto3.DEFAULT_SESSION.events.register(f"provide-client-params.sagemaker.{operation}",
                                          lambda params, **_: calls.append(json.loads(json.dumps(params))))
    return calls


def stub_sagemaker(monkeypatch, module) -> Stubber:
    """Make ``module``'s boto3.client("sagemaker") return one stubbed client (no moto, no network)."""
    client = boto3.session.Session(region_name=REGION).client("sagemaker")
    monkeypatch.setattr(module, "boto3", types.SimpleNamespace(client=lambda service: client))
    return Stubber(client)
