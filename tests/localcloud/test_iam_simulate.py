"""iam:SimulatePrincipalPolicy answers with the cloud's own evaluator, in AWS's shape (moto: 500 with HTML).

https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html
https://docs.aws.amazon.com/IAM/latest/APIReference/API_EvaluationResult.html (one result per action; the
top-level decision is the most restrictive across ResourceArns; ResourceSpecificResults per resource)
"""

from __future__ import annotations

import json

import pytest
from _support import create_role, unique_name
from botocore.exceptions import ClientError

POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::kit-bucket/runs/*"},
    {"Sid": "Tagged", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "*",
     "Condition": {"StringEquals": {"s3:x-amz-acl": "private"}}},
    {"Sid": "NoDeletes", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}]}


@pytest.fixture(scope="module")
def role(cloud) -> str:
    return create_role(cloud, unique_name("simulate"), POLICY)


def _decisions(answer: dict) -> dict[str, str]:
    return {r["EvalActionName"]: r["EvalDecision"] for r in answer["EvaluationResults"]}


class TestDecisions:
    def test_allowed_explicit_and_implicit_deny(self, cloud, role):
        """1. Simulate three actions on one object. 2. allowed (the Allow), explicitDeny (the Deny, its statement
        alone matched), implicitDeny (nothing allows), each with a ResourceSpecificResult for the object."""
        iam = cloud.client("iam")
        answer = iam.simulate_principal_policy(
            PolicySourceArn=role, ActionNames=["s3:GetObject", "s3:DeleteObject", "s3:ListBucket"],
            ResourceArns=["arn:aws:s3:::kit-bucket/runs/a.csv"])
        assert _decisions(answer) == {"s3:GetObject": "allowed", "s3:DeleteObject": "explicitDeny",
                                      "s3:ListBucket": "implicitDeny"}
        deny = answer["EvaluationResults"][1]
        assert deny["MatchedStatements"][0]["SourcePolicyType"] == "role"
        assert [r["EvalResourceDecision"] for r in deny["ResourceSpecificResults"]] == ["explicitDeny"]
        assert answer["IsTruncated"] is False

    def test_the_most_restrictive_resource_decides(self, cloud, role):
        """1. GetObject on an object inside runs/ and one outside. 2. implicitDeny at the top; per resource
        allowed and implicitDeny."""
        answer = cloud.client("iam").simulate_principal_policy(
            PolicySourceArn=role, ActionNames=["s3:GetObject"],
            ResourceArns=["arn:aws:s3:::kit-bucket/runs/a.csv", "arn:aws:s3:::other/a.csv"])
        result = answer["EvaluationResults"][0]
        assert result["EvalDecision"] == "implicitDeny"
        assert [r["EvalResourceDecision"] for r in result["ResourceSpecificResults"]] == ["allowed", "implicitDeny"]

    def test_conditions_read_the_context_entries(self, cloud, role):
        """1. PutObject without and with the s3:x-amz-acl context entry. 2. implicitDeny naming the missing key,
        then allowed."""
        iam = cloud.client("iam")
        without = iam.simulate_principal_policy(PolicySourceArn=role, ActionNames=["s3:PutObject"])
        assert without["EvaluationResults"][0]["EvalDecision"] == "implicitDeny"
        assert without["EvaluationResults"][0]["MissingContextValues"] == ["s3:x-amz-acl"]
        given = iam.simulate_principal_policy(PolicySourceArn=role, ActionNames=["s3:PutObject"], ContextEntries=[
            {"ContextKeyName": "s3:x-amz-acl", "ContextKeyValues": ["private"], "ContextKeyType": "string"}])
        assert given["EvaluationResults"][0]["EvalDecision"] == "allowed"

    def test_pages_of_max_items(self, cloud, role):
        """1. Three actions, MaxItems 2. 2. Two results, IsTruncated and a Marker; the next page holds the third;
        boto3's paginator joins them."""
        iam = cloud.client("iam")
        actions = ["s3:GetObject", "s3:DeleteObject", "s3:ListBucket"]
        first = iam.simulate_principal_policy(PolicySourceArn=role, ActionNames=actions, MaxItems=2)
        assert len(first["EvaluationResults"]) == 2 and first["IsTruncated"] is True
        rest = iam.simulate_principal_policy(PolicySourceArn=role, ActionNames=actions, MaxItems=2,
                                             Marker=first["Marker"])
        assert [r["EvalActionName"] for r in rest["EvaluationResults"]] == ["s3:ListBucket"]
        pages = iam.get_paginator("simulate_principal_policy").paginate(PolicySourceArn=role, ActionNames=actions,
                                                                          PaginationConfig={"PageSize": 1})
        assert [r["EvalActionName"] for page in pages for r in page["EvaluationResults"]] == actions


class TestRefusals:
    def test_a_role_that_does_not_exist(self, cloud, account):
        """A role ARN nobody made: NoSuchEntity, as AWS answers."""
        with pytest.raises(ClientError) as raised:
            cloud.client("iam").simulate_principal_policy(
                PolicySourceArn=f"arn:aws:iam::{account}:role/{unique_name('nobody')}", ActionNames=["s3:GetObject"])
        assert raised.value.response["Error"]["Code"] == "NoSuchEntity"

    def test_a_caller_without_the_permission_is_refused(self, cloud, role):
        """1. Keys of an IAM user allowed only s3:* call SimulatePrincipalPolicy. 2. AccessDenied (the caller needs
        iam:SimulatePrincipalPolicy)."""
        admin = cloud.client("iam")
        user = unique_name("nosim")
        admin.create_user(UserName=user)
        admin.put_user_policy(UserName=user, PolicyName="s3", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
        keys = admin.create_access_key(UserName=user)["AccessKey"]
        import boto3

        iam = boto3.client("iam", region_name="eu-west-1", endpoint_url=cloud.url,
                           aws_access_key_id=keys["AccessKeyId"], aws_secret_access_key=keys["SecretAccessKey"])
        with pytest.raises(ClientError) as raised:
            iam.simulate_principal_policy(PolicySourceArn=role, ActionNames=["s3:GetObject"])
        assert raised.value.response["Error"]["Code"] == "AccessDenied"
