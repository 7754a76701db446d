"""24-25. An S3 object's bytes reach moto as sent, whatever ``Content-Type`` the request names.

AWS stores an object's bytes whatever its content type (it is metadata,
https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html). moto's ``BaseResponse.setup_class`` reads
``request.data`` and ``request.form``: for ``application/x-www-form-urlencoded`` or ``multipart/form-data``
werkzeug parses the body as a form, consumes it, and ``request.data`` is empty. PutObject and UploadPart then
stored 0 bytes and answered 200 (``curl -X PUT --data-binary @file`` sends form-urlencoded), and the form's
fields went into moto's query parameters.

24. ``S3Response.key_response`` — every request on an object (PutObject, UploadPart, the multipart POSTs...)
    keeps its raw body: it is read and cached before moto looks at it, and the form is set empty so werkzeug
    never parses one. Requests on a bucket are left as they are: a browser's POST upload to a bucket *is* a
    multipart form (moto reads its ``key`` and ``file`` fields).
25. ``DomainDispatcherApplication._get_body`` — for an unsigned form-urlencoded request, moto's dispatcher reads
    the body to find an ``Action`` and puts it back only when it decodes as UTF-8: binary bytes were dropped,
    and the request then waited for a body that had already been read (an unsigned ``curl`` PUT hung). The body
    is always put back; only its text is looked at.
"""

from __future__ import annotations

import io
from typing import Any

from werkzeug.datastructures import ImmutableMultiDict

from localcloud.moto_seams import _state

_FORM_TYPE = "application/x-www-form-urlencoded"


def keep_raw_body(request: Any) -> None:
    """Cache ``request``'s body as bytes and give it an empty form, so that no form parser consumes it."""
    request.get_data(cache=True)  # read before werkzeug's form parser can: request.data answers these bytes
    # werkzeug's form/files are cached properties: set in the instance dict, they are never computed
    request.__dict__["form"] = ImmutableMultiDict()
    request.__dict__["files"] = ImmutableMultiDict()


def _key_response(self: Any, request: Any, full_url: str, headers: Any) -> Any:
    keep_raw_body(request)
    return _state.originals["s3_key_response"](self, request, full_url, headers)


def _dispatcher_get_body(self: Any, environ: dict[str, Any]) -> str | None:
    """The form-urlencoded body as text for moto's service lookup; the bytes stay readable for the request."""
    try:
        form = environ["CONTENT_TYPE"].startswith(_FORM_TYPE)
        size = int(environ["CONTENT_LENGTH"])
    except (KeyError, ValueError):
        return None
    if not (form and size > 0):
        return None
    raw = environ["wsgi.input"].read(size)
    environ["wsgi.input"] = io.BytesIO(raw)  # put back whatever it holds: the request still needs it
    try:
        return raw.decode("utf-8") or None
    except UnicodeDecodeError:  # binary bytes (an object): no Action to find in them
        return None
