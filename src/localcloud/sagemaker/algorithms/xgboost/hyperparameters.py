"""The built-in XGBoost algorithm's hyperparameters, validated as its container validates them.

The table and the messages follow the open-source SageMaker XGBoost container
(github.com/aws/sagemaker-xgboost-container: ``algorithm_mode/hyperparameter_validation.py`` declares the names,
types and ranges; ``sagemaker_algorithm_toolkit/hyperparameter_validation.py`` checks them in four passes:
required, then each name known and parsed, then ranges, then dependencies). The values arrive as the strings of
``hyperparameters.json``; an integer is parsed with ``int()``, so ``"3.0"`` is refused as the container refuses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAXIMIZE_METRICS = ("accuracy", "auc", "aucpr", "balanced_accuracy", "f1", "f1_binary", "f1_macro", "map", "ndcg",
                    "precision", "r2", "recall", "precision_macro", "precision_micro", "recall_macro", "recall_micro")
MINIMIZE_METRICS = ("aft-nloglik", "cox-nloglik", "error", "gamma-deviance", "gamma-nloglik",
                    "interval-regression-accuracy", "logloss", "mae", "mape", "merror", "mlogloss", "mphe", "mse",
                    "poisson-nloglik", "rmse", "rmsle", "tweedie-nloglik")
OBJECTIVES = ("aft_loss_distribution", "binary:logistic", "binary:logitraw", "binary:hinge", "count:poisson",
              "multi:softmax", "multi:softprob", "rank:pairwise", "rank:ndcg", "rank:map", "reg:linear",
              "reg:squarederror", "reg:logistic", "reg:gamma", "reg:pseudohubererror", "reg:squaredlogerror",
              "reg:absoluteerror", "reg:tweedie", "survival:aft", "survival:cox")
ALIASES = {"learning_rate": "eta", "min_split_loss": "gamma", "reg_lambda": "lambda", "reg_alpha": "alpha"}
# Hyperparameters the container reads itself and does not hand to xgboost.train's params.
CONTAINER_ONLY = ("num_round", "csv_weights", "early_stopping_rounds", "save_model_on_termination", "_kfold",
                  "_num_cv_round", "_tuning_objective_metric", "use_dask_gpu_training")


class UserError(ValueError):
    """The caller's hyperparameters, channels or data are wrong (the container's ``exc.UserError``)."""


@dataclass(frozen=True)
class Interval:
    """A closed or open range, printed as the toolkit prints it: ``[1, +inf)``, ``(0, 1]``."""

    low: float | None = None
    low_open: bool = False
    high: float | None = None
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        return not ((self.low is not None and (value <= self.low if self.low_open else value < self.low))
                    or (self.high is not None and (value >= self.high if self.high_open else value > self.high)))

    def __str__(self) -> str:
        low = "(-inf" if self.low is None else f"{'(' if self.low_open else '['}{self.low}"
        high = "+inf)" if self.high is None else f"{self.high}{')' if self.high_open else ']'}"
        return f"{low}, {high}"


def _i(low=None, high=None, low_open=False, high_open=False) -> Interval:
    return Interval(low, low_open, high, high_open)


UNIT, POSITIVE, NON_NEGATIVE, FRACTION = _i(0, 1), _i(1), _i(0), _i(0, 1, low_open=True)
# name: (kind, range); kinds: int, float, choice (the value as given), list (comma-separated choices)
TABLE: dict[str, tuple[str, Any]] = {
    "num_round": ("int", POSITIVE), "csv_weights": ("int", _i(0, 1)), "early_stopping_rounds": ("int", POSITIVE),
    "booster": ("choice", ["gbtree", "gblinear", "dart"]), "verbosity": ("int", _i(0, 3)),
    "nthread": ("int", POSITIVE), "eta": ("float", UNIT), "gamma": ("float", NON_NEGATIVE),
    "max_depth": ("int", NON_NEGATIVE), "min_child_weight": ("float", NON_NEGATIVE),
    "max_delta_step": ("float", NON_NEGATIVE), "subsample": ("float", FRACTION),
    "colsample_bytree": ("float", FRACTION), "colsample_bylevel": ("float", FRACTION),
    "colsample_bynode": ("float", FRACTION), "lambda": ("float", NON_NEGATIVE), "alpha": ("float", NON_NEGATIVE),
    "tree_method": ("choice", ["auto", "exact", "approx", "hist", "gpu_hist"]),
    "sketch_eps": ("float", _i(0, 1, True, True)), "scale_pos_weight": ("float", _i(0, low_open=True)),
    "updater": ("list", ["grow_colmaker", "distcol", "grow_histmaker", "grow_skmaker", "sync", "refresh", "prune",
                         "shotgun", "coord_descent", "grow_quantile_histmaker"]),
    "dsplit": ("choice", ["row", "col"]), "refresh_leaf": ("int", _i(0, 1)),
    "process_type": ("choice", ["default", "update"]), "grow_policy": ("choice", ["depthwise", "lossguide"]),
    "max_leaves": ("int", NON_NEGATIVE), "max_bin": ("int", NON_NEGATIVE),
    "predictor": ("choice", ["auto", "cpu_predictor", "gpu_predictor"]),
    "sample_type": ("choice", ["uniform", "weighted"]), "normalize_type": ("choice", ["tree", "forest"]),
    "rate_drop": ("float", UNIT), "one_drop": ("int", _i(0, 1)), "skip_drop": ("float", UNIT),
    "lambda_bias": ("float", UNIT), "tweedie_variance_power": ("float", _i(1, 2, True, True)),
    "objective": ("choice", list(OBJECTIVES)), "num_class": ("int", _i(2)), "base_score": ("float", NON_NEGATIVE),
    "_kfold": ("int", _i(2)), "_num_cv_round": ("int", POSITIVE),
    "_tuning_objective_metric": ("choice", [f"validation:{m}" for m in MAXIMIZE_METRICS + MINIMIZE_METRICS]),
    "eval_metric": ("list", list(MAXIMIZE_METRICS + MINIMIZE_METRICS)),
    "seed": ("int", _i(-(2**31), 2**31 - 1, True, True)), "num_parallel_tree": ("int", POSITIVE),
    "save_model_on_termination": ("choice", ["true", "false"]),
    "aft_loss_distribution": ("choice", ["normal", "logistic", "extreme"]),
    "aft_loss_distribution_scale": ("float", NON_NEGATIVE),
    "deterministic_histogram": ("choice", ["true", "false"]),
    "sampling_method": ("choice", ["uniform", "gradient_based"]), "prob_buffer_row": ("int", _i(1.0, low_open=True)),
    "use_dask_gpu_training": ("choice", ["true", "false"]),
}
REQUIRED = ("num_round",)


def _parse(name: str, kind: str, text: str) -> Any:
    try:
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
    except ValueError:
        raise UserError(f"Hyperparameter {name}: could not parse value (caused by ValueError)") from None
    return text.split(",") if kind == "list" else text


def _metric_known(metric: str) -> bool:
    """eval_metric's range check: a known metric, or error/ndcg/map with an ``@threshold``."""
    if "@" not in metric:
        return metric in MAXIMIZE_METRICS + MINIMIZE_METRICS
    name, threshold = (part.strip() for part in metric.split("@", 1))
    if name not in ("error", "ndcg", "map"):
        raise UserError(f"Metric '{metric}' is not supported. Parameter 'eval_metric' with customized threshold "
                        "should be one of these options: 'error', 'ndcg', 'map'.")
    try:
        float(threshold)
    except ValueError:
        raise UserError(f"Threshold value 't' in '{name}@t' expects float input.") from None
    return True


def _check_range(name: str, kind: str, allowed: Any, value: Any) -> None:
    if kind == "list":
        known = _metric_known if name == "eval_metric" else allowed.__contains__
        if not all(known(item) for item in value):
            raise UserError(f"Hyperparameter {name}: value {value} not in range {allowed}")
    elif value not in allowed:
        raise UserError(f"Hyperparameter {name}: {value} is not in {allowed}")


def _check_dependencies(hp: dict[str, Any]) -> None:
    objective = hp.get("objective")
    if objective in ("multi:softmax", "multi:softprob") and hp.get("num_class") is None:
        raise UserError("Require input for parameter 'num_class' for multi-classification")
    metrics = hp.get("eval_metric") or []
    if "auc" in metrics and objective is not None and not objective.startswith(("binary:", "rank:")):
        raise UserError("Metric 'auc' can only be applied for classification and ranking problems.")
    if "aft-nloglik" in metrics and objective != "survival:aft":
        raise UserError("Metric 'aft-nloglik' can only be applied for 'survival:aft' objective.")
    if hp.get("updater") and hp.get("booster") == "gblinear" and not (
            len(hp["updater"]) == 1 and hp["updater"][0] in ("shotgun", "coord_descent")):
        raise UserError("Linear updater should be one of these options: 'shotgun', 'coord_descent'.")


def validate(raw: dict[str, Any]) -> dict[str, Any]:
    """Check the job's hyperparameters as the container does and return them typed.

    Args:
        raw: ``hyperparameters.json`` (string values); aliases such as ``learning_rate`` (``eta``) are accepted.

    Returns:
        The typed hyperparameters under their XGBoost names (``updater``/``eval_metric`` as lists).

    Raises:
        UserError: a required name missing, an unknown name, an unparsable value, a value out of its range or a
            combination the container refuses (the container's own wording).
    """
    given = {ALIASES.get(str(k), str(k)): str(v) for k, v in raw.items()}
    for name in REQUIRED:
        if name not in given:
            raise UserError(f"Missing required hyperparameter: {name}")
    parsed = {}
    for name, text in given.items():
        if name not in TABLE:
            raise UserError(f"Extraneous hyperparameter found: {name}")
        parsed[name] = _parse(name, TABLE[name][0], text)
    for name, value in parsed.items():
        _check_range(name, *TABLE[name], value)
    _check_dependencies(parsed)
    return parsed
