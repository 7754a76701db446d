"""moto's HTTP server, built here instead of with ``ThreadedMotoServer``.

``ThreadedMotoServer.start`` binds the port in a background thread and waits on an event that
thread sets only after a successful bind: on a busy port the thread dies ("Address already in
use") and ``start`` waits forever. Building the same server (moto's dispatcher app and request
handler, werkzeug's threaded server) in the caller's thread makes a busy port an ``OSError`` at
once, and lets the app be wrapped in :class:`localcloud.server.guard.GuardMiddleware`.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any

from moto.moto_server import werkzeug_app
from werkzeug.serving import BaseWSGIServer, make_server


def serve_moto(host: str, port: int, wrap: Callable[[Any], Any]) -> tuple[BaseWSGIServer, threading.Thread]:
    """Bind moto's server on ``host:port`` (raises OSError when taken) and serve in a daemon thread.

    Args:
        host: address to listen on.
        port: TCP port; 0 for any free one.
        wrap: called with moto's WSGI app; returns the app to serve (the guard middleware).
    """
    # moto's global CORS answers any Origin with Access-Control-Allow-Origin: <that origin>; the
    # guard refuses foreign origins anyway, and no page needs to read the cloud's answers.
    werkzeug_app.DISABLE_GLOBAL_CORS = True
    app = wrap(werkzeug_app.DomainDispatcherApplication(werkzeug_app.create_backend_app))
    # Bind here: werkzeug's own bind prints two lines and calls sys.exit(1) on a busy port.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.create_server((host, port), family=family) as listening:  # raises OSError(EADDRINUSE)
        server = make_server(host, listening.getsockname()[1], app, threaded=True,
                             request_handler=werkzeug_app.MotoRequestHandler, fd=listening.fileno())
    # poll_interval: shutdown() waits for the loop to notice; 0.5 s (the default) made every stop slower, and
    # 0.05 s cost each series ~0.05 s (two servers stopped one after the other); an idle wake-up costs ~20 µs
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True,
                              name="localcloud-moto")
    thread.start()
    return server, thread
