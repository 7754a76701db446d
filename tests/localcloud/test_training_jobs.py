"""SageMaker Training behaviour: linear-learner jobs really train on S3 data and write model.tar.gz.

Every test talks to ``python -m localcloud`` (the ``cloud`` fixture) through boto3 only; the
model it writes is checked against :func:`localcloud.sagemaker.algorithms.linear_learner.train.predict` in this process.
"""

from __future__ import annotations

import io
import tarfile
import time

import numpy as np
import pytest
from _support import (account_id, create_bucket, create_role, csv_rows, ecr_image_uri, load_event, read_log_messages,
                      run_preprocess_locally, unique_name)
from _wait import wait_for, wait_for_status

from localcloud.sagemaker.algorithms.linear_learner import train as linear_learner

DONE = {"Completed", "Failed", "Stopped"}
# Two regions, two registries: the linear-learner image's account differs per region on AWS.
REGIONS = ("eu-west-1", "us-east-1")



def _channel(name: str, uri: str) -> dict:
    return {"ChannelName": name, "ContentType": "text/csv", "InputMode": "File", "DataSource": {
        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}}}


@pytest.fixture(scope="module")
def prepared_data(tmp_path_factory):
    """iris train/test CSVs made by running src/jobs/preprocess.py locally."""
    return run_preprocess_locally(tmp_path_factory.mktemp("iris"))


@pytest.fixture(scope="module")
def regions(cloud, prepared_data):
    """Per region: a client set, a bucket holding the train/test CSVs, and a linear-learner image URI."""
    account = account_id(cloud)
    role = create_role(cloud, unique_name("training-tests"))
    registries = {"eu-west-1": account, "us-east-1": "1" * 12}
    setup = {}
    for region in REGIONS:
        s3 = cloud.client("s3", region=region)
        bucket = create_bucket(cloud, unique_name(f"training-{region}"), region)
        for channel in ("train", "test"):
            s3.upload_file(str(prepared_data / channel / f"{channel}.csv"), bucket, f"data/{channel}/{channel}.csv")
        setup[region] = {
            "sm": cloud.client("sagemaker", region=region), "s3": s3, "bucket": bucket,
            "image": ecr_image_uri(registries[region], region, "linear-learner", "1"),
            "role": role}
    return setup


def _request(setup: dict, name: str, hyperparameters: dict, image: str | None = None, max_runtime: int = 300) -> dict:
    bucket = setup["bucket"]
    return {
        "TrainingJobName": name,
        "RoleArn": setup["role"],
        "AlgorithmSpecification": {"TrainingImage": image or setup["image"], "TrainingInputMode": "File"},
        "HyperParameters": hyperparameters,
        "InputDataConfig": [_channel("train", f"s3://{bucket}/data/train/"),
                            _channel("test", f"s3://{bucket}/data/test/")],
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/models"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
    }


def _wait_done(sm, name: str, timeout: float = 60) -> dict:
    return wait_for_status(lambda: sm.describe_training_job(TrainingJobName=name), "TrainingJobStatus", DONE,
                           timeout=timeout)


@pytest.fixture(scope="module")
def trained(regions):
    """One linear-learner job per region, started together; region -> (request, first status, final Describe)."""
    hyperparameters = load_event("linear_learner_hyperparameters.json")
    started = {}
    for region, setup in regions.items():
        request = _request(setup, unique_name("linear-learner"), hyperparameters)
        setup["sm"].create_training_job(**request)
        first = setup["sm"].describe_training_job(TrainingJobName=request["TrainingJobName"])["TrainingJobStatus"]
        started[region] = (request, first)
    return {region: (request, first, _wait_done(regions[region]["sm"], request["TrainingJobName"]))
            for region, (request, first) in started.items()}


def _download_model(setup: dict, artifact: str, target) -> bytes:
    bucket, key = artifact.removeprefix("s3://").split("/", 1)
    assert bucket == setup["bucket"]
    body = setup["s3"].get_object(Bucket=bucket, Key=key)["Body"].read()
    target.write_bytes(body)
    return body


@pytest.mark.parametrize("region", REGIONS)
class TestLinearLearner:
    """The linear-learner image of any region trains on iris and reports real metrics."""

    def test_completes_with_model_artifact(self, region, trained, regions, tmp_path):
        """
        1. Upload locally preprocessed iris train/test CSVs; create a linear-learner job
           (hyperparameters from tests/events/linear_learner_hyperparameters.json).
        2. Describe at once (InProgress), then poll to the end.
        3. Completed; ModelArtifacts.S3ModelArtifacts is <S3OutputPath>/<job>/output/model.tar.gz.
        4. That object is a tar.gz holding the model, which load_model reads.
        """
        request, first, final = trained[region]
        assert first == "InProgress"
        assert final["TrainingJobStatus"] == "Completed", final.get("FailureReason")
        expected = f"{request['OutputDataConfig']['S3OutputPath']}/{request['TrainingJobName']}/output/model.tar.gz"
        assert final["ModelArtifacts"]["S3ModelArtifacts"] == expected

        body = _download_model(regions[region], expected, tmp_path / "model.tar.gz")
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
            assert linear_learner.MODEL_FILE in archive.getnames()
        model = linear_learner.load_model(tmp_path / "model.tar.gz")
        assert model["predictor_type"] == "multiclass_classifier"
        assert model["feature_dim"] == 4

    def test_final_metrics_match_the_model(self, region, trained, regions, prepared_data, tmp_path):
        """
        1. Take the finished job's FinalMetricDataList.
        2. Download model.tar.gz and score the test rows with localcloud.sagemaker.algorithms.linear_learner.train.predict.
        3. test:multiclass_accuracy is >= 0.9 and equals the accuracy computed from those predictions.
        """
        _, _, final = trained[region]
        metrics = {m["MetricName"]: m["Value"] for m in final["FinalMetricDataList"]}
        assert metrics["test:multiclass_accuracy"] >= 0.9

        _download_model(regions[region], final["ModelArtifacts"]["S3ModelArtifacts"], tmp_path / "model.tar.gz")
        model = linear_learner.load_model(tmp_path / "model.tar.gz")
        rows = np.array(csv_rows((prepared_data / "test" / "test.csv").read_text()), dtype=np.float64)
        predictions = linear_learner.predict(model, rows[:, 1:])
        accuracy = float(np.mean([p["predicted_label"] == label for p, label in zip(predictions, rows[:, 0])]))
        assert metrics["test:multiclass_accuracy"] == pytest.approx(accuracy)

    def test_secondary_status_transitions(self, region, trained):
        """
        1. Take the finished job's SecondaryStatusTransitions.
        2. They include Training and then Completed, with times in order.
        """
        _, _, final = trained[region]
        statuses = [t["Status"] for t in final["SecondaryStatusTransitions"]]
        assert "Training" in statuses and "Completed" in statuses, statuses
        assert statuses.index("Training") < statuses.index("Completed")
        assert statuses[-1] == "Completed" == final["SecondaryStatus"]
        starts = [t["StartTime"] for t in final["SecondaryStatusTransitions"]]
        assert starts == sorted(starts)
        assert final["TrainingStartTime"] <= final["TrainingEndTime"]

    def test_log_holds_the_algorithms_lines_and_no_python_warning(self, region, trained, cloud):
        """
        1. Read the finished job's stream in /aws/sagemaker/TrainingJobs (``<job>/algo-1-…``).
        2. It holds the algorithm's lines (the stand-in's first line, its metrics) and no warning of Python's own:
           a learner reads this log in 04 and 08 as the algorithm's.
        """
        request, _, _ = trained[region]
        messages = read_log_messages(cloud, "/aws/sagemaker/TrainingJobs", f"{request['TrainingJobName']}/", region)
        assert any("linear-learner" in m for m in messages), messages[:5]
        assert any("multiclass_accuracy" in m for m in messages), messages
        assert not [m for m in messages if "Warning" in m or "<frozen" in m], messages[:5]


class TestBadHyperparameters:
    """linear-learner's contract is enforced: multiclass needs num_classes."""

    def test_multiclass_without_num_classes_fails(self, regions):
        """
        1. Create a job with predictor_type=multiclass_classifier and no num_classes.
        2. Wait for the end.
        3. Failed, with a FailureReason naming num_classes; no model artifact is reported.
        """
        setup = regions["eu-west-1"]
        hyperparameters = load_event("linear_learner_hyperparameters.json")
        del hyperparameters["num_classes"]
        name = unique_name("no-num-classes")
        setup["sm"].create_training_job(**_request(setup, name, hyperparameters))

        final = _wait_done(setup["sm"], name)

        assert final["TrainingJobStatus"] == "Failed"
        assert "num_classes" in final["FailureReason"]
        assert not (final.get("ModelArtifacts") or {}).get("S3ModelArtifacts")

    def test_unknown_hyperparameter_fails(self, regions):
        """linear-learner refuses a name it does not know, as Amazon's first-party algorithms refuse one (their
        hyperparameter schema: "ClientError: Additional hyperparameters are not allowed ('augmentation type' was
        unexpected)" for image-classification; the names are
        https://docs.aws.amazon.com/sagemaker/latest/dg/ll_hyperparameters.html).

        1. Create a job with a misspelt learning_rate (learning_rat).
        2. Failed: a ClientError naming the misspelt name; no model artifact.
        """
        setup = regions["eu-west-1"]
        name = unique_name("misspelt")
        setup["sm"].create_training_job(**_request(setup, name, {
            **load_event("linear_learner_hyperparameters.json"), "learning_rat": "0.1"}))

        final = _wait_done(setup["sm"], name)

        assert final["TrainingJobStatus"] == "Failed"
        assert final["FailureReason"].startswith("ClientError: ")
        assert "Additional hyperparameters are not allowed ('learning_rat' was unexpected)" in final["FailureReason"]
        assert not (final.get("ModelArtifacts") or {}).get("S3ModelArtifacts")


class TestStopTrainingJob:
    """stop_training_job stops a running job."""

    def test_stop_long_running_job(self, regions):
        """
        1. Create a job that would train for a very long time (many epochs, mini-batches of 1).
        2. Wait until its SecondaryStatus is Training.
        3. Call stop_training_job: the job ends Stopped within a few seconds.
        """
        setup = regions["eu-west-1"]
        hyperparameters = {**load_event("linear_learner_hyperparameters.json"), "epochs": "1000000",
                           "mini_batch_size": "1"}
        name = unique_name("stopped")
        sm = setup["sm"]
        sm.create_training_job(**_request(setup, name, hyperparameters))
        wait_for(lambda: sm.describe_training_job(TrainingJobName=name)["SecondaryStatus"] == "Training",
                 timeout=20, description="SecondaryStatus Training")
        time.sleep(0.5)
        assert sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "InProgress"

        started = time.monotonic()
        sm.stop_training_job(TrainingJobName=name)
        final = _wait_done(sm, name, timeout=15)

        assert final["TrainingJobStatus"] == "Stopped"
        assert final["SecondaryStatus"] == "Stopped"
        assert time.monotonic() - started < 5

    def test_stop_right_after_create(self, regions):
        """
        1. Create the same long-running job and stop it at once (its data may still be downloading).
        2. The job ends Stopped within a few seconds.
        """
        setup = regions["eu-west-1"]
        hyperparameters = {**load_event("linear_learner_hyperparameters.json"), "epochs": "1000000",
                           "mini_batch_size": "1"}
        name = unique_name("stopped-early")
        started = time.monotonic()
        setup["sm"].create_training_job(**_request(setup, name, hyperparameters))
        setup["sm"].stop_training_job(TrainingJobName=name)

        final = _wait_done(setup["sm"], name, timeout=15)

        assert final["TrainingJobStatus"] == "Stopped"
        assert time.monotonic() - started < 5


class TestUnknownTrainingImage:
    """A training image that is neither linear-learner nor one of the kit's fails the job."""

    def test_unknown_image_fails_naming_it(self, regions, cloud):
        """
        1. Create a job on an ECR image with no docker/<name>/Dockerfile (not linear-learner).
        2. Wait for the end.
        3. Failed, with a FailureReason naming the image.
        """
        setup = regions["eu-west-1"]
        image = ecr_image_uri(account_id(cloud), "eu-west-1", f"{unique_name('team')}/xgboost-lookalike", "1")
        name = unique_name("unknown-image")
        setup["sm"].create_training_job(**_request(setup, name, load_event("linear_learner_hyperparameters.json"),
                                                   image=image))

        final = _wait_done(setup["sm"], name)

        assert final["TrainingJobStatus"] == "Failed"
        assert image in final["FailureReason"]
