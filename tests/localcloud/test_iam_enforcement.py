"""IAM enforced as AWS enforces it: handlers, jobs and state machines act as their roles.

Plain boto3 against ``python -m localcloud``. The test process signs with dummy keys, which the
cloud maps to the account's root (allowed everything); what runs *inside* the cloud (a handler,
a job, a state machine) signs with the temporary keys of its role, and each of its calls is
evaluated against that role's identity policies.
"""

from __future__ import annotations

import json

import boto3
import pytest
from _support import TRUST_POLICY, create_bucket, create_role, ecr_image_uri, unique_name, zip_bytes
from _wait import wait_for
from botocore.exceptions import ClientError

from conftest_cloud import CloudProcess

REGION = "eu-west-1"
PUT_HANDLER = '''
import boto3, os
def handler(event, context):
    s3 = boto3.client("s3")
    try:
        s3.put_object(Bucket=event["bucket"], Key=event["key"], Body=b"written by the handler")
    except Exception as error:
        return {"error": error.response["Error"]["Code"], "message": error.response["Error"]["Message"]}
    who = boto3.client("sts").get_caller_identity()["Arn"]
    return {"written": event["key"], "as": who}
'''


def trust(*services: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": [f"{s}.amazonaws.com" for s in services]}}]})


def allow(*statements: tuple[str | list[str], str | list[str]]) -> dict:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": action, "Resource": resource} for action, resource in statements]}


SERVICE_REGISTRY = "1" * 12  # an image in another account's registry (as SageMaker's own images are)


def processing_request(name: str, role: str, account: str, bucket: str, registry: str = SERVICE_REGISTRY) -> dict:
    return {
        "ProcessingJobName": name, "RoleArn": role,
        "AppSpecification": {"ImageUri": ecr_image_uri(registry, REGION, "sagemaker-scikit-learn", "1.2-1-cpu-py3"),
                             "ContainerEntrypoint": ["python3", "-c", "print('hello')"]},
        "ProcessingInputs": [{"InputName": "raw", "S3Input": {
            "S3Uri": f"s3://{bucket}/raw/", "LocalPath": "/opt/ml/processing/input", "S3DataType": "S3Prefix",
            "S3InputMode": "File"}}],
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.t3.medium",
                                                  "VolumeSizeInGB": 5}},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60}}


@pytest.fixture(scope="module")
def clients(cloud):
    return {name: cloud.client(name, region=REGION) for name in ("iam", "lambda", "s3", "sagemaker", "stepfunctions")}


@pytest.fixture(scope="module")
def account(cloud) -> str:
    return cloud.client("sts").get_caller_identity()["Account"]


@pytest.fixture(scope="module")
def bucket(cloud, clients):
    name = create_bucket(cloud, unique_name("iam-tests"), REGION)
    clients["s3"].put_object(Bucket=name, Key="raw/data.csv", Body=b"1,2,3\n")
    return name


class TestLambdaActsAsItsExecutionRole:
    """A handler's AWS calls are made with its execution role's temporary credentials."""

    def test_put_object_needs_the_grant(self, cloud, clients, bucket):
        """https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html

        1. Create a role trusted by Lambda that may only s3:GetObject; a function whose handler puts an object.
        2. Invoke it: its put_object is refused with S3's AccessDenied, naming the assumed role, the action
           and the object's ARN as AWS words it.
        3. Add an s3:PutObject grant to the role; invoke the same function again.
        4. The object is written, and the handler's caller identity is the function's assumed role.
        5. The role has no logs grant: the function left no log group (AWS drops the logs, the function runs).
        """
        iam, lam = clients["iam"], clients["lambda"]
        role_name = unique_name("put-role")
        role = create_role(cloud, role_name, allow(("s3:GetObject", f"arn:aws:s3:::{bucket}/*")), trust("lambda"))
        name = unique_name("putter")
        lam.create_function(FunctionName=name, Runtime="python3.11", Role=role, Handler="app.handler",
                            Code={"ZipFile": zip_bytes({"app.py": PUT_HANDLER})}, Timeout=20)
        event = json.dumps({"bucket": bucket, "key": f"out/{name}.txt"})

        refused = json.loads(lam.invoke(FunctionName=name, Payload=event)["Payload"].read())
        assert refused["error"] == "AccessDenied"
        assert refused["message"] == (
            f"User: arn:aws:sts::{role.split(':')[4]}:assumed-role/{role_name}/{name} is not authorized to perform: "
            f"s3:PutObject on resource: arn:aws:s3:::{bucket}/out/{name}.txt because no identity-based policy "
            "allows the s3:PutObject action")

        iam.put_role_policy(RoleName=role_name, PolicyName="put", PolicyDocument=json.dumps(
            allow(("s3:PutObject", f"arn:aws:s3:::{bucket}/out/*"))))
        written = json.loads(lam.invoke(FunctionName=name, Payload=event)["Payload"].read())
        assert written["written"] == f"out/{name}.txt", written
        assert written["as"].endswith(f":assumed-role/{role_name}/{name}")
        assert clients["s3"].get_object(Bucket=bucket, Key=f"out/{name}.txt")["Body"].read() == b"written by the handler"
        logs = cloud.client("logs", region=REGION)
        assert logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"] == []

    def test_explicit_deny_wins(self, cloud, clients, bucket):
        """https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html

        1. A role allowed s3:* on the bucket, with a second statement denying s3:PutObject (NotAction form:
           everything but GetObject) under out/.
        2. The handler's put_object is refused "with an explicit deny in an identity-based policy".
        """
        policy = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": f"arn:aws:s3:::{bucket}/*"},
            {"Effect": "Deny", "NotAction": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/out/*"}]}
        role = create_role(cloud, unique_name("deny-role"), policy, trust("lambda"))
        name = unique_name("denied")
        clients["lambda"].create_function(FunctionName=name, Runtime="python3.11", Role=role, Handler="app.handler",
                                          Code={"ZipFile": zip_bytes({"app.py": PUT_HANDLER})}, Timeout=20)
        result = json.loads(clients["lambda"].invoke(FunctionName=name, Payload=json.dumps(
            {"bucket": bucket, "key": "out/x.txt"}))["Payload"].read())
        assert result["error"] == "AccessDenied"
        assert result["message"].endswith("with an explicit deny in an identity-based policy")


class TestRolesAreCheckedAtCreate:
    """A role that does not exist, lives in another account or does not trust the service is refused."""

    @pytest.mark.parametrize("role_kind", ["missing", "other-account", "trusts-lambda-only"])
    def test_processing_job_refused(self, cloud, clients, account, bucket, role_kind):
        """https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html

        1. Name a role that does not exist, one in account 999999999999, or one whose trust policy names
           only lambda.amazonaws.com.
        2. CreateProcessingJob fails with ValidationException "Could not assume role <arn>..." and no job exists.
        """
        role = {"missing": f"arn:aws:iam::{account}:role/does-not-exist",
                "other-account": "arn:aws:iam::999999999999:role/does-not-exist",
                "trusts-lambda-only": create_role(cloud, unique_name("lambda-only"), None, trust("lambda"))}[role_kind]
        name = unique_name("refused")
        with pytest.raises(ClientError) as caught:
            clients["sagemaker"].create_processing_job(**processing_request(name, role, account, bucket))
        error = caught.value.response["Error"]
        assert error["Code"] == "ValidationException"
        assert error["Message"].startswith(f"Could not assume role {role}.")
        with pytest.raises(ClientError):
            clients["sagemaker"].describe_processing_job(ProcessingJobName=name)

    def test_function_refused(self, cloud, clients):
        """https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html

        1. CreateFunction with a role that trusts only SageMaker.
        2. InvalidParameterValueException "The role defined for the function cannot be assumed by Lambda."
        """
        role = create_role(cloud, unique_name("sm-only"), None, trust("sagemaker"))
        with pytest.raises(ClientError) as caught:
            clients["lambda"].create_function(FunctionName=unique_name("fn"), Runtime="python3.11", Role=role,
                                              Handler="app.handler", Code={"ZipFile": zip_bytes({"app.py": ""})})
        assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
        assert caught.value.response["Error"]["Message"] == "The role defined for the function cannot be assumed by Lambda."

    def test_state_machine_refused(self, cloud, clients):
        """https://docs.aws.amazon.com/step-functions/latest/dg/procedure-create-iam-role.html

        1. CreateStateMachine with a role that trusts only Lambda.
        2. AccessDeniedException: neither the global nor the regional states principal may assume it.
        """
        role = create_role(cloud, unique_name("not-states"), None, trust("lambda"))
        definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
        with pytest.raises(ClientError) as caught:
            clients["stepfunctions"].create_state_machine(name=unique_name("m"), definition=json.dumps(definition),
                                                          roleArn=role)
        assert caught.value.response["Error"]["Code"] == "AccessDeniedException"
        assert "states.amazonaws.com" in caught.value.response["Error"]["Message"]


class TestCallerNeedsPassRole:
    """Handing a role to a service needs iam:PassRole for it, with the iam:PassedToService condition."""

    def test_pass_role_to_lambda_only(self, cloud, clients, account, bucket):
        """https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html

        1. An IAM user allowed lambda:CreateFunction and sagemaker:CreateProcessingJob, not iam:PassRole.
        2. With its keys, CreateFunction and CreateProcessingJob naming a role both services trust are refused
           with AccessDeniedException naming iam:PassRole and the role.
        3. Grant iam:PassRole on the role with iam:PassedToService = lambda.amazonaws.com.
        4. CreateFunction now succeeds; CreateProcessingJob is still refused (the condition names Lambda).
        """
        iam = clients["iam"]
        role = create_role(cloud, unique_name("passed"), None, TRUST_POLICY)
        user = unique_name("builder")
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="build", PolicyDocument=json.dumps(
            allow((["lambda:CreateFunction", "sagemaker:CreateProcessingJob"], "*"))))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        session = boto3.session.Session(aws_access_key_id=key["AccessKeyId"],
                                        aws_secret_access_key=key["SecretAccessKey"], region_name=REGION)
        lam, sm = session.client("lambda", endpoint_url=cloud.url), session.client("sagemaker", endpoint_url=cloud.url)

        def create_function():
            return lam.create_function(FunctionName=unique_name("fn"), Runtime="python3.11", Role=role,
                                       Handler="app.handler", Code={"ZipFile": zip_bytes({"app.py": ""})})

        for call in (create_function, lambda: sm.create_processing_job(
                **processing_request(unique_name("job"), role, account, bucket))):
            with pytest.raises(ClientError) as caught:
                call()
            assert caught.value.response["Error"]["Code"] == "AccessDeniedException"
            assert f"is not authorized to perform: iam:PassRole on resource: {role}" in (
                caught.value.response["Error"]["Message"])

        iam.put_user_policy(UserName=user, PolicyName="pass", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": role,
                                                    "Condition": {"StringEquals": {
                                                        "iam:PassedToService": "lambda.amazonaws.com"}}}]}))
        assert create_function()["Role"] == role
        with pytest.raises(ClientError) as caught:
            sm.create_processing_job(**processing_request(unique_name("job"), role, account, bucket))
        assert "iam:PassRole" in caught.value.response["Error"]["Message"]


class TestPresignedUrlsActAsTheirSigner:
    """A presigned URL carries its signer's rights, not more."""

    def test_url_of_a_user_without_get_object(self, cloud, clients, bucket):
        """https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-presigned-url.html

        1. An IAM user allowed s3:ListBucket only presigns a GetObject URL for raw/data.csv.
        2. Fetching the URL is refused with 403; the root's presigned URL for the same object works.
        """
        import urllib.error
        import urllib.request

        iam = clients["iam"]
        user = unique_name("presigner")
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="list", PolicyDocument=json.dumps(
            allow(("s3:ListBucket", f"arn:aws:s3:::{bucket}"))))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        s3 = boto3.session.Session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                                   region_name=REGION).client("s3", endpoint_url=cloud.url)
        url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "raw/data.csv"})
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(url, timeout=10)
        assert caught.value.code == 403
        root_url = clients["s3"].generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "raw/data.csv"})
        with urllib.request.urlopen(root_url, timeout=10) as response:
            assert response.read() == b"1,2,3\n"


class TestSyncStateActsAsTheStatesRole:
    """A .sync SageMaker task calls SageMaker as the state machine's role."""

    def test_missing_create_grant_fails_the_execution(self, cloud, clients, account, bucket):
        """https://docs.aws.amazon.com/step-functions/latest/dg/sagemaker-iam.html

        1. A states role allowed only sagemaker:DescribeProcessingJob; a state machine with one
           arn:aws:states:::sagemaker:createProcessingJob.sync task.
        2. The execution FAILS; the task's error is SageMaker.AccessDeniedException and the cause names
           sagemaker:CreateProcessingJob and the states role's session.
        3. No processing job was created.
        """
        role_name = unique_name("states-role")
        states_role = create_role(cloud, role_name, allow(("sagemaker:DescribeProcessingJob", "*")), trust("states"))
        job_role = create_role(cloud, unique_name("job-role"), None, trust("sagemaker"))
        name = unique_name("never")
        definition = {"StartAt": "Prep", "States": {"Prep": {
            "Type": "Task", "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
            "Parameters": processing_request(name, job_role, account, bucket), "End": True}}}
        sfn = clients["stepfunctions"]
        machine = sfn.create_state_machine(name=unique_name("sync"), definition=json.dumps(definition),
                                           roleArn=states_role)["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
        result = wait_for(lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d,
                          timeout=30, description="the execution ends")
        assert result["status"] == "FAILED"
        assert result["error"] == "SageMaker.AccessDeniedException"
        assert "is not authorized to perform: sagemaker:CreateProcessingJob" in result["cause"]
        assert f":assumed-role/{role_name}/" in result["cause"]
        with pytest.raises(ClientError):
            clients["sagemaker"].describe_processing_job(ProcessingJobName=name)


class TestJobActsAsItsRole:
    """A job's S3 downloads are made as its RoleArn."""

    def test_input_download_refused(self, cloud, clients, account, bucket):
        """https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html

        1. A SageMaker role with no S3 grant; a processing job with an S3 input.
        2. The job fails; its FailureReason is a ClientError naming s3:ListBucket on the bucket and the role.
        """
        role_name = unique_name("no-s3")
        role = create_role(cloud, role_name, allow(("logs:PutLogEvents", "*")), trust("sagemaker"))
        name = unique_name("no-input")
        clients["sagemaker"].create_processing_job(**processing_request(name, role, account, bucket))
        job = wait_for(lambda: (d := clients["sagemaker"].describe_processing_job(ProcessingJobName=name))[
            "ProcessingJobStatus"] != "InProgress" and d, timeout=30, description="the job ends")
        assert job["ProcessingJobStatus"] == "Failed"
        assert job["FailureReason"].startswith("ClientError:")
        assert f"assumed-role/{role_name}/" in job["FailureReason"]
        assert f"s3:ListBucket on resource: arn:aws:s3:::{bucket}" in job["FailureReason"]

    def test_private_image_pull_refused(self, cloud, clients, account, bucket):
        """https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html (ECR permissions of the role)

        1. A SageMaker role allowed S3 but no ECR action; a processing job whose image is in the account's ECR.
        2. The job is Failed: its FailureReason says the image cannot be pulled, naming ecr:GetAuthorizationToken.
        """
        role = create_role(cloud, unique_name("no-ecr"), allow(("s3:*", "*")), trust("sagemaker"))
        name = unique_name("no-pull")
        clients["sagemaker"].create_processing_job(**processing_request(name, role, account, bucket, registry=account))
        job = wait_for(lambda: (d := clients["sagemaker"].describe_processing_job(ProcessingJobName=name))[
            "ProcessingJobStatus"] != "InProgress" and d, timeout=30, description="the job ends")
        assert job["ProcessingJobStatus"] == "Failed"
        assert job["FailureReason"].startswith("ClientError: Cannot pull image")
        assert "ecr:GetAuthorizationToken" in job["FailureReason"]


class TestOptOut:
    """``python -m localcloud --no-iam`` keeps moto's permissiveness."""

    def test_no_iam_accepts_a_missing_role(self):
        """
        1. Start a second cloud with --no-iam; its ready line says IAM is not enforced.
        2. A processing job naming a role that does not exist is accepted.
        """
        other = CloudProcess("--no-iam")
        try:
            assert "IAM not enforced" in other.ready_line
            sm = other.client("sagemaker", region=REGION)
            bucket = create_bucket(other, unique_name("no-iam"), REGION)
            account = other.client("sts").get_caller_identity()["Account"]
            name = unique_name("accepted")
            sm.create_processing_job(**processing_request(
                name, f"arn:aws:iam::{account}:role/does-not-exist", account, bucket))
            assert sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobName"] == name
        finally:
            other.stop()
