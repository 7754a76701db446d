"""SageMaker's built-in XGBoost trained with the SDK v3's ModelTrainer, as AWS's examples train it, run offline.

The program (``programs/train_xgboost.py``) takes the image from ``image_uris.retrieve("xgboost", region,
version="1.7-1")``, gives it iris as CSV with the label in the first column and no header (train and validation
channels, https://docs.aws.amazon.com/sagemaker/latest/dg/xgboost.html#InputOutput-XGBoost) and reads the job's
FinalMetricDataList back. The model it writes is downloaded here and asked the validation rows with xgboost.
"""

from __future__ import annotations

import io
import tarfile

import numpy as np
import pytest
import xgboost as xgb
from _programs import REGION, assert_ran, run_program
from _support import run_preprocess_locally
from test_sdk_pipeline import kit_made, monkeypatch_module  # noqa: F401 - the series' bucket and the SDK's role


@pytest.fixture(scope="module")
def trained(cloud, kit_made, tmp_path_factory):  # noqa: F811
    """The program's run, with iris test.csv uploaded as the validation channel; (outcome, validation rows)."""
    prepared = run_preprocess_locally(tmp_path_factory.mktemp("iris-xgboost"))
    cloud.client("s3", region=REGION).upload_file(str(prepared / "test" / "test.csv"), kit_made["bucket"],
                                                  f"{kit_made['prefix']}/validation/test.csv")
    outcome = run_program("train_xgboost.py", cloud.url, tmp_path_factory.mktemp("train-xgboost"),
                          {k: kit_made[k] for k in ("role", "bucket", "prefix")})
    return outcome, np.loadtxt(prepared / "test" / "test.csv", delimiter=",", ndmin=2)


class TestModelTrainerWithXGBoost:
    def test_trains_with_validation_and_reports_its_metrics(self, cloud, kit_made, trained):  # noqa: F811
        """Today the job fails: "localcloud cannot run image …sagemaker-xgboost:1.7-1 … has no Dockerfile".

        1. ModelTrainer(training_image=XGBoost 1.7-1's URI, hyperparameters objective=multi:softmax, num_class=3,
           num_round=20, eval_metric=merror).train(train and validation channels, wait=True, logs=True).
        2. Completed; the streamed log shows the rounds' ``#011validation-merror`` lines.
        3. FinalMetricDataList has train:merror and validation:merror; validation:merror is the error of the
           downloaded model (model.tar.gz's ``xgboost-model``) on the validation rows, and below 0.2.
        """
        outcome, validation = trained
        result = assert_ran(outcome)
        assert result["status"] == "Completed", result["failure"]
        assert result["image"].endswith("/sagemaker-xgboost:1.7-1")
        assert "[19]#011train-merror:" in outcome.stdout + outcome.stderr
        assert set(result["metrics"]) == {"train:merror", "validation:merror"}
        bucket, key = result["model"][5:].split("/", 1)
        body = cloud.client("s3", region=REGION).get_object(Bucket=bucket, Key=key)["Body"].read()
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
            raw = archive.extractfile("xgboost-model").read()
        booster = xgb.Booster()
        booster.load_model(bytearray(raw))
        error = float(np.mean(booster.predict(xgb.DMatrix(validation[:, 1:])) != validation[:, 0]))
        assert result["metrics"]["validation:merror"] == pytest.approx(error, abs=1e-6)
        assert error < 0.2
