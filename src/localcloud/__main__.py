"""``python -m localcloud --port PORT [--host 127.0.0.1]``: serve the local cloud until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from localcloud.cloud import PROJECT_ROOT, LocalCloud


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcloud", description=__doc__)
    parser.add_argument("--port", type=int, default=5050, help="TCP port (0: any free port); default 5050")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on; default 127.0.0.1")
    parser.add_argument("--images-dir", type=Path, default=PROJECT_ROOT / "docker",
                        help="folder of docker/<image>/Dockerfile that image URIs resolve to")
    parser.add_argument("--data-dir", type=Path, default=PROJECT_ROOT / "data",
                        help="folder served over HTTP for offline downloads")
    parser.add_argument("--no-iam", action="store_true",
                        help="do not enforce IAM (moto's permissiveness); also LOCALCLOUD_IAM=0")
    args = parser.parse_args(argv)

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    cloud = LocalCloud(host=args.host, port=args.port, images_dir=args.images_dir, data_dir=args.data_dir,
                       iam=False if args.no_iam else None)
    cloud.start()
    print(f"localcloud ready at {cloud.url} (data at {cloud.data_url or '-'}) "
          f"IAM {'enforced' if cloud.iam else 'not enforced (--no-iam)'}", flush=True)
    try:
        # Wait in short slices (fix): Python runs signal handlers only in the main thread, and when the
        # kernel delivers SIGTERM to another thread (a Lambda/job thread), an untimed wait() is never
        # woken, so the handler never ran and SIGTERM was intermittently ignored.
        while not stop.wait(timeout=0.2):
            pass
    finally:
        cloud.stop()
    print("localcloud stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
