"""Print the local cloud's figures: start time, Lambda invoke latency, processing and training job overhead.

Usage: .venv/bin/python bench/localcloud_bench.py [--invokes 40] [--cold 8] [--jobs 5]
Targets (issue "local cloud"): start ≤ 3 s, warm invoke p50 ≤ 30 ms, cold ≤ 1 s; job overhead ≤ 0.1 s (issue 13).
Job overhead = median over rounds of (create → Completed through the cloud, polled every 20 ms, − the bare
script run as a child process in the same round), on a cloud with warm jobs (the default) and on one started
with ``--cold-jobs`` (a fresh Python per job), interleaved so that both see the same load: preprocess.py on data/iris.data, and the linear-learner stand-in
(``python -m localcloud.sagemaker.algorithms.linear_learner.train --ml-root``) on its outputs with the kit's hyperparameters.
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


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
from _common import (kit_hyperparameters, load_note, report_goal, machine_line, processing_request, training_request,  # noqa: E402
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
    parser.add_argument("--jobs", type=int, default=5, help="rounds of each job kind (bare script, warm job, cold job)")
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
        role = iam.create_role(RoleName="bench", AssumeRolePolicyDocument=trust_policy("lambda"))["Role"]["Arn"]
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
        report_goal("Lambda invoke, warm p50", f"{percentile(warm, 50):.1f} ms", "≤ 30 ms", percentile(warm, 50) <= 30)
        report_goal("Lambda invoke, cold p50", f"{percentile(cold, 50):.0f} ms", "≤ 1000 ms", percentile(cold, 50) <= 1000)
    finally:
        cloud.stop()
    job_figures(args.jobs)


def job_figures(rounds: int) -> None:
    """Job overhead, warm and cold, in interleaved rounds so that each comparison sees the same load.

    Each round runs the bare script, then the same work as a job on a warm-jobs cloud and on a
    ``--cold-jobs`` one; the overhead is the median over rounds of (job − bare script in that round).
    """
    hyperparameters = kit_hyperparameters()
    clouds = {"warm": CloudProcess("--warm-jobs"), "cold": CloudProcess("--cold-jobs")}  # cold: a fresh Python per job
    try:
        roles = {mode: prepare_jobs(cloud) for mode, cloud in clouds.items()}
        times: dict[str, list[float]] = {}
        with tempfile.TemporaryDirectory() as scratch:
            out, ml_root = Path(scratch) / "out", Path(scratch) / "ml"
            for i in range(rounds):
                started = time.perf_counter()
                subprocess.run([sys.executable, str(ROOT / "src/jobs/preprocess.py"), "--input-dir", str(ROOT / "data"),
                                "--output-dir", str(out)], check=True, capture_output=True)
                times.setdefault("bare processing", []).append(time.perf_counter() - started)
                for mode, cloud in clouds.items():
                    sm = cloud.client("sagemaker")
                    started = time.perf_counter()
                    sm.create_processing_job(**processing_request(f"bench-{i}", roles[mode], "bench", "raw/", "code/",
                                                                  f"s3://bench/out-{i}"))
                    wait_job(sm, "processing", f"bench-{i}")
                    times.setdefault(f"{mode} processing", []).append(time.perf_counter() - started)
            for i in range(rounds):
                write_ml_root(ml_root, hyperparameters, out / "train/train.csv", out / "test/test.csv")
                started = time.perf_counter()
                subprocess.run([sys.executable, "-m", "localcloud.sagemaker.algorithms.linear_learner.train", "--ml-root", str(ml_root)],
                               check=True, capture_output=True)
                times.setdefault("bare training", []).append(time.perf_counter() - started)
                for mode, cloud in clouds.items():
                    sm = cloud.client("sagemaker")
                    started = time.perf_counter()
                    sm.create_training_job(**training_request(f"bench-train-{i}", roles[mode], hyperparameters,
                                                              "s3://bench/out-0/train/", "s3://bench/out-0/test/",
                                                              "s3://bench/model"))
                    wait_job(sm, "training", f"bench-train-{i}")
                    times.setdefault(f"{mode} training", []).append(time.perf_counter() - started)
    finally:
        for cloud in clouds.values():
            cloud.stop()
    runs = lambda values: ", ".join(f"{v:.2f}" for v in values)  # noqa: E731
    for kind, what in (("processing", "preprocess.py on iris"), ("training", "linear-learner stand-in on iris, "
                                                                             f"{hyperparameters}")):
        bare = times[f"bare {kind}"]
        print(f"{kind} job ({what}); bare script median {statistics.median(bare):.2f} s (runs: {runs(bare)})")
        for mode in clouds:
            jobs = times[f"{mode} {kind}"]
            overhead = statistics.median([job - alone for job, alone in zip(jobs, bare)])
            label = "warm jobs" if mode == "warm" else "cold jobs (--cold-jobs)"
            print(f"  {label:<24} median {statistics.median(jobs):.2f} s through the cloud → overhead "
                  f"{overhead:+.2f} s over the bare script (target ≤ 0.1 s; runs: {runs(jobs)})")
            warm = mode == "warm"  # the default; cold jobs are there for comparison
            report_goal(f"{kind} job overhead, {label.split(' (')[0]}", f"{overhead:+.2f} s",
                        "≤ 0.1 s" if warm else "(comparison)", overhead <= 0.1 if warm else None)
    print(f"  after the jobs, {load_note()}")


def prepare_jobs(cloud: CloudProcess) -> str:
    """The bench bucket with iris and preprocess.py on ``cloud``; returns a role ARN for the jobs."""
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="bench", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.upload_file(str(ROOT / "data/iris.data"), "bench", "raw/iris.data")
    s3.upload_file(str(ROOT / "src/jobs/preprocess.py"), "bench", "code/preprocess.py")
    iam = cloud.client("iam")
    arn = iam.create_role(RoleName="bench-jobs", AssumeRolePolicyDocument=trust_policy("sagemaker"))["Role"]["Arn"]
    iam.put_role_policy(RoleName="bench-jobs", PolicyName="bench-bucket", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject",
                                                                             "s3:ListBucket"],
                                                "Resource": ["arn:aws:s3:::bench", "arn:aws:s3:::bench/*"]}]}))
    return arn


def trust_policy(service: str) -> str:
    """A role ``service`` may assume: the cloud checks it when the role is handed over, as AWS does."""
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": f"{service}.amazonaws.com"}}]})


if __name__ == "__main__":
    main()
