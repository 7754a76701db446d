"""S3's conditional writes hold in the local cloud under a race, as on AWS: the kit claims run ids with them.

moto checks ``If-None-Match`` and then stores the object, not atomically: under load (3 test workers on
2 cores) two of twelve writers once both won a new key. Seam 18 (``moto_seams._s3``) makes the check and
the write one step; the first test races real writers through the shared cloud, the second widens moto's
window between the two on purpose, in a cloud in this process, so that a missing seam fails every time.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from conftest_cloud import boto_keys

WRITERS = 12
ROUNDS = 5


class TestOneWriterWinsARace:
    """Writers racing to create one key with ``If-None-Match: *``: exactly one succeeds.

    AWS: https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html — the write fails
    when an object with the key exists (412 Precondition Failed; a concurrent conditional write may get
    409 ConditionalRequestConflict instead).
    """

    def test_exactly_one_of_twelve_concurrent_writers_wins(self, cloud, unique):
        """
        1. Make a bucket; 12 threads, each with its own connection, put the same new key with If-None-Match "*"
           and a body naming the writer; repeat for 5 keys.
        2. For each key exactly one writer succeeds; every other one gets PreconditionFailed (412) or
           ConditionalRequestConflict (409).
        3. The stored body is the winner's.
        """
        import boto3

        bucket = unique
        setup = cloud.client("s3")
        setup.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        session = boto3.session.Session()
        clients = [session.client("s3", region_name="eu-west-1", endpoint_url=cloud.url, **boto_keys(cloud.keys),
                                  config=Config(retries={"max_attempts": 1})) for _ in range(WRITERS)]

        def write(key: str, writer: int) -> str:
            try:
                clients[writer].put_object(Bucket=bucket, Key=key, Body=f"writer {writer}".encode(), IfNoneMatch="*")
                return "won"
            except ClientError as error:
                return error.response["Error"]["Code"]

        for round_number in range(ROUNDS):
            key = f"claims/run-{round_number}"
            with ThreadPoolExecutor(WRITERS) as pool:
                outcomes = list(pool.map(lambda w: write(key, w), range(WRITERS)))
            winners = [writer for writer, outcome in enumerate(outcomes) if outcome == "won"]
            assert len(winners) == 1, f"{key}: {outcomes}"
            assert set(outcomes) - {"won"} <= {"PreconditionFailed", "ConditionalRequestConflict"}, outcomes
            body = setup.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
            assert body == f"writer {winners[0]}"


class TestTheCheckAndTheWriteAreOneStep:
    """With moto slowed between its check and its write, conditional writers still have one winner."""

    @pytest.mark.parametrize("upload", ["put_object", "multipart"])
    def test_six_writers_through_a_wide_window(self, monkeypatch, upload):
        """
        1. A cloud in this process (no IAM) whose S3 answers a key lookup 50 ms after making it: moto's check
           of If-None-Match is that old when it writes.
        2. Six writers create one new key with If-None-Match "*" at once: by PutObject, or each completing a
           multipart upload of its own.
        3. Exactly one wins; the others get PreconditionFailed (without seam 18 all six passed the check).
        """
        import boto3
        from moto.s3.models import S3Backend

        from localcloud import moto_seams
        from localcloud.cloud import LocalCloud

        looked_up = S3Backend.get_object

        def slow_lookup(self, bucket_name, key_name, *args, **kwargs):
            found = looked_up(self, bucket_name, key_name, *args, **kwargs)
            if key_name == KEY:
                time.sleep(0.05)  # after the lookup: the answer is 50 ms old when moto acts on it
            return found

        monkeypatch.setattr(S3Backend, "get_object", slow_lookup)
        monkeypatch.delenv("MOTO_PORT", raising=False)
        try:
            with LocalCloud(port=0, iam=False) as cloud:
                session = boto3.session.Session(aws_access_key_id=cloud.keys.access_key_id, aws_secret_access_key=cloud.keys.secret_access_key,
                                                region_name="eu-west-1")
                clients = [session.client("s3", endpoint_url=cloud.url, config=Config(retries={"max_attempts": 1}))
                           for _ in range(6)]
                bucket = f"wide-window-{upload.replace('_', '-')}"  # moto's state outlives one in-process cloud
                clients[0].create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
                uploads = [_started_upload(client, bucket, writer) for writer, client in enumerate(clients)] \
                    if upload == "multipart" else []

                def write(writer: int) -> str:
                    try:
                        if upload == "multipart":
                            clients[writer].complete_multipart_upload(
                                Bucket=bucket, Key=KEY, UploadId=uploads[writer],
                                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": _PART_ETAGS[uploads[writer]]}]},
                                IfNoneMatch="*")
                        else:
                            clients[writer].put_object(Bucket=bucket, Key=KEY, Body=f"writer {writer}".encode(),
                                                       IfNoneMatch="*")
                        return "won"
                    except ClientError as error:
                        return error.response["Error"]["Code"]

                with ThreadPoolExecutor(6) as pool:
                    outcomes = list(pool.map(write, range(6)))
                stored = clients[0].get_object(Bucket=bucket, Key=KEY)["Body"].read().decode()
                for client in clients:
                    client.close()
        finally:
            moto_seams.uninstall()
        assert outcomes.count("won") == 1, outcomes
        assert set(outcomes) - {"won"} == {"PreconditionFailed"}, outcomes
        assert stored == f"writer {outcomes.index('won')}"


KEY = "claims/wide-window"
_PART_ETAGS: dict[str, str] = {}


def _started_upload(client, bucket: str, writer: int) -> str:
    """A multipart upload of KEY with one part naming the writer; its id (the part's ETag kept in _PART_ETAGS)."""
    upload = client.create_multipart_upload(Bucket=bucket, Key=KEY)["UploadId"]
    _PART_ETAGS[upload] = client.upload_part(Bucket=bucket, Key=KEY, UploadId=upload, PartNumber=1,
                                             Body=f"writer {writer}".encode())["ETag"]
    return upload
