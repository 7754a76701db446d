"""SageMaker's built-in XGBoost: training jobs, endpoints and Batch Transform on the ``sagemaker-xgboost`` image.

Every test talks to ``python -m localcloud`` (the ``cloud`` fixture) through boto3 only. The model a job writes is
downloaded and asked the same rows with the xgboost library in this process; the job's metrics are read back
from its CloudWatch log with the metric regex the container declares for the algorithm
(github.com/aws/sagemaker-xgboost-container, ``algorithm_mode/metrics.py``).
"""

from __future__ import annotations

import io
import json
import re
import tarfile

import numpy as np
import pytest
import xgboost as xgb
from _support import account_id, create_bucket, create_role, ecr_image_uri, read_log_messages, unique_name
from _wait import wait_for_status

REGION = "eu-west-1"
DONE = {"Completed", "Failed", "Stopped"}
MULTICLASS = {"objective": "multi:softmax", "num_class": "3", "num_round": "10", "max_depth": "3",
              "eta": "0.3", "eval_metric": "merror"}


def _channel(name: str, uri: str, content_type: str = "text/csv") -> dict:
    return {"ChannelName": name, "ContentType": content_type, "InputMode": "File", "DataSource": {
        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}}}


@pytest.fixture(scope="module")
def setup(cloud, prepared):
    """A bucket with iris train/test CSVs (label first, no header), a role and the XGBoost image's URI."""
    sm, s3 = cloud.client("sagemaker", REGION), cloud.client("s3", REGION)
    bucket = create_bucket(cloud, unique_name("xgboost"), REGION)
    for channel in ("train", "test"):
        s3.upload_file(str(prepared / channel / f"{channel}.csv"), bucket, f"data/{channel}/{channel}.csv")
    return {"sm": sm, "s3": s3, "bucket": bucket, "cloud": cloud,
            "runtime": cloud.client("sagemaker-runtime", REGION),
            "role": create_role(cloud, unique_name("xgboost-tests")),
            "image": ecr_image_uri(account_id(cloud), REGION, "sagemaker-xgboost", "1.7-1")}


def _train(setup: dict, hyperparameters: dict, validation: bool = True) -> dict:
    """Run one training job on the iris train channel (test.csv as validation); returns the final Describe."""
    name, bucket = unique_name("xgboost"), setup["bucket"]
    channels = [_channel("train", f"s3://{bucket}/data/train/")]
    if validation:
        channels.append(_channel("validation", f"s3://{bucket}/data/test/"))
    setup["sm"].create_training_job(
        TrainingJobName=name, RoleArn=setup["role"], HyperParameters=hyperparameters,
        AlgorithmSpecification={"TrainingImage": setup["image"], "TrainingInputMode": "File"},
        InputDataConfig=channels, OutputDataConfig={"S3OutputPath": f"s3://{bucket}/models"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 300})
    return wait_for_status(lambda: setup["sm"].describe_training_job(TrainingJobName=name), "TrainingJobStatus",
                           DONE, timeout=90)


def _booster(setup: dict, artifact: str) -> xgb.Booster:
    body = setup["s3"].get_object(Bucket=setup["bucket"], Key=artifact.split("/", 3)[3])["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
        assert archive.getnames() == ["xgboost-model"]
        raw = archive.extractfile("xgboost-model").read()
    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    return booster


@pytest.fixture(scope="module")
def trained(setup):
    """A multi:softmax job with a validation channel: (final Describe, its booster)."""
    final = _train(setup, MULTICLASS)
    assert final["TrainingJobStatus"] == "Completed", final.get("FailureReason")
    return final, _booster(setup, final["ModelArtifacts"]["S3ModelArtifacts"])


def _rows(prepared, channel: str) -> np.ndarray:
    return np.loadtxt(prepared / channel / f"{channel}.csv", delimiter=",", ndmin=2)


def _csv(rows: np.ndarray) -> str:
    return "\n".join(",".join(repr(float(v)) for v in row) for row in rows)


class TestTraining:
    def test_multiclass_job_writes_xgboost_model_and_metrics(self, setup, trained, prepared):
        """The sagemaker-xgboost:1.7-1 image trains (today: "cannot run image … has no Dockerfile").

        1. Train multi:softmax, num_class=3, eval_metric=merror on iris (label first), test.csv as validation.
        2. Completed; model.tar.gz holds one member, ``xgboost-model``, which xgboost loads.
        3. FinalMetricDataList has train:merror and validation:merror, each the error the model makes on that
           channel's rows (predicted here with the downloaded booster).
        """
        final, booster = trained
        metrics = {m["MetricName"]: m["Value"] for m in final["FinalMetricDataList"]}
        assert set(metrics) == {"train:merror", "validation:merror"}
        for channel, rows in (("train", _rows(prepared, "train")), ("validation", _rows(prepared, "test"))):
            predicted = booster.predict(xgb.DMatrix(rows[:, 1:]))
            assert metrics[f"{channel}:merror"] == pytest.approx(np.mean(predicted != rows[:, 0]), abs=1e-6)
        assert metrics["validation:merror"] < 0.2

    def test_log_lines_carry_the_metrics_as_the_container_prints_them(self, setup, trained):
        """SageMaker reads the algorithm's metrics from its log with ``.*\\[[0-9]+\\].*#011validation-merror:(\\S+)``.

        1. Read the job's /aws/sagemaker/TrainingJobs stream.
        2. One ``[i]#011train-merror:…#011validation-merror:…`` line per round (num_round=10).
        3. The regex's last match is the job's validation:merror (5 decimals, as the container prints).
        """
        final, _ = trained
        messages = read_log_messages(setup["cloud"], "/aws/sagemaker/TrainingJobs", final["TrainingJobName"])
        rounds = [m for m in messages if re.match(r"^\[\d+\]#011train-merror:", m)]
        assert [int(m[1:m.index("]")]) for m in rounds] == list(range(10)), messages
        values = [float(match.group(1)) for m in messages
                  if (match := re.match(r".*\[[0-9]+\].*#011validation-merror:(\S+)", m))]
        final_value = {m["MetricName"]: m["Value"] for m in final["FinalMetricDataList"]}["validation:merror"]
        assert values[-1] == pytest.approx(final_value, abs=5e-6)
        assert any("Running XGBoost Sagemaker in algorithm mode" in m for m in messages)

    @pytest.mark.parametrize("hyperparameters, reason", [
        ({**MULTICLASS, "learning_rat": "0.1"}, "Extraneous hyperparameter found: learning_rat"),
        ({**MULTICLASS, "objective": "multi:softmaxx"}, "Hyperparameter objective: multi:softmaxx is not in ["),
        ({k: v for k, v in MULTICLASS.items() if k != "num_class"},
         "Require input for parameter 'num_class' for multi-classification"),
        ({**MULTICLASS, "num_round": "ten"}, "Hyperparameter num_round: could not parse value"),
    ], ids=["unknown", "bad-objective", "no-num_class", "unparsable"])
    def test_bad_hyperparameters_fail_the_job(self, setup, hyperparameters, reason):
        """The container validates hyperparameters before reading data (sagemaker_algorithm_toolkit's
        hyperparameter_validation.py) and its trainer reports the UserError as ``framework error:`` with exit 1,
        which SageMaker shows as AlgorithmError (https://github.com/aws/amazon-sagemaker-examples/issues/1740).

        1. Create a job with one bad hyperparameter.
        2. Failed; FailureReason is an AlgorithmError naming the defect in the container's words; no model.
        """
        final = _train(setup, hyperparameters)
        assert final["TrainingJobStatus"] == "Failed"
        assert final["FailureReason"].startswith("AlgorithmError: ")
        assert "framework error:" in final["FailureReason"] and reason in final["FailureReason"]
        assert "ModelArtifacts" not in final or not final["ModelArtifacts"].get("S3ModelArtifacts")


def _model(setup: dict, model_data_url: str, image: str | None = None) -> str:
    name = unique_name("xgboost-model")
    setup["sm"].create_model(ModelName=name, ExecutionRoleArn=setup["role"],
                             PrimaryContainer={"Image": image or setup["image"], "ModelDataUrl": model_data_url})
    return name


@pytest.fixture(scope="module")
def endpoint(setup, trained):
    """An InService endpoint of the trained model (model, config, endpoint created with boto3)."""
    final, _ = trained
    model = _model(setup, final["ModelArtifacts"]["S3ModelArtifacts"])
    config = unique_name("xgboost-config")
    setup["sm"].create_endpoint_config(EndpointConfigName=config, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    name = unique_name("xgboost-endpoint")
    setup["sm"].create_endpoint(EndpointName=name, EndpointConfigName=config)
    wait_for_status(lambda: setup["sm"].describe_endpoint(EndpointName=name), "EndpointStatus",
                    {"InService", "Failed"}, timeout=30)
    return name


class TestEndpoint:
    def test_text_csv_in_and_out(self, setup, trained, endpoint, prepared):
        """
        1. Invoke with the held-out rows as text/csv (features only), no Accept.
        2. The answer is text/csv, one predicted class per line (numpy.savetxt's "%s"), equal to the booster's.
        """
        rows = _rows(prepared, "test")[:, 1:]
        answer = setup["runtime"].invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=_csv(rows))
        assert answer["ContentType"] == "text/csv"
        expected = trained[1].predict(xgb.DMatrix(rows))
        assert answer["Body"].read().decode() == "".join(f"{v}\n" for v in expected.tolist())

    def test_json_accept_and_libsvm_body(self, setup, trained, endpoint, prepared):
        """
        1. Invoke with two rows as text/libsvm (1-based indices), Accept application/json.
        2. ``{"predictions": [{"score": label}, ...]}`` with the booster's predictions.
        3. Accept application/xml is refused as the container refuses it (406 in OriginalStatusCode).
        """
        rows = _rows(prepared, "test")[:2, 1:]
        body = "\n".join("0 " + " ".join(f"{i + 1}:{float(v)!r}" for i, v in enumerate(row)) for row in rows)
        answer = setup["runtime"].invoke_endpoint(EndpointName=endpoint, ContentType="text/libsvm",
                                                  Accept="application/json", Body=body)
        expected = trained[1].predict(xgb.DMatrix(rows)).tolist()
        assert json.loads(answer["Body"].read()) == {"predictions": [{"score": v} for v in expected]}
        with pytest.raises(setup["runtime"].exceptions.ModelError) as refused:
            setup["runtime"].invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Accept="application/xml",
                                             Body="1,2,3,4")
        assert refused.value.response["OriginalStatusCode"] == 406
        assert "Accept type application/xml is not supported" in refused.value.response["OriginalMessage"]


def _transform(setup: dict, model: str, accept: str = "text/csv") -> dict:
    name = unique_name("xgboost-transform")
    setup["sm"].create_transform_job(
        TransformJobName=name, ModelName=model,
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                        "S3Uri": f"s3://{setup['bucket']}/data/test/"}},
                        "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": f"s3://{setup['bucket']}/predictions/{name}", "Accept": accept,
                         "AssembleWith": "Line"},
        DataProcessing={"InputFilter": "$[1:]"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
    return wait_for_status(lambda: setup["sm"].describe_transform_job(TransformJobName=name),
                           "TransformJobStatus", DONE, timeout=30)


class TestBatchTransform:
    def test_https_model_data_url_and_one_prediction_per_line(self, setup, trained, prepared):
        """CreateModel takes ModelDataUrl as the artifact's https URL, as AWS's Batch Transform example writes it
        (https://docs.aws.amazon.com/sagemaker/latest/dg/ex1-batch-transform.html; CreateModel's pattern is
        ``^(https|s3)://([^/]+)/?(.*)$``). Today the job fails: "… is not an s3:// URI".

        1. A model whose ModelDataUrl is ``https://<bucket>.s3.<region>.amazonaws.com/<key>``.
        2. A transform of test.csv (label first) with InputFilter $[1:], Accept text/csv.
        3. Completed; test.csv.out holds one prediction per line, the booster's.
        """
        final, booster = trained
        key = final["ModelArtifacts"]["S3ModelArtifacts"].split("/", 3)[3]
        model = _model(setup, f"https://{setup['bucket']}.s3.{REGION}.amazonaws.com/{key}")
        job = _transform(setup, model)
        assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
        out_key = job["TransformOutput"]["S3OutputPath"].split("/", 3)[3] + "/test.csv.out"
        written = setup["s3"].get_object(Bucket=setup["bucket"], Key=out_key)["Body"].read().decode()
        expected = booster.predict(xgb.DMatrix(_rows(prepared, "test")[:, 1:]))
        assert written == "".join(f"{v}\n" for v in expected.tolist())

    def test_unservable_model_says_why_first(self, setup, trained):
        """A model the cloud cannot serve fails for that reason, not for its Accept (today:
        "linear-learner (localcloud stand-in) cannot produce Accept 'text/csv'").

        1. A model on an image the cloud plays no algorithm for; a transform with Accept text/csv.
        2. Failed; FailureReason names the image it cannot serve, and says nothing of the Accept.
        """
        final, _ = trained
        other = ecr_image_uri(account_id(setup["cloud"]), REGION, "my-own-server", "1")
        job = _transform(setup, _model(setup, final["ModelArtifacts"]["S3ModelArtifacts"], image=other))
        assert job["TransformJobStatus"] == "Failed"
        assert job["FailureReason"].startswith("ClientError: localcloud can serve only SageMaker's built-in")
        assert "my-own-server" in job["FailureReason"] and "Accept" not in job["FailureReason"]
