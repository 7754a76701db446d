"""Every path the cloud derives from API input stays inside its folder; an escape fails cleanly.

The job tests talk to ``python -m localcloud`` (the ``cloud`` fixture) through plain boto3 and
check the file system afterwards. S3 allows ``..`` in keys, and SageMaker writes each object of
an input below the input's local folder; an object whose key would leave that folder fails the
job with a ClientError naming the key, and nothing is written outside.
"""

from __future__ import annotations

import glob
import uuid
from pathlib import Path

import pytest
from _support import create_bucket, create_role, ecr_image_uri, unique_name
from _wait import wait_for_status

from localcloud.common.images import ImageNotFound, ImageSpec, parse_image_uri
from localcloud.common.paths import PathEscape, inside

REGION = "eu-west-1"
DONE = {"Completed", "Failed", "Stopped"}


class TestInside:
    """``inside(root, relative)`` resolves a path and refuses anything not strictly below root."""

    @pytest.mark.parametrize("relative", ["../x", "a/../../x", "/etc/passwd", "", ".", "a/.."])
    def test_escapes_are_refused(self, tmp_path, relative):
        """
        1. Ask for ``tmp_path/root`` joined with a climbing, absolute, empty or self path.
        2. PathEscape, whose message names the input.
        """
        with pytest.raises(PathEscape, match="S3 key"):
            inside(tmp_path / "root", relative, what="S3 key")

    def test_symlink_out_is_refused(self, tmp_path):
        """
        1. Make root/link a symlink to a folder outside root.
        2. ``inside(root, "link/file")`` is refused: the resolved path is outside.
        """
        (tmp_path / "root").mkdir()
        (tmp_path / "outside").mkdir()
        (tmp_path / "root" / "link").symlink_to(tmp_path / "outside")
        with pytest.raises(PathEscape):
            inside(tmp_path / "root", "link/file")

    def test_paths_below_are_returned_resolved(self, tmp_path):
        """
        1. Ask for ``a/./b/../c.csv``.
        2. The answer is root/a/c.csv.
        """
        assert inside(tmp_path, "a/./b/../c.csv") == (tmp_path / "a" / "c.csv").resolve()


class TestImagePaths:
    """Image URIs and Dockerfile COPY instructions cannot reach outside the kit's folders."""

    def test_repository_with_dot_dot_is_not_an_ecr_uri(self):
        """
        1. Parse ``<account>.dkr.ecr.<region>.amazonaws.com/../../etc:latest``.
        2. It is not an ECR image URI (ECR repository names have no '..' segment), so nothing is looked up.
        """
        assert parse_image_uri("123456789012.dkr.ecr.eu-west-1.amazonaws.com/../../etc:latest") is None
        assert parse_image_uri("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/ingest:1").repository == "team/ingest"

    def test_copy_target_outside_the_container_is_refused(self, tmp_path):
        """
        1. An image whose COPY target is ``/var/task/../../../../<tmp>/x``.
        2. Staging it under /var/task raises ImageNotFound naming the COPY target; nothing is written.
        """
        source = tmp_path / "app.py"
        source.write_text("x = 1\n")
        outside = tmp_path / f"escaped-{uuid.uuid4().hex[:8]}"
        spec = ImageSpec(name="evil", dockerfile=tmp_path / "Dockerfile",
                         files=[(source, f"/var/task/../../../..{outside}")])
        with pytest.raises(ImageNotFound, match="COPY target"):
            spec.stage(tmp_path / "root", prefix="/")
        assert not outside.exists()


@pytest.fixture(scope="module")
def bucket(cloud):
    return create_bucket(cloud, unique_name("paths-tests"), REGION)


@pytest.fixture(scope="module")
def role(cloud) -> str:
    """A real role for the jobs (the cloud enforces IAM); named "paths" as the requests below expect."""
    return create_role(cloud, "paths")


def _job(account: str, name: str, inputs: list[dict], command: str = "print('ran')") -> dict:
    return {"ProcessingJobName": name, "RoleArn": f"arn:aws:iam::{account}:role/paths",
            "AppSpecification": {"ImageUri": ecr_image_uri(account, REGION, "sagemaker-scikit-learn", "1.2-1"),
                                 "ContainerEntrypoint": ["python3", "-c", command]},
            "ProcessingInputs": inputs,
            "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.t3.medium",
                                                      "VolumeSizeInGB": 1}},
            "StoppingCondition": {"MaxRuntimeInSeconds": 60}}


class TestS3KeysWithDotDot:
    """An input object whose key climbs out of the input folder fails the job; nothing is written outside.

    AWS: https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html (".." is allowed in keys) and
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProcessingS3Input.html (objects are
    downloaded below LocalPath).
    """

    def test_processing_input_key_climbing_out(self, sm, s3, bucket, account, role):
        """
        1. Put ``in/<u>/ok.csv`` and ``in/<u>/a/../../../../../../../../../../tmp/<marker>`` in S3.
        2. Run a processing job with the prefix ``in/<u>/`` as input.
        3. The job Failed with a ClientError naming the key; /tmp/<marker> does not exist; the job's script
           never ran (nothing is downloaded before every key is checked).
        """
        marker = f"localcloud-escape-{uuid.uuid4().hex[:12]}"
        prefix = f"in/{uuid.uuid4().hex[:8]}/"
        evil = f"{prefix}a/{'../' * 10}tmp/{marker}"
        s3.put_object(Bucket=bucket, Key=f"{prefix}ok.csv", Body=b"1,2\n")
        s3.put_object(Bucket=bucket, Key=evil, Body=b"pwned")
        name = unique_name("dotdot-key")
        sm.create_processing_job(**_job(account, name, [{"InputName": "in", "S3Input": {
            "S3Uri": f"s3://{bucket}/{prefix}", "LocalPath": "/opt/ml/processing/input",
            "S3DataType": "S3Prefix", "S3InputMode": "File"}}]))

        final = wait_for_status(lambda: sm.describe_processing_job(ProcessingJobName=name), "ProcessingJobStatus",
                                DONE, timeout=60)

        assert final["ProcessingJobStatus"] == "Failed"
        assert final["FailureReason"].startswith("ClientError: ")
        assert repr(evil) in final["FailureReason"]
        assert glob.glob(f"/tmp/{marker}*") == []
        assert "ProcessingStartTime" not in final  # the script never started

    def test_training_channel_named_dot_dot(self, sm, s3, bucket, account, role):
        """
        1. CreateTrainingJob with a channel named ``..`` (AWS's ChannelName pattern ``[A-Za-z0-9\\.\\-_]+``
           lets it through): its data would land in /opt/ml/input instead of /opt/ml/input/data/<channel>.
        2. The job Failed with a ClientError naming the channel.
        """
        s3.put_object(Bucket=bucket, Key="train/data.csv", Body=b"0,1,2\n")
        name = unique_name("dotdot-channel")
        sm.create_training_job(
            TrainingJobName=name, RoleArn=f"arn:aws:iam::{account}:role/paths",
            AlgorithmSpecification={"TrainingImage": ecr_image_uri(account, REGION, "linear-learner", "1"),
                                    "TrainingInputMode": "File"},
            InputDataConfig=[{"ChannelName": "..", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/train/"}}}],
            OutputDataConfig={"S3OutputPath": f"s3://{bucket}/models"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            StoppingCondition={"MaxRuntimeInSeconds": 60})

        final = wait_for_status(lambda: sm.describe_training_job(TrainingJobName=name), "TrainingJobStatus",
                                DONE, timeout=60)

        assert final["TrainingJobStatus"] == "Failed"
        assert "ClientError: ChannelName '..'" in final["FailureReason"]


class TestOutputLinks:
    """A processing output that links outside its LocalPath fails the job and uploads nothing.

    AWS: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProcessingS3Output.html (outputs are
    uploaded from LocalPath).
    """

    def test_symlink_to_a_host_file_is_not_uploaded(self, sm, s3, bucket, account, role, tmp_path):
        """
        1. A job writes ``/opt/ml/processing/output/secret`` as a symlink to a host file outside the job.
        2. The job Failed naming the file; no object was uploaded under the output prefix.
        """
        secret = tmp_path / "secret.txt"
        secret.write_text("host-only")
        name = unique_name("output-link")
        request = _job(account, name, [], command=(
            "import os; os.makedirs('/opt/ml/processing/output', exist_ok=True); "
            f"os.symlink({str(secret)!r}, '/opt/ml/processing/output/secret')"))
        request["ProcessingOutputConfig"] = {"Outputs": [{"OutputName": "out", "S3Output": {
            "S3Uri": f"s3://{bucket}/out/{name}", "LocalPath": "/opt/ml/processing/output",
            "S3UploadMode": "EndOfJob"}}]}
        sm.create_processing_job(**request)

        final = wait_for_status(lambda: sm.describe_processing_job(ProcessingJobName=name), "ProcessingJobStatus",
                                DONE, timeout=60)

        assert final["ProcessingJobStatus"] == "Failed", final.get("FailureReason")
        assert "output file 'secret'" in final["FailureReason"]
        assert s3.list_objects_v2(Bucket=bucket, Prefix=f"out/{name}").get("KeyCount") == 0
        assert Path(secret).read_text() == "host-only"
