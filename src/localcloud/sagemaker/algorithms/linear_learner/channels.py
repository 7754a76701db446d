"""The stand-in linear-learner's training channels: text/csv files read into features and labels.

Split from :mod:`localcloud.sagemaker.algorithms.linear_learner.train` (the contract and the training). Errors name the channel,
the file, the row and the column, as linear-learner's text/csv contract puts them (no header, label first).
"""

from __future__ import annotations

import csv
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from localcloud.sagemaker.algorithms.linear_learner.model import InvalidInputError

READ_ROWS = 20_000  # rows a chunk when reading a channel: bounded memory


def _rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """Yield (1-based line number, fields) for each non-blank CSV row, counted as pandas does."""
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.reader(handle)
        yield from ((reader.line_num, fields) for fields in reader if "".join(fields).strip() or len(fields) > 1)


def _diagnose(path: Path, where: str, expected: int | None, fallback: str) -> InvalidInputError:
    """Name the first bad row/cell of a CSV file that failed the fast pandas read."""
    for line, fields in _rows(path):
        expected = expected or len(fields)
        if len(fields) != expected:
            return InvalidInputError(f"{where}, row {line}: expected {expected} columns (label + {expected - 1} "
                               f"features) but found {len(fields)}")
        for column, cell in enumerate(fields, start=1):
            try:
                ok = math.isfinite(float(cell))
            except ValueError:
                ok = False
            if not ok:
                role = "label" if column == 1 else f"feature {column - 1}"
                hint = " (linear-learner's text/csv has no header row)" if line == 1 else ""
                return InvalidInputError(f"{where}, row {line}, column {column} ({role}): {cell!r} is not a finite "
                                   f"number{hint}")
    return InvalidInputError(f"{where}: cannot be read as numeric CSV: {fallback}")


class SpilledRows:
    """A channel's features, float64 (rows, columns), kept in an unnamed temporary file and read back in slices.

    Training holds the *normalised* train features in memory for the optimiser; the raw ones are only needed
    whole once (their mean and deviation) and then to score the model, ``METRIC_ROWS`` rows at a time. So
    they wait on disk (the OS's file cache, not this process) and memory holds one copy of the data, not two.
    ``rows[a:b]`` is a C-ordered float64 array, as slicing the in-memory array gave.
    """

    def __init__(self, columns: int) -> None:
        self.file, self.shape, self.dtype = tempfile.TemporaryFile(), (0, columns), np.dtype(np.float64)

    def append(self, block: np.ndarray) -> None:
        self.file.seek(0, os.SEEK_END)
        self.file.write(np.ascontiguousarray(block, dtype=np.float64).tobytes())
        self.shape = (self.shape[0] + len(block), self.shape[1])

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: slice) -> np.ndarray:
        if not isinstance(rows, slice) or rows.step not in (None, 1):
            raise TypeError("SpilledRows takes a plain slice of rows")
        start, stop, _ = rows.indices(self.shape[0])
        count = max(stop - start, 0)
        self.file.seek(start * self.shape[1] * self.dtype.itemsize)
        return np.fromfile(self.file, dtype=self.dtype, count=count * self.shape[1]).reshape(count, self.shape[1])


def _read_channel(root: Path, channel: str,
                  expected: int | None) -> tuple[SpilledRows, np.ndarray, list[tuple[Path, str, int]]]:
    """Read every non-hidden file of a channel (sorted): features X (:class:`SpilledRows`) and labels y, float64.

    pandas' C reader in chunks of ``READ_ROWS`` rows: reading a file whole costs its tokens (~3x the
    file) and a (rows, label + features) table the features were then copied out of. The values are the
    same (same parser, same float64); the labels go into an array sized once from the line count.
    """
    import pandas as pd

    folder = root / "input" / "data" / channel
    files = sorted(p for p in folder.rglob("*") if p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    lines = 0
    for path in files:  # a row per line at most
        with open(path, "rb") as handle:
            lines += 1 + sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
    X, y, parts = None, np.empty(lines), []
    for path in files:
        name = path.relative_to(folder).as_posix()
        where, start = f"channel '{channel}', file '{name}'", 0 if X is None else len(X)
        try:
            with pd.read_csv(path, header=None, dtype=np.float64, engine="c", chunksize=READ_ROWS) as chunks:
                for chunk in chunks:
                    table = chunk.to_numpy()
                    if (expected and table.shape[1] != expected) or not np.isfinite(table).all():
                        raise _diagnose(path, where, expected, "non-finite values")
                    if table.shape[1] < 2:
                        raise InvalidInputError(f"{where}: only 1 column; linear-learner needs the label then at least "
                                          "one feature")
                    expected = table.shape[1]
                    X = SpilledRows(expected - 1) if X is None else X
                    y[len(X):len(X) + len(table)] = table[:, 0]
                    X.append(table[:, 1:])
        except pd.errors.EmptyDataError:
            continue
        except InvalidInputError:
            raise
        except (ValueError, pd.errors.ParserError) as exc:  # non-numeric cell, ragged row, bad bytes
            raise _diagnose(path, where, expected, str(exc).splitlines()[0]) from None
        if X is not None and len(X) > start:
            parts.append((path, name, len(X) - start))
    if X is None:
        raise InvalidInputError(f"channel '{channel}' has no data: no non-empty, non-hidden files under "
                          f"input/data/{channel}")
    y.resize(len(X), refcheck=False)  # sized from the line count, blank lines included
    return X, y, parts


def _check_labels(y: np.ndarray, hp: dict[str, Any], channel: str, parts: list[tuple[Path, str, int]]) -> None:
    classes = hp["num_classes"]
    bad = np.flatnonzero((y != np.round(y)) | (y < 0) | (y >= classes)) if classes else []
    if len(bad):
        index = int(bad[0])
        for path, name, count in parts:
            if index < count:
                break
            index -= count
        line = next(line for i, (line, _) in enumerate(_rows(path)) if i == index)
        raise InvalidInputError(
            f"channel '{channel}', file '{name}', row {line}, column 1 (label): {y[bad[0]]:g} is not a valid "
            f"label for {hp['predictor_type']}: labels must be integers 0..{classes - 1}"
            + (f" (num_classes={classes})" if classes > 2 else ""))
