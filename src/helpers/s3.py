"""S3: the region-aware bucket, uploads and readable listings."""

from __future__ import annotations

import importlib.util
import io
import json
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
from botocore.exceptions import ClientError

from helpers.calls import showable
from helpers.config import Kit
from helpers.errors import EarlierNotebookNeeded
from helpers.paths import JOBS_DIR


@showable
def ensure_bucket(kit: Kit, name: str | None = None) -> str:
    """Create the kit's bucket if it does not exist yet; tag and return its name.

    us-east-1 is S3's default location and refuses a ``LocationConstraint`` naming it;
    every other region needs one. (The article's ``aws s3 mb`` hides that difference.)
    """
    s3 = kit.client("s3")
    name = name or kit.names.bucket
    try:
        s3.head_bucket(Bucket=name)
        print(f"bucket {name} exists")
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
            raise
        request: dict[str, Any] = {"Bucket": name}
        if kit.region != "us-east-1":
            request["CreateBucketConfiguration"] = {"LocationConstraint": kit.region}
        try:
            s3.create_bucket(**request)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass  # made by a run that started at the same moment: it is ours all the same
        s3.get_waiter("bucket_exists").wait(Bucket=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        print(f"bucket {name} created in {kit.region}")
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": kit.tags()})
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    return name


def bucket_summary(kit: Kit, name: str) -> pd.DataFrame:
    """Region and tags of a bucket, as a one-row table."""
    s3 = kit.client("s3")
    location = s3.get_bucket_location(Bucket=name).get("LocationConstraint") or "us-east-1"
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=name)["TagSet"]}
    return pd.DataFrame([{"bucket": name, "region": location, **tags}])


def list_objects(kit: Kit, bucket: str, prefix: str = "") -> pd.DataFrame:
    """Objects under ``prefix`` as a table of key and size (no times: they differ every run)."""
    rows = []
    for page in kit.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        rows += [{"key": o["Key"], "size (bytes)": o["Size"]} for o in page.get("Contents", [])]
    return pd.DataFrame(rows, columns=["key", "size (bytes)"])


def read_csv(kit: Kit, uri: str, **read_csv_args: Any) -> pd.DataFrame:
    """Read a CSV object (``s3://bucket/key``) into a DataFrame."""
    bucket, key = split_uri(uri)
    body = kit.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return pd.read_csv(io.BytesIO(body), **read_csv_args)


class RawDataError(ValueError):
    """The raw CSV is not what the pipeline can read; the message names the file, row and field."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this one line instead of a traceback
        return [f"RawDataError: {self}"]


def read_raw_data(kit: Kit, uri: str) -> pd.DataFrame:
    """Read the raw CSV with the processing job's own reader (``read_input`` of ``src/jobs/preprocess.py``).

    So a preview fails where the job would, with the same message naming the row and field
    (a bare ``UnicodeDecodeError`` from pandas named neither).

    Raises:
        RawDataError: the job's message, e.g. ``iris.data: row 7, field 'petal_width': 'abc' is not a number``.
    """
    preprocess = _job_script("preprocess")
    dataset = kit.settings.dataset
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / (split_uri(uri)[1].rsplit("/", 1)[-1] or "raw.csv")
        path.write_bytes(read_bytes(kit, uri))
        try:  # the settings travel to the job as JSON (PIPELINE_DREAMS_DATASET): parse them the same way
            spec = preprocess.csv_dataset.DatasetSpec.from_json(json.dumps(dataset)) if dataset else None
            return preprocess.read_input(path, spec)[0]
        except (preprocess.PreprocessError, preprocess.csv_dataset.DatasetError) as error:
            raise RawDataError(str(error)) from None


def preview_raw_data(kit: Kit, uri: str, rows: int = 5) -> pd.DataFrame | None:
    """The first rows of the raw CSV as the processing job reads them, or, for a file it would refuse, why.

    The notebook goes on either way: notebook 03 shows the job failing on it, as it would on AWS.
    """
    try:
        frame = read_raw_data(kit, uri)
    except RawDataError as problem:
        print(f"03's processing job will refuse this file: {problem}")
        return None
    print(f"{len(frame)} rows, {len(frame.columns)} columns")
    return frame.head(rows)


def _job_script(name: str) -> ModuleType:
    """A job script under src/jobs/ as a module: it is a file uploaded to the job, not part of ``helpers``."""
    spec = importlib.util.spec_from_file_location(f"_pipeline_dreams_job_{name}", JOBS_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_bytes(kit: Kit, uri: str) -> bytes:
    bucket, key = split_uri(uri)
    return kit.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


def upload_file(kit: Kit, path: str, bucket: str, key: str) -> str:
    kit.client("s3").upload_file(str(path), bucket, key)
    return f"s3://{bucket}/{key}"


def put_raw_data(kit: Kit, bucket: str, run_prefix: str) -> dict[str, Any]:
    """Do what the ingest Lambda does, from here: download ``data_url`` into the run's raw/ prefix.

    For when the Lambda cannot exist (no image could be built): the later notebooks find
    the data where they expect it. Returns the same fields the Lambda returns.
    """
    import requests

    response = requests.get(kit.settings.data_url, timeout=30)
    response.raise_for_status()
    name = kit.settings.data_url.split("?")[0].rstrip("/").rsplit("/", 1)[-1] or "iris.data"  # the learner's file
    key = f"{run_prefix.strip('/')}/raw/{name}"
    kit.client("s3").put_object(Bucket=bucket, Key=key, Body=response.content, ContentType="text/csv")
    print(f"put {len(response.content)} bytes from {kit.settings.data_url} at s3://{bucket}/{key} (without the Lambda)")
    return {"bucket": bucket, "run_prefix": run_prefix, "raw_s3_uri": f"s3://{bucket}/{key}",
            "raw_bytes": len(response.content), "source": kit.settings.data_url}


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` → ``(bucket, key)``."""
    if not uri.startswith("s3://"):
        raise ValueError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def bucket_created(kit: Kit, bucket: str) -> str:
    """When the bucket was made: after 99_cleanup a new bucket means new job names (SageMaker never frees one)."""
    for found in kit.client("s3").list_buckets().get("Buckets", []):
        if found["Name"] == bucket:
            return found["CreationDate"].isoformat()
    return ""


def raw_data_uri(kit: Kit, bucket: str) -> str:
    """The raw file 02 wrote last for this run: ``s3://<bucket>/runs/<run_id>/raw/<its name>``.

    raw/ holds one file per data set ingested under this run id (02 names the object after the file); the
    processing job reads the newest, which is the one 02 just wrote, and the others are named.

    Raises:
        EarlierNotebookNeeded: raw/ is empty: 02_ingest has not run with this run id.
    """
    prefix = f"{kit.settings.run_prefix}/raw/"
    objects = []
    for page in kit.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        objects += page.get("Contents", [])
    if not objects:
        raise EarlierNotebookNeeded(f"no raw data under s3://{bucket}/{prefix}: run 02_ingest first "
                                    f"(with run_id {kit.settings.run_id!r})")
    newest = max(objects, key=lambda o: (o["LastModified"], o["Key"]))
    if len(objects) > 1:
        others = ", ".join(sorted(o["Key"][len(prefix):] for o in objects if o is not newest))
        print(f"raw/ holds {len(objects)} files: processing {newest['Key'][len(prefix):]}, the one 02 wrote last "
              f"(not {others})")
    return f"s3://{bucket}/{newest['Key']}"


def version_of(kit: Kit, uri: str) -> str:
    """A short fingerprint of the objects under an ``s3://bucket/prefix``: their keys, ETags and write times.

    A job that reads them gets a new name when they were written again (re-ingested, re-processed, or made
    again after cleanup), and finds its earlier job when they were not.
    """
    from helpers.settings_file import fingerprint

    bucket, prefix = split_uri(uri)
    objects = []
    for page in kit.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        objects += [(o["Key"], o["ETag"], o["LastModified"].isoformat()) for o in page.get("Contents", [])]
    return fingerprint(sorted(objects), length=12)
