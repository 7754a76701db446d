"""Signature Version 4 as a server checks it: the claim a request makes, its canonical request, the signature.

https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html (what the client signs) and
https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html (presigned URLs).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from botocore.utils import normalize_url_path

from localcloud.server.refusals import Refused, protocol_of

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_PRESIGN_SECONDS = 604800  # a week


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
