"""boto3 clients the cloud makes for itself (a job's S3 transfers, a model's download), on one data loader.

A new boto3 session has a data loader of its own, which reads and parses botocore's service model and
endpoint files again: ~0.1 s of CPU a client, 0.12-0.3 s measured between a processing job's creation and
its container while a state machine kept the cloud busy. Sessions made here share one loader, which keeps
what it parsed; each client still has its own session, credentials and configuration.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config

_LOADER = botocore.loaders.create_loader()
# A synchronous Invoke answers when the handler ends: up to Lambda's longest timeout, 900 s. botocore's 60 s read
# timeout made a client give up on a longer invoke and send it again, so the handler ran twice.
LAMBDA_READ_TIMEOUT = 900 + 60
_LOCK = threading.Lock()


def session() -> boto3.session.Session:
    """A new boto3 session (reading the environment as it is now) on the shared data loader."""
    with _LOCK:
        core = botocore.session.get_session()
        core.register_component("data_loader", _LOADER)
        made = boto3.session.Session(botocore_session=core)
        # boto3 appends its own data folder to the loader's search path for every session: keep it once
        _LOADER.search_paths[:] = list(dict.fromkeys(_LOADER.search_paths))
        return made


def client(service: str, region: str, endpoint_url: str, keys: dict[str, str], **options: Any) -> Any:
    """A ``service`` client at ``endpoint_url`` signing with ``keys`` (AWS_ACCESS_KEY_ID, ..., as a job's env).

    A Lambda client waits :data:`LAMBDA_READ_TIMEOUT` for an answer unless ``config`` says otherwise.
    """
    if service == "lambda":
        options["config"] = Config(read_timeout=LAMBDA_READ_TIMEOUT).merge(options.get("config") or Config())
    return session().client(service, region_name=region, endpoint_url=endpoint_url,
                            aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
                            aws_session_token=keys.get("AWS_SESSION_TOKEN"), **options)


def warm(service: str) -> None:
    """Read ``service``'s model and endpoint rules into the shared loader (a client made and dropped: no request)."""
    client(service, "us-east-1", "http://127.0.0.1:9", {"AWS_ACCESS_KEY_ID": "warm", "AWS_SECRET_ACCESS_KEY": "warm"}
           ).close()
