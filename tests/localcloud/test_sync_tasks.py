"""A SageMaker ``.sync`` task ends when its job ends, not at its next check.

moto's interpreter checks a ``.sync`` task's job in a loop; the cloud's check of a job its runner runs
waits for the runner's end signal (at most ``_SYNC_WAIT_SECONDS``) instead of sleeping a fixed interval.
The cloud runs in this process here, so that the interval can be set far above what the job takes.
"""

from __future__ import annotations

import json
import textwrap
import time

import boto3
from _support import ecr_image_uri

from localcloud import moto_seams
from localcloud.cloud import LocalCloud
from localcloud.moto_seams import _stepfunctions

REGION = "eu-west-1"
SCRIPT = textwrap.dedent("""
    import time
    time.sleep(0.5)
    print("done")
""")


class TestSyncTaskEndsWithItsJob:
    """The job runner's end signal ends the task's wait: a long check interval does not delay it."""

    def test_a_thirty_second_check_interval_does_not_delay_the_task(self, monkeypatch):
        """
        1. An in-process cloud without IAM, whose .sync checks of a job wait up to 30 s.
        2. A machine with one createProcessingJob.sync task, whose job runs a script that sleeps 0.5 s.
        3. The execution SUCCEEDED well within 30 s (a check that slept its interval would take 30 s), and
           the task's output is the job's final Describe (Completed).
        """
        monkeypatch.setattr(_stepfunctions, "_SYNC_WAIT_SECONDS", 30.0)
        monkeypatch.delenv("MOTO_PORT", raising=False)
        try:
            with LocalCloud(port=0, iam=False) as cloud:
                session = boto3.session.Session(aws_access_key_id=cloud.keys.access_key_id, aws_secret_access_key=cloud.keys.secret_access_key,
                                                region_name=REGION)
                s3, sfn = (session.client(service, endpoint_url=cloud.url) for service in ("s3", "stepfunctions"))
                s3.create_bucket(Bucket="sync-tasks", CreateBucketConfiguration={"LocationConstraint": REGION})
                s3.put_object(Bucket="sync-tasks", Key="code/sleep.py", Body=SCRIPT.encode())
                account = moto_seams.cloud_account()
                job = {
                    "ProcessingJobName": "sync-ends-with-its-job",
                    "RoleArn": f"arn:aws:iam::{account}:role/any",
                    "AppSpecification": {
                        "ImageUri": ecr_image_uri(account, REGION, "sagemaker-scikit-learn", "1.2-1-cpu-py3"),
                        "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/sleep.py"]},
                    "ProcessingInputs": [{"InputName": "code", "S3Input": {
                        "S3Uri": "s3://sync-tasks/code/sleep.py", "LocalPath": "/opt/ml/processing/input/code",
                        "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
                    "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.t3.medium",
                                                              "VolumeSizeInGB": 5}},
                    "StoppingCondition": {"MaxRuntimeInSeconds": 60}}
                machine = sfn.create_state_machine(name="sync-ends-with-its-job", roleArn=job["RoleArn"],
                                                   definition=json.dumps({"StartAt": "Job", "States": {"Job": {
                                                       "Type": "Task", "End": True, "Parameters": job,
                                                       "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync"}}}))
                started = time.monotonic()
                execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"])["executionArn"]
                while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
                    assert time.monotonic() - started < 25, "the task waited for its next check"
                    time.sleep(0.05)
                for client in (s3, sfn):
                    client.close()
        finally:
            moto_seams.uninstall()
        assert described["status"] == "SUCCEEDED", described.get("cause")
        assert json.loads(described["output"])["ProcessingJobStatus"] == "Completed"
