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
import signal
import socket
import sys
import threading

from localcloud import options
from localcloud.common import isolation


def _port_in_use(host: str, port: int) -> bool:
    """A quick bind test before importing moto (seconds on a busy machine): a taken port fails fast."""
    if not port:
        return False
    try:
        socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET).close()
    except OSError as error:
        return error.errno == errno.EADDRINUSE
    return False


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
    try:
        opts = options.parse(argv, os.environ, description=__doc__)
    except options.OptionError as error:  # one line, no usage text: the message names the option
        print(f"localcloud: {error}", file=sys.stderr, flush=True)
        return 2
    for note in opts.notes:
        print(f"localcloud: note: {note}", file=sys.stderr, flush=True)

    in_use = f"localcloud: port {opts.port} on {opts.host} is already in use by another program; " \
             "choose another --port (0 picks a free one)"
    if _port_in_use(opts.host, opts.port):
        print(in_use, file=sys.stderr, flush=True)
        return 1
    if opts.data_port and (opts.data_port == opts.port or _port_in_use(opts.host, opts.data_port)):
        print(f"localcloud: data port {opts.data_port} on {opts.host} is already in use; choose another "
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
        cloud = LocalCloud(**opts.cloud_kwargs(), runtime_file=True)
    except KeysError as error:  # keys handed over in the environment that are not keys
        print(f"localcloud: {error}", file=sys.stderr, flush=True)
        return 2
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
    if opts.warm_stepfunctions:  # after the ready line: the runner's first kernel does not wait for it
        from localcloud import moto_seams
        moto_seams.warm_in_background()
    if opts.warm_clients:
        from localcloud.common import clients
        threading.Thread(target=clients.warm, args=("s3",), daemon=True, name="localcloud-warm-clients").start()
    try:
        # Wait in short slices: Python runs signal handlers only in the main thread, and when the
        # kernel delivers SIGTERM to another thread (a Lambda/job thread), an untimed wait() is never
        # woken, so the handler would not run and SIGTERM would be ignored now and then. The slices also
        # notice a parent that died without telling us (SIGKILL): we are re-parented, getppid changes.
        while not stop.wait(timeout=0.2):
            if opts.exit_with_parent and os.getppid() != parent:
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
