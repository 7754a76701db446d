"""helpers.retry: calls that name a role made seconds ago are retried while AWS says it cannot assume it yet.

IAM is eventually consistent: "changes … take time to become visible" to other services
(https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot.html#troubleshoot_general_eventual-consistency).
The refusals retried are the ones each service answers for a role it cannot assume (yet):
Lambda's InvalidParameterValueException "The role defined for the function cannot be assumed by Lambda."
(https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html#API_CreateFunction_Errors),
Step Functions' AccessDeniedException "Neither the global service principal states.amazonaws.com, nor the
regional one is authorized to assume the provided role." and SageMaker's ValidationException "Could not
assume role …" (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateProcessingJob.html).
Every request is answered by a botocore Stubber; the sleep is replaced, so nothing waits.
"""

from __future__ import annotations

import pytest
from _aws_stubs import ACCOUNT, NOW, REGION
from botocore.exceptions import ClientError

from helpers import lambdas, retry, stepfunctions

STATES_REFUSAL = ("Neither the global service principal states.amazonaws.com, nor the regional one is authorized "
                  "to assume the provided role.")
ROLE = f"arn:aws:iam::{ACCOUNT}:role/pipeline-dreams-states"
MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:pipeline-dreams-pipeline"
DEFINITION = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
CREATE = {"name": "pipeline-dreams-pipeline", "roleArn": ROLE, "type": "STANDARD",
          "tags": [{"key": "pipeline-dreams:kit", "value": "pipeline-dreams"},
                   {"key": "pipeline-dreams:run-id", "value": "demo"}]}


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """The waits the retry asked for (recorded, never slept)."""
    recorded: list[float] = []
    monkeypatch.setattr(retry, "sleep", recorded.append)
    return recorded


def _create_request() -> dict:
    import json

    return {**CREATE, "definition": json.dumps(DEFINITION, indent=2)}


class TestStateMachineWaitsForItsRole:
    def test_refused_twice_then_created(self, aws_kit, sleeps, capsys):
        """
        1. ListStateMachines: none.
        2. CreateStateMachine refused twice with Step Functions' "not authorized to assume the provided role".
        3. The same request a third time: created; the waits were 2 s then 4 s, and each was said.
        """
        kit, stub = aws_kit
        sfn = stub("stepfunctions")
        sfn.add_response("list_state_machines", {"stateMachines": []}, {})
        for _ in range(2):
            sfn.add_client_error("create_state_machine", "AccessDeniedException", STATES_REFUSAL,
                                 expected_params=_create_request())
        sfn.add_response("create_state_machine", {"stateMachineArn": MACHINE, "creationDate": NOW},
                         _create_request())
        assert stepfunctions.ensure_state_machine(kit, CREATE["name"], DEFINITION, ROLE) == MACHINE
        assert sleeps == [2.0, 4.0]
        assert capsys.readouterr().out.count("CreateStateMachine: the role is not usable yet") == 2

    def test_gives_up_after_the_bound_with_the_original_error(self, aws_kit, sleeps):
        """
        1. CreateStateMachine refused on every one of retry.ATTEMPTS tries.
        2. The last refusal is raised as it came (code and message); the waits double up to 15 s.
        """
        kit, stub = aws_kit
        sfn = stub("stepfunctions")
        sfn.add_response("list_state_machines", {"stateMachines": []}, {})
        for _ in range(retry.ATTEMPTS):
            sfn.add_client_error("create_state_machine", "AccessDeniedException", STATES_REFUSAL,
                                 expected_params=_create_request())
        with pytest.raises(ClientError) as raised:
            stepfunctions.ensure_state_machine(kit, CREATE["name"], DEFINITION, ROLE)
        assert raised.value.response["Error"] == {"Code": "AccessDeniedException", "Message": STATES_REFUSAL}
        assert sleeps == [2.0, 4.0, 8.0, 15.0, 15.0, 15.0, 15.0]
        assert len(sleeps) == retry.ATTEMPTS - 1

    def test_other_access_denied_is_not_retried(self, aws_kit, sleeps):
        """
        1. CreateStateMachine refused because the caller lacks states:CreateStateMachine (AccessDeniedException too).
        2. Raised at once: no wait, no second request (the Stubber would fail on one).
        """
        kit, stub = aws_kit
        sfn = stub("stepfunctions")
        sfn.add_response("list_state_machines", {"stateMachines": []}, {})
        message = (f"User: arn:aws:sts::{ACCOUNT}:assumed-role/workshop/learner is not authorized to perform: "
                   f"states:CreateStateMachine on resource: {MACHINE}")
        sfn.add_client_error("create_state_machine", "AccessDeniedException", message,
                             expected_params=_create_request())
        with pytest.raises(ClientError, match="states:CreateStateMachine"):
            stepfunctions.ensure_state_machine(kit, CREATE["name"], DEFINITION, ROLE)
        assert sleeps == []

    def test_update_with_a_new_role_is_retried(self, aws_kit, sleeps):
        """
        1. ListStateMachines: it exists.
        2. UpdateStateMachine refused once (the role is new), then accepted.
        """
        import json

        kit, stub = aws_kit
        sfn = stub("stepfunctions")
        sfn.add_response("list_state_machines", {"stateMachines": [{
            "stateMachineArn": MACHINE, "name": CREATE["name"], "type": "STANDARD", "creationDate": NOW}]}, {})
        update = {"stateMachineArn": MACHINE, "definition": json.dumps(DEFINITION, indent=2), "roleArn": ROLE}
        sfn.add_client_error("update_state_machine", "AccessDeniedException", STATES_REFUSAL, expected_params=update)
        sfn.add_response("update_state_machine", {"updateDate": NOW}, update)
        assert stepfunctions.ensure_state_machine(kit, CREATE["name"], DEFINITION, ROLE) == MACHINE
        assert sleeps == [2.0]


class TestLambdaConfigurationWaitsForItsRole:
    def test_update_configuration_refused_once(self, aws_kit, sleeps):
        """
        1. GetFunction: found; UpdateFunctionCode; wait until updated.
        2. UpdateFunctionConfiguration refused once with "cannot be assumed by Lambda", then accepted.
        """
        kit, stub = aws_kit
        lam = stub("lambda")
        name = "pipeline-dreams-fetch-data"
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        config = {"FunctionName": name, "FunctionArn": arn, "State": "Active", "LastUpdateStatus": "Successful"}
        lam.add_response("get_function", {"Configuration": config}, {"FunctionName": name})
        lam.add_response("update_function_code", {}, {"FunctionName": name, "ImageUri": "img:latest"})
        lam.add_response("get_function", {"Configuration": config}, {"FunctionName": name})
        request = {"FunctionName": name, "Role": ROLE, "Timeout": 60, "MemorySize": 256, "Description": "",
                   "Environment": {"Variables": {}}}
        lam.add_client_error("update_function_configuration", "InvalidParameterValueException",
                             "The role defined for the function cannot be assumed by Lambda.", expected_params=request)
        lam.add_response("update_function_configuration", {"FunctionArn": arn}, request)
        lam.add_response("get_function", {"Configuration": config}, {"FunctionName": name})
        assert lambdas.ensure_function(kit, name, ROLE, image_uri="img:latest") == arn
        assert sleeps == [2.0]


class TestSageMakerCreateWaitsForItsRole:
    def test_could_not_assume_role_is_retried_then_other_validation_errors_are_not(self, aws_kit, sleeps):
        """
        1. CreateModel refused once with SageMaker's "Could not assume role", then accepted.
        2. CreateModel refused with another ValidationException: raised at once, no wait.
        """
        kit, stub = aws_kit
        sm = stub("sagemaker")
        role = f"arn:aws:iam::{ACCOUNT}:role/pipeline-dreams-sagemaker"
        request = {"ModelName": "m", "ExecutionRoleArn": role, "PrimaryContainer": {"Image": "img"}}
        sm.add_client_error("create_model", "ValidationException",
                            f"Could not assume role {role}. Please ensure that the role exists and allows principal "
                            "'sagemaker.amazonaws.com' to assume the role.", expected_params=request)
        sm.add_response("create_model", {"ModelArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/m"}, request)
        assert retry.with_role_retry(kit.client("sagemaker").create_model, **request)["ModelArn"].endswith("model/m")
        assert sleeps == [2.0]
        sm.add_client_error("create_model", "ValidationException", "Model name 'm' already exists",
                            expected_params=request)
        with pytest.raises(ClientError, match="already exists"):
            retry.with_role_retry(kit.client("sagemaker").create_model, **request)
        assert sleeps == [2.0]

    def test_only_client_errors_are_recognised(self):
        """
        1. A plain exception, or a ClientError with the right message but another code, is not a propagation error.
        """
        assert not retry.is_role_propagation(ValueError("Could not assume role"))
        other_code = ClientError({"Error": {"Code": "ThrottlingException", "Message": "Could not assume role"}}, "X")
        assert not retry.is_role_propagation(other_code)
