"""The reviewed IAM documents under iam/: least privilege, checked against what the code really does.

Static rules on the templates (grammar, no wildcard actions, resources scoped to the kit,
PassRole only to SageMaker, one service per trust policy, no managed policies), then the
needs derived from the state machines, the Lambda handlers and the jobs (see
``_iam_model``) are evaluated against the rendered policies: each one must be allowed,
and each granted action must be needed by something.
"""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

import pytest

import _iam_model as model
from helpers import iam
from helpers.paths import IAM_DIR, PROJECT_ROOT

DOCUMENTS = sorted(IAM_DIR.glob("**/*.json"))
POLICIES = sorted(IAM_DIR.glob("policies/*.json"))
TRUSTS = sorted(IAM_DIR.glob("trust/*.json"))
PLACEHOLDERS = {"Partition", "Region", "Account", "Prefix", "Bucket"}
ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+$")  # service:Operation, no wildcard anywhere
CONDITION_OPERATORS = {"StringEquals", "StringLike", "ArnEquals", "ArnLike", "Bool"}
GLOBAL_SERVICES = {"iam"}  # ARNs with an account and no region
# Actions for which AWS offers no resource-level permission, so "Resource": "*" is the only choice.
# Each statement using one must say why in its Sid, or narrow it with a Condition.
NO_RESOURCE_LEVEL = {
    "ecr:GetAuthorizationToken",  # a registry login token, for the whole registry
    "cloudwatch:PutMetricData",  # metrics have no ARN; the cloudwatch:namespace condition narrows it
}
REQUIRED_CONDITIONS = {"cloudwatch:PutMetricData": "cloudwatch:namespace"}
# The one exception: notebook 08's "sdk" role. Before ModelTrainer submits a training job, the SageMaker Python SDK
# simulates the role (iam:SimulatePrincipalPolicy, no resource ARNs, no context keys) on the actions its
# IAM_POLICY_CONFIG grants on "*" (sagemaker.core.helper.iam_role_resolver._get_smoke_test_actions) and refuses a
# role denied any of them, as it does on AWS. Simulated without a resource or a namespace, only an unconditioned
# "*" grant passes; the pipeline's jobs use none of the EC2 actions (no VPC). Its statement is this Sid.
SDK_CHECK_SID = "WhatTheSdkRoleCheckSimulatesBeforeItStartsATrainingJob"
SDK_CHECK_ROLE = "sdk"
# Resources AWS names (not the kit), which therefore cannot carry the kit's prefix.
AWS_NAMED = [
    re.compile(r"^rule/StepFunctionsGetEventsForSageMaker(Processing|Training|Transform)JobsRule$"),  # made by .sync
    re.compile(r"^log-group:/aws/sagemaker/(ProcessingJobs|TrainingJobs|TransformJobs):\*$"),  # SageMaker's groups
]
REGIONS = ["eu-west-1", "us-east-1", "cn-north-1"]


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def ids(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


class TestGrammar:
    """Every document is a well-formed IAM policy with only the kit's placeholders."""

    @pytest.mark.parametrize("path", DOCUMENTS, ids=ids)
    def test_policy_grammar(self, path):
        """
        1. Load one document.
        2. Version 2012-10-17; a non-empty Statement list; only the keys IAM knows (no Not* elements).
        3. Effect Allow or Deny; Sids unique and alphanumeric; Conditions are operator -> key -> value(s).
        4. Permission policies have Resource and no Principal; trust policies the reverse.
        """
        document = load(path)
        trust = path.parent.name == "trust"
        assert set(document) <= {"Version", "Id", "Statement"} and document["Version"] == "2012-10-17"
        assert isinstance(document["Statement"], list) and document["Statement"]
        sids = [s["Sid"] for s in document["Statement"] if "Sid" in s]
        assert len(sids) == len(set(sids)) and all(re.fullmatch(r"[A-Za-z0-9]+", sid) for sid in sids)
        for statement in document["Statement"]:
            assert set(statement) <= {"Sid", "Effect", "Principal", "Action", "Resource", "Condition"}, statement
            assert statement["Effect"] in ("Allow", "Deny")
            assert model.as_list(statement["Action"]) and all(isinstance(a, str) for a in
                                                               model.as_list(statement["Action"]))
            assert ("Principal" in statement, "Resource" in statement) == (trust, not trust), statement
            for operator, tests in statement.get("Condition", {}).items():
                assert operator in CONDITION_OPERATORS and isinstance(tests, dict) and tests, statement
                assert all(isinstance(v, (str, list)) for v in tests.values()), statement

    @pytest.mark.parametrize("path", DOCUMENTS, ids=ids)
    def test_only_known_placeholders(self, path):
        """
        1. List the ${...} placeholders of one document.
        2. Each is one helpers.iam.render_document fills.
        """
        found = {m.group("named") or m.group("braced") for m in string.Template.pattern.finditer(path.read_text())
                 if m.group("named") or m.group("braced")}
        assert found <= PLACEHOLDERS, found - PLACEHOLDERS

    def test_every_role_has_both_documents(self):
        """
        1. List the trust and permission documents.
        2. Each role of helpers.iam.ROLES has its permission policy, each service that assumes one a trust
           policy, and there are no others.
        """
        assert {p.stem for p in POLICIES} == set(iam.ROLES)
        assert {p.stem for p in TRUSTS} == set(iam.ROLES.values())


class TestLeastPrivilege:
    """No wildcard actions, every resource scoped to the kit, PassRole only to SageMaker."""

    @pytest.mark.parametrize("path", POLICIES, ids=ids)
    def test_no_wildcard_actions(self, path):
        """
        1. Every action of one permission policy.
        2. Each is service:Operation: no "*", no "service:*", no "Describe*".
        """
        actions = [a for s in load(path)["Statement"] for a in model.as_list(s["Action"])]
        assert [a for a in actions if not ACTION.match(a)] == []

    @pytest.mark.parametrize("path", POLICIES, ids=ids)
    def test_every_resource_is_scoped(self, path):
        """
        1. Every statement of one permission policy.
        2. "*" only for actions without resource-level permissions, in a statement with a Sid or a Condition.
        3. Otherwise an ARN in ${Partition}; with ${Account} (and ${Region} unless the service is global); S3 ARNs
           name ${Bucket}, which carries the account.
        4. And the resource names the kit (${Prefix} or ${Bucket}) or is one AWS names (listed in AWS_NAMED).
        5. Except the sdk role's SDK_CHECK_SID statement: exactly the actions the installed SDK's role check
           simulates that the rest of the policy does not grant on "*", without a condition (see SDK_CHECK_SID).
        """
        statements = load(path)["Statement"]
        for statement in statements:
            actions = model.as_list(statement["Action"])
            if path.stem == SDK_CHECK_ROLE and statement.get("Sid") == SDK_CHECK_SID:
                granted = {a for s in statements if s is not statement and s["Resource"] == "*"
                           and "Condition" not in s for a in model.as_list(s["Action"])}  # ecr:GetAuthorizationToken
                assert set(actions) == set(model.sdk_checked_actions()) - granted, "the SDK checks other actions"
                assert statement["Resource"] == "*" and "Condition" not in statement, statement
                continue
            for resource in model.as_list(statement["Resource"]):
                if resource == "*":
                    assert set(actions) <= NO_RESOURCE_LEVEL, (statement, "has '*' for actions that can be scoped")
                    assert statement.get("Condition") or statement.get("Sid"), (statement, "needs a Sid or Condition")
                    for action in actions:
                        if action in REQUIRED_CONDITIONS:
                            keys = {k for tests in statement.get("Condition", {}).values() for k in tests}
                            assert REQUIRED_CONDITIONS[action] in keys, statement
                    continue
                prefix, partition, service, region, account, name = (resource.split(":", 5) + [""] * 6)[:6]
                assert (prefix, partition) == ("arn", "${Partition}"), resource
                if service == "s3":
                    assert (region, account) == ("", "") and name.startswith("${Bucket}"), resource
                else:
                    assert account == "${Account}", resource
                    assert region == ("" if service in GLOBAL_SERVICES else "${Region}"), resource
                    assert ("${Prefix}" in name or "${Bucket}" in name
                            or any(p.match(name) for p in AWS_NAMED)), resource

    def test_sdk_role_is_the_sagemaker_role_and_the_sdk_check(self):
        """
        1. Load iam/policies/sdk.json and sagemaker.json.
        2. sdk.json is sagemaker.json's statements, in order, then the SDK_CHECK_SID statement only.
        """
        sdk, sagemaker = (load(IAM_DIR / "policies" / f"{name}.json")["Statement"] for name in ("sdk", "sagemaker"))
        assert sdk[:-1] == sagemaker and sdk[-1]["Sid"] == SDK_CHECK_SID

    @pytest.mark.parametrize("path", POLICIES, ids=ids)
    def test_pass_role_only_to_sagemaker(self, path):
        """
        1. Every statement of one permission policy that grants iam:PassRole.
        2. It has a StringEquals iam:PassedToService condition, and names only the kit's SageMaker role.
        """
        for statement in load(path)["Statement"]:
            if "iam:PassRole" in model.as_list(statement["Action"]):
                assert statement["Condition"]["StringEquals"]["iam:PassedToService"] == "sagemaker.amazonaws.com"
                assert model.as_list(statement["Resource"]) == ["arn:${Partition}:iam::${Account}:role/${Prefix}-sagemaker"]


class TestTrustPolicies:
    """Each role is assumable by exactly one AWS service, and only on behalf of this account."""

    @pytest.mark.parametrize("path", TRUSTS, ids=ids)
    def test_one_service_and_source_account(self, path):
        """
        1. Load one trust policy.
        2. One Allow statement: sts:AssumeRole by exactly the service the file is named for (one of ROLES').
        3. It carries aws:SourceAccount = ${Account} (no confused deputy).
        """
        (statement,) = load(path)["Statement"]
        assert statement["Effect"] == "Allow" and model.as_list(statement["Action"]) == ["sts:AssumeRole"]
        assert statement["Principal"] == {"Service": f"{path.stem}.amazonaws.com"}
        assert path.stem in iam.ROLES.values()
        assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == "${Account}"


class TestNoManagedPolicies:
    """The kit attaches no AWS-managed policy: no FullAccess, no Administrator, no policy ARN at all."""

    def test_none_in_src_iam_or_statemachines(self):
        """
        1. Read every file under src/, iam/ and statemachines/.
        2. None names an AWS-managed policy ARN, *FullAccess or AdministratorAccess, nor attaches a policy.
        """
        pattern = re.compile(r"arn:[\w-]*:iam::(aws|\$\{\w+\}|\d+):policy/|FullAccess|AdministratorAccess"
                             r"|attach_role_policy\(|AttachRolePolicy")
        offenders = [f"{path.relative_to(PROJECT_ROOT)}: {match.group(0)}"
                     for folder in ("src", "iam", "statemachines")
                     for path in sorted((PROJECT_ROOT / folder).rglob("*"))
                     if path.is_file() and path.suffix in (".py", ".json")
                     for match in pattern.finditer(path.read_text(errors="replace"))]
        assert offenders == []


class TestCodeIsGranted:
    """Every request the code makes is allowed by its role's policy, and every grant is used."""

    @pytest.mark.parametrize("region", REGIONS)
    @pytest.mark.parametrize("purpose", sorted(model.NEEDS))
    def test_every_need_is_allowed(self, purpose, region):
        """
        1. Derive what the role needs from the code for a sample kit in one region (see _iam_model).
        2. Render iam/policies/<role>.json for the same kit.
        3. Each need is allowed (Allow statement matching action, resource and the conditions it supplies).
        """
        kit = model.sample_kit(region)
        needs = model.NEEDS[purpose](kit)
        assert needs, f"nothing derived for {purpose}"
        document = model.rendered_policy(kit, purpose, IAM_DIR)
        missing = [n for n in needs if not model.allowed(document, n)]
        assert not missing, f"iam/policies/{purpose}.json does not allow:\n{model.dumps(missing)}"

    @pytest.mark.parametrize("purpose", sorted(model.NEEDS))
    def test_every_granted_action_is_needed(self, purpose):
        """
        1. For each Allow statement of iam/policies/<role>.json and each action in it.
        2. Some need derived from the code matches that statement with that action: no grant is left over.
        """
        kit = model.sample_kit("eu-west-1")
        needs = model.NEEDS[purpose](kit)
        unused = []
        for statement in model.rendered_policy(kit, purpose, IAM_DIR)["Statement"]:
            for action in model.as_list(statement["Action"]):
                single = {**statement, "Action": action}
                if not any(n.action.lower() == action.lower() and model.statement_matches(single, n) for n in needs):
                    unused.append((statement.get("Sid"), action))
        assert unused == [], f"granted in iam/policies/{purpose}.json but used by nothing the code does"

    def test_a_missing_grant_is_reported(self):
        """
        1. Drop the statement granting lambda:InvokeFunction from the rendered states policy.
        2. The article chain's three Task states come out as needs it no longer allows.
        """
        kit = model.sample_kit("eu-west-1")
        document = model.rendered_policy(kit, "states", IAM_DIR)
        document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != "InvokeKitFunctions"]
        missing = {n.source for n in model.states_needs(kit) if not model.allowed(document, n)}
        assert {s for s in missing if "article_chain" in s} == {
            f"statemachines/article_chain.asl.json: {state}" for state in ("FetchData", "StartPreprocessing",
                                                                           "StartTraining")}

    def test_pass_role_condition_is_evaluated(self):
        """
        1. Ask the states policy about iam:PassRole of the SageMaker role to Lambda instead of SageMaker.
        2. It is not allowed: the PassedToService condition holds the role to SageMaker.
        """
        kit = model.sample_kit("eu-west-1")
        document = model.rendered_policy(kit, "states", IAM_DIR)
        role = model.Arns(kit).role("sagemaker")
        assert model.allowed(document, model.Need("iam:PassRole", role, "t", tuple(model.PASSED_TO_SAGEMAKER.items())))
        assert not model.allowed(document, model.Need("iam:PassRole", role, "t",
                                                      (("iam:PassedToService", "lambda.amazonaws.com"),)))

    def test_handler_calls_are_found(self):
        """
        1. Parse src/lambdas/*.py with ast.
        2. The boto3 calls found are the ones the handlers make (a change here means a policy review).
        """
        assert model.handler_calls() == {
            "fetch_data.py": {("s3", "get_object"), ("s3", "put_object")},
            "start_preprocessing.py": {("sagemaker", "create_processing_job"), ("sagemaker", "describe_processing_job")},
            "start_training.py": {("sagemaker", "create_training_job"), ("sagemaker", "describe_training_job")},
        }
