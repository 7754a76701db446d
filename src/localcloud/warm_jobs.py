"""Warm job environments: a job's Python starts as a fork of a process that has already imported pandas.

Every processing and training job the kit runs is the kit's Python running a script or a module
(``python3 preprocess.py …``, ``python -m localcloud.linear_learner …``), and each used to pay
~1 s importing pandas, numpy and scikit-learn before its first line. Like the warm Lambda
environments (:mod:`localcloud.lambda_runtime`), the job runner keeps one **template** process per
cloud (this module run as ``python -m localcloud.warm_jobs``) that imports those once and then
never runs job code. For each job it forks:

* a **leader** (the template's child) that makes itself a new process group, points stdout and
  stderr at the job's log and forks the job, then waits for it as :mod:`localcloud.process_group`'s
  leaders do: the group is killed if the template goes (and the template goes with the cloud, as
  it runs under a process_group leader itself), and a job killed by a signal is mirrored;
* the **job** (the leader's child): the job's environment replaces ``os.environ``, its argv,
  working directory and ``sys.path[0]`` are set, job_site's ``/opt/ml`` remapping is installed
  for the job's folder, numpy's global random state is reseeded, and the script or module runs
  with :mod:`runpy` as ``__main__``. It exits through the interpreter's normal shutdown, so the
  exit code, atexit handlers and flushed output are those of a fresh ``python3 script.py``.

The cloud sees a :class:`WarmProcess` (pid = the leader's pid = the process group id; ``poll``,
``wait``), so time limits, Stop* requests and shutdown kill the job's group through
:func:`localcloud.process_group.kill` exactly as before. Each job is a fresh fork of a template that
has run nothing of any job: what one job changes (module attributes, ``os.environ``, a crash, a
leaked child in its group) cannot reach the next.

Anything else (another program, interpreter options, an environment that changes how Python starts:
``PYTHON*``, ``LD_*``, thread counts other than the template's) runs cold, as before; so does every
job when the cloud is started with ``--cold-jobs`` (or ``LOCALCLOUD_COLD_JOBS=1``).
Known difference: forks share the template's string-hash seed (``PYTHONHASHSEED``), so set iteration
order of strings is the same in every warm job (it is random per process when cold).

Protocol (JSON lines): cloud → template ``{"id", "kind": "script"|"module", "target", "argv", "env",
"cwd", "log"}``; template → cloud ``{"ready"}`` once, then ``{"id", "pid"}`` (or ``{"id", "error"}``)
per request and ``{"id", "exit"}`` when the job's leader is reaped.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import io
import itertools
import json
import os
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from localcloud import process_group

# What the kit's job scripts import (src/jobs/*.py, the linear-learner stand-in): imported once, in the template.
PRELOAD = ("numpy", "pandas", "scipy.special", "sklearn.model_selection", "sklearn.preprocessing", "sklearn.metrics",
           "sklearn.neural_network", "localcloud.linear_model", "localcloud.linear_learner")
COLD_ENV = "LOCALCLOUD_COLD_JOBS"  # "1": every job runs as a fresh process (the --cold-jobs flag sets it)
_JOB_SITE = Path(__file__).with_name("job_site")
_READY_TIMEOUT = 60.0  # the template's imports on a busy 2-core machine
_FORK_TIMEOUT = 30.0  # a fork takes milliseconds; this is for a template stuck behind a swapping machine
_MAX_LAUNCHES = 3  # a template that keeps failing (a broken import) is not restarted for every job
# Environment variables read when Python or its native libraries start: a job that sets them differently
# from the template's needs a Python of its own.
_STARTUP_PREFIXES = ("PYTHON", "LD_", "MALLOC_")
_STARTUP_SUFFIXES = ("_NUM_THREADS",)


def template_env() -> dict[str, str]:
    """The template's environment: what every job's starts with (see jobs.JobRunner._base_env), minus the job."""
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_JOB_SITE), os.environ.get("PYTHONPATH")]))
    env.update({"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                "PYTHONUNBUFFERED": "1", "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
    return env


def _startup_settings(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith(_STARTUP_PREFIXES) or k.endswith(_STARTUP_SUFFIXES)}


def warm_target(command: list[str], env: dict[str, str], template: dict[str, str]) -> tuple[str, str] | None:
    """``("script", path)`` or ``("module", name)`` when ``command`` can run in a warm environment, else None."""
    if len(command) < 2 or command[0] != sys.executable or _startup_settings(env) != _startup_settings(template):
        return None
    if command[1] == "-m" and len(command) > 2 and command[2] and not command[2].startswith("-"):
        return "module", command[2]
    if not command[1].startswith("-") and os.path.isfile(command[1]):
        return "script", command[1]
    return None  # interpreter options, -c, a missing script (cold Python's own error message is kept)


class WarmProcess:
    """The cloud's handle on a warm job: enough of :class:`subprocess.Popen` for jobs.py and process_group."""

    def __init__(self, args: list[str]) -> None:
        self.args = args
        self.pid = 0
        self.returncode: int | None = None
        self.started = threading.Event()
        self.error = ""
        self.abandoned = False
        self._done = threading.Event()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._done.wait(timeout):
            raise subprocess.TimeoutExpired(self.args, timeout)
        return self.returncode  # type: ignore[return-value]

    def _exited(self, code: int) -> None:
        self.returncode = code
        self._done.set()


class WarmJobs:
    """The cloud's side: starts the template in the background, asks it for jobs, tracks their exits."""

    def __init__(self) -> None:
        self.env = template_env()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._pending: dict[int, WarmProcess] = {}
        self._template: subprocess.Popen | None = None
        self._ready = threading.Event()
        self._gone = threading.Event()  # the template exited (or failed to start)
        self._closed = False
        self._launches = 0
        self._relaunch()

    def _relaunch(self) -> None:
        self._launches += 1
        self._ready.clear()
        self._gone.clear()
        threading.Thread(target=self._launch, daemon=True, name="localcloud-warm-jobs").start()

    def _wait_ready(self) -> bool:
        """Wait for the template's imports (started with the cloud, so usually done); False if it is gone."""
        for _ in range(int(_READY_TIMEOUT / 0.05)):
            if self._ready.is_set() or self._gone.is_set() or self._closed:
                break
            self._ready.wait(0.05)
        if self._gone.is_set() and not self._closed and self._launches < _MAX_LAUNCHES:
            self._relaunch()  # a template that crashed is replaced; this job runs cold
            return False
        return self._ready.is_set()

    def _launch(self) -> None:
        try:
            self._read_template()
        finally:
            self._gone.set()

    def _read_template(self) -> None:
        # Under a process_group leader that watches the cloud: the template (and, through their own
        # leaders, its jobs) goes when the cloud dies.
        process = process_group.start([sys.executable, "-m", "localcloud.warm_jobs"], env=self.env,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
        with self._lock:
            self._template = process
            if self._closed:
                process_group.kill(process)
                return
        for line in process.stdout:
            message = json.loads(line)
            if "ready" in message:
                self._ready.set()
                continue
            job = self._pending.get(message["id"])
            if job is None:
                continue
            if "pid" in message:
                job.pid = message["pid"]
                job.started.set()
                if job.abandoned:
                    _killpg(job.pid)
            elif "error" in message:
                job.error = message["error"]
                self._pending.pop(message["id"], None)
                job.started.set()
            elif "exit" in message:
                self._pending.pop(message["id"], None)
                job._exited(message["exit"])
        # The template is gone (the cloud stops, or it crashed): its jobs' leaders kill their groups.
        self._ready.clear()
        with self._lock:
            pending, self._pending = list(self._pending.values()), {}
        for job in pending:
            job.error = job.error or "the warm-job template exited"
            job.started.set()
            job._exited(-signal.SIGKILL)

    def start(self, command: list[str], env: dict[str, str], cwd: Path, log_path: Path) -> WarmProcess | None:
        """Fork ``command`` from the template; None when it must run cold (or the template is not there)."""
        target = warm_target(command, env, self.env)
        if target is None or self._closed or not self._wait_ready():
            return None
        job = WarmProcess(command)
        kind, name = target
        request = {"id": next(self._ids), "kind": kind, "target": name, "argv": command[2 if kind == "script" else 3:],
                   "env": env, "cwd": str(cwd), "log": str(log_path)}
        with self._lock:
            if self._template is None or self._template.poll() is not None:
                return None
            self._pending[request["id"]] = job
            try:
                self._template.stdin.write(json.dumps(request) + "\n")
                self._template.stdin.flush()
            except OSError:
                self._pending.pop(request["id"], None)
                return None
        if not job.started.wait(_FORK_TIMEOUT):
            job.abandoned = True  # runs cold instead; a fork reported later is killed at once (never run twice)
            if not job.pid:
                return None
        return None if job.error else job

    def close(self) -> None:
        """Stop the template (the cloud's jobs have been stopped already)."""
        with self._lock:
            self._closed = True
            template = self._template
        if template is not None:
            process_group.kill(template)
            template.stdin.close()


# -- the template process ---------------------------------------------------------------------------------
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
