"""Preprocess the raw iris CSV into linear-learner's text/csv train and test sets.

Runs as a SageMaker Processing script (default paths under /opt/ml/processing) and
locally with the paths remapped through ``--input-dir`` and ``--output-dir``.

Outputs (label first, no header, no index):
    <output-dir>/train/train.csv, <output-dir>/test/test.csv, <output-dir>/meta/preprocess.json
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from sklearn.preprocessing import LabelEncoder

sys.path.insert(0, str(Path(__file__).resolve().parent))  # csv_dataset.py sits beside this script in the image
try:
    import csv_dataset  # noqa: E402
except ImportError:  # this script alone (uploaded as a SageMaker script, as the article does): iris only
    csv_dataset = None

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
LABEL = "species"
COLUMNS = FEATURES + [LABEL]
IRIS_CLASSES = ["Iris-setosa", "Iris-versicolor", "Iris-virginica"]
OUTPUTS = {"train": "train/train.csv", "test": "test/test.csv", "meta": "meta/preprocess.json"}
READ_ROWS, WRITE_ROWS = 20_000, 50_000  # rows a chunk when reading and writing CSV: bounded memory
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


class PreprocessError(Exception):
    """An expected problem with the input or arguments, reported without a traceback."""


_DatasetError = csv_dataset.DatasetError if csv_dataset else PreprocessError


def _parse_feature(value: str) -> float | None:
    """Return the field as a float, NaN when empty, None when it is not a plain number."""
    text = value.strip()
    if not text:
        return math.nan
    return float(text) if _NUMBER.fullmatch(text) else None


def read_raw(path: str | Path) -> pd.DataFrame:
    """Read and validate the raw iris CSV (no header, five columns).

    Blank lines are skipped; an empty feature field becomes NaN. Errors name the file,
    the 1-based line number in the file and the field.

    Args:
        path: The raw CSV file.

    Returns:
        A frame with float feature columns and a string ``species`` column.

    Raises:
        PreprocessError: The file is missing, empty, not UTF-8 or has a malformed row.
    """
    path = Path(path)
    if not path.is_file():
        raise PreprocessError(f"input file not found: {path}")
    frame = _read_fast(path)
    return frame if frame is not None else _read_checked(path)


def _read_fast(path: Path) -> pd.DataFrame | None:
    """pandas' C reader, in chunks, into arrays sized once: the frame costs the values alone (read whole: ~3x the file).

    An empty feature is NaN (the C reader refuses ``nan`` or blank text: the only NaN); anything else unusual returns
    None and :func:`_read_checked` reads the file again, row by row, to name the row and field that is wrong.
    """
    with open(path, "rb") as handle:  # a row per line at most: size the arrays once
        lines = 1 + sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
    columns, codes, count = [np.empty(lines) for _ in FEATURES], np.empty(lines, dtype=np.int8), 0
    try:
        with pd.read_csv(path, header=None, names=COLUMNS, encoding="utf-8-sig", engine="c", chunksize=READ_ROWS,
                         dtype={**{name: "float64" for name in FEATURES}, LABEL: "category"},
                         keep_default_na=False, na_values={name: [""] for name in FEATURES}) as chunks:
            for chunk in chunks:
                labels = chunk[LABEL].array
                lookup = [IRIS_CLASSES.index(n.strip()) if n.strip() in IRIS_CLASSES else -1 for n in labels.categories]
                if -1 in lookup or (labels.codes < 0).any():  # an unknown class, a short row (no label)
                    return None
                codes[count:count + len(chunk)] = np.asarray(lookup, dtype=np.int8)[labels.codes]
                for column, name in zip(columns, FEATURES):
                    column[count:count + len(chunk)] = chunk[name].to_numpy()
                count += len(chunk)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    if not count or any(np.isinf(column[:count]).any() for column in columns):
        return None  # empty, inf text: the careful reader decides and explains
    species = pd.Categorical.from_codes(codes[:count], categories=IRIS_CLASSES).remove_unused_categories()
    return pd.DataFrame({**{name: column[:count] for name, column in zip(FEATURES, columns)}, LABEL: species},
                        copy=False)


def _read_checked(path: Path) -> pd.DataFrame:
    """Parse row by row, validating each field; the error names the file, line and field."""
    rows: list[list] = []
    for number, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r")
        except UnicodeDecodeError as exc:
            index = raw[: exc.start].count(b",")
            field = COLUMNS[index] if index < len(COLUMNS) else f"#{index + 1}"
            raise PreprocessError(
                f"{path.name}: row {number}, field '{field}': bytes that are not UTF-8 "
                f"({raw[exc.start:exc.end]!r} at byte {exc.start} of the row)"
            ) from None
        if not line.strip():
            continue
        where = f"{path.name}: row {number}"
        try:
            fields = next(csv.reader([line]))
        except csv.Error as exc:
            raise PreprocessError(f"{where}, field '{COLUMNS[0]}': bad CSV: {exc}") from None
        if len(fields) != len(COLUMNS):
            missing = ", ".join(repr(c) for c in COLUMNS[len(fields):])
            detail = f"missing {missing}" if missing else f"extra field(s) after '{LABEL}'"
            raise PreprocessError(
                f"{where}: expected {len(COLUMNS)} fields ({', '.join(COLUMNS)}), "
                f"found {len(fields)} ({detail})"
            )
        values = [_parse_feature(v) for v in fields[: len(FEATURES)]]
        if not rows and all(v is None for v in values):
            raise PreprocessError(
                f"{where}, field '{FEATURES[0]}': the first row looks like a header "
                f"({fields[0].strip()!r} is not a number); the input must have no header row"
            )
        for name, text, value in zip(FEATURES, fields, values):
            if value is None:
                raise PreprocessError(f"{where}, field '{name}': {text.strip()!r} is not a number")
        label = fields[-1].strip()
        if not label:
            raise PreprocessError(f"{where}, field '{LABEL}': the label is empty")
        if label not in IRIS_CLASSES:
            raise PreprocessError(
                f"{where}, field '{LABEL}': unknown class {label!r} "
                f"(expected one of {', '.join(IRIS_CLASSES)})"
            )
        rows.append([*values, label])
    if not rows:
        raise PreprocessError(f"{path.name}: the file is empty (no data rows): {path}")
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.astype({name: "float64" for name in FEATURES})


def preprocess(
    df: pd.DataFrame, test_size: float = 0.2, random_state: int = 42,
    features: list[str] | None = None, label: str = LABEL, classes: list[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Encode labels, split stratified and fill NaNs with train means; the features stay in their raw units.

    No scaling here, on purpose: linear-learner standardises the features itself (``normalize_data``,
    on by default) and keeps that normalisation in the model, so the endpoint takes raw measurements.
    Scaling here too would make the model expect scaled rows at inference that nobody sends
    (training/serving skew: raw setosa ``5.1,3.5,1.4,0.2`` came back versicolor).

    Args:
        df: Frame as returned by :func:`read_raw`.
        test_size: Fraction of rows for the test set.
        random_state: Seed for the split.
        features: the feature columns (iris's by default).
        label: the label column.
        classes: every class name, in code order; None takes the label values found, sorted.

    Returns:
        ``(train_df, test_df, meta)``: frames with ``label`` (small int codes) first then the raw (imputed)
        features, and a dict of the fitted parameters (without ``source``).

    Raises:
        PreprocessError: The rows cannot be split or a feature has no training values.
    """
    features = list(features or FEATURES)
    classes = list(classes) if classes else (IRIS_CLASSES if label == LABEL and features == FEATURES
                                             else sorted(df[label].unique()))
    from sklearn.preprocessing import LabelEncoder  # here, not at the top: 02's preview reads data with this module

    encoder = LabelEncoder().fit(classes)
    labels = _encode(encoder, df[label])
    try:  # split row numbers, not the frame: the same split (it depends on the labels alone), no copies
        train_rows, test_rows = split_rows(labels, test_size, random_state)
    except ValueError as exc:
        raise PreprocessError(
            f"cannot split {len(df)} rows stratified with test_size={test_size}: {exc}"
        ) from None
    small = np.int32 if len(df) < 2**31 else np.int64  # 4 bytes a row is plenty
    train_rows, test_rows = train_rows.astype(small), test_rows.astype(small)
    train, test, means = {"label": labels[train_rows]}, {"label": labels[test_rows]}, {}
    for name in features:  # one column at a time: the split copies are the only whole-size ones
        values = df[name].to_numpy(dtype=np.float64)
        train[name], test[name] = values[train_rows], values[test_rows]
        missing = np.isnan(train[name])
        means[name] = math.nan if missing.all() else float(np.nanmean(train[name]))  # = pandas' mean, bit for bit
        for split in (train, test):
            np.copyto(split[name], means[name], where=np.isnan(split[name]))
    empty = [name for name in features if math.isnan(means[name])]
    if empty:
        raise PreprocessError(f"field(s) {', '.join(empty)} have no values in the training split")
    meta = {
        "classes": [str(c) for c in encoder.classes_],
        "feature_names": list(features),
        "train_rows": len(train_rows),
        "test_rows": len(test_rows),
        "train_means": means,
        "scaling": "none: linear-learner normalizes the features itself (normalize_data)",
    }
    return pd.DataFrame(train, copy=False), pd.DataFrame(test, copy=False), meta


def find_input(input_dir: Path, input_file: str | None) -> Path:
    """Return ``input_dir / input_file``, or the only non-hidden file in ``input_dir``.

    Raises:
        PreprocessError: The directory is missing, or it holds zero or several data files.
    """
    if not input_dir.is_dir():
        raise PreprocessError(f"input directory not found: {input_dir}")
    if input_file:
        return input_dir / input_file
    found = sorted(p.name for p in input_dir.iterdir() if p.is_file() and p.name[:1] != ".")
    if not found:
        raise PreprocessError(f"no data file found in {input_dir} (hidden files are ignored)")
    if len(found) > 1:
        raise PreprocessError(
            f"{len(found)} data files found in {input_dir} ({', '.join(found)}); "
            "pass --input-file to choose one"
        )
    return input_dir / found[0]


def write_outputs(output_dir: Path, train: pd.DataFrame, test: pd.DataFrame, meta: dict) -> None:
    """Write every output into a hidden staging folder inside its own folder, then move them into place.

    Each output folder (train/, test/, meta/) is staged in itself because on SageMaker each
    is its own mount: a rename from one to another fails with EXDEV ("Invalid cross-device
    link"). On any failure the outputs already moved are removed again and the staging folders go.
    """
    contents = {
        OUTPUTS["train"]: lambda path: write_csv(path, train),
        OUTPUTS["test"]: lambda path: write_csv(path, test),
        OUTPUTS["meta"]: lambda path: path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8"),
    }
    staged: dict[str, Path] = {}
    try:
        for relative, write in contents.items():
            folder = (output_dir / relative).parent
            folder.mkdir(parents=True, exist_ok=True)
            staged[relative] = Path(tempfile.mkdtemp(prefix=".preprocess-tmp-", dir=folder))
            write(staged[relative] / Path(relative).name)
        for relative, staging in staged.items():
            (staging / Path(relative).name).replace(output_dir / relative)
    except BaseException:
        remove_outputs(output_dir)
        raise
    finally:
        for staging in staged.values():
            shutil.rmtree(staging, ignore_errors=True)


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    """Write ``frame`` byte for byte as ``frame.to_csv(path, header=False, index=False, lineterminator="\\n")``.

    ~6x faster, ``WRITE_ROWS`` rows at a time: each distinct value (by its bits: -0.0 is not 0.0) becomes text
    once, by the conversion ``to_csv`` uses (numpy's ``astype(str)``, shortest round-trip; NaN as an empty field).
    """
    if not all(frame[name].dtype.kind in "iuf" for name in frame.columns):
        frame.to_csv(path, header=False, index=False, lineterminator="\n")
        return
    columns = [frame[name].to_numpy() for name in frame.columns]
    with open(path, "w", encoding="utf-8", newline="") as out:
        for start in range(0, len(frame), WRITE_ROWS):
            fields = [_texts(column[start:start + WRITE_ROWS]) for column in columns]
            out.write("".join(",".join(row) + "\n" for row in zip(*fields)))


def _texts(values: np.ndarray) -> np.ndarray:
    """Each value's CSV text as ``DataFrame.to_csv`` writes it (an object array of str)."""
    width = values.dtype if values.dtype.kind == "f" else None  # floats by their bits: -0.0 is not 0.0
    bits = values.view(f"i{values.itemsize}") if width else values
    distinct, where = np.unique(bits, return_inverse=True)
    numbers = distinct.view(width) if width else distinct
    texts = numbers.astype(str).astype(object)
    if width:
        texts[np.isnan(numbers)] = ""
    return texts[where]


def _encode(encoder: LabelEncoder, column: pd.Series) -> np.ndarray:
    """``encoder.transform(column)`` as int8 codes (int32 past 127 classes); a categorical is encoded per category."""
    small = np.int8 if len(encoder.classes_) <= 127 else np.int32
    if isinstance(column.dtype, pd.CategoricalDtype) and (column.array.codes >= 0).all():
        return encoder.transform(np.asarray(column.array.categories)).astype(small)[column.array.codes]
    return encoder.transform(column).astype(small)


def split_rows(codes: np.ndarray, test_size: float, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    """The row numbers ``train_test_split(rows, test_size=…, random_state=…, stratify=codes)`` gives, bit for bit.

    sklearn gathers them in Python lists (~40 bytes a row); these are its steps with arrays, the same random draws
    in the same order. A case it refuses goes to it, for its message. tests/unit/test_scale_identity.py fails if
    a scikit-learn upgrade makes the two disagree (the helpers below are scikit-learn's private ones).
    """
    from sklearn.model_selection import train_test_split
    from sklearn.model_selection._split import _validate_shuffle_split
    from sklearn.utils import check_random_state
    from sklearn.utils.extmath import _approximate_mode

    try:
        n_train, n_test = _validate_shuffle_split(len(codes), test_size, None, default_test_size=0.25)
        classes, counts = np.unique(codes, return_counts=True)
        refused = counts.min() < 2 or min(n_train, n_test) < len(classes)
    except ValueError:  # no rows, a test_size out of range
        refused = True
    if refused:
        return train_test_split(np.arange(len(codes)), test_size=test_size, random_state=random_state, stratify=codes)
    lookup = np.zeros(int(classes.max()) - int(classes.min()) + 1, dtype=codes.dtype)
    lookup[classes - classes.min()] = np.arange(len(classes))  # np.unique's inverse, kept small
    by_class = np.split(np.argsort(lookup[codes - classes.min()], kind="stable"), np.cumsum(counts)[:-1])
    rng = check_random_state(random_state)
    n_i = _approximate_mode(counts, n_train, rng)
    t_i = _approximate_mode(counts - n_i, n_test, rng)
    train, test = [], []
    for i, rows in enumerate(by_class):
        rows = rows.take(rng.permutation(counts[i]), mode="clip")
        train.append(rows[: n_i[i]])
        test.append(rows[n_i[i]: n_i[i] + t_i[i]])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def remove_outputs(output_dir: Path) -> list[str]:
    """Delete this script's output files (so a failed run leaves none); return those removed."""
    removed = [rel for rel in OUTPUTS.values() if (output_dir / rel).is_file()]
    for relative in removed:
        (output_dir / relative).unlink()
    return removed


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line (``argv`` without the program name; None for sys.argv)."""
    parser = argparse.ArgumentParser(prog="preprocess", description=__doc__.splitlines()[0])
    parser.add_argument("--input-dir", type=Path, default=Path("/opt/ml/processing/input"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/output"))
    parser.add_argument("--input-file", help="file name inside --input-dir (default: the only one)")
    parser.add_argument("--test-size", type=float, default=0.2)
    parser.add_argument("--random-state", type=int, default=42)
    args = parser.parse_args(argv)
    if not 0.0 < args.test_size < 1.0:
        parser.error(f"--test-size must be between 0 and 1, got {args.test_size}")
    return args


def read_input(source: Path, spec: Any = None) -> tuple[pd.DataFrame, list[str], str, list[str] | None]:
    """The raw CSV as this job reads it: (frame, feature columns, label column, class names or None).

    Iris (no dataset settings, or the defaults) goes through :func:`read_raw`; a learner's own CSV is read as
    settings.toml's ``[dataset]`` says (``csv_dataset.read``). Notebook 02's preview calls this too.
    """
    if spec is None or spec.is_iris():
        return read_raw(source), FEATURES, LABEL, None
    raw, features, label = csv_dataset.read(source, spec)
    return raw, features, label, spec.class_names or None


def main(argv: list[str] | None = None) -> int:
    """Run the step; return 0 on success, 1 on an expected error (reported on stderr).

    Args:
        argv: Arguments without the program name, or None for ``sys.argv[1:]``.
    """
    args = parse_args(argv)
    try:
        source = find_input(args.input_dir, args.input_file)
        spec = csv_dataset.DatasetSpec.from_environment() if csv_dataset else None
        if csv_dataset is None and os.environ.get("PIPELINE_DREAMS_DATASET"):
            raise PreprocessError("PIPELINE_DREAMS_DATASET is set but csv_dataset.py is not beside preprocess.py "
                                  "(copy both into the image)")
        raw, features, label, classes = read_input(source, spec)
        train, test, meta = preprocess(raw, args.test_size, args.random_state, features, label, classes)
        meta["source"] = source.name
        write_outputs(args.output_dir, train, test, meta)
    except (PreprocessError, _DatasetError, OSError) as exc:
        print(f"preprocess: error: {exc}", file=sys.stderr)
        removed = remove_outputs(args.output_dir) if args.output_dir.is_dir() else []
        if removed:
            print(f"preprocess: removed stale outputs: {', '.join(removed)}", file=sys.stderr)
        return 1
    counts = raw[label].value_counts().sort_index()
    print(f"read {len(raw)} rows from {source}")
    print("class counts: " + ", ".join(f"{name}={count}" for name, count in counts.items()))
    print(f"train shape {train.shape}, test shape {test.shape} (label first, no header)")
    for relative in OUTPUTS.values():
        print(f"wrote {args.output_dir / relative}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
