"""A job that writes more than its ML storage volume (``VolumeSizeInGB``) fails, as it would on AWS.

On SageMaker the job's files live on an ML storage volume of ``VolumeSizeInGB``
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProcessingClusterConfig.html: "The size
of the ML storage volume in gigabytes that you want to provision"); writing past it fails with ENOSPC and
the job fails. Here the job folder is on the machine's disk, so the cloud watches its size instead
(localcloud.sagemaker.jobs.job_volume): past the volume, the job is stopped and fails with "No space left on device".
"""

from __future__ import annotations

from _support import account_id, create_bucket, create_role, ecr_image_uri, unique_name
from _wait import wait_for_status

REGION = "eu-west-1"
DONE = {"Completed", "Failed", "Stopped"}
# 1100 MiB in 8 MiB writes, then exit 0: more than a 1 GB volume holds
WRITER = """
import os
chunk = b"\\1" * (8 << 20)
with open("/opt/ml/processing/output/big", "wb") as f:
    for _ in range(1100 // 8 + 1):
        f.write(chunk)
print("wrote it all")
"""


class TestProcessingVolume:
    """Writing past VolumeSizeInGB fails the processing job."""

    def test_writing_past_the_volume_fails_the_job(self, cloud, tmp_path):
        """
        1. A processing job of VolumeSizeInGB=1 writes 1100 MiB into its output folder.
        2. It ends Failed, its FailureReason says "No space left on device" and names the volume's size.
        """
        script = tmp_path / "writer.py"
        script.write_text(WRITER)
        sm, name = cloud.client("sagemaker", region=REGION), unique_name("volume")
        sm.create_processing_job(
            ProcessingJobName=name, RoleArn=create_role(cloud, unique_name("volume-role")),
            AppSpecification={"ImageUri": ecr_image_uri(account_id(cloud), REGION, "no-image-here"),
                              "ContainerEntrypoint": ["python3", str(script)]},
            ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.t3.medium",
                                                   "VolumeSizeInGB": 1}},
            ProcessingOutputConfig={"Outputs": [{"OutputName": "out", "S3Output": {
                "S3Uri": f"s3://{create_bucket(cloud, unique_name('volume'))}/out",
                "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "EndOfJob"}}]},
            StoppingCondition={"MaxRuntimeInSeconds": 300})
        final = wait_for_status(lambda: sm.describe_processing_job(ProcessingJobName=name), "ProcessingJobStatus",
                                DONE, timeout=120)
        assert final["ProcessingJobStatus"] == "Failed", final
        assert "No space left on device" in final["FailureReason"], final["FailureReason"]
        assert "VolumeSizeInGB (1 GB)" in final["FailureReason"], final["FailureReason"]
