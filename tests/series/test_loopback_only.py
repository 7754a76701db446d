"""Offline means offline: the whole series connects to nothing but 127.0.0.1.

``python -m helpers run`` (notebooks 01-07, with a local cloud of its own) runs with
``tests/series/audit_site`` on PYTHONPATH, so every Python process of the run (the runner,
the papermill kernels, the local cloud, its Lambda workers and job processes) installs an
audit hook that logs and refuses any connection or name lookup that is not loopback.
A second test proves that the hook really stops such a connection, before anything is sent.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import pytest

from localcloud import jobs, lambda_runtime

pytestmark = pytest.mark.series

AUDIT_SITE = Path(__file__).resolve().parent / "audit_site"
ENV_LOG = "LOOPBACK_AUDIT_LOG"
# The kinds of process a series run starts, as they appear in their command lines.
PROCESS_KINDS = {
    "series runner": "-m helpers run",
    "papermill kernel": "ipykernel_launcher",
    "local cloud": "-m localcloud --port",
    "Lambda worker": "localcloud.lambda_bootstrap",
    "training job (linear-learner stand-in)": "localcloud.linear_learner",
    "processing job (preprocess.py)": "/opt/ml/code/preprocess.py",
    "processing job (evaluate.py)": "/opt/ml/code/evaluate.py",
}


def audited_env(log: Path) -> dict[str, str]:
    """This environment plus the audit folder first on PYTHONPATH and the log it writes to."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_DREAMS_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(AUDIT_SITE), os.environ.get("PYTHONPATH")]))
    env[ENV_LOG] = str(log)
    return env


def read_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


class TestTheHookStopsAConnection:
    """The hook is not a no-op: a connection to TEST-NET and a DNS lookup are refused and logged."""

    def test_test_net_address_and_name_lookup_refused_loopback_allowed(self, tmp_path: Path) -> None:
        """
        1. Run a tiny script with the audit folder on PYTHONPATH: it connects to 203.0.113.1:80 (TEST-NET-3,
           never routed), resolves example.com, then connects to a listener of its own on 127.0.0.1.
        2. The first two raise the hook's PermissionError at once (no 3 s connect timeout: nothing was sent).
        3. The loopback connection works.
        4. The log has exactly two lines, naming the process id, the program and each refused address.
        """
        log = tmp_path / "connections.log"
        script = textwrap.dedent("""
            import os, socket, time
            probe = socket.socket()
            probe.settimeout(3)
            started = time.monotonic()
            try:
                probe.connect(("203.0.113.1", 80))
                print("CONNECTED")
            except PermissionError as error:
                print("REFUSED", round(time.monotonic() - started, 3), error)
            try:
                socket.getaddrinfo("example.com", 80)
                print("RESOLVED")
            except PermissionError as error:
                print("REFUSED", error)
            server = socket.create_server(("127.0.0.1", 0))
            with socket.create_connection(("127.0.0.1", server.getsockname()[1]), timeout=3):
                print("LOOPBACK OK")
            print("PID", os.getpid())
        """)
        result = subprocess.run([sys.executable, "-c", script], env=audited_env(log), capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        refused_connect, refused_lookup, loopback, pid = lines
        assert refused_connect.startswith("REFUSED ") and "('203.0.113.1', 80)" in refused_connect
        assert float(refused_connect.split()[1]) < 1.0
        assert refused_lookup.startswith("REFUSED ") and "example.com" in refused_lookup
        assert loopback == "LOOPBACK OK"
        logged = [line.split("\t") for line in read_lines(log)]
        assert [(entry[0], entry[2], entry[3]) for entry in logged] == [
            (pid.split()[1], "socket.connect", "('203.0.113.1', 80)"),
            (pid.split()[1], "socket.getaddrinfo", "('example.com', 80)")]
        assert all(entry[1].startswith(f"{sys.executable} -c") for entry in logged)


class TestLocalCloudPassesTheSiteOn:
    """The audit reaches the cloud's children only through PYTHONPATH: both runners must pass it on."""

    def test_lambda_workers_and_jobs_inherit_pythonpath(self, monkeypatch, tmp_path: Path) -> None:
        """
        1. Lambda workers inherit PYTHONPATH (lambda_runtime._INHERITED_ENV).
        2. A job's environment has job_site first, then the cloud's own PYTHONPATH (jobs.JobRunner._base_env).
        """
        assert "PYTHONPATH" in lambda_runtime._INHERITED_ENV
        monkeypatch.setenv("PYTHONPATH", str(AUDIT_SITE))
        runner = types.SimpleNamespace(endpoint_url="http://127.0.0.1:1")
        job = jobs._Job("processing", "eu-west-1", "pythonpath-check", tmp_path)
        env = jobs.JobRunner._base_env(runner, job, "eu-west-1", {})
        assert env["PYTHONPATH"].split(os.pathsep) == [str(jobs._JOB_SITE), str(AUDIT_SITE)]


class TestSeriesStaysOnLoopback:
    """The default series, audited in every process, connects to nothing outside 127.0.0.1."""

    def test_whole_series_under_the_audit_hook(self, tmp_path: Path) -> None:
        """
        1. `python -m helpers run` (01-07, a local cloud of its own) with the audit folder on PYTHONPATH.
        2. Exit status 0: no process was refused anything it needed.
        3. The log of refused connections is empty.
        4. Every kind of process armed the hook (runner, kernels, cloud, Lambda workers, training and
           processing jobs), so none of them went unwatched.
        """
        log = tmp_path / "connections.log"
        run_id = f"loopback-{time.time_ns() % 10**6}"
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "helpers", "run", "--out", str(tmp_path / "out"),
                                 "-p", "run_id", run_id], env=audited_env(log), capture_output=True, text=True,
                                timeout=900)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert read_lines(log) == [], "non-loopback connections:\n" + "\n".join(read_lines(log))
        armed = read_lines(Path(f"{log}.armed"))
        missing = [kind for kind, marker in PROCESS_KINDS.items() if not any(marker in line for line in armed)]
        assert not missing, f"processes that never armed the hook: {missing} (armed: {len(armed)} processes)"
        print(f"series under audit: {time.monotonic() - started:.0f} s, {len(armed)} processes watched")
