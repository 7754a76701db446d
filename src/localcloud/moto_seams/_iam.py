"""IAM enforcement: who a request comes from, what its policies allow, and roles handed to services.

moto keeps the IAM model (roles, inline and attached policies) and STS hands out keys bound to
a role (``AssumeRole``). The seam on ``ActionAuthenticatorMixin._authenticate_and_authorize_action``
(moto/core/authorization.py, which every moto response calls before it acts) is in :mod:`._iam_request`;
this module holds the principals, their policies and AWS-shaped refusals:

* keys of an assumed role (a Lambda handler, a job, a state machine, an EventBridge target) or of
  an IAM user are evaluated against that principal's identity policies (:mod:`._iam_policy`);
* the cloud's root keys act as the account's root, allowed everything; no other key gets this far
  (:mod:`localcloud.server.signing` refuses keys nobody issued, and unsigned requests);
* a request signed for another service than the one it reaches is refused, as AWS refuses it;
* ``sts:AssumeRole`` needs the role's trust policy to name the caller (root may not assume roles), and
  ``GetSessionToken``/``GetFederationToken`` are refused to session credentials;
* refusals have AWS's shape: ``AccessDeniedException`` JSON for JSON services, ``AccessDenied``
  XML for S3 and query APIs (moto answered XML 403 for every service).

Create calls that hand a role to a service (CreateFunction, CreateProcessingJob...) check that the
role exists in the account, trusts the service's principal, and that the caller may
``iam:PassRole`` it (:func:`check_role_handover`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.core.exceptions import _RESTError as RESTError  # the XML error base (moto keeps it private)
from moto.iam.models import iam_backends
from moto.s3.exceptions import S3AccessDeniedError
from moto.sts.models import sts_backends

from localcloud.moto_seams import _state
from localcloud.moto_seams._iam_policy import ALLOW, DENY, evaluate, trusts_principal, trusts_service

# SigV4 signing names that differ from the IAM action prefix
_SIGNING_TO_PREFIX = {"runtime.sagemaker": "sagemaker", "monitoring": "cloudwatch"}
# API operation names that differ from the IAM action that authorises them
_ACTION_ALIASES = {"lambda:Invoke": "lambda:InvokeFunction", "lambda:InvokeAsync": "lambda:InvokeFunction",
                   "s3:HeadObject": "s3:GetObject", "s3:HeadBucket": "s3:ListBucket",
                   "s3:ListObjectsV2": "s3:ListBucket", "s3:ListObjects": "s3:ListBucket"}
# services whose APIs speak XML (refused with AccessDenied); the others speak JSON (AccessDeniedException)
_XML_SERVICES = {"s3", "iam", "sts", "sqs", "sns", "ec2", "cloudformation", "cloudwatch"}
_ALWAYS_ALLOWED = {"sts:GetCallerIdentity"}  # AWS: no policy can deny it
_PARTITION = "aws"
_local = threading.local()


@dataclass(frozen=True)
class Principal:
    """Who signed a request: the account's root, an IAM user or an assumed role."""

    arn: str
    account: str
    role_arn: str = ""
    user_name: str = ""

    @property
    def is_root(self) -> bool:
        return not (self.role_arn or self.user_name)

    def policies(self) -> list[str]:
        """The identity policies of the role or user (moto's model); none when it is gone."""
        backend = iam_backends[self.account][_PARTITION]
        documents: list[str] = []
        try:
            if self.role_arn:
                role = backend.get_role_by_arn(self.role_arn)
                documents += list(role.policies.values())
                attached = role.managed_policies.values()
            else:
                user = backend.get_user(self.user_name)
                documents += list(user.policies.values())
                attached = list(user.managed_policies.values())
                for group in backend.get_groups_for_user(self.user_name):
                    documents += list(group.policies.values())
                    attached += list(group.managed_policies.values())
        except Exception:  # noqa: BLE001 - a deleted role or user has no policies: everything is denied
            return []
        for policy in attached:
            documents += [v.document for v in policy.versions if v.is_default]
        return documents


def root(account: str) -> Principal:
    return Principal(arn=f"arn:aws:iam::{account}:root", account=account)


def principal_for(account: str, access_key_id: str) -> Principal:
    """The principal behind an access key id; the account's root for keys nobody issued."""
    for candidate in {account, *list(sts_backends.keys())}:
        assumed = sts_backends[candidate][_PARTITION].get_assumed_role_from_access_key(access_key_id)
        if assumed is not None:
            role_account = assumed.role_arn.split(":")[4] or candidate
            role_name = assumed.role_arn.split("/")[-1]
            return Principal(arn=f"arn:aws:sts::{role_account}:assumed-role/{role_name}/{assumed.session_name}",
                             account=role_account, role_arn=assumed.role_arn)
    backend = iam_backends[account][_PARTITION]
    for user in list(backend.users.values()):
        if any(key.access_key_id == access_key_id for key in user.access_keys):
            return Principal(arn=user.arn, account=account, user_name=user.name)
    return root(account)


def current_principal(account: str) -> Principal:
    """The principal of the request this thread is serving (root when none was seen)."""
    principal = getattr(_local, "principal", None)
    return principal if principal is not None else root(account)


def global_context(region: str = "") -> dict[str, Any]:
    """The global condition keys every request has here (loopback, plain HTTP, now)."""
    now = datetime.now(timezone.utc)
    context: dict[str, Any] = {"aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                               "aws:EpochTime": str(int(now.timestamp())), "aws:SourceIp": "127.0.0.1",
                               "aws:SecureTransport": "false"}
    if region:
        context["aws:RequestedRegion"] = region
    return context


# -- refusals, shaped as AWS shapes them ------------------------------------------------------
def denial_message(principal: Principal, action: str, resource: str, explicit: bool) -> str:
    reason = ("with an explicit deny in an identity-based policy" if explicit
              else f"because no identity-based policy allows the {action} action")
    return f"User: {principal.arn} is not authorized to perform: {action} on resource: {resource} {reason}"


def access_denied(service: str, message: str) -> Exception:
    """AWS's error for a refused call to ``service``."""
    if service == "s3":  # moto's own S3 error (its serializer sets the 403), with AWS's message
        error: Any = S3AccessDeniedError()
        error.message = message
        return error
    if service in _XML_SERVICES:
        error = RESTError("AccessDenied", message)
    else:
        error = JsonRESTError("AccessDeniedException", message)
    error.code = 403 if service in _XML_SERVICES or service == "lambda" else 400
    return error


def is_allowed(principal: Principal, action: str, resource: str, context: dict[str, Any] | None = None) -> str:
    """ALLOW, DENY (explicit) or NEUTRAL (implicit deny) for ``principal`` doing ``action`` on ``resource``."""
    if principal.is_root or action in _ALWAYS_ALLOWED:
        return ALLOW
    full_context = {"aws:PrincipalArn": principal.role_arn or principal.arn, "aws:PrincipalAccount": principal.account,
                    **global_context(), **(context or {})}
    return evaluate(principal.policies(), action, resource, full_context)


def require(principal: Principal, service: str, action: str, resource: str,
            context: dict[str, Any] | None = None) -> None:
    """Raise AWS's AccessDenied for ``service`` unless ``principal`` may do ``action``."""
    decision = is_allowed(principal, action, resource, context)
    if decision != ALLOW:
        raise access_denied(service, denial_message(principal, action, resource, decision == DENY))


# -- roles handed to services ---------------------------------------------------------------
class RoleNotAssumable(Exception):
    """The role does not exist in the account, or does not trust the service."""


def check_role_handover(account: str, role_arn: str, service: str, caller_service: str,
                        source_arn: str = "") -> None:
    """Refuse a create call that names a role ``service`` cannot use, or the caller may not pass.

    Args:
        account: the account the create call acts in.
        role_arn: the role named in the call.
        service: the service principal's short name (``lambda``, ``sagemaker``, ``states``...).
        caller_service: the service the create call went to (shapes the AccessDenied error).
        source_arn: the resource the role is for (the ``aws:SourceArn`` of the trust policy).

    Raises:
        RoleNotAssumable: the role is missing, in another account, or does not trust the service.
        Exception: AWS's AccessDenied when the caller may not ``iam:PassRole`` the role.
    """
    if not _state.iam_enforced:
        return
    principal = current_principal(account)
    require(principal, caller_service, "iam:PassRole", role_arn,
            {"iam:PassedToService": f"{service}.amazonaws.com"})
    parts = role_arn.split(":")
    if len(parts) < 6 or parts[2] != "iam" or parts[4] != account or not parts[5].startswith("role/"):
        raise RoleNotAssumable(role_arn)
    try:
        role = iam_backends[account][_PARTITION].get_role_by_arn(role_arn)
    except Exception:  # noqa: BLE001 - moto's NoSuchEntity: the role does not exist
        raise RoleNotAssumable(role_arn) from None
    context = {"aws:SourceAccount": account}
    if source_arn:
        context["aws:SourceArn"] = source_arn
    if not trusts_service(role.assume_role_policy_document, f"{service}.amazonaws.com", context):
        raise RoleNotAssumable(role_arn)


_credentials: dict[tuple[str, str], dict[str, str]] = {}
_credentials_lock = threading.Lock()


def role_credentials(role_arn: str, session_name: str) -> dict[str, str] | None:
    """Temporary keys of ``role_arn`` from moto's STS (cached); None when IAM is not enforced.

    A role that does not exist still gets keys (STS in moto does not check): every call made
    with them is then denied, as a missing role's policies allow nothing.
    """
    if not _state.iam_enforced or not role_arn:
        return None
    session_name = "".join(c if c.isalnum() or c in "=,.@-_" else "-" for c in session_name)[:64] or "localcloud"
    account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
    backend = sts_backends[account if account.isdigit() else _state.cloud_account()][_PARTITION]
    with _credentials_lock:
        cached = _credentials.get((role_arn, session_name))
        if cached is not None and backend.get_assumed_role_from_access_key(cached["AWS_ACCESS_KEY_ID"]) is None:
            cached = None  # moto was reset: keys it no longer knows would act as the root
        if cached is None:
            assumed = backend.assume_role(region_name="us-east-1", role_session_name=session_name, role_arn=role_arn,
                                          policy=None, duration=43200, external_id=None)
            cached = {"AWS_ACCESS_KEY_ID": assumed.access_key_id, "AWS_SECRET_ACCESS_KEY": assumed.secret_access_key,
                      "AWS_SESSION_TOKEN": assumed.session_token}
            _credentials[(role_arn, session_name)] = cached
        return dict(cached)


def boto_keys(credentials: dict[str, str] | None) -> dict[str, str]:
    """``boto3.client`` keyword arguments for ``credentials`` (the cloud's root keys when None)."""
    if credentials is None:
        keys = _state.cloud.keys
        return {"aws_access_key_id": keys.access_key_id, "aws_secret_access_key": keys.secret_access_key}
    return {"aws_access_key_id": credentials["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": credentials["AWS_SECRET_ACCESS_KEY"],
            "aws_session_token": credentials["AWS_SESSION_TOKEN"]}


def lambda_may_assume(account: str, role_arn: str) -> bool:
    """Can Lambda still assume a function's execution role (it exists and its trust names lambda.amazonaws.com)?

    Lambda assumes the role for every environment it starts; a role deleted since CreateFunction, or whose
    trust policy no longer names Lambda, makes Invoke fail. Always True when IAM is not enforced.
    """
    if not _state.iam_enforced:
        return True
    try:
        role = iam_backends[role_arn.split(":")[4] or account][_PARTITION].get_role_by_arn(role_arn)
    except Exception:  # noqa: BLE001 - moto's NoSuchEntity (or no ARN at all): nothing to assume
        return False
    return trusts_service(role.assume_role_policy_document, "lambda.amazonaws.com", {"aws:SourceAccount": account})


def function_allows(function: Any, service: str, source_arn: str, account: str) -> bool:
    """Does the function's resource-based policy (AddPermission) let ``service`` invoke it for ``source_arn``?

    EventBridge and S3 invoke a function only when it granted them ``lambda:InvokeFunction``
    (https://docs.aws.amazon.com/lambda/latest/dg/access-control-resource-based.html). Always True when IAM is
    not enforced.
    """
    if not _state.iam_enforced:
        return True
    statements = list(getattr(getattr(function, "policy", None), "statements", None) or [])
    context = {"aws:SourceArn": source_arn, "aws:SourceAccount": account, **global_context()}
    principal_statements = []
    for statement in statements:
        principal = statement.get("Principal") or {}
        services = principal.get("Service") if isinstance(principal, dict) else principal
        if principal == "*" or service in (services if isinstance(services, list) else [services]):
            principal_statements.append({key: value for key, value in statement.items() if key != "Principal"})
    arn = getattr(function, "function_arn", "")
    decision = evaluate([{"Statement": principal_statements}], "lambda:InvokeFunction", arn, context)
    if decision != ALLOW and arn:  # a grant on the function's unqualified ARN also covers its :$LATEST
        decision = evaluate([{"Statement": principal_statements}], "lambda:InvokeFunction", f"{arn}:$LATEST", context)
    return decision == ALLOW


def target_role_may_start(account: str, role_arn: str, machine_arn: str) -> bool:
    """EventBridge starts a state machine as the target's role: it must trust events and allow StartExecution."""
    if not _state.iam_enforced:
        return True
    try:
        role = iam_backends[account][_PARTITION].get_role_by_arn(role_arn)
    except Exception:  # noqa: BLE001 - no role (or none given): EventBridge cannot start anything
        return False
    if not trusts_service(role.assume_role_policy_document, "events.amazonaws.com", {"aws:SourceAccount": account}):
        return False
    principal = Principal(arn=f"arn:aws:sts::{account}:assumed-role/{role.name}/events", account=account,
                          role_arn=role_arn)
    return is_allowed(principal, "states:StartExecution", machine_arn) == ALLOW


def _role_principal(account: str, role_arn: str, session: str) -> Principal:
    name = role_arn.rsplit("/", 1)[-1]
    return Principal(arn=f"arn:aws:sts::{account}:assumed-role/{name}/{session}", account=account, role_arn=role_arn)


def assume_role_denial(role_arn: str, target_arn: str, session: str) -> str:
    """Why ``role_arn`` (a session of it) may not assume ``target_arn`` ("" when it may): STS's AccessDenied.

    Both halves AWS checks: the target's trust policy names the role (or its account) as an AWS principal, and
    the role's identity policies allow ``sts:AssumeRole`` on the target (not needed when the trust policy names
    the role itself in its own account). A missing target is refused the same way, as STS refuses it.
    """
    if not _state.iam_enforced:
        return ""
    account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else _state.cloud_account()
    principal = _role_principal(account, role_arn, session)
    # STS's wording, which does not say which half failed
    refusal = f"User: {principal.arn} is not authorized to perform: sts:AssumeRole on resource: {target_arn}"
    target_account = target_arn.split(":")[4] if target_arn.count(":") >= 5 else ""
    try:
        target = iam_backends[target_account or account][_PARTITION].get_role_by_arn(target_arn)
    except Exception:  # noqa: BLE001 - moto's NoSuchEntity: nothing to assume
        return refusal
    context = {"aws:PrincipalArn": role_arn, "aws:PrincipalAccount": account, **global_context()}
    trust = trusts_principal(target.assume_role_policy_document, [principal.arn, role_arn], account, context)
    identity = is_allowed(principal, "sts:AssumeRole", target_arn)
    if not trust or identity == DENY:
        return refusal
    if identity != ALLOW and not (trust == "principal" and (target_account or account) == account):
        return refusal
    return ""


def logs_denial(account: str, region: str, role_arn: str, group: str, stream: str, new_group: bool,
                new_stream: bool) -> str:
    """Why ``role_arn`` may not write this log ("" when it may): the calls a Lambda or SageMaker agent makes."""
    principal = _role_principal(account, role_arn, "logs")
    base = f"arn:aws:logs:{region}:{account}:log-group:{group}"
    calls = ([("logs:CreateLogGroup", f"{base}:*")] if new_group else []) + (
        [("logs:CreateLogStream", f"{base}:log-stream:{stream}")] if new_stream else []) + [
        ("logs:PutLogEvents", f"{base}:log-stream:{stream}")]
    for action, resource in calls:
        decision = is_allowed(principal, action, resource)
        if decision != ALLOW:
            return denial_message(principal, action, resource, decision == DENY)
    return ""


def image_pull_denial(account: str, region: str, role_arn: str, image_uri: str) -> str:
    """Why a job's role may not pull ``image_uri`` from the account's private ECR ("" when it may).

    Images in other registries (SageMaker's own algorithm images) need no grant of the role.
    """
    host, _, path = image_uri.partition("/")
    if not _state.iam_enforced or not host.startswith(f"{account}.dkr.ecr."):
        return ""
    repository = path.split("@", 1)[0].rsplit(":", 1)[0]
    principal = _role_principal(account, role_arn, "SageMaker")
    calls = [("ecr:GetAuthorizationToken", "*")] + [
        (action, f"arn:aws:ecr:{region}:{account}:repository/{repository}")
        for action in ("ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage")]
    for action, resource in calls:
        decision = is_allowed(principal, action, resource)
        if decision != ALLOW:
            return denial_message(principal, action, resource, decision == DENY)
    return ""

