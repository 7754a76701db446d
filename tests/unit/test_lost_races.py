"""The kit's get-or-create helpers when another run creates the same resource between their look and their create.

Two series on one cloud share the repositories, roles, functions and state machines named by the kit's prefix:
one looks, finds nothing, and meanwhile the other creates it; the first one's create is then refused with the
service's "already exists" error (1 run in 2 failed in notebook 02 with RepositoryAlreadyExistsException). The
helper must take the resource as existing. Each test makes the rival create it from a hook that runs just before
the helper's create call, on moto in-process: deterministic, no sleeps.
"""

from __future__ import annotations

import json

from botocore.awsrequest import AWSResponse

from helpers import ecr, iam, lambdas, s3, stepfunctions
from helpers.paths import LAMBDAS_DIR

RIVAL_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def before_create(kit, service: str, operation: str, rival, answer: dict | None = None) -> list[str]:
    """Run ``rival()`` once, just before ``kit``'s client sends ``operation``; returns a list the hook appends to.

    ``answer``: an error AWS gives where moto gives none (the request is then not sent; botocore raises it).
    """
    ran: list[str] = []
    client = kit.client(service)

    def hook(**_):
        if ran:
            return None
        ran.append(operation)
        rival()
        if answer is None:
            return None
        return AWSResponse("https://aws.invalid", 400, {}, None), {
            "Error": answer, "ResponseMetadata": {"HTTPStatusCode": 400}}

    client.meta.events.register(f"before-call.{client.meta.service_model.service_name}.{operation}", hook)
    return ran


class TestEnsureRepositoryLosesTheRace:
    """ECR: RepositoryAlreadyExistsException after RepositoryNotFoundException means the repository exists."""

    def test_the_rivals_repository_is_returned(self, make_kit, capsys):
        """
        1. A rival kit creates <prefix>/ingest just before ensure_repository's CreateRepository.
        2. ensure_repository returns that repository's URI (it raised RepositoryAlreadyExistsException) and says
           it exists; one repository is there.
        """
        kit, rival = make_kit(), make_kit()
        name = kit.names.repository("ingest")
        ran = before_create(kit, "ecr", "CreateRepository",
                            lambda: rival.client("ecr").create_repository(repositoryName=name))
        uri = ecr.ensure_repository(kit, "ingest")
        assert ran == ["CreateRepository"]
        repositories = kit.client("ecr").describe_repositories()["repositories"]
        assert [r["repositoryUri"] for r in repositories] == [uri]
        assert f"repository {name} exists" in capsys.readouterr().out


class TestEnsureRoleLosesTheRace:
    """IAM: EntityAlreadyExists after NoSuchEntity means the role exists; its trust and policy become the kit's."""

    def test_the_rivals_role_gets_the_kits_documents(self, make_kit):
        """
        1. A rival kit creates the fetch-data role (trusting EC2) just before ensure_role's CreateRole.
        2. ensure_role returns that role's ARN (it raised EntityAlreadyExistsException); the role now trusts
           Lambda, as the kit's trust document says, and has the kit's inline policy.
        """
        kit, rival = make_kit(), make_kit()
        name = kit.names.role("fetch-data")
        ran = before_create(kit, "iam", "CreateRole", lambda: rival.client("iam").create_role(
            RoleName=name, AssumeRolePolicyDocument=RIVAL_TRUST))
        arn = iam.ensure_role(kit, "fetch-data")
        assert ran == ["CreateRole"]
        role = kit.client("iam").get_role(RoleName=name)["Role"]
        assert role["Arn"] == arn
        principals = [s["Principal"]["Service"] for s in role["AssumeRolePolicyDocument"]["Statement"]]
        assert principals == ["lambda.amazonaws.com"]
        assert kit.client("iam").list_role_policies(RoleName=name)["PolicyNames"] == [f"{name}-policy"]


class TestEnsureFunctionLosesTheRace:
    """Lambda: ResourceConflictException on CreateFunction means the function exists; it is updated instead."""

    def test_the_rivals_function_is_updated(self, kit, make_kit):
        """
        1. A rival kit creates the function (another environment) just before ensure_function's CreateFunction.
        2. ensure_function returns its ARN (it raised ResourceConflictException) and the function has the
           kit's environment; one function is there.
        """
        role_arn = iam.ensure_role(kit, "fetch-data")
        rival = make_kit()
        code = lambdas.zip_handler(LAMBDAS_DIR / "fetch_data.py")
        name = kit.names.function("fetch-data")
        ran = before_create(kit, "lambda", "CreateFunction", lambda: rival.client("lambda").create_function(
            FunctionName=name, Role=role_arn, Runtime="python3.11", Handler="fetch_data.handler",
            Code={"ZipFile": code}, Environment={"Variables": {"BUCKET": "rival"}}))
        arn = lambdas.ensure_function(kit, name, role_arn, zip_file=code, handler="fetch_data.handler",
                                      environment={"BUCKET": "ours"})
        assert ran == ["CreateFunction"]
        configuration = kit.client("lambda").get_function(FunctionName=name)["Configuration"]
        assert configuration["FunctionArn"] == arn
        assert configuration["Environment"]["Variables"] == {"BUCKET": "ours"}
        assert [f["FunctionName"] for f in kit.client("lambda").list_functions()["Functions"]] == [name]


class TestEnsureStateMachineLosesTheRace:
    """Step Functions: StateMachineAlreadyExists means the state machine exists; it is updated instead.

    AWS refuses a CreateStateMachine whose name exists with another definition or role with
    StateMachineAlreadyExists (https://docs.aws.amazon.com/step-functions/latest/apireference/API_CreateStateMachine.html);
    moto answers the existing machine instead, so the hook gives AWS's answer after the rival's create.
    """

    def test_the_rivals_state_machine_is_updated(self, kit, make_kit):
        """
        1. A rival kit creates the state machine with a one-state definition just before ensure_state_machine's
           CreateStateMachine, which then answers StateMachineAlreadyExists.
        2. ensure_state_machine returns the rival's machine's ARN, now with the kit's definition and role.
        """
        role_arn = iam.ensure_role(kit, "states")
        rival = make_kit()
        name = kit.names.state_machine("pipeline")
        definition = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "Result": "ours", "End": True}}}
        made: list[str] = []

        def rival_creates() -> None:
            made.append(rival.client("stepfunctions").create_state_machine(
                name=name, roleArn=role_arn, definition=json.dumps(
                    {"StartAt": "Rival", "States": {"Rival": {"Type": "Succeed"}}}))["stateMachineArn"])

        ran = before_create(kit, "stepfunctions", "CreateStateMachine", rival_creates, answer={
            "Code": "StateMachineAlreadyExists", "Message": f"State Machine Already Exists: '{name}'"})
        arn = stepfunctions.ensure_state_machine(kit, name, definition, role_arn)
        assert ran == ["CreateStateMachine"]
        assert arn == made[0]
        described = kit.client("stepfunctions").describe_state_machine(stateMachineArn=arn)
        assert json.loads(described["definition"]) == definition
        assert described["roleArn"] == role_arn


class TestEnsureBucketLosesTheRace:
    """S3: BucketAlreadyOwnedByYou after a 404 means the kit's bucket exists; it is tagged as the kit's."""

    def test_the_rivals_bucket_is_tagged(self, make_kit):
        """
        1. A rival kit creates the bucket just before ensure_bucket's CreateBucket.
        2. ensure_bucket returns its name and tags it with the kit's tags.
        """
        kit, rival = make_kit(), make_kit()
        name = kit.names.bucket
        ran = before_create(kit, "s3", "CreateBucket", lambda: rival.client("s3").create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}))
        assert s3.ensure_bucket(kit) == name
        assert ran == ["CreateBucket"]
        tags = kit.client("s3").get_bucket_tagging(Bucket=name)["TagSet"]
        assert tags == kit.tags()
