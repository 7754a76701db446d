"""26. S3 checks what AWS checks of an object request before moto acts on it (``S3Response._key_response``).

moto stored an object whatever its ``Content-MD5`` or ``x-amz-checksum-*`` header said, and took keys of any
length. AWS (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList) refuses:

* a PUT or POST on a key over 1,024 bytes of UTF-8: ``KeyTooLongError``;
* a PutObject or UploadPart whose ``Content-MD5`` is no base64 MD5: ``InvalidDigest``, or is another body's:
  ``BadDigest``;
* one whose ``x-amz-checksum-<algorithm>`` is no base64 value of that algorithm's size: ``InvalidRequest``, or is
  another body's: ``BadDigest``. CRC32, SHA1 and SHA256 are computed here; CRC32C and CRC64NVME need a library the
  kit does not ship, so only their size is checked.

moto learns which checksum an upload carries only from ``x-amz-sdk-checksum-algorithm``, which botocore does not
send with a checksum the caller gave: the algorithm of the one value header is written into the request, so that
moto keeps the checksum and answers it, as AWS does. The bytes checked are the body moto stores (aws-chunked
bodies decoded). Checksums sent in an aws-chunked trailer are left to moto.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlparse

from moto.s3.exceptions import S3ClientError

from localcloud.moto_seams import _state

MAX_KEY_BYTES = 1024
# algorithm -> (size of its value in bytes, how to compute it; None: not computable here)
CHECKSUMS: dict[str, tuple[int, Callable[[bytes], bytes] | None]] = {
    "CRC32": (4, lambda data: zlib.crc32(data).to_bytes(4, "big")),
    "CRC32C": (4, None),
    "CRC64NVME": (8, None),
    "SHA1": (20, lambda data: hashlib.sha1(data).digest()),
    "SHA256": (32, lambda data: hashlib.sha256(data).digest()),
}
_SUBRESOURCES = ("acl", "tagging", "retention", "legal-hold")  # PUTs on an object that upload no object bytes


class S3RequestRefused(S3ClientError):
    """A refusal with AWS's code and message (moto's ``key_response`` answers it as an S3 error)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)


def _decoded(value: str, size: int) -> bytes | None:
    """``value``'s base64 bytes if they are ``size`` long; None when malformed."""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == size else None


def check_key(key: str) -> None:
    """Raises S3RequestRefused(KeyTooLongError) for a key over 1,024 bytes of UTF-8."""
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise S3RequestRefused("KeyTooLongError", "Your key is too long.")


def check_content_md5(headers: Mapping[str, str], body: bytes) -> None:
    """Raises S3RequestRefused (InvalidDigest, BadDigest) unless ``Content-MD5``, when sent, is ``body``'s."""
    value = headers.get("Content-MD5")
    if value is None:
        return
    expected = _decoded(value, 16)
    if expected is None:
        raise S3RequestRefused("InvalidDigest", "The Content-MD5 you specified was invalid.")
    if hashlib.md5(body, usedforsecurity=False).digest() != expected:
        raise S3RequestRefused("BadDigest", "The Content-MD5 you specified did not match what we received.")


def checked_checksum(headers: Mapping[str, str], body: bytes) -> str | None:
    """The algorithm of the ``x-amz-checksum-*`` header sent (None if none), once its value is ``body``'s.

    Raises:
        S3RequestRefused: InvalidRequest for several value headers, one that disagrees with
            ``x-amz-sdk-checksum-algorithm``, or a malformed value; BadDigest for another body's value.
    """
    sent = {name.lower()[len("x-amz-checksum-"):].upper(): value for name, value in headers.items()
            if name.lower().startswith("x-amz-checksum-") and name.lower() != "x-amz-checksum-type"}
    sent = {algorithm: value for algorithm, value in sent.items() if algorithm in CHECKSUMS}
    if not sent:
        return None
    if len(sent) > 1:
        raise S3RequestRefused("InvalidRequest", "Expecting a single x-amz-checksum- header. "
                                                 "Multiple checksum Types are not allowed.")
    (algorithm, value), = sent.items()
    declared = headers.get("x-amz-sdk-checksum-algorithm")
    if declared and declared.upper() != algorithm:
        raise S3RequestRefused("InvalidRequest", "Value for x-amz-sdk-checksum-algorithm header is invalid.")
    size, compute = CHECKSUMS[algorithm]
    expected = _decoded(value, size)
    if expected is None:
        raise S3RequestRefused("InvalidRequest", f"Value for x-amz-checksum-{algorithm.lower()} header is invalid.")
    if compute is not None and compute(body) != expected:
        raise S3RequestRefused("BadDigest", f"The {algorithm} you specified did not match the calculated checksum.")
    return algorithm


def _uploads_bytes(method: str, query: Mapping[str, list[str]], headers: Mapping[str, str]) -> bool:
    """PutObject or UploadPart: a PUT of object bytes (not a copy, not an ACL, tagging or lock setting)."""
    if method != "PUT" or "x-amz-copy-source" in headers:
        return False
    if "uploadId" in query and "partNumber" in query:
        return True
    return not any(name in query for name in _SUBRESOURCES)


def _key_response(self: Any, request: Any, full_url: str) -> Any:
    original = _state.originals["s3_key_response_checks"]
    if request.method not in ("PUT", "POST"):
        return original(self, request, full_url)
    check_key(self.parse_key_name())
    query = parse_qs(urlparse(full_url).query, keep_blank_values=True)
    if _uploads_bytes(request.method, query, self.headers):
        body = self.body if isinstance(self.body, bytes) else (self.body or "").encode("utf-8")
        check_content_md5(self.headers, body)
        algorithm = checked_checksum(self.headers, body)
        if algorithm and not self.headers.get("x-amz-sdk-checksum-algorithm"):
            # self.headers is a view of the WSGI environ: moto reads the algorithm from there
            request.environ["HTTP_X_AMZ_SDK_CHECKSUM_ALGORITHM"] = algorithm
    return original(self, request, full_url)
