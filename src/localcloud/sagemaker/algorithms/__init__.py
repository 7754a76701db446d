"""SageMaker's built-in algorithms the cloud plays (the image URIs its jobs name).

:func:`builtin` names the algorithm an image plays, by its ECR repository as ``image_uris.retrieve`` gives it
(``…/linear-learner:1``, ``…/sagemaker-xgboost:1.7-1``); each algorithm's package has a ``train`` module run as
``python -m localcloud.sagemaker.algorithms.<package>.train --ml-root DIR`` and serves models in
:mod:`localcloud.sagemaker.inference`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from localcloud.common.images import parse_image_uri

PACKAGES = {"linear-learner": "linear_learner", "sagemaker-xgboost": "xgboost"}


def builtin(image_uri: str, hyperparameters: Mapping[str, Any] | None = None) -> str | None:
    """The package of the built-in algorithm an image plays, or None for any other image.

    Args:
        image_uri: the job's TrainingImage or the model's Image.
        hyperparameters: a training job's; the XGBoost image runs the user's script instead of its algorithm when
            they name one (``sagemaker_program``, script mode), so then it is not the built-in algorithm.
    """
    ref = parse_image_uri(image_uri)
    package = PACKAGES.get(ref.repository.rsplit("/", 1)[-1]) if ref else None
    if package == "xgboost" and "sagemaker_program" in (hyperparameters or {}):
        return None
    return package


def training_module(image_uri: str, hyperparameters: Mapping[str, Any] | None = None) -> str | None:
    """``localcloud.sagemaker.algorithms.<package>.train`` for a built-in algorithm's training image, else None."""
    package = builtin(image_uri, hyperparameters)
    return f"localcloud.sagemaker.algorithms.{package}.train" if package else None
