"""The lean data steps give the same bytes as the straightforward in-memory ones (issue 13, "memory at scale").

preprocess.py reads in chunks, splits row numbers, fills column by column and writes CSV with its own
formatter; the linear-learner stand-in reads channels in chunks, keeps the raw features on disk and scores in
row chunks. The reference, tests/unit/_scale_reference.py, is the code as it was before (whole files,
``train_test_split`` on frames, pandas ``mean``/``fillna``, ``DataFrame.to_csv``, whole-array metrics). Each
test runs both on the same mid-size generated data, with chunks small enough that their boundaries fall
mid-file, and compares the output files byte for byte.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from localcloud.sagemaker.algorithms.linear_learner import channels as linear_channels
from localcloud.sagemaker.algorithms.linear_learner import train as ll

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _scale_reference as reference  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = ("train/train.csv", "test/test.csv", "meta/preprocess.json")
SMALL_CHUNKS = {"READ_ROWS": 7_001, "WRITE_ROWS": 3_001}  # odd sizes: boundaries fall mid-file, mid-class


def _load_script():
    spec = importlib.util.spec_from_file_location("pipeline_dreams_preprocess_scale", ROOT / "src/jobs/preprocess.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


pp = _load_script()


def edge_cells(rng: np.random.Generator, rows: int, columns: int) -> list[list[str]]:
    """Feature cells as people write them: one decimal mostly, and ~3% empty, negatives, tiny and huge numbers,
    long reprs, -0 and 0, ``.5``, ``5.``, exponents, a leading ``+`` and padded cells."""
    odd = ["-0", "0", "-0.0", ".5", "5.", "1e-5", "7E3", " 4.25 ", "+2.5", "1e-300", "123456789012345678"]
    cells = []
    for _ in range(rows):
        row = []
        for _ in range(columns):
            r = rng.random()
            row.append("" if r < 0.03 else repr(float(rng.normal(0, 1e-7))) if r < 0.05
                       else repr(float(-rng.normal(5, 3))) if r < 0.07 else f"{rng.normal(1e17, 1e16):.1f}" if r < 0.08
                       else str(rng.choice(odd)) if r < 0.09 else repr(float(rng.normal(3, 2))) if r < 0.15
                       else f"{rng.normal(4, 1.5):.1f}")
        cells.append(row)
    return cells


def write_edge_iris(path: Path, rows: int, seed: int = 0) -> None:
    """A UCI-format iris file (no header) of ``rows`` rows with edge values, padded labels and blank lines."""
    rng = np.random.default_rng(seed)
    lines = []
    for cells in edge_cells(rng, rows, 4):
        label = reference.IRIS_CLASSES[int(rng.integers(3))] + (" " if rng.random() < 0.01 else "")
        lines.append(",".join([*cells, label]) + ("\n" if rng.random() < 0.001 else ""))
    path.write_text("\n".join(lines) + "\n")


def run_preprocess(capsys, input_dir: Path, output_dir: Path) -> None:
    code = pp.main(["--input-dir", str(input_dir), "--output-dir", str(output_dir)])
    assert code == 0, capsys.readouterr().err


def assert_same_files(ours: Path, theirs: Path, names: tuple[str, ...]) -> None:
    for name in names:
        assert (ours / name).read_bytes() == (theirs / name).read_bytes(), f"{name} differs from the reference"


class TestPreprocessSameBytes:
    @pytest.mark.parametrize("chunks", ["default", "small"])
    def test_iris_with_gaps_and_edge_values(self, tmp_path, capsys, monkeypatch, chunks):
        """preprocess.py writes the same train.csv, test.csv and preprocess.json as the in-memory code.

        1. Write 40,000 iris rows with ~3% empty cells and edge values (negatives, 1e-300, 1.2e17, -0, ``.5``,
           padded cells, padded labels, blank lines).
        2. Run preprocess.py's main on it (default chunks, then small odd ones so boundaries fall mid-file).
        3. Run the reference (whole-file read, frames split by train_test_split, pandas mean/fillna, to_csv).
        4. Check the three outputs are byte-identical, that the chunked reader took the file (no fallback to
           the row-by-row one), and that the data did exercise the edges: filled cells, negative numbers,
           -0.0 and exponent notation are in the output.
        """
        if chunks == "small":
            for name, value in SMALL_CHUNKS.items():
                monkeypatch.setattr(pp, name, value)
        source = tmp_path / "in" / "iris.data"
        source.parent.mkdir()
        write_edge_iris(source, 40_000)
        run_preprocess(capsys, source.parent, tmp_path / "ours")
        train, test, meta = reference.preprocess(reference.read_raw(source))
        meta["source"] = source.name
        reference.write_outputs(tmp_path / "theirs", train, test, meta)
        assert_same_files(tmp_path / "ours", tmp_path / "theirs", OUTPUTS)
        assert pp._read_fast(source) is not None  # the chunked reader took the file (no fallback to the old one)
        text = (tmp_path / "ours/train/train.csv").read_text()
        means = json.loads((tmp_path / "ours/meta/preprocess.json").read_text())["train_means"]
        assert f",{means['sepal_width']!r}" in text and ",-0.0" in text and ",-" in text and "e-" in text


class TestOwnCsvSameBytes:
    def test_header_label_in_the_middle_and_gaps(self, tmp_path, capsys, monkeypatch):
        """The own-CSV path (settings' [dataset], csv_dataset.py) gives the same bytes as the in-memory code.

        1. Write 30,000 rows with a header, the label column ``kind`` between the features, four classes and
           edge values with empty cells.
        2. Run preprocess.py's main with PIPELINE_DREAMS_DATASET = {"header": true, "label_column": "kind"},
           with small chunks (csv_dataset's chunked reader, then the lean preprocess and writer).
        3. Read the file with csv_dataset's whole-file reader and run the reference preprocess and to_csv on it.
        4. Check the three outputs are byte-identical and that the chunked reader took the file (no fallback).
        """
        for name, value in SMALL_CHUNKS.items():
            monkeypatch.setattr(pp, name, value)
        monkeypatch.setattr(pp.csv_dataset, "READ_ROWS", SMALL_CHUNKS["READ_ROWS"])
        rng = np.random.default_rng(1)
        source = tmp_path / "in" / "mine.csv"
        source.parent.mkdir()
        rows = [[a, b, str(rng.choice(["fir", "oak", "ash", "elm"])), c]
                for a, b, c in edge_cells(rng, 30_000, 3)]
        source.write_text("width,height,kind,depth\n" + "".join(",".join(row) + "\n" for row in rows))
        spec = {"header": True, "label_column": "kind"}
        monkeypatch.setenv(pp.csv_dataset.ENV, json.dumps(spec))
        run_preprocess(capsys, source.parent, tmp_path / "ours")
        # csv_dataset's whole-file reader (the code as before, kept to name errors) is the reference reader.
        frame, features, label = pp.csv_dataset._read_whole(source, pp.csv_dataset.DatasetSpec.from_json(
            json.dumps(spec)))
        train, test, meta = reference.preprocess(frame, features=features, label=label)
        meta["source"] = source.name
        reference.write_outputs(tmp_path / "theirs", train, test, meta)
        assert_same_files(tmp_path / "ours", tmp_path / "theirs", OUTPUTS)
        assert pp.csv_dataset._read_chunked(source, pp.csv_dataset.DatasetSpec(**spec)) is not None  # no fallback


class TestWriteCsvMatchesToCsv:
    def test_special_values_and_dtypes(self, tmp_path, monkeypatch):
        """write_csv writes what DataFrame.to_csv writes, value for value.

        1. Build a frame of int64, uint8, float32 and float64 columns holding NaN, ±inf, ±0.0, the smallest
           subnormal, 1e16 and 1e-5 (where the shortest text switches to exponent notation), 0.1 + 0.2 and
           random doubles; write it with small chunks.
        2. Check the bytes equal ``to_csv(header=False, index=False, lineterminator="\\n")``.
        """
        monkeypatch.setattr(pp, "WRITE_ROWS", 7)
        rng = np.random.default_rng(2)
        special = [np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324, 1e16, 9999999999999998.0, 1e-5, 0.0001, 0.1 + 0.2]
        values = np.concatenate([special, rng.normal(0, 1e6, 40), rng.normal(0, 1, 40)])
        frame = pd.DataFrame({"label": rng.integers(-3, 1000, len(values)), "small": rng.integers(0, 255, len(values),
                              dtype=np.uint8), "single": values.astype(np.float32), "double": rng.permutation(values)})
        pp.write_csv(tmp_path / "ours.csv", frame)
        frame.to_csv(tmp_path / "theirs.csv", header=False, index=False, lineterminator="\n")
        assert (tmp_path / "ours.csv").read_bytes() == (tmp_path / "theirs.csv").read_bytes()


def write_job(root: Path, hyperparameters: dict, channels: dict[str, dict[str, str]]) -> Path:
    (root / "input/config").mkdir(parents=True)
    (root / "input/config/hyperparameters.json").write_text(json.dumps(hyperparameters))
    (root / "input/config/inputdataconfig.json").write_text(json.dumps({name: {"ContentType": "text/csv"}
                                                                        for name in channels}))
    for name, files in channels.items():
        (root / "input/data" / name).mkdir(parents=True)
        for file_name, text in files.items():
            (root / "input/data" / name / file_name).write_text(text)
    return root


def table(labels: np.ndarray, features: np.ndarray) -> str:
    frame = pd.DataFrame({"label": labels, **{f"f{i}": column for i, column in enumerate(features.T)}})
    return frame.to_csv(header=False, index=False, lineterminator="\n")


def epoch_metrics(stdout: str) -> list[tuple]:
    """(epoch, channel, name, value text) of the stand-in's per-epoch ``#quality_metric`` lines."""
    found = re.findall(r"#quality_metric: host=algo-1, epoch=(\d+), (\w+) (\S+) <\w+>=(\S+)$", stdout, re.M)
    return [(int(epoch), channel, name, value) for epoch, channel, name, value in found]


class TestTrainingSameBytes:
    @pytest.mark.parametrize("kind", ["multiclass", "binary", "regressor"])
    def test_model_metrics_and_epoch_lines(self, tmp_path, capsys, monkeypatch, kind):
        """The stand-in writes the same model and metrics.json, and logs the same epoch metrics, as before.

        1. multiclass: preprocess the 40,000-row edge iris file and train on its train/test outputs with
           learning_rate auto (three models, the best kept); binary: 30,000 rows in two train files plus a
           validation channel; regressor: 30,000 rows with normalize_label.
        2. Train with the stand-in (python -m localcloud.sagemaker.algorithms.linear_learner.train's main), with channel read and
           scoring chunks small and odd so boundaries fall mid-file.
        3. Train the same job folder's copy with the reference (whole arrays).
        4. Check model_algo-1.json and metrics.json are byte-identical and every per-epoch metric line
           carries the same value.
        """
        monkeypatch.setattr(linear_channels, "READ_ROWS", 7_001)
        monkeypatch.setattr(ll, "METRIC_ROWS", 4_093)
        rng = np.random.default_rng(3)
        if kind == "multiclass":
            source = tmp_path / "in/iris.data"
            source.parent.mkdir()
            write_edge_iris(source, 40_000)
            run_preprocess(capsys, source.parent, tmp_path / "processed")
            hyperparameters = {"predictor_type": "multiclass_classifier", "num_classes": "3", "feature_dim": "4",
                               "mini_batch_size": "1000", "epochs": "4"}
            channels = {name: {f"{name}.csv": (tmp_path / f"processed/{name}/{name}.csv").read_text()}
                        for name in ("train", "test")}
        else:
            X = rng.normal(0, 1, (30_000, 5)) * [1, 10, 0.1, 1e-3, 100] + [0, 5, -3, 0, 1e3]
            signal = X @ [1.0, 0.1, -8.0, 300.0, 0.01] + rng.normal(0, 1, len(X))
            y = (signal > np.median(signal)).astype(int) if kind == "binary" else signal
            cut, end = 20_000, 26_000
            channels = {"train": {"a.csv": table(y[:cut // 2], X[:cut // 2]), "b.csv": table(y[cut // 2:cut], X[
                cut // 2:cut])}, "test": {"test.csv": table(y[end:], X[end:])}}
            if kind == "binary":
                channels["validation"] = {"validation.csv": table(y[cut:end], X[cut:end])}
            hyperparameters = {"predictor_type": f"{kind}_classifier" if kind == "binary" else kind,
                               "mini_batch_size": "200", "epochs": "3", "learning_rate": "0.05"}
        ours = write_job(tmp_path / "ours", hyperparameters, channels)
        theirs = write_job(tmp_path / "theirs", hyperparameters, channels)
        capsys.readouterr()
        assert ll.main(["--ml-root", str(ours)]) == 0, capsys.readouterr().err
        logged = epoch_metrics(capsys.readouterr().out)
        expected = reference.train(theirs)
        assert_same_files(ours, theirs, (f"model/{ll.MODEL_FILE}", "output/metrics.json"))
        assert logged == expected and len(logged) > 0
