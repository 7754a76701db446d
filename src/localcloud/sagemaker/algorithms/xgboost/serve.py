"""The built-in XGBoost algorithm's model server: load the booster, read a request, predict, write the answer.

As the open-source container serves (github.com/aws/sagemaker-xgboost-container, ``algorithm_mode/serve.py`` and
``serve_utils.py``): a request body is ``text/csv`` (features only, no label, no header) or ``text/libsvm``; the
answer's Accept is ``text/csv`` (the default: one prediction per line, or one row of class probabilities for
``multi:softprob``) or ``application/json`` (``{"predictions": [{"score": …}, …]}``); in a Batch Transform
(``SAGEMAKER_BATCH``) every answer is the predictions one per line, whatever the Accept. The checks run in the
container's order, each with its HTTP status: the payload (415), the model (500), the prediction (400), the
Accept (406). Failures raise :class:`ServeError`; nothing here knows HTTP or S3.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import numpy as np

from localcloud.sagemaker.algorithms.xgboost.channels import CSV, LIBSVM

MODEL_NAME = "xgboost-model"
DEFAULT_ACCEPT = "text/csv"
SUPPORTED_ACCEPTS = ["application/json", "application/jsonlines", "application/x-recordio-protobuf", "text/csv"]
ANSWERED_ACCEPTS = ("application/json", "text/csv")  # jsonlines and recordio-protobuf are not written here


class ServeError(ValueError):
    """A request the container's server refuses, with the HTTP status it answers."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def load_booster(raw: bytes) -> Any:
    """An ``xgboost.Booster`` from a model file's bytes (xgboost's JSON, UBJSON or its older binary format).

    Raises:
        ServeError: the bytes are not an XGBoost model (500).
    """
    import xgboost as xgb

    booster = xgb.Booster()
    try:
        booster.load_model(bytearray(raw))
    except xgb.core.XGBoostError as exc:
        raise ServeError(f"Unable to load model: Model {MODEL_NAME} cannot be loaded:\nXGB load model error="
                         f"{str(exc).splitlines()[0]}", 500) from None
    booster.set_param("nthread", 1)
    return booster


def objective(booster: Any) -> str:
    """The booster's objective, read from its configuration as the container reads it."""
    return json.loads(booster.save_config())["learner"]["objective"]["name"]


def _media(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def parse_payload(body: bytes, content_type: str | None) -> Any:
    """A request body as an ``xgboost.DMatrix`` of feature rows.

    Raises:
        ServeError: a content type the algorithm does not read, or a body that is not of it (415).
    """
    import xgboost as xgb

    media = _media(content_type) or "text/libsvm"  # the container's default content type
    text = body.strip().decode("utf-8", errors="replace")
    if media in (CSV, "text/csv"):
        try:
            sniffed = csv.Sniffer().sniff(text.split("\n")[0][:512]).delimiter
            delimiter = "," if sniffed.isalnum() else sniffed
            rows = [line.split(delimiter) for line in text.split("\n")]
            return xgb.DMatrix(np.array(rows).astype(float))
        except Exception as exc:  # noqa: BLE001 - whatever the parse raises is the container's 415
            raise ServeError(f"Loading csv data failed with Exception, please ensure data is in csv format:\n "
                             f"{type(exc)}\n {exc}", 415) from None
    if media in (LIBSVM, "text/libsvm", "text/x-libsvm"):
        try:
            return xgb.DMatrix(_libsvm_rows(text))
        except Exception as exc:  # noqa: BLE001
            raise ServeError(f"Loading libsvm data failed with Exception, please ensure data is in libsvm format:\n "
                             f"{type(exc)}\n {exc}", 415) from None
    raise ServeError(f"Content-type {content_type} is not supported.", 415)


def _libsvm_rows(text: str) -> Any:
    """libsvm lines (a label first, which is ignored, then index:value pairs) as a CSR matrix, 1-based
    indices shifted to 0 as the container shifts them."""
    from scipy.sparse import csr_matrix

    rows, cols, values = [], [], []
    for row, line in enumerate(text.split("\n")):
        for item in line.split(" "):
            if ":" in item:
                index, value = item.split(":", 1)
                rows.append(row)
                cols.append(int(index))
                values.append(float(value))
    columns = np.array(cols, dtype=int)
    if len(columns) and columns.min() >= 1:
        columns -= 1
    return csr_matrix((np.array(values, dtype=float), (np.array(rows), columns)))


def predict(booster: Any, dmatrix: Any) -> np.ndarray:
    """The booster's predictions (labels for ``multi:softmax``, probabilities for ``binary:logistic``, ...).

    Raises:
        ServeError: the rows do not fit the model (400).
    """
    import xgboost as xgb

    try:
        return booster.predict(dmatrix, validate_features=False)
    except xgb.core.XGBoostError as exc:
        raise ServeError(f"Unable to evaluate payload provided: {str(exc).splitlines()[0]}", 400) from None


def accept_type(accept: str | None) -> str:
    """The answer's media type for an Accept header (``text/csv`` when none or ``*/*``).

    Raises:
        ServeError: an Accept the container does not answer (406).
    """
    media = _media(accept)
    if not media or media == "*/*":
        return DEFAULT_ACCEPT
    if media not in SUPPORTED_ACCEPTS:
        raise ServeError(f"Accept type {media} is not supported. Please use supported accept types: "
                         f"{SUPPORTED_ACCEPTS}.", 406)
    if media not in ANSWERED_ACCEPTS:
        raise ServeError(f"Accept type {media}: the localcloud stand-in for XGBoost answers "
                         f"{' or '.join(ANSWERED_ACCEPTS)}", 406)
    return media


def encode(predictions: np.ndarray, accept: str, batch: bool = False) -> bytes:
    """Predictions as the container writes them: for a transform one per line; else text/csv as
    ``numpy.savetxt`` writes it, or application/json's ``{"predictions": [{"score": …}]}``."""
    values = predictions.tolist()
    if batch:
        return ("\n".join(map(str, values)) + "\n").encode()
    if accept == "application/json":
        return json.dumps({"predictions": [{"score": value} for value in values]}).encode()
    stream = io.StringIO()
    np.savetxt(stream, values, delimiter=",", fmt="%s")
    return stream.getvalue().encode()


def answer(booster: Any, body: bytes, content_type: str | None, accept: str | None,
           batch: bool = False) -> tuple[bytes, str]:
    """One invocation, checked in the container's order; returns (body, content type).

    Raises:
        ServeError: the first check that fails, with its status.
    """
    rows = parse_payload(body, content_type)
    predictions = predict(booster, rows)
    media = accept_type(accept)
    return encode(predictions, media, batch), media
