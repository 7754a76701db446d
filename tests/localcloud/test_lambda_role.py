"""Lambda assumes a function's execution role whenever it runs it: a role gone, or no longer trusting Lambda, fails.

AWS answers such an Invoke with InvalidParameterValueException "The role defined for the function cannot be
assumed by Lambda." (the Invoke API's errors: "if you provided an IAM role for AWS Lambda to assume … that AWS
Lambda is unable to assume you will get this exception",
https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html#API_Invoke_Errors; seen at invoke time in
https://github.com/alexcasalboni/aws-lambda-power-tuning/issues/69).
"""

from __future__ import annotations

import json

import pytest
from _support import create_role, unique_name, zip_bytes
from botocore.exceptions import ClientError

HANDLER = "def handler(event, context):\n    return {'ran': True}\n"
STATES_ONLY = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


@pytest.fixture
def function(cloud):
    """(function name, role name): a function whose role trusts Lambda, invoked once successfully."""
    role_name = unique_name("fn-role")
    role = create_role(cloud, role_name)
    name = unique_name("role-check")
    lam = cloud.client("lambda")
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=role, Handler="app.handler", Timeout=10,
                        Code={"ZipFile": zip_bytes({"app.py": HANDLER})})
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == {"ran": True}
    return name, role_name[:64]


def _refused(cloud, name: str) -> tuple[str, str]:
    with pytest.raises(ClientError) as refused:
        cloud.client("lambda").invoke(FunctionName=name)
    return refused.value.response["Error"]["Code"], refused.value.response["Error"]["Message"]


class TestRoleThatNoLongerTrustsLambda:
    def test_invoke_is_refused(self, cloud, function):
        """1. The role's trust policy is changed to name only Step Functions; 2. Invoke: InvalidParameterValueException."""
        name, role = function
        cloud.client("iam").update_assume_role_policy(RoleName=role, PolicyDocument=STATES_ONLY)
        assert _refused(cloud, name) == ("InvalidParameterValueException",
                                         "The role defined for the function cannot be assumed by Lambda.")


class TestDeletedRole:
    def test_invoke_is_refused(self, cloud, function):
        """1. The role's policy and the role are deleted; 2. Invoke: InvalidParameterValueException."""
        name, role = function
        iam = cloud.client("iam")
        iam.delete_role_policy(RoleName=role, PolicyName="test")
        iam.delete_role(RoleName=role)
        assert _refused(cloud, name)[0] == "InvalidParameterValueException"
