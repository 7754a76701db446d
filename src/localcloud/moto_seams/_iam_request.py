"""The IAM seam (14): who signed a request, and whether their policies allow what it asks.

Replaces ``ActionAuthenticatorMixin._authenticate_and_authorize_action`` (moto/core/authorization.py),
which every moto response calls before it acts. The principal is the one whose key signed the request
(:mod:`localcloud.server.signing` has already checked the signature, and refused keys nobody issued); its
policies are evaluated by :mod:`._iam_policy`. STS's own rules live here too: AssumeRole follows the
target role's trust policy, and session credentials cannot mint more (GetSessionToken, GetFederationToken).
"""

from __future__ import annotations

import json
from datetime import timezone
from typing import Any
from urllib.parse import parse_qs, urlparse

from moto.core.exceptions import JsonRESTError
from moto.core.exceptions import _RESTError as RESTError  # the XML error base (moto keeps it private)
from moto.iam.models import iam_backends
from moto.sts.models import sts_backends

from localcloud.moto_seams import _state
from localcloud.moto_seams._iam import (
    _ACTION_ALIASES,
    _PARTITION,
    _SIGNING_TO_PREFIX,
    _XML_SERVICES,
    Principal,
    _local,
    access_denied,
    denial_message,
    global_context,
    principal_for,
    require,
)
from localcloud.moto_seams._iam_policy import ALLOW, DENY, evaluate, request_context, request_resource, trusts_principal

# -- the seam --------------------------------------------------------------------------------
def _between(first: str, second: str, text: str) -> str:
    return text.partition(first)[2].partition(second)[0]


# signing names of the services whose moto responses know their own (moto's name -> what a client signs for)
_SIGNING_NAMES = {"s3": {"s3"}, "awslambda": {"lambda"}, "sagemaker": {"sagemaker"},
                  "sagemaker-runtime": {"sagemaker", "runtime.sagemaker"}, "stepfunctions": {"states"},
                  "sts": {"sts"}, "iam": {"iam"}, "logs": {"logs"}, "events": {"events"}, "ecr": {"ecr"},
                  "cloudwatch": {"monitoring"}, "sqs": {"sqs"}, "sns": {"sns"}}
_SESSION_REFUSED = {"sts:GetSessionToken": "Cannot call GetSessionToken with session credentials",
                    "sts:GetFederationToken": "Cannot call GetFederationToken with session credentials"}


def wrong_service(service: str, expected: str) -> Exception:
    """AWS's refusal of a signature scoped to another service than the one called."""
    message = f"Credential should be scoped to correct service: '{expected}'. "
    if service == "s3":
        error: Any = RESTError("AuthorizationHeaderMalformed", message)
        error.code = 400
    elif service in _XML_SERVICES:
        error = RESTError("SignatureDoesNotMatch", message)
        error.code = 403
    else:
        error = JsonRESTError("InvalidSignatureException", message)
        error.code = 403
    return error


def _authorize(self: Any, iam_request_cls: type, resource: str = "*") -> None:
    """Replaces ``ActionAuthenticatorMixin._authenticate_and_authorize_action``."""
    _local.principal = None
    if not _state.iam_enforced:
        return
    authorization = self.headers.get("Authorization") or ""
    scope = _between("Credential=", ",", authorization).split("/")
    query = parse_qs(urlparse(self.uri).query)
    if len(scope) < 4 and query.get("X-Amz-Credential"):  # a presigned URL acts as whoever signed it
        scope = query["X-Amz-Credential"][0].split("/")
    elif len(scope) < 4 and query.get("AWSAccessKeyId"):  # S3's SigV2 presigned URL
        scope = [query["AWSAccessKeyId"][0], "", "", "s3"]
    if len(scope) < 4:  # only what STS takes unsigned gets here (localcloud.server.signing): it acts as no one
        return
    signing = _SIGNING_NAMES.get(getattr(self, "service_name", None) or "")
    if signing is not None and scope[3] not in signing:
        raise wrong_service(_SIGNING_TO_PREFIX.get(scope[3], scope[3]), sorted(signing)[0])
    principal = principal_for(self.current_account, scope[0])
    _local.principal = principal
    prefix = _SIGNING_TO_PREFIX.get(scope[3], scope[3])
    api_action = self._get_action()
    api_action = api_action[0] if isinstance(api_action, list) else api_action
    action = f"{prefix}:{api_action}"
    action = _ACTION_ALIASES.get(action, action)
    params = _json_params(self)
    if action in _SESSION_REFUSED and principal.role_arn:
        raise access_denied(prefix, _SESSION_REFUSED[action])
    if action == "sts:AssumeRole":
        _check_assume_role(principal, (query.get("RoleArn") or [""])[0] or _form_value(self, "RoleArn"), self.region)
        return
    if principal.is_root:
        return
    if prefix != "s3":
        resource = request_resource(prefix, api_action, params, self.path, self.region, self.current_account)
    context = {**global_context(self.region), **request_context(prefix, api_action, params, query)}
    require(principal, prefix, action, resource, context)


def _form_value(response: Any, name: str) -> str:
    """A parameter of a query-protocol request (STS, IAM): moto's parsed querystring holds the form body."""
    values = (getattr(response, "querystring", None) or {}).get(name) or []
    return values[0] if values else ""


def _check_assume_role(principal: Principal, role_arn: str, region: str) -> None:
    """AWS's rules for ``sts:AssumeRole``: the role's trust policy must name the caller (and, when it names
    only the caller's account, the caller's own policy must allow it); the root user may not assume roles.

    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_permissions-to-switch.html
    """
    denied = access_denied("sts", denial_message(principal, "sts:AssumeRole", role_arn, False))
    if principal.is_root:
        raise access_denied("sts", "Roles may not be assumed by root accounts.")
    parts = role_arn.split(":")
    if len(parts) < 6 or not parts[5].startswith("role/"):
        raise denied
    try:
        role = iam_backends[parts[4]][_PARTITION].get_role_by_arn(role_arn)
    except Exception:  # noqa: BLE001 - moto's NoSuchEntity: no such role, nothing trusts the caller
        raise denied from None
    names = [principal.arn] + ([principal.role_arn] if principal.role_arn else [])
    context = {**global_context(region), "aws:PrincipalArn": principal.role_arn or principal.arn,
               "aws:PrincipalAccount": principal.account}
    trust = trusts_principal(role.assume_role_policy_document, names, principal.account, context)
    identity = evaluate(principal.policies(), "sts:AssumeRole", role_arn, context)
    same_account = parts[4] == principal.account
    if not trust or identity == DENY or (identity != ALLOW and not (trust == "principal" and same_account)):
        raise denied


def _json_params(response: Any) -> dict[str, Any]:
    body = getattr(response, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if not body or not body.lstrip().startswith("{"):
        return {}
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def issued_key(access_key_id: str) -> Any:
    """The secret (and session token, end, status) of a key moto's STS or IAM issued; None when none did.

    The cloud's signature check (:mod:`localcloud.server.signing`) asks this for every key but its root keys.
    """
    from localcloud.server.signing import Issued

    for account in list(sts_backends.keys()):
        assumed = sts_backends[account][_PARTITION].get_assumed_role_from_access_key(access_key_id)
        if assumed is not None:
            expires = assumed.expiration
            if expires is not None and expires.tzinfo is None:  # moto keeps naive UTC times
                expires = expires.replace(tzinfo=timezone.utc)
            return Issued(assumed.secret_access_key, assumed.session_token, expires)
    for account in list(iam_backends.keys()):
        backend = iam_backends[account][_PARTITION]
        for user in list(backend.users.values()):
            for key in user.access_keys:
                if key.access_key_id == access_key_id:
                    return Issued(key.secret_access_key, None, None, key.status == "Active")
    return None
