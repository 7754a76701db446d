"""STS hands out keys as AWS does, and policy conditions evaluate by AWS's documented rules.

- AssumeRole: the role's trust policy must name the caller; the root user may not assume roles
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_permissions-to-switch.html,
  https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user.html).
- GetSessionToken / GetFederationToken refuse session credentials
  (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetSessionToken.html,
  https://docs.aws.amazon.com/STS/latest/APIReference/API_GetFederationToken.html).
- Condition operators, a missing key and the negated operators
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html);
  ``aws:CurrentTime``, ``aws:SourceIp``, ``aws:RequestedRegion``
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from _support import create_bucket, unique_name
from botocore.config import Config
from botocore.exceptions import ClientError

from localcloud.moto_seams._iam_policy import ALLOW, DENY, NEUTRAL, evaluate

REGION = "eu-west-1"


def _session(cloud, key: dict, region: str = REGION) -> boto3.session.Session:
    return boto3.session.Session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                                 aws_session_token=key.get("SessionToken"), region_name=region)


def _client(cloud, key: dict, service: str, region: str = REGION):
    return _session(cloud, key, region).client(service, endpoint_url=cloud.url,
                                               config=Config(retries={"max_attempts": 1}))


def _refusal(call) -> tuple[str, str]:
    with pytest.raises(ClientError) as refused:
        call()
    return refused.value.response["Error"]["Code"], refused.value.response["Error"]["Message"]


@pytest.fixture(scope="module")
def account(cloud) -> str:
    return cloud.client("sts").get_caller_identity()["Account"]


def _user(cloud, policy: dict) -> tuple[str, dict]:
    """An IAM user allowed ``policy``, and its access key."""
    iam = cloud.client("iam")
    name = unique_name("user")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    return arn, iam.create_access_key(UserName=name)["AccessKey"]


def _role(cloud, trusted: object, policy: dict | None = None) -> str:
    iam = cloud.client("iam")
    name = unique_name("target")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": trusted},
                                                     "Action": "sts:AssumeRole"}]}
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    if policy:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    return arn


ASSUME_ANY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}
S3_READ = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}


class TestAssumeRoleFollowsTheTrustPolicy:
    """sts:AssumeRole checks the target role's trust policy (it was ignored: item 5)."""

    def test_trusted_user_gets_working_role_keys(self, cloud, account):
        """
        1. A user allowed sts:AssumeRole; a role trusting the account, allowed s3:ListAllMyBuckets.
        2. AssumeRole succeeds; its keys (with their session token) list buckets and are refused IAM.
        """
        _, key = _user(cloud, ASSUME_ANY)
        role = _role(cloud, f"arn:aws:iam::{account}:root", S3_READ)
        creds = _client(cloud, key, "sts").assume_role(RoleArn=role, RoleSessionName="session")["Credentials"]
        _client(cloud, creds, "s3").list_buckets()
        assert _refusal(lambda: _client(cloud, creds, "iam").list_users())[0] == "AccessDenied"

    def test_role_that_does_not_trust_the_caller(self, cloud, account):
        """1. A role trusting only another account; 2. AssumeRole is AccessDenied, naming sts:AssumeRole."""
        _, key = _user(cloud, ASSUME_ANY)
        role = _role(cloud, "arn:aws:iam::111122223333:root")
        code, message = _refusal(lambda: _client(cloud, key, "sts").assume_role(RoleArn=role, RoleSessionName="session"))
        assert code == "AccessDenied" and "sts:AssumeRole" in message and role in message

    def test_trust_naming_the_account_needs_the_callers_own_allow(self, cloud, account):
        """1. A user with no sts:AssumeRole grant; a role trusting the account; 2. AccessDenied."""
        _, key = _user(cloud, S3_READ)
        role = _role(cloud, account)
        assert _refusal(lambda: _client(cloud, key, "sts").assume_role(RoleArn=role, RoleSessionName="session"))[0] \
            == "AccessDenied"

    def test_trust_naming_the_user_itself_is_enough(self, cloud, account):
        """1. A user with no grant of its own; a role whose trust names that user's ARN; 2. AssumeRole works."""
        arn, key = _user(cloud, S3_READ)
        role = _role(cloud, arn)
        assert _client(cloud, key, "sts").assume_role(RoleArn=role, RoleSessionName="session")["AssumedRoleUser"]

    def test_root_may_not_assume_roles(self, cloud, account):
        """1. The cloud's root keys call AssumeRole; 2. AccessDenied "Roles may not be assumed by root accounts."."""
        role = _role(cloud, f"arn:aws:iam::{account}:root")
        code, message = _refusal(lambda: cloud.client("sts").assume_role(RoleArn=role, RoleSessionName="session"))
        assert code == "AccessDenied" and "root" in message


class TestSessionCredentialsCannotMintMore:
    """GetSessionToken and GetFederationToken refuse session credentials (role keys made root keys: item 5)."""

    @pytest.mark.parametrize("call", [lambda sts: sts.get_session_token(),
                                      lambda sts: sts.get_federation_token(Name="federated")], ids=["session", "federation"])
    def test_with_role_keys(self, cloud, account, call):
        """1. Assume a role as a trusted user, then call the operation with the role's keys; 2. AccessDenied."""
        _, key = _user(cloud, ASSUME_ANY)
        role = _role(cloud, f"arn:aws:iam::{account}:root", {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "sts:*", "Resource": "*"}]})
        creds = _client(cloud, key, "sts").assume_role(RoleArn=role, RoleSessionName="session")["Credentials"]
        code, message = _refusal(lambda: call(_client(cloud, creds, "sts")))
        assert code == "AccessDenied" and "session credentials" in message


class TestConditionsAsAwsEvaluatesThem:
    """The cloud's own evaluator (moto_seams._iam_policy.evaluate), against AWS's documented rules (item 7)."""

    NOW = datetime.now(timezone.utc)

    def _policy(self, effect: str, condition: dict) -> dict:
        return {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
            {"Effect": effect, "Action": "s3:GetObject", "Resource": "*", "Condition": condition}]}

    @pytest.mark.parametrize("operator,offset,expected", [
        ("DateGreaterThan", -60, DENY), ("DateGreaterThan", 60, ALLOW),
        ("DateLessThan", 60, DENY), ("DateLessThan", -60, ALLOW)])
    def test_dates_on_current_time(self, operator, offset, expected):
        """1. Deny when aws:CurrentTime is after / before a time a minute away; 2. applied as the clock says."""
        when = (self.NOW + timedelta(seconds=offset)).strftime("%Y-%m-%dT%H:%M:%SZ")
        context = {"aws:CurrentTime": self.NOW.strftime("%Y-%m-%dT%H:%M:%SZ")}
        assert evaluate([self._policy("Deny", {operator: {"aws:CurrentTime": when}})], "s3:GetObject", "arn",
                        context) == expected

    @pytest.mark.parametrize("cidr,expected", [("10.0.0.0/8", DENY), ("127.0.0.0/8", ALLOW)])
    def test_not_ip_address(self, cidr, expected):
        """1. Deny unless aws:SourceIp is in a network; 2. 127.0.0.1 is outside 10/8 (denied) and inside 127/8."""
        policy = self._policy("Deny", {"NotIpAddress": {"aws:SourceIp": cidr}})
        assert evaluate([policy], "s3:GetObject", "arn", {"aws:SourceIp": "127.0.0.1"}) == expected

    def test_negated_operator_on_a_missing_key_holds(self):
        """1. Deny when aws:SourceVpce is not vpce-1, on a request with no VPC endpoint; 2. the Deny applies."""
        policy = self._policy("Deny", {"StringNotEquals": {"aws:SourceVpce": "vpce-1"}})
        assert evaluate([policy], "s3:GetObject", "arn", {}) == DENY

    def test_positive_operator_on_a_missing_key_does_not(self):
        """1. Allow only when aws:SourceVpce is vpce-1, without one; 2. no Allow (implicit deny)."""
        policy = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                                 "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}}]}
        assert evaluate([policy], "s3:GetObject", "arn", {}) == NEUTRAL

    def test_requested_region_over_http(self, cloud):
        """
        1. A user allowed s3:* but denied everything outside eu-west-1 (aws:RequestedRegion).
        2. ListBuckets signed for eu-west-1 passes; signed for us-east-1 it is AccessDenied.
        """
        _, key = _user(cloud, {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "*", "Resource": "*",
             "Condition": {"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}}}]})
        bucket = create_bucket(cloud, unique_name("region"))
        _client(cloud, key, "s3", "eu-west-1").head_bucket(Bucket=bucket)
        with pytest.raises(ClientError) as refused:
            _client(cloud, key, "s3", "us-east-1").list_objects_v2(Bucket=bucket)
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
