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

import pandas as pd

ENV = "PIPELINE_DREAMS_DATASET"
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
        ``(frame, features, label)``: float feature columns and a string label column.

    Raises:
        DatasetError: a missing column, a non-numeric feature or an empty label, named with file, row and column.
    """
    try:
        first = path.read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    except (IndexError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path.name}: cannot read a first row ({error or 'the file is empty'})") from None
    header = spec.header
    if header == "auto":
        header = not all(_is_number(v) for i, v in enumerate(first) if i != len(first) - 1) or \
            spec.label_column in [v.strip() for v in first]
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
