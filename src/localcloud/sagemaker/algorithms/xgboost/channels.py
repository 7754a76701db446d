"""The built-in XGBoost algorithm's channels: their names, content types and files, read into DMatrix objects.

As the SageMaker XGBoost container reads them (``algorithm_mode/channel_validation.py`` and ``data_utils.py`` of
github.com/aws/sagemaker-xgboost-container): a required ``train`` channel and an optional ``validation`` one;
``text/csv`` (label in the first column, no header; with ``csv_weights=1`` the instance weight in the second) or
``text/libsvm`` (the default when a channel names no ContentType); every file below the channel's folder, a hidden
one refused. Parquet and recordio-protobuf, which the container also reads, are not read here.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from localcloud.sagemaker.algorithms.xgboost.hyperparameters import UserError

CSV, LIBSVM, PARQUET, RECORDIO = "csv", "libsvm", "parquet", "recordio-protobuf"
_TYPES = {CSV: CSV, "text/csv": CSV, LIBSVM: LIBSVM, "text/libsvm": LIBSVM, "text/x-libsvm": LIBSVM,
          PARQUET: PARQUET, "application/x-parquet": PARQUET, RECORDIO: RECORDIO,
          "application/x-recordio-protobuf": RECORDIO}
CHANNELS = ("train", "validation", "code")


def content_type(value: str | None) -> str:
    """``csv``, ``libsvm``, ... for a channel's ContentType (``text/libsvm`` when it names none)."""
    if value is None:
        return LIBSVM
    media, *params = [part.strip() for part in value.lower().split(";")]
    kind = _TYPES.get(media)
    if kind is None:
        raise UserError(f"{value} is not an accepted ContentType: {', '.join(_TYPES)}.")
    if kind == CSV and any(p.replace(" ", "").startswith("label_size=") and p.replace(" ", "") != "label_size=1"
                           for p in params):
        raise UserError(f"{value} is not an accepted csv ContentType. Optional parameter label_size must be equal "
                        "to 1")
    if kind in (PARQUET, RECORDIO):
        raise UserError(f"{value}: the localcloud stand-in for XGBoost reads text/csv and text/libsvm channels only")
    return kind


def check_channels(data_config: dict[str, Any]) -> str:
    """Check the job's channels as the container does; return the train channel's content type.

    Raises:
        UserError: a missing ``train`` channel, a channel the algorithm does not know, a content type it does not
            read, or File mode not used.
    """
    if "train" not in data_config:
        raise UserError("Missing required channel: train")
    for name in data_config:
        if name not in CHANNELS:
            raise UserError(f"Extraneous channel found: {name}")
    for name, config in data_config.items():
        if name != "code" and config.get("TrainingInputMode", "File") != "File":
            raise UserError(f"Channel configuration for '{name}' channel is not supported: the localcloud stand-in "
                            "reads File mode only")
        if name != "code":
            content_type(config.get("ContentType"))
    return content_type(data_config["train"].get("ContentType"))


def data_files(folder: Path) -> list[Path]:
    """The channel's files, sorted; a hidden file fails the job as in the container's ``get_size``."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    if any(p.name.startswith(".") for p in files):
        raise UserError("Hidden file found in the data path! Remove that before training.")
    return [p for p in files if not p.name.startswith("_")]


def _read_csv(path: Path, csv_weights: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    import pandas as pd

    with open(path, errors="ignore") as handle:
        first = handle.readline()
    try:
        delimiter = csv.Sniffer().sniff(first).delimiter if first.strip() else ","
    except csv.Error as exc:
        raise UserError(f"Could not determine delimiter on line {first[:50]}:\n{exc}") from None
    try:
        table = pd.read_csv(path, header=None, sep=delimiter, dtype=np.float32, engine="c").to_numpy()
    except pd.errors.EmptyDataError:
        return np.empty((0, 0), np.float32), np.empty(0, np.float32), None
    except (ValueError, pd.errors.ParserError) as exc:
        raise UserError(f"Failed to load csv data with exception:\n{str(exc).splitlines()[0]} (file "
                        f"'{path.name}'; the label is the first column, with no header row)") from None
    weights = table[:, 1] if csv_weights == 1 else None
    return table[:, 1 + (csv_weights == 1):], table[:, 0], weights


def read_dmatrix(folder: Path, kind: str, csv_weights: int = 0):
    """All files of one channel as an ``xgboost.DMatrix`` (labels from the first CSV column or the libsvm label).

    Raises:
        UserError: no data, rows of different widths across files, or a file that is not ``kind``.
    """
    import xgboost as xgb

    files = data_files(folder)
    if kind == LIBSVM:
        from sklearn.datasets import load_svmlight_files

        try:
            parts = load_svmlight_files([str(p) for p in files], dtype=np.float32, zero_based="auto")
        except ValueError as exc:
            raise UserError(f"Failed to load libsvm data with exception:\n{exc}") from None
        if not parts:
            raise UserError(f"No data in channel path {folder}")
        import scipy.sparse  # load_svmlight_files gives every file the widest file's column count

        return xgb.DMatrix(scipy.sparse.vstack(parts[0::2]).tocsr(), label=np.concatenate(parts[1::2]))
    blocks = [block for block in (_read_csv(p, csv_weights) for p in files) if block[1].size]
    if not blocks:
        raise UserError("Got input data without labels. Please check the input data set.")
    widths = {block[0].shape[1] for block in blocks}
    if len(widths) > 1:
        raise UserError(f"Failed to load csv data with exception:\nthe files of {folder.name} have different "
                        f"column counts ({sorted(w + 1 for w in widths)})")
    features, labels = np.vstack([b[0] for b in blocks]), np.concatenate([b[1] for b in blocks])
    weights = np.concatenate([b[2] for b in blocks]) if csv_weights == 1 else None
    return xgb.DMatrix(features, label=labels, weight=weights)
