"""Jobs and Lambda environments run as process groups that end with them and with the cloud.

On AWS a job's container, or a Lambda execution environment, goes away as a whole: whatever the
command started goes too. Here a job or a handler that starts a ``sleep`` grandchild must not leave
it behind after MaxRuntimeInSeconds, StopProcessingJob, a handler timeout, the cloud stopping, or
the cloud being SIGKILLed. Idle warm environments are reclaimed after a while, as Lambda does
(https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html: "after a period of
inactivity … Lambda shuts down the execution environment").
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from _support import account_id, create_role, ecr_image_uri, unique_name, zip_bytes
from _wait import wait_for, wait_for_status

from conftest_cloud import CloudProcess

REGION = "eu-west-1"
GONE_TIMEOUT = 5
DONE = {"Completed", "Failed", "Stopped"}
# The job: a shell whose background `sleep` is its grandchild (shell = the job's command), pids to a file.
JOB_SCRIPT = 'sleep 300 & echo "$$ $!" > "$0.tmp" && mv "$0.tmp" "$0"; wait'
# The handler: starts `sleep` (the environment's grandchild), writes its pid, then does what the event says.
HANDLER = """
import os, subprocess, time
def handler(event, context):
    child = subprocess.Popen(["sleep", "300"])
    with open(event["pidfile"] + ".tmp", "w") as f:
        f.write(f"{os.getpid()} {child.pid}")
    os.rename(event["pidfile"] + ".tmp", event["pidfile"])
    time.sleep(event.get("sleep", 0))
    return {"pid": os.getpid()}
"""
PID_HANDLER = "import os\ndef handler(event, context):\n    return {'pid': os.getpid()}\n"


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as gone: it runs nothing and holds nothing)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def read_pids(path: Path) -> list[int]:
    text = wait_for(lambda: path.is_file() and path.read_text().strip(), timeout=60, description=str(path))
    pids = [int(pid) for pid in text.split()]
    assert all(map(alive, pids)), f"the processes {pids} should be running now"
    return pids


def assert_gone(pids: list[int], what: str) -> float:
    """Wait until none of ``pids`` runs; return the seconds it took."""
    started = time.monotonic()
    wait_for(lambda: not any(map(alive, pids)), timeout=GONE_TIMEOUT,
             description=f"{what}: processes {[p for p in pids if alive(p)]} still running")
    return time.monotonic() - started


def processing_job(cloud, name: str, account: str, pidfile: Path, max_runtime: int = 300) -> dict:
    """A job whose entrypoint leaves a grandchild running; its role is a real one (the cloud enforces IAM)."""
    return {
        "ProcessingJobName": name, "RoleArn": create_role(cloud, unique_name("procs-role")),
        "AppSpecification": {"ImageUri": ecr_image_uri(account, REGION, "no-image-here"),
                             "ContainerEntrypoint": ["bash", "-c", JOB_SCRIPT, str(pidfile)]},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.t3.medium",
                                                  "VolumeSizeInGB": 5}},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime}}


def create_function(cloud, source: str, timeout: int = 30) -> str:
    name = unique_name("procs")
    cloud.client("lambda", region=REGION).create_function(
        FunctionName=name, Runtime="python3.11", Role=create_role(cloud, unique_name("role")),
        Handler="app.handler", Code={"ZipFile": zip_bytes({"app.py": source})}, Timeout=timeout)
    return name


def invoke(cloud, name: str, event: dict) -> tuple[dict, dict]:
    response = cloud.client("lambda", region=REGION).invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return response, json.loads(response["Payload"].read())


@pytest.fixture
def own_cloud(tmp_path):
    """A cloud of this test's own, to stop or kill; its scratch folder is made in the test's tmp_path, so that
    one a SIGKILL leaves behind goes with pytest's temporary folders instead of staying in /tmp."""
    cloud = CloudProcess(env={**os.environ, "TMPDIR": str(tmp_path)})
    yield cloud
    if cloud.process.poll() is None:
        cloud.stop()


class TestJobProcessGroup:
    """A job's whole process group goes when the job ends early or the cloud goes."""

    def test_max_runtime_kills_the_grandchild(self, cloud, tmp_path):
        """
        1. Start a processing job (bash starting `sleep 300 &`) with MaxRuntimeInSeconds=2.
        2. It fails with MaxRuntimeExceeded, and both bash and its sleep are gone.
        """
        sm, name = cloud.client("sagemaker"), unique_name("maxrt")
        sm.create_processing_job(**processing_job(cloud, name, account_id(cloud), tmp_path / "pids", max_runtime=2))
        pids = read_pids(tmp_path / "pids")
        final = wait_for_status(lambda: sm.describe_processing_job(ProcessingJobName=name), "ProcessingJobStatus",
                                DONE, timeout=30)
        assert final["ProcessingJobStatus"] == "Failed" and "MaxRuntime" in final["FailureReason"]
        assert_gone(pids, "after MaxRuntimeInSeconds")

    def test_stop_kills_the_grandchild(self, cloud, tmp_path):
        """
        1. Start the job with a long MaxRuntime and wait for its pids.
        2. StopProcessingJob: the job is Stopped, bash and sleep are gone.
        """
        sm, name = cloud.client("sagemaker"), unique_name("stop")
        sm.create_processing_job(**processing_job(cloud, name, account_id(cloud), tmp_path / "pids"))
        pids = read_pids(tmp_path / "pids")
        sm.stop_processing_job(ProcessingJobName=name)
        final = wait_for_status(lambda: sm.describe_processing_job(ProcessingJobName=name), "ProcessingJobStatus",
                                DONE, timeout=30)
        assert final["ProcessingJobStatus"] == "Stopped"
        assert_gone(pids, "after StopProcessingJob")

    def test_a_finished_job_leaves_nothing_running(self, cloud, tmp_path):
        """
        1. Run a job whose command starts `sleep 300 &` and exits at once (no `wait`).
        2. The job Completes, and the sleep is gone too, as with a container that stops.
        """
        sm, name = cloud.client("sagemaker"), unique_name("leftover")
        request = processing_job(cloud, name, account_id(cloud), tmp_path / "pids")
        request["AppSpecification"]["ContainerEntrypoint"][2] = JOB_SCRIPT.replace("; wait", "")
        sm.create_processing_job(**request)
        final = wait_for_status(lambda: sm.describe_processing_job(ProcessingJobName=name), "ProcessingJobStatus",
                                DONE, timeout=30)
        assert final["ProcessingJobStatus"] == "Completed", final.get("FailureReason")
        assert_gone([int(p) for p in (tmp_path / "pids").read_text().split()], "after the job completed")

    @pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
    def test_cloud_stop_or_kill_ends_the_job(self, own_cloud, tmp_path, how):
        """
        1. On a cloud of its own, start the job and wait for its pids.
        2. SIGTERM the cloud (a clean stop), or SIGKILL it (no chance to clean up).
        3. Within 5 s bash and its sleep are gone either way.
        """
        sm = own_cloud.client("sagemaker")
        sm.create_processing_job(**processing_job(own_cloud, unique_name("cloudgone"), account_id(own_cloud),
                                                  tmp_path / "pids"))
        pids = read_pids(tmp_path / "pids")
        os.kill(own_cloud.process.pid, getattr(signal, how))
        own_cloud.process.wait(timeout=30)
        seconds = assert_gone(pids, f"after {how} to the cloud")
        print(f"job processes gone {seconds:.2f} s after the cloud exited ({how})")


class TestLambdaProcessGroup:
    """A Lambda environment and what its handler started go on timeout, cloud stop and cloud kill."""

    def test_timeout_kills_the_handlers_child(self, cloud, tmp_path):
        """
        1. A function with Timeout=2 whose handler starts `sleep 300` and then sleeps 60 s.
        2. Invoke: Sandbox.Timedout; the environment and the sleep are gone.
        """
        name = create_function(cloud, HANDLER, timeout=2)
        response, payload = invoke(cloud, name, {"pidfile": str(tmp_path / "pids"), "sleep": 60})
        assert response.get("FunctionError") == "Unhandled" and payload["errorType"] == "Sandbox.Timedout", payload
        assert_gone([int(p) for p in (tmp_path / "pids").read_text().split()], "after the handler timed out")

    @pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
    def test_cloud_stop_or_kill_ends_warm_environments(self, own_cloud, tmp_path, how):
        """
        1. On a cloud of its own, invoke a handler that starts `sleep 300` and returns (the environment stays warm).
        2. SIGTERM or SIGKILL the cloud.
        3. Within 5 s the environment and the sleep are gone.
        """
        name = create_function(own_cloud, HANDLER)
        response, payload = invoke(own_cloud, name, {"pidfile": str(tmp_path / "pids")})
        assert "FunctionError" not in response, payload
        pids = read_pids(tmp_path / "pids")
        os.kill(own_cloud.process.pid, getattr(signal, how))
        own_cloud.process.wait(timeout=30)
        seconds = assert_gone(pids, f"after {how} to the cloud")
        print(f"Lambda processes gone {seconds:.2f} s after the cloud exited ({how})")


class TestIdleEnvironmentsAreReaped:
    """A warm environment unused for --lambda-idle-seconds is stopped; the next invoke starts a new one."""

    def test_idle_environment_goes_and_next_invoke_is_cold(self):
        """
        1. Start a cloud with --lambda-idle-seconds 1; invoke a handler returning its pid twice: one warm environment.
        2. Wait: within 5 s that process is gone.
        3. Invoke again: it answers from a new process.
        """
        cloud = CloudProcess("--lambda-idle-seconds", "1")
        try:
            name = create_function(cloud, PID_HANDLER)
            first = invoke(cloud, name, {})[1]["pid"]
            assert invoke(cloud, name, {})[1]["pid"] == first, "the second invoke should reuse the warm environment"
            seconds = assert_gone([first], "an idle warm environment")
            assert invoke(cloud, name, {})[1]["pid"] != first
            print(f"idle environment reaped {seconds:.2f} s after the check started")
        finally:
            assert cloud.stop() == 0
