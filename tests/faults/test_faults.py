"""Faults: a Lambda that raises, a job past its MaxRuntimeInSeconds, the local cloud stopped mid-run, a re-run."""

from __future__ import annotations

import socket
import time

import pytest
from faults_support import (CloudStats, Deployed, connect, deploy_light_machine, new_prefix, start_own_cloud,
                            workdir_of)

import helpers
from helpers.config import CloudNotReachable


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def failures(pipeline: Deployed, execution_arn: str) -> list[dict]:
    return [e for e in pipeline.history(execution_arn) if e["type"] == "LambdaFunctionFailed"]


class TestLambdaThatRaisesIsRetriedThenCaught:
    """FetchData's Retry covers downloads that did not connect; its Catch ends the run at IngestFailed."""

    def test_connection_refused_is_retried_twice_then_caught(self, pipeline):
        """
        1. Start the pipeline with data_url on a closed 127.0.0.1 port: the handler raises requests' ConnectionError.
        2. The history shows three LambdaFunctionFailed events (the attempt and the Retry's two, 1 s then 2 s apart),
           each with the error ConnectionError, then the Catch's IngestFailed state is entered.
        3. The execution is FAILED with IngestFailed; its cause names the URL; no processing job was started.
        """
        port = closed_port()
        url = f"http://127.0.0.1:{port}/iris.data"
        arn = pipeline.start("retry-refused", data_url=url)
        execution = pipeline.wait(arn)

        events = pipeline.history(arn)
        failed = [e for e in events if e["type"] == "LambdaFunctionFailed"]
        assert [e["lambdaFunctionFailedEventDetails"]["error"] for e in failed] == ["ConnectionError"] * 3
        assert (failed[2]["timestamp"] - failed[0]["timestamp"]).total_seconds() >= 2.5
        entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
        assert entered == ["FetchData", "IngestFailed"]
        assert events.index(failed[-1]) < next(i for i, e in enumerate(events) if e["type"] == "FailStateEntered")
        assert (execution["status"], execution["error"]) == ("FAILED", "IngestFailed")
        cause = helpers.stepfunctions.failure_cause(execution)
        assert f"port={port}" in cause and "/iris.data" in cause and "Connection refused" in cause, cause
        assert pipeline.kit.client("sagemaker").list_processing_jobs(
            NameContains=pipeline.job_name("preprocess", "retry-refused"))["ProcessingJobSummaries"] == []

    def test_http_404_is_not_retried(self, pipeline, files):
        """
        1. Start the pipeline with data_url on a file the 127.0.0.1 server does not have (HTTP 404).
        2. One LambdaFunctionFailed (HTTPError): a missing file will not appear on a second try; then IngestFailed.
        3. The cause names the URL.
        """
        url = files.url("not-there.data")
        arn = pipeline.start("retry-404", data_url=url)
        execution = pipeline.wait(arn)

        assert [e["lambdaFunctionFailedEventDetails"]["error"] for e in failures(pipeline, arn)] == ["HTTPError"]
        assert (execution["status"], execution["error"]) == ("FAILED", "IngestFailed")
        cause = helpers.stepfunctions.failure_cause(execution)
        assert "404" in cause and url in cause, cause


@pytest.fixture(scope="module")
def sleepy(cloud) -> Deployed:
    """The light pipeline whose job sleeps 60 s, allowed 1 s."""
    kit = connect(cloud.url, new_prefix("slow"))
    return deploy_light_machine(kit, entrypoint=["python3", "-c", "import time; time.sleep(60)"], max_runtime=1)


class TestJobPastItsMaxRuntime:
    """StoppingCondition.MaxRuntimeInSeconds ends a processing job; .sync turns that into a FAILED execution."""

    def test_execution_fails_with_the_max_runtime_reason(self, sleepy):
        """
        1. Run the light pipeline whose job sleeps 60 s with MaxRuntimeInSeconds=1 (no Catch on its task).
        2. The execution is FAILED within a few seconds, with States.TaskFailed and a cause whose FailureReason
           says MaxRuntimeExceeded and names the limit.
        3. The job is Failed with that reason; helpers.sagemaker.wait_for_job raises JobFailed saying the same.
        4. Its output was not uploaded.
        """
        started = time.monotonic()
        execution = sleepy.wait(sleepy.start("max-runtime"), timeout=60)
        elapsed = time.monotonic() - started

        assert (execution["status"], execution["error"]) == ("FAILED", "States.TaskFailed")
        assert elapsed < 15, elapsed
        cause = helpers.stepfunctions.failure_cause(execution)
        assert cause.startswith("MaxRuntimeExceeded") and "MaxRuntimeInSeconds (1 s)" in cause, cause
        name = f"{sleepy.prefix}-prepare-max-runtime"
        job = sleepy.kit.client("sagemaker").describe_processing_job(ProcessingJobName=name)
        assert (job["ProcessingJobStatus"], job["FailureReason"]) == ("Failed", cause)
        with pytest.raises(helpers.sagemaker.JobFailed, match="ended Failed: MaxRuntimeExceeded"):
            helpers.sagemaker.wait_for_job(sleepy.kit, "processing", name, timeout=10)
        assert sleepy.keys("runs/max-runtime/") == []


class TestCloudStoppedInTheMiddle:
    """The local cloud goes away while a job runs: helpers say so at once, nothing of the cloud survives."""

    def test_helpers_fail_fast_with_a_clear_message(self, tmp_path):
        """
        1. Start a local cloud of the test's own; deploy the light pipeline with a job that sleeps 60 s.
        2. Start an execution; wait until its job runs (a child process of the cloud).
        3. Stop the cloud (SIGTERM, as Ctrl-C or `make lab` ending does).
        4. helpers.sagemaker.wait_for_job and helpers.stepfunctions.wait raise CloudNotReachable within seconds,
           naming the endpoint and the command that starts a cloud.
        5. The cloud exited 0, removed its workdir and left no process behind (the job was killed).
        """
        import psutil

        own = start_own_cloud(tmp_path)
        try:
            workdir = workdir_of(tmp_path)
            light = deploy_light_machine(connect(own.url, new_prefix("gone")),
                                         entrypoint=["python3", "-c", "import time; time.sleep(60)"], max_runtime=120)
            arn = light.start("mid-run")
            job = f"{light.prefix}-prepare-mid-run"
            deadline = time.monotonic() + 30
            while not any("time.sleep(60)" in c for c in CloudStats.of(own.process.pid, workdir).children):
                assert time.monotonic() < deadline, "the job never started"
                time.sleep(0.1)
            descendants = psutil.Process(own.process.pid).children(recursive=True)
        finally:
            code = own.stop()

        for wait in (lambda: helpers.sagemaker.wait_for_job(light.kit, "processing", job, timeout=60),
                     lambda: helpers.stepfunctions.wait(light.kit, arn, light.definition, timeout=60)):
            started = time.monotonic()
            with pytest.raises(CloudNotReachable) as raised:
                wait()
            assert time.monotonic() - started < 15
            message = str(raised.value)
            assert f"the local cloud at {own.url} stopped answering" in message, message
            assert f"python -m localcloud --port {own.url.rsplit(':', 1)[1]}" in message
            assert raised.value._render_traceback_() == [f"CloudNotReachable: {message}"]  # one line in a notebook
        assert code == 0
        assert list(tmp_path.glob("localcloud-*")) == []
        assert [p.cmdline() for p in descendants if p.is_running() and p.status() != psutil.STATUS_ZOMBIE] == []


class TestRerunAfterAFailure:
    """A failed run leaves nothing in the way: the next run (same kit, new run id) succeeds cleanly."""

    def test_good_run_after_a_failed_one(self, cloud, pipeline, files):
        """
        1. Run the pipeline on a file with a non-numeric feature: FAILED at PreprocessFailed.
        2. Run it again under the same prefix with a new run id and the good data: SUCCEEDED.
        3. The good run has its splits and model; the failed run still has only its raw file.
        4. Starting the failed run's execution name again shows the existing execution (notebooks are
           idempotent) instead of running it a second time.
        """
        bad = files.put("rerun-bad/iris.data", b"5.1,3.5,1.4,0.2,Iris-setosa\n4.9,x,1.4,0.2,Iris-setosa\n")
        failed = pipeline.wait(pipeline.start("rerun-bad", data_url=bad))
        assert (failed["status"], failed["error"]) == ("FAILED", "PreprocessFailed")
        assert "row 2, field 'sepal_width'" in helpers.stepfunctions.failure_cause(failed)

        good = pipeline.wait(pipeline.start("rerun-good", data_url=f"{cloud.data_url}/iris.data"))

        assert good["status"] == "SUCCEEDED", good.get("cause")
        model = f"runs/rerun-good/model/{pipeline.job_name('train', 'rerun-good')}/output/model.tar.gz"
        assert {"runs/rerun-good/processed/train/train.csv", model} <= set(pipeline.keys("runs/rerun-good/"))
        assert pipeline.keys("runs/rerun-bad/") == ["runs/rerun-bad/raw/iris.data"]
        again = helpers.stepfunctions.start(pipeline.kit, pipeline.machine_arn, {}, name="rerun-bad")
        assert again == failed["executionArn"]
        assert pipeline.kit.client("stepfunctions").describe_execution(executionArn=again)["status"] == "FAILED"
