"""preprocess.py on a learner's own CSV, read as settings.toml's [dataset] says (PIPELINE_DREAMS_DATASET)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sklearn.datasets import load_wine

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "src" / "jobs" / "preprocess.py"
WINE = {"header": "auto", "column_names": [], "label_column": "cultivar", "feature_columns": [], "class_names": []}


def wine_csv(folder: Path) -> Path:
    """scikit-learn's wine data with a header row and the label column "cultivar"."""
    wine = load_wine(as_frame=True)
    frame = wine.frame.rename(columns={"target": "cultivar"})
    frame["cultivar"] = [wine.target_names[i] for i in wine.target]
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "wine.csv", index=False)
    return folder / "wine.csv"


def run(input_dir: Path, output_dir: Path, dataset: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--input-dir", str(input_dir), "--output-dir", str(output_dir)],
                          capture_output=True, text=True, env={"PIPELINE_DREAMS_DATASET": json.dumps(dataset),
                                                               "PATH": "/usr/bin:/bin"}, timeout=120)


class TestWineCsv:
    """A CSV with a header and a named label column goes through preprocessing."""

    def test_splits_meta_and_classes(self, tmp_path):
        """
        1. Preprocess wine.csv with label_column cultivar and header auto.
        2. Exit 0; train/test have the label first (0-2) and 13 raw feature columns; meta has the cultivars.
        """
        wine_csv(tmp_path / "in")
        result = run(tmp_path / "in", tmp_path / "out", WINE)
        assert result.returncode == 0, result.stderr
        train = (tmp_path / "out/train/train.csv").read_text().splitlines()
        assert len(train) == 142 and all(len(line.split(",")) == 14 for line in train)
        assert {line.split(",")[0] for line in train} == {"0", "1", "2"}
        meta = json.loads((tmp_path / "out/meta/preprocess.json").read_text())
        assert meta["classes"] == ["class_0", "class_1", "class_2"] and len(meta["feature_names"]) == 13
        assert meta["source"] == "wine.csv"

    def test_errors_name_the_learners_file_row_and_field(self, tmp_path):
        """
        1. Break row 3's alcohol value; then ask for a label column the file lacks.
        2. Exit 1; stderr names wine.csv, the row and the field (not iris.data), or the missing column and the ones
           it has; no outputs are left behind.
        """
        path = wine_csv(tmp_path / "in")
        lines = path.read_text().splitlines()
        lines[2] = "abc" + lines[2][lines[2].index(","):]
        path.write_text("\n".join(lines) + "\n")
        bad = run(tmp_path / "in", tmp_path / "out", WINE)
        assert bad.returncode == 1
        assert "wine.csv: row 3, field 'alcohol': 'abc' is not a number" in bad.stderr and "iris" not in bad.stderr
        assert not (tmp_path / "out/train/train.csv").exists()
        missing = run(tmp_path / "in", tmp_path / "out", {**WINE, "label_column": "kind"})
        assert missing.returncode == 1 and "wine.csv: no label column 'kind'" in missing.stderr
        assert "cultivar" in missing.stderr
