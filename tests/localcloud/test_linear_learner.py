"""Tests for the localcloud stand-in for SageMaker's linear-learner container."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from localcloud.sagemaker.algorithms.linear_learner import train as ll

SRC = Path(__file__).resolve().parents[2] / "src"
MULTICLASS = {"predictor_type": "multiclass_classifier", "num_classes": "3"}


def _csv(rows: np.ndarray) -> str:
    return "".join(",".join(f"{v:.10g}" for v in row) + "\n" for row in rows)


def write_job(root: Path, hyperparameters: dict, channels: dict[str, dict[str, str]],
              content_types: dict[str, str] | None = None) -> Path:
    """Lay out DIR like SageMaker's /opt/ml: config JSON plus input/data/<channel>/<file>."""
    (root / "input" / "config").mkdir(parents=True)
    (root / "input/config/hyperparameters.json").write_text(json.dumps(hyperparameters))
    content_types = content_types or {}
    (root / "input/config/inputdataconfig.json").write_text(json.dumps(
        {name: {"ContentType": content_types.get(name, "text/csv"), "TrainingInputMode": "File",
                "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"} for name in channels}))
    for name, files in channels.items():
        folder = root / "input" / "data" / name
        folder.mkdir(parents=True)
        for file_name, text in files.items():
            (folder / file_name).write_text(text)
    return root


def run(root: Path) -> int:
    return ll.main(["--ml-root", str(root)])


def metrics_of(root: Path) -> dict[str, float]:
    return {m["MetricName"]: m["Value"] for m in json.loads((root / "output/metrics.json").read_text())}


@pytest.fixture(scope="module")
def iris() -> dict[str, np.ndarray]:
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
    return {"X_train": X_train, "X_test": X_test, "y_train": y_train, "y_test": y_test}


def iris_job(root: Path, iris: dict[str, np.ndarray], hyperparameters: dict | None = None) -> Path:
    return write_job(root, hyperparameters or MULTICLASS, {
        "train": {"train.csv": _csv(np.column_stack([iris["y_train"], iris["X_train"]]))},
        "test": {"test.csv": _csv(np.column_stack([iris["y_test"], iris["X_test"]]))}})


@pytest.fixture(scope="module")
def trained_iris(tmp_path_factory: pytest.TempPathFactory, iris: dict[str, np.ndarray]) -> Path:
    root = iris_job(tmp_path_factory.mktemp("iris"), iris)
    assert run(root) == 0
    return root


def linear_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) * [1.0, 5.0, 0.2] + [0.0, 10.0, -1.0]
    return X, ((X - [0.0, 10.0, -1.0]) / [1.0, 5.0, 0.2]) @ [2.0, -1.0, 0.5]


class TestIrisMulticlass:
    def test_accuracy_and_metrics_match_predict(self, trained_iris: Path, iris: dict[str, np.ndarray]) -> None:
        """Multiclass iris with default hyperparameters.

        1. Train on standardized iris (80/20 split, seed 42) with only predictor_type and num_classes.
        2. Predict the test rows with predict() on the saved model.
        3. Test accuracy is at least 0.9.
        4. metrics.json's train/test multiclass_accuracy equal predict()'s accuracies.
        """
        model = ll.load_model(trained_iris / "model")
        metrics = metrics_of(trained_iris)
        for channel in ("train", "test"):
            records = ll.predict(model, iris[f"X_{channel}"])
            accuracy = np.mean([r["predicted_label"] for r in records] == iris[f"y_{channel}"])
            assert metrics[f"{channel}:multiclass_accuracy"] == pytest.approx(accuracy)
        assert metrics["test:multiclass_accuracy"] >= 0.9
        assert set(metrics) == {"train:objective_loss", "train:multiclass_accuracy",
                                "test:objective_loss", "test:multiclass_accuracy"}
        assert 0 < metrics["test:objective_loss"] < np.log(3)

    def test_model_is_portable_json(self, trained_iris: Path) -> None:
        """The artifact is JSON, not pickle.

        1. List DIR/model: only model_algo-1.json.
        2. Parse it: format, note, predictor_type, normalization and weight shapes are present.
        """
        assert [p.name for p in (trained_iris / "model").iterdir()] == ["model_algo-1.json"]
        model = json.loads((trained_iris / "model/model_algo-1.json").read_text())
        assert model["format"] == "localcloud-linear-learner" and model["format_version"] == 1
        assert "localcloud stand-in for linear-learner" in model["note"]
        assert (model["predictor_type"], model["num_classes"], model["feature_dim"]) == ("multiclass_classifier", 3, 4)
        assert np.shape(model["coefficients"]) == (3, 4) and np.shape(model["intercepts"]) == (3,)
        assert np.shape(model["normalization"]["mean"]) == np.shape(model["normalization"]["scale"]) == (4,)


class TestSubprocess:
    def test_module_runs_as_a_container_would(self, tmp_path: Path, iris: dict[str, np.ndarray]) -> None:
        """``python -m localcloud.sagemaker.algorithms.linear_learner.train --ml-root DIR`` as the job runner calls it.

        1. Lay out the iris job and run the module in a fresh interpreter.
        2. Exit code 0; the model file and metrics.json exist.
        3. stdout has linear-learner-style per-epoch and final #quality_metric lines.
        """
        root = iris_job(tmp_path, iris)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}
        done = subprocess.run([sys.executable, "-m", "localcloud.sagemaker.algorithms.linear_learner.train", "--ml-root", str(root)],
                              capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        assert (root / "model/model_algo-1.json").is_file() and (root / "output/metrics.json").is_file()
        # linear-learner's per-epoch line names its loss: "#quality_metric: host=algo-1, epoch=0, train
        # binary_classification_cross_entropy_objective <loss>=0.5956" (a linear-learner training log, as printed by
        # the SageMaker SDK; the objective names are those of https://docs.aws.amazon.com/sagemaker/latest/dg/
        # linear-learner-tuning.html), the epochs of the one model it keeps
        epochs = re.findall(r"#quality_metric: host=algo-1, epoch=(\d+), train multiclass_cross_entropy_objective "
                            r"<loss>=\S+$", done.stdout, re.M)
        assert epochs == [str(n) for n in range(len(epochs))] and len(epochs) >= 2, done.stdout
        assert "#quality_metric: host=algo-1, train objective_loss <loss>=" in done.stdout
        assert "#quality_metric: host=algo-1, test multiclass_accuracy <score>=" in done.stdout


class TestBinaryClassifier:
    def test_binary_metrics_and_predictions(self, tmp_path: Path) -> None:
        """Binary classification on a noisy linear boundary, with a validation channel.

        1. Train on 2,000 rows, validate on 500; labels are 0/1 from a linear rule with noise.
        2. Metrics for both channels use linear-learner's binary names; accuracy > 0.85.
        3. predict() returns {"score": p in [0, 1], "predicted_label": 0.0|1.0} agreeing with p > 0.5.
        """
        X, z = linear_data(2500, seed=1)
        y = (z + np.random.default_rng(2).normal(scale=0.5, size=len(z)) > 0).astype(float)
        root = write_job(tmp_path, {"predictor_type": "binary_classifier"}, {
            "train": {"train.csv": _csv(np.column_stack([y[:2000], X[:2000]]))},
            "validation": {"validation.csv": _csv(np.column_stack([y[2000:], X[2000:]]))}})
        assert run(root) == 0
        metrics = metrics_of(root)
        for channel in ("train", "validation"):
            assert {f"{channel}:{name}" for name in ("objective_loss", "binary_classification_accuracy",
                                                     "binary_f_beta", "precision", "recall")} <= set(metrics)
            assert metrics[f"{channel}:binary_classification_accuracy"] > 0.85
        records = ll.predict(ll.load_model(root / "model"), X[2000:])
        assert all(set(r) == {"score", "predicted_label"} and 0.0 <= r["score"] <= 1.0 for r in records)
        assert all(r["predicted_label"] == float(r["score"] > 0.5) for r in records)


class TestRegressor:
    def test_regressor_beats_the_label_variance(self, tmp_path: Path) -> None:
        """Regression on y = linear(X) + 50 + noise (label far from 0, so label normalization matters).

        1. Train on 2,000 rows in mini-batches of 100 (20 Adam steps an epoch), test on 500.
        2. test:mse is far below the test labels' variance and near the noise level (0.25).
        3. predict() returns {"score": value} whose squared error matches test:mse.
        """
        X, z = linear_data(2500, seed=3)
        y = 4 * z + 50 + np.random.default_rng(4).normal(scale=0.5, size=len(z))
        root = write_job(tmp_path, {"predictor_type": "regressor", "mini_batch_size": "100"}, {
            "train": {"train.csv": _csv(np.column_stack([y[:2000], X[:2000]]))},
            "test": {"test.csv": _csv(np.column_stack([y[2000:], X[2000:]]))}})
        assert run(root) == 0
        metrics = metrics_of(root)
        assert {"train:objective_loss", "train:mse", "train:absolute_loss", "test:mse", "test:absolute_loss"} <= set(metrics)
        assert metrics["test:mse"] < 0.05 * np.var(y[2000:]) and metrics["test:mse"] < 0.5
        records = ll.predict(ll.load_model(root / "model"), X[2000:])
        assert all(set(r) == {"score"} for r in records)
        assert np.mean((np.array([r["score"] for r in records]) - y[2000:]) ** 2) == pytest.approx(metrics["test:mse"])


class TestDeterminism:
    def test_same_inputs_give_the_same_bytes(self, tmp_path: Path, iris: dict[str, np.ndarray]) -> None:
        """Training is seeded.

        1. Train the iris job in two separate folders.
        2. model_algo-1.json and metrics.json are byte-identical.
        """
        first, second = iris_job(tmp_path / "a", iris), iris_job(tmp_path / "b", iris)
        assert run(first) == 0 and run(second) == 0
        for name in ("model/model_algo-1.json", "output/metrics.json"):
            assert (first / name).read_bytes() == (second / name).read_bytes()


class TestFloat32LikeLinearLearner:
    """linear-learner's scores are float32 (its RECORDIO response format marks them so:
    https://docs.aws.amazon.com/sagemaker/latest/dg/LL-in-formats.html): the stand-in's model and scores too, so that
    a CPU's last-bit float64 differences (another BLAS kernel) do not change a model's bytes or a score's digits."""

    def test_model_parameters_and_scores_are_float32_values(self, trained_iris: Path,
                                                             iris: dict[str, np.ndarray]) -> None:
        """
        1. Read the trained iris model's coefficients, intercepts and normalization, and score the test rows.
        2. Every number is a float32 value (float32(x) == x).
        """
        from localcloud.sagemaker.algorithms.linear_learner.model import load_model, predict

        model = load_model(trained_iris / "model" / "model_algo-1.json")
        numbers = np.concatenate([np.ravel(model["coefficients"]), np.ravel(model["intercepts"]),
                                  model["normalization"]["mean"], model["normalization"]["scale"]])
        scores = np.ravel([record["score"] for record in predict(model, iris["X_test"])])
        for name, values in (("model", numbers), ("scores", scores)):
            assert np.array_equal(values.astype(np.float32).astype(np.float64), values), f"{name} are not float32"


GOOD_ROWS = "0,1.0,2.0\n1,3.0,4.0\n2,5.0,6.0\n0,1.5,2.5\n"
CLIENT_ERRORS = {
    "missing predictor_type": ({}, {"train": {"t.csv": GOOD_ROWS}}, None, ["predictor_type"]),
    "multiclass without num_classes": ({"predictor_type": "multiclass_classifier"}, {"train": {"t.csv": GOOD_ROWS}},
                                       None, ["num_classes must be set for multiclass_classifier"]),
    "label 3 with num_classes 3": (MULTICLASS, {"train": {"t.csv": GOOD_ROWS + "\n2,1,1\n3,1,1\n"}}, None,
                                   ["channel 'train'", "file 't.csv'", "row 7", "column 1", "num_classes=3"]),
    "binary label 2": ({"predictor_type": "binary_classifier"}, {"train": {"t.csv": "1,1,1\n2,1,1\n"}}, None,
                       ["row 2", "column 1", "0..1"]),
    "feature_dim mismatch": ({**MULTICLASS, "feature_dim": "5"}, {"train": {"t.csv": GOOD_ROWS}}, None,
                             ["feature_dim is 5", "2 feature columns"]),
    "non-numeric cell": (MULTICLASS, {"train": {"t.csv": GOOD_ROWS}, "validation": {"v.csv": "0,1,2\n1,x,2\n"}},
                         None, ["channel 'validation'", "file 'v.csv'", "row 2", "column 2", "'x'"]),
    "header row": (MULTICLASS, {"train": {"t.csv": "label,a,b\n" + GOOD_ROWS}}, None,
                   ["row 1", "column 1", "no header row"]),
    "ragged row": (MULTICLASS, {"train": {"t.csv": GOOD_ROWS + "1,2\n"}}, None, ["row 5", "expected 3 columns"]),
    "protobuf content type": (MULTICLASS, {"train": {"t.csv": GOOD_ROWS}}, {"train": "application/x-recordio-protobuf"},
                              ["channel 'train'", "application/x-recordio-protobuf", "only reads text/csv"]),
    "empty channel": (MULTICLASS, {"train": {"t.csv": GOOD_ROWS}, "test": {"empty.csv": ""}}, None,
                      ["channel 'test' has no data"]),
    "bad epochs": ({**MULTICLASS, "epochs": "ten"}, {"train": {"t.csv": GOOD_ROWS}}, None, ["epochs", "'ten'"]),
    "unknown hyperparameter": ({**MULTICLASS, "colour": "blue"}, {"train": {"t.csv": GOOD_ROWS}}, None,
                               ["Additional hyperparameters are not allowed ('colour' was unexpected)"]),
}


class TestClientErrors:
    @pytest.mark.parametrize("case", CLIENT_ERRORS, ids=list(CLIENT_ERRORS))
    def test_exit_2_and_failure_file(self, case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Bad hyperparameters, content types or data are client errors.

        1. Lay out a job with one defect.
        2. main() returns 2 and writes no model.
        3. output/failure names the defect (channel, file, row and column for data defects).
        4. stderr carries the prefixed message and no traceback.
        """
        hyperparameters, channels, content_types, expected = CLIENT_ERRORS[case]
        root = write_job(tmp_path, hyperparameters, channels, content_types)
        assert run(root) == 2
        failure = (root / "output/failure").read_text()
        for fragment in expected:
            assert fragment in failure
        assert not (root / "model").exists()
        err = capsys.readouterr().err
        assert err.startswith("linear-learner (localcloud stand-in): ") and "Traceback" not in err


class TestUnexpectedErrors:
    def test_exit_1_with_traceback(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
        """A bug in the stand-in is not the caller's fault.

        1. Make training raise RuntimeError.
        2. main() returns 1, output/failure says it is an internal error, stderr has the traceback.
        """
        root = write_job(tmp_path, MULTICLASS, {"train": {"t.csv": GOOD_ROWS}})
        monkeypatch.setattr(ll, "_fit", lambda *args: (_ for _ in ()).throw(RuntimeError("boom")))
        assert run(root) == 1
        assert "internal error in the stand-in: RuntimeError: boom" in (root / "output/failure").read_text()
        assert "Traceback" in capsys.readouterr().err


class TestInputLeniency:
    def test_label_size_files_hidden_files_and_ignored_hyperparameters(
            self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Accepted variations of the contract.

        1. ContentType text/csv;label_size=1, train split over two files (one in a sub-folder), a hidden
           file with garbage, blank lines, and a hyperparameter AWS knows but the stand-in does not honour
           (optimizer).
        2. Training succeeds on all 6 rows; the ignored hyperparameter is logged, the hidden file is not read.
        """
        root = write_job(tmp_path, {**MULTICLASS, "optimizer": "adam", "epochs": "3"}, {
            "train": {"a.csv": GOOD_ROWS + "\n", ".hidden": "not,a,csv\n", "b.csv": "1,0,0\n"}},
            {"train": "text/csv;label_size=1"})
        (root / "input/data/train/sub").mkdir()
        (root / "input/data/train/sub/c.csv").write_text("2,9,9\n")
        assert run(root) == 0
        out = capsys.readouterr().out
        assert "Read 6 rows x 2 features from channel 'train' (3 file(s))" in out
        assert "Ignoring hyperparameter optimizer='adam' (not implemented by the stand-in)" in out


class TestPredict:
    def test_shapes_and_loading(self, trained_iris: Path, iris: dict[str, np.ndarray], tmp_path: Path) -> None:
        """predict() output shapes and load_model() sources.

        1. Load the model from its folder, its JSON file and a model.tar.gz: all equal.
        2. Multiclass records have 3 probabilities summing to 1 and an int-valued float label (their argmax).
        3. A single 1-D row gives one record; a wrong feature count raises InvalidInputError.
        """
        archive = tmp_path / "model.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(trained_iris / "model/model_algo-1.json", arcname="model_algo-1.json")
        model = ll.load_model(trained_iris / "model")
        assert model == ll.load_model(trained_iris / "model/model_algo-1.json") == ll.load_model(archive)
        records = ll.predict(model, iris["X_test"])
        assert len(records) == len(iris["X_test"])
        for record in records:
            assert len(record["score"]) == 3 and sum(record["score"]) == pytest.approx(1.0)
            assert isinstance(record["predicted_label"], float)
            assert record["predicted_label"] == float(np.argmax(record["score"]))
        assert len(ll.predict(model, iris["X_test"][0])) == 1
        with pytest.raises(ll.InvalidInputError, match="expected 4 features"):
            ll.predict(model, np.zeros((2, 5)))


class TestParseCsvPayload:
    def test_parses_rows_and_names_bad_ones(self) -> None:
        """text/csv inference payloads.

        1. Two rows (str or bytes, blank lines ignored) parse to a (2, 3) float array.
        2. A row with the wrong column count, or a non-numeric cell, raises InvalidInputError naming row/column.
        3. An empty body is rejected.
        """
        expected = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.5]])
        assert np.array_equal(ll.parse_csv_payload("1,2,3\n\n4,5,6.5\n"), expected)
        assert np.array_equal(ll.parse_csv_payload(b"1,2,3\r\n4,5,6.5"), expected)
        with pytest.raises(ll.InvalidInputError, match="row 2: expected 3 feature columns, found 2"):
            ll.parse_csv_payload("1,2,3\n4,5\n")
        with pytest.raises(ll.InvalidInputError, match="row 1: expected 4 feature columns, found 3"):
            ll.parse_csv_payload("1,2,3\n", feature_dim=4)
        with pytest.raises(ll.InvalidInputError, match="row 2, column 3: 'abc' is not a number"):
            ll.parse_csv_payload("1,2,3\n4,5,abc\n")
        with pytest.raises(ll.InvalidInputError, match="empty"):
            ll.parse_csv_payload("\n")
