"""Stubbed AWS for the aws-only request tests: an aws-target Kit whose clients answer from botocore Stubbers.

Shared by test_aws_requests.py and test_aws_requests_orchestration.py (no test logic here).
"""

from __future__ import annotations

import datetime
import json
import string
from collections.abc import Callable, Iterator

import pytest
from botocore.stub import Stubber

from helpers import config
from helpers.paths import IAM_DIR

ACCOUNT = "111122223333"
REGION = "eu-west-1"
CALLER = f"arn:aws:sts::{ACCOUNT}:assumed-role/workshop/learner"
BUCKET = f"pipeline-dreams-{ACCOUNT}-{REGION}"
TAGS = [{"Key": "pipeline-dreams:kit", "Value": "pipeline-dreams"}, {"Key": "pipeline-dreams:run-id", "Value": "demo"}]
REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
NOW = datetime.datetime(2026, 11, 25, tzinfo=datetime.timezone.utc)


class JsonOf:
    """Equal to a JSON string whose parsed value is ``expected`` (key order and spacing do not matter)."""

    def __init__(self, expected) -> None:
        self.expected = expected

    def __eq__(self, other) -> bool:
        return isinstance(other, str) and json.loads(other) == self.expected

    def __repr__(self) -> str:
        return f"JsonOf({self.expected!r})"


def rendered(kind: str, purpose: str) -> dict:
    """iam/<kind>/<purpose>.json filled by hand with the values the kit must use."""
    text = (IAM_DIR / kind / f"{purpose}.json").read_text()
    return json.loads(string.Template(text).substitute(Account=ACCOUNT, Region=REGION, Partition="aws",
                                                       Prefix="pipeline-dreams", Bucket=BUCKET))


@pytest.fixture
def aws_kit(aws_env, monkeypatch) -> Iterator[tuple[config.Kit, Callable[[str], Stubber]]]:
    """connect(target="aws") with every client's requests answered by a Stubber; yields (kit, stub)."""
    monkeypatch.setattr(config.socket, "create_connection", lambda *a, **k: pytest.fail("probed a local endpoint"))
    kit = config.connect(target="aws", region=REGION)
    stubbers: dict[str, Stubber] = {}

    def stub(service: str) -> Stubber:
        if service not in stubbers:
            client = kit.client(service)
            client.meta.events.register("before-send", lambda **_: pytest.fail(f"{service} request left the test"))
            stubbers[service] = Stubber(client)
            stubbers[service].activate()
        return stubbers[service]

    stub("sts").add_response("get_caller_identity", {"UserId": "AROA:learner", "Account": ACCOUNT, "Arn": CALLER}, {})
    assert kit.account == ACCOUNT  # as a notebook's first cell does; cached from here on
    yield kit, stub
    for stubber in stubbers.values():
        stubber.assert_no_pending_responses()
        stubber.deactivate()
