"""Triggers: S3 → EventBridge → Step Functions."""

from __future__ import annotations

import json
import time
from typing import Any

from helpers.calls import showable
from helpers.config import Kit


@showable
def enable_eventbridge(kit: Kit, bucket: str) -> None:
    """Make the bucket send its events to EventBridge (all of them; rules pick what they want)."""
    kit.client("s3").put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})
    print(f"bucket {bucket} sends its events to EventBridge")


def uploads_pattern(bucket: str, prefix: str) -> dict[str, Any]:
    """The event pattern for "an object was created in ``bucket`` under ``prefix``"."""
    return {"source": ["aws.s3"], "detail-type": ["Object Created"],
            "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": prefix}]}}}


@showable
def ensure_rule(kit: Kit, name: str, pattern: dict[str, Any], target_arn: str, role_arn: str,
                input_transformer: dict[str, Any] | None = None) -> str:
    """Create or update a rule with one target; return the rule's ARN."""
    events = kit.client("events")
    arn = events.put_rule(Name=name, EventPattern=json.dumps(pattern), State="ENABLED", Tags=kit.tags(),
                          Description=f"{kit.settings.prefix}: start the pipeline for new uploads")["RuleArn"]
    target: dict[str, Any] = {"Id": "pipeline", "Arn": target_arn, "RoleArn": role_arn}
    if input_transformer:
        target["InputTransformer"] = input_transformer
    failed = events.put_targets(Rule=name, Targets=[target])
    if failed.get("FailedEntryCount"):
        raise RuntimeError(f"rule {name}: target refused: {failed['FailedEntries']}")
    print(f"rule {name} → {target_arn.split(':')[-1]}")
    return arn


def execution_started_by(kit: Kit, state_machine_arn: str, marker: str, timeout: float = 120) -> str:
    """The execution whose input mentions ``marker`` (an uploaded key), waiting for it to appear."""
    sfn = kit.client("stepfunctions")
    deadline = time.monotonic() + timeout
    delay = 0.2
    while True:
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn):
            for execution in page["executions"]:
                described = sfn.describe_execution(executionArn=execution["executionArn"])
                if marker in described.get("input", ""):
                    return execution["executionArn"]
        if time.monotonic() > deadline:
            raise TimeoutError(f"no execution of {state_machine_arn.split(':')[-1]} mentions {marker!r} "
                               f"after {timeout:.0f} s: is the rule enabled and the bucket sending events?")
        time.sleep(delay)
        delay = min(delay * 1.5, 10)
