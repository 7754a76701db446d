"""AWS preflight: before anything is created, check the account can run the series.

``python -m helpers preflight -p target aws -p region eu-west-1`` (or ``helpers.preflight.run(kit)``
in notebook 01) prints one line per check, OK or FAIL with what to do, then the cost table:

* **caller**: who STS says you are, the region, and that SageMaker is offered there;
* **permissions**: ``iam:SimulatePrincipalPolicy`` on your own identity for what the series does with
  each resource :func:`helpers.plan.plan` lists (create, use, clean up);
* **quotas**: SageMaker's service quotas for the instance types the plan bills;
* **docker**: a Docker engine, which notebooks 02/03 need to build the images.

Read-only on AWS: nothing is created. On the local cloud it only says what it would check.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from helpers import plan as planning
from helpers.config import Kit, Settings
from helpers.iam import ROLES, partition


class PreflightFailed(RuntimeError):
    """A blocking check failed: the series would fail on AWS (the message lists what to do)."""


@dataclass(frozen=True)
class Check:
    """One line of the preflight: its name, OK or not, what it found or what to do, and whether it blocks."""

    name: str
    ok: bool
    detail: str
    blocking: bool = True
    label: str | None = None  # shown instead of OK/FAIL (the local target's "SKIP")

    def line(self) -> str:
        status = self.label or ("OK  " if self.ok else ("FAIL" if self.blocking else "FAIL (not blocking)"))
        return f"{status} {self.name}: {self.detail}"


# What the caller (the notebooks' helpers) does with each kind of resource helpers.plan.plan lists, keyed
# by the plan's (service, kind): IAM actions and the ARN they act on. test_preflight checks every kind of
# the plan is here, and every action exists in botocore's model of its service.
_ARN = {
    "bucket": "arn:{partition}:s3:::{name}",
    "objects": "arn:{partition}:s3:::{name}/*",
    "role": "arn:{partition}:iam::{account}:role/{name}",
    "repository": "arn:{partition}:ecr:{region}:{account}:repository/{name}",
    "function": "arn:{partition}:lambda:{region}:{account}:function:{name}",
    "log group": "arn:{partition}:logs:{region}:{account}:log-group:{name}",
    "state machine": "arn:{partition}:states:{region}:{account}:stateMachine:{name}",
    "execution": "arn:{partition}:states:{region}:{account}:execution:{name}:*",
    "rule": "arn:{partition}:events:{region}:{account}:rule/{name}",
    "sagemaker": "arn:{partition}:sagemaker:{region}:{account}:{type}/{name}",
}
_FUNCTION = (("lambda:CreateFunction", "lambda:GetFunction", "lambda:UpdateFunctionCode",
              "lambda:UpdateFunctionConfiguration", "lambda:InvokeFunction", "lambda:TagResource", "lambda:ListTags",
              "lambda:DeleteFunction"), "function")
CALLER_ACTIONS: dict[tuple[str, str], tuple[tuple[tuple[str, ...], str], ...]] = {
    ("s3", "bucket"): ((("s3:CreateBucket", "s3:PutBucketTagging", "s3:GetBucketTagging",
                         "s3:PutBucketPublicAccessBlock", "s3:GetBucketLocation", "s3:ListBucket",
                         "s3:ListBucketVersions", "s3:DeleteBucket"), "bucket"),
                       (("s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:DeleteObjectVersion"), "objects")),
    ("s3", "EventBridge notifications"): ((("s3:PutBucketNotification",), "bucket"),),
    ("iam", "role"): ((("iam:CreateRole", "iam:GetRole", "iam:TagRole", "iam:UpdateAssumeRolePolicy",
                        "iam:PutRolePolicy", "iam:PassRole", "iam:ListRoleTags", "iam:ListRolePolicies",
                        "iam:ListAttachedRolePolicies", "iam:DeleteRolePolicy", "iam:DeleteRole"), "role"),),
    ("ecr", "repository"): ((("ecr:CreateRepository", "ecr:DescribeRepositories", "ecr:TagResource",
                              "ecr:ListTagsForResource", "ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload",
                              "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage",
                              "ecr:DeleteRepository"), "repository"),),
    ("lambda", "function (image)"): (_FUNCTION,),
    ("lambda", "function (zip)"): (_FUNCTION,),
    ("logs", "log group"): ((("logs:DeleteLogGroup",), "log group"),),
    ("sagemaker", "processing job"): ((("sagemaker:DescribeProcessingJob",), "sagemaker"),),
    ("sagemaker", "training job"): ((("sagemaker:DescribeTrainingJob",), "sagemaker"),),
    ("sagemaker", "transform job"): ((("sagemaker:DescribeTransformJob",), "sagemaker"),),
    ("sagemaker", "model"): ((("sagemaker:ListTags", "sagemaker:DeleteModel"), "sagemaker"),),
    ("sagemaker", "endpoint config"): ((("sagemaker:DescribeEndpointConfig", "sagemaker:ListTags",
                                         "sagemaker:DeleteEndpointConfig"), "sagemaker"),),
    ("sagemaker", "endpoint"): ((("sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint", "sagemaker:ListTags",
                                  "sagemaker:DeleteEndpoint"), "sagemaker"),),
    ("stepfunctions", "state machine"): ((("states:CreateStateMachine", "states:UpdateStateMachine",
                                           "states:TagResource", "states:StartExecution", "states:ListExecutions",
                                           "states:ListTagsForResource", "states:DeleteStateMachine"), "state machine"),
                                         (("states:DescribeExecution", "states:GetExecutionHistory"), "execution")),
    ("events", "rule"): ((("events:PutRule", "events:PutTargets", "events:TagResource", "events:ListTargetsByRule",
                           "events:ListTagsForResource", "events:RemoveTargets", "events:DeleteRule"), "rule"),),
    # Made and used by the states role (Step Functions' .sync integrations), never by the caller.
    ("events", "rule (made by Step Functions for .sync)"): (),
}
# Calls on no particular resource: logins, lists (cleanup finds the kit's resources by listing them).
GLOBAL_ACTIONS = ("ecr:GetAuthorizationToken", "s3:ListAllMyBuckets", "iam:ListRoles", "lambda:ListFunctions",
                  "logs:DescribeLogGroups", "states:ListStateMachines", "events:ListRules", "sagemaker:ListModels",
                  "sagemaker:ListEndpoints", "sagemaker:ListEndpointConfigs")
# The plan's "billed" column names the instance type; SageMaker's quota for it is named after the use.
_QUOTA_USE = {"processing job": "processing job usage", "training job": "training job usage",
              "transform job": "transform job usage", "endpoint": "endpoint usage"}
_INSTANCE = re.compile(r"\bml\.[a-z0-9]+\.[a-z0-9]+\b")
SAGEMAKER_QUOTA_SERVICE = "sagemaker"


@dataclass(frozen=True)
class Simulation:
    """One ``iam:SimulatePrincipalPolicy`` request of the permissions check."""

    what: str
    actions: tuple[str, ...]
    resource: str
    context: tuple[tuple[str, str], ...] = ()

    def request(self, principal: str) -> dict[str, Any]:
        request: dict[str, Any] = {"PolicySourceArn": principal, "ActionNames": list(self.actions),
                                   "ResourceArns": [self.resource]}
        if self.context:
            request["ContextEntries"] = [{"ContextKeyName": key, "ContextKeyValues": [value],
                                          "ContextKeyType": "string"} for key, value in self.context]
        return request


def simulations(settings: Settings, account: str | None) -> list[Simulation]:
    """The permission checks for these settings: one per kind of resource the plan makes (one per role).

    Roles are checked one by one, with ``iam:PassedToService`` set to the service each is passed to.
    ``account`` None (not known yet) shows as ``<account>`` in the ARNs.
    """
    resources = planning.plan(settings, account)
    values = {"partition": partition(settings.region), "region": settings.region,
              "account": account or planning.ACCOUNT_PLACEHOLDER}
    result, seen = [], set()
    for row in resources.itertuples(index=False):
        key = (row.service, row.kind)
        one_per_name = key == ("iam", "role")
        if (key, row.name if one_per_name else "") in seen:
            continue
        seen.add((key, row.name if one_per_name else ""))
        context: tuple[tuple[str, str], ...] = ()
        if one_per_name:
            purpose = row.name.removeprefix(f"{settings.prefix}-")
            context = (("iam:PassedToService", f"{ROLES[purpose]}.amazonaws.com"),)
        for actions, arn in CALLER_ACTIONS[key]:
            resource = _ARN[arn].format(name=row.name, type=row.kind.replace(" ", "-"), **values)
            result.append(Simulation(f"{row.kind} {row.name}", actions, resource, context))
    result.append(Simulation("listing and logging in", GLOBAL_ACTIONS, "*"))
    return result


def check_caller(kit: Kit) -> tuple[Check, dict[str, str]]:
    """Who STS says the caller is, in which region, and whether SageMaker is offered there."""
    identity = kit.client("sts").get_caller_identity()
    regions = kit.session.get_available_regions("sagemaker", partition_name=partition(kit.region))
    detail = f"{identity['Arn']} (account {identity['Account']}), region {kit.region}"
    if kit.region not in regions:
        return Check("caller", False, f"{detail}: SageMaker is not offered in {kit.region}; pick another region "
                                      "(-p region …)"), identity
    return Check("caller", True, detail), identity


def principal_arn(kit: Kit, caller_arn: str) -> str | None:
    """The IAM ARN to simulate for the STS caller: a user as is, an assumed role as its role (with its path)."""
    match = re.fullmatch(r"arn:([\w-]+):sts::(\d+):assumed-role/([^/]+)/.+", caller_arn)
    if match:
        return kit.client("iam").get_role(RoleName=match.group(3))["Role"]["Arn"]
    if re.fullmatch(r"arn:[\w-]+:iam::\d+:user/.+", caller_arn):
        return caller_arn
    return None  # root or a federated user: the simulator cannot evaluate them


def check_permissions(kit: Kit, identity: dict[str, str]) -> Check:
    """``iam:SimulatePrincipalPolicy`` on the caller for every action the series takes."""
    if identity["Arn"].endswith(":root"):
        return Check("permissions", True, "the account's root user may do everything; prefer an IAM role or user "
                                          "for the workshop", blocking=False)
    iam = kit.client("iam")
    try:
        principal = principal_arn(kit, identity["Arn"])
        if principal is None:
            return Check("permissions", False, f"cannot simulate {identity['Arn']}; check by hand that it may do what "
                                               "`python -m helpers run --dry-run` lists", blocking=False)
        denied: list[str] = []
        for simulation in simulations(kit.settings, identity["Account"]):
            request = simulation.request(principal)
            while True:
                response = iam.simulate_principal_policy(**request)
                denied += [f"{result['EvalActionName']} on {simulation.resource}"
                           for result in response["EvaluationResults"] if result["EvalDecision"] != "allowed"]
                if not response.get("IsTruncated"):
                    break
                request = {**request, "Marker": response["Marker"]}
    except iam.exceptions.ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        return Check("permissions", False, f"could not check ({code}): ask for iam:SimulatePrincipalPolicy and "
                                           "iam:GetRole, or check by hand", blocking=False)
    if denied:
        shown = "; ".join(denied[:5]) + (f"; and {len(denied) - 5} more" if len(denied) > 5 else "")
        return Check("permissions", False, f"{len(denied)} action(s) not allowed for {principal}: {shown}. "
                                           "Ask your administrator for them")
    count = sum(len(s.actions) for s in simulations(kit.settings, identity["Account"]))
    return Check("permissions", True, f"{principal} may do all {count} actions the series takes")


def quota_names(settings: Settings) -> list[str]:
    """SageMaker's quota names for the instance types the plan bills, e.g. "ml.t3.medium for processing job usage"."""
    names = []
    for row in planning.plan(settings).itertuples(index=False):
        instance = _INSTANCE.search(row.billed)
        if row.service == "sagemaker" and row.kind in _QUOTA_USE and instance:
            name = f"{instance.group(0)} for {_QUOTA_USE[row.kind]}"
            if name not in names:
                names.append(name)
    return names


def _quota_values(client, operation: str) -> dict[str, float]:
    values, request = {}, {"ServiceCode": SAGEMAKER_QUOTA_SERVICE, "MaxResults": 100}
    while True:
        response = getattr(client, operation)(**request)
        values.update({quota["QuotaName"]: quota["Value"] for quota in response.get("Quotas", [])})
        if not response.get("NextToken"):
            return values
        request = {**request, "NextToken": response["NextToken"]}


def check_quotas(kit: Kit) -> list[Check]:
    """One check per instance type and use: its quota in this account and region is at least 1."""
    client = kit.client("service-quotas")
    wanted = quota_names(kit.settings)
    try:
        values = _quota_values(client, "list_service_quotas")  # the account's applied values
        if any(name not in values for name in wanted):  # quotas never changed are listed with their defaults only
            values = {**_quota_values(client, "list_aws_default_service_quotas"), **values}
    except client.exceptions.ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        return [Check("quotas", False, f"could not read SageMaker's quotas ({code}): ask for "
                                       "servicequotas:ListServiceQuotas, or look in the Service Quotas console",
                      blocking=False)]
    checks = []
    for name in wanted:
        if name not in values:
            checks.append(Check(f"quota {name}", False, "not found in this region; check the Service Quotas "
                                                        "console", blocking=False))
        elif values[name] < 1:
            where = f'Service Quotas console → Amazon SageMaker → "{name}"'
            checks.append(Check(f"quota {name}", False,
                                f"{values[name]:g}: request an increase to at least 1 ({where})"))
        else:
            checks.append(Check(f"quota {name}", True, f"{values[name]:g}"))
    return checks


def check_docker() -> Check:
    """The docker CLI is installed and ``docker info`` answers (02/03 build and push the images with it)."""
    if not shutil.which("docker"):
        return Check("docker", False, "no docker CLI: install Docker (02/03 build the images), or run the series "
                                      "where Docker is")
    try:
        answered = subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except subprocess.TimeoutExpired:
        answered = False
    if not answered:
        return Check("docker", False, "`docker info` does not answer: start the Docker engine (02/03 build the images)")
    return Check("docker", True, "`docker info` answers")


@dataclass
class PreflightReport:
    """The checks, in order; ``ok`` when no blocking check failed."""

    checks: list[Check] = field(default_factory=list)
    costs: pd.DataFrame | None = None

    @property
    def ok(self) -> bool:
        return all(check.ok or not check.blocking for check in self.checks)

    def __repr__(self) -> str:
        lines = [check.line() for check in self.checks]
        if self.costs is not None:
            lines += ["", "Cost (USD, us-east-1 list prices):", self.costs.to_string(index=False)]
        return "\n".join(lines)


def describe_checks(settings: Settings) -> list[str]:
    """What the preflight checks on AWS for these settings (shown on the local cloud instead of checking)."""
    actions = sum(len(simulation.actions) for simulation in simulations(settings, None))
    return ["caller: STS GetCallerIdentity, the region, SageMaker offered there",
            f"permissions: iam:SimulatePrincipalPolicy on the caller for {actions} actions on the resources "
            "of `python -m helpers run --dry-run`",
            f"quotas: {', '.join(quota_names(settings))} (service-quotas)",
            "docker: the docker CLI and `docker info` (02/03 build the images)"]


def offline_report(settings: Settings, costs: bool = True) -> PreflightReport:
    """For a target other than aws: what the preflight would check, and no call to anything."""
    checks = [Check("preflight", True, "it checks an AWS account and the target is local: nothing checked, "
                                       "nothing called. With target aws it checks:", blocking=False, label="SKIP")]
    checks += [Check(line.split(": ", 1)[0], True, line.split(": ", 1)[1], blocking=False, label="SKIP")
               for line in describe_checks(settings)]
    return PreflightReport(checks, planning.costs_display() if costs else None)


def run(kit: Kit, costs: bool = True, strict: bool = False) -> PreflightReport:
    """Run the checks (target aws) and return them; on the local cloud, say what would be checked.

    Args:
        kit: the connected kit.
        costs: add the cost table of one run (``helpers.plan``).
        strict: raise :class:`PreflightFailed` when a blocking check fails (a notebook stops there).
    """
    if kit.settings.target != "aws":
        return offline_report(kit.settings, costs)
    table = planning.costs_display() if costs else None
    caller, identity = check_caller(kit)
    checks = [caller, check_permissions(kit, identity), *check_quotas(kit), check_docker()]
    report = PreflightReport(checks, table)
    if strict and not report.ok:
        failed = "\n".join(check.line() for check in checks if not check.ok and check.blocking)
        raise PreflightFailed(f"the series would fail on AWS:\n{failed}")
    return report
