"""Event shapes as AWS sends them, and what an EventBridge target receives.

* S3 → EventBridge: :func:`s3_eventbridge_event` (``source: aws.s3``; the key is *not* URL-encoded).
* S3 → Lambda/SQS/SNS notifications: :func:`s3_notification_record` (the key *is* URL-encoded,
  form style: ``/`` kept, space → ``+``).
* Rule targets: :func:`target_input` applies a target's ``Input``, ``InputPath`` or
  ``InputTransformer`` to the matched event.

Pure functions on plain data: :mod:`localcloud.moto_seams` reads moto's records and delivers.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import secrets
import string
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote_plus

_MISSING = object()
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")
_PATH_TOKEN = re.compile(r"\.([^.\[\]]+)|\[(\d+|\*)\]")
_sequence = itertools.count()
# s3:<event name> -> the API call EventBridge names as the "reason" of an S3 event
_REASONS = {
    "s3:ObjectCreated:Put": "PutObject", "s3:ObjectCreated:Post": "POST Object",
    "s3:ObjectCreated:Copy": "CopyObject", "s3:ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
    "s3:ObjectRemoved:Delete": "DeleteObject", "s3:ObjectRemoved:DeleteMarkerCreated": "DeleteObject",
    "s3:LifecycleExpiration:Delete": "Lifecycle Expiration",
    "s3:LifecycleExpiration:DeleteMarkerCreated": "Lifecycle Expiration",
}


def iso_time(epoch: float | None = None, millis: bool = False) -> str:
    """``2026-11-25T00:54:07Z`` (EventBridge) or ``...07.123Z`` (S3 notification records)."""
    moment = datetime.fromtimestamp(time.time() if epoch is None else float(epoch), timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{moment.microsecond // 1000:03d}Z" if millis else "Z")


def encode_key(key: str) -> str:
    """An object key as S3 notification records carry it: ``incoming/my file.csv`` → ``incoming/my+file.csv``."""
    return quote_plus(key, safe="/")


def sequencer() -> str:
    """An increasing hex string, like the ``sequencer`` S3 puts in its events."""
    return f"{time.time_ns() + next(_sequence):018X}"


def request_id() -> str:
    """A request id in the style of S3's (16 upper-case letters and digits)."""
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(16))


def s3_eventbridge_event(*, event_name: str, detail_type: str, account: str, region: str, bucket: str,
                         bucket_arn: str, key: str, size: int | None, etag: str, version_id: str | None,
                         requester: str, source_ip: str = "127.0.0.1", epoch: float | None = None) -> dict[str, Any]:
    """An S3 event as the default event bus receives it (e.g. ``detail-type: Object Created``)."""
    obj: dict[str, Any] = {"key": key}
    if detail_type == "Object Created" and size is not None:
        obj["size"] = size
    obj["etag"] = etag
    if version_id and version_id != "null":
        obj["version-id"] = version_id
    if detail_type in ("Object Created", "Object Deleted"):
        obj["sequencer"] = sequencer()
    detail: dict[str, Any] = {"version": "0", "bucket": {"name": bucket}, "object": obj,
                              "request-id": request_id(), "requester": requester, "source-ip-address": source_ip}
    if event_name in _REASONS:
        detail["reason"] = _REASONS[event_name]
    if detail_type == "Object Deleted":
        detail["deletion-type"] = ("Delete Marker Created" if event_name.endswith("DeleteMarkerCreated")
                                   else "Permanently Deleted")
    return {"version": "0", "id": _event_id(), "detail-type": detail_type, "source": "aws.s3",
            "account": account, "time": iso_time(epoch), "region": region, "resources": [bucket_arn],
            "detail": detail}


def s3_notification_record(*, event_name: str, configuration_id: str, account: str, region: str, bucket: str,
                           bucket_arn: str, key: str, size: int | None, etag: str,
                           version_id: str | None) -> dict[str, Any]:
    """An S3 event notification (Lambda, SQS, SNS): ``{"Records": [...]}`` with one record."""
    obj: dict[str, Any] = {"key": encode_key(key)}
    if event_name.startswith("s3:ObjectCreated"):
        obj.update({"size": size, "eTag": etag})
    if version_id and version_id != "null":
        obj["versionId"] = version_id
    obj["sequencer"] = sequencer()
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": region, "eventTime": iso_time(millis=True),
        "eventName": event_name.removeprefix("s3:"), "userIdentity": {"principalId": f"AWS:{account}"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": request_id(),
                             "x-amz-id-2": base64.b64encode(secrets.token_bytes(48)).decode()},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": configuration_id,
               "bucket": {"name": bucket, "ownerIdentity": {"principalId": account}, "arn": bucket_arn},
               "object": obj}}]}


def s3_filter_matches(filters: dict[str, Any] | None, key: str) -> bool:
    """Whether ``key`` passes a notification's ``Filter.S3Key.FilterRule`` (prefix/suffix, one or a list)."""
    rules = ((filters or {}).get("S3Key") or {}).get("FilterRule") or []
    if isinstance(rules, dict):  # one rule parsed from XML is a dict, not a list of one
        rules = [rules]
    for rule in rules:
        name, value = str(rule.get("Name", "")).lower(), rule.get("Value", "")
        if (name == "prefix" and not key.startswith(value)) or (name == "suffix" and not key.endswith(value)):
            return False
    return True


# -- what a target receives ------------------------------------------------------------------
def json_path(document: Any, path: str) -> Any:
    """Evaluate EventBridge's JSONPath subset (``$.a.b``, ``$.a[0]``, ``$.a[*].b``); ``_MISSING`` if absent."""
    path = path.strip()
    if not path.startswith("$"):
        raise ValueError(f"JSONPath must start with $: {path!r}")
    values, rest = [document], path[1:]
    wildcard = False
    while rest:
        match = _PATH_TOKEN.match(rest)
        if not match:
            raise ValueError(f"unsupported JSONPath {path!r}")
        rest = rest[match.end():]
        name, index = match.group(1), match.group(2)
        found = []
        for value in values:
            if name is not None and isinstance(value, dict) and name in value:
                found.append(value[name])
            elif index == "*" and isinstance(value, list):
                found.extend(value)
            elif index is not None and index != "*" and isinstance(value, list) and int(index) < len(value):
                found.append(value[int(index)])
        wildcard = wildcard or index == "*"
        values = found
    if wildcard:
        return values
    return values[0] if values else _MISSING


def render_input_template(template: str, values: dict[str, Any]) -> str:
    """Fill an InputTransformer template's ``<name>`` placeholders.

    A JSON template (``{...}``) gets JSON values where a placeholder stands bare and escaped
    text inside a quoted string; any other template gets the values' plain text. A variable
    whose path matched nothing becomes ``null`` (bare, JSON) or empty text.
    """
    is_json = template.lstrip().startswith("{")
    out: list[str] = []
    in_string = False
    i = 0
    while i < len(template):
        char = template[i]
        if is_json and in_string and char == "\\":
            out.append(template[i:i + 2])
            i += 2
            continue
        if is_json and char == '"':
            in_string = not in_string
        match = _PLACEHOLDER.match(template, i) if char == "<" else None
        if match and match.group(1) in values:
            out.append(_substitute(values[match.group(1)], is_json, in_string))
            i = match.end()
            continue
        out.append(char)
        i += 1
    return "".join(out)


def _substitute(value: Any, is_json: bool, in_string: bool) -> str:
    if value is _MISSING:
        return "null" if is_json and not in_string else ""
    text = value if isinstance(value, str) else json.dumps(value)
    if not is_json:
        return text
    if in_string:
        return json.dumps(text)[1:-1]
    return json.dumps(value)


def target_input(target: dict[str, Any], event: dict[str, Any], rule_arn: str, rule_name: str,
                 ingestion_epoch: float | None = None) -> str:
    """The text a rule's target receives for a matched ``event`` (AWS-shaped, ``time`` as ISO text)."""
    if target.get("Input") is not None:
        return target["Input"]
    if target.get("InputPath"):
        value = json_path(event, target["InputPath"])
        return json.dumps(None if value is _MISSING else value)
    transformer = target.get("InputTransformer")
    if transformer:
        values = {name: json_path(event, path) for name, path in (transformer.get("InputPathsMap") or {}).items()}
        values.update({
            "aws.events.rule-arn": rule_arn, "aws.events.rule-name": rule_name,
            "aws.events.event.ingestion-time": iso_time(ingestion_epoch),
            "aws.events.event": {k: v for k, v in event.items() if k != "detail"},
            "aws.events.event.json": event})
        return render_input_template(transformer["InputTemplate"], values)
    return json.dumps(event)


def json_or_text(text: str) -> Any:
    """A target input as a function's event: the JSON it holds, or the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _event_id() -> str:
    raw = secrets.token_hex(16)
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def s3_event_matches(configured: list[str], event_name: str) -> bool:
    """Whether a notification's ``Events`` (e.g. ``s3:ObjectCreated:*``) include ``event_name``."""
    return event_name in configured or event_name.rsplit(":", 1)[0] + ":*" in configured


def s3_detail_type(event_name: str) -> str | None:
    """The EventBridge ``detail-type`` of an S3 event name; None for events S3 does not send there."""
    kinds = [("s3:ObjectCreated:", "Object Created"), ("s3:ObjectRemoved:", "Object Deleted"),
             ("s3:LifecycleExpiration:", "Object Deleted"), ("s3:ObjectRestore:Post", "Object Restore Initiated"),
             ("s3:ObjectRestore:Completed", "Object Restore Completed"),
             ("s3:ObjectRestore:Delete", "Object Restore Expired"),
             ("s3:LifecycleTransition", "Object Storage Class Changed"),
             ("s3:IntelligentTiering", "Object Access Tier Changed"), ("s3:ObjectAcl:Put", "Object ACL Updated"),
             ("s3:ObjectTagging:Put", "Object Tags Added"), ("s3:ObjectTagging:Delete", "Object Tags Deleted")]
    return next((kind for prefix, kind in kinds if event_name.startswith(prefix)), None)


def as_delivered(event: dict[str, Any]) -> dict[str, Any]:
    """An event as a target receives it: ``time`` as ISO text, no bookkeeping fields."""
    delivered = {k: v for k, v in event.items() if k != "ingestion-time"}
    if isinstance(delivered.get("time"), (int, float)):
        delivered["time"] = iso_time(delivered["time"])
    return delivered


def s3_notifications(configuration: Any, event_name: str, details: dict[str, Any]) -> list[tuple[str, str, dict]]:
    """(kind, target ARN, record) for each of a bucket's notifications that ``event_name`` triggers.

    ``configuration`` has ``cloud_function``, ``queue`` and ``topic`` lists of notifications
    with ``events``, ``filters``, ``arn`` and ``id``; kind is ``lambda``, ``sqs`` or ``sns``;
    ``details`` are the keyword arguments of :func:`s3_notification_record` about the object.
    """
    found = []
    for kind, notifications in (("lambda", configuration.cloud_function), ("sqs", configuration.queue),
                                ("sns", configuration.topic)):
        for notification in notifications:
            if s3_event_matches(notification.events, event_name) and s3_filter_matches(notification.filters,
                                                                                        details["key"]):
                found.append((kind, notification.arn, s3_notification_record(
                    event_name=event_name, configuration_id=notification.id, **details)))
    return found
