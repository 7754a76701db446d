"""What the series tests share: running ``python -m helpers``, finding what a run made, and the loopback audit.

The audit (``audit_site/sitecustomize.py``) is armed in every Python process started with
``audited_env``; ``laptop_with_aws_settings`` and ``counting_proxy`` make the machine look like a
laptop that also has real AWS settings and a proxy (issue 9).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AUDIT_SITE = Path(__file__).resolve().parent / "audit_site"
ENV_LOG = "LOOPBACK_AUDIT_LOG"


def run_helpers(*args: str, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "helpers", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def kit_bucket(s3) -> str:
    return next(b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("pipeline-dreams-"))


def pipeline_run(s3, name: str) -> str:
    """The run a notebook started as ``<run_id>-<label>``: its name ends in ``-<hash of its settings>``."""
    listed = s3.list_objects_v2(Bucket=kit_bucket(s3), Prefix=f"runs/{name}-", Delimiter="/").get("CommonPrefixes", [])
    runs = [p["Prefix"].split("/")[1] for p in listed if re.fullmatch(rf"{name}-[0-9a-f]{{6}}", p["Prefix"].split("/")[1])]
    assert len(runs) == 1, (name, listed)
    return runs[0]


def lambda_job(sm, kind: str, base: str) -> list[dict]:
    """Jobs a start_* Lambda made for ``base`` (``<base>-<hash of the request>``), newest first."""
    method, key, field = {"processing": ("list_processing_jobs", "ProcessingJobSummaries", "ProcessingJobName"),
                          "training": ("list_training_jobs", "TrainingJobSummaries", "TrainingJobName")}[kind]
    jobs = [j for j in getattr(sm, method)(NameContains=base)[key] if re.fullmatch(rf"{base}-[0-9a-f]{{6}}", j[field])]
    return sorted(jobs, key=lambda j: j["CreationTime"], reverse=True)


def audited_env(log: Path) -> dict[str, str]:
    """This environment plus the audit folder first on PYTHONPATH and the log it writes to."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_DREAMS_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(AUDIT_SITE), os.environ.get("PYTHONPATH")]))
    env[ENV_LOG] = str(log)
    return env


def read_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def laptop_with_aws_settings(env: dict[str, str], home: Path, proxy_url: str) -> dict[str, str]:
    """``env`` as on a laptop with real AWS settings: profiles and keys in ~/.aws, a profile and a proxy set."""
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "config").write_text("[default]\nregion = us-west-2\n[profile work]\nregion = eu-west-2\n")
    (home / ".aws" / "credentials").write_text("[default]\naws_access_key_id = AKIDLAPTOP\n"
                                               "aws_secret_access_key = laptop-secret\n")
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "NO_PROXY", "no_proxy"):
        env.pop(name, None)
    return {**env, "HOME": str(home), "AWS_PROFILE": "nosuchprofile", "HTTP_PROXY": proxy_url,
            "HTTPS_PROXY": proxy_url, "ALL_PROXY": proxy_url}


@contextmanager
def counting_proxy() -> Iterator[tuple[str, list[str]]]:
    """A listener on 127.0.0.1 that records the first line of every connection made to it, and closes it."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    seen: list[str] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            with connection:
                connection.settimeout(1)
                try:
                    seen.append(connection.recv(200).split(b"\r\n")[0].decode("latin-1"))
                except OSError:
                    seen.append("(nothing sent)")

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}", seen
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()


def kit_resources(cloud, prefix: str) -> dict[str, list[str]]:
    """Every service the kit uses, listed directly (not through helpers.cleanup)."""
    sm = cloud.client("sagemaker")
    return {
        "s3": [b["Name"] for b in cloud.client("s3").list_buckets()["Buckets"] if b["Name"].startswith(prefix)],
        "lambda": [f["FunctionName"] for f in cloud.client("lambda").list_functions()["Functions"]
                   if f["FunctionName"].startswith(prefix)],
        "stepfunctions": [m["name"] for m in cloud.client("stepfunctions").list_state_machines()["stateMachines"]
                          if m["name"].startswith(prefix)],
        "endpoints": [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"] if e["EndpointName"].startswith(prefix)],
        "endpoint configs": [c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]
                             if c["EndpointConfigName"].startswith(prefix)],
        "models": [m["ModelName"] for m in sm.list_models()["Models"] if m["ModelName"].startswith(prefix)],
        "rules": [r["Name"] for r in cloud.client("events").list_rules()["Rules"] if r["Name"].startswith(prefix)],
        "ecr": [r["repositoryName"] for r in cloud.client("ecr").describe_repositories()["repositories"]
                if r["repositoryName"].startswith(prefix)],
        "iam": [r["RoleName"] for r in cloud.client("iam").list_roles()["Roles"] if r["RoleName"].startswith(prefix)],
        "log groups": [g["logGroupName"] for g in cloud.client("logs").describe_log_groups()["logGroups"]
                       if g["logGroupName"].startswith(f"/aws/lambda/{prefix}")],
    }
