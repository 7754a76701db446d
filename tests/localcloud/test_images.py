"""``--image REPO=DIR``: a Dockerfile folder read as ``docker build DIR`` would build it (localcloud.common.images)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from _support import create_bucket, create_role, unique_name
from conftest_cloud import PROJECT_ROOT, CloudProcess

from localcloud.common.images import ImageCatalog, ImageNotFound

URI = "210987654321.dkr.ecr.eu-west-1.amazonaws.com/{}:latest"


def image_folder(root: Path, dockerfile: str, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text(dockerfile)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


class TestDockerBuildSemantics:
    """COPY targets, WORKDIR, ENV and the base image as Docker reads them (https://docs.docker.com/reference/dockerfile/)."""

    def test_copy_targets_workdir_env_and_requirements(self, tmp_path: Path) -> None:
        """
        1. A Lambda-base Dockerfile copying a file to ``${LAMBDA_TASK_ROOT}`` (no trailing slash: an existing
           folder), a folder's contents to ``lib/`` (relative: under WORKDIR), with ENV and ``pip install -r``.
        2. Resolving any account's URI of the repository finds it before the kit's docker/; the files land where
           docker puts them; ENV expands; the requirements file is read from the image; the CMD is the handler.
        """
        folder = image_folder(tmp_path / "app", "\n".join([
            "FROM public.ecr.aws/lambda/python:3.11",
            "ENV TOOLS=${LAMBDA_TASK_ROOT}/tools",
            "COPY requirements.txt ${LAMBDA_TASK_ROOT}",
            "RUN python -m pip install --no-cache-dir -r requirements.txt && echo done",
            "COPY pkg lib/",
            "COPY app.py ${LAMBDA_TASK_ROOT}",
            'CMD ["app.handler"]']), {"requirements.txt": "boto3  # the SDK\nrequests>=2\n", "app.py": "",
                                       "pkg/util.py": ""})
        catalog = ImageCatalog(PROJECT_ROOT / "docker", {"ingest": folder})
        spec = catalog.resolve(URI.format("ingest"))
        assert spec.lambda_base and spec.workdir == "/var/task" and spec.cmd == ["app.handler"]
        assert spec.env == {"TOOLS": "/var/task/tools"}
        assert spec.requirements == ["boto3", "requests>=2"]
        assert [target for _, target in spec.files] == ["/var/task/requirements.txt", "/var/task/lib",
                                                         "/var/task/app.py"]
        stage = tmp_path / "stage"
        spec.stage(stage, prefix="/var/task")
        assert sorted(str(p.relative_to(stage)) for p in stage.rglob("*.py")) == ["app.py", "lib/util.py"]
        assert catalog.check() == []

    def test_copy_source_outside_the_context_is_refused(self, tmp_path: Path) -> None:
        """
        1. ``COPY ../secret.txt /x`` in an --image folder.
        2. Refused as docker build refuses it: the source is outside the build context.
        """
        (tmp_path / "secret.txt").write_text("no")
        folder = image_folder(tmp_path / "app", "FROM python:3.11\nCOPY ../secret.txt /x\n", {})
        with pytest.raises(ImageNotFound, match="COPY source"):
            ImageCatalog(PROJECT_ROOT / "docker", {"app": folder}).check()


class TestJobRunsTheImage:
    def test_processing_job_runs_entrypoint_in_workdir_with_env(self, tmp_path: Path) -> None:
        """
        1. Start a cloud with ``--image someone/prep=DIR``: FROM python:3.11-slim, WORKDIR /app, ENV GREETING,
           ``COPY job.py .``, ENTRYPOINT ["python3", "job.py"].
        2. A processing job on that image with no ContainerEntrypoint runs job.py from /app with GREETING set.
        3. What it wrote in its output folder is in S3: the working directory's last part and the variable.
        """
        folder = image_folder(tmp_path / "prep", "\n".join([
            "FROM python:3.11-slim", "WORKDIR /app", "ENV GREETING=hello", "COPY job.py .",
            'ENTRYPOINT ["python3", "job.py"]']), {"job.py": (
                "import os\n"
                "open('/opt/ml/processing/output/out.txt', 'w').write("
                "os.path.basename(os.getcwd()) + ' ' + os.environ['GREETING'])\n")})
        cloud = CloudProcess("--image", f"someone/prep={folder}")
        try:
            sm, s3 = cloud.client("sagemaker"), cloud.client("s3")
            bucket = create_bucket(cloud, unique_name("images"))
            name = unique_name("prep")
            sm.create_processing_job(
                ProcessingJobName=name, RoleArn=create_role(cloud, name),
                AppSpecification={"ImageUri": URI.format("someone/prep")},
                ProcessingOutputConfig={"Outputs": [{"OutputName": "out", "S3Output": {
                    "S3Uri": f"s3://{bucket}/out", "LocalPath": "/opt/ml/processing/output",
                    "S3UploadMode": "EndOfJob"}}]},
                ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.t3.medium",
                                                       "VolumeSizeInGB": 1}})
            for _ in range(300):
                job = sm.describe_processing_job(ProcessingJobName=name)
                if job["ProcessingJobStatus"] != "InProgress":
                    break
                time.sleep(0.2)
            assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
            assert s3.get_object(Bucket=bucket, Key="out/out.txt")["Body"].read() == b"app hello"
        finally:
            cloud.stop()
