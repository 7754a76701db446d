"""What the seams share: the cloud whose executors they call, and moto's originals."""

import logging
import os
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID

cloud: Any = None
iam_enforced = False  # IAM enforcement (see _iam); the cloud turns it on by default
originals: dict[str, Any] = {}
log = logging.getLogger("localcloud")


def cloud_account() -> str:
    """The account the cloud plays: ``--account`` (moto's ``MOTO_ACCOUNT_ID``), else moto's default."""
    return os.environ.get("MOTO_ACCOUNT_ID") or DEFAULT_ACCOUNT_ID
