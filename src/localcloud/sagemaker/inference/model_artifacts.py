"""Read a model artifact without trusting its size, from where its ModelDataUrl says it is.

A stand-in linear-learner model is a few KB of JSON, shipped as ``model.tar.gz``. A 2 MB
``model.tar.gz`` holding a 2 GB member took the cloud to 4.5 GB of memory for 54 s, so an
artifact is measured before it is read: the object's size, then each tar member's header (its
data is skipped, never kept), and only the model file itself is read, once it fits the cap.
Nothing is extracted to disk, so member names (``..``, absolute paths) and links cannot point
anywhere on the host.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from typing import Any
from urllib.parse import unquote

from localcloud.sagemaker.algorithms.linear_learner import model as linear_model

MAX_BYTES = 100 * 1024 * 1024  # the compressed object, and the uncompressed members in total
MAX_MEMBERS = 1000


class ArtifactTooLarge(ValueError):
    """The artifact, or what it unpacks to, passes the cap."""


# ModelDataUrl as https: virtual-hosted (bucket.s3.region.amazonaws.com/key, bucket.s3.amazonaws.com/key) or
# path-style (s3.region.amazonaws.com/bucket/key); CreateModel's pattern is ^(https|s3)://([^/]+)/?(.*)$
_VIRTUAL_HOSTED = re.compile(r"^https://(?P<bucket>[^/]+?)\.s3(?:[.-](?P<region>[a-z0-9-]+))?\.amazonaws\.com(?:\.cn)?/"
                             r"(?P<key>.*)$")
_PATH_STYLE = re.compile(r"^https://s3(?:[.-](?P<region>[a-z0-9-]+))?\.amazonaws\.com(?:\.cn)?/(?P<bucket>[^/]+)/"
                         r"(?P<key>.*)$")


def s3_location(url: str) -> tuple[str, str]:
    """(bucket, key) of a ModelDataUrl: ``s3://bucket/key`` or an S3 object's https URL, as SageMaker takes both
    (AWS's Batch Transform example names its model ``https://<bucket>.s3.<region>.amazonaws.com/<key>``).

    Raises:
        ValueError: neither form.
    """
    match = re.match(r"^s3://([^/]+)/?(.*)$", url)
    if match:
        return match.group(1), match.group(2)
    match = _VIRTUAL_HOSTED.match(url) or _PATH_STYLE.match(url)
    if match:
        return match.group("bucket"), unquote(match.group("key"))
    raise ValueError(f"{url!r} is neither an s3:// URI nor the https URL of an S3 object")


def model_file(body: bytes, name: str | None = linear_model.MODEL_FILE) -> bytes:
    """The model file's bytes from a ``model.tar.gz`` (or any tar), within the cap.

    Args:
        body: the artifact.
        name: the member to read; None reads the first regular file that is not hidden (as the XGBoost
            container loads the first file of its model folder).

    Raises:
        ArtifactTooLarge: the members, in size or number, pass the cap.
        KeyError: there is no regular model file in the archive.
        tarfile.TarError: not a tar archive.
    """
    total = members = 0
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as tar:
        while (info := tar.next()) is not None:
            members += 1
            total += info.size
            if members > MAX_MEMBERS:
                raise ArtifactTooLarge(f"more than {MAX_MEMBERS} members")
            if total > MAX_BYTES:
                raise ArtifactTooLarge(f"member {info.name!r} alone unpacks to {info.size} bytes"
                                       if info.size > MAX_BYTES else f"members unpack to more than {total} bytes")
            member = info.name.removeprefix("./")
            if info.isfile() and (member == name or (name is None and not member.rsplit("/", 1)[-1].startswith("."))):
                return tar.extractfile(info).read()
    raise KeyError(f"no {name or 'model file'} in the archive")


def load(body: bytes) -> dict[str, Any]:
    """The model dict from a ``model.tar.gz`` or bare model JSON, checked as :func:`linear_model.load_model` does.

    Raises:
        ArtifactTooLarge: see :func:`model_file`.
        ValueError, KeyError, tarfile.TarError: not a stand-in model.
    """
    if len(body) > MAX_BYTES:
        raise ArtifactTooLarge(f"an object of more than {MAX_BYTES} bytes")
    raw = model_file(body) if body[:2] == b"\x1f\x8b" or _is_tar(body) else body
    model = json.loads(raw)
    if (not isinstance(model, dict) or model.get("format") != linear_model.FORMAT
            or model.get("format_version") != linear_model.FORMAT_VERSION):
        raise ValueError(f"not a {linear_model.FORMAT} v{linear_model.FORMAT_VERSION} model")
    return model


def _is_tar(body: bytes) -> bool:
    return len(body) > 262 and body[257:262] == b"ustar"


def xgboost_model(body: bytes) -> bytes:
    """The XGBoost model file of an artifact: its ``xgboost-model`` member, else its first file.

    Raises:
        ArtifactTooLarge: see :func:`model_file`.
        KeyError, tarfile.TarError: no model file in it, or not a tar archive.
    """
    if len(body) > MAX_BYTES:
        raise ArtifactTooLarge(f"an object of more than {MAX_BYTES} bytes")
    try:
        return model_file(body, "xgboost-model")
    except KeyError:
        return model_file(body, None)
