"""SageMaker endpoints: InvokeEndpoint answers with the deployed linear-learner model's predictions.

Every test talks to ``python -m localcloud`` (the ``cloud`` fixture) through boto3 only. The
models are trained here with :mod:`localcloud.sagemaker.algorithms.linear_learner.train` on iris and uploaded as
``model.tar.gz``; the endpoint's answers are checked against
:func:`localcloud.sagemaker.algorithms.linear_learner.train.predict` on the same rows.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile

import numpy as np
import pytest
from _support import account_id, create_bucket, create_role, ecr_image_uri, load_event, unique_name
from _wait import wait_for
from botocore.exceptions import ClientError

from localcloud.sagemaker.algorithms.linear_learner import train as linear_learner

REGION = "eu-west-1"


def _train_model(prepared, folder, hyperparameters: dict) -> bytes:
    """Train the stand-in on iris train.csv in an /opt/ml-shaped folder; return model.tar.gz bytes."""
    (folder / "input/config").mkdir(parents=True)
    (folder / "input/data/train").mkdir(parents=True)
    shutil.copy(prepared / "train" / "train.csv", folder / "input/data/train/train.csv")
    (folder / "input/config/hyperparameters.json").write_text(json.dumps(hyperparameters))
    (folder / "input/config/inputdataconfig.json").write_text(json.dumps({"train": {"ContentType": "text/csv"}}))
    linear_learner.train(folder)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(folder / "model" / linear_learner.MODEL_FILE, arcname=linear_learner.MODEL_FILE)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def setup(cloud, prepared, tmp_path_factory):
    """Two trained models (A: 15 epochs, B: 1 epoch) in S3, registered as SageMaker models."""
    sm, s3 = cloud.client("sagemaker", REGION), cloud.client("s3", REGION)
    account = account_id(cloud)
    bucket = create_bucket(cloud, unique_name("endpoints"), REGION)
    image = ecr_image_uri(account, REGION, "linear-learner", "1")
    role = create_role(cloud, unique_name("endpoint-tests"))
    hyperparameters = load_event("linear_learner_hyperparameters.json")
    models = {}
    for label, epochs in (("a", "15"), ("b", "1")):
        body = _train_model(prepared, tmp_path_factory.mktemp(f"model-{label}"), {**hyperparameters, "epochs": epochs})
        key = f"models/{label}/model.tar.gz"
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        name = unique_name(f"model-{label}")
        sm.create_model(ModelName=name, ExecutionRoleArn=role,
                        PrimaryContainer={"Image": image, "ModelDataUrl": f"s3://{bucket}/{key}"})
        local = tmp_path_factory.mktemp(f"download-{label}") / "model.tar.gz"
        local.write_bytes(body)
        models[label] = (name, linear_learner.load_model(local))
    return {"sm": sm, "s3": s3, "runtime": cloud.client("sagemaker-runtime", REGION),
            "logs": cloud.client("logs", REGION),
            "account": account, "bucket": bucket, "image": image, "role": role, "models": models}


def _deploy(setup: dict, model_name: str) -> tuple[str, str]:
    """Endpoint config (one AllTraffic variant) and endpoint for ``model_name``; returns their names."""
    config = unique_name("config")
    setup["sm"].create_endpoint_config(EndpointConfigName=config, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": model_name, "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large"}])
    endpoint = unique_name("endpoint")
    setup["sm"].create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
    return endpoint, config


def _csv(rows: np.ndarray) -> str:
    return "\n".join(",".join(repr(float(value)) for value in row) for row in rows)


def _invoke(setup: dict, endpoint: str, body: str, **kwargs) -> dict:
    response = setup["runtime"].invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=body, **kwargs)
    return {**response, "Body": response["Body"].read().decode()}


def _assert_same_predictions(received: list[dict], expected: list[dict]) -> None:
    assert len(received) == len(expected)
    for got, want in zip(received, expected):
        assert got["predicted_label"] == want["predicted_label"]
        assert got["score"] == pytest.approx(want["score"], abs=1e-9)


@pytest.fixture(scope="module")
def endpoint_a(setup):
    return _deploy(setup, setup["models"]["a"][0])[0]


class TestInvokeEndpoint:
    """InvokeEndpoint with text/csv rows answers with the deployed model's predictions."""

    def test_csv_rows_get_json_predictions(self, setup, endpoint_a, test_rows):
        """
        1. Deploy model A (model → endpoint config → endpoint); DescribeEndpoint says InService.
        2. Invoke with 3 iris feature rows as text/csv, no Accept (linear-learner answers JSON).
        3. The body is {"predictions": [...]} with 3 records of predicted_label and 3 class scores,
           equal to linear_learner.predict on the same rows; the variant is AllTraffic.
        """
        assert setup["sm"].describe_endpoint(EndpointName=endpoint_a)["EndpointStatus"] == "InService"
        rows = test_rows[:3, 1:]

        response = _invoke(setup, endpoint_a, _csv(rows))

        assert response["ContentType"] == "application/json"
        assert response["InvokedProductionVariant"] == "AllTraffic"
        predictions = json.loads(response["Body"])["predictions"]
        assert len(predictions) == 3
        for record in predictions:
            assert set(record) == {"score", "predicted_label"}
            assert len(record["score"]) == 3 and sum(record["score"]) == pytest.approx(1.0)
            assert record["predicted_label"] == float(np.argmax(record["score"]))
        _assert_same_predictions(predictions, linear_learner.predict(setup["models"]["a"][1], rows))

    def test_jsonlines_accept(self, setup, endpoint_a, test_rows):
        """
        1. Invoke model A's endpoint with 3 rows and Accept application/jsonlines.
        2. The answer has that content type and one JSON record per line, same predictions as predict().
        """
        rows = test_rows[3:6, 1:]

        response = _invoke(setup, endpoint_a, _csv(rows), Accept="application/jsonlines")

        assert response["ContentType"] == "application/jsonlines"
        lines = response["Body"].splitlines()
        assert len(lines) == 3
        _assert_same_predictions([json.loads(line) for line in lines],
                                 linear_learner.predict(setup["models"]["a"][1], rows))

    def test_predictions_are_accurate(self, setup, endpoint_a, test_rows):
        """
        1. Invoke with every held-out row in one request.
        2. At least 90 % of predicted labels equal the labels in column 0.
        """
        response = _invoke(setup, endpoint_a, _csv(test_rows[:, 1:]))

        labels = [p["predicted_label"] for p in json.loads(response["Body"])["predictions"]]
        assert len(labels) == len(test_rows)
        assert np.mean(np.array(labels) == test_rows[:, 0]) >= 0.9


class TestBadRequests:
    """What the model server refuses comes back as AWS's ModelError, naming the problem."""

    def test_bad_csv_names_the_row(self, setup, endpoint_a):
        """
        1. Invoke with two rows, the second holding a non-number.
        2. ModelError (HTTP 424) with OriginalStatusCode 400; the message names row 2 and the cell.
        3. The endpoint's CloudWatch log group records the error.
        """
        with pytest.raises(ClientError) as raised:
            _invoke(setup, endpoint_a, "5.1,3.5,1.4,0.2\n6.2,abc,4.3,1.3")

        error = raised.value.response
        assert error["Error"]["Code"] == "ModelError"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
        assert error["OriginalStatusCode"] == 400
        assert "row 2" in error["OriginalMessage"] and "'abc'" in error["OriginalMessage"]
        assert "Received client error (400)" in error["Error"]["Message"]
        group = f"/aws/sagemaker/Endpoints/{endpoint_a}"
        messages = wait_for(
            lambda: [e["message"] for e in setup["logs"].filter_log_events(logGroupName=group)["events"]],
            description="endpoint log events")
        assert any("row 2" in message for message in messages)

    def test_wrong_column_count_names_the_row(self, setup, endpoint_a):
        """
        1. Invoke with a first row of 5 columns (the label left in).
        2. ModelError whose original message names row 1 and the expected 4 feature columns.
        """
        with pytest.raises(ClientError) as raised:
            _invoke(setup, endpoint_a, "0,5.1,3.5,1.4,0.2")

        message = raised.value.response["OriginalMessage"]
        assert "row 1" in message and "expected 4 feature columns, found 5" in message

    def test_unservable_image_is_named(self, setup):
        """
        1. Register a model whose image is one localcloud plays no algorithm for (not linear-learner or XGBoost)
           and deploy it.
        2. Invoking it fails with a ModelError whose message names that image.
        """
        image = ecr_image_uri(setup["account"], REGION, "my-own-server", "1")
        name = unique_name("own-server")
        setup["sm"].create_model(ModelName=name, ExecutionRoleArn=setup["role"], PrimaryContainer={
            "Image": image, "ModelDataUrl": f"s3://{setup['bucket']}/models/a/model.tar.gz"})
        endpoint, _ = _deploy(setup, name)

        with pytest.raises(ClientError) as raised:
            _invoke(setup, endpoint, "5.1,3.5,1.4,0.2")

        assert raised.value.response["Error"]["Code"] == "ModelError"
        assert image in raised.value.response["Error"]["Message"]


class TestEndpointLifecycle:
    """Deleted or unknown endpoints are not found; UpdateEndpoint switches the model."""

    def test_deleted_endpoint_is_not_found(self, setup, test_rows):
        """
        1. Deploy model A on a new endpoint; one invocation succeeds.
        2. DeleteEndpoint.
        3. Invoking again fails with ValidationError "Endpoint <name> of account <account> not found."
        """
        endpoint, _ = _deploy(setup, setup["models"]["a"][0])
        assert json.loads(_invoke(setup, endpoint, _csv(test_rows[:1, 1:]))["Body"])["predictions"]

        setup["sm"].delete_endpoint(EndpointName=endpoint)

        with pytest.raises(ClientError) as raised:
            _invoke(setup, endpoint, _csv(test_rows[:1, 1:]))
        assert raised.value.response["Error"]["Code"] == "ValidationError"
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert raised.value.response["Error"]["Message"] == (
            f"Endpoint {endpoint} of account {setup['account']} not found.")

    def test_unknown_endpoint_is_not_found(self, setup):
        """
        1. Invoke an endpoint name that was never created.
        2. ValidationError with AWS's message.
        """
        name = unique_name("never-created")
        with pytest.raises(ClientError) as raised:
            _invoke(setup, name, "5.1,3.5,1.4,0.2")
        assert raised.value.response["Error"]["Message"] == f"Endpoint {name} of account {setup['account']} not found."

    def test_update_endpoint_switches_model(self, setup, test_rows):
        """
        1. Deploy model A; note its predictions for 3 rows.
        2. Create an endpoint config for model B and UpdateEndpoint to it.
        3. DescribeEndpoint names the new config and is InService; invocations now match model B's
           predictions (and differ from model A's scores).
        """
        endpoint, _ = _deploy(setup, setup["models"]["a"][0])
        rows = test_rows[:3, 1:]
        before = json.loads(_invoke(setup, endpoint, _csv(rows))["Body"])["predictions"]
        config_b = unique_name("config-b")
        setup["sm"].create_endpoint_config(EndpointConfigName=config_b, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": setup["models"]["b"][0], "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large"}])

        setup["sm"].update_endpoint(EndpointName=endpoint, EndpointConfigName=config_b)

        described = setup["sm"].describe_endpoint(EndpointName=endpoint)
        assert described["EndpointConfigName"] == config_b
        assert described["EndpointStatus"] == "InService"
        after = json.loads(_invoke(setup, endpoint, _csv(rows))["Body"])["predictions"]
        _assert_same_predictions(after, linear_learner.predict(setup["models"]["b"][1], rows))
        assert [p["score"] for p in after] != [p["score"] for p in before]

    def test_update_unknown_endpoint_fails(self, setup):
        """
        1. UpdateEndpoint on a name that does not exist.
        2. ValidationException naming the endpoint.
        """
        name = unique_name("missing")
        with pytest.raises(ClientError) as raised:
            setup["sm"].update_endpoint(EndpointName=name, EndpointConfigName="whatever")
        assert name in raised.value.response["Error"]["Message"]
