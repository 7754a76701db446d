"""The reference for tests/unit/test_scale_identity.py: the data steps as they were before they were made lean.

This is the straightforward in-memory code of ``src/jobs/preprocess.py`` and ``src/localcloud/sagemaker/algorithms/linear_learner/train.py``
as of commit 28b790a (before issue 13's "memory at scale"), cut down to what decides the outputs of a valid
input (the error paths are tested elsewhere). It reads each file whole, splits frames with sklearn's
``train_test_split``, fills with pandas' ``mean``/``fillna``, writes with ``DataFrame.to_csv`` and trains and
scores on whole float64 arrays. The lean code must give the same bytes.
"""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder

from localcloud.sagemaker.algorithms.linear_learner import train as ll
from localcloud.sagemaker.algorithms.linear_learner.model import FORMAT, FORMAT_VERSION, MODEL_FILE, NOTE, outputs

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
LABEL = "species"
COLUMNS = FEATURES + [LABEL]
IRIS_CLASSES = ["Iris-setosa", "Iris-versicolor", "Iris-virginica"]
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


# -- preprocess.py, before ------------------------------------------------------------------------------
def read_raw(path: Path) -> pd.DataFrame:
    """The iris reader: pandas' C reader for a file without gaps, else row by row (as before)."""
    frame = _read_fast(path)
    return frame if frame is not None else _read_checked(path)


def _read_fast(path: Path) -> pd.DataFrame | None:
    try:
        frame = pd.read_csv(path, header=None, names=COLUMNS, encoding="utf-8-sig", engine="c",
                            dtype={**{name: "float64" for name in FEATURES}, LABEL: "str"},
                            keep_default_na=False, na_values={name: [""] for name in FEATURES})
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    labels = frame[LABEL].str.strip()
    features = frame[FEATURES].to_numpy()
    if frame.empty or frame[FEATURES].isna().any().any() or not np.isfinite(features).all() \
            or not labels.isin(IRIS_CLASSES).all():
        return None
    frame[LABEL] = labels
    return frame


def _read_checked(path: Path) -> pd.DataFrame:
    rows: list[list] = []
    for number, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        line = raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r")
        if not line.strip():
            continue
        fields = next(csv.reader([line]))
        assert len(fields) == len(COLUMNS), f"the reference reads valid files only (row {number})"
        values = []
        for text in fields[: len(FEATURES)]:
            text = text.strip()
            assert not text or _NUMBER.fullmatch(text), f"the reference reads valid files only (row {number})"
            values.append(float(text) if text else math.nan)
        rows.append([*values, fields[-1].strip()])
    return pd.DataFrame(rows, columns=COLUMNS).astype({name: "float64" for name in FEATURES})


def preprocess(df: pd.DataFrame, test_size: float = 0.2, random_state: int = 42, features: list[str] | None = None,
               label: str = LABEL, classes: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Encode, split stratified (frames), fill NaNs with the train means, assemble label first (as before)."""
    features = list(features or FEATURES)
    classes = list(classes) if classes else (IRIS_CLASSES if label == LABEL and features == FEATURES
                                             else sorted(df[label].unique()))
    encoder = LabelEncoder().fit(classes)
    labels = pd.Series(encoder.transform(df[label]), index=df.index, name="label")
    x_train, x_test, y_train, y_test = train_test_split(
        df[features], labels, test_size=test_size, random_state=random_state, stratify=labels)
    means = x_train.mean(numeric_only=True)
    x_train, x_test = x_train.fillna(means), x_test.fillna(means)

    def assemble(x: pd.DataFrame, y: pd.Series) -> pd.DataFrame:
        return pd.concat([y.astype("int64"), x.astype("float64")], axis=1).reset_index(drop=True)

    meta = {"classes": [str(c) for c in encoder.classes_], "feature_names": list(features),
            "train_rows": len(x_train), "test_rows": len(x_test),
            "train_means": {name: float(means[name]) for name in features},
            "scaling": "none: linear-learner normalizes the features itself (normalize_data)"}
    return assemble(x_train, y_train), assemble(x_test, y_test), meta


def write_outputs(output_dir: Path, train: pd.DataFrame, test: pd.DataFrame, meta: dict) -> None:
    """The three outputs as before: ``to_csv`` and the JSON meta."""
    for relative, frame in (("train/train.csv", train), ("test/test.csv", test)):
        (output_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(output_dir / relative, header=False, index=False, lineterminator="\n")
    (output_dir / "meta").mkdir(parents=True, exist_ok=True)
    (output_dir / "meta/preprocess.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


# -- linear_learner/train.py, before ----------------------------------------------------------------------------
def _read_channel(root: Path, channel: str) -> np.ndarray:
    folder = root / "input" / "data" / channel
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return np.concatenate([pd.read_csv(path, header=None, dtype=np.float64, engine="c").to_numpy() for path in files])


def _load(root: Path) -> tuple[dict[str, Any], dict[str, tuple[np.ndarray, np.ndarray]]]:
    hp = ll._parse_hyperparameters(json.loads((root / "input/config/hyperparameters.json").read_text()))
    config = json.loads((root / "input/config/inputdataconfig.json").read_text())
    data = {}
    for channel in [c for c in ll.CHANNELS if c in config]:
        table = _read_channel(root, channel)
        data[channel] = (np.ascontiguousarray(table[:, 1:]), table[:, 0].copy())
    steps = hp["epochs"] * math.ceil(len(data["train"][1]) / hp["mini_batch_size"])
    hp["learning_rate"] = hp["learning_rate"] or (list(ll._AUTO_RATES) if steps < 2000 else 0.01)
    return hp, data


def _metrics(model: dict[str, Any], X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    out, kind = outputs(model, X), model["predictor_type"]
    if kind == "regressor":
        mse = float(np.mean((out - y) ** 2))
        return {"objective_loss": mse, "mse": mse, "absolute_loss": float(np.mean(np.abs(out - y)))}
    if kind == "multiclass_classifier":
        p_true = np.clip(out[np.arange(len(y)), y.astype(int)], 1e-15, 1.0)
        return {"objective_loss": float(-np.mean(np.log(p_true))),
                "multiclass_accuracy": float(np.mean(out.argmax(axis=1) == y))}
    p, pred, truth = np.clip(out, 1e-15, 1 - 1e-15), out > 0.5, y == 1
    tp = float(np.sum(pred & truth))
    precision, recall = tp / max(float(pred.sum()), 1.0), tp / max(float(truth.sum()), 1.0)
    return {"objective_loss": float(-np.mean(np.where(truth, np.log(p), np.log1p(-p)))),
            "binary_classification_accuracy": float(np.mean(pred == truth)),
            "binary_f_beta": 2 * precision * recall / (precision + recall) if tp else 0.0,
            "precision": precision, "recall": recall}


def _f32(values: np.ndarray) -> list:
    return np.asarray(values, dtype=np.float32).tolist()  # the model keeps float32 parameters, as linear-learner


def _fit_one(hp: dict[str, Any], data: dict[str, tuple[np.ndarray, np.ndarray]], log: list[tuple]) -> dict[str, Any]:
    import sklearn
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    X, y = data["train"]
    d = X.shape[1]
    mean, scale = (X.mean(axis=0), X.std(axis=0)) if hp["normalize_data"] else (np.zeros(d), np.ones(d))
    scale[scale == 0] = 1.0
    y_mean, y_scale = (float(y.mean()), float(y.std()) or 1.0) if hp["normalize_label"] else (0.0, 1.0)
    Xn, yn = (X - mean) / scale, (y - y_mean) / y_scale
    options = {"hidden_layer_sizes": (), "solver": "adam", "alpha": hp["wd"], "learning_rate_init": hp["learning_rate"],
               "batch_size": min(hp["mini_batch_size"], len(yn)), "shuffle": True, "random_state": ll.SEED}
    regressor = hp["predictor_type"] == "regressor"
    estimator = MLPRegressor(**options) if regressor else MLPClassifier(**options)
    first = {} if regressor else {"classes": np.arange(hp["num_classes"], dtype=np.float64)}
    model: dict[str, Any] = {}
    with sklearn.config_context(assume_finite=True):
        for epoch in range(hp["epochs"]):
            estimator.partial_fit(Xn, yn, **first)
            first = {}
            coef = estimator.coefs_[0].T * y_scale
            intercept = estimator.intercepts_[0] * y_scale + y_mean
            model = {"format": FORMAT, "format_version": FORMAT_VERSION, "note": NOTE,
                     "predictor_type": hp["predictor_type"], "num_classes": hp["num_classes"],
                     "feature_dim": X.shape[1], "normalization": {"mean": _f32(mean), "scale": _f32(scale)},
                     "coefficients": _f32(coef), "intercepts": _f32(intercept),
                     "training": {k: v for k, v in hp.items() if k not in ("predictor_type", "num_classes")}
                     | {"seed": ll.SEED, "rows": len(y)}}
            log += [(epoch, channel, f"{ll.OBJECTIVES[hp['predictor_type']]}_objective",
                     repr(_metrics(model, *data[channel])["objective_loss"]))
                    for channel in ("train", "validation") if channel in data]
    return model


def train(root: Path) -> list[tuple]:
    """Train as before; write model/model_algo-1.json and output/metrics.json.

    Returns:
        Each epoch's logged metrics as (epoch, channel, name as logged, repr of the value).
    """
    hp, data = _load(root)
    log: list[tuple] = []
    rates = hp["learning_rate"] if isinstance(hp["learning_rate"], list) else [hp["learning_rate"]]
    judge = data.get("validation", data["train"])
    logs: list[list[tuple]] = [[] for _ in rates]
    models = [_fit_one({**hp, "learning_rate": rate}, data, logs[i]) for i, rate in enumerate(rates)]
    best = int(np.argmin([_metrics(m, *judge)["objective_loss"] for m in models]))
    model = models[best]
    log += logs[best]  # the epochs of the model kept, as linear-learner logs them
    (root / "model").mkdir(parents=True, exist_ok=True)
    (root / "model" / MODEL_FILE).write_text(json.dumps(model, indent=1, sort_keys=True) + "\n")
    final = [{"MetricName": f"{channel}:{name}", "Value": value}
             for channel, (X, y) in data.items() for name, value in _metrics(model, X, y).items()]
    (root / "output").mkdir(parents=True, exist_ok=True)
    (root / "output" / "metrics.json").write_text(json.dumps(final, indent=1) + "\n")
    return log
