"""Print the SageMaker Python SDK's figures against the local cloud: ModelTrainer.train() and Processor.run().

Usage: .venv/bin/python bench/sdk_bench.py [--rounds 3]
For each round, on one cloud: the boto3 path (create the job, poll every 20 ms, as bench/localcloud_bench.py), then
the same job through the SDK v3 in a script started after ``localcloud env`` (``ModelTrainer(linear-learner)
.train(wait=True, logs=True)`` and ``Processor(...).run(wait=True, logs=True)``, timed inside the script, the SDK's
import apart). Beside each: the job's own run time (its start to end, as DescribeTrainingJob/DescribeProcessingJob
say). What the SDK adds over the boto3 path is mostly its wait loop: ``TrainingJob.wait``/``ProcessingJob.wait``
refresh every ``poll=5`` seconds (sagemaker-core's default), so a job of a second is seen done up to 5 s later.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
from _common import (REGION, kit_hyperparameters, load_note, machine_line, processing_request, report_goal,  # noqa: E402
                     training_request, wait_job)
from conftest_cloud import CloudProcess  # noqa: E402  (the tests' launcher: python -m localcloud)

# What the SDK's role check simulates on every role (see tests/sdk/test_sdk_pipeline.py)
SDK_CHECKED_ACTIONS = ["ecr:GetAuthorizationToken", "cloudwatch:PutMetricData", "ec2:CreateNetworkInterface",
                       "ec2:CreateNetworkInterfacePermission",
                       "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission", "ec2:DescribeDhcpOptions",
                       "ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets",
                       "ec2:DescribeVpcs"]

_CHILD = r"""
import json, os, sys, time
started = time.perf_counter()
from sagemaker.core.helper.session_helper import Session
kind, role, round_ = sys.argv[1], sys.argv[2], sys.argv[3]
if kind == "training":
    from sagemaker.train import ModelTrainer
    from sagemaker.train.configs import Compute, InputData, OutputDataConfig
else:
    from sagemaker.core.processing import Processor
    from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output
imported = time.perf_counter()
session = Session()
if kind == "training":
    hyperparameters = json.loads(sys.argv[4])
    trainer = ModelTrainer(training_image=sys.argv[5], role=role, sagemaker_session=session,
                           base_job_name=f"bench-sdk-{round_}", hyperparameters=hyperparameters,
                           compute=Compute(instance_type="ml.m5.large", instance_count=1, volume_size_in_gb=5),
                           output_data_config=OutputDataConfig(s3_output_path="s3://bench/sdk-model"))
    begun = time.perf_counter()
    trainer.train(input_data_config=[InputData(channel_name="train", data_source="s3://bench/out-0/train/",
                                               content_type="text/csv"),
                                     InputData(channel_name="test", data_source="s3://bench/out-0/test/",
                                               content_type="text/csv")], wait=True, logs=True)
    name = trainer._latest_training_job.training_job_name
else:
    processor = Processor(role=role, image_uri="local/any:latest", instance_count=1, instance_type="ml.t3.medium",
                          volume_size_in_gb=1, entrypoint=["python3", "/opt/ml/processing/code/preprocess.py"],
                          base_job_name=f"bench-sdk-{round_}", sagemaker_session=session)
    begun = time.perf_counter()
    processor.run(inputs=[
        ProcessingInput(input_name="raw", s3_input=ProcessingS3Input(s3_uri="s3://bench/raw/", s3_data_type="S3Prefix",
                        local_path="/opt/ml/processing/input", s3_input_mode="File")),
        ProcessingInput(input_name="code", s3_input=ProcessingS3Input(s3_uri="s3://bench/code/", s3_data_type="S3Prefix",
                        local_path="/opt/ml/processing/code", s3_input_mode="File"))],
        outputs=[ProcessingOutput(output_name="all", s3_output=ProcessingS3Output(
            s3_uri=f"s3://bench/sdk-out-{round_}", local_path="/opt/ml/processing/output", s3_upload_mode="EndOfJob"))],
        arguments=["--input-dir", "/opt/ml/processing/input", "--output-dir", "/opt/ml/processing/output"],
        wait=True, logs=True)
    name = processor.latest_job.processing_job_name
print("SDK-BENCH " + json.dumps({"name": name, "import": imported - started, "call": time.perf_counter() - begun}))
"""


def _client_env(cloud: CloudProcess) -> dict[str, str]:
    """The environment after ``eval "$(python -m localcloud env --endpoint URL --region R)"``."""
    done = subprocess.run([sys.executable, "-m", "localcloud", "env", "--endpoint", cloud.url, "--region", REGION],
                          capture_output=True, text=True, check=True, timeout=120)
    env = dict(os.environ)
    for line in done.stdout.splitlines():
        words = shlex.split(line)
        if words[:1] == ["export"]:
            name, _, value = words[1].partition("=")
            env[name] = value
        elif words[:1] == ["unset"]:
            for name in words[1:]:
                env.pop(name, None)
    return env


def _prepare(cloud: CloudProcess) -> str:
    """The bench bucket (iris, preprocess.py, its outputs for training) and a role the SDK's check accepts."""
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="bench", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.upload_file(str(ROOT / "data/iris.data"), "bench", "raw/iris.data")
    s3.upload_file(str(ROOT / "src/jobs/preprocess.py"), "bench", "code/preprocess.py")
    iam = cloud.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                      "Principal": {"Service": "sagemaker.amazonaws.com"}}]}
    arn = iam.create_role(RoleName="bench-sdk", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName="bench-sdk", PolicyName="bench", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
             "Resource": ["arn:aws:s3:::bench", "arn:aws:s3:::bench/*"]},
            {"Effect": "Allow", "Action": SDK_CHECKED_ACTIONS, "Resource": "*"}]}))
    sm = cloud.client("sagemaker")
    sm.create_processing_job(**processing_request("bench-prepare", arn, "bench", "raw/", "code/", "s3://bench/out-0"))
    wait_job(sm, "processing", "bench-prepare")
    return arn


def _run_time(job: dict, kind: str) -> float:
    """The job's own run time: its start to its end, as the Describe answer says."""
    if kind == "training":
        return (job["TrainingEndTime"] - job["TrainingStartTime"]).total_seconds()
    return (job["ProcessingEndTime"] - job["ProcessingStartTime"]).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(machine_line())
    hyperparameters = kit_hyperparameters()
    cloud = CloudProcess()
    figures: dict[str, list[float]] = {}
    try:
        role = _prepare(cloud)
        env = _client_env(cloud)
        sm = cloud.client("sagemaker")
        for i in range(args.rounds):
            for kind in ("training", "processing"):
                name = f"bench-boto3-{kind}-{i}"
                started = time.perf_counter()
                if kind == "training":
                    sm.create_training_job(**training_request(name, role, hyperparameters, "s3://bench/out-0/train/",
                                                              "s3://bench/out-0/test/", "s3://bench/model"))
                else:
                    sm.create_processing_job(**processing_request(name, role, "bench", "raw/", "code/",
                                                                  f"s3://bench/boto3-out-{i}"))
                job = wait_job(sm, kind, name)
                figures.setdefault(f"{kind} boto3", []).append(time.perf_counter() - started)
                figures.setdefault(f"{kind} boto3 job", []).append(_run_time(job, kind))
                child = subprocess.run([sys.executable, "-c", _CHILD, kind, role, str(i), json.dumps(hyperparameters),
                                        "438346466558.dkr.ecr.eu-west-1.amazonaws.com/linear-learner:1"],
                                       capture_output=True, text=True, env=env, timeout=900)
                if child.returncode or "SDK-BENCH " not in child.stdout:
                    raise RuntimeError(f"the SDK's {kind} failed:\n{child.stdout[-2000:]}\n{child.stderr[-3000:]}")
                said = json.loads(re.search(r"SDK-BENCH (\{.*?\})", child.stdout).group(1))  # rich may prefix the line
                describe = sm.describe_training_job if kind == "training" else sm.describe_processing_job
                key = "TrainingJobName" if kind == "training" else "ProcessingJobName"
                figures.setdefault(f"{kind} sdk", []).append(said["call"])
                figures.setdefault(f"{kind} sdk import", []).append(said["import"])
                figures.setdefault(f"{kind} sdk job", []).append(_run_time(describe(**{key: said["name"]}), kind))
    finally:
        cloud.stop()
    runs = lambda values: ", ".join(f"{v:.2f}" for v in values)  # noqa: E731
    for kind, call in (("training", "ModelTrainer.train(wait=True, logs=True)"),
                       ("processing", "Processor.run(wait=True, logs=True)")):
        sdk, boto3_path = statistics.median(figures[f"{kind} sdk"]), statistics.median(figures[f"{kind} boto3"])
        job = statistics.median(figures[f"{kind} sdk job"])
        print(f"{kind}: SDK {call} median {sdk:.2f} s (runs: {runs(figures[f'{kind} sdk'])}); the job itself "
              f"{job:.2f} s; boto3 create + 20 ms polls {boto3_path:.2f} s (its job "
              f"{statistics.median(figures[f'{kind} boto3 job']):.2f} s); importing the SDK's parts "
              f"{statistics.median(figures[f'{kind} sdk import']):.2f} s (not in the call)")
        print(f"  the SDK's {sdk - job:+.2f} s over the job: its wait loop refreshes every 5 s (sagemaker-core's "
              "poll=5), its role check (SimulatePrincipalPolicy, GetRole) and session set-up (STS, S3 default bucket)")
        report_goal(f"SDK {kind} wall (job {job:.1f} s)", f"{sdk:.2f} s", "(comparison: boto3 "
                    f"{boto3_path:.2f} s)", None)
    print(f"  after the jobs, {load_note()}")


if __name__ == "__main__":
    main()
