"""Print the local cloud's figures: start time, Lambda invoke latency, processing job overhead.

Usage: .venv/bin/python bench/localcloud_bench.py [--invokes 40]
Targets (issue "local cloud"): start ≤ 3 s, warm invoke p50 ≤ 30 ms, cold ≤ 1 s.
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
    args = parser.parse_args()

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

        with tempfile.TemporaryDirectory() as scratch:
            out = Path(scratch) / "out"
            direct = []
            for _ in range(3):
                started = time.perf_counter()
                subprocess.run([sys.executable, str(ROOT / "src/jobs/preprocess.py"), "--input-dir", str(ROOT / "data"),
                                "--output-dir", str(out)], check=True, capture_output=True)
                direct.append(time.perf_counter() - started)
        s3, sm = cloud.client("s3"), cloud.client("sagemaker")
        s3.create_bucket(Bucket="bench", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        s3.upload_file(str(ROOT / "data/iris.data"), "bench", "raw/iris.data")
        s3.upload_file(str(ROOT / "src/jobs/preprocess.py"), "bench", "code/preprocess.py")
        jobs = []
        for i in range(3):
            started = time.perf_counter()
            sm.create_processing_job(
                ProcessingJobName=f"bench-{i}", RoleArn=role,
                AppSpecification={"ImageUri": "local/any:latest", "ContainerEntrypoint": [
                    "python3", "/opt/ml/processing/code/preprocess.py"],
                    "ContainerArguments": ["--input-dir", "/opt/ml/processing/input", "--output-dir", "/opt/ml/processing/output"]},
                ProcessingInputs=[
                    {"InputName": "raw", "S3Input": {"S3Uri": "s3://bench/raw/", "LocalPath": "/opt/ml/processing/input",
                                                     "S3DataType": "S3Prefix", "S3InputMode": "File"}},
                    {"InputName": "code", "S3Input": {"S3Uri": "s3://bench/code/", "LocalPath": "/opt/ml/processing/code",
                                                      "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
                ProcessingOutputConfig={"Outputs": [{"OutputName": "all", "S3Output": {
                    "S3Uri": f"s3://bench/out-{i}", "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "EndOfJob"}}]},
                ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.t3.medium", "VolumeSizeInGB": 1}})
            while sm.describe_processing_job(ProcessingJobName=f"bench-{i}")["ProcessingJobStatus"] == "InProgress":
                time.sleep(0.02)
            jobs.append(time.perf_counter() - started)
        overhead = statistics.median(jobs) - statistics.median(direct)
        print(f"processing job (preprocess.py on iris): median {statistics.median(jobs):.2f} s through the cloud, "
              f"{statistics.median(direct):.2f} s run directly → overhead {overhead:.2f} s")
    finally:
        cloud.stop()


if __name__ == "__main__":
    main()
