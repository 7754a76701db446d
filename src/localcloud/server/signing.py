"""Who may talk to the local cloud: requests signed with Signature Version 4 by keys it issued.

AWS answers a request only when its signature (an HMAC of the request under the caller's secret
key) checks out, and so does the cloud, before moto sees the request: its root keys
(:mod:`localcloud.server.keys`) and the temporary keys of its STS and IAM users (looked up in moto through
``moto_seams``) are the only keys it knows. Everything else is refused with the error AWS gives:

* no signature: S3 ``AccessDenied``; other services ``MissingAuthenticationToken``;
* S3's SigV2 presigned URLs (boto3's default) are checked as S3 checks them; any other SigV2, a malformed
  ``Authorization`` header or presigned query: S3 ``InvalidRequest`` /
  ``AuthorizationHeaderMalformed`` / ``AuthorizationQueryParametersError``; others ``IncompleteSignature``;
* a key nobody issued: S3 ``InvalidAccessKeyId``; others ``InvalidClientTokenId`` (JSON services:
  ``UnrecognizedClientException``); a wrong or missing session token: ``InvalidToken`` / the same;
* a signature that does not match: ``SignatureDoesNotMatch`` (JSON services: ``InvalidSignatureException``);
* a request dated more than 15 minutes off, or a presigned URL past its ``X-Amz-Expires``.

moto's own control API (``/moto-api``: reset, state, config) is refused to every caller: AWS has
none, and it would let any handler wipe the cloud. moto's ``x-moto-account-id`` header (act in
another account) is dropped. S3 browser uploads (POST Object) are signed by their POST policy
(:mod:`localcloud.server.post_policy`). STS's two calls that AWS takes unsigned (``AssumeRoleWithWebIdentity``,
``AssumeRoleWithSAML``) pass unsigned.

Not checked: the chunk signatures of ``STREAMING-AWS4-HMAC-SHA256-PAYLOAD`` uploads and a body's
match with a hex ``x-amz-content-sha256`` (the request's own signature is).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import HmacV1Auth

from localcloud.server import post_policy
from localcloud.server.keys import CloudKeys
from localcloud.server.refusals import Refused, error_response, protocol_of
from localcloud.server.sigv4 import (
    Signature,
    _header,
    _query_pairs,
    _when,
    canonical_request,
    parse,
    signature_of,
    signing_key,
)

MAX_SKEW = timedelta(minutes=15)
MOTO_API = "/moto-api"
_UNSIGNED_STS = {"AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"}
_UNSIGNED_BODY_LIMIT = 1 << 20


@dataclass(frozen=True)
class Issued:
    """A key the cloud issued: its secret, and for temporary keys their session token and end."""

    secret: str
    session_token: str | None = None
    expires: datetime | None = None
    active: bool = True


Lookup = Callable[[str], "Issued | None"]


# -- the middleware -----------------------------------------------------------------------------
class Authenticator:
    """WSGI middleware: only requests signed by a key the cloud issued reach ``app``.

    Args:
        app: moto's WSGI app.
        keys: the cloud's root keys.
        lookup: the other keys the cloud issued (STS sessions, IAM users), by access key id.
        clock: the current time (tests pass a fixed one).
    """

    def __init__(self, app: Callable[..., Any], keys: CloudKeys, lookup: Lookup,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.app, self.keys, self.lookup, self.clock = app, keys, lookup, clock

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if path == MOTO_API or path.startswith(MOTO_API + "/"):
            body = (b"Forbidden: /moto-api is moto's control API (reset, state, configuration), which AWS does "
                    b"not have; the local cloud answers it to no one\n")
            start_response("403 Forbidden", [("Content-Type", "text/plain; charset=utf-8"),
                                             ("Content-Length", str(len(body)))])
            return [body]
        try:
            self.authenticate(environ)
        except Refused as refused:
            status, headers, body = error_response(refused)
            start_response(f"{status} {'Forbidden' if status == 403 else 'Bad Request'}",
                           [*headers, ("Content-Length", str(len(body)))])
            return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]
        environ.pop("HTTP_X_MOTO_ACCOUNT_ID", None)  # moto's "act in this account" header: AWS has none
        return self.app(environ, start_response)

    def authenticate(self, environ: dict[str, Any]) -> None:
        """Return when the request is signed by an issued key (or is one STS takes unsigned).

        Raises:
            Refused: why not, in AWS's words.
        """
        query = _query_pairs(environ.get("QUERY_STRING", ""))
        params = dict(query)
        if "AWSAccessKeyId" in params and not _header(environ, "Authorization"):
            self._presigned_v2(environ, params)
            return
        claim = parse(environ, query)
        if claim is None:
            if self._unsigned_sts(environ, query):
                return
            if post_policy.is_post_upload(environ):
                self._post_upload(environ)
                return
            raise Refused("missing", "", protocol_of(None, environ))
        protocol = protocol_of(claim.service, environ)
        issued = self._issued(claim, protocol)
        when = _when(claim, protocol)
        now = self.clock()
        if claim.presigned:
            if now > when + timedelta(seconds=claim.expires or 0):
                raise Refused("presign-expired", "", protocol)
            if when - now > MAX_SKEW:
                raise Refused("skewed", "", protocol)
        elif abs(now - when) > MAX_SKEW:
            raise Refused("skewed", f"Signature expired: {claim.amz_date} is now earlier than "
                                    f"{(now - MAX_SKEW).strftime('%Y%m%dT%H%M%SZ')} "
                                    f"({now.strftime('%Y%m%dT%H%M%SZ')} - 15 min.)"
                          if when < now else f"Signature not yet current: {claim.amz_date} is still later than "
                                             f"{(now + MAX_SKEW).strftime('%Y%m%dT%H%M%SZ')} "
                                             f"({now.strftime('%Y%m%dT%H%M%SZ')} + 15 min.)", protocol)
        if "host" not in claim.signed_headers:
            raise Refused("malformed-query" if claim.presigned else "malformed",
                          "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.", protocol)
        payload = self._payload_hash(environ, claim, protocol)
        expected = signature_of(issued.secret, claim, canonical_request(environ, claim, payload))
        if not hmac.compare_digest(expected, claim.signature):
            raise Refused("signature", "", protocol)

    def _post_upload(self, environ: dict[str, Any]) -> None:
        """An S3 browser upload, signed by its POST policy (:mod:`localcloud.server.post_policy`)."""
        def secret_for(key_id: str, token: str | None) -> str:
            claim = Signature(key_id, "", "", "s3", (), "", "", True, None, token)
            return self._issued(claim, "s3").secret

        try:
            post_policy.check(environ, _body(environ), secret_for, signing_key, self.clock())
        except post_policy.PostRefused as refused:
            raise Refused(refused.kind, refused.message, "s3") from None

    def _presigned_v2(self, environ: dict[str, Any], params: dict[str, str]) -> None:
        """S3's query-string SigV2 (what boto3's ``generate_presigned_url`` makes unless told ``s3v4``).

        https://docs.aws.amazon.com/AmazonS3/latest/API/RESTAuthentication.html#RESTAuthenticationQueryStringAuth
        """
        if not params.get("Signature") or not params.get("Expires", "").isdigit():
            raise Refused("missing", "Query-string authentication requires the Signature, Expires and "
                                     "AWSAccessKeyId parameters", "s3")
        claim = Signature(params["AWSAccessKeyId"], "", "", "s3", (), params["Signature"], "", True, None,
                          params.get("x-amz-security-token"))
        issued = self._issued(claim, "s3")
        if self.clock().timestamp() > int(params["Expires"]):
            raise Refused("presign-expired", "", "s3")
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
        split = urlsplit(raw if raw.startswith(("http://", "https://")) else "http://host" + raw)
        amz = sorted((key[5:].lower().replace("_", "-"), " ".join(str(value).split()))
                     for key, value in environ.items() if key.startswith("HTTP_X_AMZ_"))
        to_sign = "\n".join([environ.get("REQUEST_METHOD", "GET"), _header(environ, "Content-MD5") or "",
                             _header(environ, "Content-Type") or "", params["Expires"],
                             *[f"{name}:{value}" for name, value in amz],
                             HmacV1Auth(None).canonical_resource(split)])
        digest = hmac.new(issued.secret.encode(), to_sign.encode(), hashlib.sha1).digest()
        if not hmac.compare_digest(base64.b64encode(digest).decode(), params["Signature"]):
            raise Refused("signature", "", "s3")

    def _issued(self, claim: Signature, protocol: str) -> Issued:
        if hmac.compare_digest(claim.access_key_id, self.keys.access_key_id):
            if claim.token:
                raise Refused("bad-token", "", protocol)
            return Issued(self.keys.secret_access_key)
        issued = self.lookup(claim.access_key_id)
        if issued is None or not issued.active:
            raise Refused("unknown-key", "", protocol)
        if issued.session_token is not None:
            if not claim.token or not hmac.compare_digest(claim.token, issued.session_token):
                raise Refused("bad-token", "", protocol)
            if issued.expires is not None and self.clock() > issued.expires:
                raise Refused("expired-token", "", protocol)
        elif claim.token:
            raise Refused("bad-token", "", protocol)
        return issued

    @staticmethod
    def _payload_hash(environ: dict[str, Any], claim: Signature, protocol: str) -> str:
        declared = _header(environ, "X-Amz-Content-SHA256")
        if claim.service == "s3":
            if declared:
                return declared
            if claim.presigned:
                return "UNSIGNED-PAYLOAD"
            raise Refused("malformed", "Missing required header for this request: x-amz-content-sha256", protocol)
        return hashlib.sha256(_body(environ)).hexdigest()

    @staticmethod
    def _unsigned_sts(environ: dict[str, Any], query: list[tuple[str, str]]) -> bool:
        """AssumeRoleWithWebIdentity and AssumeRoleWithSAML: STS takes them unsigned (the token is the proof)."""
        actions = {v for k, v in query if k == "Action"}
        if not actions and environ.get("PATH_INFO") in ("", "/") and \
                "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            if 0 < length <= _UNSIGNED_BODY_LIMIT:
                actions = {v for k, v in _query_pairs(_body(environ).decode("latin-1").replace("+", " "))
                           if k == "Action"}
        return bool(actions) and actions <= _UNSIGNED_STS


def _body(environ: dict[str, Any]) -> bytes:
    """The request body, read once and put back for the app behind."""
    cached = environ.get("localcloud.body")
    if cached is not None:
        return cached
    stream = environ.get("wsgi.input")
    length = environ.get("CONTENT_LENGTH")
    if stream is None:
        data = b""
    elif length:
        data = stream.read(int(length))
    elif environ.get("wsgi.input_terminated"):
        data = stream.read()
    else:
        data = b""
    environ["wsgi.input"] = io.BytesIO(data)
    environ["localcloud.body"] = data
    return data
