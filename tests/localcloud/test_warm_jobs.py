"""Warm job environments: a job's Python is a fresh fork of a template that has imported pandas.

The template (localcloud.child.warm_template, driven by localcloud.sagemaker.jobs.warm_jobs) never runs job code; every
job is a new fork of it. A job must still look like a fresh ``python3 script.py`` in a container of
its own: its environment, argv and ``/opt/ml`` paths, nothing left by an earlier job, its exit code,
and its whole process group killed on MaxRuntimeInSeconds, StopProcessingJob and when the cloud goes.
On SageMaker each job runs its own container, with the environment its request gives ("Environment:
Sets the environment variables in the Docker container",
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProcessingJob.html).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
from pathlib import Path

import pytest
from _support import account_id, create_bucket, create_role, ecr_image_uri, unique_name
from _wait import wait_for_status
from test_processes import alive, assert_gone, read_pids

from conftest_cloud import CloudProcess
from localcloud.sagemaker.jobs.warm_jobs import template_env, warm_target

REGION = "eu-west-1"
DONE = {"Completed", "Failed", "Stopped"}
CODE_DIR = "/opt/ml/processing/input/code"

# Writes what the job sees to the file named by its first argument. `pandas` is checked before any import.
PROBE = textwrap.dedent('''
    import json, os, sys
    report = {"preloaded": "pandas" in sys.modules, "argv": sys.argv[1:], "greeting": os.environ.get("GREETING"),
              "leaked_env": os.environ.get("LEAKED_BY_EARLIER_JOB"), "cwd": os.getcwd()}
    import pandas
    report["leaked_attribute"] = hasattr(pandas, "leaked_by_earlier_job")
    import numpy
    report["random"] = float(numpy.random.random())  # never seeded by the job
    frame = pandas.read_csv("/opt/ml/processing/input/code/script.py", sep="\\x01", header=None)  # a fixed /opt/ml path
    report["lines_of_own_script"] = len(frame)
    if os.environ.get("LEAVE_A_MESS"):  # what a careless job would leave behind in a shared process
        os.environ["LEAKED_BY_EARLIER_JOB"] = "yes"
        pandas.leaked_by_earlier_job = True
    with open(sys.argv[1] + ".tmp", "w") as handle:
        json.dump(report, handle)
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
''')

CRASHES = {
    "os._exit(3)": "import os\nos._exit(3)\n",
    "segfault": "import ctypes\nctypes.string_at(0)\n",
    "leaked child": "import subprocess, sys\nchild = subprocess.Popen(['sleep', '300'])\n"
                    "open(sys.argv[2], 'w').write(str(child.pid))\n",
}

# A Python job whose `sleep` grandchild shares its group; pids to the file named by argv[1], then it waits.
SLEEPER = textwrap.dedent('''
    import os, subprocess, sys, time
    child = subprocess.Popen(["sleep", "300"])
    with open(sys.argv[1] + ".tmp", "w") as handle:
        handle.write(f"{os.getpid()} {child.pid}")
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
    time.sleep(300)
''')


@pytest.fixture(scope="module")
def cloud():
    """A cloud of this module's own, started as a learner starts one: warm jobs are the default."""
    process = CloudProcess()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def bucket(cloud):
    return create_bucket(cloud, unique_name("warm-jobs"), REGION)


def script_job(cloud, bucket: str, script: str, arguments: list[str], environment: dict[str, str] | None = None,
               max_runtime: int = 120) -> dict:
    """A CreateProcessingJob request running ``python3 script.py ARGUMENTS`` (the script uploaded as the code input)."""
    name = unique_name("warm")
    s3 = cloud.client("s3", region=REGION)
    s3.put_object(Bucket=bucket, Key=f"code/{name}/script.py", Body=script.encode())
    request = {
        "ProcessingJobName": name, "RoleArn": create_role(cloud, unique_name("warm-role")),
        "AppSpecification": {"ImageUri": ecr_image_uri(account_id(cloud), REGION, "sagemaker-scikit-learn", "1.2-1-cpu-py3"),
                             "ContainerEntrypoint": ["python3", f"{CODE_DIR}/script.py", *arguments]},
        "ProcessingInputs": [{"InputName": "code", "S3Input": {
            "S3Uri": f"s3://{bucket}/code/{name}/script.py", "LocalPath": CODE_DIR, "S3DataType": "S3Prefix",
            "S3InputMode": "File"}}],
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.t3.medium",
                                                  "VolumeSizeInGB": 5}},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime}}
    if environment:
        request["Environment"] = environment
    return request


def run(cloud, request: dict, timeout: float = 60) -> dict:
    sm = cloud.client("sagemaker", region=REGION)
    sm.create_processing_job(**request)
    return wait_for_status(lambda: sm.describe_processing_job(ProcessingJobName=request["ProcessingJobName"]),
                           "ProcessingJobStatus", DONE, timeout=timeout)


def probe(cloud, bucket: str, report: Path, **environment: str) -> dict:
    """Run PROBE with ``environment``; return what it saw."""
    final = run(cloud, script_job(cloud, bucket, PROBE, [str(report), "second-argument"], environment))
    assert final["ProcessingJobStatus"] == "Completed", final.get("FailureReason")
    return json.loads(report.read_text())


class TestTheWarmPathIsUsed:
    """A Python job starts with pandas already imported; with --cold-jobs it does not."""

    def test_pandas_is_imported_before_the_script_runs(self, cloud, bucket, tmp_path):
        """
        1. Run a script that records whether pandas is in sys.modules before it imports anything.
        2. On the default (warm) cloud it is; the script still reads its fixed /opt/ml path with pandas.
        """
        seen = probe(cloud, bucket, tmp_path / "report.json", GREETING="hello")
        assert seen["preloaded"] is True
        assert seen["lines_of_own_script"] == PROBE.strip().count("\n") + 1

    def test_cold_jobs_flag_starts_a_fresh_python(self, bucket, tmp_path):
        """
        1. Start a cloud with --cold-jobs and run the same script.
        2. pandas was not imported before the script: every job is a new interpreter, as before.
        """
        cold = CloudProcess("--cold-jobs")
        try:
            cold_bucket = create_bucket(cold, unique_name("cold-jobs"), REGION)
            seen = probe(cold, cold_bucket, tmp_path / "report.json", GREETING="hello")
        finally:
            assert cold.stop() == 0
        assert seen["preloaded"] is False
        assert seen["greeting"] == "hello"


class TestJobsDoNotSeeEachOther:
    """What one job changes in its process (environment, module attributes) is not there for the next."""

    def test_second_job_sees_its_own_environment_and_argv_only(self, cloud, bucket, tmp_path):
        """
        1. Job A (GREETING=first) sets an environment variable and an attribute on the pandas module.
        2. Job B (GREETING=second) runs next, in a fork of the same template.
        3. B sees GREETING=second, its own argv and cwd, and neither of A's leftovers; A saw its own.
        4. numpy's unseeded random numbers differ between the two, as between two fresh interpreters
           (numpy 2 seeds its global state lazily; each fork is reseeded in case a template import drew from it).
        """
        first = probe(cloud, bucket, tmp_path / "a.json", GREETING="first", LEAVE_A_MESS="1")
        second = probe(cloud, bucket, tmp_path / "b.json", GREETING="second")
        assert (first["greeting"], second["greeting"]) == ("first", "second")
        assert second["argv"] == [str(tmp_path / "b.json"), "second-argument"]
        assert second["leaked_env"] is None and second["leaked_attribute"] is False
        assert first["cwd"] != second["cwd"], "each job runs in its own folder"
        assert second["preloaded"] is True
        assert first["random"] != second["random"], "each fork must reseed numpy's global random state"


class TestCrashesDoNotReachTheNextJob:
    """A job that dies hard, or leaves a child running, leaves the template and the next job unaffected."""

    @pytest.mark.parametrize("crash", sorted(CRASHES))
    def test_next_job_runs_warm_after(self, cloud, bucket, tmp_path, crash):
        """
        1. Run a job that calls os._exit(3), segfaults through ctypes, or starts `sleep 300` and exits.
        2. It fails with the exit code a fresh Python would give (3, -11), or Completes; a leaked sleep is gone.
        3. The next job Completes, still warm, with none of the earlier job's state.
        """
        pidfile = tmp_path / "leaked.pid"
        final = run(cloud, script_job(cloud, bucket, CRASHES[crash], [str(tmp_path / "unused"), str(pidfile)]))
        if crash == "os._exit(3)":
            assert final["ProcessingJobStatus"] == "Failed" and "AlgorithmError: exit code 3" in final["FailureReason"]
        elif crash == "segfault":
            assert final["ProcessingJobStatus"] == "Failed"
            assert f"exit code -{int(signal.SIGSEGV)}" in final["FailureReason"], final["FailureReason"]
        else:
            assert final["ProcessingJobStatus"] == "Completed", final.get("FailureReason")
            assert_gone([int(pidfile.read_text())], "a child the job left running")
        seen = probe(cloud, bucket, tmp_path / "next.json", GREETING="next")
        assert seen["preloaded"] is True and seen["greeting"] == "next" and seen["leaked_env"] is None

    def test_exit_2_and_the_failure_file_make_a_client_error(self, cloud, bucket):
        """
        1. A warm job writes /opt/ml/output/failure and exits 2.
        2. The job Fails with "ClientError: exit code 2: <the failure file>", as a cold job does
           (https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-output.html).
        """
        script = ("import os, sys\nos.makedirs('/opt/ml/output', exist_ok=True)\n"
                  "open('/opt/ml/output/failure', 'w').write('bad input: row 7')\nsys.exit(2)\n")
        final = run(cloud, script_job(cloud, bucket, script, []))
        assert final["ProcessingJobStatus"] == "Failed"
        assert final["FailureReason"] == "ClientError: exit code 2: bad input: row 7"


class TestWarmJobsAreProcessGroups:
    """MaxRuntimeInSeconds, StopProcessingJob and the cloud's death kill a warm job's whole group."""

    def test_max_runtime_kills_job_and_grandchild(self, cloud, bucket, tmp_path):
        """
        1. A warm Python job starts `sleep 300` and sleeps; MaxRuntimeInSeconds=2.
        2. It fails with MaxRuntimeExceeded; the job's Python and its sleep are gone.
        """
        request = script_job(cloud, bucket, SLEEPER, [str(tmp_path / "pids")], max_runtime=2)
        sm = cloud.client("sagemaker", region=REGION)
        sm.create_processing_job(**request)
        pids = read_pids(tmp_path / "pids")
        final = wait_for_status(lambda: sm.describe_processing_job(ProcessingJobName=request["ProcessingJobName"]),
                                "ProcessingJobStatus", DONE, timeout=30)
        assert final["ProcessingJobStatus"] == "Failed" and "MaxRuntime" in final["FailureReason"]
        assert_gone(pids, "after MaxRuntimeInSeconds")

    def test_stop_kills_job_and_grandchild(self, cloud, bucket, tmp_path):
        """
        1. Start the sleeper with a long MaxRuntime and wait for its pids.
        2. StopProcessingJob: the job is Stopped; its Python and its sleep are gone.
        """
        request = script_job(cloud, bucket, SLEEPER, [str(tmp_path / "pids")])
        sm = cloud.client("sagemaker", region=REGION)
        sm.create_processing_job(**request)
        pids = read_pids(tmp_path / "pids")
        sm.stop_processing_job(ProcessingJobName=request["ProcessingJobName"])
        final = wait_for_status(lambda: sm.describe_processing_job(ProcessingJobName=request["ProcessingJobName"]),
                                "ProcessingJobStatus", DONE, timeout=30)
        assert final["ProcessingJobStatus"] == "Stopped"
        assert_gone(pids, "after StopProcessingJob")

    def test_cloud_killed_ends_job_and_template(self, tmp_path):
        """
        1. On a cloud of its own, start the sleeper and wait for its pids.
        2. SIGKILL the cloud (no chance to clean up).
        3. Within 5 s the job, its sleep and the warm template are gone.
        """
        scratch = tmp_path / "scratch"  # where the killed cloud's scratch folder stays (not /tmp)
        scratch.mkdir()
        own = CloudProcess("--warm-jobs", env={**os.environ, "TMPDIR": str(scratch)})
        try:
            own_bucket = create_bucket(own, unique_name("warm-kill"), REGION)
            own.client("sagemaker", region=REGION).create_processing_job(
                **script_job(own, own_bucket, SLEEPER, [str(tmp_path / "pids")]))
            pids = read_pids(tmp_path / "pids")
            templates = _warm_templates(own.process.pid)
            assert templates, "the cloud should have a warm-job template"
            os.kill(own.process.pid, signal.SIGKILL)
            own.process.wait(timeout=30)
            assert_gone(pids + templates, "after SIGKILL to the cloud")
        finally:
            if own.process.poll() is None:
                own.stop()


def _warm_templates(cloud_pid: int) -> list[int]:
    """Pids of `python -m localcloud.child.warm_template` processes descended from ``cloud_pid``."""
    children: dict[int, list[int]] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                commands[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [cloud_pid]
    while todo:
        for child in children.get(todo.pop(), []):
            todo.append(child)
            if "localcloud.child.warm_template" in commands.get(child, "") and alive(child):
                found.append(child)
    return found


class TestWhatRunsWarm:
    """Only the kit's Python running a script or a module, with the template's start-up settings, runs warm."""

    @pytest.mark.parametrize("command, expected", [
        ([sys.executable, __file__, "--flag"], ("script", __file__)),
        ([sys.executable, "-m", "localcloud.sagemaker.algorithms.linear_learner.train", "--ml-root", "/x"], ("module", "localcloud.sagemaker.algorithms.linear_learner.train")),
        ([sys.executable, "-c", "print(1)"], None),
        ([sys.executable, "-u", __file__], None),
        ([sys.executable, "/no/such/script.py"], None),
        (["bash", "-c", "true"], None),
        (["python3", __file__], None),  # runner.py has already replaced python3 with sys.executable
    ])
    def test_commands(self, command, expected):
        """
        1. Ask warm_target about a command with the template's own environment.
        2. Scripts that exist and ``-m module`` run warm; options, -c, other programs, missing scripts do not.
        """
        assert warm_target(command, template_env(), template_env()) == expected

    @pytest.mark.parametrize("setting", [{"PYTHONHASHSEED": "0"}, {"OPENBLAS_NUM_THREADS": "2"},
                                         {"LD_PRELOAD": "/x.so"}, {"PYTHONPATH": "/elsewhere"}])
    def test_startup_settings_force_a_cold_start(self, setting):
        """
        1. Give a job's environment a variable Python or BLAS reads only at start-up, with another value.
        2. The job runs cold: a fork would not honour it.
        """
        env = {**template_env(), "GREETING": "hi", **setting}
        assert warm_target([sys.executable, __file__], env, template_env()) is None
        assert warm_target([sys.executable, __file__], {**template_env(), "GREETING": "hi"}, template_env())


class TestWarmIsTheDefault:
    """Jobs run warm unless the cloud is asked for cold ones (--cold-jobs, LOCALCLOUD_COLD_JOBS=1)."""

    @pytest.mark.parametrize("env, cold", [({}, False), ({"LOCALCLOUD_COLD_JOBS": "1"}, True),
                                           ({"LOCALCLOUD_WARM_JOBS": "0"}, True),
                                           ({"LOCALCLOUD_WARM_JOBS": "1"}, False)])
    def test_the_environment_chooses(self, monkeypatch, env, cold):
        """
        1. Set (or clear) the two variables and make a LocalCloud without saying cold_jobs.
        2. Its jobs are cold only when one of them asks for it; an explicit cold_jobs wins.
        """
        from localcloud.cloud import LocalCloud

        for name in ("LOCALCLOUD_COLD_JOBS", "LOCALCLOUD_WARM_JOBS"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        cloud = LocalCloud()
        explicit = LocalCloud(cold_jobs=not cold)
        try:
            assert cloud.cold_jobs is cold
            assert explicit.cold_jobs is (not cold)
        finally:
            cloud.stop()
            explicit.stop()
