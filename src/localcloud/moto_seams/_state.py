"""What the seams share: the cloud whose executors they call, and moto's originals."""

import logging
from typing import Any

cloud: Any = None
originals: dict[str, Any] = {}
log = logging.getLogger("localcloud")
