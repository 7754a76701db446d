"""``python -m localcloud --port PORT [--host 127.0.0.1]``: serve the local cloud until SIGTERM/SIGINT/SIGHUP.

It answers only loopback requests that no web page of another origin made (see localcloud.server.guard), signed
with keys it issued (see localcloud.server.signing): its root keys are in a runtime file only you can read, and
``eval "$(python -m localcloud env)"`` points a shell's boto3, AWS CLI and SDKs at it.
Code written for AWS runs unmodified with ``--account ID`` (the account its ARNs name),
``--image REPO=DIR`` (its own Dockerfile folders) and ``--mirror URL=FILE`` (the URLs it downloads).
"""

from __future__ import annotations

import argparse
import errno
import os
import re
import signal
import socket
import sys
import threading
from pathlib import Path

from localcloud.common import isolation

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


def _pairs(values: list[str], flag: str, what: str, last: bool = False) -> dict[str, str]:
    """``NAME=VALUE`` options as a dict; a malformed or repeated one is a ValueError naming it.

    ``last``: split at the last "=" (a URL may hold "=" in its query; the file is what follows the last one).
    """
    pairs: dict[str, str] = {}
    for value in values:
        name, sep, target = value.rpartition("=") if last else value.partition("=")
        if not sep or not name or not target:
            raise ValueError(f"{flag} {value!r}: expected {what}")
        if name in pairs:
            raise ValueError(f"{flag} {name} given twice")
        pairs[name] = target
    return pairs


def _own_code_options(args: argparse.Namespace) -> tuple[dict[str, Path], dict[str, Path], list[str]]:
    """Check ``--account``, ``--image`` and ``--mirror`` before anything starts.

    Returns:
        (images, mirrors, notes): repository -> folder, URL -> file, version notes worth printing.

    Raises:
        ValueError: one line naming the option and what is wrong with it.
    """
    from localcloud.common.images import ImageCatalog, ImageNotFound
    from localcloud.child.mirror import is_local, url_key

    if args.account is not None and not re.fullmatch(r"[0-9]{12}", args.account):
        raise ValueError(f"--account {args.account!r}: an AWS account id is 12 digits")
    images = {name: Path(folder).expanduser().resolve()
              for name, folder in _pairs(args.image, "--image", "REPOSITORY=DIR").items()}
    mirrors = {}
    for url, file in _pairs(args.mirror, "--mirror", "URL=FILE", last=True).items():
        key = url_key(url)
        if key is None or is_local(key[1]):
            raise ValueError(f"--mirror {url}: expected an http(s) URL of a non-loopback host")
        path = Path(file).expanduser().resolve()
        if not path.is_file():
            raise ValueError(f"--mirror {url}={file}: no such file")
        mirrors[url] = path
    try:
        notes = ImageCatalog(args.images_dir, images).check()
    except ImageNotFound as error:
        raise ValueError(str(error)) from None
    return images, mirrors, notes


def env_main(argv: list[str]) -> int:
    """``python -m localcloud env [--endpoint URL]``: the shell lines that point a process at a running cloud."""
    from localcloud.server.keys import KeysError, read_runtime_file, shell_lines

    parser = argparse.ArgumentParser(prog="python -m localcloud env", allow_abbrev=False, description=(
        "Print the export lines (AWS_ENDPOINT_URL and the cloud's keys) for a local cloud you started; "
        'use as eval "$(python -m localcloud env)".'))
    parser.add_argument("--endpoint", metavar="URL", help="the cloud's URL (needed when several run)")
    parser.add_argument("--region", help="also export AWS_DEFAULT_REGION")
    args = parser.parse_args(argv)
    try:
        record = read_runtime_file(args.endpoint)
    except KeysError as error:
        print(f"localcloud env: {error}", file=sys.stderr, flush=True)
        return 1
    if args.region:
        record = {**record, "region": args.region}
    print("\n".join(shell_lines(record)), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["env"]:
        return env_main(argv[1:])
    # allow_abbrev=False: --image must never be taken as an abbreviation of --images-dir.
    parser = argparse.ArgumentParser(prog="python -m localcloud", description=__doc__, allow_abbrev=False)
    parser.add_argument("--port", type=int, default=5050, help="TCP port (0: any free port); default 5050")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on; default 127.0.0.1")
    parser.add_argument("--images-dir", type=Path, default=PROJECT_ROOT / "docker",
                        help="folder of docker/<image>/Dockerfile that image URIs resolve to")
    parser.add_argument("--data-dir", type=Path, default=PROJECT_ROOT / "data",
                        help="folder served over HTTP for offline downloads")
    parser.add_argument("--data-port", type=int, default=0,
                        help="TCP port of the data folder's server; default 0 (any free port)")
    parser.add_argument("--allow-origin", action="append", default=[], metavar="URL",
                        help="a web origin (e.g. JupyterLab's http://127.0.0.1:8888) whose pages may call the "
                             "cloud; repeatable. Every other Origin is refused")
    parser.add_argument("--exit-with-parent", action="store_true",
                        help="stop (cleanly) when the process that started this one is gone, even if it was killed")
    parser.add_argument("--lambda-idle-seconds", type=float, default=300.0,
                        help="stop a warm Lambda environment unused for this long; default 300")
    parser.add_argument("--lambda-concurrency", type=int, default=1000, metavar="N",
                        help="Lambda invocations that may run at once, all functions together (AWS's account "
                             "concurrency); past it a synchronous Invoke answers 429 TooManyRequestsException. "
                             "Each running invocation is a Python process; default 1000")
    parser.add_argument("--no-iam", action="store_true",
                        help="do not enforce IAM (moto's permissiveness); also LOCALCLOUD_IAM=0")
    parser.add_argument("--account", metavar="ID",
                        help="the 12-digit account id the cloud plays (ARNs, sts get-caller-identity, ECR "
                             "registry host), so code with hard-coded ARNs finds the roles it names")
    parser.add_argument("--image", action="append", default=[], metavar="REPO=DIR",
                        help="ECR repository REPO's images are built from DIR/Dockerfile with DIR as the build "
                             "context, as `docker build DIR`; repeatable")
    parser.add_argument("--mirror", action="append", default=[], metavar="URL=FILE",
                        help="Lambda handlers and jobs fetching URL get FILE's bytes with a 200; any other "
                             "non-loopback URL fails at once; repeatable")
    parser.add_argument("--cold-jobs", action="store_true",
                        help="start a fresh Python for every processing/training job instead of forking a "
                             "warm one (slower; LOCALCLOUD_COLD_JOBS=1 does the same)")
    parser.add_argument("--warm-jobs", action="store_true",
                        help="fork processing/training jobs from a process that has imported pandas and "
                             "scikit-learn (the default; overrides LOCALCLOUD_COLD_JOBS)")
    parser.add_argument("--warm-stepfunctions", action="store_true",
                        help="once ready, parse a sample state machine in the background so that the first "
                             "CreateStateMachine does not pay for building the parser's tables (~0.5 s)")
    parser.add_argument("--warm-clients", action="store_true",
                        help="once ready, read the S3 model the cloud's own clients use (jobs' transfers) in the "
                             "background, so that the first job does not pay for it (~0.16 s)")
    args = parser.parse_args(argv)
    try:
        images, mirrors, notes = _own_code_options(args)
    except ValueError as error:  # one line, no usage text: the message names the option
        print(f"localcloud: {error}", file=sys.stderr, flush=True)
        return 2
    for note in notes:
        print(f"localcloud: note: {note}", file=sys.stderr, flush=True)

    in_use = f"localcloud: port {args.port} on {args.host} is already in use by another program; " \
             "choose another --port (0 picks a free one)"
    if _port_in_use(args.host, args.port):
        print(in_use, file=sys.stderr, flush=True)
        return 1
    if args.data_port and (args.data_port == args.port or _port_in_use(args.host, args.data_port)):
        print(f"localcloud: data port {args.data_port} on {args.host} is already in use; choose another "
              "--data-port (0 picks a free one)", file=sys.stderr, flush=True)
        return 1
    isolation.isolate()  # before moto's imports build botocore sessions that read a profile or a proxy
    from localcloud.cloud import LocalCloud, PortInUse  # imports moto
    from localcloud.server.keys import KeysError

    parent = os.getppid()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())
    try:
        cloud = LocalCloud(host=args.host, port=args.port, images_dir=args.images_dir, data_dir=args.data_dir,
                           data_port=args.data_port,
                           allowed_origins=args.allow_origin, lambda_idle_seconds=args.lambda_idle_seconds,
                           lambda_concurrency=args.lambda_concurrency,
                           iam=False if args.no_iam else None, account=args.account, images=images,
                           mirrors=mirrors,
                           cold_jobs=True if args.cold_jobs else False if args.warm_jobs else None,
                           runtime_file=True)
    except KeysError as error:  # keys handed over in the environment that are not keys
        print(f"localcloud: {error}", file=sys.stderr, flush=True)
        return 2
    except ValueError as error:  # a malformed --allow-origin
        parser.error(str(error))
    try:
        cloud.start()
    except KeysError as error:  # the runtime folder is not private
        print(f"localcloud: {error}", file=sys.stderr, flush=True)
        return 2
    except PortInUse as error:  # taken between the quick test and the real bind
        print(f"localcloud: {error.strerror}" if "data port" in str(error) else in_use, file=sys.stderr, flush=True)
        return 1
    print(f"localcloud ready at {cloud.url} (data at {cloud.data_url or '-'}) "
          f"IAM {'enforced' if cloud.iam else 'not enforced (--no-iam)'}; keys in {cloud.runtime_file}", flush=True)
    if args.warm_stepfunctions:  # after the ready line: the runner's first kernel does not wait for it
        from localcloud import moto_seams
        moto_seams.warm_in_background()
    if args.warm_clients:
        from localcloud.common import clients
        threading.Thread(target=clients.warm, args=("s3",), daemon=True, name="localcloud-warm-clients").start()
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
    code = main()
    # The cloud has stopped (jobs, Lambda environments, servers, scratch folder): skip the interpreter's
    # teardown of moto's thousands of objects, ~0.5 s that every runner and test waited for at each stop.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code or 0)
