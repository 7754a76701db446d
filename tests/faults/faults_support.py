"""What the fault tests share: the kit's pipeline deployed as notebooks 01-06 deploy it, files on 127.0.0.1.

Everything goes through ``helpers`` (as a notebook would) or boto3 (as a test inspects), against the
session's ``cloud`` or, where a test stops or measures a cloud, one of its own.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import helpers
from helpers.config import ENV_DATA_URL, ENV_ENDPOINT, ENV_LOCAL_KEY_ID, ENV_LOCAL_SECRET, Kit

EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
IRIS = PROJECT_ROOT / "data" / "iris.data"


def load_fixture(name: str) -> dict[str, Any]:
    """``tests/events/<name>`` parsed."""
    return json.loads((EVENTS_DIR / name).read_text())


def new_prefix(tag: str) -> str:
    """A kit prefix of its own (3-24 characters), so the tests never touch another's resources."""
    return f"{tag}-{uuid.uuid4().hex[:8]}"


@contextlib.contextmanager
def pointed_at(endpoint: str, data_url: str | None = None) -> Iterator[None]:
    """Set PIPELINE_DREAMS_ENDPOINT (and _DATA_URL) and the cloud's keys as the series runner does for its notebooks."""
    from conftest_cloud import KEYS_BY_URL

    saved = {k: os.environ.get(k) for k in (ENV_ENDPOINT, ENV_DATA_URL, ENV_LOCAL_KEY_ID, ENV_LOCAL_SECRET)}
    os.environ[ENV_ENDPOINT] = endpoint
    keys = KEYS_BY_URL.get(endpoint)
    if keys:
        os.environ.update({ENV_LOCAL_KEY_ID: keys["AWS_ACCESS_KEY_ID"], ENV_LOCAL_SECRET: keys["AWS_SECRET_ACCESS_KEY"]})
    if data_url:
        os.environ[ENV_DATA_URL] = data_url
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def connect(endpoint: str, prefix: str, run_id: str = "faults", data_url: str | None = None,
            region: str | None = None) -> Kit:
    """``helpers.connect`` pointed at ``endpoint``, as a notebook's first cell does."""
    with pointed_at(endpoint, data_url):
        return helpers.connect(prefix=prefix, run_id=run_id, region=region)


@dataclass
class Deployed:
    """The kit's pipeline state machine and what it needs, made by the kit's own helpers."""

    kit: Kit
    bucket: str
    roles: dict[str, str]
    fetch_function: str
    definition: dict[str, Any]
    machine_arn: str
    started: dict[str, str] = field(default_factory=dict)  # run id -> execution ARN

    @property
    def prefix(self) -> str:
        return self.kit.settings.prefix

    def job_name(self, step: str, run_id: str) -> str:
        return self.kit.names.job(step, run_id)

    def start(self, run_id: str, **extra: Any) -> str:
        """Start an execution named after the run, with the input notebook 05 gives it."""
        payload = {"bucket": self.bucket, "run_id": run_id, "run_prefix": f"runs/{run_id}",
                   **helpers.stepfunctions.pipeline_settings(self.kit), **extra}
        arn = helpers.stepfunctions.start(self.kit, self.machine_arn, payload, name=run_id)
        self.started[run_id] = arn
        return arn

    def wait(self, execution_arn: str, timeout: float = 180) -> dict[str, Any]:
        """Poll DescribeExecution every 0.1 s until the execution ends (a test's deadline, no progress bar)."""
        sfn = self.kit.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while (execution := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline, f"{execution_arn} still RUNNING after {timeout:g} s"
            time.sleep(0.1)
        return execution

    def keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix`` in the kit bucket."""
        s3, keys = self.kit.client("s3"), []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys += [o["Key"] for o in page.get("Contents", [])]
        return keys

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        sfn = self.kit.client("stepfunctions")
        events: list[dict[str, Any]] = []
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            events += page["events"]
        return events


def deploy_pipeline(kit: Kit, gated: bool = False) -> Deployed:
    """What notebooks 01-05 (and 06 with ``gated``) make, in the same order and with the same helpers.

    01: the bucket. 02: the fetch-data role, the ingest image and the fetch-data image function.
    03/05: the SageMaker and Step Functions roles, the preprocess image, the linear-learner image URI.
    05: the pipeline state machine (06: extended with evaluate_deploy after Train).
    """
    bucket = helpers.s3.ensure_bucket(kit)
    roles = {purpose: helpers.iam.ensure_role(kit, purpose) for purpose in ("fetch-data", "sagemaker", "states")}
    fetch = helpers.lambdas.ensure_function(
        kit, kit.names.function("fetch-data"), roles["fetch-data"], image_uri=helpers.ecr.publish_image(kit, "ingest"),
        timeout=60, environment={"BUCKET": bucket, "DATA_URL": kit.settings.data_url,
                                  "JOB_NAME_PREFIX": kit.settings.prefix},
        description="Pipeline Dreams: download the raw CSV into S3")
    jobs_image = helpers.ecr.publish_image(kit, "preprocess")
    names = dict(FetchFunctionArn=fetch, SageMakerRoleArn=roles["sagemaker"], PreprocessImageUri=jobs_image,
                 JobsImageUri=jobs_image, TrainingImageUri=helpers.sagemaker.image_uri("linear-learner", kit.region),
                 JobNamePrefix=kit.settings.prefix, EndpointName=f"{kit.settings.prefix}-iris",
                 ProcessingInstanceType="ml.t3.medium", TrainingInstanceType="ml.m5.large",
                 TransformInstanceType="ml.m5.large", EndpointInstanceType="ml.m5.large")
    definition = helpers.stepfunctions.load_definition("pipeline", **names)
    if gated:
        definition = helpers.stepfunctions.extend(
            definition, helpers.stepfunctions.load_definition("evaluate_deploy", **names), after="Train")
    arn = helpers.stepfunctions.ensure_state_machine(kit, kit.names.state_machine("pipeline"), definition,
                                                     roles["states"])
    return Deployed(kit, bucket, roles, fetch, definition, arn)


class FileServer:
    """A folder served over HTTP on 127.0.0.1 (where the fetch Lambda downloads bad files from)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
        handler.log_message = lambda *args: None
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="faults-files")
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{name}"

    def put(self, name: str, body: bytes) -> str:
        """Write ``body`` as ``name`` (a path under the served folder) and return its URL."""
        (self.folder / name).parent.mkdir(parents=True, exist_ok=True)
        (self.folder / name).write_bytes(body)
        return self.url(name)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def bad_file(case: dict[str, Any]) -> bytes:
    """The bytes of one case of tests/events/faults_bad_data.json (see its _comment)."""
    if "body" in case:
        return case["body"].encode(case.get("encoding", "utf-8"))
    rows = IRIS.read_text().split("\n")  # 1-based row n is rows[n - 1]; the file ends with blank lines
    for number, text in case.get("replace", {}).items():
        rows[int(number) - 1] = text
    for number, text in sorted(case.get("insert", {}).items(), key=lambda item: -int(item[0])):
        rows.insert(int(number) - 1, text)
    return "\n".join(rows).encode(case.get("encoding", "utf-8"))


# -- a cloud of a test's own, and a light state machine -------------------------------------------------
PREPARE_HANDLER = '''
import os

def handler(event, context):  # the job is named <prefix>-prepare-<run id>, unique per kit and run
    return {"job_name": f"{os.environ['AWS_LAMBDA_FUNCTION_NAME']}-{event['run_id']}"[:63]}
'''


def start_own_cloud(tmp_path: Path):
    """``python -m localcloud`` in a subprocess whose TMPDIR is ``tmp_path``: its workdir is the one
    ``localcloud-*`` folder there, so a test can look at (and count) what it leaves."""
    from conftest_cloud import CloudProcess

    saved = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(tmp_path)
    try:
        return CloudProcess()
    finally:
        if saved is None:
            os.environ.pop("TMPDIR")
        else:
            os.environ["TMPDIR"] = saved


def workdir_of(tmp_path: Path) -> Path:
    (workdir,) = tmp_path.glob("localcloud-*")
    return workdir


@dataclass
class CloudStats:
    """What a local cloud process holds, measured from outside (/proc and psutil)."""

    threads: int
    children: list[str]
    open_files: int
    job_folders: list[str]

    @classmethod
    def of(cls, pid: int, workdir: Path) -> CloudStats:
        import psutil

        children = [" ".join(p.cmdline()[1:4]) for p in psutil.Process(pid).children(recursive=True)
                    if p.status() != psutil.STATUS_ZOMBIE]
        return cls(threads=len(os.listdir(f"/proc/{pid}/task")), children=sorted(children),
                   open_files=len(os.listdir(f"/proc/{pid}/fd")),
                   job_folders=sorted(p.name for p in workdir.glob("jobs/*/*")))


def zip_handler(source: str) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def deploy_light_machine(kit: Kit, entrypoint: list[str] | None = None, max_runtime: int | None = None) -> Deployed:
    """tests/events/faults_light_machine.json (a Lambda, then a small .sync processing job) under the kit's
    names, made with the kit's helpers; ``entrypoint`` and ``max_runtime`` replace the job's."""
    import string

    bucket = helpers.s3.ensure_bucket(kit)
    # the prepare handler calls no AWS API: the fetch-data role (trusted by Lambda) is enough for it
    roles = {purpose: helpers.iam.ensure_role(kit, purpose) for purpose in ("fetch-data", "sagemaker", "states")}
    function = helpers.lambdas.ensure_function(kit, kit.names.function("prepare"), roles["fetch-data"],
                                               handler="app.handler", zip_file=zip_handler(PREPARE_HANDLER))
    text = string.Template((EVENTS_DIR / "faults_light_machine.json").read_text()).safe_substitute(
        FunctionArn=function, RoleArn=roles["sagemaker"], Bucket=bucket,
        ImageUri=helpers.ecr.publish_image(kit, "preprocess"))
    definition = json.loads(text)
    process = definition["States"]["Process"]["Parameters"]
    if entrypoint:
        process["AppSpecification"]["ContainerEntrypoint"] = entrypoint
    if max_runtime:
        process["StoppingCondition"]["MaxRuntimeInSeconds"] = max_runtime
    arn = helpers.stepfunctions.ensure_state_machine(kit, kit.names.state_machine("light"), definition,
                                                     roles["states"])
    return Deployed(kit, bucket, roles, function, definition, arn)


# -- the series runner and what a prefix owns -----------------------------------------------------------
def run_helpers(*args: str, timeout: float = 600, **env: str):
    """``python -m helpers …`` in a subprocess, without the PIPELINE_DREAMS_* variables of this process."""
    import subprocess
    import sys

    environment = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_DREAMS_")}
    return subprocess.run([sys.executable, "-m", "helpers", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=PROJECT_ROOT, env={**environment, **env})


def owned(cloud, prefix: str, region: str = "eu-west-1") -> dict[str, list[str]]:
    """Everything named with ``prefix`` in the cloud, listed with boto3 (buckets with their keys)."""
    s3 = cloud.client("s3", region=region)
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith(prefix)]
    keys = [f"{b}/{o['Key']}" for b in buckets for o in s3.list_objects_v2(Bucket=b).get("Contents", [])]
    return {
        "buckets": buckets, "objects": sorted(keys),
        "roles": [r["RoleName"] for r in cloud.client("iam").list_roles()["Roles"] if r["RoleName"].startswith(prefix)],
        "functions": [f["FunctionName"] for f in cloud.client("lambda", region=region).list_functions()["Functions"]
                      if f["FunctionName"].startswith(prefix)],
        "repositories": [r["repositoryName"] for r in
                         cloud.client("ecr", region=region).describe_repositories()["repositories"]
                         if r["repositoryName"].startswith(prefix)],
        "state machines": [m["name"] for m in
                           cloud.client("stepfunctions", region=region).list_state_machines()["stateMachines"]
                           if m["name"].startswith(prefix)],
    }


NOTHING = {"buckets": [], "objects": [], "roles": [], "functions": [], "repositories": [], "state machines": []}
