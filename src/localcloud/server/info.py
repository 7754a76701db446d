"""``GET /_localcloud/info``: what a client needs to know of the local cloud that no AWS API tells it.

Today that is where the cloud serves its ``data/`` folder (a port of its own), so a notebook
connected to a cloud someone else started (``helpers run --endpoint``, ``make lab``) downloads
the data from it instead of from the internet. ``_`` cannot start a bucket name, so the path
never shadows an S3 request.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

INFO_PATH = "/_localcloud/info"


class InfoRoute:
    """WSGI middleware answering :data:`INFO_PATH` with ``info()`` as JSON; everything else goes to ``app``."""

    def __init__(self, app: Callable[..., Any], info: Callable[[], dict[str, Any]]) -> None:
        self.app, self.info = app, info

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") != INFO_PATH or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return self.app(environ, start_response)
        body = json.dumps(self.info()).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]
