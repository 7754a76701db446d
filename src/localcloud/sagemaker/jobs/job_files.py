"""Files in and out of a job: S3 inputs downloaded below their folder, outputs uploaded from inside theirs.

Every local path is built with :func:`localcloud.common.paths.inside`, so an S3 key or an output link
cannot make the cloud write or read outside the job's folder.
"""

from __future__ import annotations

import gzip
import re
import tarfile
from pathlib import Path

from localcloud.common.paths import PathEscape, inside
from localcloud.contracts import CLIENT_ERROR, JobFailure


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` → (bucket, key)."""
    match = re.match(r"^s3://([^/]+)/?(.*)$", uri)
    if not match:
        raise JobFailure(CLIENT_ERROR, f"{uri!r} is not an s3:// URI")
    return match.group(1), match.group(2)


def download(s3, uri: str, target: Path) -> None:
    """Download an S3Prefix (or a single object) into ``target`` as SageMaker does.

    S3 allows ``..`` in keys; SageMaker writes each object under the input folder. A key whose
    path would leave the folder (``in/a/../../../../tmp/x``) fails the job with a ClientError
    (:class:`~localcloud.contracts.JobFailure`) naming the key, and nothing is written: every key is checked
    before the first download.
    """
    bucket, prefix = split_s3_uri(uri)
    target.mkdir(parents=True, exist_ok=True)
    planned: list[tuple[str, Path]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            if key.endswith("/"):
                continue
            relative = key[len(prefix):].lstrip("/") if key != prefix else key.rsplit("/", 1)[-1]
            try:
                planned.append((key, inside(target, relative or key.rsplit("/", 1)[-1],
                                            what=f"S3 key {key!r} of {uri}")))
            except PathEscape as exc:
                raise JobFailure(CLIENT_ERROR, f"{exc}; SageMaker writes every object of an input below "
                               "its local folder, so rename the object") from None
    for key, path in planned:
        path.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, key, str(path))
    found = len(planned)
    if not found:
        raise JobFailure(CLIENT_ERROR, f"no S3 objects found under {uri}")


def upload_tree(s3, folder: Path, uri: str, local_path: str = "") -> None:
    """Upload the files under ``folder``; a link to anything outside it fails the job (nothing is uploaded)."""
    bucket, prefix = split_s3_uri(uri)
    files = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            relative = path.relative_to(folder).as_posix()
            try:
                inside(folder, relative, what=f"output file {relative!r} of {local_path or folder.name}")
            except PathEscape as exc:
                raise JobFailure(CLIENT_ERROR, f"{exc}: outputs are uploaded only from inside their LocalPath") from None
            files.append((path, relative))
    for path, relative in files:
        s3.upload_file(str(path), bucket, f"{prefix.rstrip('/')}/{relative}".lstrip("/"))


def upload_tar(s3, folder: Path, uri: str) -> None:
    archive = folder.parent / (folder.name + ".tar.gz")

    def normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:  # same bytes for the same model
        info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "root", "root"
        return info

    with open(archive, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped, \
            tarfile.open(fileobj=zipped, mode="w") as tar:
        for path in sorted(folder.iterdir()):
            tar.add(path, arcname=path.name, filter=normalise)
    bucket, key = split_s3_uri(uri)
    s3.upload_file(str(archive), bucket, key)
