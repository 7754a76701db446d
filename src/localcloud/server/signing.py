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
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, unquote, urlsplit
from xml.sax.saxutils import escape

from botocore.auth import HmacV1Auth
from botocore.utils import normalize_url_path

from localcloud.server import post_policy
from localcloud.server.keys import CloudKeys

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=15)
MAX_PRESIGN_SECONDS = 604800  # a week
MOTO_API = "/moto-api"
# services whose errors are XML (query protocol); S3 has its own; the others answer JSON
QUERY_SERVICES = {"sts", "iam", "sqs", "sns", "ec2", "cloudformation", "monitoring", "autoscaling",
                  "elasticloadbalancing", "rds", "ses", "elasticache", "redshift"}
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


class Refused(Exception):
    """Why a request is refused: a kind (:data:`_ERRORS`), AWS's words, and the protocol to answer in."""

    def __init__(self, kind: str, message: str = "", protocol: str = "s3") -> None:
        super().__init__(message)
        self.kind, self.message, self.protocol = kind, message, protocol


# kind -> (HTTP status, S3 code, query code, JSON code, default message, S3 message)
_ERRORS: dict[str, tuple[int, str, str, str, str, str]] = {
    "missing": (403, "AccessDenied", "MissingAuthenticationToken", "MissingAuthenticationTokenException",
                "Missing Authentication Token", "Access Denied"),
    "sigv2": (400, "InvalidRequest", "IncompleteSignature", "IncompleteSignatureException",
              "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
              "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."),
    "malformed": (400, "AuthorizationHeaderMalformed", "IncompleteSignature", "IncompleteSignatureException", "", ""),
    "malformed-query": (400, "AuthorizationQueryParametersError", "IncompleteSignature",
                        "IncompleteSignatureException", "", ""),
    "unknown-key": (403, "InvalidAccessKeyId", "InvalidClientTokenId", "UnrecognizedClientException",
                    "The security token included in the request is invalid.",
                    "The AWS Access Key Id you provided does not exist in our records."),
    "bad-token": (400, "InvalidToken", "InvalidClientTokenId", "UnrecognizedClientException",
                  "The security token included in the request is invalid.",
                  "The provided token is malformed or otherwise invalid."),
    "expired-token": (400, "ExpiredToken", "ExpiredToken", "ExpiredTokenException",
                      "The security token included in the request is expired", "The provided token has expired."),
    "signature": (403, "SignatureDoesNotMatch", "SignatureDoesNotMatch", "InvalidSignatureException",
                  "The request signature we calculated does not match the signature you provided. Check your AWS "
                  "Secret Access Key and signing method. Consult the service documentation for details.",
                  "The request signature we calculated does not match the signature you provided. Check your key "
                  "and signing method."),
    "skewed": (403, "RequestTimeTooSkewed", "SignatureDoesNotMatch", "InvalidSignatureException", "",
               "The difference between the request time and the current time is too large."),
    "presign-expired": (403, "AccessDenied", "SignatureDoesNotMatch", "InvalidSignatureException",
                        "Signature expired", "Request has expired"),
    "too-large": (400, "EntityTooLarge", "EntityTooLarge", "EntityTooLarge",
                  "Your proposed upload exceeds the maximum allowed size", ""),
    "too-small": (400, "EntityTooSmall", "EntityTooSmall", "EntityTooSmall",
                  "Your proposed upload is smaller than the minimum allowed size", ""),
    "wrong-service": (403, "SignatureDoesNotMatch", "SignatureDoesNotMatch", "InvalidSignatureException", "", ""),
}


def error_response(refused: Refused, request_id: str = "localcloud") -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) of AWS's answer to ``refused``, in the protocol its service speaks."""
    status, s3_code, query_code, json_code, message, s3_message = _ERRORS[refused.kind]
    if refused.protocol == "s3":
        text = refused.message or s3_message
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{s3_code}</Code><Message>{escape(text)}'
                f"</Message><RequestId>{request_id}</RequestId></Error>").encode()
        return status, [("Content-Type", "application/xml")], body
    text = refused.message or message
    if refused.protocol == "query":
        body = (f'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
                f"<Code>{query_code}</Code><Message>{escape(text)}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>").encode()
        return status, [("Content-Type", "text/xml")], body
    body = json.dumps({"__type": json_code, "message": text, "Message": text}).encode()
    return status, [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", json_code)], body


def protocol_of(service: str | None, environ: dict[str, Any]) -> str:
    """``s3``, ``query`` or ``json``: how the service a request is for answers errors."""
    if service:
        return "s3" if service == "s3" else "query" if service in QUERY_SERVICES else "json"
    if environ.get("HTTP_X_AMZ_TARGET") or "json" in environ.get("CONTENT_TYPE", ""):
        return "json"
    if environ.get("PATH_INFO", "").startswith("/20"):  # REST-JSON APIs (Lambda's /2015-03-31/...)
        return "json"
    if "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", "") and environ.get("PATH_INFO") in ("", "/"):
        return "query"
    return "s3"


# -- parsing ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Signature:
    """What a SigV4 request claims: key, scope, signed headers, signature, date, token."""

    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str
    presigned: bool
    expires: int | None
    token: str | None


def _query_pairs(query: str) -> list[tuple[str, str]]:
    pairs = []
    for part in query.split("&") if query else []:
        if part:
            key, _, value = part.partition("=")
            pairs.append((unquote(key), unquote(value)))
    return pairs


def _header(environ: dict[str, Any], name: str) -> str | None:
    name = name.lower()
    if name == "content-type":
        return environ.get("CONTENT_TYPE")
    if name == "content-length":
        return environ.get("CONTENT_LENGTH")
    return environ.get("HTTP_" + name.upper().replace("-", "_"))


def _scope(credential: str, malformed: str, protocol: str) -> tuple[str, str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts):
        raise Refused(malformed, f"the Credential {credential[:120]!r} is malformed; expecting "
                                 "\"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".", protocol)
    return parts[0], parts[1], parts[2], parts[3]


def parse(environ: dict[str, Any], query: list[tuple[str, str]]) -> Signature | None:
    """The request's SigV4 claim (header or presigned query); None when unsigned.

    Raises:
        Refused: SigV2, or a SigV4 header or query that is not well formed.
    """
    authorization = (_header(environ, "Authorization") or "").strip()
    params = dict(query)
    if authorization:
        protocol = protocol_of(None, environ)
        if authorization.startswith("AWS ") or not authorization.startswith(ALGORITHM + " "):
            if authorization.startswith(ALGORITHM):
                raise Refused("malformed", "the authorization header is malformed", protocol)
            raise Refused("sigv2", "", protocol)
        fields = {}
        for item in authorization[len(ALGORITHM):].split(","):
            name, sep, value = item.strip().partition("=")
            if not sep or name in fields:
                raise Refused("malformed", f"the authorization header is malformed near {item.strip()[:60]!r}",
                              protocol)
            fields[name] = value
        missing = [name for name in ("Credential", "SignedHeaders", "Signature") if not fields.get(name)]
        if missing:
            raise Refused("malformed", f"Authorization header requires '{missing[0]}' parameter. "
                                       f"Authorization={authorization[:200]}", protocol)
        key, date, region, service = _scope(fields["Credential"], "malformed", protocol)
        protocol = protocol_of(service, environ)
        amz_date = _header(environ, "X-Amz-Date") or ""
        return Signature(key, date, region, service, tuple(fields["SignedHeaders"].split(";")), fields["Signature"],
                         amz_date, False, None, _header(environ, "X-Amz-Security-Token"))
    if "X-Amz-Algorithm" in params or "X-Amz-Credential" in params or "X-Amz-Signature" in params:
        protocol = protocol_of(None, environ)
        if params.get("X-Amz-Algorithm") != ALGORITHM:
            raise Refused("malformed-query", "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"", protocol)
        missing = [name for name in ("X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders",
                                     "X-Amz-Expires") if not params.get(name)]
        if missing:
            raise Refused("malformed-query", f"Query-string authentication version 4 requires the {missing[0]} "
                                             "parameter.", protocol)
        key, date, region, service = _scope(params["X-Amz-Credential"], "malformed-query", protocol)
        try:
            expires = int(params["X-Amz-Expires"])
        except ValueError:
            expires = -1
        if not 0 <= expires <= MAX_PRESIGN_SECONDS:
            raise Refused("malformed-query", "X-Amz-Expires must be less than a week (in seconds) that is 604800",
                          protocol_of(service, environ))
        return Signature(key, date, region, service, tuple(params["X-Amz-SignedHeaders"].split(";")),
                         params["X-Amz-Signature"], params["X-Amz-Date"], True, expires,
                         params.get("X-Amz-Security-Token"))
    return None


# -- the canonical request (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html) --
def _canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def canonical_request(environ: dict[str, Any], claim: Signature, payload_hash: str) -> str:
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or (
        quote(environ.get("PATH_INFO", "/")) + ("?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else ""))
    if raw.startswith(("http://", "https://")):  # absolute-form request target
        split = urlsplit(raw)
        raw = split.path + ("?" + split.query if split.query else "")
    path, _, query = raw.partition("?")
    path = path or "/"
    # S3 signs the path as sent; every other service signs it URI-encoded once more
    uri = path if claim.service == "s3" else quote(normalize_url_path(path), safe="/~")
    pairs = [(k, v) for k, v in _query_pairs(query) if not (claim.presigned and k == "X-Amz-Signature")]
    headers = []
    for name in claim.signed_headers:
        value = _header(environ, name)
        headers.append(f"{name}:{' '.join((value or '').split())}\n")
    return "\n".join([environ.get("REQUEST_METHOD", "GET"), uri, _canonical_query(pairs), "".join(headers),
                      ";".join(claim.signed_headers), payload_hash])


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signature_of(secret: str, claim: Signature, canonical: str) -> str:
    scope = f"{claim.date}/{claim.region}/{claim.service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, claim.amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = signing_key(secret, claim.date, claim.region, claim.service)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")


def _when(claim: Signature, protocol: str) -> datetime:
    if not _AMZ_DATE.fullmatch(claim.amz_date or ""):
        kind = "malformed-query" if claim.presigned else "malformed"
        raise Refused(kind, f"X-Amz-Date {claim.amz_date[:40]!r} must be in the ISO8601 Long Format "
                            "\"yyyyMMdd'T'HHmmss'Z'\"", protocol)
    if claim.amz_date[:8] != claim.date:
        raise Refused("signature", f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                                   f"date from HTTP: '{claim.date}' != '{claim.amz_date[:8]}'", protocol)
    return datetime.strptime(claim.amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)


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
