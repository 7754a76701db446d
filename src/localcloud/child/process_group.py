"""Job processes and Lambda environments as process groups that cannot outlive the cloud.

:func:`start` runs a command through a small leader (this file, run as a script) in a new
session, so the command and everything it starts (a ``bash -c 'sleep … &'``, a handler's
``subprocess``) share one process group, as they would share a container on AWS. :func:`kill`
ends the whole group; it is used for timeouts, Stop* requests, idle environments and shutdown.

The leader also watches its parent: if the cloud dies without stopping it (SIGKILL, a crash),
the leader is re-parented and kills its group within half a second. ``PR_SET_PDEATHSIG`` would
not do: Linux sends it when the *thread* that forked exits, and Lambda environments are started
from request threads that end long before the environment does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

if __package__:
    from localcloud.child import sandbox
else:  # run as the leader script (python -I -S): this file's folder is not on sys.path
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import sandbox  # type: ignore[no-redef]

    del sys.path[0]

_WATCH_SECONDS = 0.5


def start(command: list[str], **popen_kwargs: Any) -> subprocess.Popen:
    """Popen ``command`` as the only child of a group leader in a new session.

    The returned process is the leader: its pid is the group id, its exit code the command's
    (a command killed by a signal shows as that signal, as without the leader).
    """
    # -I -S: the leader needs only the standard library; the command gets popen_kwargs' env untouched.
    leader = [sys.executable, "-I", "-S", os.path.abspath(__file__), str(os.getpid()), *command]
    return subprocess.Popen(leader, start_new_session=True, **popen_kwargs)


def kill(process: subprocess.Popen) -> None:
    """SIGKILL the process's whole tree (grandchildren, daemons that left the group) and reap the leader."""
    if process.poll() is None:
        sandbox.end(process.pid)  # the leader stopped, its descendants killed; then the group
        _killpg(process.pid)
    process.wait()
    # A command that ended by itself may have left children in the group (`sleep … &`): on AWS
    # they would die with the container. The group id cannot be reused while they exist.
    _killpg(process.pid)


def _killpg(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _lead(cloud_pid: int, command: list[str]) -> int:
    # Only os/signal/sys here (no subprocess): the leader starts for every invoke's cold start and every job.
    guard(cloud_pid)
    if os.environ.get("LOCALCLOUD_TMP_MB"):  # a Lambda environment: a /tmp of its own (localcloud.child.private_tmp)
        _private_tmp(int(os.environ["LOCALCLOUD_TMP_MB"]))
    try:
        child = os.posix_spawnp(command[0], command, os.environ)
    except OSError as error:
        print(f"{command[0]}: {error.strerror}", file=sys.stderr, flush=True)
        return 127
    return supervise(cloud_pid, child)


def _private_tmp(size_mb: int) -> None:
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "private_tmp.py")
    spec = importlib.util.spec_from_file_location("private_tmp", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        module.enter(size_mb)
    except OSError as error:  # the cloud's probe said it works; the environment goes on with the machine's /tmp
        print(f"localcloud: /tmp is not private: {error}", file=sys.stderr, flush=True)
        os.environ[module.MODE_ENV] = "0"  # and its handler is told so


def guard(watched_pid: int) -> None:
    """In a group leader: end the group on SIGTERM/SIGHUP/SIGINT, or now if ``watched_pid`` is gone.

    The leader also becomes the subreaper of what it starts, so daemons stay in its tree (see sandbox).
    Also used by the leaders that localcloud.child.warm_template forks (they watch their template).
    """
    sandbox.become_subreaper()
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, _end_group)
    _watch_parent(watched_pid)


def supervise(watched_pid: int, child: int) -> int:
    """Wait for ``child`` while checking every 0.5 s that our parent is still ``watched_pid``.

    Returns the child's exit code; a child killed by a signal is mirrored (this process dies of it too).
    """
    signal.signal(signal.SIGALRM, lambda *_: _watch_parent(watched_pid))
    signal.setitimer(signal.ITIMER_REAL, _WATCH_SECONDS, _WATCH_SECONDS)
    while True:  # also reap the orphans re-parented to us (we are their subreaper)
        pid, status = os.waitpid(-1, 0)  # resumed after each SIGALRM check (PEP 475)
        if pid == child:
            break
    signal.setitimer(signal.ITIMER_REAL, 0)
    # The command ended by itself. If the cloud is gone (a Lambda environment ends when its stdin pipe
    # closes, i.e. when the cloud died), nobody else will end what the command left in the group. The
    # kernel re-parents us right after closing the cloud's files, long before the command's interpreter
    # has noticed the closed pipe and exited, so this check sees the new parent.
    _watch_parent(watched_pid)
    sandbox.kill_tree(os.getpid())  # the command is done: what it left (daemons too) ends, as with a container
    code = os.waitstatus_to_exitcode(status)
    if code < 0:  # mirror a death by signal
        if -code not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code


def _end_group(*_: object) -> None:
    sandbox.kill_tree(os.getpid())  # what left the group first, while we still collect its orphans
    os.killpg(0, signal.SIGKILL)  # this leader included


def _watch_parent(watched_pid: int) -> None:
    if os.getppid() != watched_pid:  # re-parented: the parent died without stopping us
        _end_group()


if __name__ == "__main__":
    sys.exit(_lead(int(sys.argv[1]), sys.argv[2:]))
