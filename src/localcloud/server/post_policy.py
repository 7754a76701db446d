"""S3 browser uploads (POST Object): signed by their POST policy, not by an ``Authorization`` header.

An HTML form (or a ``fetch`` with ``FormData``) uploads to ``POST /<bucket>`` with the fields a
server made with ``generate_presigned_post``: a base64 JSON ``policy`` (expiration and conditions) and
its signature (SigV4 ``x-amz-signature`` over the policy, or SigV2 ``signature``). S3 takes the upload
only when the signature checks out under an issued key, the policy has not expired, every condition
holds and every field is covered by one
(https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html,
https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-authentication-HTTPPOST.html); otherwise it answers
403 ``AccessDenied`` "Invalid according to Policy: …".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from werkzeug.formparser import parse_form_data

# fields the policy need not cover (S3's list), beside any ``x-ignore-*``
_UNCOVERED = {"policy", "x-amz-signature", "signature", "awsaccesskeyid", "file"}


class PostRefused(Exception):
    """Why a POST upload is refused: (kind, message) as :class:`localcloud.server.refusals.Refused` takes them."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind, self.message = kind, message


def is_post_upload(environ: dict[str, Any]) -> bool:
    """A form POST to a bucket (``POST /<bucket>``, ``multipart/form-data``) with no Authorization header."""
    path = environ.get("PATH_INFO", "")
    return (environ.get("REQUEST_METHOD") == "POST" and "multipart/form-data" in environ.get("CONTENT_TYPE", "")
            and path.count("/") == 1 and len(path) > 1 and not environ.get("HTTP_AUTHORIZATION"))


def fields_of(environ: dict[str, Any], body: bytes) -> tuple[dict[str, str], int]:
    """The form's fields (names in lower case) and the size of its ``file``."""
    copy = {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
    _, form, files = parse_form_data(copy)
    fields = {name.lower(): value for name, value in form.items(multi=False)}
    upload = files.get("file")
    size = len(upload.read()) if upload is not None else len(fields.get("file", "").encode())
    return fields, size


def check(environ: dict[str, Any], body: bytes, secret_for: Callable[[str, str | None], str],
          signing_key: Callable[[str, str, str, str], bytes], now: datetime) -> None:
    """Refuse the upload unless its policy is signed by an issued key, current, and satisfied.

    Args:
        secret_for: (access key id, session token) -> secret; raises the signing module's refusal when unknown.
        signing_key: (secret, date, region, service) -> the SigV4 signing key.

    Raises:
        PostRefused: what S3 would answer instead.
    """
    fields, size = fields_of(environ, body)
    policy_b64 = fields.get("policy")
    if not policy_b64:
        raise PostRefused("missing", "Access Denied")
    token = fields.get("x-amz-security-token")
    if "x-amz-signature" in fields:
        scope = fields.get("x-amz-credential", "").split("/")
        if fields.get("x-amz-algorithm") != "AWS4-HMAC-SHA256" or len(scope) != 5 or scope[4] != "aws4_request":
            raise PostRefused("malformed-query", "Invalid according to Policy: the x-amz-credential or "
                                                 "x-amz-algorithm field is malformed")
        key = signing_key(secret_for(scope[0], token), scope[1], scope[2], scope[3])
        expected = hmac.new(key, policy_b64.encode(), hashlib.sha256).hexdigest()
        given = fields["x-amz-signature"]
    elif "signature" in fields and "awsaccesskeyid" in fields:
        secret = secret_for(fields["awsaccesskeyid"], token)
        expected = base64.b64encode(hmac.new(secret.encode(), policy_b64.encode(), hashlib.sha1).digest()).decode()
        given = fields["signature"]
    else:
        raise PostRefused("missing", "Access Denied")
    if not hmac.compare_digest(expected, given):
        raise PostRefused("signature", "")
    try:
        policy = json.loads(base64.b64decode(policy_b64, validate=True))
        expiration = datetime.fromisoformat(str(policy["expiration"]).replace("Z", "+00:00"))
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise PostRefused("missing", "Invalid Policy: Invalid JSON.") from None
    if (expiration if expiration.tzinfo else expiration.replace(tzinfo=timezone.utc)) < now:
        raise PostRefused("missing", "Invalid according to Policy: Policy expired.")
    bucket = environ["PATH_INFO"].strip("/")
    _conditions_hold(policy.get("conditions") or [], {**fields, "bucket": bucket}, size)


def _conditions_hold(conditions: list[Any], fields: dict[str, str], size: int) -> None:
    covered = set()
    for condition in conditions:
        if isinstance(condition, dict):
            for name, value in condition.items():
                covered.add(name.lower())
                if fields.get(name.lower()) != str(value):
                    raise PostRefused("missing", f"Invalid according to Policy: Policy Condition failed: "
                                                 f'["eq", "${name}", "{value}"]')
        elif isinstance(condition, list) and len(condition) == 3:
            operator, name, value = (str(part) for part in condition)
            if operator.lower() == "content-length-range":
                if size > int(value):
                    raise PostRefused("too-large", "Your proposed upload exceeds the maximum allowed size")
                if size < int(name):
                    raise PostRefused("too-small", "Your proposed upload is smaller than the minimum allowed size")
                continue
            field = name.lstrip("$").lower()
            covered.add(field)
            got = fields.get(field, "")
            holds = got == value if operator.lower() == "eq" else got.startswith(value) \
                if operator.lower() == "starts-with" else False
            if not holds:
                raise PostRefused("missing", f"Invalid according to Policy: Policy Condition failed: "
                                             f'["{operator}", "{name}", "{value}"]')
    extra = sorted(name for name in fields if name not in covered and name not in _UNCOVERED and name != "bucket"
                   and not name.startswith(("x-ignore-", "x-amz-algorithm", "x-amz-credential", "x-amz-date",
                                            "x-amz-security-token")))
    if extra:
        raise PostRefused("missing", f"Invalid according to Policy: Extra input fields: {extra[0]}")
