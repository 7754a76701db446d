"""Print the local cloud's figures: start time, Lambda invoke latency, processing and training job overhead.

Usage: .venv/bin/python bench/localcloud_bench.py [--invokes 40] [--cold 8] [--jobs 3]
Targets (issue "local cloud"): start ≤ 3 s, warm invoke p50 ≤ 30 ms, cold ≤ 1 s; job overhead ≤ 0.1 s (issue 13).
Job overhead = median create → Completed through the cloud (polled every 20 ms) − median of the bare
script run as a child process, on a cloud with warm jobs (the default) and on one started with
``--cold-jobs`` (a fresh Python per job): preprocess.py on data/iris.data, and the linear-learner stand-in
(``python -m localcloud.linear_learner --ml-root``) on its outputs with the kit's hyperparameters.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
from _common import (kit_hyperparameters, load_note, machine_line, processing_request, training_request,  # noqa: E402
                     wait_job, write_ml_root)
from conftest_cloud import CloudProcess  # noqa: E402  (the tests' launcher: python -m localcloud)

HANDLER = "import boto3\ns3 = boto3.client('s3')\n\ndef handler(event, context):\n    return {'echo': event}\n"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--invokes", type=int, default=40)
    parser.add_argument("--cold", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=3, help="runs of each job kind and of each bare script")
    args = parser.parse_args()
    print(f"local cloud bench — {machine_line()}")
    print(f"  {load_note()}")

    starts = []
    for _ in range(3):
        started = time.perf_counter()
        cloud = CloudProcess()
        starts.append(time.perf_counter() - started)
        cloud.stop()
    print(f"localcloud start (process spawn → ready line): median {statistics.median(starts):.2f} s "
          f"(runs: {', '.join(f'{s:.2f}' for s in starts)}; target ≤ 3 s)")

    cloud = CloudProcess()
    try:
        lam, iam = cloud.client("lambda"), cloud.client("iam")
        role = iam.create_role(RoleName="bench", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("app.py", HANDLER)
        lam.create_function(FunctionName="bench", Runtime="python3.11", Role=role, Handler="app.handler",
                            Code={"ZipFile": code.getvalue()}, Timeout=30)
        payload = json.dumps({"n": 1}).encode()
        cold = []
        for i in range(args.cold):  # a configuration change retires the warm environment, as on AWS
            lam.update_function_configuration(FunctionName="bench", Environment={"Variables": {"RUN": str(i)}})
            cold.append(timed(lambda: lam.invoke(FunctionName="bench", Payload=payload)))
        warm = [timed(lambda: lam.invoke(FunctionName="bench", Payload=payload)) for _ in range(args.invokes)]
        print(f"Lambda invoke, warm ({len(warm)}): p50 {percentile(warm, 50):.1f} ms, p95 {percentile(warm, 95):.1f} ms "
              f"(target p50 ≤ 30 ms)")
        print(f"Lambda invoke, cold ({len(cold)}): p50 {percentile(cold, 50):.0f} ms, p95 {percentile(cold, 95):.0f} ms "
              f"(target ≤ 1000 ms)")

        hyperparameters = kit_hyperparameters()
        with tempfile.TemporaryDirectory() as scratch:
            out = Path(scratch) / "out"
            direct, direct_training = [], []
            for _ in range(args.jobs):
                started = time.perf_counter()
                subprocess.run([sys.executable, str(ROOT / "src/jobs/preprocess.py"), "--input-dir", str(ROOT / "data"),
                                "--output-dir", str(out)], check=True, capture_output=True)
                direct.append(time.perf_counter() - started)
            ml_root = Path(scratch) / "ml"
            for _ in range(args.jobs):
                write_ml_root(ml_root, hyperparameters, out / "train/train.csv", out / "test/test.csv")
                started = time.perf_counter()
                subprocess.run([sys.executable, "-m", "localcloud.linear_learner", "--ml-root", str(ml_root)],
                               check=True, capture_output=True)
                direct_training.append(time.perf_counter() - started)
        print(f"bare scripts: preprocess.py {statistics.median(direct):.2f} s (runs: {', '.join(f'{s:.2f}' for s in direct)}); "
              f"linear-learner stand-in {statistics.median(direct_training):.2f} s "
              f"(runs: {', '.join(f'{s:.2f}' for s in direct_training)}); hyperparameters {hyperparameters}")
        figures = {"warm": job_overheads(cloud, args.jobs, hyperparameters, direct, direct_training)}
    finally:
        cloud.stop()
    cold_cloud = CloudProcess("--cold-jobs")  # every job a fresh Python, as before warm jobs
    try:
        figures["cold (--cold-jobs)"] = job_overheads(cold_cloud, args.jobs, hyperparameters, direct, direct_training)
    finally:
        cold_cloud.stop()
    for mode, lines in figures.items():
        for line in lines:
            print(f"{mode}: {line}")
    print(f"  after the jobs, {load_note()}")


def job_overheads(cloud: CloudProcess, runs: int, hyperparameters: dict[str, str], direct: list[float],
                  direct_training: list[float]) -> list[str]:
    """Run the processing and training jobs ``runs`` times each on ``cloud``; lines of overhead over the bare scripts."""
    s3, sm = cloud.client("s3"), cloud.client("sagemaker")
    role = cloud.client("iam").create_role(RoleName="bench-jobs", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    s3.create_bucket(Bucket="bench", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.upload_file(str(ROOT / "data/iris.data"), "bench", "raw/iris.data")
    s3.upload_file(str(ROOT / "src/jobs/preprocess.py"), "bench", "code/preprocess.py")
    jobs, training_jobs = [], []
    for i in range(runs):
        started = time.perf_counter()
        sm.create_processing_job(**processing_request(f"bench-{i}", role, "bench", "raw/", "code/", f"s3://bench/out-{i}"))
        wait_job(sm, "processing", f"bench-{i}")
        jobs.append(time.perf_counter() - started)
    for i in range(runs):
        started = time.perf_counter()
        sm.create_training_job(**training_request(f"bench-train-{i}", role, hyperparameters, "s3://bench/out-0/train/",
                                                  "s3://bench/out-0/test/", "s3://bench/model"))
        wait_job(sm, "training", f"bench-train-{i}")
        training_jobs.append(time.perf_counter() - started)
    return [f"processing job (preprocess.py on iris): median {statistics.median(jobs):.2f} s through the cloud "
            f"→ overhead {statistics.median(jobs) - statistics.median(direct):+.2f} s over the bare script "
            f"(runs: {', '.join(f'{s:.2f}' for s in jobs)})",
            f"training job (linear-learner stand-in on iris): median {statistics.median(training_jobs):.2f} s through "
            f"the cloud → overhead {statistics.median(training_jobs) - statistics.median(direct_training):+.2f} s "
            f"over the bare script (runs: {', '.join(f'{s:.2f}' for s in training_jobs)})"]


if __name__ == "__main__":
    main()
