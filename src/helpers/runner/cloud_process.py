"""The local cloud the series runner starts: ``python -m localcloud`` as a separate process.

The runner never imports the cloud (``helpers`` stays ignorant of which cloud answers): it starts it as a
learner would in a terminal and reads its ready line. It imports only ``localcloud.client.aws_urls`` (standard
library), for the variables ``python -m localcloud env`` prints, which its kernels get too.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import string
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from helpers.config import ENV_ENDPOINT, ENV_LOCAL_KEY_ID, ENV_LOCAL_SECRET
from helpers.paths import PROJECT_ROOT

if TYPE_CHECKING:
    from helpers.runner.kernels import KernelStarter

_READY = re.compile(r"ready at (http://\S+) \(data at (\S+)\)")
# how `python -m localcloud` takes keys from the process that starts it (localcloud.server.keys)
_CLOUD_KEY_ID, _CLOUD_SECRET = "LOCALCLOUD_ACCESS_KEY_ID", "LOCALCLOUD_SECRET_ACCESS_KEY"


def new_keys() -> dict[str, str]:
    """Root keys for a cloud about to start, as the kernels' variables: the kernels start before the cloud."""
    alphabet = string.ascii_uppercase + string.digits
    return {ENV_LOCAL_KEY_ID: "AKIALOCAL" + "".join(secrets.choice(alphabet) for _ in range(11)),
            ENV_LOCAL_SECRET: secrets.token_urlsafe(30)}


def use_keys_of(endpoint: str) -> None:
    """Set the kernels' key variables for the running cloud at ``endpoint``: its owner's runtime file says them;
    keys already in the environment are kept only when there is no such file (a cloud started elsewhere).

    Raises:
        RuntimeError: neither says (the message says what to do).
    """
    try:
        os.environ.update(keys_of(endpoint))
    except RuntimeError:
        if not (os.environ.get(ENV_LOCAL_KEY_ID) and os.environ.get(ENV_LOCAL_SECRET)):
            raise


def keys_of(endpoint: str) -> dict[str, str]:
    """The keys of a cloud the user started (``python -m localcloud env`` reads its owner's runtime file).

    Raises:
        RuntimeError: no cloud of this user runs at ``endpoint`` (the message says what to do).
    """
    done = subprocess.run([sys.executable, "-m", "localcloud", "env", "--endpoint", endpoint], capture_output=True,
                          text=True, cwd=PROJECT_ROOT, timeout=60)
    found = dict(re.findall(r"^export (AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY)=(\S+)$", done.stdout, re.M))
    if done.returncode or len(found) != 2:
        raise RuntimeError(done.stderr.strip() or f"no keys for the local cloud at {endpoint}")
    return {ENV_LOCAL_KEY_ID: found["AWS_ACCESS_KEY_ID"], ENV_LOCAL_SECRET: found["AWS_SECRET_ACCESS_KEY"]}


@dataclass
class LocalCloudProcess:
    """``python -m localcloud`` on a free port, stopped with SIGTERM; it stops itself if the runner dies."""

    process: subprocess.Popen
    url: str
    data_url: str
    keys: dict[str, str]  # its root keys, as AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY

    @classmethod
    def start(cls, timeout: float = 60, extra_args: list[str] | tuple[str, ...] = (),
              ports: tuple[int, int] = (0, 0), keys: dict[str, str] | None = None) -> LocalCloudProcess:
        """Start it; ``extra_args`` are more ``python -m localcloud`` options (``--account``, ``--image``, ``--mirror``).

        ``ports``: the cloud's and its data server's TCP ports (0: any free one, told in the ready line).
        ``keys``: its root keys (:func:`new_keys`); the process's own ``PIPELINE_DREAMS_LOCAL_*`` ones by default.

        Raises:
            RuntimeError: it did not start; the message holds what it printed on stderr (a refused option).
        """
        # --exit-with-parent: a runner killed with SIGKILL cannot stop its cloud; the cloud notices instead.
        # stderr goes to a file (not a pipe nobody reads, which would block the cloud once full) so that
        # a refusal of an option can be shown.
        errors = tempfile.TemporaryFile("w+")
        keys = keys or {name: os.environ[name] for name in (ENV_LOCAL_KEY_ID, ENV_LOCAL_SECRET) if name in os.environ}
        env = dict(os.environ)
        if len(keys) == 2:  # given in the environment (never on the command line, which other users can read)
            env.update({_CLOUD_KEY_ID: keys[ENV_LOCAL_KEY_ID], _CLOUD_SECRET: keys[ENV_LOCAL_SECRET]})
        process = subprocess.Popen([sys.executable, "-m", "localcloud", "--port", str(ports[0]),
                                    "--data-port", str(ports[1]), "--exit-with-parent", *extra_args],
                                   cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=errors, text=True, env=env)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                line = process.stdout.readline()
                match = _READY.search(line)
                if match:
                    return cls(process, match.group(1), match.group(2), _keys_in(line))
                if not line and process.poll() is not None:
                    break
            process.kill()
            process.wait()
            errors.seek(0)
            said = " ".join(errors.read().strip().splitlines()[-3:])
            raise RuntimeError("the local cloud did not start" + (f": {said}" if said else
                               ": run `python -m localcloud --port 0` to see why"))
        finally:
            errors.close()  # the cloud keeps its own descriptor; the file goes when both are closed

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.process.stdout.close()


def _keys_in(ready_line: str) -> dict[str, str]:
    """The keys in the runtime file the ready line names ("… keys in FILE"; a file only this user can read)."""
    match = re.search(r"keys in (\S+)", ready_line)
    record = json.loads(Path(match.group(1)).read_text()) if match else {}
    return {"AWS_ACCESS_KEY_ID": record.get("aws_access_key_id", ""),
            "AWS_SECRET_ACCESS_KEY": record.get("aws_secret_access_key", "")}


def start_cloud(cloud_args: list[str] | tuple[str, ...], kernels: KernelStarter, region: str = "") -> LocalCloudProcess:
    """The run's local cloud, on two ports picked here, so that the first kernel starts while the cloud does.

    The kernels get the cloud's URLs from the environment at their start, and the cloud takes ~1 s to
    import moto; knowing the ports beforehand lets both start at once. If a port was taken in between
    (another program), the cloud is started again on ports it picks itself, and the kernel with it.

    Raises:
        RuntimeError: the cloud did not start (the message holds what it printed).
    """
    os.environ.update(new_keys())  # the kernels' (started next) and the cloud's
    # the series reaches Step Functions in notebook 05, and its first job in 03: the cloud builds its parser's
    # tables and reads the S3 model of its jobs' clients meanwhile
    cloud_args = ["--warm-stepfunctions", "--warm-clients", *cloud_args]
    try:
        ports = free_ports(2)
        os.environ[ENV_ENDPOINT] = f"http://127.0.0.1:{ports[0]}"
        point_clients_at(os.environ[ENV_ENDPOINT], region)
        kernels.start_next()
        cloud = LocalCloudProcess.start(extra_args=cloud_args, ports=ports)
        if cloud.url == os.environ[ENV_ENDPOINT]:
            return cloud
        cloud.stop()  # not where the kernel was told (a --host among the cloud args): start over
    except RuntimeError:
        pass
    kernels.discard()
    cloud = LocalCloudProcess.start(extra_args=cloud_args)
    os.environ[ENV_ENDPOINT] = cloud.url
    point_clients_at(cloud.url, region)
    return cloud


def point_clients_at(endpoint: str, region: str) -> None:
    """Set what ``python -m localcloud env`` prints for the kernels started next (the cloud's URL and keys, the
    SageMaker SDK's settings, ``region``): code written for AWS (boto3's default session, the SageMaker SDK)
    reaches the cloud with nothing written for it. :data:`CLIENT_VARIABLES` are the names it may change."""
    from localcloud.client.aws_urls import client_environment

    os.environ.update(client_environment(endpoint, os.environ.get(ENV_LOCAL_KEY_ID, ""),
                                         os.environ.get(ENV_LOCAL_SECRET, ""), region))
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE"):  # a token or profile left from AWS would be sent, and refused
        os.environ.pop(name, None)


CLIENT_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION",
                    "AWS_SESSION_TOKEN", "AWS_PROFILE", "LOCALCLOUD_REDIRECT_AWS_URLS", "SAGEMAKER_USER_CONFIG_OVERRIDE",
                    "NO_PROXY", "no_proxy", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")


def free_ports(count: int) -> tuple[int, ...]:
    """``count`` distinct TCP ports on 127.0.0.1 that were free a moment ago."""
    sockets = [socket.create_server(("127.0.0.1", 0)) for _ in range(count)]
    try:
        return tuple(s.getsockname()[1] for s in sockets)
    finally:
        for s in sockets:
            s.close()
