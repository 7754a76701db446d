"""The local cloud's own access keys: issued at start, kept where only their owner can read them.

Loopback is not a boundary between the users of one machine: any of them can connect to the cloud's
port. So the cloud answers only requests signed (AWS Signature Version 4) with keys it issued: its
root keys, made at start, and the temporary keys its STS hands out (the roles' keys that Lambda
handlers and jobs get), as AWS answers only keys it issued. The root keys reach their owner as
Jupyter's token does: in a runtime file of mode 0600 in a folder of mode 0700
(``~/.local/share/localcloud/runtime/localcloud-<port>.json``, or ``$LOCALCLOUD_RUNTIME_DIR``), which
``python -m localcloud env`` turns into shell lines. A parent that must know the keys before the cloud
starts (the series runner starts kernels meanwhile) hands them over in :data:`ENV_KEY_ID` and
:data:`ENV_SECRET`; the cloud removes both from its environment, so no child it starts inherits them.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import stat
import string
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ENV_KEY_ID, ENV_SECRET = "LOCALCLOUD_ACCESS_KEY_ID", "LOCALCLOUD_SECRET_ACCESS_KEY"
ENV_RUNTIME_DIR = "LOCALCLOUD_RUNTIME_DIR"
KEY_ID_PREFIX = "AKIALOCAL"  # 20 characters in all, as AWS's (moto reads a key id of that shape)
_KEY_ID = re.compile(r"[A-Z0-9]{20}")
_SECRET = re.compile(r"[A-Za-z0-9/+=_-]{30,128}")


class KeysError(ValueError):
    """Keys handed to the cloud, or its runtime folder, are unusable (the message names what and why)."""


@dataclass(frozen=True)
class CloudKeys:
    """The root access keys of one running cloud."""

    access_key_id: str
    secret_access_key: str

    @classmethod
    def generate(cls) -> CloudKeys:
        alphabet = string.ascii_uppercase + string.digits
        key_id = KEY_ID_PREFIX + "".join(secrets.choice(alphabet) for _ in range(20 - len(KEY_ID_PREFIX)))
        return cls(key_id, secrets.token_urlsafe(30))

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> CloudKeys | None:
        """The keys a parent handed over in :data:`ENV_KEY_ID`/:data:`ENV_SECRET` (removed from ``environ``).

        Raises:
            KeysError: only one of the two is set, or one is not shaped like an AWS key.
        """
        environ = os.environ if environ is None else environ
        key_id, secret = environ.pop(ENV_KEY_ID, None), environ.pop(ENV_SECRET, None)
        if key_id is None and secret is None:
            return None
        if not key_id or not secret:
            raise KeysError(f"set both {ENV_KEY_ID} and {ENV_SECRET}, or neither (the cloud then makes its own)")
        if not _KEY_ID.fullmatch(key_id):
            raise KeysError(f"{ENV_KEY_ID} must be 20 capital letters and digits, as an AWS access key id")
        if not _SECRET.fullmatch(secret):
            raise KeysError(f"{ENV_SECRET} must be 30-128 characters of A-Z, a-z, 0-9, /, +, =, _ or -")
        return cls(key_id, secret)

    def environment(self) -> dict[str, str]:
        """As a process's ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` (the cloud's own clients)."""
        return {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key}


def runtime_dir() -> Path:
    """``$LOCALCLOUD_RUNTIME_DIR``, else ``$XDG_DATA_HOME/localcloud/runtime`` (``~/.local/share`` by default)."""
    if os.environ.get(ENV_RUNTIME_DIR):
        return Path(os.environ[ENV_RUNTIME_DIR]).expanduser()
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data_home / "localcloud" / "runtime"


def check_runtime_dir() -> Path:
    """The runtime folder (:func:`runtime_dir`), made private if missing; refused as :func:`_private_dir` says."""
    return _private_dir(runtime_dir())


def _private_dir(folder: Path) -> Path:
    """``folder``, made with mode 0700 if missing; refused unless it is the user's own and no one else's.

    Raises:
        KeysError: it belongs to another user, or other users may read or write it.
    """
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = folder.stat()
    if info.st_uid != os.getuid():
        raise KeysError(f"{folder} belongs to another user (uid {info.st_uid}); set {ENV_RUNTIME_DIR} to a "
                        "folder of your own")
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeysError(f"{folder} is open to other users (mode {stat.filemode(info.st_mode)}); "
                        f"run `chmod 700 {shlex.quote(str(folder))}` or set {ENV_RUNTIME_DIR}")
    return folder


def runtime_file(port: int, folder: Path | None = None) -> Path:
    return (folder or runtime_dir()) / f"localcloud-{port}.json"


def write_runtime_file(port: int, url: str, keys: CloudKeys, data_url: str = "", region: str = "") -> Path:
    """Write what a client needs to reach the cloud (mode 0600, created so: never readable by others).

    Raises:
        KeysError: the runtime folder is not private (see :func:`_private_dir`).
    """
    path = runtime_file(port, _private_dir(runtime_dir()))
    record = {"url": url, "data_url": data_url or None, "pid": os.getpid(),
              "aws_access_key_id": keys.access_key_id, "aws_secret_access_key": keys.secret_access_key}
    if region:
        record["region"] = region
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(record, out)
    os.replace(staging, path)
    return path


def read_runtime_file(endpoint: str | None) -> dict[str, str]:
    """The record of the cloud at ``endpoint`` (``http://127.0.0.1:PORT``), or of the only one running.

    Raises:
        KeysError: no such cloud runs for this user (or several do and none was named).
    """
    folder = runtime_dir()
    if endpoint:
        port = urlsplit(endpoint).port
        if port is None:
            raise KeysError(f"--endpoint {endpoint!r}: expected http://127.0.0.1:PORT")
        candidates = [runtime_file(port, folder)]
    else:
        candidates = sorted(folder.glob("localcloud-*.json"))
    records = []
    for path in candidates:
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if _alive(record.get("pid")):
            records.append(record)
    if len(records) == 1:
        return records[0]
    if not records:
        where = f"at {endpoint}" if endpoint else "for this user"
        raise KeysError(f"no local cloud runs {where} (no live record in {folder}); start one with "
                        "`python -m localcloud --port 5050`")
    raise KeysError("several local clouds run (" + ", ".join(r["url"] for r in records) + "): name one with "
                    "--endpoint URL")


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def shell_lines(record: dict[str, str]) -> list[str]:
    """``export`` lines pointing boto3, the AWS CLI and SDKs (the SageMaker SDK too) at the cloud of ``record``."""
    from localcloud.client.aws_urls import client_environment

    values = client_environment(record["url"], record["aws_access_key_id"], record["aws_secret_access_key"],
                                record.get("region", ""))
    lines = [f"export {name}={shlex.quote(value)}" for name, value in values.items()]
    # a session token or profile left from real AWS would be sent along, and refused
    return [*lines, "unset AWS_SESSION_TOKEN AWS_PROFILE"]
