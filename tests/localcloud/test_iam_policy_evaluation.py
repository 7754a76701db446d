"""The local cloud's identity-policy evaluation (localcloud.moto_seams._iam_policy), rule by rule.

Each case encodes a rule of https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
and of the policy grammar (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html).
"""

from __future__ import annotations

import json

import pytest

from localcloud.moto_seams._iam_policy import (
    ALLOW,
    DENY,
    NEUTRAL,
    evaluate,
    request_context,
    request_resource,
    trusts_service,
)

BUCKET = "arn:aws:s3:::kit-bucket"
ROLE = "arn:aws:iam::123456789012:role/kit-sagemaker"


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource, **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


class TestActionsAndResources:
    """Action and resource matching: wildcards, case, NotAction, NotResource."""

    @pytest.mark.parametrize("action, resource, expected", [
        ("s3:GetObject", f"{BUCKET}/runs/1/raw/x", ALLOW),
        ("S3:getobject", f"{BUCKET}/runs/1/raw/x", ALLOW),  # action names are case-insensitive
        ("s3:PutObject", f"{BUCKET}/runs/1/raw/x", NEUTRAL),  # not granted: implicit deny
        ("s3:GetObject", f"{BUCKET}/incoming/x", NEUTRAL),  # resource outside the pattern
        ("s3:GetObject", "arn:aws:s3:::KIT-BUCKET/runs/x", NEUTRAL),  # resources are case-sensitive
    ])
    def test_allow_with_wildcard_resource(self, action, resource, expected):
        """
        1. A policy allowing s3:Get* on kit-bucket/runs/*.
        2. The request is allowed only for a matching action (any case) and a matching resource (exact case).
        """
        assert evaluate([policy(allow("s3:Get*", f"{BUCKET}/runs/*"))], action, resource, {}) == expected

    def test_question_mark_matches_one_character(self):
        """
        1. A resource pattern with ?.
        2. It matches exactly one character.
        """
        document = policy(allow("s3:GetObject", f"{BUCKET}/run?/x"))
        assert evaluate([document], "s3:GetObject", f"{BUCKET}/run1/x", {}) == ALLOW
        assert evaluate([document], "s3:GetObject", f"{BUCKET}/run12/x", {}) == NEUTRAL

    def test_not_action_and_not_resource(self):
        """
        1. Allow everything but iam:* (NotAction) on everything but the secret prefix (NotResource).
        2. s3:GetObject on runs/ is allowed; iam:PassRole and the secret prefix are not.
        """
        document = policy({"Effect": "Allow", "NotAction": "iam:*", "NotResource": f"{BUCKET}/secret/*"})
        assert evaluate([document], "s3:GetObject", f"{BUCKET}/runs/x", {}) == ALLOW
        assert evaluate([document], "iam:PassRole", ROLE, {}) == NEUTRAL
        assert evaluate([document], "s3:GetObject", f"{BUCKET}/secret/x", {}) == NEUTRAL

    def test_explicit_deny_wins_across_policies(self):
        """
        1. One policy allows s3:*; another denies s3:DeleteObject.
        2. DeleteObject is DENY (explicit), GetObject ALLOW.
        """
        documents = [policy(allow("s3:*", "*")), policy({"Effect": "Deny", "Action": "s3:DeleteObject",
                                                         "Resource": "*"})]
        assert evaluate(documents, "s3:DeleteObject", f"{BUCKET}/x", {}) == DENY
        assert evaluate(documents, "s3:GetObject", f"{BUCKET}/x", {}) == ALLOW


class TestConditions:
    """Condition operators the kit's policies use, and how a missing key behaves."""

    PASS = policy(allow("iam:PassRole", ROLE, Condition={"StringEquals": {
        "iam:PassedToService": "sagemaker.amazonaws.com"}}))

    def test_passed_to_service(self):
        """
        1. PassRole allowed with iam:PassedToService = sagemaker.amazonaws.com.
        2. Passing to SageMaker is allowed; to Lambda, or with no such key, it is not (and not an explicit deny).
        """
        assert evaluate([self.PASS], "iam:PassRole", ROLE, {"iam:PassedToService": "sagemaker.amazonaws.com"}) == ALLOW
        assert evaluate([self.PASS], "iam:PassRole", ROLE, {"iam:PassedToService": "lambda.amazonaws.com"}) == NEUTRAL
        assert evaluate([self.PASS], "iam:PassRole", ROLE, {}) == NEUTRAL

    def test_string_like_prefix_and_if_exists(self):
        """
        1. ListBucket allowed when s3:prefix is like runs/*; a second statement with StringLikeIfExists.
        2. runs/x is allowed, incoming/ is not; IfExists holds when the key is absent.
        """
        document = policy(allow("s3:ListBucket", BUCKET, Condition={"StringLike": {"s3:prefix": "runs/*"}}))
        assert evaluate([document], "s3:ListBucket", BUCKET, {"s3:prefix": "runs/1/"}) == ALLOW
        assert evaluate([document], "s3:ListBucket", BUCKET, {"s3:prefix": "incoming/"}) == NEUTRAL
        if_exists = policy(allow("s3:ListBucket", BUCKET, Condition={"StringLikeIfExists": {"s3:prefix": "runs/*"}}))
        assert evaluate([if_exists], "s3:ListBucket", BUCKET, {}) == ALLOW

    def test_deny_with_false_condition_does_not_deny(self):
        """
        1. Allow s3:*; deny s3:PutObject when aws:PrincipalAccount is not 123456789012 (StringNotEquals).
        2. For the account the Deny's condition is false and it does not apply (moto's own evaluation turned a
           false condition into a Deny); for another account it denies.
        """
        documents = [policy(allow("s3:*", "*"), {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*",
                                                 "Condition": {"StringNotEquals": {"aws:PrincipalAccount": "123456789012"}}})]
        assert evaluate(documents, "s3:PutObject", f"{BUCKET}/x", {"aws:PrincipalAccount": "123456789012"}) == ALLOW
        assert evaluate(documents, "s3:PutObject", f"{BUCKET}/x", {"aws:PrincipalAccount": "999999999999"}) == DENY

    def test_unknown_operator_never_grants(self):
        """
        1. An Allow whose condition uses an operator this cloud does not evaluate (BinaryEquals).
        2. It does not grant (refusing is the safe side of an unknown rule).
        """
        document = policy(allow("s3:GetObject", "*", Condition={"BinaryEquals": {"s3:max-keys": "MTA="}}))
        assert evaluate([document], "s3:GetObject", f"{BUCKET}/x", {"s3:max-keys": "MTA="}) == NEUTRAL


class TestTrustPolicies:
    """A role's trust policy names the service principal that may assume it."""

    TRUST = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}}]}

    def test_service_and_source_account(self):
        """
        1. The kit's trust policy shape: lambda.amazonaws.com, aws:SourceAccount = the account.
        2. Lambda in the account may assume it; SageMaker may not; Lambda for another account may not.
        """
        assert trusts_service(self.TRUST, "lambda.amazonaws.com", {"aws:SourceAccount": "123456789012"})
        assert not trusts_service(self.TRUST, "sagemaker.amazonaws.com", {"aws:SourceAccount": "123456789012"})
        assert not trusts_service(self.TRUST, "lambda.amazonaws.com", {"aws:SourceAccount": "999999999999"})


class TestRequestResource:
    """The ARN a request acts on, for the actions the kit's policies scope."""

    @pytest.mark.parametrize("service, action, params, path, expected", [
        ("sagemaker", "CreateProcessingJob", {"ProcessingJobName": "Kit-Prep-1"}, "/",
         "arn:aws:sagemaker:eu-west-1:123456789012:processing-job/kit-prep-1"),
        ("sagemaker", "CreateEndpointConfig", {"EndpointConfigName": "kit-c", "ProductionVariants": [
            {"ModelName": "m"}]}, "/", "arn:aws:sagemaker:eu-west-1:123456789012:endpoint-config/kit-c"),
        ("sagemaker", "ListTags", {"ResourceArn": "arn:aws:sagemaker:eu-west-1:123456789012:training-job/t"}, "/",
         "arn:aws:sagemaker:eu-west-1:123456789012:training-job/t"),
        ("lambda", "Invoke", {}, "/2015-03-31/functions/kit-fetch-data/invocations",
         "arn:aws:lambda:eu-west-1:123456789012:function:kit-fetch-data"),
        ("states", "StartExecution", {"stateMachineArn": "arn:aws:states:eu-west-1:123456789012:stateMachine:kit-p"},
         "/", "arn:aws:states:eu-west-1:123456789012:stateMachine:kit-p"),
        ("events", "PutTargets", {"Rule": "r"}, "/", "arn:aws:events:eu-west-1:123456789012:rule/r"),
        ("logs", "PutLogEvents", {"logGroupName": "/aws/lambda/kit-f", "logStreamName": "s"}, "/",
         "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/kit-f:log-stream:s"),
        ("sagemaker", "ListTrainingJobs", {}, "/", "*"),
    ])
    def test_resource_arn(self, service, action, params, path, expected):
        """
        1. A request of the kit's kind.
        2. Its resource ARN is the one AWS authorizes (SageMaker names in lower case, as its ARNs have them).
        """
        assert request_resource(service, action, params, path, "eu-west-1", "123456789012") == expected

    def test_list_bucket_prefix_context(self):
        """
        1. A ListObjectsV2 with prefix=runs/1/.
        2. The s3:prefix condition key carries it.
        """
        assert request_context("s3", "ListBucket", {}, {"prefix": ["runs/1/"]}) == {"s3:prefix": "runs/1/"}
