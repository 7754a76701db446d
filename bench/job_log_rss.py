"""Print how much the local cloud's memory grows while a processing job prints a lot to stdout.

Usage: .venv/bin/python bench/job_log_rss.py [--mb 300] [--line-bytes 100] [--lambda-mb 50]

A processing job (a Python one-liner) writes ``--mb`` megabytes to stdout in ``--line-bytes`` lines; the
cloud's RSS (psutil, sampled every 50 ms) is printed before, at its peak while the job runs and logs, and
after. Then a Lambda handler prints one line of ``--lambda-mb`` megabytes, measured the same way. What
CloudWatch Logs kept is printed too: event count, largest event, bytes. Figures only, never asserted.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "localcloud"))
sys.path.insert(0, str(ROOT / "bench"))
from _common import machine_line, wait_job  # noqa: E402
from _support import create_role, zip_bytes  # noqa: E402
from conftest_cloud import CloudProcess  # noqa: E402  (the tests' launcher: python -m localcloud)

REGION = "eu-west-1"


class Peak:
    """The highest RSS of a process while the block runs, sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        self.process, self.peak, self._stop = psutil.Process(pid), 0, threading.Event()

    def rss(self) -> int:
        return self.process.memory_info().rss

    def __enter__(self) -> Peak:
        self.peak = self.rss()
        threading.Thread(target=self._sample, daemon=True).start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self.rss())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()


def stored(logs, group: str, stream_prefix: str) -> tuple[int, int, int]:
    """(events, largest event in bytes, bytes) in the group's streams starting with the prefix."""
    count = largest = total = 0
    prefix = {"logStreamNamePrefix": stream_prefix} if stream_prefix else {}
    for stream in logs.describe_log_streams(logGroupName=group, **prefix)["logStreams"]:
        token = None
        while True:
            kwargs = {"nextToken": token} if token else {}
            page = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True,
                                       **kwargs)
            for event in page["events"]:
                size = len(event["message"].encode())
                count, largest, total = count + 1, max(largest, size), total + size
            if not page["events"] or page["nextForwardToken"] == token:
                break
            token = page["nextForwardToken"]
    return count, largest, total


def mb(value: int) -> str:
    return f"{value / 1e6:.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=300, help="megabytes the job prints; default 300")
    parser.add_argument("--line-bytes", type=int, default=100, help="bytes a line (newline included); default 100")
    parser.add_argument("--lambda-mb", type=int, default=50, help="megabytes of the Lambda's one line; default 50")
    args = parser.parse_args()
    print(machine_line())
    cloud = CloudProcess()
    try:
        role = create_role(cloud, f"bench-logs-{uuid.uuid4().hex[:8]}")
        sm, logs = cloud.client("sagemaker", REGION), cloud.client("logs", REGION)
        warm_up = f"bench-logs-{uuid.uuid4().hex[:8]}"  # the first job's own cost (imports, threads) is not the log's
        sm.create_processing_job(
            ProcessingJobName=warm_up, RoleArn=role,
            AppSpecification={"ImageUri": "local/any:latest", "ContainerEntrypoint": ["python3", "-c", "print(1)"]},
            ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.t3.medium",
                                                   "VolumeSizeInGB": 1}})
        wait_job(sm, "processing", warm_up)
        time.sleep(1)
        lines = args.mb * 1_000_000 // args.line_bytes
        script = (f"import sys; line = 'x' * {args.line_bytes - 1} + '\\n'; "
                  f"sys.stdout.writelines(line for _ in range({lines}))")  # one line: ContainerEntrypoint's pattern
        name = f"bench-logs-{uuid.uuid4().hex[:8]}"
        with Peak(cloud.process.pid) as peak:
            before = peak.rss()
            started = time.monotonic()
            sm.create_processing_job(
                ProcessingJobName=name, RoleArn=role,
                AppSpecification={"ImageUri": "local/any:latest", "ContainerEntrypoint": ["python3", "-c", script]},
                ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.t3.medium",
                                                       "VolumeSizeInGB": 1}})
            status = wait_job(sm, "processing", name)["ProcessingJobStatus"]
            seconds = time.monotonic() - started
        time.sleep(1)
        after = peak.rss()
        events = stored(logs, "/aws/sagemaker/ProcessingJobs", name)
        print(f"job printing {args.mb} MB ({lines} lines): {status} in {seconds:.1f} s; cloud RSS {mb(before)} "
              f"before, {mb(peak.peak)} at peak (+{mb(peak.peak - before)}), {mb(after)} after "
              f"(+{mb(after - before)}); logs kept {events[0]} events, largest {events[1]} B, {mb(events[2])}")

        lam = cloud.client("lambda", REGION)
        function = f"bench-logs-{uuid.uuid4().hex[:8]}"
        lam.create_function(FunctionName=function, Runtime="python3.11", Role=role, Handler="app.handler",
                            Timeout=120, MemorySize=1024, Code={"ZipFile": zip_bytes({"app.py": (
                                f"def handler(event, context):\n    print('y' * {args.lambda_mb * 1_000_000})\n"
                                "    return 'printed'\n")})})
        with Peak(cloud.process.pid) as peak:
            before = peak.rss()
            started = time.monotonic()
            answer = lam.invoke(FunctionName=function, Payload=b"{}")["Payload"].read()
            seconds = time.monotonic() - started
        time.sleep(1)
        after = peak.rss()
        events = stored(logs, f"/aws/lambda/{function}", "")
        print(f"Lambda printing one {args.lambda_mb} MB line: {answer.decode()} in {seconds:.1f} s; cloud RSS "
              f"{mb(before)} before, {mb(peak.peak)} at peak (+{mb(peak.peak - before)}), {mb(after)} after "
              f"(+{mb(after - before)}); logs kept {events[0]} events, largest {events[1]} B, {mb(events[2])}")
    finally:
        cloud.stop()


if __name__ == "__main__":
    main()
