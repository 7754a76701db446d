"""Tests for the SageMaker Processing script src/jobs/preprocess.py.

The script is not a package module, so it is loaded from its path with importlib.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "src" / "jobs" / "preprocess.py"
IRIS = ROOT / "data" / "iris.data"
OUTPUT_FILES = ("train/train.csv", "test/test.csv", "meta/preprocess.json")


def _load_script():
    spec = importlib.util.spec_from_file_location("pipeline_dreams_preprocess", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


pp = _load_script()


def iris_lines() -> list[str]:
    """The 150 data lines of data/iris.data, without line endings."""
    return [line for line in IRIS.read_text(encoding="utf-8").splitlines() if line]


def write_input(tmp_path: Path, content: bytes | str, name: str = "iris.data") -> Path:
    """Write ``content`` as the only file of a fresh input directory and return the directory."""
    input_dir = tmp_path / "input"
    input_dir.mkdir(exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    (input_dir / name).write_bytes(data)
    return input_dir


def iris_with(replacements: dict[int, str]) -> str:
    """Iris text with the given 1-based file lines replaced, ending like UCI (newline + blank)."""
    lines = iris_lines()
    for number, text in replacements.items():
        lines[number - 1] = text
    return "\n".join(lines) + "\n\n"


def run_main(capsys, input_dir: Path, output_dir: Path, *extra: str) -> tuple[int, str, str]:
    """Call ``main`` in-process and return (exit code, stdout, stderr)."""
    code = pp.main(["--input-dir", str(input_dir), "--output-dir", str(output_dir), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def read_output(output_dir: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(output_dir / name / f"{name}.csv", header=None)


def output_files(output_dir: Path) -> list[str]:
    """Every file under ``output_dir`` (relative), hidden staging leftovers included."""
    if not output_dir.exists():
        return []
    return sorted(str(p.relative_to(output_dir)) for p in output_dir.rglob("*") if p.is_file())


class TestIrisDataFile:
    def test_uci_layout(self):
        """data/iris.data has the UCI layout.

        1. Read the raw bytes of data/iris.data.
        2. Check 150 data lines of four one-decimal numbers and a UCI label.
        3. Check it ends with one newline plus one empty line, and 50 rows per class.
        """
        text = IRIS.read_bytes().decode("ascii")
        assert text.endswith("\n\n") and not text.endswith("\n\n\n")
        lines = text[:-2].split("\n")
        assert len(lines) == 150
        assert lines[0] == "5.1,3.5,1.4,0.2,Iris-setosa"
        for line in lines:
            *values, label = line.split(",")
            assert len(values) == 4 and all(len(v.split(".")[1]) == 1 for v in values)
            assert label in pp.IRIS_CLASSES
        assert {c: sum(l.endswith(c) for l in lines) for c in pp.IRIS_CLASSES} == dict.fromkeys(
            pp.IRIS_CLASSES, 50
        )


class TestReadRaw:
    def test_reads_iris(self):
        """read_raw parses the iris file into typed columns.

        1. Read data/iris.data.
        2. Check 150 rows, the five named columns, float features and no NaNs.
        """
        df = pp.read_raw(IRIS)
        assert df.shape == (150, 5)
        assert list(df.columns) == pp.COLUMNS
        assert all(df[c].dtype == np.float64 for c in pp.FEATURES)
        assert not df.isna().any().any()
        assert df.loc[0, "species"] == "Iris-setosa"

    def test_blank_lines_skipped_and_crlf(self, tmp_path):
        """Blank lines and CRLF endings are accepted.

        1. Write iris with CRLF endings, a blank line in the middle and blank lines at the end.
        2. Check all 150 rows are read.
        """
        lines = iris_lines()
        lines.insert(10, "   ")
        path = tmp_path / "crlf.data"
        path.write_bytes(("\r\n".join(lines) + "\r\n\r\n").encode())
        assert len(pp.read_raw(path)) == 150

    def test_empty_feature_is_nan(self, tmp_path):
        """An empty feature value is read as NaN, not an error.

        1. Write iris with row 3's sepal_width empty.
        2. Check that cell is NaN and everything else is present.
        """
        path = tmp_path / "gap.data"
        path.write_text(iris_with({3: "4.7,,1.3,0.2,Iris-setosa"}))
        df = pp.read_raw(path)
        assert math.isnan(df.loc[2, "sepal_width"])
        assert int(df.isna().sum().sum()) == 1


class TestSplitAndScale:
    def test_iris_shapes_labels_and_scaling(self):
        """preprocess gives a stratified 120/30 split with the features in their raw units.

        linear-learner normalises features itself (normalize_data, default on) and applies it at inference,
        so preprocessing must not scale them: https://docs.aws.amazon.com/sagemaker/latest/dg/ll_how-it-works.html

        1. Preprocess iris with the defaults.
        2. Check shapes 120x5 / 30x5 and the label column first with values in {0, 1, 2}.
        3. Check 40/10 rows per class (stratified) and the features are the raw rows' values.
        4. Check meta: classes in code order, row counts, no scaler parameters.
        """
        train, test, meta = pp.preprocess(pp.read_raw(IRIS), 0.2, 42)
        assert train.shape == (120, 5) and test.shape == (30, 5)
        assert list(train.columns) == ["label", *pp.FEATURES]
        assert set(train["label"]) == set(test["label"]) == {0, 1, 2}
        assert train["label"].value_counts().to_dict() == {0: 40, 1: 40, 2: 40}
        assert test["label"].value_counts().to_dict() == {0: 10, 1: 10, 2: 10}
        raw = pp.read_raw(IRIS)
        both = pd.concat([train, test])[pp.FEATURES]
        assert sorted(map(tuple, both.round(6).values)) == sorted(map(tuple, raw[pp.FEATURES].round(6).values))
        assert train["sepal_length"].between(4.0, 8.0).all()  # centimetres, not z-scores
        assert meta["classes"] == ["Iris-setosa", "Iris-versicolor", "Iris-virginica"]
        assert meta["feature_names"] == pp.FEATURES
        assert (meta["train_rows"], meta["test_rows"]) == (120, 30)
        assert "scaler_mean" not in meta and "scaler_scale" not in meta

    def test_labels_follow_species(self):
        """Each class maps to its sorted position.

        1. Build a frame whose petal_length equals the class code times 10 plus noise.
        2. Check every output row's label matches its (unscaled) petal_length band.
        """
        rows = [[1.0 + i, 2.0, 10.0 * c + (i % 3), 1.0, pp.IRIS_CLASSES[c]]
                for c in range(3) for i in range(10)]
        df = pd.DataFrame(rows, columns=pp.COLUMNS)
        train, test, meta = pp.preprocess(df, 0.2, 0)
        for frame in (train, test):
            assert ((frame["petal_length"] // 10).round().astype(int) == frame["label"]).all()

    def test_nans_filled_with_train_means(self):
        """NaN features are filled with the TRAIN means in both splits.

        1. Build a 60-row frame: sepal_length is a unique row id, petal_width = id ** 2,
           and petal_width is NaN on every 4th row.
        2. Preprocess and recover each output row's id from the unscaled sepal_length.
        3. Check meta train_means equals the mean of the non-NaN training values (which
           differs from the all-rows mean) and each NaN row, in train or test, got it.
        """
        ids = np.arange(1, 61, dtype=float)
        width = ids**2
        width[::4] = np.nan
        df = pd.DataFrame({"sepal_length": ids, "sepal_width": 3.0 + ids % 7,
                           "petal_length": 2.0 + ids % 5, "petal_width": width,
                           "species": [pp.IRIS_CLASSES[int(i) % 3] for i in ids]})
        train, test, meta = pp.preprocess(df, 0.25, 7)
        def unscaled(frame):
            out = frame[pp.FEATURES].copy()
            out.index = out["sepal_length"].round().astype(int)
            return out

        train_raw, test_raw = unscaled(train), unscaled(test)
        train_ids = set(train_raw.index)
        known = df.set_index(df["sepal_length"].astype(int))["petal_width"]
        expected = known[sorted(train_ids)].mean()
        assert expected != pytest.approx(known.mean())
        assert meta["train_means"]["petal_width"] == pytest.approx(expected)
        nan_ids = set(known[known.isna()].index)
        assert nan_ids & train_ids and nan_ids & set(test_raw.index)
        for frame in (train_raw, test_raw):
            filled = frame.loc[frame.index.isin(nan_ids), "petal_width"]
            assert np.allclose(filled, expected)
            assert not frame.isna().any().any()

    def test_too_few_rows_is_a_clear_error(self):
        """A frame too small to stratify gives a PreprocessError, not a sklearn traceback.

        1. Build 3 rows, one per class.
        2. Check preprocess raises PreprocessError mentioning the split.
        """
        df = pd.DataFrame([[1.0, 1.0, 1.0, 1.0, c] for c in pp.IRIS_CLASSES], columns=pp.COLUMNS)
        with pytest.raises(pp.PreprocessError, match="cannot split 3 rows"):
            pp.preprocess(df, 0.2, 42)


class TestMainOutputs:
    def test_writes_linear_learner_csv(self, tmp_path, capsys):
        """main writes train/test CSVs (label first, no header) and the meta JSON.

        1. Run main on a copy of iris.
        2. Check exit 0, exactly the three output files and no staging directory left.
        3. Check CSV shapes, no header (first cell numeric), integer labels in {0, 1, 2}.
        4. Check the meta JSON keys and source, and the summary on stdout.
        """
        input_dir = write_input(tmp_path, IRIS.read_bytes())
        out = tmp_path / "out"
        code, stdout, stderr = run_main(capsys, input_dir, out)
        assert code == 0, stderr
        assert output_files(out) == sorted(OUTPUT_FILES)
        train, test = read_output(out, "train"), read_output(out, "test")
        assert train.shape == (120, 5) and test.shape == (30, 5)
        assert (out / "train/train.csv").read_text().split(",", 1)[0] in {"0", "1", "2"}
        assert set(train[0]) <= {0, 1, 2} and train[0].dtype.kind == "i"
        assert all(train[c].dtype == np.float64 for c in range(1, 5))
        meta = json.loads((out / "meta/preprocess.json").read_text())
        assert set(meta) == {"classes", "feature_names", "train_rows", "test_rows",
                             "train_means", "scaling", "source"}
        assert meta["source"] == "iris.data"
        assert "150 rows" in stdout and "(120, 5)" in stdout and "(30, 5)" in stdout
        assert "Iris-setosa=50" in stdout and str(out / "train/train.csv") in stdout

    def test_runs_are_byte_identical_and_input_untouched(self, tmp_path, capsys):
        """Two runs give identical bytes and never modify the input.

        1. Run main twice into two output dirs, and once more over the first.
        2. Check every output file is byte-identical and the input hash is unchanged.
        """
        input_dir = write_input(tmp_path, IRIS.read_bytes())
        before = hashlib.sha256((input_dir / "iris.data").read_bytes()).hexdigest()
        for out in ("a", "b", "a"):
            assert run_main(capsys, input_dir, tmp_path / out)[0] == 0
        for name in OUTPUT_FILES:
            assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        assert hashlib.sha256((input_dir / "iris.data").read_bytes()).hexdigest() == before
        assert output_files(tmp_path / "a") == sorted(OUTPUT_FILES)

    def test_input_file_choice(self, tmp_path, capsys):
        """--input-file picks one of several files; hidden files are ignored otherwise.

        1. Put iris.data and a hidden .DS_Store in the input dir: the default finds iris.data.
        2. Add other.csv: the default fails naming the dir and both files.
        3. Pass --input-file iris.data: it succeeds.
        """
        input_dir = write_input(tmp_path, IRIS.read_bytes())
        (input_dir / ".DS_Store").write_bytes(b"\x00\xff")
        assert run_main(capsys, input_dir, tmp_path / "o1")[0] == 0
        (input_dir / "other.csv").write_text("x")
        code, _, err = run_main(capsys, input_dir, tmp_path / "o2")
        assert code == 1 and str(input_dir) in err and "iris.data" in err and "other.csv" in err
        assert ".DS_Store" not in err
        assert run_main(capsys, input_dir, tmp_path / "o3", "--input-file", "iris.data")[0] == 0

    def test_empty_feature_filled_end_to_end(self, tmp_path, capsys):
        """An empty feature value runs through to finite outputs.

        1. Run main on iris with row 3's sepal_width empty.
        2. Check exit 0 and no NaN in either output file.
        """
        input_dir = write_input(tmp_path, iris_with({3: "4.7,,1.3,0.2,Iris-setosa"}))
        assert run_main(capsys, input_dir, tmp_path / "out")[0] == 0
        for name in ("train", "test"):
            assert not read_output(tmp_path / "out", name).isna().any().any()


BAD_ROWS = {
    "too few columns": ({7: "4.6,3.4,1.4,0.3"}, "row 7", "species"),
    "too many columns": ({8: "5.0,3.4,1.5,0.2,Iris-setosa,x"}, "row 8", "species"),
    "non-numeric feature": ({12: "4.8,abc,1.6,0.2,Iris-setosa"}, "row 12", "sepal_width"),
    "empty label": ({20: "5.1,3.8,1.5,0.3,"}, "row 20", "species"),
    "unknown label": ({30: "4.7,3.2,1.6,0.2,Iris-germanica"}, "row 30", "Iris-germanica"),
    "header row": (
        {1: "sepal_length,sepal_width,petal_length,petal_width,species"}, "row 1", "header"
    ),
}


class TestBadInput:
    @pytest.mark.parametrize("case", sorted(BAD_ROWS))
    def test_bad_row(self, tmp_path, capsys, case):
        """A malformed row gives one clear error and no outputs.

        1. Write iris with one row broken as described by ``case``.
        2. Run main: exit 1, one stderr line prefixed "preprocess: error: ", no traceback.
        3. Check the message names the file, the row and the field; no output files exist.
        """
        replacements, row, field = BAD_ROWS[case]
        input_dir = write_input(tmp_path, iris_with(replacements), name="bad_iris.csv")
        out = tmp_path / "out"
        code, stdout, err = run_main(capsys, input_dir, out)
        assert code == 1
        assert err.startswith("preprocess: error: bad_iris.csv: ") and err.count("\n") == 1
        assert f"{row}," in err or f"{row}:" in err
        assert field in err and "Traceback" not in err
        assert output_files(out) == []

    def test_header_names_field(self, tmp_path, capsys):
        """The header message says which field looked like a header.

        1. Prepend a header row to iris.
        2. Check the message names row 1 and field 'sepal_length'.
        """
        header = "sepal_length,sepal_width,petal_length,petal_width,species\n"
        input_dir = write_input(tmp_path, header + IRIS.read_text())
        code, _, err = run_main(capsys, input_dir, tmp_path / "out")
        assert code == 1 and "row 1, field 'sepal_length'" in err and "header" in err

    def test_row_numbers_are_file_lines(self, tmp_path, capsys):
        """Row numbers count blank lines, so they match the line in the file.

        1. Insert two blank lines before the data, then break file line 10.
        2. Check the message says row 10.
        """
        lines = ["", ""] + iris_lines()
        lines[9] = "5.4,3.9,1.7,oops,Iris-setosa"
        input_dir = write_input(tmp_path, "\n".join(lines) + "\n")
        code, _, err = run_main(capsys, input_dir, tmp_path / "out")
        assert code == 1 and "row 10, field 'petal_width'" in err and "'oops'" in err

    def test_non_utf8(self, tmp_path, capsys):
        """Non-UTF-8 bytes are reported with their row and field.

        1. Write iris with Latin-1 bytes in row 40's label.
        2. Check exit 1 and a message naming the file, row 40, field 'species' and UTF-8.
        """
        data = iris_with({}).encode().split(b"\n")
        data[39] = b"5.1,3.4,1.5,0.2,Iris-set\xf6sa"
        input_dir = write_input(tmp_path, b"\n".join(data), name="latin1.data")
        code, _, err = run_main(capsys, input_dir, tmp_path / "out")
        assert code == 1 and "latin1.data: row 40, field 'species'" in err and "UTF-8" in err
        assert output_files(tmp_path / "out") == []

    @pytest.mark.parametrize("content", [b"", b"\n\n  \n"], ids=["zero-bytes", "blank-lines"])
    def test_empty_file(self, tmp_path, capsys, content):
        """An empty file is an error naming the file.

        1. Write an empty (or only blank lines) input file.
        2. Check exit 1, the file name and "empty" in the message, and no outputs.
        """
        input_dir = write_input(tmp_path, content, name="empty.data")
        code, _, err = run_main(capsys, input_dir, tmp_path / "out")
        assert code == 1 and err.startswith("preprocess: error: empty.data: ") and "empty" in err
        assert output_files(tmp_path / "out") == []

    def test_missing_dir_file_and_no_file(self, tmp_path, capsys):
        """Missing input dir, missing --input-file and an empty dir are clear errors.

        1. Point --input-dir at a missing dir: the message names it.
        2. Pass a missing --input-file: the message names the file.
        3. Use an input dir with only a hidden file: the message names the dir.
        """
        missing = tmp_path / "nope"
        code, _, err = run_main(capsys, missing, tmp_path / "out")
        assert code == 1 and str(missing) in err and "not found" in err
        input_dir = tmp_path / "input"
        input_dir.mkdir()
        (input_dir / ".keep").write_text("")
        code, _, err = run_main(capsys, input_dir, tmp_path / "out", "--input-file", "x.csv")
        assert code == 1 and "x.csv" in err and "not found" in err
        code, _, err = run_main(capsys, input_dir, tmp_path / "out")
        assert code == 1 and str(input_dir) in err and "no data file" in err
        assert output_files(tmp_path / "out") == []

    def test_failed_run_removes_stale_outputs(self, tmp_path, capsys):
        """A failed run leaves no train/test files, even from an earlier good run.

        1. Run main successfully, then again on a broken input into the same output dir.
        2. Check exit 1 and that none of the output files remain.
        """
        out = tmp_path / "out"
        assert run_main(capsys, write_input(tmp_path, IRIS.read_bytes()), out)[0] == 0
        bad = write_input(tmp_path, iris_with({5: "5.0,3.6,1.4,0.2,"}))
        code, _, err = run_main(capsys, bad, out)
        assert code == 1 and "removed stale outputs" in err
        assert output_files(out) == []


class TestCommandLine:
    def test_script_exit_codes(self, tmp_path):
        """Run as a script: 0 with a summary, 1 with a one-line error and no traceback.

        1. Run ``python src/jobs/preprocess.py`` on iris: exit 0, summary on stdout.
        2. Run it on a broken file: exit 1, stderr is the single prefixed error line.
        """
        input_dir = write_input(tmp_path, IRIS.read_bytes())
        good = subprocess.run(
            [sys.executable, str(SCRIPT), "--input-dir", str(input_dir),
             "--output-dir", str(tmp_path / "out")],
            capture_output=True, text=True, check=False,
        )
        assert good.returncode == 0, good.stderr
        assert "train shape (120, 5)" in good.stdout
        bad_dir = tmp_path / "bad"
        bad_dir.mkdir()
        (bad_dir / "iris.data").write_text(iris_with({2: "4.9,3.0,x,0.2,Iris-setosa"}))
        bad = subprocess.run(
            [sys.executable, str(SCRIPT), "--input-dir", str(bad_dir),
             "--output-dir", str(tmp_path / "out2")],
            capture_output=True, text=True, check=False,
        )
        assert bad.returncode == 1
        assert bad.stderr == (
            "preprocess: error: iris.data: row 2, field 'petal_length': 'x' is not a number\n"
        )
        assert not (tmp_path / "out2" / "train" / "train.csv").exists()

    def test_bad_test_size_is_usage_error(self, tmp_path, capsys):
        """--test-size outside (0, 1) is rejected by argparse.

        1. Run main with --test-size 1.5.
        2. Check argparse exits with status 2 and names the option.
        """
        with pytest.raises(SystemExit) as exc:
            pp.main(["--input-dir", str(tmp_path), "--test-size", "1.5"])
        assert exc.value.code == 2 and "--test-size" in capsys.readouterr().err


class TestOutputsAreSeparateMounts:
    """On SageMaker each output LocalPath (train/, test/, meta/) is its own mount: a rename across fails (EXDEV)."""

    @staticmethod
    def run_as_job(tmp_path: Path, input_dir: Path, output_dir: Path) -> subprocess.CompletedProcess:
        """Run the script as the local cloud runs a job: job_site first, each output folder its own mount."""
        from localcloud.sagemaker.jobs import runner as jobs

        env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(jobs._JOB_SITE),
               "LOCALCLOUD_OPT_ML": str(tmp_path / "opt_ml"),
               "LOCALCLOUD_MOUNTS": os.pathsep.join(str(output_dir / name) for name in ("train", "test", "meta"))}
        return subprocess.run([sys.executable, str(SCRIPT), "--input-dir", str(input_dir),
                               "--output-dir", str(output_dir)], env=env, capture_output=True, text=True,
                              timeout=120, check=False)

    def test_outputs_byte_identical_when_each_folder_is_a_mount(self, tmp_path, capsys):
        """
        1. Run the script in-process into ``plain`` (one file system).
        2. Run it as a job whose train/, test/ and meta/ are separate mounts, into ``mounted``.
        3. Exit 0, exactly the three files (no staging left), byte-identical to the plain run.
        """
        input_dir = write_input(tmp_path, IRIS.read_bytes())
        assert run_main(capsys, input_dir, tmp_path / "plain")[0] == 0
        result = self.run_as_job(tmp_path, input_dir, tmp_path / "mounted")
        assert result.returncode == 0, result.stderr
        assert output_files(tmp_path / "mounted") == sorted(OUTPUT_FILES)
        for relative in OUTPUT_FILES:
            assert (tmp_path / "mounted" / relative).read_bytes() == (tmp_path / "plain" / relative).read_bytes()

    def test_failure_while_moving_into_place_leaves_nothing(self, tmp_path, monkeypatch):
        """All or nothing: when the last move fails, the outputs already moved go too.

        1. Make the move of meta/preprocess.json fail (OSError) after train and test were moved.
        2. write_outputs raises; no file at all is left under the output folder (staging folders included).
        """
        train, test, meta = pp.preprocess(pp.read_raw(IRIS))
        original = Path.replace

        def failing_replace(self, target):
            if Path(target).name == "preprocess.json":
                raise OSError(28, "No space left on device")
            return original(self, target)

        monkeypatch.setattr(Path, "replace", failing_replace)
        with pytest.raises(OSError, match="No space left"):
            pp.write_outputs(tmp_path / "out", train, test, meta)
        assert output_files(tmp_path / "out") == []
        assert sorted(p.name for p in (tmp_path / "out").rglob(".preprocess-tmp-*")) == []
