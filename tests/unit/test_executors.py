"""The executors built on their own, with fakes for the callbacks a cloud gives them (localcloud.contracts).

:class:`~localcloud.sagemaker.jobs.runner.JobRunner`, :class:`~localcloud.awslambda.lambda_runtime.LambdaRuntime`
and :class:`~localcloud.sagemaker.inference.inference.Inference` know nothing of moto: the cloud hands them a
``LogWriter``, a ``StatusUpdate`` and a ``Credentials`` callback. Here those are recording fakes, and nothing
talks to a cloud: a processing job whose command is ``python3 -c ...`` with no S3 inputs or outputs, a Lambda
handler from a small zip, a transform whose model cannot be served. What the fakes record is what the cloud's
records (DescribeProcessingJob's ``FailureReason``, CloudWatch Logs) would show.
"""

from __future__ import annotations

import io
import sys
import threading
import zipfile
from pathlib import Path
from typing import Any

import pytest

from localcloud.awslambda.invocation import FunctionSpec
from localcloud.awslambda.lambda_runtime import LambdaRuntime
from localcloud.common.python_startup import startup_settings
from localcloud.contracts import JobFailure, Stopped, standalone_credentials
from localcloud.sagemaker.inference.inference import Inference
from localcloud.sagemaker.inference.inference_contract import InferenceError, ModelRef
from localcloud.sagemaker.jobs.runner import JobRunner
from localcloud.sagemaker.jobs.warm_jobs import template_env, warm_target

REGION = "eu-west-1"
ROLE = "arn:aws:iam::123456789012:role/executor-test"
KEYS = {"AWS_ACCESS_KEY_ID": "ASIAFAKEEXECUTORTEST", "AWS_SECRET_ACCESS_KEY": "fake-secret",
        "AWS_SESSION_TOKEN": "fake-token"}
JOB_SECONDS = 60  # how long a test waits for a job that takes well under a second


class Recorder:
    """A recording ``StatusUpdate``, ``LogWriter`` and ``Credentials``: what the cloud would be told."""

    def __init__(self) -> None:
        self.updates: list[tuple[str, str, str, dict[str, Any]]] = []
        self.logs: list[tuple[str, str, str, list[str]]] = []
        self.asked: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def update(self, kind: str, region: str, name: str, fields: dict[str, Any]) -> None:
        with self._lock:
            self.updates.append((kind, region, name, dict(fields)))

    def write_logs(self, region: str, group: str, stream: str, lines: list[str]) -> None:
        with self._lock:
            self.logs.append((region, group, stream, list(lines)))

    def credentials(self, role_arn: str, session_name: str) -> dict[str, str]:
        self.asked.append((role_arn, session_name))
        return dict(KEYS)

    def final(self, name: str) -> dict[str, Any]:
        """Every field the job's record ended with (the updates merged in order)."""
        merged: dict[str, Any] = {}
        for _, _, job, fields in self.updates:
            if job == name:
                merged.update(fields)
        return merged

    def log_text(self, group: str) -> str:
        return "\n".join(line for _, logged_group, _, lines in self.logs if logged_group == group for line in lines)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def jobs(tmp_path, recorder):
    runner = JobRunner(tmp_path / "work", "http://127.0.0.1:9", tmp_path / "docker", recorder.update,
                       recorder.write_logs, warm=False)
    runner.credentials = recorder.credentials
    yield runner
    runner.close()


def _run_processing(jobs: JobRunner, name: str, code: str, **extra: Any) -> None:
    request = {"ProcessingJobName": name, "RoleArn": ROLE,
               "AppSpecification": {"ImageUri": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/none:latest",
                                    "ContainerEntrypoint": ["python3", "-c", code]}, **extra}
    jobs.start_processing(REGION, request)
    assert jobs.wait_ended("processing", REGION, name, JOB_SECONDS)
    jobs.wait_all(JOB_SECONDS)


class TestJobRunnerRunsAProcessingJob:
    """A processing job's command runs with the keys the credentials callback gives for its role."""

    def test_completed_with_its_output_logged(self, jobs, recorder):
        """
        1. Run a job whose command prints its access key id and exits 0.
        2. Its record ends Completed; its output went to /aws/sagemaker/ProcessingJobs; the keys were asked
           for its RoleArn as SageMaker-NAME and reached the process.
        """
        _run_processing(jobs, "fast-ok", "import os; print('key', os.environ['AWS_ACCESS_KEY_ID'])")
        final = recorder.final("fast-ok")
        assert final["processing_job_status"] == "Completed", final
        assert "failure_reason" not in final
        assert recorder.asked == [(ROLE, "SageMaker-fast-ok")]
        assert f"key {KEYS['AWS_ACCESS_KEY_ID']}" in recorder.log_text("/aws/sagemaker/ProcessingJobs")


class TestJobRunnerFailureReasons:
    """A failed job's FailureReason is ``KIND: message``: AlgorithmError for the job's code, ClientError for exit 2."""

    @pytest.mark.parametrize("code, kind", [(3, "AlgorithmError"), (2, "ClientError")])
    def test_exit_code_names_the_kind(self, jobs, recorder, code, kind):
        """
        1. Run a job that writes a line to stderr and exits 3 (or 2, a usage error).
        2. It ends Failed with FailureReason and ExitMessage ``KIND: exit code N: <its stderr>``.
        """
        name = f"fast-exit-{code}"
        _run_processing(jobs, name, f"import sys; print('bad row 7', file=sys.stderr); sys.exit({code})")
        final = recorder.final(name)
        assert final["processing_job_status"] == "Failed"
        assert final["failure_reason"] == f"{kind}: exit code {code}: bad row 7"
        assert final["exit_message"] == final["failure_reason"]

    def test_max_runtime(self, jobs, recorder):
        """
        1. Run a job that sleeps past its MaxRuntimeInSeconds of 1.
        2. It ends Failed with ``MaxRuntimeExceeded: ...`` naming the limit.
        """
        _run_processing(jobs, "fast-slow", "import time; time.sleep(60)",
                        StoppingCondition={"MaxRuntimeInSeconds": 1})
        reason = recorder.final("fast-slow")["failure_reason"]
        assert reason == ("MaxRuntimeExceeded: the job ran longer than MaxRuntimeInSeconds (1 s) and was stopped")

    def test_bad_local_path_is_a_client_error(self, jobs, recorder):
        """
        1. Run a job whose output LocalPath is outside /opt/ml/processing (create would refuse it; checked again).
        2. It ends Failed with a ClientError naming the LocalPath, before its command runs.
        """
        _run_processing(jobs, "fast-path", "print('ran')", ProcessingOutputConfig={"Outputs": [
            {"OutputName": "out", "S3Output": {"S3Uri": "s3://b/out", "LocalPath": "/etc/out",
                                               "S3UploadMode": "EndOfJob"}}]})
        reason = recorder.final("fast-path")["failure_reason"]
        assert reason.startswith("ClientError: LocalPath '/etc/out' is not an absolute path under"), reason
        assert "ran" not in recorder.log_text("/aws/sagemaker/ProcessingJobs")


class TestJobRunnerStops:
    """StopProcessingJob ends the job Stopped, with no FailureReason."""

    def test_stop(self, jobs, recorder):
        """
        1. Start a job that sleeps a minute; once it has printed, stop it.
        2. It ends Stopped within the wait, with no FailureReason.
        """
        name = "fast-stop"
        jobs.start_processing(REGION, {"ProcessingJobName": name, "RoleArn": ROLE, "AppSpecification": {
            "ImageUri": "none:latest", "ContainerEntrypoint": [
                sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"]}})
        for _ in range(600):
            if "up" in recorder.log_text("/aws/sagemaker/ProcessingJobs"):
                break
            threading.Event().wait(0.05)
        assert jobs.stop("processing", REGION, name)
        assert jobs.wait_ended("processing", REGION, name, JOB_SECONDS)
        final = recorder.final(name)
        assert final["processing_job_status"] == "Stopped" and "failure_reason" not in final, final


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


HANDLER = """
import json, os
def handler(event, context):
    print("seen", event["n"])
    return {"n": event["n"] + 1, "key": os.environ["AWS_ACCESS_KEY_ID"], "token": os.environ.get("AWS_SESSION_TOKEN")}
"""


@pytest.fixture
def runtime(tmp_path, recorder):
    lam = LambdaRuntime(tmp_path / "work", "http://127.0.0.1:9", tmp_path / "docker", recorder.write_logs,
                        spares=False)
    yield lam
    lam.close()


def _spec(zip_bytes: bytes, name: str = "fast-fn") -> FunctionSpec:
    return FunctionSpec(name=name, arn=f"arn:aws:lambda:{REGION}:123456789012:function:{name}", region=REGION,
                        handler="app.handler", timeout=30, memory_size=128, environment={}, role=ROLE,
                        code_sha256=str(hash(zip_bytes)), zip_bytes=zip_bytes)


class TestLambdaRuntimeInvokes:
    """An invoke runs the handler with the execution role's keys and logs its output to /aws/lambda/NAME."""

    def test_invoke(self, runtime, recorder):
        """
        1. Invoke a zip function's handler with the recording credentials callback.
        2. The payload is the handler's answer, with the keys the callback gave for its role (session name:
           the function's name); its print went to /aws/lambda/fast-fn.
        """
        runtime.credentials = recorder.credentials
        result = runtime.invoke(_spec(_zip({"app.py": HANDLER})), {"n": 1})
        assert result.function_error is None, result.payload
        assert result.payload == (b'{"n": 2, "key": "ASIAFAKEEXECUTORTEST", "token": "fake-token"}')
        assert recorder.asked == [(ROLE, "fast-fn")]
        assert "seen 1" in recorder.log_text("/aws/lambda/fast-fn")

    def test_standalone_keys_are_the_placeholder(self, runtime):
        """
        1. Invoke without setting credentials (an executor built on its own).
        2. The handler sees the placeholder keys of localcloud.contracts, and no session token.
        """
        result = runtime.invoke(_spec(_zip({"app.py": HANDLER}), "fast-standalone"), {"n": 5})
        expected = standalone_credentials(ROLE, "fast-standalone")["AWS_ACCESS_KEY_ID"]
        assert result.payload == b'{"n": 6, "key": "%s", "token": null}' % expected.encode()

    def test_handler_error(self, runtime, recorder):
        """
        1. Invoke a handler that raises ValueError.
        2. The invoke is an Unhandled function error naming ValueError and its message.
        """
        runtime.credentials = recorder.credentials
        code = "def handler(event, context):\n    raise ValueError('no such order')\n"
        result = runtime.invoke(_spec(_zip({"app.py": code}), "fast-error"), {})
        assert result.function_error == "Unhandled"
        assert b'"errorType": "ValueError"' in result.payload and b"no such order" in result.payload


class TestInferenceTransformFailures:
    """A transform whose model cannot be served ends Failed with a ClientError FailureReason, logged."""

    def test_not_a_builtin_algorithm(self, recorder):
        """
        1. Start a transform whose model uses an image no built-in algorithm the cloud plays (linear-learner, XGBoost).
        2. Its record ends Failed with ``ClientError: localcloud can serve only ...``, and that line is in its log.
        """
        inference = Inference("http://127.0.0.1:9", recorder.update, recorder.write_logs)
        ref = ModelRef(name="m", image="123456789012.dkr.ecr.eu-west-1.amazonaws.com/my-own-model:1", model_data_url=None)
        request = {"TransformJobName": "fast-transform", "TransformInput": {"DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "s3://b/in/"}}, "ContentType": "text/csv"},
            "TransformOutput": {"S3OutputPath": "s3://b/out/"}}
        inference.start_transform(REGION, request, ref)
        inference.close()
        final = recorder.final("fast-transform")
        assert final["transform_job_status"] == "Failed"
        assert final["failure_reason"].startswith(
            "ClientError: localcloud can serve only SageMaker's built-in linear-learner and XGBoost images; model m uses"), final
        assert final["failure_reason"] in recorder.log_text("/aws/sagemaker/TransformJobs")


class TestInferenceReadsModelsAsTheirRole:
    """The model artifact is read with the keys the credentials callback gives for the model's role."""

    def test_credentials_asked_for_the_model_role(self, recorder):
        """
        1. Load a linear-learner model with a credentials callback that records the call and refuses.
        2. It was asked for the model's ExecutionRoleArn as SageMaker-MODEL, before any request was made.
        """
        class Refused(Exception):
            pass

        def refuse(role_arn: str, session_name: str) -> dict[str, str]:
            recorder.asked.append((role_arn, session_name))
            raise Refused()

        inference = Inference("http://127.0.0.1:9", recorder.update, recorder.write_logs)
        inference.credentials = refuse
        ref = ModelRef(name="model-a", image="438346466558.dkr.ecr.eu-west-1.amazonaws.com/linear-learner:1",
                       model_data_url="s3://b/model.tar.gz", role=ROLE)
        with pytest.raises(Refused):
            inference.load(REGION, ref)
        assert recorder.asked == [(ROLE, "SageMaker-model-a")]

    def test_unsupported_accept(self, recorder):
        """
        1. Invoke an endpoint asking for Accept text/html.
        2. It is refused with 406 before the model is read.
        """
        inference = Inference("http://127.0.0.1:9", recorder.update, recorder.write_logs)
        ref = ModelRef(name="model-b", image="linear-learner", model_data_url="s3://b/m.tar.gz")
        with pytest.raises(InferenceError, match="cannot answer Accept 'text/html'") as caught:
            inference.invoke(REGION, ref, b"1,2", "text/csv", "text/html")
        assert caught.value.original_status == 406


class TestJobFailure:
    """A typed failure keeps SageMaker's FailureReason text: ``KIND: message``."""

    def test_reason(self):
        """
        1. Make a ClientError failure.
        2. Its kind and message are apart; its text and reason are ``ClientError: message``.
        """
        failure = JobFailure("ClientError", "no S3 objects found under s3://b/in")
        assert (failure.kind, failure.message) == ("ClientError", "no S3 objects found under s3://b/in")
        assert str(failure) == failure.reason == "ClientError: no S3 objects found under s3://b/in"
        assert not issubclass(Stopped, JobFailure)  # a stopped job has no FailureReason


class TestStartupSettings:
    """A warm job, like a Lambda spare, runs only when the job's locale is the template's: a fork keeps its own."""

    @pytest.mark.parametrize("setting", [{"LC_ALL": "C"}, {"LANG": "C"}, {"LANGUAGE": "fr"}])
    def test_locale_forces_a_cold_job(self, setting):
        """
        1. Give a job's environment a locale variable with another value than the template's.
        2. The job runs cold, as a fresh Python would set its locale (and its streams' encoding) from it.
        """
        template = {**template_env(), "LANG": "C.UTF-8"}
        script = str(Path(__file__))
        assert warm_target([sys.executable, script], {**template, **setting}, template) is None
        assert warm_target([sys.executable, script], dict(template), template) == ("script", script)

    def test_leader_settings_only_when_asked(self):
        """
        1. Compare two environments that differ only in LOCALCLOUD_TMP_MB (a Lambda spare's /tmp size).
        2. They agree unless the caller names it (the Lambda spare does; a warm job has no such leader).
        """
        one, other = {"PATH": "/bin", "LOCALCLOUD_TMP_MB": "512"}, {"PATH": "/bin", "LOCALCLOUD_TMP_MB": "1024"}
        assert startup_settings(one) == startup_settings(other) == {}
        assert startup_settings(one, ("LOCALCLOUD_TMP_MB",)) != startup_settings(other, ("LOCALCLOUD_TMP_MB",))
