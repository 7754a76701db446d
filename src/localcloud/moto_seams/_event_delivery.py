"""Seams 10 and 11: EventBridge rule delivery and S3 notifications, as AWS shapes them."""

from __future__ import annotations

import copy
import threading
from typing import Any

from moto.awslambda import models as lambda_models
from moto.core.utils import unix_time
from moto.events import models as events_models
from moto.s3 import notifications as s3_notifications
from moto.stepfunctions import responses as sfn_responses

from localcloud.common import event_shapes as shapes
from localcloud.moto_seams import _state
from localcloud.moto_seams._iam import function_allows, lambda_may_assume, target_role_may_start
from localcloud.moto_seams._lambda import _function_spec


# -- 10. EventBridge rules ------------------------------------------------------------------
def _send_to_targets(self, original_event: dict[str, Any], transform_input: bool = True) -> None:
    if self.state == "DISABLED" or not self.event_pattern.matches_event(original_event):
        return  # moto delivered to disabled rules too
    own = [t for t in self.targets if t["Arn"].split(":")[2:3] in (["states"], ["lambda"])]
    others = [t for t in self.targets if t not in own]
    if others:  # moto's own delivery (SQS, logs, buses, archives) for the rest
        rest = copy.copy(self)
        rest.targets = others
        try:
            _state.originals["events_send_to_targets"](rest, original_event, transform_input)
        except NotImplementedError:  # moto raised and PutEvents answered 500; AWS would deliver
            _state.log.warning("rule %s: localcloud cannot deliver to %s", self.name, [t["Arn"] for t in others])
    event = shapes.as_delivered(original_event)
    for target in own:  # asynchronously, as EventBridge delivers
        _state.cloud.run_in_background(_deliver, target, event, self.arn, self.name, original_event.get("ingestion-time"))


def _deliver(target: dict[str, Any], event: dict[str, Any], rule_arn: str, rule: str, ingested: Any) -> None:
    """Start the state machine, or invoke the function, with what the target makes of the event."""
    arn = target["Arn"]
    try:
        text = shapes.target_input(target, event, rule_arn, rule, ingested)
        _, _, service, region, account, *_ = arn.split(":")
        if service == "states":
            if not target_role_may_start(account, target.get("RoleArn") or "", arn):
                _state.log.warning("rule %s: role %s may not start %s (FailedInvocations)", rule,
                                   target.get("RoleArn"), arn)
                return
            sfn_responses.get_backend(account, region).start_execution(arn, None, text)  # seam 17 first
        else:
            _invoke_function(account, region, arn, shapes.json_or_text(text), ("events.amazonaws.com", rule_arn))
    except Exception as exc:  # noqa: BLE001 - AWS counts a FailedInvocation; the event is dropped
        _state.log.warning("rule %s: could not deliver to %s: %s: %s", rule, arn, type(exc).__name__, exc)


# -- 11. S3 notifications ---------------------------------------------------------------------
_request_local = threading.local()  # the key the current S3 request created (see _s3_send_event)


def _s3_send_event(account_id: str, event_name: str, bucket: Any, key: Any) -> None:
    config = bucket.notification_configuration
    if event_name.startswith("s3:ObjectCreated"):
        _request_local.created = key
        if event_name == "s3:ObjectCreated:Put" and getattr(key, "multipart", None) is not None:
            return  # moto's CompleteMultipartUpload puts the object first; AWS sends only the completion
    elif event_name == "s3:ObjectTagging:Put" and getattr(_request_local, "created", None) is key:
        return  # moto tags every new key in the same request; AWS sends no tagging event for that
    if config is None:
        return
    details = {"account": account_id, "region": bucket.region_name, "bucket": bucket.name, "bucket_arn": bucket.arn,
               "key": key.name, "size": key.size, "etag": key.etag.strip('"'), "version_id": key.version_id}
    for kind, arn, record in shapes.s3_notifications(config, event_name, details):
        region = arn.split(":")[3]
        if kind == "lambda":  # asynchronous, as S3 invokes functions
            _state.cloud.run_in_background(_invoke_function, account_id, region, arn, record,
                                           ("s3.amazonaws.com", bucket.arn))
        elif kind == "sqs":
            s3_notifications._send_sqs_message(account_id, record, arn.split(":")[-1], region)
        else:
            s3_notifications._send_sns_message(account_id, record, arn, region)
    detail_type = shapes.s3_detail_type(event_name)
    if config.event_bridge is not None and detail_type:
        event = shapes.s3_eventbridge_event(event_name=event_name, detail_type=detail_type, requester=account_id,
                                            **details)
        _state.cloud.run_in_background(_put_on_default_bus, account_id, bucket.region_name, event)


def _invoke_function(account: str, region: str, arn: str, event: Any, caller: tuple[str, str]) -> None:
    """An asynchronous invocation (S3 notification, EventBridge target): nobody hears of failures.

    ``caller``: (service principal, source ARN); the function must have granted it lambda:InvokeFunction.
    """
    try:
        function = lambda_models.lambda_backends[account][region].get_function(arn)
        if not lambda_may_assume(account, function.role or ""):
            _state.log.warning("%s: the role defined for the function cannot be assumed by Lambda", arn)
            return
        if not function_allows(function, caller[0], caller[1], account):
            _state.log.warning("%s may not invoke %s: the function's policy grants it no lambda:InvokeFunction "
                               "(add_permission)", caller[0], arn)
            return
        _state.cloud.lambda_runtime.invoke(_function_spec(function), event, wait=True)
    except Exception as exc:  # noqa: BLE001 - an asynchronous invoke fails without telling the caller
        _state.log.warning("asynchronous invocation of %s failed: %s: %s", arn, type(exc).__name__, exc)


def _put_on_default_bus(account: str, region: str, event: dict[str, Any]) -> None:
    """S3 sends to the default bus only (moto sent to every bus, without input transformation)."""
    bus = events_models.events_backends[account][region].event_buses.get("default")
    now = unix_time()
    for rule in list(bus.rules.values()) if bus else []:
        try:
            rule.send_to_targets({**event, "time": now, "ingestion-time": now})
        except Exception as exc:  # noqa: BLE001 - one rule's failure does not stop the others
            _state.log.warning("rule %s: delivery failed: %s: %s", rule.name, type(exc).__name__, exc)

