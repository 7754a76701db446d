"""A spare Lambda environment's side of the hand-over: the one JSON line it waits for, and how it takes it on.

The cloud's side (when a spare is started, when it may serve, how it is ended) is
:mod:`localcloud.awslambda.lambda_spare`; its docstring tells the whole story. This half runs in the spare
(:mod:`localcloud.child.lambda_bootstrap` ``--spare``), so it imports only the standard library.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def become_message(env: dict[str, str], cwd: Path) -> str:
    return json.dumps({"become": {"env": env, "cwd": str(cwd)}}) + "\n"


def become(line: str) -> None:
    """In the spare: take on the environment and code folder the runtime sent (see localcloud.awslambda.lambda_spare's docstring)."""
    message = json.loads(line)["become"]
    started_in = os.getcwd()
    os.chdir(message["cwd"])
    if sys.path and sys.path[0] == started_in:  # `-m` put the start folder first, as it puts a fresh one's
        sys.path[0] = os.getcwd()
    os.environ.clear()
    os.environ.update(message["env"])
    import tempfile

    tempfile.tempdir = None  # found again from the environment's TMPDIR (its own folder, or /tmp)
    if hasattr(os, "tzset"):
        import time

        time.tzset()  # TZ=UTC, as the runtime sets it (read once at start otherwise)
