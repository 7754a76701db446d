"""Score a model's predictions on the held-out split and write evaluation.json.

Runs as a SageMaker Processing script after a Batch Transform job has predicted the test
rows (one JSON record per line, linear-learner's response shape). Inputs, by default under
/opt/ml/processing/: ``test/test.csv`` (label first, no header), ``predictions/*.out``
(JSON lines, same order as the test rows), ``meta/preprocess.json`` (class names).
Output: ``evaluation/evaluation.json`` with accuracy, per-class precision/recall/F1 and the
confusion matrix (rows: true class, columns: predicted class).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

BASE = "/opt/ml/processing"


class EvaluationError(Exception):
    """Inputs that cannot be scored; reported in one line without a traceback."""


def single_file(folder: Path, pattern: str) -> Path:
    files = sorted(p for p in folder.glob(pattern) if not p.name.startswith("."))
    if len(files) != 1:
        raise EvaluationError(f"expected one {pattern} file in {folder}, found {[p.name for p in files] or 'none'}")
    return files[0]


def read_predictions(path: Path) -> np.ndarray:
    """Predicted labels from JSON lines (``{"predicted_label": k, ...}`` per line)."""
    labels = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            labels.append(int(json.loads(line)["predicted_label"]))
        except (ValueError, KeyError, TypeError) as error:
            raise EvaluationError(f"{path.name}: line {number} is not a prediction record ({error}): {line[:80]}")
    return np.array(labels, dtype=int)


def evaluate(truth: np.ndarray, predicted: np.ndarray, classes: list[str]) -> dict:
    """Accuracy, per-class precision/recall/F1 and the confusion matrix."""
    if len(truth) != len(predicted):
        raise EvaluationError(f"{len(truth)} test rows but {len(predicted)} predictions: they must pair up line by line")
    codes = list(range(len(classes)))
    precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, labels=codes, zero_division=0)
    return {
        "accuracy": round(float(accuracy_score(truth, predicted)), 6),
        "rows": int(len(truth)),
        "classes": classes,
        "per_class": {name: {"precision": round(float(p), 6), "recall": round(float(r), 6), "f1": round(float(f), 6),
                             "support": int(s)}
                      for name, p, r, f, s in zip(classes, precision, recall, f1, support)},
        "confusion_matrix": confusion_matrix(truth, predicted, labels=codes).tolist(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test-dir", type=Path, default=Path(f"{BASE}/test"))
    parser.add_argument("--predictions-dir", type=Path, default=Path(f"{BASE}/predictions"))
    parser.add_argument("--meta-dir", type=Path, default=Path(f"{BASE}/meta"))
    parser.add_argument("--output-dir", type=Path, default=Path(f"{BASE}/evaluation"))
    args = parser.parse_args(argv)
    try:
        test = pd.read_csv(single_file(args.test_dir, "*.csv"), header=None)
        predicted = read_predictions(single_file(args.predictions_dir, "*.out"))
        classes = json.loads(single_file(args.meta_dir, "*.json").read_text())["classes"]
        report = evaluate(test[0].to_numpy(dtype=int), predicted, classes)
    except (EvaluationError, OSError, KeyError, ValueError) as error:
        print(f"evaluate: error: {error}", file=sys.stderr)
        return 1
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "evaluation.json").write_text(json.dumps(report, indent=2))
    print(f"accuracy {report['accuracy']:.4f} on {report['rows']} held-out rows")
    print(pd.DataFrame(report["confusion_matrix"], index=classes, columns=classes).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
