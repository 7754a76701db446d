"""S3 stores the bytes a client sends, whatever ``Content-Type`` names them, as AWS does.

moto's server let werkzeug parse a form-typed body (``application/x-www-form-urlencoded``, ``multipart/form-data``
with a boundary) as a form: the object was stored empty and the answer was 200. ``curl -X PUT --data-binary @f``
sends exactly that content type. AWS stores an object's bytes as they came, and its ``Content-Type`` is only
metadata returned on GET: https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html (``Content-Type``:
"A standard MIME type describing the format of the contents").
"""

from __future__ import annotations

import hashlib
import http.client
import os
import uuid
from urllib.parse import urlsplit

import pytest
from _support import create_bucket
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

REGION = "eu-west-1"
# Binary bytes that are no valid UTF-8, with a form-looking tail that a form parser would take as fields.
BODY = os.urandom(3000) + bytes(range(256)) + b"\r\n--abc\r\nkey=value&file=x"
FORM_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data; boundary=abc",
              "application/x-www-form-urlencoded; charset=utf-8"]


@pytest.fixture(scope="module")
def bucket(cloud) -> str:
    return create_bucket(cloud, f"integrity-{uuid.uuid4().hex[:12]}")


def stored(s3, bucket: str, key: str) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def raw_request(cloud, method: str, path: str, body: bytes, headers: dict[str, str], sign: bool):
    """One HTTP request to the cloud with http.client (SigV4-signed with the test client's keys when ``sign``)."""
    if sign:
        credentials = cloud.client("s3", region=REGION)._request_signer._credentials
        request = AWSRequest(method, cloud.url + path, data=body,
                             headers={**headers, "x-amz-content-sha256": hashlib.sha256(body).hexdigest()})
        SigV4Auth(credentials, "s3", REGION).add_auth(request)
        headers = dict(request.headers)
    address = urlsplit(cloud.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


class TestPutObjectWithAFormContentType:
    """PutObject with a form content type stores the bytes sent; the content type is kept as metadata."""

    @pytest.mark.parametrize("content_type", FORM_TYPES)
    def test_binary_bytes_round_trip(self, s3, bucket, content_type):
        """
        1. PutObject 3,300 binary bytes (not UTF-8, with a form-like tail) with ContentType set to a form type.
        2. GetObject returns exactly those bytes (moto stored 0 bytes and answered 200), with that ContentType.
        """
        key = f"form/{uuid.uuid4().hex}"
        s3.put_object(Bucket=bucket, Key=key, Body=BODY, ContentType=content_type)
        response = s3.get_object(Bucket=bucket, Key=key)
        assert response["Body"].read() == BODY
        assert response["ContentType"] == content_type


class TestUploadPartWithAFormContentType:
    """UploadPart sent with a form content type stores the part's bytes."""

    @pytest.mark.parametrize("content_type", FORM_TYPES)
    def test_parts_round_trip(self, s3, bucket, content_type):
        """
        1. Start a multipart upload; upload two parts (5 MiB of random bytes, then BODY) with a form Content-Type
           header on the UploadPart requests; complete it.
        2. GetObject returns the two parts' bytes, in order.
        """
        key = f"multipart/{uuid.uuid4().hex}"
        first = os.urandom(5 * 1024 * 1024)

        def form_type(request, **_):
            request.headers["Content-Type"] = content_type

        s3.meta.events.register("before-sign.s3.UploadPart", form_type)
        try:
            upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
            parts = [{"PartNumber": number, "ETag": s3.upload_part(Bucket=bucket, Key=key, UploadId=upload,
                                                                  PartNumber=number, Body=body)["ETag"]}
                     for number, body in ((1, first), (2, BODY))]
        finally:
            s3.meta.events.unregister("before-sign.s3.UploadPart", form_type)
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})
        assert stored(s3, bucket, key) == first + BODY


class TestCurlStylePut:
    """A raw ``PUT /bucket/key`` as ``curl -X PUT --data-binary @file`` sends it (form-urlencoded)."""

    def test_signed_raw_put_round_trips(self, cloud, s3, bucket):
        """
        1. PUT BODY to /bucket/key with http.client, Content-Type application/x-www-form-urlencoded, signed with
           SigV4 (as ``curl --aws-sigv4`` does) with the keys the test client uses.
        2. 200; GetObject returns exactly BODY (moto stored 0 bytes).
        """
        key = f"curl/{uuid.uuid4().hex}"
        status, answer = raw_request(cloud, "PUT", f"/{bucket}/{key}", BODY,
                                     {"Content-Type": "application/x-www-form-urlencoded"}, sign=True)
        assert status == 200, answer
        assert stored(s3, bucket, key) == BODY

    def test_unsigned_raw_put_answers_and_never_stores_other_bytes(self, cloud, s3, bucket):
        """
        1. PUT BODY to /bucket/key with http.client, form-urlencoded and unsigned (plain ``curl``).
        2. The cloud answers within 30 s (moto's dispatcher read the body to look for an ``Action`` and, the
           bytes not being UTF-8, never put it back: the request waited for a body that had gone).
        3. If the answer is 200, GetObject returns exactly BODY; otherwise nothing was stored.
        """
        key = f"curl/{uuid.uuid4().hex}"
        status, answer = raw_request(cloud, "PUT", f"/{bucket}/{key}", BODY,
                                     {"Content-Type": "application/x-www-form-urlencoded"}, sign=False)
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents", [])
        if status == 200:
            assert stored(s3, bucket, key) == BODY
        else:
            assert listed == [], (status, answer)


class TestBrowserPostUploadStillReadsItsForm:
    """A POST to the bucket itself is AWS's browser upload: a multipart form whose fields S3 must read.

    AWS: https://docs.aws.amazon.com/AmazonS3/latest/API/RESTObjectPOST.html (``key`` and ``file`` form fields).
    """

    def test_post_object_form_stores_the_file_field(self, cloud, s3, bucket):
        """
        1. POST a multipart/form-data body to /bucket: the ``key`` and signed policy fields of a presigned POST
           (``generate_presigned_post``), and a ``file`` field (BODY).
        2. 204; the object named by ``key`` holds exactly BODY (its form is parsed, not kept raw).
        """
        import requests

        key = f"browser/{uuid.uuid4().hex}"
        post = s3.generate_presigned_post(bucket, key)
        answer = requests.post(post["url"], data=post["fields"], files={"file": ("f.bin", BODY)}, timeout=30)
        assert answer.status_code == 204, answer.content
        assert stored(s3, bucket, key) == BODY


class TestFormBodiesStillReachFormServices:
    """The query-protocol services (IAM, STS) still read their form-encoded POST bodies."""

    def test_iam_and_sts_calls_work(self, cloud):
        """
        1. STS GetCallerIdentity and IAM CreateRole/GetRole/DeleteRole (POSTs with form-urlencoded bodies).
        2. Each answers as AWS would: an account id, the role named in the request.
        """
        assert cloud.client("sts").get_caller_identity()["Account"].isdigit()
        iam = cloud.client("iam")
        name = f"integrity-{uuid.uuid4().hex[:12]}"
        iam.create_role(RoleName=name, AssumeRolePolicyDocument='{"Version": "2012-10-17", "Statement": []}')
        try:
            assert iam.get_role(RoleName=name)["Role"]["RoleName"] == name
        finally:
            iam.delete_role(RoleName=name)

