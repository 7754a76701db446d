"""Local stand-in for SageMaker's built-in XGBoost algorithm (algorithm mode), training with the real xgboost library.

The local cloud runs ``python -m localcloud.sagemaker.algorithms.xgboost.train --ml-root DIR`` (DIR plays /opt/ml)
for a training job whose image is SageMaker's ``sagemaker-xgboost`` and whose hyperparameters name no
``sagemaker_program`` (that would be script mode). It follows the open-source container
(github.com/aws/sagemaker-xgboost-container, ``algorithm_mode/train.py``): hyperparameters validated with the
container's table and wording (:mod:`.hyperparameters`), ``train`` and optional ``validation`` channels
(:mod:`.channels`), ``xgboost.train`` with each round's evaluation printed as the container prints it and as
CloudWatch shows it (``[3]#011train-merror:0.02500#011validation-merror:0.03333``: the log agent writes a tab as
``#011``, and SageMaker's metric regexes for the algorithm match that), the booster saved as ``model/xgboost-model``
(xgboost's own format: this xgboost writes UBJSON, AWS's 1.7-1 image a binary format), and each channel's last
value per metric in ``output/metrics.json`` (``train:merror``, ``validation:merror``), the job's FinalMetricDataList.

A failure ends as the container's does: sagemaker-containers' trainer catches the algorithm's ``UserError``,
writes ``framework error: `` and the error to ``output/failure`` and exits 1, which SageMaker reports as
``AlgorithmError: framework error: …`` (as in aws/amazon-sagemaker-examples#1740).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from localcloud.sagemaker.algorithms.xgboost import channels, hyperparameters
from localcloud.sagemaker.algorithms.xgboost.hyperparameters import CONTAINER_ONLY, MAXIMIZE_METRICS, UserError

MODEL_NAME = "xgboost-model"
# xgboost errors the container turns into UserError (constants/xgb_constants.py, CUSTOMER_ERRORS)
# and this xgboost's wording of the same checks ("label must be discrete values in the range of [0, num_class)")
CUSTOMER_ERRORS = ("label must be in [0,1] for logistic regression", "label must be in [0, num_class)",
                   "label must be discrete values in the range of [0, num_class)",
                   "Target is multiclass but average='binary'", "feature_names mismatch",
                   "Check failed: preds.size() == info.labels_.size()", "Check failed: !auc_error",
                   "base_score must be in (0,1)", "label must be nonnegative", "Label set is empty",
                   "Parameter reg_lambda should be greater equal to 0")


def log(message: str, level: str = "INFO") -> None:
    """One line as sagemaker-containers' logger writes it: ``[2026-12-07:21:30:05:INFO] message``."""
    print(f"[{time.strftime('%Y-%m-%d:%H:%M:%S')}:{level}] {message}", flush=True)


def _sklearn_metric(name: str):
    """The container's metrics that xgboost lacks, computed by scikit-learn on the round's margins
    (metrics/custom_metrics.py: class labels by argmax or margin > 0)."""
    from sklearn import metrics as m

    classify = {"accuracy": m.accuracy_score, "balanced_accuracy": m.balanced_accuracy_score,
                "f1": lambda y, p: m.f1_score(y, p, average="macro"),
                "f1_binary": lambda y, p: m.f1_score(y, p, average="binary"),
                "f1_macro": lambda y, p: m.f1_score(y, p, average="macro"), "precision": m.precision_score,
                "precision_macro": lambda y, p: m.precision_score(y, p, average="macro"),
                "precision_micro": lambda y, p: m.precision_score(y, p, average="micro"), "recall": m.recall_score,
                "recall_macro": lambda y, p: m.recall_score(y, p, average="macro"),
                "recall_micro": lambda y, p: m.recall_score(y, p, average="micro")}
    regress = {"mse": m.mean_squared_error, "rmse": m.root_mean_squared_error, "mae": m.mean_absolute_error,
               "r2": m.r2_score}
    if name in classify:
        return lambda preds, labels: classify[name](
            labels, np.argmax(preds, axis=-1) if preds.ndim > 1 else (preds > 0.0).astype(int))
    return (lambda preds, labels: regress[name](labels, preds)) if name in regress else None


def _custom_metric(names: list[str]):
    functions = [(name, _sklearn_metric(name)) for name in names]

    def evaluate(preds: np.ndarray, dmatrix) -> list[tuple[str, float]]:
        labels = dmatrix.get_label()
        return [(name, float(function(preds, labels)) if preds.size else 0.0) for name, function in functions]
    return evaluate


def _monitor():
    """xgboost's EvaluationMonitor, with its tabs as CloudWatch shows them (``#011``)."""
    import xgboost as xgb

    class Monitor(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch: int, evals_log: dict) -> bool:
            parts = [f"#011{data}-{metric}:{values[-1]:.5f}" for data, metrics in evals_log.items()
                     for metric, values in metrics.items()]
            print(f"[{epoch}]{''.join(parts)}", flush=True)
            return False
    return Monitor()


def _params(hp: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """xgboost.train's params from the validated hyperparameters, and the container-computed metrics."""
    params = {k: v for k, v in hp.items() if k not in CONTAINER_ONLY}
    if "updater" in params:
        params["updater"] = ",".join(params["updater"])
    metrics = list(params.pop("eval_metric", None) or [])
    custom = [name for name in metrics if _sklearn_metric(name)]
    native = [name for name in metrics if name not in custom]
    if native:
        params["eval_metric"] = native
    params.setdefault("nthread", 1)  # one BLAS/OpenMP thread per job, as the cloud gives every job
    return params, custom


def train(root: Path) -> None:
    """Run one training job on an /opt/ml-shaped folder: ``model/xgboost-model``, ``output/metrics.json``.

    Raises:
        UserError: bad hyperparameters, channels or data, worded as the container words them.
    """
    import xgboost as xgb

    raw = json.loads((root / "input/config/hyperparameters.json").read_text() or "{}")
    data_config = json.loads((root / "input/config/inputdataconfig.json").read_text())
    log("Running XGBoost Sagemaker in algorithm mode")
    hp = hyperparameters.validate(raw)
    kind = channels.check_channels(data_config)
    csv_weights = hp.get("csv_weights", 0)
    dtrain = channels.read_dmatrix(root / "input/data/train", kind, csv_weights)
    watchlist = [(dtrain, "train")]
    if "validation" in data_config:
        watchlist.append((channels.read_dmatrix(root / "input/data/validation", kind, csv_weights), "validation"))
    log("Single node training.")
    log(f"Train matrix has {dtrain.num_row()} rows and {dtrain.num_col()} columns")
    if len(watchlist) > 1:
        log(f"Validation matrix has {watchlist[1][0].num_row()} rows")
    params, custom = _params(hp)
    callbacks = [_monitor()]
    rounds, metrics = hp.get("early_stopping_rounds"), custom + list(params.get("eval_metric", []))
    if rounds and len(watchlist) > 1 and metrics:
        callbacks.append(xgb.callback.EarlyStopping(rounds=rounds, data_name="validation", metric_name=metrics[-1],
                                                    maximize=metrics[-1] in MAXIMIZE_METRICS, save_best=True))
    history: dict[str, dict[str, list[float]]] = {}
    try:
        booster = xgb.train(params, dtrain, num_boost_round=hp["num_round"], evals=watchlist,
                            custom_metric=_custom_metric(custom) if custom else None, callbacks=callbacks,
                            evals_result=history, verbose_eval=False)
    except xgb.core.XGBoostError as exc:
        text = str(exc)
        if any(error in text for error in CUSTOMER_ERRORS):  # its first line: the C++ stack would fill FailureReason
            raise UserError(text.split("Stack trace:")[0].strip()) from None
        raise RuntimeError(f"XGB train call failed with exception:\n {text}") from None
    (root / "model").mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # "Saving model in the UBJSON format as default": the name has no extension
        warnings.simplefilter("ignore", UserWarning)
        booster.save_model(str(root / "model" / MODEL_NAME))
    final = [{"MetricName": f"{data}:{metric}", "Value": float(values[-1])}
             for data, by_metric in history.items() for metric, values in by_metric.items()]
    (root / "output").mkdir(parents=True, exist_ok=True)
    (root / "output" / "metrics.json").write_text(json.dumps(final, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Train; on failure write output/failure as sagemaker-containers does and return 1."""
    parser = argparse.ArgumentParser(prog="python -m localcloud.sagemaker.algorithms.xgboost.train",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--ml-root", default="/opt/ml", help="the folder that plays /opt/ml")
    root = Path(parser.parse_args(argv).ml_root)
    try:
        train(root)
        return 0
    except UserError as exc:  # the caller's: the message alone, as the container's last line gives it
        message = f"framework error: \n{type(exc).__name__}: {exc}\n\n{exc}"
    except Exception as exc:  # noqa: BLE001 - the stand-in's own fault: its traceback too
        message = f"framework error: \n{traceback.format_exc()}\n{exc}"
    (root / "output").mkdir(parents=True, exist_ok=True)
    (root / "output" / "failure").write_text(message)
    log("Reporting training FAILURE", "ERROR")
    print(message, file=sys.stderr, flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
