"""Read a learner's own CSV as the dataset settings (settings.toml's ``[dataset]``) describe it.

The processing job gets the settings as JSON in ``PIPELINE_DREAMS_DATASET`` (the Lambda and the state
machine put them in the job's ``Environment``). Errors name the learner's file, the row and the column.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ENV = "PIPELINE_DREAMS_DATASET"
READ_ROWS = 20_000  # rows a chunk when reading a valid file
IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"]


class DatasetError(Exception):
    """The CSV does not match its dataset settings; the message names the file, row and column."""


@dataclass(frozen=True)
class DatasetSpec:
    """How to read the CSV: header or not, column names, the label, the features and the class names."""

    header: bool | str = False  # True, False or "auto" (a first row of non-numbers is a header)
    column_names: list[str] = field(default_factory=lambda: list(IRIS_COLUMNS))
    label_column: str = "species"
    feature_columns: list[str] = field(default_factory=list)
    class_names: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, text: str) -> DatasetSpec:
        """Parse the JSON the job gets; unknown keys are an error naming them."""
        try:
            values: dict[str, Any] = json.loads(text)
        except ValueError as error:
            raise DatasetError(f"{ENV} is not JSON: {error}") from None
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(values) - known)
        if unknown:
            raise DatasetError(f"{ENV} has unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        return cls(**values)

    @classmethod
    def from_environment(cls) -> DatasetSpec | None:
        text = os.environ.get(ENV)
        return cls.from_json(text) if text else None

    def is_iris(self) -> bool:
        """True for the kit's default settings: preprocess.py's own iris reader (and its checks) apply."""
        return (self.header in (False, "auto") and list(self.column_names) == IRIS_COLUMNS and self.label_column == "species"
                and not self.feature_columns and not self.class_names)


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def read(path: Path, spec: DatasetSpec) -> tuple[pd.DataFrame, list[str], str]:
    """Read ``path`` as ``spec`` says.

    Returns:
        ``(frame, features, label)``: float feature columns and a label column (categorical for a valid file).

    Raises:
        DatasetError: a missing column, a non-numeric feature or an empty label, named with file, row and column.
    """
    return _read_chunked(path, spec) or _read_whole(path, spec)


def _first_row(path: Path) -> list[str]:
    """The first row's cells, as the first of ``read_text().splitlines()`` (without decoding the whole file)."""
    with open(path, encoding="utf-8-sig", newline=None) as handle:
        return handle.readline().splitlines()[0].split(",")


def _header(first: list[str], spec: DatasetSpec) -> bool:
    if spec.header != "auto":
        return bool(spec.header)
    return not all(_is_number(v) for i, v in enumerate(first) if i != len(first) - 1) or \
        spec.label_column in [v.strip() for v in first]


def _read_chunked(path: Path, spec: DatasetSpec) -> tuple[pd.DataFrame, list[str], str] | None:
    """A valid file, ``READ_ROWS`` rows at a time into arrays sized once: the frame costs the values alone.

    Read whole, every cell is a Python string first (~10x the file). Each chunk is checked and converted as
    :func:`_read_whole` does the whole file; at the first doubt this returns None and :func:`_read_whole`
    reads the file again to name what is wrong.
    """
    try:
        header = _header(_first_row(path), spec)
        with open(path, "rb") as handle:  # a row per line at most
            lines = 1 + sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
        columns: dict[str, np.ndarray] = {}
        codes, names, count = np.empty(lines, dtype=np.int32), {}, 0
        with pd.read_csv(path, header=0 if header else None, dtype=str, keep_default_na=False, chunksize=READ_ROWS,
                         names=None if header else spec.column_names, encoding="utf-8-sig",
                         skip_blank_lines=True) as chunks:
            for chunk in chunks:
                chunk.columns = [str(c).strip() for c in chunk.columns]
                features = list(spec.feature_columns) or [c for c in chunk.columns if c != spec.label_column]
                if spec.label_column not in chunk.columns or spec.label_column in features \
                        or not set(features) <= set(chunk.columns) or len(set(features)) < len(features):
                    return None
                for column in features:
                    text = chunk[column].str.strip()
                    numbers = pd.to_numeric(text.replace("", "nan"), errors="coerce")
                    if numbers.dtype.kind not in "if" or (numbers.isna() & (text != "")).any():
                        return None
                    columns.setdefault(column, np.empty(lines))[count:count + len(chunk)] = numbers.astype("float64")
                labels = chunk[spec.label_column].str.strip()
                if (labels == "").any() or (spec.class_names and not labels.isin(spec.class_names).all()):
                    return None
                found, uniques = pd.factorize(labels)
                lookup = np.asarray([names.setdefault(name, len(names)) for name in uniques], dtype=np.int32)
                codes[count:count + len(chunk)] = lookup[found]
                count += len(chunk)
    except (OSError, IndexError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None  # UnicodeDecodeError is a ValueError
    if not count:
        return None
    order = sorted(names, key=str)  # categories sorted, as sorting the strings would
    recode = np.empty(len(names), dtype=np.int32)
    recode[[names[name] for name in order]] = np.arange(len(order))
    label = pd.Categorical.from_codes(recode[codes[:count]], categories=order)
    frame = pd.DataFrame({**{name: columns[name][:count] for name in features}, spec.label_column: label}, copy=False)
    return frame, features, spec.label_column


def _read_whole(path: Path, spec: DatasetSpec) -> tuple[pd.DataFrame, list[str], str]:
    """The whole file as strings, checked column by column: the error names the first problem's row and column."""
    try:
        first = path.read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    except (IndexError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path.name}: cannot read a first row ({error or 'the file is empty'})") from None
    header = _header(first, spec)
    frame = pd.read_csv(path, header=0 if header else None, dtype=str, keep_default_na=False,
                        names=None if header else spec.column_names, encoding="utf-8-sig", skip_blank_lines=True)
    frame.columns = [str(c).strip() for c in frame.columns]
    if spec.label_column not in frame.columns:
        raise DatasetError(f"{path.name}: no label column {spec.label_column!r} (its columns: "
                           f"{', '.join(frame.columns)}); set label_column in settings.toml or with -p label_column")
    features = list(spec.feature_columns) or [c for c in frame.columns if c != spec.label_column]
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise DatasetError(f"{path.name}: no feature column(s) {', '.join(map(repr, missing))} "
                           f"(its columns: {', '.join(frame.columns)})")
    first_row = 2 if header else 1
    for column in features:
        numbers = pd.to_numeric(frame[column].str.strip().replace("", "nan"), errors="coerce")
        bad = numbers.isna() & (frame[column].str.strip() != "")
        if bad.any():
            row = int(bad.idxmax())
            raise DatasetError(f"{path.name}: row {row + first_row}, field {column!r}: "
                               f"{frame[column][row]!r} is not a number")
        frame[column] = numbers.astype("float64")
    labels = frame[spec.label_column].str.strip()
    if (labels == "").any():
        row = int((labels == "").idxmax())
        raise DatasetError(f"{path.name}: row {row + first_row}, field {spec.label_column!r}: the label is empty")
    if spec.class_names:
        unknown = sorted(set(labels) - set(spec.class_names))
        if unknown:
            row = int((~labels.isin(spec.class_names)).idxmax())
            raise DatasetError(f"{path.name}: row {row + first_row}, field {spec.label_column!r}: unknown class "
                               f"{labels[row]!r} (class_names: {', '.join(spec.class_names)})")
    frame[spec.label_column] = labels
    return frame[[*features, spec.label_column]], features, spec.label_column
