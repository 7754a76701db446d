"""Warm job environments: a job's Python starts as a fork of a process that has already imported pandas.

Every processing and training job the kit runs is the kit's Python running a script or a module
(``python3 preprocess.py …``, ``python -m localcloud.sagemaker.algorithms.linear_learner.train …``), and each would pay
~1 s importing pandas, numpy and scikit-learn before its first line. Like the warm Lambda
environments (:mod:`localcloud.awslambda.lambda_runtime`), the job runner keeps one **template** process per
cloud (``python -m localcloud.child.warm_template``) that imports those once and then
never runs job code. For each job it forks:

* a **leader** (the template's child) that makes itself a new process group, points stdout and
  stderr at the job's log and forks the job, then waits for it as :mod:`localcloud.child.process_group`'s
  leaders do: the group is killed if the template goes (and the template goes with the cloud, as
  it runs under a process_group leader itself), and a job killed by a signal is mirrored;
* the **job** (the leader's child): the job's environment replaces ``os.environ``, its argv,
  working directory and ``sys.path[0]`` are set, job_site's ``/opt/ml`` remapping is installed
  for the job's folder, numpy's global random state is reseeded, and the script or module runs
  with :mod:`runpy` as ``__main__``. Its exit code, traceback, atexit handlers and flushed output
  are those of a fresh ``python3 script.py``; only the teardown of the template's modules is
  skipped (it would copy every page shared with the template: see warm_template._exit).

The template is :mod:`localcloud.child.warm_template`; this module is the cloud's side. The cloud sees a
:class:`WarmProcess` (pid = the leader's pid = the process group id; ``poll``, ``wait``), so time
limits, Stop* requests and shutdown kill the job's group through :func:`localcloud.child.process_group.kill`,
as for a cold job. Each job is a fresh fork of a template that
has run nothing of any job: what one job changes (module attributes, ``os.environ``, a crash, a
leaked child in its group) cannot reach the next.

Anything else (another program, interpreter options, an environment that changes how Python starts:
``PYTHON*``, ``LD_*``, the locale, thread counts other than the template's; see
:mod:`localcloud.common.python_startup`) runs cold; so does every job when the cloud is started
with ``--cold-jobs`` (or ``LOCALCLOUD_COLD_JOBS=1``); warm is the default.
Known difference: forks share the template's string-hash seed (``PYTHONHASHSEED``), so set iteration
order of strings is the same in every warm job (it is random per process when cold).

Protocol (JSON lines): cloud → template ``{"id", "kind": "script"|"module", "target", "argv", "env",
"cwd", "log"}``; template → cloud ``{"ready"}`` once, then ``{"id", "pid"}`` (or ``{"id", "error"}``)
per request and ``{"id", "exit"}`` when the job's leader is reaped.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from localcloud.child import process_group
from localcloud.common.python_startup import startup_settings

# Warm is the default (the switch and its variables: localcloud.options). A warm job starts in milliseconds, yet
# notebook 05 still shows the article chain's race: jobs start in the order AWS's start-up phases give them
# (localcloud.sagemaker.jobs.startup_order), not by how fast they start here.
_JOB_SITE = Path(__file__).parents[2] / "child" / "job_site"  # localcloud/child/job_site
_READY_TIMEOUT = 60.0  # the template's imports on a busy 2-core machine
_FORK_TIMEOUT = 30.0  # a fork takes milliseconds; this is for a template stuck behind a swapping machine
_MAX_LAUNCHES = 3  # a template that keeps failing (a broken import) is not restarted for every job


def template_env() -> dict[str, str]:
    """The template's environment: what every job's starts with (see jobs.JobRunner._base_env), minus the job."""
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_JOB_SITE), os.environ.get("PYTHONPATH")]))
    env.update({"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                "PYTHONUNBUFFERED": "1", "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
    return env


def warm_target(command: list[str], env: dict[str, str], template: dict[str, str]) -> tuple[str, str] | None:
    """``("script", path)`` or ``("module", name)`` when ``command`` can run in a warm environment, else None."""
    if len(command) < 2 or command[0] != sys.executable or startup_settings(env) != startup_settings(template):
        return None
    if command[1] == "-m" and len(command) > 2 and command[2] and not command[2].startswith("-"):
        return "module", command[2]
    if not command[1].startswith("-") and os.path.isfile(command[1]):
        return "script", command[1]
    return None  # interpreter options, -c, a missing script (cold Python's own error message is kept)


class WarmProcess:
    """The cloud's handle on a warm job: enough of :class:`subprocess.Popen` for runner.py and process_group."""

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
        process = process_group.start([sys.executable, "-m", "localcloud.child.warm_template"], env=self.env,
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
                if job.abandoned:  # never run twice: the job already runs cold
                    try:
                        os.killpg(job.pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
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
