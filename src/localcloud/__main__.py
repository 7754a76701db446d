"""``python -m localcloud --port PORT [--host 127.0.0.1]``: serve the local cloud until SIGTERM/SIGINT/SIGHUP.

It answers only loopback requests that no web page of another origin made (see localcloud.guard).
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import socket
import sys
import threading
from pathlib import Path

from localcloud import isolation

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _port_in_use(host: str, port: int) -> bool:
    """A quick bind test before importing moto (seconds on a busy machine): a taken port fails fast."""
    if not port:
        return False
    try:
        socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET).close()
    except OSError as error:
        return error.errno == errno.EADDRINUSE
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcloud", description=__doc__)
    parser.add_argument("--port", type=int, default=5050, help="TCP port (0: any free port); default 5050")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on; default 127.0.0.1")
    parser.add_argument("--images-dir", type=Path, default=PROJECT_ROOT / "docker",
                        help="folder of docker/<image>/Dockerfile that image URIs resolve to")
    parser.add_argument("--data-dir", type=Path, default=PROJECT_ROOT / "data",
                        help="folder served over HTTP for offline downloads")
    parser.add_argument("--allow-origin", action="append", default=[], metavar="URL",
                        help="a web origin (e.g. JupyterLab's http://127.0.0.1:8888) whose pages may call the "
                             "cloud; repeatable. Every other Origin is refused")
    parser.add_argument("--exit-with-parent", action="store_true",
                        help="stop (cleanly) when the process that started this one is gone, even if it was killed")
    parser.add_argument("--lambda-idle-seconds", type=float, default=300.0,
                        help="stop a warm Lambda environment unused for this long; default 300")
    parser.add_argument("--cold-jobs", action="store_true",
                        help="start a fresh Python for every processing/training job instead of a warm fork "
                             "(for comparison; LOCALCLOUD_COLD_JOBS=1 does the same)")
    args = parser.parse_args(argv)

    in_use = f"localcloud: port {args.port} on {args.host} is already in use by another program; " \
             "choose another --port (0 picks a free one)"
    if _port_in_use(args.host, args.port):
        print(in_use, file=sys.stderr, flush=True)
        return 1
    isolation.isolate()  # before moto's imports build botocore sessions that read a profile or a proxy
    from localcloud.cloud import LocalCloud, PortInUse  # imports moto

    parent = os.getppid()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())
    try:
        cloud = LocalCloud(host=args.host, port=args.port, images_dir=args.images_dir, data_dir=args.data_dir,
                           allowed_origins=args.allow_origin, lambda_idle_seconds=args.lambda_idle_seconds,
                           cold_jobs=True if args.cold_jobs else None)
    except ValueError as error:  # a malformed --allow-origin
        parser.error(str(error))
    try:
        cloud.start()
    except PortInUse:  # taken between the quick test and the real bind
        print(in_use, file=sys.stderr, flush=True)
        return 1
    print(f"localcloud ready at {cloud.url} (data at {cloud.data_url or '-'})", flush=True)
    try:
        # Wait in short slices (fix): Python runs signal handlers only in the main thread, and when the
        # kernel delivers SIGTERM to another thread (a Lambda/job thread), an untimed wait() is never
        # woken, so the handler never ran and SIGTERM was intermittently ignored. The slices also
        # notice a parent that died without telling us (SIGKILL): we are re-parented, getppid changes.
        while not stop.wait(timeout=0.2):
            if args.exit_with_parent and os.getppid() != parent:
                _say("localcloud: its parent process is gone; stopping")
                break
    finally:
        cloud.stop()
    _say("localcloud stopped")
    return 0


def _say(line: str) -> None:
    """Print to stdout, which may be a pipe whose reader (a killed parent) is gone."""
    try:
        print(line, flush=True)
    except OSError:
        pass


if __name__ == "__main__":
    sys.exit(main())
