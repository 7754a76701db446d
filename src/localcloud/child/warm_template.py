"""The warm-job template process (``python -m localcloud.child.warm_template``): see :mod:`localcloud.sagemaker.jobs.warm_jobs`.

It imports :data:`PRELOAD` once, then serves JSON-line requests on stdin: for each, it forks a
leader (a process group of its own, the job's log as stdout/stderr, watching this template as
process_group's leaders watch the cloud) that forks the job, which becomes the job (environment,
argv, cwd, ``/opt/ml`` remapping) and runs its script or module with :mod:`runpy`. It reports each
leader's pid and, when it is reaped, its exit code. It never runs job code itself.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import io
import json
import os
import select
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from localcloud.child import process_group

# What the kit's job scripts import (src/jobs/*.py, the linear-learner stand-in): imported once, here.
PRELOAD = ("numpy", "pandas", "scipy.special", "sklearn.model_selection", "sklearn.preprocessing", "sklearn.metrics",
           "sklearn.neural_network", "localcloud.sagemaker.algorithms.linear_learner.model", "localcloud.sagemaker.algorithms.linear_learner.train")
_JOB_SITE = Path(__file__).with_name("job_site")


class _BecomeJob(Exception):
    """Raised in a freshly forked leader to leave the template's loop before running the job."""

    def __init__(self, request: dict[str, Any], template_pid: int) -> None:
        super().__init__()
        self.request, self.template_pid = request, template_pid


def _job_site_module():
    """job_site's sitecustomize (imported at start-up when job_site is first on PYTHONPATH; else loaded)."""
    module = sys.modules.get("sitecustomize")
    if module is not None and hasattr(module, "install") and Path(module.__file__).parent == _JOB_SITE:
        return module
    spec = importlib.util.spec_from_file_location("_localcloud_job_site", _JOB_SITE / "sitecustomize.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _serve() -> int:
    """The template's loop: fork a leader per request line on stdin, report its pid and its exit."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # stray prints go to stderr, never into the protocol
    for name in PRELOAD:
        importlib.import_module(name)
    site = _job_site_module()
    # Imported objects go to the permanent generation: a job's garbage collections skip them (and so
    # do not copy the pages it shares with the template), as gc.freeze's documentation advises for forks.
    gc.freeze()
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so SIGCHLD wakes select through the pipe
    template_fds = (protocol.fileno(), wake_read, wake_write)
    protocol.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    children: dict[int, int] = {}  # leader pid -> request id
    buffer = b""
    while True:
        readable = select.select([0, wake_read], [], [])[0]
        if wake_read in readable:
            os.read(wake_read, 4096)
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if not pid:
                break
            if pid in children:
                protocol.write(json.dumps({"id": children.pop(pid), "exit": os.waitstatus_to_exitcode(status)}) + "\n")
        if 0 not in readable:
            continue
        data = os.read(0, 1 << 20)
        if not data:  # the cloud closed the pipe: end what is still running
            for pid in children:
                _killpg(pid)
            return 0
        buffer += data
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            request = json.loads(line)
            try:
                pid = os.fork()
            except OSError as error:
                protocol.write(json.dumps({"id": request["id"], "error": f"fork: {error}"}) + "\n")
                continue
            if pid == 0:
                signal.set_wakeup_fd(-1)
                for fd in template_fds:
                    os.close(fd)
                request["site"] = site
                raise _BecomeJob(request, os.getppid())
            try:  # also in the parent, so the pid is a group id before the cloud can kill it (no race)
                os.setpgid(pid, pid)
            except OSError:
                pass  # the child did it first, or already exec'd/exited
            children[pid] = request["id"]
            protocol.write(json.dumps({"id": request["id"], "pid": pid}) + "\n")


def _killpg(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _lead(request: dict[str, Any], template_pid: int) -> int:
    """In the forked leader: own group, the job's log as stdout/stderr, then fork the job and wait for it."""
    os.setpgid(0, 0)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    process_group.guard(template_pid)
    log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.close(null)
    child = os.fork()
    if child == 0:
        _run_job(request)  # never returns
    os._exit(process_group.supervise(template_pid, child))  # never the template's atexit handlers


def _run_job(request: dict[str, Any]) -> None:
    """In the job process: become the job (environment, argv, cwd, paths, output) and run it as ``__main__``."""
    import runpy
    import traceback

    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGALRM):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    env = request["env"]
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(env)
    if env.get("LOCALCLOUD_OPT_ML"):
        request["site"].install(env["LOCALCLOUD_OPT_ML"], env.get("LOCALCLOUD_MOUNTS", ""))
    if "LOCALCLOUD_MIRRORS" in env:  # --mirror URLs answered, others refused: as job_site does in a cold job
        from localcloud.child import mirror

        mirror.install()
    encoding = sys.stdout.encoding
    sys.stdin = sys.__stdin__ = open(0, closefd=False)  # fd 0 is /dev/null now
    unbuffered = bool(env.get("PYTHONUNBUFFERED"))
    sys.stdout = sys.__stdout__ = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding=encoding,
                                                   write_through=unbuffered, line_buffering=False)
    sys.stderr = sys.__stderr__ = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding=encoding,
                                                   errors="backslashreplace", line_buffering=True)
    if "numpy" in sys.modules:  # a fork would repeat the template's global random state in every job
        sys.modules["numpy"].random.seed()
    kind, target = request["kind"], request["target"]
    sys.argv = [os.path.abspath(target) if kind == "script" else target, *request["argv"]]
    sys.path[0] = os.path.dirname(os.path.abspath(target)) if kind == "script" else os.getcwd()
    try:
        if kind == "script":
            runpy.run_path(target, run_name="__main__")
        else:
            # PRELOAD may hold the module itself (for its imports): run as __main__ it is executed anew, and runpy
            # would print a RuntimeWarning into the job's log for finding it imported already
            sys.modules.pop(target, None)
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as stop:  # what the interpreter makes of sys.exit(...)
        code = _exit_code(stop.code)
    except BaseException as exc:  # noqa: BLE001 - an uncaught exception in the job: its traceback, exit 1
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename in (__file__, runpy.__file__, "<frozen runpy>"):
            tb = tb.tb_next  # show the job's frames, as Python does for a script
        if isinstance(exc, ImportError) and kind == "module" and tb is None:
            print(f"{sys.executable}: {exc}", file=sys.stderr)
        else:
            traceback.print_exception(type(exc), exc, tb)
        code = 1
    _exit(code)


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _exit(code: int) -> None:
    """End the job as the interpreter would, minus tearing down the template's modules.

    A full interpreter shutdown in a fork touches every object the template imported, copying
    each page it shares with the template: ~2 s per job on a busy 2-core machine. As
    multiprocessing's forked workers do, the job ends with os._exit after what a script can
    observe: non-daemon threads joined, atexit handlers run, stdout and stderr flushed.
    """
    import atexit

    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()  # noqa: SLF001 - the interpreter's own exit step, run here before os._exit
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def main() -> int:
    try:
        return _serve()
    except _BecomeJob as exc:
        become = exc
    # Outside the except block, so the job's own exceptions are not chained to _BecomeJob.
    become.__traceback__ = None  # the template's frames go
    _lead(become.request, become.template_pid)
    return 0  # not reached: the leader and the job end with os._exit


if __name__ == "__main__":
    sys.exit(main())
