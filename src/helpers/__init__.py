"""The kit's library: boto3 wrappers the notebooks call, the same on AWS and on the local cloud.

``helpers`` never imports ``localcloud``: which cloud answers is decided by
:func:`helpers.config.connect` from its settings, nowhere else.
"""

import json

from helpers import (cleanup, diagrams, display, ecr, evaluation, events, iam, lambdas, paths, plan, preflight, retry,
                     s3, sagemaker, settings_file, stepfunctions)
from helpers.config import Kit, connect

__all__ = ["Kit", "cleanup", "connect", "diagrams", "display", "ecr", "evaluation", "events", "iam", "json_tags",
           "lambdas", "paths", "plan", "preflight", "retry", "s3", "sagemaker", "settings_file", "stepfunctions"]


def json_tags(kit: Kit) -> str:
    """The kit's tags as JSON, for a Lambda's ``RESOURCE_TAGS`` (handlers tag the jobs they start)."""
    return json.dumps(kit.tags())
