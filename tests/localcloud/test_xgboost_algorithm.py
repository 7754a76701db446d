"""The built-in XGBoost stand-in run in this process, as the cloud runs it: an /opt/ml-shaped folder, ``main()``.

Objectives and channel formats the boto3 tests (test_xgboost.py) do not train, and the container's refusals of
channels and data (github.com/aws/sagemaker-xgboost-container: ``algorithm_mode/channel_validation.py``,
``data_utils.py``). The model written is loaded with xgboost and its metrics recomputed here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from localcloud.sagemaker.algorithms.xgboost import train as xgboost_train


def _job(root: Path, hyperparameters: dict, channels: dict[str, dict[str, str]],
         content_type: str | None = "text/csv") -> Path:
    (root / "input/config").mkdir(parents=True)
    (root / "input/config/hyperparameters.json").write_text(json.dumps(hyperparameters))
    config = {name: {"TrainingInputMode": "File", **({"ContentType": content_type} if content_type else {})}
              for name in channels}
    (root / "input/config/inputdataconfig.json").write_text(json.dumps(config))
    for channel, files in channels.items():
        for name, text in files.items():
            (root / "input/data" / channel).mkdir(parents=True, exist_ok=True)
            (root / "input/data" / channel / name).write_text(text)
    return root


def _data(seed: int, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, X @ np.array([1.5, -2.0, 0.5]) + rng.normal(scale=0.1, size=n)


def _csv(y: np.ndarray, X: np.ndarray) -> str:
    return "".join(",".join(repr(float(v)) for v in (label, *row)) + "\n" for label, row in zip(y, X))


def _metrics(root: Path) -> dict[str, float]:
    return {m["MetricName"]: m["Value"] for m in json.loads((root / "output/metrics.json").read_text())}


def _booster(root: Path) -> xgb.Booster:
    booster = xgb.Booster()
    booster.load_model(bytearray((root / "model" / xgboost_train.MODEL_NAME).read_bytes()))
    return booster


class TestObjectives:
    def test_binary_logistic_with_auc_and_logloss(self, tmp_path: Path) -> None:
        """
        1. binary:logistic on a separable label, eval_metric=auc,logloss, train and validation channels.
        2. Exit 0; validation:logloss is the log loss of the model's probabilities on the validation rows; auc > 0.9.
        """
        X, score = _data(1)
        Xv, score_v = _data(2)
        root = _job(tmp_path, {"objective": "binary:logistic", "num_round": "15", "eval_metric": "auc,logloss"},
                    {"train": {"t.csv": _csv(score > 0, X)}, "validation": {"v.csv": _csv(score_v > 0, Xv)}})
        assert xgboost_train.main(["--ml-root", str(root)]) == 0
        metrics = _metrics(root)
        assert set(metrics) == {"train:auc", "train:logloss", "validation:auc", "validation:logloss"}
        p = np.clip(_booster(root).predict(xgb.DMatrix(Xv)), 1e-15, 1 - 1e-15)
        truth = score_v > 0
        assert metrics["validation:logloss"] == pytest.approx(-np.mean(np.where(truth, np.log(p), np.log1p(-p))),
                                                              rel=1e-4)
        assert metrics["validation:auc"] > 0.9

    def test_regression_default_metric_and_libsvm_channel(self, tmp_path: Path) -> None:
        """
        1. reg:squarederror with no eval_metric, the train channel in text/libsvm (1-based indices, two files).
        2. Exit 0; the metric is xgboost's default for the objective (rmse), the model's rmse on the train rows.
        """
        X, y = _data(3)
        lines = [f"{float(label)!r} " + " ".join(f"{i + 1}:{float(v)!r}" for i, v in enumerate(row)) for label, row in zip(y, X)]
        root = _job(tmp_path, {"objective": "reg:squarederror", "num_round": "30"},
                    {"train": {"a.libsvm": "\n".join(lines[:100]) + "\n", "b.libsvm": "\n".join(lines[100:]) + "\n"}},
                    content_type="text/libsvm")
        assert xgboost_train.main(["--ml-root", str(root)]) == 0
        metrics = _metrics(root)
        assert set(metrics) == {"train:rmse"}
        predicted = _booster(root).predict(xgb.DMatrix(X))
        assert metrics["train:rmse"] == pytest.approx(float(np.sqrt(np.mean((predicted - y) ** 2))), rel=1e-4)
        assert metrics["train:rmse"] < float(np.std(y)) / 2

    def test_container_computed_accuracy(self, tmp_path: Path) -> None:
        """eval_metric=accuracy is the container's own metric (scikit-learn on the round's margins), not xgboost's.

        1. multi:softprob, num_class=3, eval_metric=accuracy.
        2. train:accuracy is the share of rows whose most probable class is their label.
        """
        X, score = _data(4, 300)
        y = np.digitize(score, [-1.0, 1.0])
        root = _job(tmp_path, {"objective": "multi:softprob", "num_class": "3", "num_round": "10",
                               "eval_metric": "accuracy"}, {"train": {"t.csv": _csv(y, X)}})
        assert xgboost_train.main(["--ml-root", str(root)]) == 0
        probabilities = _booster(root).predict(xgb.DMatrix(X))
        assert _metrics(root)["train:accuracy"] == pytest.approx(float(np.mean(probabilities.argmax(axis=1) == y)))


GOOD = "1,0.5,2\n0,1.5,1\n1,0.1,3\n0,2.5,0\n"
REFUSALS = {
    "no train channel": ({"validation": {"v.csv": GOOD}}, "text/csv", "Missing required channel: train"),
    "unknown channel": ({"train": {"t.csv": GOOD}, "test": {"t.csv": GOOD}}, "text/csv",
                        "Extraneous channel found: test"),
    "content type": ({"train": {"t.csv": GOOD}}, "application/json",
                     "application/json is not an accepted ContentType"),
    "label_size": ({"train": {"t.csv": GOOD}}, "text/csv;label_size=2",
                   "Optional parameter label_size must be equal to 1"),
    "hidden file": ({"train": {"t.csv": GOOD, ".t.csv.swp": "x"}}, "text/csv",
                    "Hidden file found in the data path! Remove that before training."),
    "header row": ({"train": {"t.csv": "label,a,b\n" + GOOD}}, "text/csv", "Failed to load csv data with exception"),
}


class TestRefusals:
    @pytest.mark.parametrize("case", REFUSALS, ids=list(REFUSALS))
    def test_user_errors_end_as_the_container_reports_them(self, case: str, tmp_path: Path) -> None:
        """
        1. A job with one defect in its channels or data (hyperparameters fine).
        2. main() returns 1 (sagemaker-containers' exit for a failed algorithm) and writes no model.
        3. output/failure starts ``framework error:`` and names the defect in the container's words.
        """
        channels, content_type, expected = REFUSALS[case]
        root = _job(tmp_path, {"num_round": "2", "objective": "binary:logistic"}, channels, content_type)
        assert xgboost_train.main(["--ml-root", str(root)]) == 1
        failure = (root / "output/failure").read_text()
        assert failure.startswith("framework error: \n") and expected in failure
        assert not (root / "model" / xgboost_train.MODEL_NAME).exists()

    def test_label_out_of_range_is_the_callers_error(self, tmp_path: Path) -> None:
        """xgboost's own check (labels 0..num_class-1) becomes the container's UserError, without a traceback."""
        root = _job(tmp_path, {"num_round": "2", "objective": "multi:softmax", "num_class": "2"},
                    {"train": {"t.csv": GOOD.replace("1,0.1,3", "2,0.1,3")}})
        assert xgboost_train.main(["--ml-root", str(root)]) == 1
        failure = (root / "output/failure").read_text()
        assert "SoftmaxMultiClassObj: label must be discrete values in the range of [0, num_class)" in failure
        assert "Traceback" not in failure and "Stack trace" not in failure
