"""Whole process trees, daemons that left their process group included, end with their sandbox.

A Lambda environment or a job runs under a small leader (:mod:`localcloud.child.process_group`, or the
leaders :mod:`localcloud.child.warm_template` forks). Killing the leader's process group is not enough:
a daemon that forks, calls ``setsid()`` and forks again is in a session and group of its own, and
once its middle process exits, Linux re-parents it to init, outside every tree the cloud knows.

So each leader makes itself a *child subreaper* (``prctl(PR_SET_CHILD_SUBREAPER)``, Linux 3.4+,
no privileges needed): every orphan below it is re-parented to the leader instead of init, so the
whole sandbox stays the leader's descendants, whatever sessions or groups it makes. Ending a
sandbox is then :func:`kill_tree`: SIGKILL every descendant of the leader (found through
``/proc/PID/stat``), again until none runs, while the leader lives to collect orphans (the cloud
stops it with SIGSTOP first so that it cannot exit midway). The leaders do this themselves when
their command ends (a container ends with its main process) and when the cloud goes (SIGTERM, or
SIGKILL, noticed within half a second), so nothing depends on the cloud being alive.

Only the standard library: the leader imports this module by path, with ``python -I -S``.
Elsewhere (macOS: no prctl, no /proc) both calls do nothing and the process group alone is killed.

Why not the others: the cloud itself as the subreaper would have to reap orphans without taking the
exit statuses ``subprocess`` waits for, and could not tell whose an orphan is; an environment variable
marking a sandbox's processes is lost by whatever starts with a clean environment, and a forked warm job
shows its template's; cgroups need a delegated, writable v2 hierarchy (root, or a systemd user slice; not
on macOS), which a learner's machine may not give, while the subreaper needs no privilege.

Not covered: a process whose parent chain leaves the leader by other means than orphaning (started
through another service: ``systemd-run``, ``at``, ``ssh localhost``), or a leader killed by someone
else (the OOM killer, a ``kill -9`` of the leader itself) before it could end its tree.
"""

from __future__ import annotations

import os
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
_ROUNDS = 50  # a fork bomb is not outrun forever: after this many sweeps kill_tree gives up
_DEADLINE_SECONDS = 5.0


def become_subreaper() -> bool:
    """Make this process the reaper of every orphan below it; False where the system has no such thing."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state letter) of every process this user can see."""
    table: dict[int, tuple[int, str]] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return table
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()  # the command name may hold spaces and ")"
        except (OSError, IndexError):
            continue  # gone meanwhile
        table[int(name)] = (int(fields[1]), fields[0].decode())
    return table


def descendants(root: int) -> list[int]:
    """The running (not zombie) descendants of ``root``, parents before children."""
    table = _processes()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found, queue = [], list(children.get(root, ()))
    while queue:
        pid = queue.pop(0)
        queue.extend(children.get(pid, ()))
        if table[pid][1] != "Z":
            found.append(pid)
    return found


def kill_tree(root: int) -> int:
    """SIGKILL every descendant of ``root`` (not ``root``), sweeping until none runs; returns how many.

    ``root`` should be alive and a subreaper (a leader, or a leader the cloud stopped): then what a
    killed process forked meanwhile is re-parented to it and found by the next sweep.
    """
    killed: set[int] = set()
    deadline = time.monotonic() + _DEADLINE_SECONDS
    for _ in range(_ROUNDS):
        pids = descendants(root)
        if not pids or time.monotonic() > deadline:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except (ProcessLookupError, PermissionError):
                pass  # gone, or another user's (a setuid program): not ours to end
        time.sleep(0.005)  # let the killed exit and the kernel re-parent what they left
    return len(killed)


def end(leader: int) -> None:
    """From the cloud: freeze ``leader`` (so it stays there, a subreaper), then kill its descendants.

    The caller kills the leader's group (the leader included) afterwards.
    """
    if not sys.platform.startswith("linux") or leader <= 0:
        return
    try:
        if os.getpgid(leader) != leader:  # not a leader (a pid reused after a warm leader was reaped): not ours
            return
        os.kill(leader, signal.SIGSTOP)
    except (ProcessLookupError, PermissionError):
        return
    kill_tree(leader)
