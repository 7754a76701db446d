"""What the data says: its classes set linear-learner's predictor type and class count, its file names the endpoint.

settings.toml describes iris (``num_classes = 3``, ``multiclass_classifier``). 03's processing job writes the
classes it found to ``processed/meta/preprocess.json``; from 04 on, :func:`follow_the_data` makes the
hyperparameters agree with them (a two-class CSV trains a ``binary_classifier``), or refuses a value the learner
set explicitly that disagrees, saying what to change.
"""

from __future__ import annotations

import dataclasses
import json
import re
import urllib.parse
from typing import Any

from helpers.config import Kit
from helpers.errors import ConfigError

META_KEY = "processed/meta/preprocess.json"  # under the run's prefix: what 03's job found
EXPLICIT = ("-p", "notebook")  # sources a learner typed; anything else (the file, a default) may follow the data
NAME_LENGTH = 24


def classes_of_run(kit: Kit, bucket: str) -> list[str] | None:
    """The class names 03's job found for this run (code order), or None before 03 has run."""
    s3 = kit.client("s3")
    try:
        body = s3.get_object(Bucket=bucket, Key=f"{kit.settings.run_prefix}/{META_KEY}")["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return [str(name) for name in json.loads(body)["classes"]]


def fitted(hyperparameters: dict[str, str], sources: dict[str, str],
           classes: list[str]) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """The hyperparameters made to agree with ``classes``: ``(hyperparameters, sources, what changed)``.

    linear-learner takes ``binary_classifier`` for two classes (no ``num_classes``: its valid values start at 3)
    and ``multiclass_classifier`` with ``num_classes`` for more
    (https://docs.aws.amazon.com/sagemaker/latest/dg/ll_hyperparameters.html). A ``regressor`` is left alone.

    Raises:
        ConfigError: ``predictor_type`` or ``num_classes`` was set with ``-p`` or in the notebook and disagrees.
    """
    hp, sources, changes = dict(hyperparameters), dict(sources), []
    if hp.get("predictor_type") == "regressor":
        return hp, sources, changes
    count, shown = len(classes), ", ".join(classes[:6]) + (", …" if len(classes) > 6 else "")
    want = "binary_classifier" if count == 2 else "multiclass_classifier"
    origin = f"the data ({count} classes: {shown})"

    def refuse(name: str, fix: str) -> ConfigError:
        return ConfigError(f"{name} {hp.get(name)} (set with {sources[name]}) but 03 found {count} classes in the "
                           f"data ({shown}): {fix}, or leave {name} unset to follow the data")

    if hp.get("predictor_type") != want:
        if sources.get("predictor_type") in EXPLICIT:
            raise refuse("predictor_type", f"set predictor_type = {want!r}")
        changes.append(f"predictor_type {hp.get('predictor_type')} → {want}")
        hp["predictor_type"], sources["predictor_type"] = want, origin
    if want == "binary_classifier" and "num_classes" in hp:
        if sources.get("num_classes") in EXPLICIT and hp["num_classes"] != "2":
            raise refuse("num_classes", "a binary_classifier has two classes")
        changes.append(f"num_classes {hp.pop('num_classes')} dropped (a binary_classifier takes none)")
        sources["num_classes"] = origin
    elif want == "multiclass_classifier" and hp.get("num_classes") != str(count):
        if sources.get("num_classes") in EXPLICIT:
            raise refuse("num_classes", f"set num_classes = {count}")
        changes.append(f"num_classes {hp.get('num_classes', '(unset)')} → {count}")
        hp["num_classes"], sources["num_classes"] = str(count), origin
    return hp, sources, changes


def follow_the_data(kit: Kit, bucket: str) -> list[str] | None:
    """Make ``kit``'s hyperparameters agree with the classes 03 found, and say what changed.

    Returns:
        The classes, or None when 03 has not run for this run id (the settings are kept).

    Raises:
        ConfigError: an explicitly set ``predictor_type``/``num_classes`` disagrees with the data.
    """
    classes = classes_of_run(kit, bucket)
    if classes is None:
        return None
    hp, sources, changes = fitted(kit.settings.hyperparameters, kit.settings.sources, classes)
    kit.settings = dataclasses.replace(kit.settings, hyperparameters=hp, sources=sources)
    if changes:
        print(f"the data has {len(classes)} classes ({', '.join(classes[:6])}{', …' if len(classes) > 6 else ''}):"
              f" {'; '.join(changes)}")
    return classes


def name(kit: Kit) -> str:
    """The data set's name for resource names, from its file: ``iris`` (iris.data), ``breast-cancer`` (…_cancer.csv)."""
    path = urllib.parse.urlparse(kit.settings.data_url or "iris.data").path
    stem = path.rstrip("/").rsplit("/", 1)[-1].split(".", 1)[0]
    cleaned = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:NAME_LENGTH].strip("-")
    return cleaned or "data"


def confidence(prediction: dict[str, Any]) -> float:
    """How sure linear-learner is of its label: a multiclass score list's largest, a binary score's side."""
    score = prediction["score"]
    if isinstance(score, list):
        return max(score)
    return score if int(prediction["predicted_label"]) == 1 else 1 - score
