"""settings.toml: the kit's one place for settings, read as every notebook's defaults.

Order, strongest first: a value given explicitly (papermill ``-p`` or the notebook's parameters cell),
then a ``PIPELINE_DREAMS_*`` environment variable (for the cloud settings), then ``settings.toml``,
then the kit's built-in default. :func:`overrides` picks, from a notebook's namespace, the names the
file knows, so ``-p epochs 5`` reaches the kit without every notebook listing every hyperparameter.
"""

from __future__ import annotations

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


class SettingsFileError(ValueError):
    """settings.toml is unreadable or names something the kit does not know; the message names file and key."""


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
        known = {"cloud": CLOUD_KEYS, "dataset": DATASET_KEYS}.get(name)
        unknown = sorted(set(table) - set(known)) if known else []
        if unknown:
            raise SettingsFileError(f"{file}: [{name}] has unknown key(s) {', '.join(unknown)} "
                                    f"(known: {', '.join(known)})")
        tables[name] = dict(table)
    return tables


def hyperparameter_value(value: Any) -> str:
    """SageMaker's form of a hyperparameter: a string (``true``/``false`` for booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def overridable(tables: Mapping[str, Mapping[str, Any]] | None = None) -> set[str]:
    """Names a notebook parameter (or ``-p``) may override: every dataset key and file hyperparameter."""
    tables = tables if tables is not None else load()
    return set(DATASET_KEYS) | set(tables["hyperparameters"])


def overrides(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The dataset and hyperparameter settings a notebook defines (not None): ``-p epochs 5`` → ``{"epochs": 5}``.

    Args:
        namespace: the notebook's ``globals()``; only names settings.toml knows are taken.
    """
    names = overridable()
    return {name: value for name, value in namespace.items()
            if name in names and value is not None and value != ""}


def fingerprint(*parts: Any, length: int = 6) -> str:
    """A short, stable hash of JSON-able settings: equal settings give equal names, changed ones new names."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]
