"""helpers.preflight: checks an AWS account before anything is created (every request answered by a Stubber).

AWS references: iam:SimulatePrincipalPolicy
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html) evaluates an IAM user's
or role's policies (an STS assumed-role session is simulated as its role); Service Quotas' ListServiceQuotas
(https://docs.aws.amazon.com/servicequotas/2019-06-24/apireference/API_ListServiceQuotas.html) lists the applied
values, ListAWSDefaultServiceQuotas the defaults; SageMaker names its instance quotas
"<instance type> for <processing job|training job|transform job|endpoint> usage"
(https://docs.aws.amazon.com/general/latest/gr/sagemaker.html#limits_sagemaker).
"""

from __future__ import annotations

import botocore.session
import pytest
from _aws_stubs import ACCOUNT, BUCKET, CALLER, REGION

from helpers.runner import cli
from helpers import config, iam, plan, preflight

ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/workshop"
QUOTAS = ["ml.t3.medium for processing job usage", "ml.m5.large for training job usage",
          "ml.m5.large for transform job usage", "ml.m5.large for endpoint usage"]

# helpers.plan prices and preflights notebooks 01-07: notebook 08's sdk role (and its SDK-made jobs and endpoint) is
# not in it, so preflight checks no PassRole for it
PLANNED_ROLES = {purpose: service for purpose, service in iam.ROLES.items() if purpose != "sdk"}


def _allowed(request: dict, denied: frozenset[str] = frozenset()) -> dict:
    return {"EvaluationResults": [{"EvalActionName": action, "EvalResourceName": request["ResourceArns"][0],
                                   "EvalDecision": "implicitDeny" if action in denied else "allowed"}
                                  for action in request["ActionNames"]], "IsTruncated": False}


def _quota(name: str, value: float) -> dict:
    return {"ServiceCode": "sagemaker", "QuotaName": name, "QuotaCode": "L-1", "Value": value}


@pytest.fixture
def docker_answers(monkeypatch):
    """A docker CLI whose `docker info` exits 0 (nothing is run)."""
    calls = []
    monkeypatch.setattr(preflight.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(preflight.subprocess, "run", lambda command, **kwargs: calls.append(command) or
                        type("Done", (), {"returncode": 0})())
    return calls


def stub_account(stub, denied: frozenset[str] = frozenset(), processing_quota: float = 2.0) -> None:
    """The exact requests of a full preflight of the sample kit, in order."""
    stub("sts").add_response("get_caller_identity", {"UserId": "AROA:learner", "Account": ACCOUNT, "Arn": CALLER}, {})
    iam = stub("iam")
    iam.add_response("get_role", {"Role": {"Path": "/", "RoleName": "workshop", "RoleId": "AROAEXAMPLEEXAMPLE1",
                                           "Arn": ROLE_ARN, "CreateDate": "2026-01-01T00:00:00Z",
                                           "AssumeRolePolicyDocument": "{}"}}, {"RoleName": "workshop"})
    settings = config.settings(target="aws", region=REGION)
    for simulation in preflight.simulations(settings, ACCOUNT):
        request = simulation.request(ROLE_ARN)
        iam.add_response("simulate_principal_policy", _allowed(request, denied), request)
    quotas = stub("service-quotas")
    quotas.add_response("list_service_quotas", {"Quotas": [_quota(QUOTAS[0], processing_quota)], "NextToken": "p2"},
                        {"ServiceCode": "sagemaker", "MaxResults": 100})
    quotas.add_response("list_service_quotas", {"Quotas": [_quota(QUOTAS[1], 2.0)]},
                        {"ServiceCode": "sagemaker", "MaxResults": 100, "NextToken": "p2"})
    quotas.add_response("list_aws_default_service_quotas",
                        {"Quotas": [_quota(name, 1.0) for name in QUOTAS]}, {"ServiceCode": "sagemaker",
                                                                             "MaxResults": 100})


class TestWhatIsChecked:
    def test_simulations_cover_every_kind_the_plan_makes(self):
        """
        1. Build the simulations for the sample kit.
        2. Every (service, kind) of helpers.plan has caller actions listed; the bucket's, each role's (PassRole with
           the service it is passed to) and the global ones are the expected requests.
        3. Every action names an operation of its service in botocore's models (no typo can pass).
        """
        settings = config.settings(target="aws", region=REGION)
        kinds = {(row.service, row.kind) for row in plan.plan(settings, ACCOUNT).itertuples()}
        assert kinds == set(preflight.CALLER_ACTIONS)
        requests = [s.request(ROLE_ARN) for s in preflight.simulations(settings, ACCOUNT)]
        assert requests[0] == {"PolicySourceArn": ROLE_ARN, "ResourceArns": [f"arn:aws:s3:::{BUCKET}"],
                               "ActionNames": ["s3:CreateBucket", "s3:PutBucketTagging", "s3:GetBucketTagging",
                                               "s3:PutBucketPublicAccessBlock", "s3:GetBucketLocation",
                                               "s3:ListBucket", "s3:ListBucketVersions", "s3:DeleteBucket"]}
        roles = [r for r in requests if "iam:PassRole" in r["ActionNames"]]
        assert sorted((r["ResourceArns"], r["ContextEntries"][0]["ContextKeyValues"]) for r in roles) == sorted(
            ([f"arn:aws:iam::{ACCOUNT}:role/pipeline-dreams-{purpose}"], [f"{service}.amazonaws.com"])
            for purpose, service in PLANNED_ROLES.items())  # one role per Lambda function, and the services'
        assert requests[-1]["ResourceArns"] == ["*"] and "ecr:GetAuthorizationToken" in requests[-1]["ActionNames"]
        session = botocore.session.get_session()
        services = {"s3": ["s3"], "iam": ["iam"], "ecr": ["ecr"], "lambda": ["lambda"], "logs": ["logs"],
                    "states": ["stepfunctions"], "events": ["events"], "sagemaker": ["sagemaker", "sagemaker-runtime"]}
        # IAM-only actions (no API of that name): the S3 ones named after their subresource, PassRole, InvokeFunction
        iam_only = {"s3:ListBucket", "s3:ListBucketVersions", "s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                    "s3:DeleteObjectVersion", "s3:ListAllMyBuckets", "s3:PutBucketNotification",
                    "s3:PutBucketPublicAccessBlock", "iam:PassRole", "lambda:InvokeFunction"}
        for request in requests:
            for action in request["ActionNames"]:
                prefix, operation = action.split(":")
                if action not in iam_only:
                    assert any(operation in session.get_service_model(service).operation_names
                               for service in services[prefix]), action

    def test_quota_names_come_from_the_plan(self):
        """
        1. The instance types the plan bills, per use, as SageMaker's quota names.
        """
        assert preflight.quota_names(config.settings(target="aws", region=REGION)) == QUOTAS


class TestPreflightOnAws:
    def test_all_ok(self, aws_kit, docker_answers):
        """
        1. STS GetCallerIdentity; IAM GetRole for the assumed role; one SimulatePrincipalPolicy per resource kind,
           all allowed; ListServiceQuotas over two pages, then the defaults for the quotas never changed.
        2. Every check is OK, `docker info` ran, the report is ok and ends with the cost table.
        """
        kit, stub = aws_kit
        stub_account(stub)
        report = preflight.run(kit)
        assert report.ok and all(check.ok for check in report.checks)
        text = repr(report)
        assert text.splitlines()[0] == f"OK   caller: {CALLER} (account {ACCOUNT}), region {REGION}"
        assert f"OK   permissions: {ROLE_ARN} may do all" in text
        assert "OK   quota ml.t3.medium for processing job usage: 2" in text
        assert "OK   quota ml.m5.large for endpoint usage: 1" in text
        assert "OK   docker: `docker info` answers" in text and docker_answers == [["docker", "info"]]
        assert "Cost (USD, us-east-1 list prices):" in text and "total" in text

    def test_denied_action_and_zero_quota_block(self, aws_kit, docker_answers):
        """
        1. The simulator denies iam:PassRole and s3:CreateBucket; the processing quota is 0.
        2. Both checks FAIL (blocking) saying what is missing and what to do; strict raises PreflightFailed.
        """
        kit, stub = aws_kit
        stub_account(stub, denied=frozenset({"iam:PassRole", "s3:CreateBucket"}), processing_quota=0)
        with pytest.raises(preflight.PreflightFailed) as raised:
            preflight.run(kit, strict=True)
        message = str(raised.value)
        # iam:PassRole once per role the series makes, and s3:CreateBucket
        assert f"FAIL permissions: {len(PLANNED_ROLES) + 1} action(s) not allowed for " + ROLE_ARN in message
        assert f"s3:CreateBucket on arn:aws:s3:::{BUCKET}" in message
        assert "iam:PassRole on arn:aws:iam::" in message and "Ask your administrator" in message
        assert ('FAIL quota ml.t3.medium for processing job usage: 0: request an increase to at least 1' in message)

    def test_no_docker_blocks_and_unreadable_quotas_do_not(self, aws_kit, monkeypatch):
        """
        1. No docker CLI; Service Quotas refuses ListServiceQuotas (AccessDeniedException).
        2. docker FAILs (blocking); quotas FAIL (not blocking) naming the permission to ask for; report not ok.
        """
        kit, stub = aws_kit
        monkeypatch.setattr(preflight.shutil, "which", lambda name: None)
        stub("sts").add_response("get_caller_identity", {"UserId": "AIDA", "Account": ACCOUNT,
                                                         "Arn": f"arn:aws:iam::{ACCOUNT}:user/learner"}, {})
        iam = stub("iam")
        for simulation in preflight.simulations(kit.settings, ACCOUNT):
            request = simulation.request(f"arn:aws:iam::{ACCOUNT}:user/learner")
            iam.add_response("simulate_principal_policy", _allowed(request), request)
        stub("service-quotas").add_client_error("list_service_quotas", "AccessDeniedException", "no",
                                                expected_params={"ServiceCode": "sagemaker", "MaxResults": 100})
        report = preflight.run(kit, costs=False)
        lines = repr(report).splitlines()
        assert lines[2] == ("FAIL (not blocking) quotas: could not read SageMaker's quotas (AccessDeniedException): "
                            "ask for servicequotas:ListServiceQuotas, or look in the Service Quotas console")
        assert lines[3].startswith("FAIL docker: no docker CLI") and not report.ok and len(lines) == 4


class TestPreflightOffline:
    def test_local_target_calls_nothing(self, make_kit, monkeypatch):
        """
        1. A kit with target local (on moto; every request would fail the test).
        2. The report says preflight is for AWS, lists what it would check, and is ok; no request was made.
        """
        kit = make_kit(target="local")
        monkeypatch.setattr(kit, "client", lambda service: pytest.fail(f"preflight called {service} offline"))
        report = preflight.run(kit, costs=False)
        text = repr(report)
        assert report.ok and "the target is local: nothing checked, nothing called" in text
        assert "SKIP quotas: ml.t3.medium for processing job usage" in text

    def test_cli_exit_code(self, aws_kit, monkeypatch, capsys):
        """
        1. `python -m helpers preflight -p target aws -p region eu-west-1` with docker missing (blocking).
        2. Exit 1, the FAIL line on stdout and "preflight FAILED" on stderr.
        """
        kit, stub = aws_kit
        monkeypatch.setattr(preflight.shutil, "which", lambda name: None)
        stub_account(stub)
        import helpers

        monkeypatch.setattr(helpers, "connect", lambda **_: kit)
        assert cli.main(["preflight", "-p", "target", "aws", "-p", "region", REGION]) == 1
        captured = capsys.readouterr()
        assert "FAIL docker: no docker CLI" in captured.out and "preflight FAILED" in captured.err

    def test_cli_on_the_local_target_needs_no_cloud(self, aws_env, monkeypatch, capsys):
        """
        1. `python -m helpers preflight -p target local`, with connect() failing the test if called.
        2. Exit 0; it says what it would check on AWS and prints the cost table.
        """
        import helpers

        monkeypatch.setattr(helpers, "connect", lambda **_: pytest.fail("preflight connected to a cloud"))
        assert cli.main(["preflight", "-p", "target", "local"]) == 0
        out = capsys.readouterr().out
        assert out.startswith("SKIP preflight: it checks an AWS account") and "SKIP docker:" in out and "total" in out
