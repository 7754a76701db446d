"""settings.toml: the kit's one place for settings, read as every notebook's defaults.

Order, strongest first: a value given explicitly (papermill ``-p`` or the notebook's parameters cell),
then a ``PIPELINE_DREAMS_*`` environment variable the user exported (for the cloud settings; ``make lab`` and the
runner set none), then ``settings.toml``, then the kit's built-in default. Each notebook's settings table names the
origin of every value. :func:`overrides` picks, from a notebook's namespace, the names the
file knows, so ``-p epochs 5`` reaches the kit without every notebook listing every hyperparameter.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from helpers.paths import PROJECT_ROOT

ENV_SETTINGS = "PIPELINE_DREAMS_SETTINGS"
DEFAULT_FILE = PROJECT_ROOT / "settings.toml"
TABLES = ("cloud", "dataset", "hyperparameters")
CLOUD_KEYS = ("target", "region", "prefix", "data_url")
DATASET_KEYS = ("header", "column_names", "label_column", "feature_columns", "class_names")
# The settings every notebook's parameters cell has (arguments of helpers.connect), besides the tables' keys.
NOTEBOOK_SETTINGS = ("target", "region", "prefix", "run_id", "data_url")
# Every hyperparameter SageMaker's linear-learner takes
# (https://docs.aws.amazon.com/sagemaker/latest/dg/ll_hyperparameters.html): real linear-learner refuses a
# training job with any other name, so the kit refuses one before anything runs.
LINEAR_LEARNER_HYPERPARAMETERS = frozenset({
    "predictor_type", "num_classes", "feature_dim", "mini_batch_size", "epochs", "learning_rate", "l1", "wd",
    "normalize_data", "normalize_label", "use_bias", "accuracy_top_k", "balance_multiclass_weights", "beta_1",
    "beta_2", "bias_lr_mult", "bias_wd_mult", "binary_classifier_model_selection_criteria",
    "early_stopping_patience", "early_stopping_tolerance", "f_beta", "huber_delta", "init_bias", "init_method",
    "init_scale", "init_sigma", "loss", "loss_insensitivity", "lr_scheduler_factor", "lr_scheduler_minimum_lr",
    "lr_scheduler_step", "margin", "momentum", "num_calibration_samples", "num_models", "num_point_for_scaler",
    "optimizer", "positive_example_weight_mult", "quantile", "target_precision", "target_recall", "unbias_data",
    "unbias_label", "use_lr_scheduler"})
# A notebook's parameters cell starts with this comment, and so does the cell papermill injects for -p.
PARAMETERS_CELL_MARK = "# Parameters"


class SettingsFileError(ValueError):
    """settings.toml is unreadable or names something the kit does not know; the message names file and key."""


class UnknownSettingError(ValueError):
    """A setting or hyperparameter name the kit does not know (a typo); the message names the nearest known one."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this one line instead of a traceback
        return [f"UnknownSettingError: {self}"]


def nearest(name: str, known: "set[str] | frozenset[str] | tuple[str, ...]") -> str:
    """``(did you mean epochs?)`` for a name close to a known one, else an empty string."""
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def unknown_names(names: "set[str] | list[str]", known: "set[str] | frozenset[str] | tuple[str, ...]") -> str:
    """``epcohs (did you mean epochs?), foo``: each unknown name with the nearest known one."""
    return ", ".join(f"{name}{nearest(name, known)}" for name in sorted(names))


def path() -> Path:
    """The settings file in use: ``$PIPELINE_DREAMS_SETTINGS`` or the kit's root ``settings.toml``."""
    return Path(os.environ.get(ENV_SETTINGS) or DEFAULT_FILE)


def load(file: Path | None = None) -> dict[str, dict[str, Any]]:
    """The file's tables (``cloud``, ``dataset``, ``hyperparameters``); empty tables when it does not exist.

    Raises:
        SettingsFileError: bad TOML, an unknown table, or an unknown key in ``cloud``/``dataset``.
    """
    file = file or path()
    tables: dict[str, dict[str, Any]] = {name: {} for name in TABLES}
    if not file.exists():
        if os.environ.get(ENV_SETTINGS):
            raise SettingsFileError(f"{ENV_SETTINGS} names {file}, which does not exist")
        return tables
    try:
        data = tomllib.loads(file.read_text())
    except tomllib.TOMLDecodeError as error:
        raise SettingsFileError(f"{file}: not valid TOML: {error}") from None
    for name, table in data.items():
        if name not in TABLES or not isinstance(table, dict):
            raise SettingsFileError(f"{file}: unknown table [{name}] (the kit reads {', '.join(TABLES)})")
        known = {"cloud": CLOUD_KEYS, "dataset": DATASET_KEYS}.get(name, LINEAR_LEARNER_HYPERPARAMETERS)
        unknown = set(table) - set(known)
        if unknown and name == "hyperparameters":
            raise SettingsFileError(f"{file}: [hyperparameters] has {unknown_names(unknown, known)}, not a "
                                    "linear-learner hyperparameter (https://docs.aws.amazon.com/sagemaker/latest/"
                                    "dg/ll_hyperparameters.html); SageMaker would refuse the training job")
        if unknown:
            raise SettingsFileError(f"{file}: [{name}] has unknown key(s) {unknown_names(unknown, known)} "
                                    f"(known: {', '.join(known)})")
        tables[name] = dict(table)
    return tables


def hyperparameter_value(value: Any) -> str:
    """SageMaker's form of a hyperparameter: a string (``true``/``false`` for booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def overridable(tables: Mapping[str, Mapping[str, Any]] | None = None) -> set[str]:
    """Names a notebook parameter (or ``-p``) may override: every dataset key and linear-learner hyperparameter."""
    return set(DATASET_KEYS) | set(LINEAR_LEARNER_HYPERPARAMETERS)


def overrides(namespace: Mapping[str, Any], notebook_parameters: tuple[str, ...] = ()) -> dict[str, Any]:
    """The dataset and hyperparameter settings a notebook defines (not None): ``-p epochs 5`` → ``{"epochs": 5}``.

    Args:
        namespace: the notebook's ``globals()``; only names settings.toml knows are taken.
        notebook_parameters: the notebook's own parameters besides the settings (06's ``min_accuracy``).

    Raises:
        UnknownSettingError: the parameters cell (or ``-p``) sets a name that is no setting, e.g. ``epcohs = 2``:
            it would be dropped without a word, and the job would run with the file's value.
    """
    names = overridable()
    known = names | set(NOTEBOOK_SETTINGS) | set(notebook_parameters)
    unknown = parameters_cell_names(namespace) - known
    if unknown:
        raise UnknownSettingError(
            f"the parameters cell sets {unknown_names(unknown, known)}: no setting of that name, so it would change "
            f"nothing. Correct the name (settings: {', '.join(NOTEBOOK_SETTINGS)}, any [dataset] key, any "
            "linear-learner hyperparameter), then run the cells again from the parameters cell")
    return {name: value for name, value in namespace.items()
            if name in names and value is not None and value != ""}


def parameters_cell_names(namespace: Mapping[str, Any]) -> set[str]:
    """The names the notebook's own parameters cell assigns, in its last run.

    IPython keeps the source of every cell run so far in ``In``; the parameters cell starts with
    :data:`PARAMETERS_CELL_MARK`. Only its last run counts (a corrected typo is gone). The cell papermill injects
    for ``-p`` (``# Parameters`` alone on its first line) is not read: ``-p`` goes to every notebook, and the runner
    checks its names against all of theirs (:func:`unknown_parameters`). Outside IPython (no ``In``) there is none.
    """
    own = next((source for source in reversed(namespace.get("In") or ())
                if isinstance(source, str) and source.lstrip().startswith(PARAMETERS_CELL_MARK)
                and not source.lstrip().startswith(PARAMETERS_CELL_MARK + "\n")), None)
    return assigned_names(own) if own else set()


def assigned_names(source: str) -> set[str]:
    """The names a cell's top-level statements assign (``epcohs = 2`` → ``{"epcohs"}``); none if it does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, (ast.AnnAssign, ast.AugAssign)) else []
        names |= {target.id for target in targets if isinstance(target, ast.Name)}
    return names


def unknown_parameters(given: set[str], parameters_cells: list[str]) -> str:
    """For the runner's ``-p``: the names that are neither a setting nor a parameter of any of the notebooks.

    Returns:
        ``epcohs (did you mean epochs?)`` for each unknown name, or an empty string when all are known.
    """
    known = overridable() | set(NOTEBOOK_SETTINGS)
    for source in parameters_cells:
        known |= assigned_names(source)
    return unknown_names(given - known, known) if given - known else ""


def fingerprint(*parts: Any, length: int = 6) -> str:
    """A short, stable hash of JSON-able settings: equal settings give equal names, changed ones new names."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]
