"""The aws-only code paths, tested without AWS: the exact requests they send, asserted with botocore's Stubber.

A Stubber answers each request from a queue and fails on any other operation, parameter
or order, so a broken parameter shape fails here rather than on someone's account.
Here: connect/describe, ECR and docker, Lambda functions, IAM roles. State machines, the
trigger and cleanup's order are in test_aws_requests_orchestration.py.
"""

from __future__ import annotations

import base64

import pytest
from _aws_stubs import ACCOUNT, BUCKET, CALLER, NOW, REGION, REGISTRY, TAGS, JsonOf, rendered

from helpers import ecr, iam, lambdas, retry
from helpers.paths import PROJECT_ROOT


class TestConnectAndDescribe:
    """connect(target="aws") asks STS who the caller is before anything else, and nothing else."""

    def test_describe_sends_get_caller_identity(self, aws_kit):
        """
        1. connect(target="aws"): no local endpoint is probed; clients point at AWS's regional endpoints.
        2. The account came from GetCallerIdentity (no parameters, in the fixture); describe() sends it again for the
           caller's ARN and shows account, region, caller and the bucket named after the account.
        3. Nothing else is sent: the account stays cached.
        """
        kit, stub = aws_kit
        stub("sts").add_response("get_caller_identity", {"UserId": "AROA:learner", "Account": ACCOUNT,
                                                         "Arn": CALLER}, {})
        assert kit.client("sts").meta.endpoint_url == f"https://sts.{REGION}.amazonaws.com"
        assert kit.client("sts").meta.config.user_agent_extra == "pipeline-dreams/0.1"
        assert kit.describe() == {"target": "aws", "region": REGION, "account": ACCOUNT, "caller": CALLER,
                                  "endpoint": "AWS", "run id": "demo", "bucket": BUCKET}
        assert kit.account == ACCOUNT and kit.names.bucket == BUCKET


class TestPublishImageRequests:
    """On AWS with a Docker engine: ECR requests, then docker login (password on stdin), build and push."""

    def test_new_repository_login_build_push(self, aws_kit, monkeypatch):
        """
        1. DescribeRepositories finds nothing; CreateRepository gets the name, the kit's tags and scan on push.
        2. GetAuthorizationToken (no parameters); its token's password goes to `docker login` on stdin only.
        3. `docker build --provenance=false --platform linux/amd64 -f docker/ingest/Dockerfile -t <uri> .` from the
           project root, then `docker push <uri>`; each with check=True.
        """
        kit, stub = aws_kit
        uri = f"{REGISTRY}/pipeline-dreams/ingest"
        stub("ecr").add_client_error("describe_repositories", "RepositoryNotFoundException",
                                     expected_params={"repositoryNames": ["pipeline-dreams/ingest"]})
        stub("ecr").add_response("create_repository", {"repository": {"repositoryUri": uri}}, {
            "repositoryName": "pipeline-dreams/ingest", "tags": TAGS, "imageScanningConfiguration": {"scanOnPush": True}})
        token = base64.b64encode(b"AWS:s3cret-password").decode()
        stub("ecr").add_response("get_authorization_token", {"authorizationData": [
            {"authorizationToken": token, "expiresAt": NOW, "proxyEndpoint": f"https://{REGISTRY}"}]}, {})
        commands: list[tuple[list[str], dict]] = []
        monkeypatch.setattr(ecr, "_docker_engine_answers", lambda: True)
        monkeypatch.setattr(ecr.subprocess, "run", lambda args, **kwargs: commands.append((args, kwargs)))
        assert ecr.publish_image(kit, "ingest", "v1") == f"{uri}:v1"
        assert commands == [
            (["docker", "login", "--username", "AWS", "--password-stdin", REGISTRY],
             {"input": "s3cret-password", "text": True, "check": True, "capture_output": True}),
            (["docker", "build", "--provenance=false", "--platform", "linux/amd64", "-f", "docker/ingest/Dockerfile",
              "-t", f"{uri}:v1", "."], {"cwd": PROJECT_ROOT, "check": True}),
            (["docker", "push", f"{uri}:v1"], {"check": True})]

    def test_existing_repository_without_engine_asks_no_token(self, aws_kit, monkeypatch):
        """
        1. DescribeRepositories finds the repository: no CreateRepository.
        2. No engine answers: DockerUnavailable, and no login token was requested.
        """
        kit, stub = aws_kit
        stub("ecr").add_response("describe_repositories", {"repositories": [
            {"repositoryName": "pipeline-dreams/preprocess", "repositoryUri": f"{REGISTRY}/pipeline-dreams/preprocess"}]},
            {"repositoryNames": ["pipeline-dreams/preprocess"]})
        monkeypatch.setattr(ecr, "_docker_engine_answers", lambda: False)
        with pytest.raises(ecr.DockerUnavailable, match="docker push"):
            ecr.publish_image(kit, "preprocess")

    @pytest.mark.parametrize("returncode, answers", [(0, True), (1, False)])
    def test_engine_probe(self, monkeypatch, returncode, answers):
        """
        1. A docker CLI is on PATH; `docker info` exits with 0 or 1.
        2. The probe runs exactly `docker info` (captured, 20 s timeout) and answers accordingly.
        """
        calls = []
        monkeypatch.setattr(ecr.shutil, "which", lambda name: "/usr/bin/docker")
        monkeypatch.setattr(ecr.subprocess, "run", lambda args, **kw: calls.append((args, kw)) or
                            type("Done", (), {"returncode": returncode})())
        assert ecr._docker_engine_answers() is answers
        assert calls == [(["docker", "info"], {"capture_output": True, "timeout": 20})]


def _function_config(**fields) -> dict:
    return {"Configuration": {"FunctionName": "pipeline-dreams-fetch-data", **fields}}


class TestEnsureFunctionRequests:
    """Image functions: CreateFunction with the image, or UpdateFunctionCode then UpdateFunctionConfiguration."""

    NAME = "pipeline-dreams-fetch-data"
    ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:pipeline-dreams-fetch-data"
    ROLE = f"arn:aws:iam::{ACCOUNT}:role/pipeline-dreams-fetch-data"
    CONFIGURATION = {"Role": ROLE, "Timeout": 60, "MemorySize": 256, "Description": "ingest",
                     "Environment": {"Variables": {"BUCKET": BUCKET}}}

    def ensure(self, kit) -> str:
        return lambdas.ensure_function(kit, self.NAME, self.ROLE, image_uri=f"{REGISTRY}/pipeline-dreams/ingest:latest",
                                       environment={"BUCKET": BUCKET}, description="ingest")

    def test_create_image_function(self, aws_kit, monkeypatch):
        """
        1. GetFunction: not found.
        2. CreateFunction: PackageType Image, Code.ImageUri, x86_64, the tags as a map, and the configuration;
           refused once because the new role cannot be assumed yet, then sent again unchanged.
        3. GetFunction until State is Active.
        """
        kit, stub = aws_kit
        sleeps = []
        monkeypatch.setattr(retry, "sleep", sleeps.append)
        lam = stub("lambda")
        lam.add_client_error("get_function", "ResourceNotFoundException", expected_params={"FunctionName": self.NAME})
        request = {"FunctionName": self.NAME, "Code": {"ImageUri": f"{REGISTRY}/pipeline-dreams/ingest:latest"},
                   "Tags": {"pipeline-dreams:kit": "pipeline-dreams", "pipeline-dreams:run-id": "demo"},
                   "Architectures": ["x86_64"], "PackageType": "Image", **self.CONFIGURATION}
        lam.add_client_error("create_function", "InvalidParameterValueException", expected_params=request,
                             service_message="The role defined for the function cannot be assumed by Lambda.")
        lam.add_response("create_function", {"FunctionArn": self.ARN}, request)
        lam.add_response("get_function", _function_config(State="Active"), {"FunctionName": self.NAME})
        assert self.ensure(kit) == self.ARN
        assert sleeps == [retry.FIRST_DELAY]

    def test_update_code_then_configuration(self, aws_kit):
        """
        1. GetFunction: found.
        2. UpdateFunctionCode with the image only; wait until LastUpdateStatus is Successful.
        3. UpdateFunctionConfiguration with role, timeout, memory, description, environment; wait again.
        """
        kit, stub = aws_kit
        lam = stub("lambda")
        lam.add_response("get_function", _function_config(State="Active"), {"FunctionName": self.NAME})
        lam.add_response("update_function_code", {}, {"FunctionName": self.NAME,
                                                      "ImageUri": f"{REGISTRY}/pipeline-dreams/ingest:latest"})
        lam.add_response("get_function", _function_config(LastUpdateStatus="Successful"), {"FunctionName": self.NAME})
        lam.add_response("update_function_configuration", {"FunctionArn": self.ARN},
                         {"FunctionName": self.NAME, **self.CONFIGURATION})
        lam.add_response("get_function", _function_config(LastUpdateStatus="Successful"), {"FunctionName": self.NAME})
        assert self.ensure(kit) == self.ARN


class TestEnsureRoleRequests:
    """CreateRole with the rendered trust policy and tags, then PutRolePolicy; or refresh both."""

    ARN = f"arn:aws:iam::{ACCOUNT}:role/pipeline-dreams-sagemaker"
    ROLE = {"Path": "/", "RoleName": "pipeline-dreams-sagemaker", "RoleId": "AROAEXAMPLEEXAMPLE1", "Arn": ARN,
            "CreateDate": NOW}

    def test_create(self, aws_kit):
        """
        1. GetRole: NoSuchEntity.
        2. CreateRole: name, trust policy (sagemaker.amazonaws.com, aws:SourceAccount = the account), tags, description.
        3. PutRolePolicy: <name>-policy with iam/policies/sagemaker.json filled with the account, region and bucket.
        """
        kit, stub = aws_kit
        client = stub("iam")
        client.add_client_error("get_role", "NoSuchEntity", expected_params={"RoleName": "pipeline-dreams-sagemaker"})
        client.add_response("create_role", {"Role": self.ROLE}, {
            "RoleName": "pipeline-dreams-sagemaker", "AssumeRolePolicyDocument": JsonOf(rendered("trust", "sagemaker")),
            "Tags": TAGS, "Description": "pipeline-dreams: role assumed by sagemaker"})
        client.add_response("put_role_policy", {}, {"RoleName": "pipeline-dreams-sagemaker",
                                                    "PolicyName": "pipeline-dreams-sagemaker-policy",
                                                    "PolicyDocument": JsonOf(rendered("policies", "sagemaker"))})
        assert iam.ensure_role(kit, "sagemaker") == self.ARN
        assert rendered("trust", "sagemaker")["Statement"][0]["Condition"] == {
            "StringEquals": {"aws:SourceAccount": ACCOUNT}}

    def test_refresh(self, aws_kit):
        """
        1. GetRole: found.
        2. UpdateAssumeRolePolicy with the trust policy, then PutRolePolicy: no CreateRole.
        """
        kit, stub = aws_kit
        client = stub("iam")
        client.add_response("get_role", {"Role": self.ROLE}, {"RoleName": "pipeline-dreams-sagemaker"})
        client.add_response("update_assume_role_policy", {}, {
            "RoleName": "pipeline-dreams-sagemaker", "PolicyDocument": JsonOf(rendered("trust", "sagemaker"))})
        client.add_response("put_role_policy", {}, {"RoleName": "pipeline-dreams-sagemaker",
                                                    "PolicyName": "pipeline-dreams-sagemaker-policy",
                                                    "PolicyDocument": JsonOf(rendered("policies", "sagemaker"))})
        assert iam.ensure_role(kit, "sagemaker") == self.ARN
