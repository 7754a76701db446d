"""Local stand-in for SageMaker's built-in linear-learner training container.

The local cloud runs ``python -m localcloud.linear_learner --ml-root DIR`` where DIR plays
``/opt/ml``. The *contract* matches linear-learner: hyperparameters.json (all values strings),
inputdataconfig.json, ``text/csv`` channels ``train``/``validation``/``test`` (no header,
label first), ``#quality_metric`` log lines, ``output/failure`` on error. The *algorithm* does
not: this is scikit-learn's per-sample SGD (log loss, one-vs-rest for multiclass; squared loss
for regression) on fixed-seed shuffled chunks of ``mini_batch_size`` rows with a constant
learning rate. There is no parallel model search, no Adam, no threshold tuning (binary cut-off
is 0.5), no early stopping. Expect similar, not identical, numbers to AWS.

The model is ``model/model_algo-1.json`` (portable JSON, not AWS's MXNet artifact), read back
with :func:`load_model`; :func:`predict` returns linear-learner's JSON response records.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import tarfile
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

HOST = "algo-1"
MODEL_FILE = "model_algo-1.json"
FORMAT, FORMAT_VERSION = "localcloud-linear-learner", 1
NOTE = ("localcloud stand-in for linear-learner: scikit-learn SGD with the same input/output "
        "contract, not Amazon's algorithm")
PREFIX = "linear-learner (localcloud stand-in): "
PREDICTOR_TYPES = ("binary_classifier", "multiclass_classifier", "regressor")
CHANNELS = ("train", "validation", "test")
SEED = 0
AUTO_LEARNING_RATE = 0.01  # per-sample step on standardized features
AUTO_WD = 1e-4  # scikit-learn's default alpha
HONOURED = {"predictor_type", "num_classes", "feature_dim", "mini_batch_size", "epochs", "learning_rate",
            "l1", "wd", "normalize_data", "normalize_label", "use_bias"}
# Real linear-learner hyperparameters the stand-in accepts but does not implement.
NOT_IMPLEMENTED = {
    "accuracy_top_k", "balance_multiclass_weights", "beta_1", "beta_2", "bias_lr_mult", "bias_wd_mult",
    "binary_classifier_model_selection_criteria", "early_stopping_patience", "early_stopping_tolerance",
    "f_beta", "huber_delta", "init_bias", "init_method", "init_scale", "init_sigma", "loss",
    "loss_insensitivity", "lr_scheduler_factor", "lr_scheduler_minimum_lr", "lr_scheduler_step", "margin",
    "momentum", "num_calibration_samples", "num_models", "num_point_for_scaler", "optimizer",
    "positive_example_weight_mult", "quantile", "target_precision", "target_recall", "unbias_data",
    "unbias_label", "use_lr_scheduler"}


class ClientError(ValueError):
    """The caller's data or hyperparameters are wrong (exit code 2, no traceback)."""


def _log(message: str) -> None:
    print(f"[{time.strftime('%m/%d/%Y %H:%M:%S')} INFO {os.getpid()}] {message}", flush=True)


def _parse_hyperparameters(raw: dict[str, Any]) -> dict[str, Any]:
    """Validate SageMaker's string-valued hyperparameters into typed settings.

    Args:
        raw: the hyperparameters.json object.

    Returns:
        Typed settings; "auto" values become None.

    Raises:
        ClientError: a required value is missing or a value is malformed.
    """
    hp = {str(k): str(v).strip() for k, v in raw.items()}

    def number(name: str, default: str, cast: type, low: float) -> Any:
        text = hp.get(name, default)
        if text.lower() == "auto":
            return None
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not np.isfinite(value) or value < low or (cast is int and not value.is_integer()):
            kind = "an integer" if cast is int else "a number"
            raise ClientError(f"hyperparameter {name} must be {kind} >= {low:g} or 'auto', got {text!r}")
        return cast(value)

    def flag(name: str, default: str) -> bool | None:
        text = hp.get(name, default).lower()
        if text not in ("true", "false", "auto"):
            raise ClientError(f"hyperparameter {name} must be true, false or auto, got {hp[name]!r}")
        return None if text == "auto" else text == "true"

    predictor = hp.get("predictor_type")
    if not predictor:
        raise ClientError("Missing required hyperparameter: predictor_type "
                          f"(one of {', '.join(PREDICTOR_TYPES)})")
    if predictor not in PREDICTOR_TYPES:
        raise ClientError(f"predictor_type must be one of {', '.join(PREDICTOR_TYPES)}, got {predictor!r}")
    num_classes = {"binary_classifier": 2, "regressor": None}.get(predictor)
    if predictor == "multiclass_classifier":
        if "num_classes" not in hp:
            raise ClientError("num_classes must be set for multiclass_classifier")
        text = hp["num_classes"]
        num_classes = int(text) if text.isdigit() else 0
        if not 3 <= num_classes <= 1_000_000:
            raise ClientError(f"num_classes must be an integer from 3 to 1000000 for multiclass_classifier, "
                              f"got {text!r}")
    for name in sorted(set(hp) - HONOURED):
        # Lenient on purpose: AWS rejects unknown hyperparameters, the stand-in only logs them.
        why = "not implemented by the stand-in" if name in NOT_IMPLEMENTED else "unknown to linear-learner"
        _log(f"Ignoring hyperparameter {name}={hp[name]!r} ({why})")
    return {
        "predictor_type": predictor, "num_classes": num_classes,
        "feature_dim": number("feature_dim", "auto", int, 1),
        "mini_batch_size": number("mini_batch_size", "1000", int, 1) or 1000,
        "epochs": number("epochs", "15", int, 1) or 15,
        "learning_rate": number("learning_rate", "auto", float, 1e-12) or AUTO_LEARNING_RATE,
        "l1": number("l1", "auto", float, 0.0) or 0.0,
        "wd": AUTO_WD if (wd := number("wd", "auto", float, 0.0)) is None else wd,
        "normalize_data": flag("normalize_data", "true") is not False,
        "normalize_label": predictor == "regressor" and flag("normalize_label", "auto") is not False,
        "use_bias": flag("use_bias", "true") is not False,
    }


def _check_content_type(channel: str, config: dict[str, Any]) -> None:
    content_type = str(config.get("ContentType") or "application/octet-stream")
    media, *params = [part.strip().lower() for part in content_type.split(";")]
    if media != "text/csv":
        raise ClientError(f"channel '{channel}': ContentType {content_type!r} is not supported: the localcloud "
                          "stand-in for linear-learner only reads text/csv (no header, label in the first "
                          "column); give the channel ContentType='text/csv'")
    if "label_size=1" not in params and any(p.startswith("label_size=") for p in params):
        raise ClientError(f"channel '{channel}': {content_type!r}: only label_size=1 is supported")
    if str(config.get("RecordWrapperType", "None")) not in ("None", ""):
        raise ClientError(f"channel '{channel}': RecordWrapperType {config['RecordWrapperType']!r} "
                          "is not supported with text/csv")


def _rows(path: Path) -> Any:
    """Yield (1-based line number, fields) for each non-blank CSV row, as pandas counts them."""
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.reader(handle)
        for fields in reader:
            if fields:
                yield reader.line_num, fields


def _diagnose(path: Path, where: str, expected: int | None, fallback: str) -> ClientError:
    """Find the first bad row/cell of a CSV file that pandas refused, for a precise message."""
    for line, fields in _rows(path):
        expected = expected or len(fields)
        if len(fields) != expected:
            return ClientError(f"{where}, row {line}: expected {expected} columns (label + "
                               f"{expected - 1} features) but found {len(fields)}")
        for column, cell in enumerate(fields, start=1):
            role = "label" if column == 1 else f"feature {column - 1}"
            try:
                ok = np.isfinite(float(cell))
            except ValueError:
                ok = False
            if not ok:
                hint = " (linear-learner's text/csv has no header row)" if line == 1 else ""
                return ClientError(f"{where}, row {line}, column {column} ({role}): {cell!r} is not a "
                                   f"finite number{hint}")
    return ClientError(f"{where}: cannot be read as numeric CSV: {fallback}")


def _read_channel(root: Path, channel: str, expected: int | None) -> tuple[np.ndarray, list[tuple[Path, int]]]:
    """Read every non-hidden file of a channel into one float64 array (label in column 0)."""
    import pandas as pd

    folder = root / "input" / "data" / channel
    files = sorted(p for p in folder.rglob("*") if p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    arrays, parts = [], []
    for path in files:
        where = f"channel '{channel}', file '{path.relative_to(folder).as_posix()}'"
        try:
            data = pd.read_csv(path, header=None, dtype=np.float64, engine="c").to_numpy()
        except pd.errors.EmptyDataError:
            continue
        except (ValueError, pd.errors.ParserError) as exc:
            raise _diagnose(path, where, expected, str(exc).splitlines()[0]) from None
        if (expected and data.shape[1] != expected) or not np.isfinite(data).all():
            raise _diagnose(path, where, expected, "non-finite values")
        if data.shape[1] < 2:
            raise ClientError(f"{where}: found only 1 column; linear-learner needs the label followed "
                              "by at least one feature column")
        expected = data.shape[1]
        arrays.append(data)
        parts.append((path, len(data)))
    if not arrays:
        raise ClientError(f"channel '{channel}' has no data: no non-empty, non-hidden files under "
                          f"input/data/{channel}")
    return np.concatenate(arrays), parts


def _check_labels(y: np.ndarray, hp: dict[str, Any], channel: str, root: Path,
                  parts: list[tuple[Path, int]]) -> None:
    classes = hp["num_classes"]
    if classes is None:
        return
    bad = np.flatnonzero((y != np.round(y)) | (y < 0) | (y >= classes))
    if not len(bad):
        return
    index = int(bad[0])
    for path, count in parts:
        if index < count:
            break
        index -= count
    line = next(line for i, (line, _) in enumerate(_rows(path)) if i == index)
    folder = root / "input" / "data" / channel
    raise ClientError(f"channel '{channel}', file '{path.relative_to(folder).as_posix()}', row {line}, column 1 "
                      f"(label): {y[bad[0]]:g} is not a valid label for {hp['predictor_type']}: labels must be "
                      f"integers 0..{classes - 1}" + (f" (num_classes={classes})" if classes > 2 else ""))


def _outputs(model: dict[str, Any], X: np.ndarray) -> np.ndarray:
    """Regressor values (n,), binary P(label=1) (n,) or multiclass probabilities (n, K)."""
    from scipy.special import expit

    norm = model["normalization"]
    z = ((X - np.asarray(norm["mean"])) / np.asarray(norm["scale"])) @ np.asarray(model["coefficients"]).T
    z += np.asarray(model["intercepts"])
    if model["predictor_type"] == "regressor":
        return z[:, 0]
    if model["predictor_type"] == "binary_classifier":
        return expit(z[:, 0])
    p = expit(z)  # one-vs-rest sigmoids normalized to sum to 1, as scikit-learn's predict_proba
    total = p.sum(axis=1, keepdims=True)
    return np.divide(p, total, out=np.full_like(p, 1.0 / p.shape[1]), where=total > 0)


def _metrics(model: dict[str, Any], X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """linear-learner's final metrics for one channel, keyed by SageMaker metric name suffix."""
    out, kind = _outputs(model, X), model["predictor_type"]
    if kind == "regressor":
        err = out - y
        return {"objective_loss": float(np.mean(err ** 2)), "mse": float(np.mean(err ** 2)),
                "absolute_loss": float(np.mean(np.abs(err)))}
    if kind == "multiclass_classifier":
        p_true = out[np.arange(len(y)), y.astype(int)]
        return {"objective_loss": float(-np.mean(np.log(np.clip(p_true, 1e-15, 1.0)))),
                "multiclass_accuracy": float(np.mean(out.argmax(axis=1) == y))}
    p = np.clip(out, 1e-15, 1 - 1e-15)
    pred, truth = out > 0.5, y == 1
    tp = float(np.sum(pred & truth))
    precision, recall = tp / max(pred.sum(), 1), tp / max(truth.sum(), 1)
    return {"objective_loss": float(-np.mean(np.where(truth, np.log(p), np.log1p(-p)))),
            "binary_classification_accuracy": float(np.mean(pred == truth)),
            "binary_f_beta": 2 * precision * recall / (precision + recall) if tp else 0.0,
            "precision": precision, "recall": recall}


def _quality_line(prefix: str, channel: str, name: str, value: float) -> str:
    shown = "binary_f_1.000" if name == "binary_f_beta" else name
    unit = "<loss>" if name in ("objective_loss", "mse", "absolute_loss") else "<score>"
    return f"#quality_metric: host={HOST}, {prefix}{channel} {shown} {unit}={value!r}"


def _model(hp: dict[str, Any], mean: np.ndarray, scale: np.ndarray, estimator: Any,
           y_mean: float, y_scale: float) -> dict[str, Any]:
    coef = np.atleast_2d(estimator.coef_) * y_scale
    intercept = np.atleast_1d(estimator.intercept_) * y_scale + y_mean
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "note": NOTE,
            "predictor_type": hp["predictor_type"], "num_classes": hp["num_classes"],
            "feature_dim": int(len(mean)), "normalization": {"mean": mean.tolist(), "scale": scale.tolist()},
            "coefficients": coef.tolist(), "intercepts": intercept.tolist(),
            "training": {k: hp[k] for k in ("mini_batch_size", "epochs", "learning_rate", "l1", "wd",
                                            "normalize_data", "normalize_label", "use_bias")} | {"seed": SEED}}


def train(root: Path) -> None:
    """Run one training job on an /opt/ml-shaped folder (see the module docstring).

    Args:
        root: the folder that plays /opt/ml.

    Raises:
        ClientError: bad hyperparameters, channel configuration or data.
    """
    import sklearn
    from sklearn.linear_model import SGDClassifier, SGDRegressor

    config_dir = root / "input" / "config"
    try:
        raw = json.loads((config_dir / "hyperparameters.json").read_text() or "{}")
        data_config = json.loads((config_dir / "inputdataconfig.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ClientError(f"cannot read input/config: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(data_config, dict):
        raise ClientError("hyperparameters.json and inputdataconfig.json must hold JSON objects")
    _log(f"Running the localcloud stand-in for linear-learner ({NOTE})")
    hp = _parse_hyperparameters(raw)
    _log(f"Final configuration: {json.dumps(hp, sort_keys=True)}")
    if "train" not in data_config:
        raise ClientError("linear-learner requires a 'train' channel")
    for channel in sorted(set(data_config) - set(CHANNELS)):
        _log(f"Ignoring channel '{channel}' (linear-learner reads train, validation and test)")
    channels = [c for c in CHANNELS if c in data_config]
    for channel in channels:
        _check_content_type(channel, data_config[channel])
    data: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for channel in channels:
        table, parts = _read_channel(root, channel, data["train"][0].shape[1] + 1 if data else None)
        y = table[:, 0].copy()
        if channel == "train" and hp["feature_dim"] not in (None, table.shape[1] - 1):
            raise ClientError(f"feature_dim is {hp['feature_dim']} but channel 'train' has "
                              f"{table.shape[1] - 1} feature columns (after the label column)")
        _check_labels(y, hp, channel, root, parts)
        data[channel] = (np.ascontiguousarray(table[:, 1:]), y)
        _log(f"Read {len(y)} rows x {table.shape[1] - 1} features from channel '{channel}' ({len(parts)} file(s))")

    started = time.perf_counter()
    X, y = data["train"]
    mean = X.mean(axis=0) if hp["normalize_data"] else np.zeros(X.shape[1])
    scale = X.std(axis=0) if hp["normalize_data"] else np.ones(X.shape[1])
    scale[scale == 0] = 1.0
    y_mean, y_scale = (float(y.mean()), float(y.std()) or 1.0) if hp["normalize_label"] else (0.0, 1.0)
    Xn, yn = (X - mean) / scale, (y - y_mean) / y_scale
    l1, wd = hp["l1"], hp["wd"]
    options = {"penalty": "elasticnet" if l1 else "l2", "alpha": l1 + wd, "l1_ratio": l1 / (l1 + wd) if l1 else 0.0,
               "fit_intercept": hp["use_bias"], "learning_rate": "constant", "eta0": hp["learning_rate"],
               "shuffle": False, "random_state": np.random.RandomState(SEED), "tol": None}
    regressor = hp["predictor_type"] == "regressor"
    estimator = SGDRegressor(**options) if regressor else SGDClassifier(loss="log_loss", **options)
    first = {} if regressor else {"classes": np.arange(hp["num_classes"], dtype=np.float64)}
    rng, size, model = np.random.default_rng(SEED), hp["mini_batch_size"], {}
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        for epoch in range(hp["epochs"]):
            order = rng.permutation(len(yn))
            Xe, ye = Xn[order], yn[order]
            for start in range(0, len(ye), size):
                estimator.partial_fit(Xe[start:start + size], ye[start:start + size], **first)
                first = {}
            model = _model(hp, mean, scale, estimator, y_mean, y_scale)
            if not np.isfinite(model["coefficients"]).all() or not np.isfinite(model["intercepts"]).all():
                raise ClientError(f"training diverged at epoch {epoch} (non-finite weights); "
                                  f"lower learning_rate (now {hp['learning_rate']:g})")
            for channel in ("train", "validation"):
                if channel in data:
                    for name, value in _metrics(model, *data[channel]).items():
                        _log(_quality_line(f"epoch={epoch}, ", channel, name, value))
    _log(f"Trained {hp['epochs']} epochs in {time.perf_counter() - started:.3f} s")

    (root / "model").mkdir(parents=True, exist_ok=True)
    (root / "model" / MODEL_FILE).write_text(json.dumps(model, indent=1, sort_keys=True) + "\n")
    final = []
    for channel in channels:
        final_metrics = _metrics(model, *data[channel])
        for name, value in final_metrics.items():
            _log(_quality_line("", channel, name, value))
            final.append({"MetricName": f"{channel}:{name}", "Value": value})
        if channel == "test":  # linear-learner's closing summary line
            name, value = next((n, v) for n, v in final_metrics.items() if "accuracy" in n or n == "mse")
            _log(f"#test_score ({HOST}) : ('{name}', {value!r})")
    (root / "output").mkdir(parents=True, exist_ok=True)
    (root / "output" / "metrics.json").write_text(json.dumps(final, indent=1) + "\n")


def load_model(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a stand-in model from a model dir, its JSON file, or a model.tar.gz.

    Args:
        path: DIR/model, DIR/model/model_algo-1.json, or the job's model.tar.gz.

    Returns:
        The model dict written by training.

    Raises:
        ValueError: the file is not a stand-in linear-learner model.
    """
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    if path.name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(path) as tar:
            model = json.load(tar.extractfile(MODEL_FILE))
    else:
        model = json.loads(path.read_text())
    if model.get("format") != FORMAT or model.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path} is not a {FORMAT} v{FORMAT_VERSION} model")
    return model


def predict(model: dict[str, Any], X: np.ndarray) -> list[dict[str, Any]]:
    """Score feature rows like a linear-learner endpoint's JSON response records.

    Args:
        model: from :func:`load_model`.
        X: features, shape (n, feature_dim) or (feature_dim,) for one row; no label column.

    Returns:
        One record per row: multiclass ``{"score": [p0, ...], "predicted_label": k}``, binary
        ``{"score": p, "predicted_label": 0.0|1.0}``, regressor ``{"score": value}``; labels are
        int-valued floats as AWS returns them.

    Raises:
        ClientError: X has the wrong number of columns.
    """
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    if X.ndim != 2 or X.shape[1] != model["feature_dim"]:
        raise ClientError(f"expected {model['feature_dim']} features per row, got shape {X.shape}")
    out, kind = _outputs(model, X), model["predictor_type"]
    if kind == "regressor":
        return [{"score": float(v)} for v in out]
    if kind == "binary_classifier":
        return [{"score": float(p), "predicted_label": float(p > 0.5)} for p in out]
    return [{"score": row.tolist(), "predicted_label": float(row.argmax())} for row in out]


def parse_csv_payload(body: str | bytes, feature_dim: int | None = None) -> np.ndarray:
    """Parse a text/csv inference request: one row of features per line, no label, no header.

    Args:
        body: the request body.
        feature_dim: expected columns per row; None takes the first row's count.

    Returns:
        float64 array of shape (rows, features).

    Raises:
        ClientError: empty body, wrong column count or a non-numeric cell (row/column named, 1-based).
    """
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    rows = []
    for number, fields in enumerate((r for r in csv.reader(io.StringIO(text)) if r), start=1):
        feature_dim = feature_dim or len(fields)
        if len(fields) != feature_dim:
            raise ClientError(f"row {number}: expected {feature_dim} feature columns, found {len(fields)}")
        try:
            rows.append([float(cell) for cell in fields])
        except ValueError:
            column = next(i for i, c in enumerate(fields, 1) if not _is_float(c))
            raise ClientError(f"row {number}, column {column}: {fields[column - 1]!r} is not a number") from None
    if not rows:
        raise ClientError("empty text/csv payload: send one row of features per line")
    return np.asarray(rows, dtype=np.float64)


def _is_float(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> int:
    """Entry point: train, or write output/failure and return 2 (client) or 1 (unexpected)."""
    parser = argparse.ArgumentParser(prog="python -m localcloud.linear_learner", description=__doc__.split("\n")[0])
    parser.add_argument("--ml-root", default="/opt/ml", help="the folder that plays /opt/ml")
    root = Path(parser.parse_args(argv).ml_root)
    try:
        train(root)
        return 0
    except ClientError as exc:
        message, code = str(exc), 2
    except Exception as exc:  # noqa: BLE001 - any other failure is the stand-in's own fault
        traceback.print_exc()
        message, code = f"internal error in the stand-in: {type(exc).__name__}: {exc}", 1
    (root / "output").mkdir(parents=True, exist_ok=True)
    (root / "output" / "failure").write_text(message + "\n")
    print(PREFIX + message, file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
