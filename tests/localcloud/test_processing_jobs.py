"""SageMaker Processing behaviour: jobs really run their script on S3 inputs and upload outputs.

Every test talks to ``python -m localcloud`` (the ``cloud`` fixture) through boto3 only.
"""

from __future__ import annotations

import json
import textwrap
import time
import uuid

import pytest
from _support import (IRIS_DATA, PREPROCESS_SCRIPT, create_bucket, create_role, csv_rows, ecr_image_uri, load_event,
                      read_log_messages, run_preprocess_locally, unique_name)
from _wait import wait_for, wait_for_status
from botocore.exceptions import ClientError

REGION = "eu-west-1"
DONE = {"Completed", "Failed", "Stopped"}
CODE_DIR = "/opt/ml/processing/input/code"
RAW_DIR = "/opt/ml/processing/input/raw"
OUTPUT_DIR = "/opt/ml/processing/output"

ENV_SCRIPT = textwrap.dedent('''
    import json, os
    os.makedirs("/opt/ml/processing/output/env", exist_ok=True)
    with open("/opt/ml/processing/output/env/environment.json", "w") as handle:
        json.dump({name: os.environ.get(name) for name in ("GREETING", "STAGE")}, handle)
    print("environment written")
''')

FAILING_SCRIPT = textwrap.dedent('''
    import sys
    print("starting up")
    sys.stderr.write("noise line\\n" * 300)
    sys.stderr.write("fatal: the marker {marker} is the last thing on stderr\\n")
    sys.exit(3)
''')

SLEEP_SCRIPT = textwrap.dedent('''
    import time
    print("sleeping", flush=True)
    time.sleep(60)
''')

QUICK_SCRIPT = "print('done')\n"

CROSS_CHANNEL_SCRIPT = textwrap.dedent('''
    import os, shutil
    out = "/opt/ml/processing/output"
    with open(f"{out}/a/staged.tmp", "w") as handle:
        handle.write("renamed within a")
    os.rename(f"{out}/a/staged.tmp", f"{out}/a/within.txt")
    with open(f"{out}/a/moved.txt", "w") as handle:
        handle.write("moved from a to b")
    shutil.move(f"{out}/a/moved.txt", f"{out}/b/moved.txt")
    print("within and move done", flush=True)
    if os.environ.get("RENAME_ACROSS") == "yes":
        with open(f"{out}/a/across.txt", "w") as handle:
            handle.write("never arrives")
        os.rename(f"{out}/a/across.txt", f"{out}/b/across.txt")
''')


@pytest.fixture(scope="module")
def bucket(cloud, s3):
    name = create_bucket(cloud, unique_name("processing-tests"), REGION)
    s3.upload_file(str(IRIS_DATA), name, "raw/iris.data")
    return name


@pytest.fixture(scope="module")
def role(cloud):
    return create_role(cloud, unique_name("processing-tests"))


@pytest.fixture(scope="module")
def job_request(s3, bucket, account, role):
    """Build a CreateProcessingJob request; a ``script`` is uploaded and mounted as the code input."""

    def build(name: str, *, script: str | None = None, image: str | None = None, entrypoint: list[str] | None = None,
              arguments: list[str] | None = None, raw_input: bool = False, outputs: tuple[str, ...] = (),
              environment: dict[str, str] | None = None, max_runtime: int = 120) -> dict:
        inputs = []
        if script is not None:
            key = f"code/{name}/script.py"
            s3.put_object(Bucket=bucket, Key=key, Body=script.encode())
            inputs.append({"InputName": "code", "S3Input": {
                "S3Uri": f"s3://{bucket}/{key}", "LocalPath": CODE_DIR, "S3DataType": "S3Prefix",
                "S3InputMode": "File"}})
            entrypoint = entrypoint or ["python3", f"{CODE_DIR}/script.py"]
        if raw_input:
            inputs.append({"InputName": "raw", "S3Input": {
                "S3Uri": f"s3://{bucket}/raw/", "LocalPath": RAW_DIR, "S3DataType": "S3Prefix", "S3InputMode": "File"}})
        app = {"ImageUri": image or ecr_image_uri(account, REGION, "sagemaker-scikit-learn", "1.2-1-cpu-py3")}
        if entrypoint:
            app["ContainerEntrypoint"] = entrypoint
        if arguments is not None:
            app["ContainerArguments"] = arguments
        request = {
            "ProcessingJobName": name,
            "RoleArn": role,
            "AppSpecification": app,
            "ProcessingInputs": inputs,
            "ProcessingOutputConfig": {"Outputs": [
                {"OutputName": output, "S3Output": {"S3Uri": f"s3://{bucket}/out/{name}/{output}",
                                                    "LocalPath": f"{OUTPUT_DIR}/{output}", "S3UploadMode": "EndOfJob"}}
                for output in outputs]},
            "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.t3.medium",
                                                      "VolumeSizeInGB": 5}},
            "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
        }
        if environment:
            request["Environment"] = environment
        return request

    return build


def _run(sm, request: dict, timeout: float = 60) -> tuple[str, dict]:
    """Create the job; return (status seen right after creation, final Describe response)."""
    sm.create_processing_job(**request)
    name = request["ProcessingJobName"]
    first = sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"]
    final = wait_for_status(lambda: sm.describe_processing_job(ProcessingJobName=name), "ProcessingJobStatus", DONE,
                            timeout=timeout)
    return first, final


def _read(s3, bucket: str, key: str) -> str:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()


def _assert_preprocess_outputs(s3, bucket: str, job: str, local_output) -> None:
    """The job's train/test CSVs: 120 and 30 rows, label first, identical to a local run of the script."""
    train = _read(s3, bucket, f"out/{job}/train/train.csv")
    test = _read(s3, bucket, f"out/{job}/test/test.csv")
    assert train == (local_output / "train" / "train.csv").read_text()
    assert test == (local_output / "test" / "test.csv").read_text()
    train_rows, test_rows = csv_rows(train), csv_rows(test)
    raw_rows = csv_rows(IRIS_DATA.read_text())
    assert (len(train_rows), len(test_rows)) == (120, 30)
    assert len(train_rows) + len(test_rows) == len(raw_rows)
    for row in train_rows + test_rows:
        assert len(row) == 5
        assert row[0] in {"0", "1", "2"}, f"label first: {row}"
        [float(value) for value in row[1:]]


@pytest.fixture(scope="module")
def local_preprocess_output(tmp_path_factory):
    return run_preprocess_locally(tmp_path_factory.mktemp("preprocess"))


@pytest.fixture(scope="module")
def script_job(sm, bucket, job_request):
    """preprocess.py run from S3 once for TestScriptFromS3: (name, first status, final Describe)."""
    name = unique_name("preprocess-script")
    request = job_request(name, script=PREPROCESS_SCRIPT.read_text(), raw_input=True, outputs=("train", "test"),
                          arguments=["--input-dir", RAW_DIR, "--output-dir", OUTPUT_DIR])
    first, final = _run(sm, request)
    return name, first, final


class TestScriptFromS3:
    """preprocess.py uploaded to S3 as the code input runs with ContainerEntrypoint python3 <script>."""

    def test_status_goes_in_progress_then_completed(self, script_job):
        """
        1. Upload iris.data and preprocess.py; create the job with the script as code input.
        2. Describe it at once: InProgress.
        3. Poll: it ends Completed, with start and end times in order.
        """
        _, first, final = script_job
        assert first == "InProgress"
        assert final["ProcessingJobStatus"] == "Completed", final.get("FailureReason")
        assert final["CreationTime"] <= final["ProcessingStartTime"] <= final["ProcessingEndTime"]

    def test_outputs_are_uploaded(self, s3, bucket, script_job, local_preprocess_output):
        """
        1. Run the job (class fixture).
        2. Read train.csv and test.csv from the outputs' S3 URIs.
        3. 120 and 30 rows, label first, byte-identical to running preprocess.py locally.
        """
        _assert_preprocess_outputs(s3, bucket, script_job[0], local_preprocess_output)

    def test_output_in_cloudwatch_logs(self, cloud, script_job):
        """
        1. Run the job (class fixture).
        2. Read log group /aws/sagemaker/ProcessingJobs, streams starting with the job name.
        3. They hold what the script printed.
        """
        name = script_job[0]
        messages = wait_for(lambda: read_log_messages(cloud, "/aws/sagemaker/ProcessingJobs", f"{name}/"), timeout=5)
        assert any("read 150 rows from" in message for message in messages), messages


class TestKitImage:
    """The kit's preprocess image runs its Dockerfile ENTRYPOINT when no entrypoint is given."""

    def test_image_entrypoint_runs_preprocess(self, sm, s3, bucket, account, job_request, local_preprocess_output):
        """
        1. Create the job with ImageUri <account>.dkr.ecr.eu-west-1.amazonaws.com/<prefix>/preprocess:latest,
           only ContainerArguments, and iris.data as input.
        2. Poll: InProgress, then Completed.
        3. The outputs are the same 120/30-row CSVs a local run produces.
        """
        name = unique_name("preprocess-image")
        image = ecr_image_uri(account, REGION, f"{unique_name('kit')}/preprocess")
        request = job_request(name, image=image, raw_input=True, outputs=("train", "test"),
                              arguments=["--input-dir", RAW_DIR, "--output-dir", OUTPUT_DIR])
        assert "ContainerEntrypoint" not in request["AppSpecification"]

        first, final = _run(sm, request)

        assert first == "InProgress"
        assert final["ProcessingJobStatus"] == "Completed", final.get("FailureReason")
        _assert_preprocess_outputs(s3, bucket, name, local_preprocess_output)


class TestEnvironment:
    """The job's Environment reaches the script."""

    def test_environment_reaches_the_script(self, sm, s3, bucket, job_request):
        """
        1. Create a job with Environment from tests/events/processing_environment.json; its script writes
           GREETING and STAGE into an output file.
        2. Wait for Completed.
        3. The uploaded file holds exactly the Environment given; Describe shows it too.
        """
        environment = load_event("processing_environment.json")
        name = unique_name("environment")

        _, final = _run(sm, job_request(name, script=ENV_SCRIPT, outputs=("env",), environment=environment))

        assert final["ProcessingJobStatus"] == "Completed", final.get("FailureReason")
        assert json.loads(_read(s3, bucket, f"out/{name}/env/environment.json")) == environment
        assert final["Environment"] == environment


class TestChannelsAreSeparateMounts:
    """Each output LocalPath is its own file system, as each is its own mount on SageMaker.

    rename(2) across mounts fails with EXDEV (https://man7.org/linux/man-pages/man2/rename.2.html); SageMaker
    mounts each processing input and output LocalPath separately (docs/ARCHITECTURE.md, "Channels are separate mounts").
    """

    def test_rename_within_and_move_across_work(self, sm, s3, bucket, job_request):
        """
        1. Run a script that renames a file inside output ``a`` and shutil.moves one from ``a`` to ``b``.
        2. The job Completes; ``a/within.txt`` and ``b/moved.txt`` are uploaded with their contents, and
           ``a/moved.txt`` is gone (shutil.move copied, then removed the source).
        """
        name = unique_name("channels-ok")
        _, final = _run(sm, job_request(name, script=CROSS_CHANNEL_SCRIPT, outputs=("a", "b")))
        assert final["ProcessingJobStatus"] == "Completed", final.get("FailureReason")
        assert _read(s3, bucket, f"out/{name}/a/within.txt") == "renamed within a"
        assert _read(s3, bucket, f"out/{name}/b/moved.txt") == "moved from a to b"
        keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix=f"out/{name}/")["Contents"]]
        assert sorted(keys) == [f"out/{name}/a/within.txt", f"out/{name}/b/moved.txt"]

    def test_rename_across_outputs_fails_the_job(self, sm, job_request):
        """
        1. Run the same script with RENAME_ACROSS=yes: it also os.renames a file from output ``a`` to ``b``.
        2. The job Fails; its FailureReason has "Invalid cross-device link" and the container's paths.
        """
        name = unique_name("channels-exdev")
        _, final = _run(sm, job_request(name, script=CROSS_CHANNEL_SCRIPT, outputs=("a", "b"),
                                        environment={"RENAME_ACROSS": "yes"}))
        assert final["ProcessingJobStatus"] == "Failed"
        assert "[Errno 18] Invalid cross-device link: '/opt/ml/processing/output/a/across.txt' -> " \
               "'/opt/ml/processing/output/b/across.txt'" in final["FailureReason"]


class TestFailingScript:
    """A script that exits non-zero fails the job with the end of its output as the reason."""

    def test_failure_reason_has_end_of_stderr(self, sm, job_request):
        """
        1. Create a job whose script writes 300 noise lines then a marker to stderr and exits 3.
        2. Wait for the end.
        3. Failed; FailureReason holds the marker line (the end of stderr) and fits AWS's 1024 characters.
        """
        marker = uuid.uuid4().hex
        name = unique_name("failing")

        _, final = _run(sm, job_request(name, script=FAILING_SCRIPT.format(marker=marker)))

        assert final["ProcessingJobStatus"] == "Failed"
        assert f"fatal: the marker {marker} is the last thing on stderr" in final["FailureReason"]
        assert len(final["FailureReason"]) <= 1024


class TestMaxRuntime:
    """StoppingCondition.MaxRuntimeInSeconds ends a job that runs too long."""

    def test_sleeping_job_fails_after_max_runtime(self, sm, job_request):
        """
        1. Create a job with MaxRuntimeInSeconds=1 whose script sleeps 60 s.
        2. Wait for the end, timing it.
        3. Failed within a few seconds, with a FailureReason mentioning MaxRuntime.
        """
        name = unique_name("max-runtime")
        started = time.monotonic()

        _, final = _run(sm, job_request(name, script=SLEEP_SCRIPT, max_runtime=1), timeout=20)

        assert final["ProcessingJobStatus"] == "Failed"
        assert "MaxRuntime" in final["FailureReason"]
        assert time.monotonic() - started < 10


class TestStopProcessingJob:
    """stop_processing_job stops a running job."""

    def test_stop_sleeping_job(self, sm, job_request):
        """
        1. Create a job whose script sleeps 60 s; wait until its output shows it is sleeping.
        2. Call stop_processing_job.
        3. The job ends Stopped within a few seconds.
        """
        name = unique_name("stopped")
        sm.create_processing_job(**job_request(name, script=SLEEP_SCRIPT))
        assert sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"] == "InProgress"
        wait_for(lambda: sm.describe_processing_job(ProcessingJobName=name).get("ProcessingStartTime"), timeout=10)
        time.sleep(0.3)  # let the script start its sleep

        started = time.monotonic()
        sm.stop_processing_job(ProcessingJobName=name)
        final = wait_for_status(lambda: sm.describe_processing_job(ProcessingJobName=name), "ProcessingJobStatus",
                                DONE, timeout=10)

        assert final["ProcessingJobStatus"] == "Stopped"
        assert time.monotonic() - started < 5

    def test_stop_right_after_create(self, sm, job_request):
        """
        1. Create a job whose script sleeps 60 s and stop it at once (its inputs may still be downloading).
        2. The job ends Stopped within a few seconds, not after the script's 60 s.
        """
        name = unique_name("stopped-early")
        started = time.monotonic()
        sm.create_processing_job(**job_request(name, script=SLEEP_SCRIPT))
        sm.stop_processing_job(ProcessingJobName=name)

        final = wait_for_status(lambda: sm.describe_processing_job(ProcessingJobName=name), "ProcessingJobStatus",
                                DONE, timeout=15)

        assert final["ProcessingJobStatus"] == "Stopped"
        assert time.monotonic() - started < 5


class TestDuplicateName:
    """Job names are unique within an account and region."""

    def test_second_create_is_resource_in_use(self, sm, job_request):
        """
        1. Create a job.
        2. Create another with the same name.
        3. ClientError with code ResourceInUse; the first job is untouched and completes.
        """
        name = unique_name("duplicate")
        request = job_request(name, script=QUICK_SCRIPT)
        sm.create_processing_job(**request)

        with pytest.raises(ClientError) as raised:
            sm.create_processing_job(**request)

        assert raised.value.response["Error"]["Code"] == "ResourceInUse"
        final = wait_for_status(lambda: sm.describe_processing_job(ProcessingJobName=name), "ProcessingJobStatus",
                                DONE, timeout=20)
        assert final["ProcessingJobStatus"] == "Completed", final.get("FailureReason")


class TestUnknownImage:
    """An image the local cloud cannot run, with no entrypoint to run instead, fails the job."""

    def test_unknown_image_without_entrypoint_fails(self, sm, account, job_request):
        """
        1. Create a job on an ECR image with no docker/<name>/Dockerfile and no ContainerEntrypoint.
        2. Wait for the end.
        3. Failed, with a FailureReason naming the image.
        """
        name = unique_name("unknown-image")
        image = ecr_image_uri(account, REGION, f"{unique_name('team')}/not-a-kit-image", "1")

        _, final = _run(sm, job_request(name, image=image, arguments=["--help"]), timeout=20)

        assert final["ProcessingJobStatus"] == "Failed"
        assert image in final["FailureReason"]
