"""Local stand-in for SageMaker's built-in linear-learner training container.

The local cloud runs ``python -m localcloud.sagemaker.algorithms.linear_learner.train --ml-root DIR`` (DIR plays /opt/ml).
The *contract* is linear-learner's: input/config/hyperparameters.json (string values),
inputdataconfig.json, text/csv channels train/validation/test (no header, label first),
``#quality_metric`` log lines (each epoch's objective loss on train and validation, named as linear-learner
names it, then the final metrics), output/metrics.json, output/failure on error. The *algorithm* is
not: it is one linear model (softmax, logistic or least squares) trained by scikit-learn with
mini-batch Adam for ``epochs`` passes of ``mini_batch_size`` rows, fixed seed. With
``learning_rate=auto`` on small data it trains three models at different rates and keeps the
best (a small version of linear-learner's ``num_models``). No threshold tuning (binary cut-off
0.5), l1 or early stopping, so expect similar, not identical, numbers to AWS. The model is
model/model_algo-1.json (portable JSON, not AWS's MXNet artifact): see :func:`load_model`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

# The model format and inference live in linear_model; re-exported for callers of this module.
from localcloud.sagemaker.algorithms.linear_learner.channels import SpilledRows, _check_labels, _read_channel
from localcloud.sagemaker.algorithms.linear_learner.model import (
    FORMAT,
    FORMAT_VERSION,
    MODEL_FILE,
    NOTE,
    InvalidInputError,
    load_model,
    outputs,
    parse_csv_payload,
    predict,
)

__all__ = ["InvalidInputError", "MODEL_FILE", "NOTE", "load_model", "main", "parse_csv_payload", "predict", "train"]

HOST, SEED = "algo-1", 0
PREFIX = "linear-learner (localcloud stand-in): "
PREDICTOR_TYPES = ("binary_classifier", "multiclass_classifier", "regressor")
CHANNELS = ("train", "validation", "test")
HONOURED = {"predictor_type", "num_classes", "feature_dim", "mini_batch_size", "epochs", "learning_rate",
            "l1", "wd", "normalize_data", "normalize_label", "use_bias"}
# HONOURED | NOT_IMPLEMENTED is linear-learner's whole list (docs: ll_hyperparameters.html); any other name fails the
# job, as AWS's algorithm refuses it
NOT_IMPLEMENTED = {  # real linear-learner hyperparameters the stand-in accepts and ignores
    "accuracy_top_k", "balance_multiclass_weights", "beta_1", "beta_2", "bias_lr_mult", "bias_wd_mult",
    "binary_classifier_model_selection_criteria", "early_stopping_patience", "early_stopping_tolerance",
    "f_beta", "huber_delta", "init_bias", "init_method", "init_scale", "init_sigma", "loss",
    "loss_insensitivity", "lr_scheduler_factor", "lr_scheduler_minimum_lr", "lr_scheduler_step", "margin",
    "momentum", "num_calibration_samples", "num_models", "num_point_for_scaler", "optimizer",
    "positive_example_weight_mult", "quantile", "target_precision", "target_recall", "unbias_data",
    "unbias_label", "use_lr_scheduler"}


def _float32(values: np.ndarray) -> list:
    """A model's parameters as linear-learner keeps them, float32: the float64 fit's last bits, which differ
    between CPUs (their BLAS kernels), do not reach the model's bytes or its scores."""
    return np.asarray(values, dtype=np.float32).tolist()


def _log(message: str) -> None:
    print(f"[{time.strftime('%m/%d/%Y %H:%M:%S')} INFO {os.getpid()}] {message}", flush=True)


def _parse_hyperparameters(raw: dict[str, Any]) -> dict[str, Any]:
    """Validate SageMaker's string-valued hyperparameters into typed settings ("auto" → None)."""
    hp = {str(k): str(v).strip() for k, v in raw.items()}
    unknown = sorted(set(hp) - HONOURED - NOT_IMPLEMENTED)
    if unknown:  # linear-learner's hyperparameter schema allows no other name (jsonschema's wording)
        raise InvalidInputError(f"Additional hyperparameters are not allowed ({unknown[0]!r} was unexpected)")

    def number(name: str, default: str, cast: type, low: float, auto: bool = True) -> Any:
        text = hp.get(name, default)
        if auto and text.lower() == "auto":
            return None
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < low or (cast is int and not value.is_integer()):
            kind = ("an integer" if cast is int else "a number") + f" >= {low:g}" + (" or 'auto'" if auto else "")
            raise InvalidInputError(f"hyperparameter {name} must be {kind}, got {text!r}")
        return cast(value)

    def flag(name: str) -> bool:
        text = hp.get(name, "auto").lower()
        if text not in ("true", "false", "auto"):
            raise InvalidInputError(f"hyperparameter {name} must be true, false or auto, got {hp[name]!r}")
        return text != "false"

    predictor = hp.get("predictor_type")
    if not predictor:
        raise InvalidInputError(
            f"Missing required hyperparameter: predictor_type (one of {', '.join(PREDICTOR_TYPES)})")
    if predictor not in PREDICTOR_TYPES:
        raise InvalidInputError(f"predictor_type must be one of {', '.join(PREDICTOR_TYPES)}, got {predictor!r}")
    num_classes = {"binary_classifier": 2}.get(predictor)
    if predictor == "multiclass_classifier":
        if "num_classes" not in hp:
            raise InvalidInputError("num_classes must be set for multiclass_classifier")
        num_classes = int(hp["num_classes"]) if hp["num_classes"].isdigit() else 0
        if not 3 <= num_classes <= 1_000_000:
            raise InvalidInputError(f"num_classes must be an integer from 3 to 1000000 for multiclass_classifier, "
                              f"got {hp['num_classes']!r}")
    for name in sorted(set(hp) & NOT_IMPLEMENTED):
        _log(f"Ignoring hyperparameter {name}={hp[name]!r} (not implemented by the stand-in)")
    wd, learning_rate = number("wd", "auto", float, 0.0), number("learning_rate", "auto", float, 0.0)
    if learning_rate == 0:
        raise InvalidInputError(
            f"hyperparameter learning_rate must be a number > 0 or 'auto', got {hp['learning_rate']!r}")
    return {"predictor_type": predictor, "num_classes": num_classes,
            "feature_dim": number("feature_dim", "auto", int, 1),
            "mini_batch_size": number("mini_batch_size", "1000", int, 1, auto=False),
            "epochs": number("epochs", "15", int, 1, auto=False),
            "learning_rate": learning_rate,  # None ("auto"): chosen from the row count
            "l1": number("l1", "auto", float, 0.0) or 0.0, "wd": 1e-4 if wd is None else wd,
            "normalize_data": flag("normalize_data"), "use_bias": flag("use_bias"),
            "normalize_label": predictor == "regressor" and flag("normalize_label")}


def _check_content_type(channel: str, config: dict[str, Any]) -> None:
    content_type = str(config.get("ContentType") or "application/octet-stream")
    media, *params = [part.strip().lower() for part in content_type.split(";")]
    if media != "text/csv":
        raise InvalidInputError(f"channel '{channel}': ContentType {content_type!r} is not supported: the localcloud "
                          "stand-in for linear-learner only reads text/csv (no header, label in the first "
                          "column); give the channel ContentType='text/csv'")
    if any(p.startswith("label_size=") and p != "label_size=1" for p in params):
        raise InvalidInputError(f"channel '{channel}': ContentType {content_type!r}: only label_size=1 is supported")
    if str(config.get("RecordWrapperType") or "None") != "None":
        raise InvalidInputError(f"channel '{channel}': RecordWrapperType {config['RecordWrapperType']!r} is not "
                          "supported with text/csv")


# linear-learner's per-epoch log names the loss it optimises: "epoch=3, train multiclass_cross_entropy_objective".
OBJECTIVES = {"binary_classifier": "binary_classification_cross_entropy", "multiclass_classifier": "multiclass_cross_entropy",
              "regressor": "mse"}
METRIC_ROWS = 1 << 16  # rows scored at a time by _metrics: bounded memory, the same per-row values


def _metrics(model: dict[str, Any], X: np.ndarray | SpilledRows, y: np.ndarray) -> dict[str, float]:
    """One channel's final metrics, keyed as the suffix of SageMaker's metric names.

    The model scores ``METRIC_ROWS`` rows at a time into one value per row (rows are scored independently),
    then each mean is taken over the whole array: the numbers of one pass over all rows, without (rows, classes)
    float64 temporaries the size of the data.
    """
    kind, rows = model["predictor_type"], len(y)
    values = ({"p_true": np.empty(rows), "correct": np.empty(rows, dtype=bool)}
              if kind == "multiclass_classifier" else {"out": np.empty(rows)})
    for start in range(0, rows, METRIC_ROWS):
        part = slice(start, start + METRIC_ROWS)
        out = outputs(model, X[part])
        if kind == "multiclass_classifier":
            truth = y[part]
            values["p_true"][part] = np.clip(out[np.arange(len(truth)), truth.astype(int)], 1e-15, 1.0)
            values["correct"][part] = out.argmax(axis=1) == truth
        else:
            values["out"][part] = out
    if kind == "regressor":
        out = values["out"]
        mse = float(np.mean((out - y) ** 2))  # objective: squared loss
        return {"objective_loss": mse, "mse": mse, "absolute_loss": float(np.mean(np.abs(out - y)))}
    if kind == "multiclass_classifier":
        return {"objective_loss": float(-np.mean(np.log(values["p_true"]))),
                "multiclass_accuracy": float(np.mean(values["correct"]))}
    out = values["out"]
    p, pred, truth = np.clip(out, 1e-15, 1 - 1e-15), out > 0.5, y == 1
    tp = float(np.sum(pred & truth))
    precision, recall = tp / max(float(pred.sum()), 1.0), tp / max(float(truth.sum()), 1.0)
    return {"objective_loss": float(-np.mean(np.where(truth, np.log(p), np.log1p(-p)))),
            "binary_classification_accuracy": float(np.mean(pred == truth)),
            "binary_f_beta": 2 * precision * recall / (precision + recall) if tp else 0.0,
            "precision": precision, "recall": recall}


def _log_metrics(prefix: str, channel: str, metrics: dict[str, float]) -> None:
    for name, value in metrics.items():
        shown = "binary_f_1.000" if name == "binary_f_beta" else name
        unit = "<loss>" if name in ("objective_loss", "mse", "absolute_loss") else "<score>"
        _log(f"#quality_metric: host={HOST}, {prefix}{channel} {shown} {unit}={value!r}")


def _load(root: Path) -> tuple[dict[str, Any], dict[str, tuple[SpilledRows, np.ndarray]]]:
    """Read config and channels; return (settings, {channel: (X, y)}) in train/validation/test order.

    X is a :class:`SpilledRows` (the features wait on disk; slice it), y the labels in memory.
    """
    try:
        raw = json.loads((root / "input/config/hyperparameters.json").read_text() or "{}")
        data_config = json.loads((root / "input/config/inputdataconfig.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"cannot read input/config: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(data_config, dict):
        raise InvalidInputError("hyperparameters.json and inputdataconfig.json must hold JSON objects")
    _log(f"Running the {NOTE}")
    hp = _parse_hyperparameters(raw)
    if "train" not in data_config:
        raise InvalidInputError("linear-learner requires a 'train' channel")
    for channel in sorted(set(data_config) - set(CHANNELS)):
        _log(f"Ignoring channel '{channel}' (linear-learner reads train, validation and test)")
    channels = [c for c in CHANNELS if c in data_config]
    for channel in channels:
        _check_content_type(channel, data_config[channel])
    data: dict[str, tuple[SpilledRows, np.ndarray]] = {}
    for channel in channels:
        X, y, parts = _read_channel(root, channel, data["train"][0].shape[1] + 1 if data else None)
        if channel == "train" and hp["feature_dim"] not in (None, X.shape[1]):
            raise InvalidInputError(f"feature_dim is {hp['feature_dim']} but channel 'train' has {X.shape[1]} "
                              "feature columns (after the label column)")
        _check_labels(y, hp, channel, parts)
        data[channel] = (X, y)
        _log(f"Read {len(y)} rows x {X.shape[1]} features from channel '{channel}' ({len(parts)} file(s))")
    steps = hp["epochs"] * math.ceil(len(data["train"][1]) / hp["mini_batch_size"])
    # "auto": like linear-learner's parallel models, try a few rates when training is cheap.
    hp["learning_rate"] = hp["learning_rate"] or (list(_AUTO_RATES) if steps < 2000 else 0.01)
    _log(f"Final configuration: {json.dumps(hp, sort_keys=True)}")
    return hp, data


_AUTO_RATES = (0.5, 0.1, 0.02)


def _fit(hp: dict[str, Any], data: dict[str, tuple[SpilledRows, np.ndarray]]) -> dict[str, Any]:
    """Train one model per candidate learning rate; keep the best on validation (else train) loss.

    Each epoch's objective loss is logged for the model kept, once it is chosen, as linear-learner logs the
    epochs of the model it keeps: ``#quality_metric: host=algo-1, epoch=0, train <loss>_objective <loss>=…``.
    """
    rates = hp["learning_rate"] if isinstance(hp["learning_rate"], list) else [hp["learning_rate"]]
    judge = data.get("validation", data["train"])
    fitted = [_fit_one({**hp, "learning_rate": rate}, data) for rate in rates]
    losses = [_metrics(model, *judge)["objective_loss"] for model, _ in fitted]
    best = int(np.argmin(losses))
    if len(rates) > 1:
        _log(f"Trained {len(rates)} models (learning_rate {rates}); chose learning_rate={rates[best]} "
             f"with objective_loss {losses[best]:.4f} on {'validation' if 'validation' in data else 'train'}")
    objective = OBJECTIVES[hp["predictor_type"]]
    for epoch, channel, loss in fitted[best][1]:
        _log(f"#quality_metric: host={HOST}, epoch={epoch}, {channel} {objective}_objective <loss>={loss!r}")
    return fitted[best][0]


def _fit_one(hp: dict[str, Any], data: dict[str, tuple[SpilledRows, np.ndarray]]
             ) -> tuple[dict[str, Any], list[tuple[int, str, float]]]:
    """Train a linear model with mini-batch Adam, one epoch per ``partial_fit``; return the JSON model and each
    epoch's objective loss as ``(epoch, channel, loss)`` for train and validation.

    scikit-learn's MLP with no hidden layer *is* a linear model: softmax regression for
    multiclass, logistic for binary, least squares for regression (linear-learner's losses
    and, by default, its Adam optimizer).
    """
    import sklearn
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    rows, y = data["train"]
    X, d = rows[:], rows.shape[1]  # the raw features whole, only while they are normalised
    mean, scale = (X.mean(axis=0), X.std(axis=0)) if hp["normalize_data"] else (np.zeros(d), np.ones(d))
    scale[scale == 0] = 1.0
    y_mean, y_scale = (float(y.mean()), float(y.std()) or 1.0) if hp["normalize_label"] else (0.0, 1.0)
    Xn = X - mean
    Xn /= scale  # in place: (X - mean) / scale without a second copy of X
    del X
    regressor = hp["predictor_type"] == "regressor"
    # Class labels are checked integers 0..K-1: as small ints the classifier's one-hot copy of y is small too
    # (it is built in y's integer type; the same booleans come out of it).
    yn = (y - y_mean) / y_scale if regressor else y.astype(np.int8 if hp["num_classes"] <= 127 else np.int32)
    if hp["l1"]:
        _log(f"l1={hp['l1']} is not honoured by the stand-in (only wd, an L2 penalty)")
    options = {"hidden_layer_sizes": (), "solver": "adam", "alpha": hp["wd"], "learning_rate_init": hp["learning_rate"],
               "batch_size": min(hp["mini_batch_size"], len(yn)), "shuffle": True, "random_state": SEED}
    estimator = MLPRegressor(**options) if regressor else MLPClassifier(**options)
    first = {} if regressor else {"classes": np.arange(hp["num_classes"], dtype=np.float64)}
    model: dict[str, Any] = {}
    epochs: list[tuple[int, str, float]] = []
    started = time.perf_counter()
    with sklearn.config_context(assume_finite=True):
        for epoch in range(hp["epochs"]):
            estimator.partial_fit(Xn, yn, **first)
            first = {}
            coef = estimator.coefs_[0].T * y_scale  # (outputs, features); label normalization folded back in
            intercept = estimator.intercepts_[0] * y_scale + y_mean
            if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
                raise InvalidInputError(
                    f"training diverged in epoch {epoch}; lower learning_rate (now {hp['learning_rate']:g})")
            model = {"format": FORMAT, "format_version": FORMAT_VERSION, "note": NOTE,
                     "predictor_type": hp["predictor_type"], "num_classes": hp["num_classes"],
                     "feature_dim": d, "normalization": {"mean": _float32(mean), "scale": _float32(scale)},
                     "coefficients": _float32(coef), "intercepts": _float32(intercept),
                     "training": {k: v for k, v in hp.items() if k not in ("predictor_type", "num_classes")}
                     | {"seed": SEED, "rows": len(y)}}
            epochs += [(epoch, channel, _metrics(model, *data[channel])["objective_loss"])
                       for channel in ("train", "validation") if channel in data]
    _log(f"Trained {hp['epochs']} epochs on {len(y)} rows in {time.perf_counter() - started:.3f} s")
    return model, epochs


def train(root: Path) -> None:
    """Run one training job on an /opt/ml-shaped folder: model/, output/metrics.json.

    Args:
        root: the folder that plays /opt/ml.

    Raises:
        InvalidInputError: bad hyperparameters, channel configuration or data.
    """
    hp, data = _load(root)
    model = _fit(hp, data)
    (root / "model").mkdir(parents=True, exist_ok=True)
    (root / "model" / MODEL_FILE).write_text(json.dumps(model, indent=1, sort_keys=True) + "\n")
    final = []
    for channel, (X, y) in data.items():
        metrics = _metrics(model, X, y)
        _log_metrics("", channel, metrics)
        final += [{"MetricName": f"{channel}:{name}", "Value": value} for name, value in metrics.items()]
        if channel == "test":  # linear-learner's closing summary line
            name = next(n for n in metrics if "accuracy" in n or n == "mse")
            _log(f"#test_score ({HOST}) : ('{name}', {metrics[name]!r})")
    (root / "output").mkdir(parents=True, exist_ok=True)
    (root / "output" / "metrics.json").write_text(json.dumps(final, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Train; on failure write output/failure and return 2 (client error) or 1 (unexpected)."""
    parser = argparse.ArgumentParser(prog="python -m localcloud.sagemaker.algorithms.linear_learner.train", description=__doc__.split("\n")[0])
    parser.add_argument("--ml-root", default="/opt/ml", help="the folder that plays /opt/ml")
    root = Path(parser.parse_args(argv).ml_root)
    try:
        train(root)
        return 0
    except InvalidInputError as exc:
        message, code = str(exc), 2
    except Exception as exc:  # noqa: BLE001 - anything else is the stand-in's own fault
        traceback.print_exc()
        message, code = f"internal error in the stand-in: {type(exc).__name__}: {exc}", 1
    (root / "output").mkdir(parents=True, exist_ok=True)
    (root / "output" / "failure").write_text(message + "\n")
    print(PREFIX + message, file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
