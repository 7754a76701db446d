"""AWS's answers to requests the cloud refuses before moto sees them, in the protocol each service speaks.

S3 answers ``<Error><Code>``; the query-protocol services (STS, IAM, ...) ``<ErrorResponse>``; the JSON
services ``{"__type": ...}`` with ``x-amzn-ErrorType``. Codes and messages as AWS documents them:
https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html and
https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html.
"""

from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import escape

# services whose errors are XML (query protocol); S3 has its own; the others answer JSON
QUERY_SERVICES = {"sts", "iam", "sqs", "sns", "ec2", "cloudformation", "monitoring", "autoscaling",
                  "elasticloadbalancing", "rds", "ses", "elasticache", "redshift"}


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
