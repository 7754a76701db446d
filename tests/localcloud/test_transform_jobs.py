"""SageMaker Batch Transform: jobs really predict every line of their S3 input with the model.

Every test talks to ``python -m localcloud`` (the ``cloud`` fixture) through boto3 only. The
model is trained by a linear-learner training job in the cloud; its ``.out`` files are checked
against :func:`localcloud.sagemaker.algorithms.linear_learner.train.predict` on the same rows in this process.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from _support import (account_id, create_bucket, create_role, ecr_image_uri, load_event, read_log_messages,
                      unique_name)
from _wait import wait_for_status
from botocore.exceptions import ClientError

from localcloud.sagemaker.algorithms.linear_learner import train as linear_learner

REGION = "eu-west-1"
DONE = {"Completed", "Failed", "Stopped"}
FINISHED = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


@pytest.fixture(scope="module")
def setup(cloud, prepared, tmp_path_factory):
    """A bucket with iris data, a linear-learner training job's model registered as a SageMaker model."""
    sm, s3 = cloud.client("sagemaker", REGION), cloud.client("s3", REGION)
    account = account_id(cloud)
    bucket = create_bucket(cloud, unique_name("transform"), REGION)
    for channel in ("train", "test"):
        s3.upload_file(str(prepared / channel / f"{channel}.csv"), bucket, f"data/{channel}/{channel}.csv")
    role = create_role(cloud, unique_name("transform-tests"))
    image = ecr_image_uri(account, REGION, "linear-learner", "1")
    training = unique_name("train-for-transform")
    sm.create_training_job(
        TrainingJobName=training, RoleArn=role, HyperParameters=load_event("linear_learner_hyperparameters.json"),
        AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
        InputDataConfig=[{"ChannelName": "train", "ContentType": "text/csv", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/data/train/",
            "S3DataDistributionType": "FullyReplicated"}}}],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/models"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 300})
    trained = wait_for_status(lambda: sm.describe_training_job(TrainingJobName=training), "TrainingJobStatus", DONE,
                              timeout=60)
    assert trained["TrainingJobStatus"] == "Completed", trained.get("FailureReason")
    artifact = trained["ModelArtifacts"]["S3ModelArtifacts"]
    local = tmp_path_factory.mktemp("model") / "model.tar.gz"
    local.write_bytes(s3.get_object(Bucket=bucket, Key=artifact.split("/", 3)[3])["Body"].read())
    model_name = unique_name("transform-model")
    sm.create_model(ModelName=model_name, ExecutionRoleArn=role,
                    PrimaryContainer={"Image": image, "ModelDataUrl": artifact})
    return {"sm": sm, "s3": s3, "sfn": cloud.client("stepfunctions", REGION), "bucket": bucket, "role": role,
            "model_name": model_name, "model": linear_learner.load_model(local), "cloud": cloud}


def _request(setup: dict, name: str, input_prefix: str = "data/test/", output: str | None = None,
             accept: str = "application/jsonlines", input_filter: str | None = "$[1:]") -> dict:
    request = {
        "TransformJobName": name,
        "ModelName": setup["model_name"],
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                           "S3Uri": f"s3://{setup['bucket']}/{input_prefix}"}},
                           "ContentType": "text/csv", "SplitType": "Line"},
        "TransformOutput": {"S3OutputPath": f"s3://{setup['bucket']}/{output or 'predictions/' + name}",
                            "Accept": accept, "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    if input_filter:
        request["DataProcessing"] = {"InputFilter": input_filter}
    return request


def _wait_done(sm, name: str) -> dict:
    return wait_for_status(lambda: sm.describe_transform_job(TransformJobName=name), "TransformJobStatus", DONE,
                           timeout=30)


def _read(setup: dict, key: str) -> str:
    return setup["s3"].get_object(Bucket=setup["bucket"], Key=key)["Body"].read().decode()


@pytest.fixture(scope="module")
def finished(setup):
    """A jsonlines job on the label-first test CSV with InputFilter $[1:]: (request, first Describe, final Describe)."""
    request = _request(setup, unique_name("transform"))
    setup["sm"].create_transform_job(**request)
    first = setup["sm"].describe_transform_job(TransformJobName=request["TransformJobName"])
    return request, first, _wait_done(setup["sm"], request["TransformJobName"])


class TestBatchTransform:
    """A transform job predicts each line of each input object and writes <name>.out."""

    def test_completes(self, finished):
        """
        1. Create the job; Describe at once says InProgress.
        2. Poll to the end: Completed, with start and end times and no FailureReason.
        """
        request, first, final = finished
        assert first["TransformJobStatus"] == "InProgress"
        assert final["TransformJobStatus"] == "Completed", final.get("FailureReason")
        assert final["TransformStartTime"] <= final["TransformEndTime"]
        assert "FailureReason" not in final
        assert final["DataProcessing"] == {"InputFilter": "$[1:]"}

    def test_out_file_has_one_record_per_line(self, setup, finished, test_rows):
        """
        1. Read <S3OutputPath>/test.csv.out.
        2. One JSON record per input line, each with predicted_label and 3 scores, equal to
           linear_learner.predict on the rows without their label column.
        3. Accuracy against the labels is what predict() gives, and at least 0.9.
        """
        request, _, _ = finished
        key = request["TransformOutput"]["S3OutputPath"].split("/", 3)[3] + "/test.csv.out"
        records = [json.loads(line) for line in _read(setup, key).splitlines()]

        assert len(records) == len(test_rows)
        expected = linear_learner.predict(setup["model"], test_rows[:, 1:])
        for got, want in zip(records, expected):
            assert got["predicted_label"] == want["predicted_label"]
            assert got["score"] == pytest.approx(want["score"], abs=1e-9)
        accuracy = np.mean([r["predicted_label"] == label for r, label in zip(records, test_rows[:, 0])])
        assert accuracy == pytest.approx(np.mean([e["predicted_label"] == label
                                                  for e, label in zip(expected, test_rows[:, 0])]))
        assert accuracy >= 0.9

    def test_logs_in_cloudwatch(self, setup, finished, test_rows):
        """
        1. Read the /aws/sagemaker/TransformJobs streams of the job.
        2. They report the input object with the number of records transformed, and the total.
        """
        request, _, _ = finished
        messages = read_log_messages(setup["cloud"], "/aws/sagemaker/TransformJobs", request["TransformJobName"])
        assert any(f"data/test/test.csv: {len(test_rows)} records" in m for m in messages), messages
        assert any(f"Transformed {len(test_rows)} records from 1 object(s)" in m for m in messages), messages

    def test_json_accept_writes_predictions_document(self, setup, test_rows):
        """
        1. Run a job with Accept application/json and InputFilter $[1,2,3,4] (same columns as $[1:]).
        2. The .out object is {"predictions": [...]} with one record per input line.
        """
        request = _request(setup, unique_name("transform-json"), accept="application/json",
                           input_filter="$[1,2,3,4]")
        setup["sm"].create_transform_job(**request)
        final = _wait_done(setup["sm"], request["TransformJobName"])

        assert final["TransformJobStatus"] == "Completed", final.get("FailureReason")
        key = request["TransformOutput"]["S3OutputPath"].split("/", 3)[3] + "/test.csv.out"
        predictions = json.loads(_read(setup, key))["predictions"]
        assert [p["predicted_label"] for p in predictions] == [
            p["predicted_label"] for p in linear_learner.predict(setup["model"], test_rows[:, 1:])]

    def test_duplicate_name_is_resource_in_use(self, setup, finished):
        """
        1. Create a transform job with the name of a finished one.
        2. ResourceInUse, naming the job; the finished job is unchanged.
        """
        request, _, final = finished
        with pytest.raises(ClientError) as raised:
            setup["sm"].create_transform_job(**request)
        assert raised.value.response["Error"]["Code"] == "ResourceInUse"
        assert request["TransformJobName"] in raised.value.response["Error"]["Message"]
        again = setup["sm"].describe_transform_job(TransformJobName=request["TransformJobName"])
        assert again["TransformJobStatus"] == "Completed"
        assert again["TransformEndTime"] == final["TransformEndTime"]

    def test_unknown_model_is_refused(self, setup):
        """
        1. Create a transform job naming a model that does not exist.
        2. ValidationException naming the model; no job is recorded.
        """
        request = {**_request(setup, unique_name("no-model")), "ModelName": unique_name("missing-model")}
        with pytest.raises(ClientError) as raised:
            setup["sm"].create_transform_job(**request)
        assert request["ModelName"] in raised.value.response["Error"]["Message"]
        with pytest.raises(ClientError):
            setup["sm"].describe_transform_job(TransformJobName=request["TransformJobName"])


class TestFailingTransform:
    """Bad data or unsupported settings fail the job with a FailureReason that says why."""

    def test_unsupported_input_filter(self, setup):
        """
        1. Create a job with InputFilter $.features (a JSON filter, not for CSV rows).
        2. Failed; FailureReason names the filter and what is supported.
        """
        request = _request(setup, unique_name("bad-filter"), input_filter="$.features")
        setup["sm"].create_transform_job(**request)

        final = _wait_done(setup["sm"], request["TransformJobName"])

        assert final["TransformJobStatus"] == "Failed"
        assert "$.features" in final["FailureReason"] and "$[1:]" in final["FailureReason"]

    def test_bad_row_names_object_and_line(self, setup):
        """
        1. Upload a CSV whose third line has a non-number; transform it with $[1:].
        2. Failed; FailureReason names the object, line 3 and the bad cell; no .out is written.
        """
        prefix = f"bad/{unique_name('rows')}/"
        setup["s3"].put_object(Bucket=setup["bucket"], Key=prefix + "rows.csv",
                               Body=b"0,5.1,3.5,1.4,0.2\n1,6.2,2.9,4.3,1.3\n2,6.3,oops,5.6,2.4\n")
        request = _request(setup, unique_name("bad-row"), input_prefix=prefix)
        setup["sm"].create_transform_job(**request)

        final = _wait_done(setup["sm"], request["TransformJobName"])

        assert final["TransformJobStatus"] == "Failed"
        assert f"{prefix}rows.csv" in final["FailureReason"]
        assert "line 3" in final["FailureReason"] and "'oops'" in final["FailureReason"]
        output = request["TransformOutput"]["S3OutputPath"].split("/", 3)[3]
        assert setup["s3"].list_objects_v2(Bucket=setup["bucket"], Prefix=output).get("KeyCount", 0) == 0


def _machine(setup: dict, transform: dict, catch: bool = False) -> str:
    task = {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTransformJob.sync",
            "Parameters": transform, "End": True}
    states = {"Predict": task}
    if catch:
        task["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Recovered"}]
        states["Recovered"] = {"Type": "Pass", "End": True}
    definition = {"StartAt": "Predict", "States": states}
    return setup["sfn"].create_state_machine(name=unique_name("transform-machine"), definition=json.dumps(definition),
                                             roleArn=setup["role"])["stateMachineArn"]


def _run(setup: dict, machine: str, execution_input: dict) -> dict:
    arn = setup["sfn"].start_execution(stateMachineArn=machine, input=json.dumps(execution_input))["executionArn"]
    return wait_for_status(lambda: setup["sfn"].describe_execution(executionArn=arn), "status", FINISHED, timeout=60)


class TestTransformUnderStepFunctions:
    """arn:aws:states:::sagemaker:createTransformJob.sync waits for the job, as on AWS."""

    def test_sync_succeeds_with_describe_output(self, setup, test_rows):
        """
        1. A state machine runs createTransformJob.sync with the job name from its input.
        2. The execution SUCCEEDED; its output is the job's final Describe (Completed, same name).
        3. The job's .out exists with one record per test row.
        """
        parameters = _request(setup, "unused")
        del parameters["TransformJobName"]
        parameters["TransformJobName.$"] = "$.job"
        parameters["TransformOutput"]["S3OutputPath"] = f"s3://{setup['bucket']}/sync-predictions"
        name = unique_name("sync-transform")

        execution = _run(setup, _machine(setup, parameters), {"job": name})

        assert execution["status"] == "SUCCEEDED", execution.get("cause")
        output = json.loads(execution["output"])
        assert output["TransformJobName"] == name
        assert output["TransformJobStatus"] == "Completed"
        assert output["ModelName"] == setup["model_name"]
        assert len(_read(setup, "sync-predictions/test.csv.out").splitlines()) == len(test_rows)

    def test_sync_failure_is_caught(self, setup):
        """
        1. The same task with an unsupported InputFilter, and a Catch on States.ALL.
        2. The execution SUCCEEDED through the Catch; $.error is States.TaskFailed and its Cause is
           the failed job's Describe, whose FailureReason names the filter.
        """
        parameters = _request(setup, unique_name("sync-bad"), input_filter="$.features")

        execution = _run(setup, _machine(setup, parameters, catch=True), {})

        assert execution["status"] == "SUCCEEDED", execution.get("cause")
        error = json.loads(execution["output"])["error"]
        assert error["Error"] == "States.TaskFailed"
        cause = json.loads(error["Cause"])
        assert cause["TransformJobStatus"] == "Failed"
        assert "$.features" in cause["FailureReason"]

    def test_sync_failure_without_catch_fails_execution(self, setup):
        """
        1. The failing task without a Catch.
        2. The execution FAILED with error States.TaskFailed.
        """
        parameters = _request(setup, unique_name("sync-uncaught"), input_filter="$.features")

        execution = _run(setup, _machine(setup, parameters), {})

        assert execution["status"] == "FAILED"
        assert execution.get("error") == "States.TaskFailed"
