"""Shared by the bench scripts: measured child processes, the machine line, local-cloud job requests.

Not a test helper: the benches print figures, they never fail on them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None  # GNU time: -f %M is the peak RSS in KiB
# The kit's linear-learner URI for eu-west-1 (the local cloud runs its stand-in for any */linear-learner image).
LINEAR_LEARNER_IMAGE = "438346466558.dkr.ecr.eu-west-1.amazonaws.com/linear-learner:1"
REGION = "eu-west-1"

# Reports its own peak RSS when /usr/bin/time is missing: runs a module or script in this interpreter.
_SELF_REPORT = r"""
import resource, runpy, sys
target, out, *rest = sys.argv[1:]
sys.argv = [target, *rest]
code = 0
try:
    if target.endswith('.py'):
        runpy.run_path(target, run_name='__main__')
    else:
        runpy.run_module(target, run_name='__main__', alter_sys=True)
except SystemExit as stop:
    code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
try:  # VmHWM is this process's own; after exec, ru_maxrss also counts the parent's pages at fork
    with open('/proc/self/status') as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith('VmHWM'))
except (OSError, StopIteration):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with open(out, 'w') as handle:
    handle.write(str(peak))
sys.exit(code)
"""


def machine_line() -> str:
    """Date, host, CPU, cores, memory, Python and the load average: for every figure printed."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        memory = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    except (OSError, ValueError, IndexError):
        memory = float("nan")
    load = os.getloadavg()
    return (f"{time.strftime('%Y-%m-%d %H:%M %Z')}; {platform.node()}; {cpu}; {os.cpu_count()} cores; "
            f"{memory:.0f} GiB; Python {platform.python_version()}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


def _cpu_times() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def load_note(sample_seconds: float = 2.0) -> str:
    """How busy the machine is with other work right now: CPU use over a short idle sample, and the load average.

    The sample is taken while the bench itself runs nothing, so it shows only the others (the load average
    also counts the bench's own previous minute). Figures taken when others use ≥ 0.25 of a core are labelled.
    """
    load = os.getloadavg()[0]
    try:
        busy0, total0 = _cpu_times()
        time.sleep(sample_seconds)
        busy1, total1 = _cpu_times()
        cores_busy = (os.cpu_count() or 1) * (busy1 - busy0) / max(total1 - total0, 1)
    except (OSError, ValueError, IndexError):
        return f"1-min load average {load:.2f} (no /proc/stat sample)"
    label = "UNDER LOAD" if cores_busy >= 0.25 else "quiet machine"
    return f"{label}: other work used {cores_busy:.2f} of {os.cpu_count()} cores over {sample_seconds:.0f} s; 1-min load average {load:.2f}"


@dataclass
class Measured:
    seconds: float
    peak_mb: float
    returncode: int
    output: str


def run_measured(args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> Measured:
    """Run ``python ARGS…`` as a child and return its wall time and its own peak RSS.

    ``args`` starts with a script path (``….py``) or ``-m module``. The peak is the child's
    (``/usr/bin/time -f %M``), or, without GNU time, what the child reports of itself.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".rss", delete=False) as report:
        report_path = report.name
    try:
        if TIME:
            command = [TIME, "-f", "%M", "-o", report_path, sys.executable, *args]
        else:
            target, rest = (args[1], args[2:]) if args[0] == "-m" else (args[0], args[1:])
            command = [sys.executable, "-c", _SELF_REPORT, target, report_path, *rest]
        started = time.perf_counter()
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        text = Path(report_path).read_text().strip().splitlines()
        peak_kb = float(text[-1]) if text and text[-1].strip().isdigit() else float("nan")
        return Measured(seconds, peak_kb / 1024, done.returncode, done.stdout + done.stderr)
    finally:
        os.unlink(report_path)


def median(values: list[float]) -> float:
    return statistics.median(values)


# -- local-cloud jobs -------------------------------------------------------------------------------
def processing_request(name: str, role: str, bucket: str, raw_prefix: str, code_prefix: str, out_uri: str) -> dict:
    """The notebooks' processing job: preprocess.py over s3://bucket/raw_prefix, outputs to out_uri."""
    return dict(
        ProcessingJobName=name, RoleArn=role,
        AppSpecification={"ImageUri": "local/any:latest",
                          "ContainerEntrypoint": ["python3", "/opt/ml/processing/code/preprocess.py"],
                          "ContainerArguments": ["--input-dir", "/opt/ml/processing/input",
                                                 "--output-dir", "/opt/ml/processing/output"]},
        ProcessingInputs=[
            {"InputName": "raw", "S3Input": {"S3Uri": f"s3://{bucket}/{raw_prefix}", "LocalPath": "/opt/ml/processing/input",
                                             "S3DataType": "S3Prefix", "S3InputMode": "File"}},
            {"InputName": "code", "S3Input": {"S3Uri": f"s3://{bucket}/{code_prefix}", "LocalPath": "/opt/ml/processing/code",
                                              "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
        ProcessingOutputConfig={"Outputs": [{"OutputName": "all", "S3Output": {
            "S3Uri": out_uri, "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "EndOfJob"}}]},
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.t3.medium", "VolumeSizeInGB": 1}})


def training_request(name: str, role: str, hyperparameters: dict[str, str], train_uri: str, test_uri: str,
                     output_uri: str) -> dict:
    """The kit's training job (src/lambdas/start_training.py's request) with the given hyperparameters."""
    def channel(channel_name: str, uri: str) -> dict[str, Any]:
        return {"ChannelName": channel_name, "ContentType": "text/csv", "InputMode": "File", "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}}}

    return dict(
        TrainingJobName=name, RoleArn=role,
        AlgorithmSpecification={"TrainingImage": LINEAR_LEARNER_IMAGE, "TrainingInputMode": "File"},
        HyperParameters={k: str(v) for k, v in hyperparameters.items()},
        InputDataConfig=[channel("train", train_uri), channel("test", test_uri)],
        OutputDataConfig={"S3OutputPath": output_uri},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 1800})


def wait_job(sm, kind: str, name: str, timeout: float = 900) -> dict:
    """Poll a processing or training job every 20 ms until it leaves InProgress; fail loudly if it failed."""
    describe = sm.describe_processing_job if kind == "processing" else sm.describe_training_job
    key = {"processing": "ProcessingJobName", "training": "TrainingJobName"}[kind]
    status_key = "ProcessingJobStatus" if kind == "processing" else "TrainingJobStatus"
    deadline = time.monotonic() + timeout
    while True:
        job = describe(**{key: name})
        if job[status_key] != "InProgress":
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"{kind} job {name} still InProgress after {timeout:.0f} s")
        time.sleep(0.02)
    if job[status_key] != "Completed":
        raise RuntimeError(f"{kind} job {name}: {job[status_key]}: {job.get('FailureReason')}")
    return job


def write_ml_root(root: Path, hyperparameters: dict[str, str], train_csv: Path, test_csv: Path) -> None:
    """An /opt/ml-shaped folder for ``python -m localcloud.sagemaker.algorithms.linear_learner.train --ml-root``, as the cloud writes it.

    The channel files are hard links (copies across file systems) of the preprocess outputs.
    """
    (root / "input/config").mkdir(parents=True, exist_ok=True)
    (root / "input/config/hyperparameters.json").write_text(json.dumps({k: str(v) for k, v in hyperparameters.items()}))
    channel = {"ContentType": "text/csv", "TrainingInputMode": "File", "S3DistributionType": "FullyReplicated",
               "RecordWrapperType": "None"}
    (root / "input/config/inputdataconfig.json").write_text(json.dumps({"train": channel, "test": channel}))
    (root / "input/config/resourceconfig.json").write_text(json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}))
    for name, source in (("train", train_csv), ("test", test_csv)):
        target = root / "input/data" / name / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target.unlink()
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)
    for folder in ("model", "output"):
        shutil.rmtree(root / folder, ignore_errors=True)


def kit_hyperparameters(**overrides: Any) -> dict[str, str]:
    """src/lambdas/start_training.py's DEFAULT_HYPERPARAMETERS, with overrides (all strings, as SageMaker sends them)."""
    spec = importlib.util.spec_from_file_location("start_training", ROOT / "src/lambdas/start_training.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {k: str(v) for k, v in {**module.DEFAULT_HYPERPARAMETERS, **overrides}.items()}


def report_goal(figure: str, value: str, goal: str, met: bool | None) -> None:
    """Note one headline figure for bench/summary.py's table (``make bench`` sets BENCH_GOALS to a file).

    Printed by the caller as usual; this only appends a JSON line when BENCH_GOALS names a file.
    """
    path = os.environ.get("BENCH_GOALS")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps({"figure": figure, "value": value, "goal": goal, "met": met}) + "\n")
