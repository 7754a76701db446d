"""A Task with ``Credentials.RoleArn`` runs as that role, only when AWS would let the execution role assume it.

https://docs.aws.amazon.com/step-functions/latest/dg/concepts-access-cross-acct-resources.html: the Task
names the target role; the target role's trust policy must let the state machine's execution role assume
it, and the execution role needs ``sts:AssumeRole`` on the target role
(https://docs.aws.amazon.com/step-functions/latest/dg/tutorial-access-cross-acct-resources.html).

Every test talks to ``python -m localcloud`` (the ``cloud`` fixture) through boto3 only.
"""

from __future__ import annotations

import json

import pytest
from _support import TRUST_POLICY, create_bucket, create_role, unique_name
from _wait import wait_for_status

REGION = "eu-west-1"
FINISHED = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def _allow(action: str, resource: str) -> dict:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}


def _trust_aws(principal: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": principal}}]})


@pytest.fixture(scope="module")
def bucket(cloud):
    return create_bucket(cloud, unique_name("sfn-creds"), REGION)


@pytest.fixture(scope="module")
def run_as(cloud, sfn, bucket):
    """Run a one-Task machine whose aws-sdk:s3:putObject names ``Credentials.RoleArn``; returns
    (Describe, history, key)."""

    def run(target_role: str, execution_role: str) -> tuple[dict, list[dict], str]:
        key = unique_name("written")
        definition = {"StartAt": "Put", "States": {"Put": {
            "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject", "End": True,
            "Credentials": {"RoleArn": target_role},
            "Parameters": {"Bucket": bucket, "Key": key, "Body": "as the target role"}}}}
        machine = sfn.create_state_machine(name=unique_name("creds"), definition=json.dumps(definition),
                                           roleArn=execution_role)["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
        described = wait_for_status(lambda: sfn.describe_execution(executionArn=execution), "status", FINISHED,
                                    timeout=60, interval=0.1)
        history = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
        return described, history, key

    return run


def _roles(cloud, bucket: str, may_assume: bool, trusted: str | None) -> tuple[str, str]:
    """(execution role, target role): only the target role may write to the bucket. ``trusted``: whom
    the target role's trust policy names as an AWS principal ("role": the execution role, "account": its
    account's root, None: nobody, only services)."""
    execution = create_role(cloud, unique_name("sfn-exec"), policy=None)
    principals = {"role": execution, "account": f"arn:aws:iam::{execution.split(':')[4]}:root"}
    target_name = unique_name("sfn-target")
    target = f"{execution.rsplit(':', 1)[0]}:role/{target_name}"
    if may_assume:
        cloud.client("iam").put_role_policy(RoleName=execution.rsplit("/", 1)[-1], PolicyName="assume",
                                            PolicyDocument=json.dumps(_allow("sts:AssumeRole", target)))
    create_role(cloud, target_name, policy=_allow("s3:PutObject", f"arn:aws:s3:::{bucket}/*"),
                trust=_trust_aws(principals[trusted]) if trusted else TRUST_POLICY)
    return execution, target


class TestTaskCredentials:
    """Credentials.RoleArn: assumed as AWS assumes it, or the task fails."""

    @pytest.mark.parametrize("trusted", ["role", "account"])
    def test_allowed_and_trusted_runs_as_the_target_role(self, cloud, s3, bucket, run_as, trusted):
        """
        1. Execution role: allowed sts:AssumeRole on the target role, nothing else. Target role: trusts the
           execution role (by its ARN, or its account's root), may s3:PutObject on the bucket.
        2. Run aws-sdk:s3:putObject with Credentials.RoleArn = the target role.
        3. SUCCEEDED and the object is there: the call was made as the target role (the execution role
           could not have written it). TaskScheduled names the target role in taskCredentials.
        """
        execution_role, target_role = _roles(cloud, bucket, may_assume=True, trusted=trusted)

        described, history, key = run_as(target_role, execution_role)

        assert described["status"] == "SUCCEEDED", described.get("cause")
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"as the target role"
        scheduled = next(e for e in history if e["type"] == "TaskScheduled")["taskScheduledEventDetails"]
        assert scheduled["taskCredentials"] == {"roleArn": target_role}

    # Trust naming the account leaves the decision to the execution role's own policy; trust naming the role
    # itself in its own account would be enough on its own
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-basics.html).
    @pytest.mark.parametrize("may_assume, trusted", [(False, "account"), (True, None)],
                             ids=["execution-role-lacks-assume-role", "target-role-does-not-trust-it"])
    def test_refused_assumption_fails_the_task(self, cloud, s3, bucket, run_as, may_assume, trusted):
        """
        1. Execution role and target role as in the allowed case, but either the execution role has no
           sts:AssumeRole grant on the target role, or the target role's trust policy does not name it.
        2. Run aws-sdk:s3:putObject with Credentials.RoleArn = the target role.
        3. FAILED: TaskFailed with States.TaskFailed and STS's AccessDenied wording (the execution role's
           session is not authorized to perform sts:AssumeRole on the target role); nothing was written.
        """
        execution_role, target_role = _roles(cloud, bucket, may_assume=may_assume, trusted=trusted)

        described, history, key = run_as(target_role, execution_role)

        assert described["status"] == "FAILED"
        failed = next(e for e in history if e["type"] == "TaskFailed")["taskFailedEventDetails"]
        assert failed["error"] == "States.TaskFailed"
        assert failed["cause"].startswith(f"User: arn:aws:sts::{execution_role.split(':')[4]}:assumed-role/"
                                          f"{execution_role.rsplit('/', 1)[-1]}/")
        assert failed["cause"].endswith(f"is not authorized to perform: sts:AssumeRole on resource: {target_role}")
        assert (described["error"], described["cause"]) == (failed["error"], failed["cause"])
        assert s3.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount") == 0
