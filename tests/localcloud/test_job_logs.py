"""A processing job's output reaches CloudWatch Logs while it runs, in events of at most 256 KB.

SageMaker streams a job's stdout and stderr to ``/aws/sagemaker/ProcessingJobs`` as the job runs
(https://docs.aws.amazon.com/sagemaker/latest/dg/logging-cloudwatch.html); an event is at most 256 KB, 26 bytes of
overhead included (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html).
The local cloud keeps logs in memory: of one job's output it keeps the first 8 MiB / 20,000 events and the
last 2 MiB / 10,000 events, and one event in between says how much it left out (localcloud.child.log_events).
The cloud's memory while a job prints 300 MB is measured by bench/job_log_rss.py.

Every test talks to ``python -m localcloud`` (the ``cloud`` fixture) through boto3 only.
"""

from __future__ import annotations

import pytest
from _support import create_role, unique_name
from _wait import wait_for, wait_for_status

REGION = "eu-west-1"
GROUP = "/aws/sagemaker/ProcessingJobs"
MESSAGE_LIMIT = 262_144 - 26


@pytest.fixture(scope="module")
def role(cloud):
    return create_role(cloud, unique_name("job-logs"))


def _run(sm, role: str, script: str, environment: dict[str, str] | None = None) -> str:
    """Start a processing job running ``python3 -c script`` (one line: ContainerEntrypoint's pattern)."""
    name = unique_name("job-logs")
    sm.create_processing_job(
        ProcessingJobName=name, RoleArn=role, **({"Environment": environment} if environment else {}),
        AppSpecification={"ImageUri": "local/any:latest", "ContainerEntrypoint": ["python3", "-c", script]},
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.t3.medium",
                                               "VolumeSizeInGB": 1}},
        StoppingCondition={"MaxRuntimeInSeconds": 120})
    return name


def _messages(cloud, name: str) -> list[str]:
    """The events of the job's own log stream, oldest first (FilterLogEvents would mix in other jobs')."""
    logs, messages = cloud.client("logs", REGION), []
    for stream in logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=f"{name}/")["logStreams"]:
        token = None
        while True:
            page = logs.get_log_events(logGroupName=GROUP, logStreamName=stream["logStreamName"], startFromHead=True,
                                       **({"nextToken": token} if token else {}))
            messages += [event["message"] for event in page["events"]]
            if not page["events"] or page["nextForwardToken"] == token:
                break
            token = page["nextForwardToken"]
    return messages


def _ended(sm, name: str) -> dict:
    return wait_for_status(lambda: sm.describe_processing_job(ProcessingJobName=name), "ProcessingJobStatus",
                           {"Completed", "Failed", "Stopped"}, timeout=90)


class TestLogsWhileTheJobRuns:
    def test_first_line_is_there_before_the_job_ends(self, cloud, sm, role, tmp_path):
        """
        1. A job prints a line, then waits (up to 60 s) for a file the test makes.
        2. The line is in the job's log stream while the job is still InProgress.
        3. The test makes the file; the job completes and its last line follows.
        """
        release = tmp_path / "release"
        # the path in the environment: an entrypoint member is at most 256 characters, and tmp_path is long
        name = _run(sm, role, "import os, time; print('started', flush=True); deadline = time.time() + 60; "
                              "[time.sleep(0.1) for _ in iter(lambda: os.path.exists(os.environ['RELEASE']) "
                              "or time.time() > deadline, True)]; print('released')", {"RELEASE": str(release)})
        messages = wait_for(lambda: _messages(cloud, name), timeout=30,
                            description="the job's first log line")
        assert messages == ["started"]
        assert sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"] == "InProgress"
        release.touch()
        assert _ended(sm, name)["ProcessingJobStatus"] == "Completed"
        assert wait_for(lambda: _messages(cloud, name) == ["started", "released"], timeout=10)


class TestEventLimits:
    def test_long_line_is_split(self, cloud, sm, role):
        """
        1. A job prints a 600,000-byte line, then "done".
        2. The log holds the line as events of at most 262,118 bytes that join up to it, then "done".
        """
        name = _run(sm, role, "print('q' * 600000); print('done')")
        assert _ended(sm, name)["ProcessingJobStatus"] == "Completed"
        messages = _messages(cloud, name)
        assert all(len(m.encode()) <= MESSAGE_LIMIT for m in messages), [len(m) for m in messages]
        assert messages[-1] == "done" and "".join(messages[:-1]) == "q" * 600000

    def test_large_output_keeps_its_first_and_last_lines(self, cloud, sm, role):
        """
        1. A job prints 100,000 numbered lines and fails with exit code 3.
        2. Its log holds lines 0-19999, one event naming the 70,000 events left out, and lines 30000-99999's
           last 10,000 (90000-99999); the FailureReason still ends with the job's last line.
        """
        name = _run(sm, role, "import sys; sys.stdout.writelines(f'line {n}\\n' for n in range(100000)); sys.exit(3)")
        job = _ended(sm, name)
        assert job["ProcessingJobStatus"] == "Failed"
        assert job["FailureReason"].endswith("line 99999"), job["FailureReason"]
        messages = _messages(cloud, name)
        assert messages[:20000] == [f"line {n}" for n in range(20000)]
        assert messages[20000].startswith("[localcloud: 70000 log events (") and "left out" in messages[20000]
        assert messages[20001:] == [f"line {n}" for n in range(90000, 100000)]


class TestMemory:
    def test_output_is_not_held_whole(self, cloud, sm, role):
        """
        1. A small job first (the cloud's own first-job cost is not the log's); then a job printing 50 MB
           (500,000 lines of 100 bytes) while psutil samples the cloud's RSS every 20 ms.
        2. The cloud grew by less than 80 MB at its peak (reading the whole output, as it did, took 3-4 times its size).
        """
        import threading

        import psutil

        assert _ended(sm, _run(sm, role, "print(1)"))["ProcessingJobStatus"] == "Completed"
        process = psutil.Process(cloud.process.pid)
        before = peak = process.memory_info().rss
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not stop.wait(0.02):
                peak = max(peak, process.memory_info().rss)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            name = _run(sm, role, "import sys; line = 'x' * 99 + '\\n'; "
                                  "sys.stdout.writelines(line for _ in range(500000))")
            assert _ended(sm, name)["ProcessingJobStatus"] == "Completed"
        finally:
            stop.set()
            sampler.join()
        grown = (peak - before) / 1e6
        print(f"cloud RSS {before / 1e6:.0f} MB before, +{grown:.0f} MB at peak for 50 MB of job output")
        assert grown < 80, f"the cloud grew by {grown:.0f} MB while a job printed 50 MB"
