"""Tests for the job-starting handlers (src/lambdas/start_preprocessing.py, start_training.py), called directly.

In the style of aws-samples/serverless-test-samples: each handler is loaded from its file, given an event from
tests/events/handler_*.json, and run against moto in-process or a stubbed SageMaker client (no network).
"""

from __future__ import annotations

import datetime
import json
import re

import boto3
import pytest
from _handler_support import (
    JOB_NAME,
    REGION,
    load_event,
    load_handler,
    record_requests,
    stub_sagemaker,
)
from botocore.stub import ANY, Stubber

from helpers import config
from helpers.paths import STATEMACHINES_DIR

fetch_data = load_handler("fetch_data")
start_preprocessing = load_handler("start_preprocessing")
start_training = load_handler("start_training")


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
