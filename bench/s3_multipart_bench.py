"""Print the local cloud's peak memory while it takes a large multipart upload (issue: reliability, item 16).

Usage: .venv/bin/python bench/s3_multipart_bench.py [--parts 8] [--part-mib 128]
Goal: CompleteMultipartUpload's peak RSS above the cloud's RSS before it ≤ 2 × the part size (moto assembled the
object in memory several times over: 4.2 GB for 1 GiB). The peak is the kernel's high-water mark of the cloud
process (VmHWM), reset before each phase through /proc/PID/clear_refs, so no short spike is missed; where the
reset is not allowed, the figure is the peak since the cloud started (and says so).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
from _common import machine_line  # noqa: E402
from conftest_cloud import CloudProcess  # noqa: E402  (the tests' launcher: python -m localcloud)

MIB = 1024 * 1024


def status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


def reset_peak(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS (Linux: write 5 to clear_refs); False when not allowed."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--parts", type=int, default=8)
    parser.add_argument("--part-mib", type=int, default=128)
    args = parser.parse_args()
    part_size = args.part_mib * MIB
    print(machine_line())
    cloud = CloudProcess()
    try:
        pid = cloud.process.pid
        s3 = cloud.client("s3")
        bucket = f"bench-multipart-{os.getpid()}"
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        key = "big/object.bin"
        upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        block = os.urandom(part_size)
        digest = hashlib.md5()
        parts = []
        exact = reset_peak(pid)
        before_parts = status_kib(pid, "VmRSS")
        started = time.perf_counter()
        for number in range(1, args.parts + 1):
            body = number.to_bytes(4, "big") + block[4:]
            digest.update(body)
            parts.append({"PartNumber": number, "ETag": s3.upload_part(
                Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=body)["ETag"]})
        parts_seconds = time.perf_counter() - started
        parts_peak = status_kib(pid, "VmHWM")
        exact = reset_peak(pid) and exact
        before_complete = status_kib(pid, "VmRSS")
        started = time.perf_counter()
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})
        complete_seconds = time.perf_counter() - started
        complete_peak = status_kib(pid, "VmHWM")
        after = status_kib(pid, "VmRSS")
        size = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
        checked = hashlib.md5()
        for chunk in s3.get_object(Bucket=bucket, Key=key)["Body"].iter_chunks(8 * MIB):
            checked.update(chunk)
    finally:
        cloud.stop()
    above = (complete_peak - before_complete) * 1024
    note = "" if exact else " (peaks since the cloud started: clear_refs not allowed)"
    print(f"object: {args.parts} parts × {args.part_mib} MiB = {size / MIB:.0f} MiB; "
          f"read back {'intact' if checked.digest() == digest.digest() else 'DIFFERENT'}{note}")
    print(f"UploadPart ×{args.parts}: {parts_seconds:.1f} s, peak RSS {parts_peak / 1024:.0f} MiB "
          f"({(parts_peak - before_parts) / 1024:.0f} MiB above the {before_parts / 1024:.0f} MiB before)")
    print(f"CompleteMultipartUpload: {complete_seconds:.1f} s, peak RSS {complete_peak / 1024:.0f} MiB, "
          f"{above / MIB:.0f} MiB above the {before_complete / 1024:.0f} MiB before "
          f"= {above / part_size:.2f} × the part size (goal ≤ 2); RSS after {after / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
