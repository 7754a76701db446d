"""The stand-in linear-learner's model: its file format and how it answers (endpoints, transform jobs).

Training writes ``model_algo-1.json`` (see :mod:`localcloud.sagemaker.algorithms.linear_learner.train`); this module
loads it from a folder, the JSON file or a ``model.tar.gz`` and scores feature rows in
linear-learner's JSON response shape.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

MODEL_FILE = "model_algo-1.json"
FORMAT, FORMAT_VERSION = "localcloud-linear-learner", 1
NOTE = "localcloud stand-in for linear-learner: a scikit-learn linear model behind the same contract, not Amazon's algorithm"


class InvalidInputError(ValueError):
    """The caller's data, hyperparameters or payload are wrong (the job's FailureReason says ClientError; training
    exits 2, with no traceback). Not botocore's ClientError: nothing here talks to AWS."""




def outputs(model: dict[str, Any], X: np.ndarray) -> np.ndarray:
    """Regressor values (n,), binary P(label 1) (n,) or multiclass probabilities (n, K)."""
    from scipy.special import expit, softmax

    norm, coef = model["normalization"], np.asarray(model["coefficients"])
    weights = coef / np.asarray(norm["scale"])  # ((X - mean) / scale) @ coef.T, without copying X
    z = X @ weights.T + (np.asarray(model["intercepts"]) - weights @ np.asarray(norm["mean"]))
    if model["predictor_type"] != "multiclass_classifier":
        return z[:, 0] if model["predictor_type"] == "regressor" else expit(z[:, 0])
    return softmax(z, axis=1)




def load_model(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a stand-in model from DIR/model, its model_algo-1.json, or the job's model.tar.gz.

    Args:
        path: the model folder, JSON file or tarball.

    Returns:
        The model dict written by training.

    Raises:
        ValueError: the file is not a stand-in linear-learner model.
    """
    path = Path(path)
    path = path / MODEL_FILE if path.is_dir() else path
    if path.name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(path) as tar:
            model = json.load(tar.extractfile(MODEL_FILE))
    else:
        model = json.loads(path.read_text())
    if not isinstance(model, dict) or model.get("format") != FORMAT or model.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path} is not a {FORMAT} v{FORMAT_VERSION} model")
    return model


def predict(model: dict[str, Any], X: np.ndarray) -> list[dict[str, Any]]:
    """Score feature rows as a linear-learner endpoint's JSON response records.

    Args:
        model: from :func:`load_model`.
        X: features, shape (n, feature_dim), or (feature_dim,) for one row; no label column.

    Returns:
        One record per row: multiclass ``{"score": [p0, ...], "predicted_label": k}``, binary
        ``{"score": p, "predicted_label": 0.0 or 1.0}``, regressor ``{"score": value}``. Labels
        are int-valued floats, as AWS's JSON responses carry them.

    Raises:
        InvalidInputError: X has the wrong shape.
    """
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    if X.ndim != 2 or X.shape[1] != model["feature_dim"]:
        raise InvalidInputError(f"expected {model['feature_dim']} features per row, got an array of shape {X.shape}")
    # float32 scores, as linear-learner answers (its RECORDIO format marks them so): a CPU's last float64 bits vanish
    out, kind = outputs(model, X).astype(np.float32).astype(np.float64), model["predictor_type"]
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
        A float64 array of shape (rows, features).

    Raises:
        InvalidInputError: empty body, wrong column count or a non-numeric cell (row and column 1-based).
    """
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    rows = []
    for number, fields in enumerate((r for r in csv.reader(io.StringIO(text)) if "".join(r).strip() or len(r) > 1), start=1):
        feature_dim = feature_dim or len(fields)
        if len(fields) != feature_dim:
            raise InvalidInputError(f"row {number}: expected {feature_dim} feature columns, found {len(fields)}")
        for column, cell in enumerate(fields, start=1):
            try:
                rows.append(float(cell))
            except ValueError:
                raise InvalidInputError(f"row {number}, column {column}: {cell!r} is not a number") from None
    if not rows:
        raise InvalidInputError("empty text/csv payload: send one row of features per line")
    return np.asarray(rows, dtype=np.float64).reshape(-1, feature_dim)


