"""Names that become host folders are checked as AWS checks them: ValidationException, nothing written.

Every test talks to ``python -m localcloud`` (the ``cloud`` fixture) through plain boto3. A name
like ``../../../../tmp/<unique>`` used to make the function or job folder outside the cloud's
workdir (and it survived the cloud's stop); each test checks that no ``/tmp/<unique>*`` appears.
"""

from __future__ import annotations

import glob
import time
import uuid

import pytest
from _support import create_role, ecr_image_uri, unique_name, zip_bytes
from botocore.exceptions import ClientError

REGION = "eu-west-1"
SAGEMAKER_NAME = "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
MODEL_NAME = "^[a-zA-Z0-9]([\\-a-zA-Z0-9]*[a-zA-Z0-9])?"


def _escape() -> tuple[str, str]:
    """A name that climbs out of any folder under /tmp, and the glob that would find what it made."""
    marker = f"localcloud-escape-{uuid.uuid4().hex[:12]}"
    return f"../../../../../../../../tmp/{marker}", f"/tmp/{marker}*"


def _refused(call, **kwargs) -> dict:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response


@pytest.fixture(scope="module")
def lam(cloud):
    return cloud.client("lambda", REGION)


@pytest.fixture(scope="module")
def role(cloud):
    return create_role(cloud, unique_name("validation-role"))


class TestLambdaFunctionNames:
    """CreateFunction and Invoke refuse a FunctionName outside AWS's pattern and length.

    AWS: https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html (FunctionName: pattern
    ``(arn:(aws[a-zA-Z-]*)?:lambda:)?...([a-zA-Z0-9-_]+)...``; "If you specify only the function name,
    it is limited to 64 characters in length") and https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html.
    """

    def test_create_function_with_dot_dot_is_validation_exception(self, lam, role):
        """
        1. CreateFunction with FunctionName ``../../…/tmp/<unique>``.
        2. 400 ValidationException, AWS's message naming 'functionName' and the pattern.
        3. Invoking it is refused too, and nothing named <unique> exists under /tmp.
        """
        name, trace = _escape()
        code = {"ZipFile": zip_bytes({"app.py": "def handler(e, c):\n    return 1\n"})}
        response = _refused(lam.create_function, FunctionName=name, Runtime="python3.11", Role=role,
                            Handler="app.handler", Code=code)
        assert response["Error"]["Code"] == "ValidationException"
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert response["Error"]["Message"].startswith(
            f"1 validation error detected: Value '{name}' at 'functionName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?")
        invoke = _refused(lam.invoke, FunctionName=name, Payload=b"{}")
        assert invoke["Error"]["Code"] == "ValidationException"
        assert glob.glob(trace) == []

    def test_name_longer_than_64_is_refused(self, lam, role):
        """
        1. CreateFunction with a 65-character plain name (within the 140 the ARN form allows).
        2. ValidationException: "Member must have length less than or equal to 64".
        """
        name = "f" * 65
        response = _refused(lam.create_function, FunctionName=name, Runtime="python3.11", Role=role,
                            Handler="app.handler", Code={"ZipFile": zip_bytes({"app.py": "x = 1\n"})})
        assert response["Error"]["Code"] == "ValidationException"
        assert f"Value '{name}' at 'functionName'" in response["Error"]["Message"]
        assert "Member must have length less than or equal to 64" in response["Error"]["Message"]

    def test_valid_name_still_works(self, lam, role):
        """
        1. CreateFunction with a 64-character name of letters, digits, '-' and '_'.
        2. It is created and its handler runs.
        """
        name = ("ok_" + uuid.uuid4().hex + "-" * 64)[:64]
        lam.create_function(FunctionName=name, Runtime="python3.11", Role=role, Handler="app.handler",
                            Code={"ZipFile": zip_bytes({"app.py": "def handler(e, c):\n    return {'ok': 1}\n"})})
        assert lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read() == b'{"ok": 1}'


class TestSageMakerJobNames:
    """Processing, training and transform job names follow AWS's pattern, or the job is never created.

    AWS: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateProcessingJob.html,
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTrainingJob.html,
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html
    (Length 1-63, Pattern ``^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}``).
    """

    def test_processing_job_with_dot_dot(self, sm, account):
        """
        1. CreateProcessingJob named ``../../…/tmp/<unique>`` (its entrypoint would write a file).
        2. ValidationException with AWS's message; DescribeProcessingJob does not know the name.
        3. Nothing named <unique> appears under /tmp, even after a moment.
        """
        name, trace = _escape()
        response = _refused(sm.create_processing_job, **_processing_request(account, name))
        assert response["Error"]["Code"] == "ValidationException"
        assert response["Error"]["Message"] == (
            f"1 validation error detected: Value '{name}' at 'processingJobName' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {SAGEMAKER_NAME}")
        with pytest.raises(ClientError):
            sm.describe_processing_job(ProcessingJobName=name)
        time.sleep(0.5)
        assert glob.glob(trace) == []

    @pytest.mark.parametrize("name", ["under_score", "-leading", "trailing-", "a" * 64])
    def test_processing_job_names_aws_refuses(self, sm, account, name):
        """
        1. CreateProcessingJob with a name AWS refuses (underscore, leading/trailing '-', 64 characters).
        2. ValidationException naming 'processingJobName'.
        """
        response = _refused(sm.create_processing_job, **_processing_request(account, name))
        assert response["Error"]["Code"] == "ValidationException"
        assert f"Value '{name}' at 'processingJobName' failed to satisfy constraint" in response["Error"]["Message"]

    def test_training_job_with_dot_dot(self, sm, account):
        """
        1. CreateTrainingJob named ``../../…/tmp/<unique>``.
        2. ValidationException naming 'trainingJobName'; nothing under /tmp.
        """
        name, trace = _escape()
        image = ecr_image_uri(account, REGION, "linear-learner", "1")
        response = _refused(sm.create_training_job, TrainingJobName=name, RoleArn=f"arn:aws:iam::{account}:role/r",
                            AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
                            OutputDataConfig={"S3OutputPath": "s3://nowhere/out"},
                            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
                            StoppingCondition={"MaxRuntimeInSeconds": 60})
        assert response["Error"]["Code"] == "ValidationException"
        assert f"Value '{name}' at 'trainingJobName'" in response["Error"]["Message"]
        assert glob.glob(trace) == []

    def test_transform_job_with_dot_dot(self, sm):
        """
        1. CreateTransformJob named ``../../…/tmp/<unique>`` with a model name of the same shape.
        2. ValidationException listing both: 'transformJobName' and 'modelName' (2 validation errors).
        """
        name, trace = _escape()
        response = _refused(sm.create_transform_job, TransformJobName=name, ModelName=name,
                            TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                                            "S3Uri": "s3://nowhere/in"}}},
                            TransformOutput={"S3OutputPath": "s3://nowhere/out"},
                            TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
        message = response["Error"]["Message"]
        assert message.startswith("2 validation errors detected: ")
        assert f"Value '{name}' at 'transformJobName'" in message
        assert f"Value '{name}' at 'modelName' failed to satisfy constraint: " \
               f"Member must satisfy regular expression pattern: {MODEL_NAME}" in message


class TestSageMakerModelAndEndpointNames:
    """Model, endpoint-config and endpoint names follow AWS's patterns.

    AWS: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateModel.html,
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpointConfig.html,
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpoint.html.
    """

    def test_model_name(self, sm, account):
        """
        1. CreateModel named ``a/../b``.
        2. ValidationException naming 'modelName'.
        """
        response = _refused(sm.create_model, ModelName="a/../b", ExecutionRoleArn=f"arn:aws:iam::{account}:role/r",
                            PrimaryContainer={"Image": ecr_image_uri(account, REGION, "linear-learner", "1")})
        assert response["Error"]["Code"] == "ValidationException"
        assert "Value 'a/../b' at 'modelName'" in response["Error"]["Message"]

    def test_endpoint_config_and_endpoint_names(self, sm):
        """
        1. CreateEndpointConfig named ``cfg/x``; CreateEndpoint named ``ep.x``.
        2. Both are ValidationException naming 'endpointConfigName' / 'endpointName'.
        """
        config = _refused(sm.create_endpoint_config, EndpointConfigName="cfg/x", ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": "m", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
        assert config["Error"]["Code"] == "ValidationException"
        assert "Value 'cfg/x' at 'endpointConfigName'" in config["Error"]["Message"]
        endpoint = _refused(sm.create_endpoint, EndpointName="ep.x", EndpointConfigName="cfg")
        assert endpoint["Error"]["Code"] == "ValidationException"
        assert "Value 'ep.x' at 'endpointName'" in endpoint["Error"]["Message"]


class TestProcessingLocalPath:
    """A processing LocalPath must be an absolute path under /opt/ml/processing/, inputs and outputs.

    AWS: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProcessingS3Input.html ("LocalPath is
    an absolute path to the input data and must begin with /opt/ml/processing/"); AWS does not publish the
    message, so only the code and the member named are AWS's here.
    """

    @pytest.mark.parametrize("local_path", ["/tmp/{marker}", "/opt/ml/processing/../../../tmp/{marker}",
                                            "opt/ml/processing/in", "/opt/ml/processing"])
    def test_input_outside_is_refused(self, sm, account, local_path):
        """
        1. CreateProcessingJob whose only input has the LocalPath given.
        2. ValidationException naming 'processingInputs.1.member.s3Input.localPath'; nothing under /tmp.
        """
        marker = f"localcloud-escape-{uuid.uuid4().hex[:12]}"
        local = local_path.format(marker=marker)
        request = _processing_request(account, unique_name("localpath"))
        request["ProcessingInputs"] = [{"InputName": "in", "S3Input": {
            "S3Uri": "s3://nowhere/in", "LocalPath": local, "S3DataType": "S3Prefix", "S3InputMode": "File"}}]
        response = _refused(sm.create_processing_job, **request)
        assert response["Error"]["Code"] == "ValidationException"
        assert f"Value '{local}' at 'processingInputs.1.member.s3Input.localPath'" in response["Error"]["Message"]
        assert glob.glob(f"/tmp/{marker}*") == []

    def test_output_outside_is_refused(self, sm, account):
        """
        1. CreateProcessingJob whose second output's LocalPath is the user's home folder.
        2. ValidationException naming 'processingOutputConfig.outputs.2.member.s3Output.localPath'.
        """
        request = _processing_request(account, unique_name("localpath"))
        request["ProcessingOutputConfig"] = {"Outputs": [
            {"OutputName": name, "S3Output": {"S3Uri": "s3://nowhere/out", "LocalPath": local,
                                               "S3UploadMode": "EndOfJob"}}
            for name, local in (("ok", "/opt/ml/processing/output"), ("home", "/root"))]}
        response = _refused(sm.create_processing_job, **request)
        assert "Value '/root' at 'processingOutputConfig.outputs.2.member.s3Output.localPath'" in \
            response["Error"]["Message"]


def _processing_request(account: str, name: str) -> dict:
    """A processing job whose entrypoint would create ``<cwd>/escaped`` if it ran."""
    return {"ProcessingJobName": name, "RoleArn": f"arn:aws:iam::{account}:role/validation",
            "AppSpecification": {"ImageUri": ecr_image_uri(account, REGION, "sagemaker-scikit-learn", "1.2-1"),
                                 "ContainerEntrypoint": ["python3", "-c", "open('escaped', 'w').write('x')"]},
            "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.t3.medium",
                                                      "VolumeSizeInGB": 1}},
            "StoppingCondition": {"MaxRuntimeInSeconds": 60}}
