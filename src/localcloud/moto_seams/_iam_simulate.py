"""``iam:SimulatePrincipalPolicy``, which moto lacks (its server answers 500 with an HTML page): the principal's
policies evaluated by the cloud's own evaluator (:mod:`._iam_policy`), the one that enforces them, in AWS's shape.

What AWS answers (https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html,
https://docs.aws.amazon.com/IAM/latest/APIReference/API_EvaluationResult.html): one ``EvaluationResult`` per
action; ``EvalDecision`` is ``allowed``, ``explicitDeny`` or ``implicitDeny``; with ``ResourceArns`` the top-level
decision is the most restrictive one across the resources and ``ResourceSpecificResults`` holds each resource's;
``MatchedStatements`` are the statements that decide (a deny alone when one denies); ``MissingContextValues`` the
condition keys the policies read that the simulation was not given. The SageMaker Python SDK calls it to check an
execution role before it uses it (``sagemaker.core.helper.iam_role_resolver``) and to choose where ModelTrainer
stages its files.
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.responses import ActionResult
from moto.iam.exceptions import IAMException
from moto.iam.models import iam_backends

from localcloud.moto_seams._iam import global_context
from localcloud.moto_seams._iam_policy import ALLOW, DENY, NEUTRAL, _as_list, statement_effect

_PARTITION = "aws"
_MOST_RESTRICTIVE = ("explicitDeny", "implicitDeny", "allowed")


class InvalidInput(IAMException):
    code = "InvalidInput"


def _policies(backend: Any, source_arn: str) -> tuple[list[tuple[str, str, dict]], dict | None]:
    """The identity policies of the role, user or group ``source_arn`` names, as (id, type, document), and the
    permissions boundary's document (None without one).

    Raises:
        InvalidInput: not an IAM role, user or group ARN.
        NoSuchEntity: (moto's) the principal does not exist.
    """
    kind_and_name = source_arn.split(":", 5)[-1] if source_arn.startswith("arn:") else ""
    kind, _, path_name = kind_and_name.partition("/")
    name = path_name.rsplit("/", 1)[-1]
    found: list[tuple[str, str, Any]] = []
    if kind == "role":
        entity = backend.get_role_by_arn(source_arn)
        found += [(policy, "role", document) for policy, document in entity.policies.items()]
        attached = list(entity.managed_policies.values())
    elif kind == "user":
        entity = backend.get_user(name)
        found += [(policy, "user", document) for policy, document in entity.policies.items()]
        attached = list(entity.managed_policies.values())
        for group in backend.get_groups_for_user(name):
            found += [(policy, "group", document) for policy, document in group.policies.items()]
            attached += list(group.managed_policies.values())
    elif kind == "group":
        entity = backend.get_group(name)
        found += [(policy, "group", document) for policy, document in entity.policies.items()]
        attached = list(entity.managed_policies.values())
    else:
        raise InvalidInput(f"Invalid ARN: {source_arn!r} is not the ARN of an IAM user, group or role.")
    for policy in attached:
        kind_of = "aws-managed" if policy.arn.split(":")[4] == "aws" else "user-managed"
        found += [(policy.name, kind_of, v.document) for v in policy.versions if v.is_default]
    boundary = None
    boundary_arn = getattr(entity, "permissions_boundary", None)
    if boundary_arn:
        policy = backend.get_policy(boundary_arn)
        boundary = next((json.loads(v.document) if isinstance(v.document, str) else v.document)
                        for v in policy.versions if v.is_default)
    return [(pid, ptype, json.loads(doc) if isinstance(doc, str) else doc) for pid, ptype, doc in found], boundary


def _condition_keys(statement: dict) -> set[str]:
    return {key for operator in (statement.get("Condition") or {}).values() if isinstance(operator, dict)
            for key in operator}


def _decide(policies: list[tuple[str, str, dict]], boundary: dict | None, action: str, resource: str,
            context: dict[str, Any]) -> dict[str, Any]:
    """One resource's decision, the statements that made it, the context keys it lacked."""
    allows, denies, missing = [], [], set()
    for policy_id, policy_type, document in policies:
        for statement in _as_list(document.get("Statement")):
            without_conditions = {k: v for k, v in statement.items() if k != "Condition"}
            if statement_effect(without_conditions, action, resource, {}) != NEUTRAL:
                missing |= {key for key in _condition_keys(statement)
                            if key.lower() not in {name.lower() for name in context}}
            effect = statement_effect(statement, action, resource, context)
            matched = {"SourcePolicyId": policy_id, "SourcePolicyType": policy_type}
            (denies if effect == DENY else allows if effect == ALLOW else []).append(matched)
    decision = "explicitDeny" if denies else "allowed" if allows else "implicitDeny"
    result: dict[str, Any] = {"decision": decision, "matched": denies or allows, "missing": sorted(missing)}
    if boundary is not None:
        bounded = any(statement_effect(s, action, resource, context) == ALLOW
                      for s in _as_list(boundary.get("Statement")))
        bounded = bounded and not any(statement_effect(s, action, resource, context) == DENY
                                      for s in _as_list(boundary.get("Statement")))
        result["boundary"] = bounded
        if decision == "allowed" and not bounded:
            result["decision"] = "implicitDeny"
    return result


def _context(entries: list[dict[str, Any]], region: str) -> dict[str, Any]:
    context = global_context(region)
    for entry in entries or []:
        values = entry.get("ContextKeyValues") or []
        list_type = str(entry.get("ContextKeyType", "")).endswith("List")
        context[entry["ContextKeyName"]] = values if list_type or len(values) != 1 else values[0]
    return context


def simulate(account: str, region: str, source_arn: str, actions: list[str], resources: list[str],
             context_entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``EvaluationResults`` of SimulatePrincipalPolicy (one per action)."""
    backend = iam_backends[account][_PARTITION]
    policies, boundary = _policies(backend, source_arn)
    context = _context(context_entries, region)
    results = []
    for action in actions:
        per_resource = {resource: _decide(policies, boundary, action, resource, context)
                        for resource in (resources or ["*"])}
        decisions = [decided["decision"] for decided in per_resource.values()]
        top = min(decisions, key=_MOST_RESTRICTIVE.index)
        first = next(decided for decided in per_resource.values() if decided["decision"] == top)
        result: dict[str, Any] = {"EvalActionName": action, "EvalResourceName": resources[0] if resources else "*",
                                  "EvalDecision": top, "MatchedStatements": first["matched"],
                                  "MissingContextValues": first["missing"] if not resources else []}
        if boundary is not None:
            result["PermissionsBoundaryDecisionDetail"] = {"AllowedByPermissionsBoundary": first["boundary"]}
        if resources:
            result["EvalDecisionDetails"] = {}
            result["ResourceSpecificResults"] = [
                {"EvalResourceName": resource, "EvalResourceDecision": decided["decision"],
                 "MatchedStatements": decided["matched"], "MissingContextValues": decided["missing"]}
                for resource, decided in per_resource.items()]
        results.append(result)
    return results


def simulate_principal_policy(self: Any) -> ActionResult:
    """moto's ``IamResponse.simulate_principal_policy`` (added: seam 31)."""
    actions = self._get_param("ActionNames", []) or []
    if not actions:
        raise InvalidInput("ActionNames must contain at least one action.")
    results = simulate(self.current_account, self.region, self._get_param("PolicySourceArn") or "", actions,
                       self._get_param("ResourceArns", []) or [], self._get_param("ContextEntries", []) or [])
    start = int(self._get_param("Marker") or 0)
    size = int(self._get_param("MaxItems") or 100)
    page = results[start:start + size]
    answer: dict[str, Any] = {"EvaluationResults": page, "IsTruncated": start + size < len(results)}
    if answer["IsTruncated"]:
        answer["Marker"] = str(start + size)
    return ActionResult(answer)
