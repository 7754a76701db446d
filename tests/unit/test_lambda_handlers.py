"""Tests for the Lambda handlers in src/lambdas/, called directly as Lambda would call them.

In the style of aws-samples/serverless-test-samples: each handler is loaded from its
file, given an event from tests/events/handler_*.json, and run against moto in-process.
fetch_data downloads from a real HTTP server on 127.0.0.1 (never the internet).
"""

from __future__ import annotations

import datetime
import functools
import http.server
import importlib.util
import json
import re
import shutil
import string
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests
from botocore.stub import ANY, Stubber

from helpers import config
from helpers.paths import DATA_DIR, LAMBDAS_DIR, STATEMACHINES_DIR

EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"
IRIS = DATA_DIR / "iris.data"
JOB_NAME = r"[A-Za-z0-9](-*[A-Za-z0-9]){0,62}"
REGION = "eu-west-1"


def load_handler(name: str) -> types.ModuleType:
    """Import src/lambdas/<name>.py by path, as Lambda does (it is not a package module)."""
    spec = importlib.util.spec_from_file_location(f"handler_{name}", LAMBDAS_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


fetch_data = load_handler("fetch_data")
start_preprocessing = load_handler("start_preprocessing")
start_training = load_handler("start_training")


def load_event(name: str, **values: str) -> dict:
    """tests/events/<name>.json with its ${placeholders} filled."""
    return json.loads(string.Template((EVENTS_DIR / f"{name}.json").read_text()).substitute(values))


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    requested: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        type(self).requested.append(self.path)
        super().do_GET()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def data_server(tmp_path) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 serving iris.data (a copy of data/iris.data) and an empty empty.data."""
    root = tmp_path / "served"
    root.mkdir()
    shutil.copy(IRIS, root / "iris.data")
    (root / "empty.data").write_bytes(b"\n")
    _QuietFiles.requested = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietFiles, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def account(aws) -> str:
    return boto3.client("sts", region_name=REGION).get_caller_identity()["Account"]


@pytest.fixture
def bucket(aws, monkeypatch) -> str:
    """An empty bucket in eu-west-1; no handler variables set from the shell."""
    for name in ("DATA_URL", "BUCKET", "RUN_PREFIX", "HYPERPARAMETERS", "INSTANCE_TYPE", "MAX_RUNTIME_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    name = "handler-tests-bucket"
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return name


def keys(bucket: str) -> list[str]:
    return [o["Key"] for o in boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=bucket).get("Contents", [])]


def record_requests(operation: str) -> list[dict]:
    """Record the parameters of every SageMaker ``operation`` made through boto3's default session."""
    calls: list[dict] = []
    boto3.setup_default_session(region_name=REGION)
    boto3.DEFAULT_SESSION.events.register(f"provide-client-params.sagemaker.{operation}",
                                          lambda params, **_: calls.append(json.loads(json.dumps(params))))
    return calls


class TestFetchDataDownloads:
    """fetch_data puts the downloaded bytes at <run_prefix>/raw/iris.data."""

    def test_event_from_file(self, bucket, data_server, capsys):
        """
        1. Fill tests/events/handler_fetch_data.json with the bucket and a 127.0.0.1 URL of iris.data.
        2. The handler writes exactly one object, at runs/handler-tests/raw/iris.data, with iris.data's bytes.
        3. It returns the event plus the object's URI and size.
        """
        event = load_event("handler_fetch_data", data_url=f"{data_server}/iris.data", bucket=bucket)
        result = fetch_data.handler(event, None)
        key = "runs/handler-tests/raw/iris.data"
        assert keys(bucket) == [key]
        stored = boto3.client("s3", region_name=REGION).get_object(Bucket=bucket, Key=key)
        assert stored["Body"].read() == IRIS.read_bytes()
        assert stored["ContentType"] == "text/csv"
        assert result == {**event, "raw_s3_uri": f"s3://{bucket}/{key}", "raw_bytes": IRIS.stat().st_size,
                          "source": event["data_url"],
                          "job_names": config.Names("pipeline-dreams", "0" * 12, REGION).jobs(event["run_id"])}
        assert f"into s3://{bucket}/{key}" in capsys.readouterr().out

    def test_settings_from_environment(self, bucket, data_server, monkeypatch):
        """
        1. Give an empty event; set DATA_URL, BUCKET and RUN_PREFIX (with stray slashes) on the function.
        2. The object lands under the cleaned prefix and the result reports it.
        """
        monkeypatch.setenv("DATA_URL", f"{data_server}/iris.data")
        monkeypatch.setenv("BUCKET", bucket)
        monkeypatch.setenv("RUN_PREFIX", "/runs/from-env/")
        result = fetch_data.handler({}, None)
        assert keys(bucket) == ["runs/from-env/raw/iris.data"]
        assert (result["run_prefix"], result["bucket"]) == ("runs/from-env", bucket)

    def test_event_beats_environment(self, bucket, data_server, monkeypatch):
        """
        1. Set BUCKET and DATA_URL to wrong values on the function, and the right ones in the event.
        2. The event's values are used.
        """
        monkeypatch.setenv("BUCKET", "not-this-bucket")
        monkeypatch.setenv("DATA_URL", f"{data_server}/not-this.data")
        fetch_data.handler({"data_url": f"{data_server}/iris.data", "bucket": bucket, "run_prefix": "runs/e"}, None)
        assert keys(bucket) == ["runs/e/raw/iris.data"]
        assert _QuietFiles.requested == ["/iris.data"]


class TestFetchDataMissingSettings:
    """A missing URL or bucket is named, with the variable that could provide it."""

    @pytest.mark.parametrize("missing, variable", [("data_url", "DATA_URL"), ("bucket", "BUCKET")])
    def test_value_error_names_key_and_variable(self, bucket, data_server, missing, variable):
        """
        1. Drop one of data_url and bucket from the event (and leave its variable unset).
        2. ValueError names the key and the variable; nothing was downloaded or written.
        """
        event = load_event("handler_fetch_data", data_url=f"{data_server}/iris.data", bucket=bucket)
        del event[missing]
        with pytest.raises(ValueError) as raised:
            fetch_data.handler(event, None)
        assert f"'{missing}'" in str(raised.value) and variable in str(raised.value)
        assert _QuietFiles.requested == []
        assert keys(bucket) == []


class TestFetchDataBadDownloads:
    """A failed or empty download raises and writes nothing."""

    def test_http_404_raises(self, bucket, data_server):
        """
        1. Point data_url at a file the server does not have.
        2. requests' HTTPError (404) is raised and the bucket stays empty.
        """
        event = load_event("handler_fetch_data", data_url=f"{data_server}/missing.data", bucket=bucket)
        with pytest.raises(requests.HTTPError) as raised:
            fetch_data.handler(event, None)
        assert raised.value.response.status_code == 404
        assert keys(bucket) == []

    def test_empty_body_raises(self, bucket, data_server):
        """
        1. Point data_url at a file holding only a newline.
        2. ValueError says the body was empty and where nothing was written; the bucket stays empty.
        """
        event = load_event("handler_fetch_data", data_url=f"{data_server}/empty.data", bucket=bucket)
        with pytest.raises(ValueError, match="empty body; nothing was written to s3://"):
            fetch_data.handler(event, None)
        assert keys(bucket) == []


class TestFetchDataCopiesAnUpload:
    """The trigger path (notebook 07): an uploaded object becomes the raw data of a run of its own."""

    def test_upload_is_copied_into_a_new_run(self, bucket):
        """1. Upload a CSV under incoming/ (a key with a space, as people name files).
        2. Invoke with the event EventBridge's input transformer makes: source_s3_uri and event_id, no run_id.
        3. The object is copied byte for byte to runs/t-<first 8 of the event id>/raw/new_batch.csv (named after
           the upload, so later errors name the learner's file), and the result carries the run's names.
        """
        s3 = boto3.client("s3", region_name=REGION)
        s3.put_object(Bucket=bucket, Key="incoming/new batch.csv", Body=IRIS.read_bytes())
        event = load_event("handler_fetch_data_upload", bucket=bucket)
        result = fetch_data.handler(event, None)
        assert result["run_id"] == "t-6f1c2a9e" and result["run_prefix"] == "runs/t-6f1c2a9e"
        assert result["raw_s3_uri"] == f"s3://{bucket}/runs/t-6f1c2a9e/raw/new_batch.csv"
        assert result["min_accuracy"] == 0.9  # the rest of the event passes through
        copied = s3.get_object(Bucket=bucket, Key="runs/t-6f1c2a9e/raw/new_batch.csv")["Body"].read()
        assert copied == IRIS.read_bytes()

    def test_missing_upload_raises_and_writes_nothing(self, bucket):
        """1. Point source_s3_uri at a key that does not exist.
        2. The handler raises NoSuchKey and no raw object appears under runs/.
        """
        event = load_event("handler_fetch_data_upload", bucket=bucket)
        with pytest.raises(boto3.client("s3", region_name=REGION).exceptions.NoSuchKey):
            fetch_data.handler(event, None)
        assert not [k for k in keys(bucket) if k.startswith("runs/")]

    def test_bad_source_uri_is_named(self, bucket):
        """1. source_s3_uri without a key. 2. ValueError naming the value."""
        with pytest.raises(ValueError, match="s3://only-a-bucket"):
            fetch_data.handler({"bucket": bucket, "source_s3_uri": "s3://only-a-bucket", "run_id": "x"}, None)


@pytest.fixture
def job_environment(account, monkeypatch) -> dict[str, str]:
    """The environment the notebooks give the job-starting functions."""
    registry = f"{account}.dkr.ecr.{REGION}.amazonaws.com"
    environment = {
        "PREPROCESS_IMAGE_URI": f"{registry}/unit-kit/preprocess:latest",
        "TRAINING_IMAGE_URI": f"{registry}/linear-learner:1",
        "SAGEMAKER_ROLE_ARN": f"arn:aws:iam::{account}:role/unit-kit-sagemaker",
        "JOB_NAME_PREFIX": "unit-kit",
        "RESOURCE_TAGS": json.dumps(config.settings(prefix="unit-kit", run_id="handler-tests").tags()),
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return environment


def stub_sagemaker(monkeypatch, module) -> Stubber:
    """Make ``module``'s boto3.client("sagemaker") return one stubbed client (no moto, no network)."""
    client = boto3.session.Session(region_name=REGION).client("sagemaker")
    monkeypatch.setattr(module, "boto3", types.SimpleNamespace(client=lambda service: client))
    return Stubber(client)


class TestStartPreprocessing:
    """start_preprocessing creates the run's processing job from the event and its environment."""

    def test_request(self, bucket, job_environment):
        """
        1. Invoke with tests/events/handler_start_preprocessing.json, recording the CreateProcessingJob request.
        2. Image and role come from the environment; the input is the event's raw object.
        3. Outputs train/test/meta are under <run_prefix>/processed; the container paths are under /opt/ml.
        4. Tags are RESOURCE_TAGS; moto has the job under the returned name and ARN.
        """
        calls = record_requests("CreateProcessingJob")
        event = load_event("handler_start_preprocessing", bucket=bucket)
        result = start_preprocessing.handler(event, None)
        (request,) = calls
        name = request["ProcessingJobName"]  # the run's name, then a 6-hex hash of the request's settings
        assert re.fullmatch(r"unit-kit-preprocess-handler-tests-[0-9a-f]{6}", name), name
        assert request["RoleArn"] == job_environment["SAGEMAKER_ROLE_ARN"]
        assert request["AppSpecification"] == {"ImageUri": job_environment["PREPROCESS_IMAGE_URI"],
                                               "ContainerArguments": ["--input-dir", "/opt/ml/processing/input",
                                                                      "--output-dir", "/opt/ml/processing/output"]}
        (source,) = request["ProcessingInputs"]
        assert source["S3Input"]["S3Uri"] == event["raw_s3_uri"]
        assert source["S3Input"]["LocalPath"] == "/opt/ml/processing/input"
        processed = f"s3://{bucket}/runs/handler-tests/processed"
        assert {o["OutputName"]: (o["S3Output"]["S3Uri"], o["S3Output"]["LocalPath"])
                for o in request["ProcessingOutputConfig"]["Outputs"]} == {
            part: (f"{processed}/{part}", f"/opt/ml/processing/output/{part}") for part in ("train", "test", "meta")}
        assert request["ProcessingResources"]["ClusterConfig"]["InstanceType"] == "ml.t3.medium"
        assert request["Tags"] == json.loads(job_environment["RESOURCE_TAGS"])

        sagemaker = boto3.client("sagemaker", region_name=REGION)
        described = sagemaker.describe_processing_job(ProcessingJobName=name)
        assert result["processing_job_arn"] == described["ProcessingJobArn"]
        assert {config.TAG_KIT, config.TAG_RUN} <= {
            t["Key"] for t in sagemaker.list_tags(ResourceArn=described["ProcessingJobArn"])["Tags"]}
        assert result == {**event, "processing_job_name": name, "processing_job_arn": described["ProcessingJobArn"],
                          "train_s3_uri": f"{processed}/train/", "test_s3_uri": f"{processed}/test/"}

    def test_defaults_without_raw_uri(self, bucket, job_environment, monkeypatch):
        """
        1. Invoke with an event lacking raw_s3_uri, and INSTANCE_TYPE set.
        2. The input is the run's raw/ prefix and the instance type the variable's.
        """
        monkeypatch.setenv("INSTANCE_TYPE", "ml.m5.xlarge")
        calls = record_requests("CreateProcessingJob")
        start_preprocessing.handler({"bucket": bucket, "run_prefix": "runs/r2/", "run_id": "r2"}, None)
        (request,) = calls
        assert request["ProcessingInputs"][0]["S3Input"]["S3Uri"] == f"s3://{bucket}/runs/r2/raw/"
        assert request["ProcessingResources"]["ClusterConfig"]["InstanceType"] == "ml.m5.xlarge"

    def test_second_invocation_same_name(self, bucket, job_environment):
        """
        1. Invoke twice for the same run id (moto overwrites duplicates silently).
        2. No error, the same job name both times, and one job exists.
        """
        event = load_event("handler_start_preprocessing", bucket=bucket)
        first = start_preprocessing.handler(event, None)
        second = start_preprocessing.handler(event, None)
        assert first["processing_job_name"] == second["processing_job_name"]
        jobs = boto3.client("sagemaker", region_name=REGION).list_processing_jobs()["ProcessingJobSummaries"]
        assert [j["ProcessingJobName"] for j in jobs] == [first["processing_job_name"]]

    def test_resource_in_use_returns_existing_job(self, job_environment, monkeypatch, capsys):
        """
        1. Stub SageMaker: CreateProcessingJob fails with ResourceInUse (as AWS and the local cloud do),
           DescribeProcessingJob answers the existing job.
        2. The handler returns the existing job's ARN and says it did not start it again.
        """
        stubber = stub_sagemaker(monkeypatch, start_preprocessing)
        name = "unit-kit-preprocess-handler-tests-0a1b2c"  # whatever the hash: the handler asks for the name it made
        arn = f"arn:aws:sagemaker:{REGION}:{'0' * 12}:processing-job/{name}"
        stubber.add_client_error("create_processing_job", service_error_code="ResourceInUse",
                                 service_message=f"Job {name} already exists", http_status_code=400)
        stubber.add_response("describe_processing_job", {
            "ProcessingJobName": name, "ProcessingJobArn": arn, "ProcessingJobStatus": "InProgress",
            "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.t3.medium",
                                                      "VolumeSizeInGB": 5}},
            "AppSpecification": {"ImageUri": job_environment["PREPROCESS_IMAGE_URI"]},
            "CreationTime": datetime.datetime(2026, 11, 25)}, {"ProcessingJobName": ANY})
        with stubber:
            result = start_preprocessing.handler(load_event("handler_start_preprocessing", bucket="b"), None)
        stubber.assert_no_pending_responses()
        made = result["processing_job_name"]
        assert made.startswith("unit-kit-preprocess-handler-tests-") and result["processing_job_arn"] == arn
        assert f"processing job {made} already exists with these same settings" in capsys.readouterr().out

    def test_missing_role_is_named(self, bucket, job_environment, monkeypatch):
        """
        1. Unset SAGEMAKER_ROLE_ARN.
        2. KeyError names it, and no job is created.
        """
        monkeypatch.delenv("SAGEMAKER_ROLE_ARN")
        with pytest.raises(KeyError, match="SAGEMAKER_ROLE_ARN"):
            start_preprocessing.handler(load_event("handler_start_preprocessing", bucket=bucket), None)
        assert boto3.client("sagemaker", region_name=REGION).list_processing_jobs()["ProcessingJobSummaries"] == []


class TestStartTraining:
    """start_training creates linear-learner's training job with its CSV contract."""

    def test_request(self, bucket, job_environment):
        """
        1. Invoke with tests/events/handler_start_training.json, recording the CreateTrainingJob request.
        2. Hyperparameters are strings: multiclass_classifier, num_classes "3", feature_dim "4".
        3. Channels train and test are text/csv from the event's URIs; the output is under <run_prefix>/model.
        4. Image, role and tags come from the environment; the result names the model's future location.
        """
        calls = record_requests("CreateTrainingJob")
        event = load_event("handler_start_training", bucket=bucket)
        result = start_training.handler(event, None)
        (request,) = calls
        name = request["TrainingJobName"]  # the run's name, then a 6-hex hash of the request's settings
        assert re.fullmatch(r"unit-kit-train-handler-tests-[0-9a-f]{6}", name), name
        hyperparameters = request["HyperParameters"]
        assert all(isinstance(v, str) for v in hyperparameters.values())
        assert hyperparameters["predictor_type"] == "multiclass_classifier"
        assert (hyperparameters["num_classes"], hyperparameters["feature_dim"]) == ("3", "4")
        channels = {c["ChannelName"]: c for c in request["InputDataConfig"]}
        assert set(channels) == {"train", "test"}
        for channel, source in channels.items():
            assert source["ContentType"] == "text/csv"
            assert source["DataSource"]["S3DataSource"]["S3Uri"] == event[f"{channel}_s3_uri"]
        output = f"s3://{bucket}/runs/handler-tests/model"
        assert request["OutputDataConfig"] == {"S3OutputPath": output}
        assert request["AlgorithmSpecification"] == {"TrainingImage": job_environment["TRAINING_IMAGE_URI"],
                                                     "TrainingInputMode": "File"}
        assert request["RoleArn"] == job_environment["SAGEMAKER_ROLE_ARN"]
        assert request["Tags"] == json.loads(job_environment["RESOURCE_TAGS"])
        described = boto3.client("sagemaker", region_name=REGION).describe_training_job(TrainingJobName=name)
        assert described["HyperParameters"] == hyperparameters
        assert result["training_job_arn"] == described["TrainingJobArn"]
        assert result["model_s3_uri"] == f"{output}/{name}/output/model.tar.gz"

    def test_hyperparameters_override(self, bucket, job_environment, monkeypatch):
        """
        1. Set HYPERPARAMETERS to JSON with numbers (epochs 50, learning_rate 0.1).
        2. Those become strings; the other defaults stay.
        """
        monkeypatch.setenv("HYPERPARAMETERS", json.dumps({"epochs": 50, "learning_rate": 0.1}))
        calls = record_requests("CreateTrainingJob")
        start_training.handler(load_event("handler_start_training", bucket=bucket), None)
        assert calls[0]["HyperParameters"] == {**start_training.DEFAULT_HYPERPARAMETERS,
                                               "epochs": "50", "learning_rate": "0.1"}

    def test_a_binary_classifier_gets_no_num_classes(self, bucket, job_environment):
        """
        1. Invoke with hyperparameters predictor_type binary_classifier (a two-class CSV) and no num_classes.
        2. The request has no num_classes: the default's "3" is for multiclass only (linear-learner's valid
           num_classes start at 3: https://docs.aws.amazon.com/sagemaker/latest/dg/ll_hyperparameters.html).
        """
        calls = record_requests("CreateTrainingJob")
        event = load_event("handler_start_training", bucket=bucket)
        event["hyperparameters"] = {"predictor_type": "binary_classifier"}
        start_training.handler(event, None)
        assert calls[0]["HyperParameters"]["predictor_type"] == "binary_classifier"
        assert "num_classes" not in calls[0]["HyperParameters"]

    def test_default_channels(self, bucket, job_environment):
        """
        1. Invoke without train_s3_uri and test_s3_uri.
        2. The channels read <run_prefix>/processed/train/ and test/.
        """
        calls = record_requests("CreateTrainingJob")
        start_training.handler({"bucket": bucket, "run_prefix": "runs/r3", "run_id": "r3"}, None)
        uris = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in calls[0]["InputDataConfig"]}
        assert uris == {part: f"s3://{bucket}/runs/r3/processed/{part}/" for part in ("train", "test")}

    def test_resource_in_use_returns_existing_job(self, job_environment, monkeypatch, capsys):
        """
        1. Stub SageMaker: CreateTrainingJob fails with ResourceInUse; DescribeTrainingJob answers the job.
        2. The handler returns the existing job's ARN and says it did not start it again.
        """
        stubber = stub_sagemaker(monkeypatch, start_training)
        name = "unit-kit-train-handler-tests-0a1b2c"  # whatever the hash: the handler asks for the name it made
        arn = f"arn:aws:sagemaker:{REGION}:{'0' * 12}:training-job/{name}"
        stubber.add_client_error("create_training_job", service_error_code="ResourceInUse",
                                 service_message=f"Job {name} already exists", http_status_code=400)
        stubber.add_response("describe_training_job", {
            "TrainingJobName": name, "TrainingJobArn": arn, "TrainingJobStatus": "InProgress",
            "SecondaryStatus": "Training", "ModelArtifacts": {"S3ModelArtifacts": ""},
            "StoppingCondition": {"MaxRuntimeInSeconds": 1800}, "CreationTime": datetime.datetime(2026, 11, 25)},
            {"TrainingJobName": ANY})
        with stubber:
            result = start_training.handler(load_event("handler_start_training", bucket="b"), None)
        stubber.assert_no_pending_responses()
        made = result["training_job_name"]
        assert made.startswith("unit-kit-train-handler-tests-") and result["training_job_arn"] == arn
        assert f"training job {made} already exists with these same settings" in capsys.readouterr().out


class TestJobNamesFollowTheRequest:
    """A job is reused only when its request is the same; a changed setting or new data is a new job.

    SageMaker job names are unique in an account and region (CreateTrainingJob answers ResourceInUse for a name
    that exists, https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTrainingJob.html), so a
    changed request needs a new name.
    """

    def test_event_hyperparameters_reach_the_job_and_its_name(self, bucket, job_environment):
        """
        1. Invoke start_training with the event's hyperparameters (epochs "3"), then again with epochs "15".
        2. Each request carries the event's epochs over the defaults; the two job names differ only in their hash.
        3. Invoking again with epochs "3" returns the first job (same request, same name): two jobs exist.
        """
        calls = record_requests("CreateTrainingJob")
        event = load_event("handler_start_training", bucket=bucket)
        three = start_training.handler({**event, "hyperparameters": {"epochs": "3"}}, None)
        fifteen = start_training.handler({**event, "hyperparameters": {"epochs": "15"}}, None)
        assert [c["HyperParameters"]["epochs"] for c in calls] == ["3", "15"]
        assert calls[0]["HyperParameters"]["num_classes"] == "3"  # the defaults fill what the event leaves out
        assert three["training_job_name"] != fifteen["training_job_name"]
        assert three["training_job_name"][:-6] == fifteen["training_job_name"][:-6]
        again = start_training.handler({**event, "hyperparameters": {"epochs": "3"}}, None)
        assert again["training_job_name"] == three["training_job_name"]
        jobs = boto3.client("sagemaker", region_name=REGION).list_training_jobs()["TrainingJobSummaries"]
        assert len(jobs) == 2

    def test_a_long_run_id_is_found_by_the_notebooks(self, bucket, job_environment, make_kit):
        """
        1. Start a processing job for a generated run id of notebook 05's article chain (base name > 56 characters).
        2. Its name is 63 characters (56 of the base, a hyphen, 6 hex); helpers.sagemaker.run_jobs finds it.
        """
        from helpers import sagemaker

        run = "20261129-164500-3f9a-abcd-article-d151fb"  # a 24-character run id, then 05's label and hash
        event = {**load_event("handler_start_preprocessing", bucket=bucket), "run_id": run}
        name = start_preprocessing.handler(event, None)["processing_job_name"]
        assert len(name) == 63 and name.startswith("unit-kit-preprocess-20261129")
        kit = make_kit(prefix="unit-kit")
        assert sagemaker.run_jobs(kit, run)["processing"]["ProcessingJobName"] == name

    def test_new_input_version_is_a_new_processing_job(self, bucket, job_environment):
        """
        1. Invoke start_preprocessing with input_version "v1", then "v2" (the raw data written again).
        2. Two names; a dataset in the event reaches the job's environment as PIPELINE_DREAMS_DATASET.
        """
        calls = record_requests("CreateProcessingJob")
        event = load_event("handler_start_preprocessing", bucket=bucket)
        first = start_preprocessing.handler({**event, "input_version": "v1"}, None)
        second = start_preprocessing.handler({**event, "input_version": "v2", "dataset": {"label_column": "c"}},
                                             None)
        assert first["processing_job_name"] != second["processing_job_name"]
        assert "Environment" not in calls[0]
        assert json.loads(calls[1]["Environment"]["PIPELINE_DREAMS_DATASET"]) == {"label_column": "c"}


class TestJobName:
    """job_name(): at most 63 letters, digits and hyphens, as SageMaker requires."""

    @pytest.mark.parametrize("module", [start_preprocessing, start_training], ids=["preprocessing", "training"])
    @pytest.mark.parametrize("prefix, run_id, step", [
        ("pipeline-dreams", "20261125-101502-3f9a", "preprocess"),
        ("my_kit", "run_with_underscores", "train"),
        ("kit", "odd.chars/and spaces!", "train"),
        ("p" * 30, "r" * 40, "preprocess"),
        ("kit", "x" * 44 + "-tail", "preprocess"),
    ])
    def test_valid_sagemaker_name(self, module, prefix, run_id, step):
        """
        1. Make a job name from ordinary, underscored, odd and over-long parts.
        2. It is 1-63 characters of [A-Za-z0-9-], starting and ending alphanumeric.
        """
        import re

        name = module.job_name(prefix, run_id, step)
        assert re.fullmatch(JOB_NAME, name), name
        assert name.startswith(prefix.replace("_", "-")[:63])

    def test_handlers_agree_with_the_kit_and_the_state_machines(self):
        """
        1. For ordinary, longest-allowed (with the notebooks' run suffixes) and odd prefixes and run ids, compare
           every handler's copy of job_name with helpers.config.job_name and Names.job.
        2. All agree, so notebooks, Lambdas and Step Functions find the same job.
        3. The state machines take every SageMaker name from $.job_names (which fetch_data fills), none from
           States.Format, which cannot shorten a name.
        """
        import re

        longest_prefix, longest_run = "p" + "x" * 22 + "1", "2" + "9" * 23
        cases = [("unit-kit", config.new_run_id()), (longest_prefix, longest_run),
                 (longest_prefix, f"{longest_run}-pipeline"), ("my_kit", "odd.chars/and spaces!")]
        for prefix, run_id in cases:
            names = config.Names(prefix, "0" * 12, REGION)
            for step in config.JOB_STEPS:
                expected = config.job_name(prefix, run_id, step)
                assert names.job(step, run_id) == expected
                for module in (start_preprocessing, start_training, fetch_data):
                    assert module.job_name(prefix, run_id, step) == expected, (module.__name__, prefix, run_id, step)
        assert fetch_data.JOB_STEPS == config.JOB_STEPS
        read = []
        for path in STATEMACHINES_DIR.glob("*.asl.json"):
            text = path.read_text()
            for field in ("ProcessingJobName", "TrainingJobName", "TransformJobName", "ModelName",
                          "EndpointConfigName"):
                assert f'"{field}":' not in text, (path.name, field)  # never a fixed name
                for value in re.findall(rf'"{field}\.\$": "([^"]+)"', text):
                    assert value.startswith("$.job_names."), (path.name, field, value)
                    read.append(value.removeprefix("$.job_names."))
        assert set(read) == set(config.JOB_STEPS)  # every name the kit makes is read, each from $.job_names


class TestJobNamesAreShortenedWithAHash:
    """SageMaker job, model and endpoint config names: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}, at most 63 characters.

    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateProcessingJob.html (ProcessingJobName)
    """

    LONGEST_PREFIX, LONGEST_RUN = "p" + "x" * 22 + "1", "2" + "9" * 23  # the most settings() accepts

    def test_longest_names_are_valid_stable_and_distinct(self):
        """
        1. Take the longest prefix and run id the kit allows, plus the suffixes notebooks add (-pipeline, …).
        2. Every name is valid and at most 63 characters; the same input gives the same name.
        3. A name over 63 characters keeps its start and ends with 8 hex characters of a hash of the whole name.
        4. Two run ids that differ only in their last character still get different names.
        """
        import re

        for suffix in ("", "-article", "-pipeline", "-gated", "-strict", "-shuffled"):
            run_id = self.LONGEST_RUN + suffix
            for step in config.JOB_STEPS:
                name = config.job_name(self.LONGEST_PREFIX, run_id, step)
                assert re.fullmatch(JOB_NAME, name) and len(name) <= 63, name
                assert config.job_name(self.LONGEST_PREFIX, run_id, step) == name
                full = "-".join(p for p in (self.LONGEST_PREFIX, "" if step == "model" else step, run_id) if p)
                if len(full) > 63:
                    assert len(name) == 63 and name[:54] == full[:54] and re.fullmatch(r"-[0-9a-f]{8}", name[54:])
                else:
                    assert name == full
        first = config.job_name(self.LONGEST_PREFIX, self.LONGEST_RUN + "-pipelinea", "evaluate")
        second = config.job_name(self.LONGEST_PREFIX, self.LONGEST_RUN + "-pipelineb", "evaluate")
        assert first != second and first[:54] == second[:54]

    def test_handler_uses_the_shortened_name(self, monkeypatch):
        """
        1. Run start_preprocessing with the longest prefix and a run id with the -pipeline suffix (SageMaker stubbed).
        2. CreateProcessingJob gets a valid name of at most 63 characters: the start of the name helpers.config.job_name
           gives, then the hash of what the job does (issue 10: a changed setting names a new job), and the handler
           returns that name.
        """
        run_id = self.LONGEST_RUN + "-pipeline"
        base = config.job_name(self.LONGEST_PREFIX, run_id, "preprocess")
        for name, value in {"JOB_NAME_PREFIX": self.LONGEST_PREFIX, "PREPROCESS_IMAGE_URI": "img",
                            "SAGEMAKER_ROLE_ARN": "arn:aws:iam::123456789012:role/r",
                            "AWS_DEFAULT_REGION": REGION}.items():
            monkeypatch.setenv(name, value)
        client = boto3.client("sagemaker", region_name=REGION)
        monkeypatch.setattr(start_preprocessing.boto3, "client", lambda *a, **k: client)
        sent: list[str] = []
        client.meta.events.register("provide-client-params.sagemaker.CreateProcessingJob",
                                    lambda params, **_: sent.append(params["ProcessingJobName"]))
        with Stubber(client) as stubber:
            stubber.add_response("create_processing_job", {"ProcessingJobArn": f"arn:aws:sagemaker:{REGION}:"
                                                           "123456789012:processing-job/x"},
                                 {k: ANY for k in ("ProcessingJobName", "RoleArn", "AppSpecification",
                                                   "ProcessingInputs", "ProcessingOutputConfig", "ProcessingResources",
                                                   "StoppingCondition", "Tags")})
            result = start_preprocessing.handler({"bucket": "b", "run_prefix": f"runs/{run_id}", "run_id": run_id},
                                                 None)
        name = result["processing_job_name"]
        assert sent == [name] and len(name) <= 63 and config.JOB_NAME_PATTERN.fullmatch(name), name
        assert name.startswith(f"{self.LONGEST_PREFIX}-preprocess-") and re.fullmatch(r".*-[0-9a-f]{6}", name), name
