"""CompleteMultipartUpload assembles the object part by part, with moto's ETag and checksum (seams 27-28).

moto joined the parts in memory and copied them three more times: a 1 GiB upload peaked at 4.2 GB
(bench/s3_multipart_bench.py prints the figure).
"""

from __future__ import annotations

import os
import uuid

import pytest
from _support import create_bucket

REGION = "eu-west-1"


def _status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


class TestCompleteMultipartUploadStreamsItsParts:
    """CompleteMultipartUpload's peak memory is about one part, not the object."""

    def test_peak_rss_growth_is_at_most_two_parts(self, tmp_path):
        """
        1. A cloud of its own (nothing else runs in it); a multipart upload of 6 parts × 16 MiB.
        2. Reset the cloud's peak RSS (VmHWM, through /proc/PID/clear_refs), complete the upload.
        3. The peak is at most 2 × 16 MiB above the RSS before CompleteMultipartUpload (moto's: ~6 × 16 × 4 MiB).
        4. The object reads back as the parts' bytes, in order.
        """
        from conftest_cloud import CloudProcess

        part = 16 * 1024 * 1024
        blocks = [os.urandom(part) for _ in range(6)]
        own = CloudProcess(env={**os.environ, "TMPDIR": str(tmp_path)})
        try:
            s3 = own.client("s3", region=REGION)
            bucket = create_bucket(own, f"stream-{uuid.uuid4().hex[:12]}")
            upload = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
            parts = [{"PartNumber": number, "ETag": s3.upload_part(Bucket=bucket, Key="big", UploadId=upload,
                                                                  PartNumber=number, Body=block)["ETag"]}
                     for number, block in enumerate(blocks, start=1)]
            pid = own.process.pid
            try:
                with open(f"/proc/{pid}/clear_refs", "w") as refs:
                    refs.write("5")  # VmHWM := VmRSS now
            except OSError as refused:
                pytest.skip(f"cannot reset the cloud's peak RSS here: {refused}")
            before = _status_kib(pid, "VmRSS")
            s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=upload, MultipartUpload={"Parts": parts})
            growth = (_status_kib(pid, "VmHWM") - before) * 1024
            assert growth <= 2 * part, f"peak {growth / part:.1f} × the part size above the RSS before"
            assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == b"".join(blocks)
        finally:
            own.stop()


class TestTheAssembledObjectIsMotos:
    """The streamed completion gives the ETag and checksum moto's own completion gives, for the same parts."""

    @pytest.mark.parametrize("algorithm, kind", [(None, None), ("CRC32", "FULL_OBJECT"), ("SHA256", "COMPOSITE"),
                                                 ("CRC32", "COMPOSITE")])
    def test_same_etag_checksum_and_bytes(self, monkeypatch, algorithm, kind):
        """
        1. In moto in-process (no seams installed), a multipart upload of three parts (5 MiB, 5 MiB, 1 KiB) with the
           given checksum algorithm and type (none: moto's default full-object CRC64NVME).
        2. moto's FakeMultipart.complete and seam 27's complete, on the same parts: the same ETag and checksum
           details; seam 28 writes the same bytes into a FakeKey as moto's joined value.
        """
        import boto3
        from moto import mock_aws
        from moto.s3.models import FakeKey, FakeMultipart, s3_backends

        from localcloud.moto_seams import _s3_multipart, _state

        # moto's own, whether or not an in-process cloud of another test left the seams installed
        moto_complete = _state.originals.get("s3_multipart_complete", FakeMultipart.complete)
        monkeypatch.setitem(_state.originals, "s3_key_value", _state.originals.get("s3_key_value", FakeKey.value))
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            monkeypatch.setenv(name, "unit")
        blocks = [os.urandom(5 * 1024 * 1024), os.urandom(5 * 1024 * 1024), os.urandom(1024)]
        with mock_aws():
            s3 = boto3.client("s3", region_name=REGION)
            s3.create_bucket(Bucket="assembled", CreateBucketConfiguration={"LocationConstraint": REGION})
            start = {"ChecksumAlgorithm": algorithm, "ChecksumType": kind} if algorithm else {}
            upload = s3.create_multipart_upload(Bucket="assembled", Key="k", **start)["UploadId"]
            etags = [(number, s3.upload_part(Bucket="assembled", Key="k", UploadId=upload, PartNumber=number,
                                             Body=block)["ETag"]) for number, block in enumerate(blocks, start=1)]
            account = boto3.client("sts", region_name=REGION).get_caller_identity()["Account"]
            multipart = s3_backends[account]["aws"].buckets["assembled"].multiparts[upload]
            joined, etag, checksum = moto_complete(multipart, iter(etags))
            assembled, streamed_etag, streamed_checksum = _s3_multipart._complete(multipart, iter(etags))
            assert (streamed_etag, streamed_checksum) == (etag, checksum)
            assert isinstance(assembled, _s3_multipart.AssembledParts) and len(assembled) == 0
            key = FakeKey("k", b"", account_id=account, region_name=REGION)
            _s3_multipart.key_value.fset(key, assembled)
            assert (key.value, key.contentsize) == (joined, len(joined)) == (b"".join(blocks), sum(map(len, blocks)))
