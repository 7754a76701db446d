"""A daemon that leaves its process group (double fork, ``setsid``) still ends with its sandbox.

On AWS a Lambda execution environment, or a job's container, goes as a whole: nothing a handler or
a job started survives DeleteFunction, the job's end or the host going away
(https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html: "Lambda ... shuts
down the execution environment ... terminates the runtime and extensions"). Here the handler or job
starts a classic daemon: fork, ``setsid()`` (a new session, so it is in no process group the cloud
kills), fork again, and the middle process exits, so the daemon is orphaned. It writes a heartbeat
file every 0.1 s. After DeleteFunction, the job's end, or SIGTERM/SIGKILL to the cloud, its pid
must be gone and the heartbeat must stop within 10 s.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest
from _support import account_id, create_role, ecr_image_uri, unique_name
from _wait import wait_for, wait_for_status
from test_processes import REGION, alive, create_function, invoke, own_cloud  # noqa: F401 - own_cloud: a fixture

GONE_TIMEOUT = 10
DONE = {"Completed", "Failed", "Stopped"}
SRC = Path(__file__).resolve().parents[2] / "src"
# The daemon: argv[1] = its pid file, argv[2] = its heartbeat file. Fork, setsid, fork: the classic escape.
DAEMON = textwrap.dedent("""
    import os, sys, time
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    while True:
        with open(sys.argv[2], "w") as f:
            f.write(repr(time.time()))
        time.sleep(0.1)
""")
HANDLER = f"""
import subprocess, sys, time
DAEMON = {DAEMON!r}
def handler(event, context):
    subprocess.run([sys.executable, "-c", DAEMON, event["pidfile"], event["heartbeat"]], check=True)
    time.sleep(event.get("sleep", 0))
    return {{"started": True}}
"""


def daemon_pid(pidfile: Path) -> int:
    pid = int(wait_for(lambda: pidfile.is_file() and pidfile.read_text().strip(), timeout=60,
                       description=f"the daemon's pid in {pidfile}"))
    assert alive(pid), f"the daemon {pid} should be running now"
    # in the session (and process group) its exited middle process made: no group the cloud knows of
    assert os.getsid(pid) == os.getpgid(pid) != pid, "the daemon should have escaped into a session of its own"
    return pid


def assert_daemon_gone(pid: int, heartbeat: Path, what: str) -> float:
    """Wait (≤ 10 s) until the daemon's pid is gone; then its heartbeat no longer changes. Returns seconds."""
    started = time.monotonic()
    wait_for(lambda: not alive(pid), timeout=GONE_TIMEOUT, description=f"{what}: the daemon {pid} still runs")
    seconds = time.monotonic() - started
    beat = heartbeat.read_text()
    time.sleep(0.5)  # five heartbeats' time
    assert heartbeat.read_text() == beat, f"{what}: the heartbeat still changes"
    return seconds


@pytest.fixture
def files(tmp_path):
    """The daemon's pid and heartbeat files in ``tmp_path``; a daemon still running at the end is killed."""
    pidfile, heartbeat = tmp_path / "daemon.pid", tmp_path / "heartbeat"
    yield pidfile, heartbeat
    if pidfile.is_file():
        try:
            os.kill(int(pidfile.read_text()), signal.SIGKILL)  # only when the test failed: it escaped
        except ProcessLookupError:
            pass


class TestLambdaDaemon:
    """A handler's setsid daemon ends with its execution environment."""

    def test_delete_function_ends_the_daemon(self, cloud, files):
        """
        1. Invoke a handler that starts the daemon and returns (the environment stays warm).
        2. DeleteFunction: within 10 s the daemon is gone and its heartbeat stops.
        """
        pidfile, heartbeat = files
        name = create_function(cloud, HANDLER)
        response, payload = invoke(cloud, name, {"pidfile": str(pidfile), "heartbeat": str(heartbeat)})
        assert "FunctionError" not in response, payload
        pid = daemon_pid(pidfile)
        cloud.client("lambda", region=REGION).delete_function(FunctionName=name)
        seconds = assert_daemon_gone(pid, heartbeat, "after DeleteFunction")
        print(f"daemon gone {seconds:.2f} s after DeleteFunction")

    def test_delete_function_during_an_invoke_ends_the_daemon_after_it(self, cloud, files):
        """
        1. Invoke (in a thread) a handler that starts the daemon, then sleeps 3 s.
        2. DeleteFunction while it sleeps; the invoke still answers; then within 10 s the daemon is gone
           (its environment does not go back to the warm pool).
        """
        pidfile, heartbeat = files
        name = create_function(cloud, HANDLER)
        answers = []
        event = {"pidfile": str(pidfile), "heartbeat": str(heartbeat), "sleep": 3}
        thread = threading.Thread(target=lambda: answers.append(invoke(cloud, name, event)))
        thread.start()
        pid = daemon_pid(pidfile)
        cloud.client("lambda", region=REGION).delete_function(FunctionName=name)
        thread.join(timeout=60)
        assert answers and "FunctionError" not in answers[0][0], answers
        seconds = assert_daemon_gone(pid, heartbeat, "after an invoke that outlived DeleteFunction")
        print(f"daemon gone {seconds:.2f} s after the invoke ended")

    @pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
    def test_cloud_stop_or_kill_ends_the_daemon(self, own_cloud, files, how):  # noqa: F811 - the fixture
        """
        1. On a cloud of its own, invoke the daemon-starting handler.
        2. SIGTERM the cloud (a clean stop) or SIGKILL it (its environments' leaders clean up).
        3. Within 10 s the daemon is gone and its heartbeat stops.
        """
        pidfile, heartbeat = files
        name = create_function(own_cloud, HANDLER)
        response, payload = invoke(own_cloud, name, {"pidfile": str(pidfile), "heartbeat": str(heartbeat)})
        assert "FunctionError" not in response, payload
        pid = daemon_pid(pidfile)
        os.kill(own_cloud.process.pid, getattr(signal, how))
        own_cloud.process.wait(timeout=30)
        seconds = assert_daemon_gone(pid, heartbeat, f"after {how} to the cloud")
        print(f"daemon gone {seconds:.2f} s after the cloud exited ({how})")


class TestJobDaemon:
    """A processing job's setsid daemon ends when the job ends (cold and warm jobs)."""

    @pytest.mark.parametrize("warm", [True, False], ids=["warm", "cold"])
    def test_job_end_ends_the_daemon(self, cloud, tmp_path, files, warm):
        """
        1. A processing job whose script starts the daemon and exits 0 (a warm fork for `python3 script.py`,
           a fresh process for `python3 -u script.py`).
        2. The job Completes; within 10 s the daemon is gone and its heartbeat stops.
        """
        pidfile, heartbeat = files
        script = tmp_path / "start_daemon.py"
        script.write_text(f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {DAEMON!r}, "
                          f"{str(pidfile)!r}, {str(heartbeat)!r}], check=True)\n")
        entrypoint = ["python3", str(script)] if warm else ["python3", "-u", str(script)]  # an option: cold
        sm, name = cloud.client("sagemaker", region=REGION), unique_name("daemonjob")
        sm.create_processing_job(
            ProcessingJobName=name, RoleArn=create_role(cloud, unique_name("daemon-role")),
            AppSpecification={"ImageUri": ecr_image_uri(account_id(cloud), REGION, "no-image-here"),
                              "ContainerEntrypoint": entrypoint},
            ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.t3.medium",
                                                   "VolumeSizeInGB": 5}},
            StoppingCondition={"MaxRuntimeInSeconds": 300})
        final = wait_for_status(lambda: sm.describe_processing_job(ProcessingJobName=name), "ProcessingJobStatus",
                                DONE, timeout=60)
        assert final["ProcessingJobStatus"] == "Completed", final.get("FailureReason")
        pid = int(pidfile.read_text())
        seconds = assert_daemon_gone(pid, heartbeat, "after the job completed")
        print(f"daemon gone {seconds:.2f} s after the job completed ({'warm' if warm else 'cold'})")


    @pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
    def test_cloud_stop_or_kill_ends_a_running_jobs_daemon(self, own_cloud, tmp_path, files, how):  # noqa: F811
        """
        1. On a cloud of its own, a warm processing job starts the daemon and sleeps 300 s.
        2. SIGTERM or SIGKILL the cloud: within 10 s the daemon is gone and its heartbeat stops.
        """
        pidfile, heartbeat = files
        script = tmp_path / "start_daemon.py"
        script.write_text(f"import subprocess, sys, time\nsubprocess.run([sys.executable, '-c', {DAEMON!r}, "
                          f"{str(pidfile)!r}, {str(heartbeat)!r}], check=True)\ntime.sleep(300)\n")
        sm = own_cloud.client("sagemaker", region=REGION)
        sm.create_processing_job(
            ProcessingJobName=unique_name("daemonjob"), RoleArn=create_role(own_cloud, unique_name("daemon-role")),
            AppSpecification={"ImageUri": ecr_image_uri(account_id(own_cloud), REGION, "no-image-here"),
                              "ContainerEntrypoint": ["python3", str(script)]},
            ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.t3.medium",
                                                   "VolumeSizeInGB": 5}},
            StoppingCondition={"MaxRuntimeInSeconds": 300})
        pid = daemon_pid(pidfile)
        os.kill(own_cloud.process.pid, getattr(signal, how))
        own_cloud.process.wait(timeout=30)
        seconds = assert_daemon_gone(pid, heartbeat, f"after {how} to the cloud")
        print(f"job's daemon gone {seconds:.2f} s after the cloud exited ({how})")


# As an unprivileged user: the interpreter of the project's venv lives under /root (0700 here), so the
# whole cloud cannot run as another user; process_group and its leader need only the standard library,
# so the system's Python runs them from src/ (world-readable).
UNPRIVILEGED_CHECK = textwrap.dedent("""
    import os, sys, time
    from localcloud.child import process_group
    pidfile, heartbeat, daemon = sys.argv[1:4]
    starter = "import subprocess, sys, time; subprocess.run([sys.executable, '-c', *sys.argv[1:]]); time.sleep(300)"
    leader = process_group.start([sys.executable, "-c", starter, daemon, pidfile, heartbeat])
    for _ in range(600):
        if os.path.exists(pidfile):
            break
        time.sleep(0.05)
    pid = int(open(pidfile).read())
    assert os.getsid(pid) == os.getpgid(pid) != pid
    print(pid, flush=True)
    process_group.kill(leader)
""")


def kill_processes_of(uid: int) -> None:
    """SIGKILL every process of ``uid`` (a user this test made, so they are all this test's)."""
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and entry.stat().st_uid == uid:
                os.kill(int(entry.name), signal.SIGKILL)
        except (FileNotFoundError, ProcessLookupError):
            pass


@pytest.fixture
def unprivileged_user():
    """A user made with useradd for this test (removed after), or a skip saying why there can be none."""
    if os.geteuid() != 0:
        pytest.skip("making an unprivileged user needs root; this run is unprivileged already (covered above)")
    if not shutil.which("useradd") or not Path("/usr/bin/python3").exists():
        pytest.skip("useradd or /usr/bin/python3 is missing")
    name = f"lc{os.getpid() % 100000}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], check=False)


class TestUnprivileged:
    """The same containment works for a user who is not root (a learner's laptop)."""

    def test_daemon_of_a_group_ends_with_it_as_a_plain_user(self, unprivileged_user):
        """
        1. As a user made with useradd, start the daemon under process_group (the system's Python).
        2. process_group.kill: within 10 s the daemon is gone and its heartbeat stops.
        """
        folder = Path(tempfile.mkdtemp(prefix="lc-unpriv-"))
        try:
            os.chown(folder, unprivileged_user.pw_uid, unprivileged_user.pw_gid)
            pidfile, heartbeat = folder / "daemon.pid", folder / "heartbeat"
            done = subprocess.run(
                ["/usr/bin/python3", "-I", "-c", f"import sys; sys.path.insert(0, {str(SRC)!r}); "
                 + UNPRIVILEGED_CHECK, str(pidfile), str(heartbeat), DAEMON],
                user=unprivileged_user.pw_uid, group=unprivileged_user.pw_gid, cwd=folder,
                env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
            pid = int(done.stdout.split()[0])
            assert Path(f"/proc/{pid}").stat().st_uid == unprivileged_user.pw_uid
            seconds = assert_daemon_gone(pid, heartbeat, "after process_group.kill as a plain user")
            print(f"daemon gone {seconds:.2f} s after kill (uid {unprivileged_user.pw_uid})")
        finally:
            kill_processes_of(unprivileged_user.pw_uid)  # only when the test failed: what escaped
            shutil.rmtree(folder, ignore_errors=True)

