"""What the seams share: the cloud whose executors they call, and moto's originals."""

import logging
from typing import Any

cloud: Any = None
iam_enforced = False  # IAM enforcement (see _iam); the cloud turns it on by default
originals: dict[str, Any] = {}
log = logging.getLogger("localcloud")
