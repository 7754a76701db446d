"""18. S3's conditional writes: the condition and the write are one step, as on AWS.

moto checks ``If-None-Match``/``If-Match`` and then stores the object, in one request handler but not
atomically: request threads interleave between the two, and under load two of twelve writers racing for
a new key with ``If-None-Match: *`` both got 200 (seen with 3 test workers on 2 cores). The kit claims
run ids with exactly that write. AWS lets one writer win and answers the others 412 Precondition Failed
(or 409 ConditionalRequestConflict): https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html.
Conditional PutObject and CompleteMultipartUpload requests therefore run one at a time; other writes
are not held up.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from localcloud.moto_seams import _state

_conditional_writes = threading.Lock()


def _conditional(headers: Mapping[str, str]) -> bool:
    return bool(headers.get("If-None-Match") or headers.get("If-Match"))


def _put_object(self: Any) -> Any:
    if not _conditional(self.headers):
        return _state.originals["s3_put_object"](self)
    with _conditional_writes:
        return _state.originals["s3_put_object"](self)


def _key_response_post(self: Any, request: Any, body: bytes, bucket_name: str, query: dict[str, Any],
                       key_name: str) -> Any:
    original = _state.originals["s3_key_response_post"]
    if not (query.get("uploadId") and _conditional(request.headers)):  # not a conditional multipart completion
        return original(self, request, body, bucket_name, query, key_name)
    with _conditional_writes:
        return original(self, request, body, bucket_name, query, key_name)
