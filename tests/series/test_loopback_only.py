"""Offline means offline: the whole series connects to nothing but 127.0.0.1, and reads none of the user's AWS settings.

The shared series (``tests/series/conftest.py``: ``python -m helpers run``, notebooks 01-07, with a
local cloud started with the same environment) runs with ``tests/series/audit_site`` on PYTHONPATH,
so every Python process of the run (the runner, the papermill kernels, the local cloud, its Lambda
workers and job processes) installs an audit hook that logs and refuses any connection or name lookup
that is not loopback. A shorter run checks the cloud the runner starts itself the same way.
Another test proves that the hook really stops such a connection, before anything is sent.
The series runs as on a laptop that also has real AWS settings: a ``~/.aws`` folder, an
``AWS_PROFILE`` that names no profile there, and ``HTTP(S)_PROXY`` pointing at a listener that
counts whoever comes through it. A local run must not open those files nor use that proxy.
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
from series_support import AUDIT_SITE, audited_env, counting_proxy, laptop_with_aws_settings, read_lines

from localcloud.sagemaker.jobs import runner as jobs
from localcloud.awslambda import lambda_runtime

# The whole series under the audit is the shared one (tests/series/conftest.py), read by test_series_e2e too.
pytestmark = pytest.mark.series

# The kinds of process a series run starts, as they appear in their command lines. Jobs run warm by
# default: each is a fork of the warm-job template, which armed the hook when it started, before any
# fork; an audit hook cannot be removed and a fork inherits it
# (https://docs.python.org/3/library/sys.html#sys.addaudithook), so the template's line stands for them.
WARM_JOBS = "-m localcloud.child.warm_template"
PROCESS_KINDS: dict[str, tuple[str, ...]] = {
    "series runner": ("-m helpers run",),
    "papermill kernel": ("ipykernel_launcher",),
    "local cloud": ("-m localcloud --port",),
    "Lambda worker": ("localcloud.child.lambda_bootstrap",),
    "training job (linear-learner stand-in)": ("localcloud.sagemaker.algorithms.linear_learner.train", WARM_JOBS),
    "processing job (preprocess.py)": ("/opt/ml/code/preprocess.py", WARM_JOBS),
    "processing job (evaluate.py)": ("/opt/ml/code/evaluate.py", WARM_JOBS),
}


def never_armed(kinds, armed: list[str]) -> list[str]:
    """The kinds of process none of whose command-line markers appears among the armed processes."""
    return [kind for kind in kinds if not any(marker in line for line in armed for marker in PROCESS_KINDS[kind])]


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


class TestTheHookSeesAwsFiles:
    """The ~/.aws check is not a no-op either: opening the user's config file is logged."""

    def test_opening_aws_config_is_logged(self, tmp_path: Path) -> None:
        """
        1. On a "laptop" with ~/.aws files, a script opens ~/.aws/config and reads another file.
        2. The .aws-files log names the process and exactly that one file.
        """
        log = tmp_path / "connections.log"
        env = laptop_with_aws_settings(audited_env(log), tmp_path / "home", "http://127.0.0.1:9")
        script = "import os; open(os.path.expanduser('~/.aws/config')).read(); open(os.devnull).read()"
        subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=60)
        logged = [line.split("\t") for line in read_lines(Path(f"{log}.aws-files"))]
        assert [entry[2] for entry in logged] == [str(tmp_path / "home" / ".aws" / "config")]


class TestLocalCloudPassesTheSiteOn:
    """The audit reaches the cloud's children only through PYTHONPATH: both runners must pass it on."""

    def test_lambda_workers_and_jobs_inherit_pythonpath(self, monkeypatch, tmp_path: Path) -> None:
        """
        1. Lambda workers inherit PYTHONPATH (lambda_runtime._INHERITED_ENV).
        2. A job's environment has job_site first, then the cloud's own PYTHONPATH (jobs.JobRunner._base_env).
        """
        assert "PYTHONPATH" in lambda_runtime._INHERITED_ENV
        monkeypatch.setenv("PYTHONPATH", str(AUDIT_SITE))
        runner = types.SimpleNamespace(endpoint_url="http://127.0.0.1:1", child_env={})
        job = jobs._Job("processing", "eu-west-1", "pythonpath-check", tmp_path)
        env = jobs.JobRunner._base_env(runner, job, "eu-west-1", {}, {}, [])
        assert env["PYTHONPATH"].split(os.pathsep) == [str(jobs._JOB_SITE), str(AUDIT_SITE)]


class TestSeriesStaysOnLoopback:
    """The default series, audited in every process, connects to nothing outside 127.0.0.1."""

    @pytest.mark.slow(50)
    def test_whole_series_under_the_audit_hook(self, shared_series) -> None:
        """
        1. The shared series (tests/series/conftest.py): `python -m helpers run` (01-07) with the audit folder on
           PYTHONPATH, against a local cloud started with the same environment, on a "laptop" whose ~/.aws has
           profiles and keys, with AWS_PROFILE=nosuchprofile and HTTP(S)_PROXY set to a counting listener
           (issue 9: the cloud died of ProfileNotFound, and clients sent loopback traffic to the proxy).
        2. Exit status 0: no process was refused anything it needed, and no profile lookup failed.
        3. The log of refused connections is empty.
        4. No process opened a file in ~/.aws, and nobody connected to the proxy.
        5. Every kind of process armed the hook (runner, kernels, cloud, Lambda workers, training and
           processing jobs), so none of them went unwatched.
        """
        result = shared_series.result
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert shared_series.refused == [], "non-loopback connections:\n" + "\n".join(shared_series.refused)
        assert shared_series.aws_files == [], ("processes that opened the user's AWS files:\n"
                                               + "\n".join(shared_series.aws_files))
        assert shared_series.proxied == [], f"requests sent through HTTP(S)_PROXY: {shared_series.proxied}"
        armed = shared_series.armed
        missing = never_armed(PROCESS_KINDS, armed)
        assert not missing, f"processes that never armed the hook: {missing} (armed: {len(armed)} processes)"
        print(f"series under audit: {shared_series.seconds:.0f} s, {len(armed)} processes watched")


class TestRunnersOwnCloudStaysOnLoopback:
    """The cloud the runner starts itself (no --endpoint) is audited too, with the laptop's settings."""

    @pytest.mark.slow(8)
    def test_runner_started_cloud_under_the_audit_hook(self, tmp_path: Path) -> None:
        """
        1. `python -m helpers run --notebooks 01` with no --endpoint (the runner starts `python -m localcloud`
           and hands it its environment), audited, on the same "laptop" as the shared series.
        2. Exit 0; nothing refused, no ~/.aws file opened, nothing through the proxy.
        3. The runner, its kernel and the cloud it started armed the hook.
        """
        log = tmp_path / "connections.log"
        with counting_proxy() as (proxy_url, proxied):
            env = laptop_with_aws_settings(audited_env(log), tmp_path / "home", proxy_url)
            result = subprocess.run([sys.executable, "-m", "helpers", "run", "--out", str(tmp_path / "out"),
                                     "--notebooks", "01", "-p", "run_id", f"own-{time.time_ns() % 10**6}"],
                                    env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert "local cloud started at http://127.0.0.1:" in result.stdout
        assert read_lines(log) == [], "non-loopback connections:\n" + "\n".join(read_lines(log))
        assert read_lines(Path(f"{log}.aws-files")) == []
        assert proxied == [], f"requests sent through HTTP(S)_PROXY: {proxied}"
        armed = read_lines(Path(f"{log}.armed"))
        kinds = ("series runner", "papermill kernel", "local cloud")
        missing = never_armed(kinds, armed)
        assert not missing, f"processes that never armed the hook: {missing} (armed: {armed})"
