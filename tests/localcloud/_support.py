"""Small helpers shared by the localcloud behaviour tests (no test logic here)."""

from __future__ import annotations

import io
import json
import string
import uuid
import zipfile
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
EVENTS_DIR = PROJECT_ROOT / "tests" / "events"
TRUST_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "sts:AssumeRole",
    "Principal": {"Service": ["lambda.amazonaws.com", "sagemaker.amazonaws.com", "states.amazonaws.com",
                              "events.amazonaws.com"]}}]})


def unique_name(prefix: str) -> str:
    """``<prefix>-<12 hex digits>``: a resource name no other test (or earlier run) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def load_event(name: str, **values: str) -> dict[str, Any]:
    """Read ``tests/events/<name>``, filling ``${placeholders}`` with ``values`` (all must be given)."""
    text = (EVENTS_DIR / name).read_text()
    return json.loads(string.Template(text).substitute(values))


def zip_bytes(files: dict[str, str]) -> bytes:
    """A deployment package holding ``files`` (name → source)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, source in files.items():
            archive.writestr(name, source)
    return buffer.getvalue()


def account_id(cloud) -> str:
    """The account the cloud reports, as a real client would learn it."""
    return cloud.client("sts").get_caller_identity()["Account"]


ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def create_role(cloud, name: str, policy: dict | None = ALLOW_ALL, trust: str = TRUST_POLICY) -> str:
    """An IAM role the kit's services may assume, allowed ``policy`` (everything by default); returns its ARN.

    The cloud enforces IAM: tests about something else get a real role that may do what they need.
    """
    iam = cloud.client("iam")
    arn = iam.create_role(RoleName=name[:64], AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    if policy is not None:
        iam.put_role_policy(RoleName=name[:64], PolicyName="test", PolicyDocument=json.dumps(policy))
    return arn


def create_bucket(cloud, name: str, region: str = "eu-west-1") -> str:
    """A bucket in ``region``; returns its name."""
    s3 = cloud.client("s3", region=region)
    config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=name, **config)
    return name


def ecr_image_uri(account: str, region: str, repository: str, tag: str = "latest") -> str:
    """``<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>``."""
    return f"{account}.dkr.ecr.{region}.amazonaws.com/{repository}:{tag}"


def read_log_messages(cloud, group: str, stream_prefix: str = "", region: str = "eu-west-1") -> list[str]:
    """Every message in the log group's streams starting with ``stream_prefix`` (oldest first)."""
    logs = cloud.client("logs", region=region)
    kwargs = {"logGroupName": group}
    if stream_prefix:
        kwargs["logStreamNamePrefix"] = stream_prefix
    messages = []
    for page in logs.get_paginator("filter_log_events").paginate(**kwargs):
        messages.extend(event["message"] for event in page["events"])
    return messages


PREPROCESS_SCRIPT = PROJECT_ROOT / "src" / "jobs" / "preprocess.py"
IRIS_DATA = PROJECT_ROOT / "data" / "iris.data"


def run_preprocess_locally(workdir: Path) -> Path:
    """Run src/jobs/preprocess.py on data/iris.data in ``workdir``; returns its output folder.

    The output holds train/train.csv, test/test.csv and meta/preprocess.json.
    """
    import shutil
    import subprocess
    import sys

    input_dir, output_dir = workdir / "input", workdir / "output"
    input_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(IRIS_DATA, input_dir / IRIS_DATA.name)
    subprocess.run([sys.executable, str(PREPROCESS_SCRIPT), "--input-dir", str(input_dir),
                    "--output-dir", str(output_dir)], check=True, capture_output=True, text=True)
    return output_dir


def csv_rows(text: str) -> list[list[str]]:
    """Non-blank CSV rows of ``text``."""
    import csv
    import io

    return [row for row in csv.reader(io.StringIO(text)) if row]
