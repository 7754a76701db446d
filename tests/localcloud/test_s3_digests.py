"""S3 refuses an upload whose digest or checksum does not match its bytes, and keys over 1,024 bytes, as AWS does.

moto stored the object whatever ``Content-MD5`` or ``x-amz-checksum-*`` said, and took keys of any length.
AWS's codes and messages (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList):
``BadDigest`` "The Content-MD5 you specified did not match what we received.", ``InvalidDigest`` "The Content-MD5
you specified was invalid.", ``KeyTooLongError`` "Your key is too long."; a checksum that does not match is
``BadDigest`` "The SHA256 you specified did not match the calculated checksum." (the algorithm's name varies: seen
in AWS's answers quoted in https://github.com/versity/versitygw/issues/1694 and
https://github.com/aws/aws-sdk-ruby/issues/3322), a malformed one ``InvalidRequest`` "Value for
x-amz-checksum-crc32 header is invalid." (https://github.com/localstack/localstack/issues/12169). Keys are at most
1,024 bytes of UTF-8: https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html.
"""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
import zlib

import pytest
from _support import create_bucket
from botocore.exceptions import ClientError

BODY = os.urandom(2048)
OTHER = b"not the bytes that were sent"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def md5(data: bytes) -> str:
    return b64(hashlib.md5(data).digest())


def crc32(data: bytes) -> str:
    return b64(zlib.crc32(data).to_bytes(4, "big"))


def sha1(data: bytes) -> str:
    return b64(hashlib.sha1(data).digest())


def sha256(data: bytes) -> str:
    return b64(hashlib.sha256(data).digest())


@pytest.fixture(scope="module")
def bucket(cloud) -> str:
    return create_bucket(cloud, f"digests-{uuid.uuid4().hex[:12]}")


def upload(s3, bucket: str, operation: str, key: str, **digest: str) -> dict:
    """PutObject, or UploadPart into a new multipart upload of ``key``, of BODY with the ``digest`` parameters."""
    if operation == "put_object":
        return s3.put_object(Bucket=bucket, Key=key, Body=BODY, **digest)
    algorithm = {"ChecksumCRC32": "CRC32", "ChecksumSHA1": "SHA1", "ChecksumSHA256": "SHA256"}
    start = {"ChecksumAlgorithm": algorithm[name] for name in digest if name in algorithm}
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **start)["UploadId"]
    return s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=BODY, **digest)


def nothing_stored(s3, bucket: str, key: str, operation: str) -> bool:
    """No object at ``key``, and (for UploadPart) no part in its uploads."""
    if s3.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents"):
        return False
    if operation == "put_object":
        return True
    uploads = s3.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Uploads", [])
    return all(not s3.list_parts(Bucket=bucket, Key=key, UploadId=u["UploadId"]).get("Parts") for u in uploads)


def refusal(call) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as refused:
        call()
    error = refused.value.response
    return error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"], error["Error"]["Message"]


OPERATIONS = ["put_object", "upload_part"]


class TestContentMd5IsChecked:
    """``Content-MD5`` must be the base64 MD5 of the bytes received."""

    @pytest.mark.parametrize("operation", OPERATIONS)
    def test_a_wrong_md5_is_bad_digest_and_nothing_is_stored(self, s3, bucket, operation):
        """
        1. PutObject / UploadPart of BODY with the Content-MD5 of other bytes.
        2. 400 BadDigest "The Content-MD5 you specified did not match what we received." (moto stored it).
        3. No object, no part.
        """
        key = f"md5/{uuid.uuid4().hex}"
        assert refusal(lambda: upload(s3, bucket, operation, key, ContentMD5=md5(OTHER))) == (
            400, "BadDigest", "The Content-MD5 you specified did not match what we received.")
        assert nothing_stored(s3, bucket, key, operation)

    @pytest.mark.parametrize("operation", OPERATIONS)
    @pytest.mark.parametrize("malformed", ["not-base64!", b64(b"12345"), ""], ids=["not-base64", "5-bytes", "empty"])
    def test_a_malformed_md5_is_invalid_digest(self, s3, bucket, operation, malformed):
        """
        1. PutObject / UploadPart of BODY with a Content-MD5 that is no base64 MD5 (not base64; 5 bytes; empty).
        2. 400 InvalidDigest "The Content-MD5 you specified was invalid."; nothing stored.
        """
        key = f"md5/{uuid.uuid4().hex}"
        assert refusal(lambda: upload(s3, bucket, operation, key, ContentMD5=malformed)) == (
            400, "InvalidDigest", "The Content-MD5 you specified was invalid.")
        assert nothing_stored(s3, bucket, key, operation)

    @pytest.mark.parametrize("operation", OPERATIONS)
    def test_the_right_md5_is_stored(self, s3, bucket, operation):
        """
        1. PutObject / UploadPart of BODY with its own Content-MD5.
        2. 200, and the ETag is BODY's MD5.
        """
        answer = upload(s3, bucket, operation, f"md5/{uuid.uuid4().hex}", ContentMD5=md5(BODY))
        assert answer["ETag"] == f'"{hashlib.md5(BODY).hexdigest()}"'


CHECKSUMS = [("ChecksumCRC32", "CRC32", crc32, "crc32"), ("ChecksumSHA1", "SHA1", sha1, "sha1"),
             ("ChecksumSHA256", "SHA256", sha256, "sha256")]


class TestChecksumsAreChecked:
    """``x-amz-checksum-<algorithm>`` must be the checksum of the bytes received."""

    @pytest.mark.parametrize("operation", OPERATIONS)
    @pytest.mark.parametrize("parameter, name, compute, header", CHECKSUMS, ids=[c[1] for c in CHECKSUMS])
    def test_a_wrong_checksum_is_bad_digest(self, s3, bucket, operation, parameter, name, compute, header):
        """
        1. PutObject / UploadPart of BODY with the CRC32 / SHA1 / SHA256 of other bytes.
        2. 400 BadDigest "The <ALGORITHM> you specified did not match the calculated checksum."; nothing stored.
        """
        key = f"checksum/{uuid.uuid4().hex}"
        assert refusal(lambda: upload(s3, bucket, operation, key, **{parameter: compute(OTHER)})) == (
            400, "BadDigest", f"The {name} you specified did not match the calculated checksum.")
        assert nothing_stored(s3, bucket, key, operation)

    @pytest.mark.parametrize("operation", OPERATIONS)
    @pytest.mark.parametrize("parameter, name, compute, header", CHECKSUMS, ids=[c[1] for c in CHECKSUMS])
    def test_a_malformed_checksum_is_invalid_request(self, s3, bucket, operation, parameter, name, compute, header):
        """
        1. PutObject / UploadPart of BODY with a checksum that is base64 of the wrong length ("abc" decoded).
        2. 400 InvalidRequest "Value for x-amz-checksum-<algorithm> header is invalid."; nothing stored.
        """
        key = f"checksum/{uuid.uuid4().hex}"
        assert refusal(lambda: upload(s3, bucket, operation, key, **{parameter: b64(b"abc")})) == (
            400, "InvalidRequest", f"Value for x-amz-checksum-{header} header is invalid.")
        assert nothing_stored(s3, bucket, key, operation)

    @pytest.mark.parametrize("operation", OPERATIONS)
    @pytest.mark.parametrize("parameter, name, compute, header", CHECKSUMS, ids=[c[1] for c in CHECKSUMS])
    def test_the_right_checksum_is_stored_and_answered(self, s3, bucket, operation, parameter, name, compute, header):
        """
        1. PutObject / UploadPart of BODY with its own checksum.
        2. 200; the answer carries that checksum.
        """
        answer = upload(s3, bucket, operation, f"checksum/{uuid.uuid4().hex}", **{parameter: compute(BODY)})
        assert answer[parameter] == compute(BODY)

    def test_the_sdks_default_checksum_passes(self, s3, bucket):
        """
        1. PutObject of BODY with no checksum parameter (botocore adds its default CRC32 itself).
        2. 200; GetObject returns BODY.
        """
        key = f"checksum/{uuid.uuid4().hex}"
        s3.put_object(Bucket=bucket, Key=key, Body=BODY)
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == BODY


class TestKeysAreAtMost1024Bytes:
    """An object key is at most 1,024 bytes of UTF-8 (bytes, not characters)."""

    @pytest.mark.parametrize("key", ["k" * 1025, "é" * 513], ids=["1025-ascii", "513-two-byte-characters"])
    def test_a_longer_key_is_refused(self, s3, bucket, key):
        """
        1. PutObject and CreateMultipartUpload with a 1,025-byte key, and one of 513 two-byte characters.
        2. Both 400 KeyTooLongError "Your key is too long." (moto took them); no object is listed.
        """
        expected = (400, "KeyTooLongError", "Your key is too long.")
        assert refusal(lambda: s3.put_object(Bucket=bucket, Key=key, Body=b"x")) == expected
        assert refusal(lambda: s3.create_multipart_upload(Bucket=bucket, Key=key)) == expected
        assert not s3.list_objects_v2(Bucket=bucket, Prefix=key[:10]).get("Contents")

    @pytest.mark.parametrize("key", ["k" * 1024, "é" * 512], ids=["1024-ascii", "512-two-byte-characters"])
    def test_a_1024_byte_key_is_stored(self, s3, bucket, key):
        """
        1. PutObject of b"x" with a key of exactly 1,024 bytes.
        2. 200; GetObject of that key returns b"x".
        """
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"x"
