"""IAM policy evaluation where moto's is not good enough, and the resource ARN of a request.

moto's ``IAMPolicyStatement`` (moto/iam/access_control.py) evaluates only ``StringEquals``
conditions, turns an ``Allow`` whose condition does not hold into an explicit *Deny*, ignores
``NotResource`` and matches actions case-sensitively. The kit's policies use ``StringLike``
(``s3:prefix``, ``cloudwatch:namespace``) and ``StringEquals`` on ``iam:PassedToService``, so
this module evaluates identity policies as AWS documents it:
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html —
an explicit Deny wins, else an Allow is needed, else the request is implicitly denied.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

ALLOW, DENY, NEUTRAL = "allow", "deny", "neutral"


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _wildcard(pattern: str, value: str, case_sensitive: bool = True) -> bool:
    """IAM's ``*`` and ``?`` wildcards (no character classes, unlike fnmatch)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case_sensitive else re.IGNORECASE | re.DOTALL) is not None


def _string_op(name: str):
    """The test for one condition operator, or None when it is not supported."""
    base = name.removesuffix("IfExists")
    tests = {
        "StringEquals": lambda want, got: want == got,
        "StringNotEquals": lambda want, got: want != got,
        "StringEqualsIgnoreCase": lambda want, got: want.lower() == got.lower(),
        "StringNotEqualsIgnoreCase": lambda want, got: want.lower() != got.lower(),
        "StringLike": lambda want, got: _wildcard(want, got),
        "StringNotLike": lambda want, got: not _wildcard(want, got),
        "ArnEquals": lambda want, got: want == got,
        "ArnLike": lambda want, got: _wildcard(want, got),
        "ArnNotEquals": lambda want, got: want != got,
        "ArnNotLike": lambda want, got: not _wildcard(want, got),
        "Bool": lambda want, got: str(want).lower() == str(got).lower(),
    }
    return tests.get(base)


def _condition_holds(conditions: dict[str, Any], context: dict[str, Any]) -> bool:
    """Every operator block and every key within it must hold (AND); values within a key are OR."""
    for operator, block in (conditions or {}).items():
        qualifier, _, op_name = operator.rpartition(":")  # ForAnyValue:/ForAllValues:
        for key, wanted in block.items():
            got = _lookup(context, key)
            if op_name == "Null":
                if (got is None) != (str(_as_list(wanted)[0]).lower() == "true"):
                    return False
                continue
            test = _string_op(op_name)
            if test is None:
                return False  # an operator this cloud does not know: never grants
            if got is None:
                if op_name.endswith("IfExists"):
                    continue
                return False  # AWS: a missing key makes the condition false (except IfExists)
            values = [str(v) for v in _as_list(got)]
            negated = "Not" in op_name
            wants = [str(w) for w in _as_list(wanted)]
            if qualifier == "ForAllValues":
                ok = all(any(test(w, v) for w in wants) for v in values)
            elif negated:  # a negated operator holds when the value matches none of the listed ones
                ok = all(test(w, v) for w in wants for v in values)
            else:
                ok = any(test(w, v) for w in wants for v in values)
            if not ok:
                return False
    return True


def _lookup(context: dict[str, Any], key: str) -> Any:
    for name, value in context.items():  # condition key names are case-insensitive
        if name.lower() == key.lower():
            return value
    return None


def statement_effect(statement: dict[str, Any], action: str, resource: str, context: dict[str, Any]) -> str:
    """ALLOW, DENY or NEUTRAL for one identity-policy statement."""
    if "NotAction" in statement:
        applies = not any(_wildcard(p, action, False) for p in _as_list(statement["NotAction"]))
    else:
        applies = any(_wildcard(p, action, False) for p in _as_list(statement.get("Action")))
    if not applies:
        return NEUTRAL
    if "NotResource" in statement:
        if any(_wildcard(p, resource) for p in _as_list(statement["NotResource"])):
            return NEUTRAL
    elif not any(_wildcard(p, resource) or p == "*" for p in _as_list(statement.get("Resource"))):
        return NEUTRAL
    if not _condition_holds(statement.get("Condition") or {}, context):
        return NEUTRAL  # moto answered DENIED here: an Allow with a false condition became a Deny
    return DENY if statement.get("Effect") == "Deny" else ALLOW


def evaluate(documents: list[str | dict], action: str, resource: str, context: dict[str, Any]) -> str:
    """ALLOW only when some statement allows and none denies; DENY for an explicit Deny; else NEUTRAL."""
    result = NEUTRAL
    for document in documents:
        policy = json.loads(document) if isinstance(document, str) else document
        for statement in _as_list(policy.get("Statement")):
            effect = statement_effect(statement, action, resource, context)
            if effect == DENY:
                return DENY
            if effect == ALLOW:
                result = ALLOW
    return result


def trusts_service(trust_document: str | dict, service: str, context: dict[str, Any]) -> bool:
    """Does the role's trust policy let ``service`` (e.g. ``lambda.amazonaws.com``) assume it?"""
    policy = json.loads(unquote(trust_document)) if isinstance(trust_document, str) else trust_document
    allowed = False
    for statement in _as_list(policy.get("Statement")):
        principals = statement.get("Principal") or {}
        services = _as_list(principals.get("Service")) if isinstance(principals, dict) else []
        if principals != "*" and service not in services:
            continue
        actions = _as_list(statement.get("Action"))
        if not any(_wildcard(a, "sts:AssumeRole", False) for a in actions):
            continue
        if not _condition_holds(statement.get("Condition") or {}, context):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = True
    return allowed


def trusts_principal(trust_document: str | dict, principals: list[str], context: dict[str, Any]) -> bool:
    """Does the role's trust policy let an AWS principal named by any of ``principals`` (a role ARN, an
    account's ``arn:aws:iam::<id>:root`` or bare id) call ``sts:AssumeRole``?"""
    policy = json.loads(unquote(trust_document)) if isinstance(trust_document, str) else trust_document
    allowed = False
    for statement in _as_list(policy.get("Statement")):
        named = statement.get("Principal") or {}
        aws = _as_list(named.get("AWS")) if isinstance(named, dict) else []
        if named != "*" and "*" not in aws and not set(aws) & set(principals):
            continue
        if not any(_wildcard(a, "sts:AssumeRole", False) for a in _as_list(statement.get("Action"))):
            continue
        if not _condition_holds(statement.get("Condition") or {}, context):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = True
    return allowed


# -- what a request acts on -----------------------------------------------------------------
_SAGEMAKER_KINDS = {  # name parameter -> ARN resource type (SageMaker ARNs hold names in lower case)
    "ProcessingJobName": "processing-job", "TrainingJobName": "training-job",
    "TransformJobName": "transform-job", "ModelName": "model", "EndpointConfigName": "endpoint-config",
    "EndpointName": "endpoint",
}


def request_resource(service: str, action: str, params: dict[str, Any], path: str, region: str, account: str) -> str:
    """The ARN an API call acts on, for the actions the kit uses ("*" where there is none or unknown).

    Args:
        service: the IAM prefix (``sagemaker``, ``lambda``, ``states``, ``events``, ``logs``...).
        action: the API action (``CreateProcessingJob``).
        params: the request's parameters (JSON body).
        path: the URL path (REST APIs carry names there).
        region: the request's region.
        account: the account the request acts in.
    """
    base = f"arn:aws:{service}:{region}:{account}"
    if service == "sagemaker":
        if "ResourceArn" in params:
            return str(params["ResourceArn"])
        if action in ("CreateEndpointConfig", "DescribeEndpointConfig", "DeleteEndpointConfig"):
            return f"{base}:endpoint-config/{str(params.get('EndpointConfigName', '')).lower()}"
        for param in ("EndpointName", "ProcessingJobName", "TrainingJobName", "TransformJobName", "ModelName"):
            if param in params and not action.startswith("List"):
                return f"{base}:{_SAGEMAKER_KINDS[param]}/{str(params[param]).lower()}"
        return "*"
    if service == "lambda":
        match = re.search(r"/functions/([^/]+)", path)
        if not match:
            return "*"
        name = unquote(match.group(1))
        if name.startswith("arn:"):
            return name
        return f"arn:aws:lambda:{region}:{account}:function:{name}"
    if service == "states":
        for param in ("stateMachineArn", "executionArn", "resourceArn"):
            if param in params:
                return str(params[param])
        if action == "CreateStateMachine" and "name" in params:
            return f"{base}:stateMachine:{params['name']}"
        return "*"
    if service == "events":
        rule = params.get("Rule") or (params.get("Name") if "Rule" in action else None)
        if rule:
            bus = params.get("EventBusName") or "default"
            return f"{base}:rule/{rule}" if bus == "default" else f"{base}:rule/{bus}/{rule}"
        return "*"
    if service == "logs":
        group = params.get("logGroupName")
        if not group:
            return "*"
        if params.get("logStreamName"):
            return f"{base}:log-group:{group}:log-stream:{params['logStreamName']}"
        return f"{base}:log-group:{group}:*"
    if service == "ecr" and "repositoryName" in params:
        return f"{base}:repository/{params['repositoryName']}"
    return "*"


def request_context(service: str, action: str, params: dict[str, Any], query: dict[str, list[str]]) -> dict[str, Any]:
    """The service-specific condition keys the kit's policies use."""
    context: dict[str, Any] = {}
    if service == "s3" and action == "ListBucket":
        context["s3:prefix"] = (query.get("prefix") or [""])[0]
    if service == "cloudwatch" and "Namespace" in params:
        context["cloudwatch:namespace"] = params["Namespace"]
    return context


__all__ = ["ALLOW", "DENY", "NEUTRAL", "evaluate", "request_context", "request_resource",
           "statement_effect", "trusts_principal", "trusts_service"]
