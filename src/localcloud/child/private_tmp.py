"""Each Lambda execution environment gets a /tmp of its own, as big as its ``EphemeralStorage``.

On AWS every execution environment has its own ``/tmp`` (512 MB unless the function's
``EphemeralStorage`` asks for 512-10240 MB), gone with the environment; writing past it fails
with ENOSPC (https://docs.aws.amazon.com/lambda/latest/dg/configuration-ephemeral-storage.html).
Here environments are processes on one machine, so two ways:

* **private** (Linux, where user and mount namespaces may be made: as root, or unprivileged where
  the system allows it): the environment's leader (:mod:`localcloud.child.process_group`, single-threaded)
  enters a new mount namespace (and a user namespace when not root), and mounts a tmpfs of the
  function's size on ``/tmp``. Literal ``/tmp/x`` paths are then the environment's alone, writing
  past the size fails with ENOSPC, and the tmpfs goes when the environment's last process does.
  The folders that were in the machine's ``/tmp`` when the environment started (the cloud's own
  workdir, where the function's code is; a test's ``tmp_path``) are bind-mounted back in, so those
  stay shared; files and new names in ``/tmp`` are private. The folder of the cloud's keys
  (:mod:`localcloud.server.keys`) is covered by an empty read-only tmpfs there: a handler, which runs as
  the cloud's owner, cannot read the root keys.
* **folder** (the fallback: macOS, Ubuntu 24.04's AppArmor default for unprivileged users, or
  ``LOCALCLOUD_PRIVATE_TMP=0``): ``TMPDIR``/``TEMP``/``TMP`` point at a folder of the
  environment's own under the cloud's workdir, removed when the environment ends. ``tempfile``
  and everything honouring ``TMPDIR`` is private, but a literal ``/tmp/x`` is the machine's, and
  the size is not enforced. The cloud says so once on stderr; a handler sees
  ``LOCALCLOUD_PRIVATE_TMP=0`` in its environment (``1`` when private).

Only the standard library (the leader loads this by path, as it does localcloud.child.sandbox).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import uuid
from pathlib import Path

SIZE_ENV = "LOCALCLOUD_TMP_MB"  # set for the leader: make /tmp private, this big (MB)
HIDE_ENV = "LOCALCLOUD_HIDE"  # folders (os.pathsep) the environment must not see: the cloud's key folder
MODE_ENV = "LOCALCLOUD_PRIVATE_TMP"  # "0": force the folder fallback; what handlers see: "1" or "0"
DEFAULT_MB = 512
_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_BIND, _MS_REC, _MS_PRIVATE = 1, 2, 4, 4096, 16384, 1 << 18


class NamespaceError(OSError):
    """A user or mount namespace, or a mount in it, could not be made."""


def enter(size_mb: int) -> None:
    """In a single-threaded leader, before it starts the command: a new mount namespace, /tmp a tmpfs.

    Raises:
        NamespaceError: the system refuses (no namespaces, AppArmor, a seccomp filter, ...).
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    def check(result: int, what: str) -> None:
        if result != 0:
            errno = ctypes.get_errno()
            raise NamespaceError(errno, f"{what}: {os.strerror(errno)}")

    uid, gid = os.geteuid(), os.getegid()
    shared = sorted(entry.name for entry in os.scandir("/tmp") if entry.is_dir(follow_symlinks=False))
    check(libc.unshare(_CLONE_NEWNS | (0 if uid == 0 else _CLONE_NEWUSER)), "unshare")
    if uid != 0:  # map ourselves to ourselves: files keep their owner, the command keeps its uid
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w") as file:
                file.write(text)
    # Nothing mounted here may reach the machine's own namespace (a shared "/" would propagate it).
    check(libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "mount --make-rprivate /")
    host_tmp = os.open("/tmp", os.O_RDONLY | os.O_DIRECTORY)  # the machine's /tmp, reachable below the tmpfs
    try:
        check(libc.mount(b"tmpfs", b"/tmp", b"tmpfs", _MS_NOSUID | _MS_NODEV,
                         f"size={int(size_mb)}m,mode=1777".encode()), "mount tmpfs on /tmp")
        for name in shared:
            target = f"/tmp/{name}"
            try:
                os.mkdir(target)
            except OSError:
                continue
            source = f"/proc/self/fd/{host_tmp}/{name}".encode()
            if libc.mount(source, target.encode(), None, _MS_BIND | _MS_REC, None) != 0:
                os.rmdir(target)  # gone meanwhile, or not ours to see: left out
    finally:
        os.close(host_tmp)
    for folder in filter(None, os.environ.pop(HIDE_ENV, "").split(os.pathsep)):
        if os.path.isdir(folder):  # an empty, read-only folder in its place
            check(libc.mount(b"tmpfs", folder.encode(), b"tmpfs", _MS_RDONLY | _MS_NOSUID | _MS_NODEV,
                             b"size=4k,mode=0500"), f"mount tmpfs on {folder}")


def probe() -> tuple[bool, str]:
    """Whether :func:`enter` works here (tried in a throwaway process); and, if not, why."""
    if os.environ.get(MODE_ENV) == "0":
        return False, f"{MODE_ENV}=0"
    if not sys.platform.startswith("linux"):
        return False, f"no mount namespaces on {sys.platform}"
    try:
        done = subprocess.run([sys.executable, "-I", "-S", os.path.abspath(__file__), "--probe"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return False, str(error)
    return done.returncode == 0, done.stderr.strip()


class EnvironmentTmp:
    """The runtime's side: what each environment's variables say of /tmp, and its folder.

    Args:
        root: where the fallback's per-environment folders go (under the cloud's workdir).
        hide: folders a private environment sees empty (the cloud's key folder).
    """

    def __init__(self, root: Path, hide: tuple[str, ...] = ()) -> None:
        self.root = root
        self.hide = os.pathsep.join(hide)  # folders a private environment must not see
        self._private = False
        self._probed = threading.Event()
        # In the background: a Python started for the probe is ~0.1 s the cloud's start need not wait for.
        threading.Thread(target=self._probe, daemon=True, name="localcloud-private-tmp").start()

    def _probe(self) -> None:
        try:
            self._private, reason = probe()
            if not self._private:
                print(f"localcloud: note: Lambda environments share the machine's /tmp ({reason}); each gets "
                      "TMPDIR of its own, without EphemeralStorage's size limit", file=sys.stderr, flush=True)
        finally:
            self._probed.set()

    @property
    def private(self) -> bool:
        """Whether environments get a private /tmp (waits for the probe, started with the runtime)."""
        self._probed.wait()
        return self._private

    def spare_env(self) -> dict[str, str]:
        """What a spare environment starts with (a spare serves only functions of the default size)."""
        return {SIZE_ENV: str(DEFAULT_MB), HIDE_ENV: self.hide} if self.private else {}

    def prepare(self, size_mb: int) -> tuple[dict[str, str], Path | None]:
        """The variables for a new environment of ``size_mb``, and the folder to remove when it ends."""
        if self.private:
            return {SIZE_ENV: str(size_mb), HIDE_ENV: self.hide, MODE_ENV: "1", "TMPDIR": "/tmp", "TEMP": "/tmp",
                    "TMP": "/tmp"}, None
        folder = self.root / uuid.uuid4().hex
        folder.mkdir(parents=True)
        return {MODE_ENV: "0", "TMPDIR": str(folder), "TEMP": str(folder), "TMP": str(folder)}, folder


def remove(folder: Path | None) -> None:
    """Remove an environment's fallback folder (its processes are gone)."""
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def _probe_main() -> int:
    try:
        enter(1)
        with open("/tmp/.localcloud-probe", "w") as file:
            file.write("x")
    except OSError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__" and sys.argv[1:] == ["--probe"]:
    sys.exit(_probe_main())
