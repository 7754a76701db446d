"""The kit's library: boto3 wrappers the notebooks call, the same on AWS and on the local cloud.

``helpers`` never imports ``localcloud``: which cloud answers is decided by
:func:`helpers.config.connect` from its settings, nowhere else.

The submodules (``helpers.s3``, ``helpers.sagemaker``, …) are imported when first used (PEP 562), so
that ``python -m helpers run`` starts its local cloud without first importing pandas for modules it
does not use; ``from helpers import *`` imports them all.
"""

from __future__ import annotations

import importlib
import json
from typing import TYPE_CHECKING, Any

from helpers.config import Kit, connect

if TYPE_CHECKING:  # what type checkers and IDEs see: the same names, imported eagerly
    from helpers import (cleanup, dataset, diagrams, display, earlier, ecr, evaluation, events, execution_view, iam,
                         lambdas, paths, plan, preflight, retry, s3, sagemaker, settings_file, stepfunctions,
                         training_logs)

SUBMODULES = ("cleanup", "dataset", "diagrams", "display", "earlier", "ecr", "evaluation", "events", "execution_view",
              "iam", "lambdas", "paths", "plan", "preflight", "retry", "s3", "sagemaker", "settings_file",
              "stepfunctions", "training_logs")
__all__ = ["Kit", "connect", "json_tags", *SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in SUBMODULES:
        return importlib.import_module(f"helpers.{name}")  # binds it on the package: asked once
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def json_tags(kit: Kit) -> str:
    """The kit's tags as JSON, for a Lambda's ``RESOURCE_TAGS`` (handlers tag the jobs they start)."""
    return json.dumps(kit.tags())
