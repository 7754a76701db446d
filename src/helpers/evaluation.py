"""The evaluation step's report: read it, tabulate it, plot its confusion matrix."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from helpers.config import Kit


def read_report(kit: Kit, bucket: str, run_prefix: str) -> dict[str, Any]:
    """``evaluation.json`` written by src/jobs/evaluate.py for a run."""
    key = f"{run_prefix}/evaluation/report/evaluation.json"
    return json.loads(kit.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def per_class_table(report: dict[str, Any]) -> pd.DataFrame:
    """Precision, recall, F1 and support per class."""
    return pd.DataFrame(report["per_class"]).T.round(3)


def plot_confusion_matrix(report: dict[str, Any], title: str = "held-out split"):
    """The confusion matrix: rows are the true class, columns the predicted one."""
    import matplotlib.pyplot as plt  # ~0.4 s: only the notebook that plots pays it, not every `import helpers`

    classes = [name.replace("Iris-", "") for name in report["classes"]]
    matrix = report["confusion_matrix"]
    figure, axes = plt.subplots(figsize=(4.2, 3.6))
    axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(classes)), classes)
    axes.set_yticks(range(len(classes)), classes)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    top = max(max(row) for row in matrix) or 1
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            axes.text(j, i, str(count), ha="center", va="center", color="white" if count > top / 2 else "black")
    axes.set_title(f"{title}: accuracy {report['accuracy']:.3f}")
    figure.tight_layout()
    return figure
