"""The IAM side of the documents test: sample kit, ARNs, needs and a small policy evaluator (no test logic here).

A :class:`Need` is one request a role must be allowed to make: an action, a resource ARN and
the condition keys the request carries. :func:`allowed` evaluates it against a rendered policy
(Allow statements; ``*``/``?`` wildcards on action and resource; StringEquals/StringLike on the
keys the need supplies, other conditions ignored).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from helpers import config, iam

RUN = "sample-run"
PASSED_TO_SAGEMAKER = {"iam:PassedToService": "sagemaker.amazonaws.com"}


@dataclass(frozen=True)
class Need:
    """One request a role must be allowed to make, and where in the code it comes from."""

    action: str
    resource: str
    source: str
    context: tuple[tuple[str, str], ...] = field(default=())


def sample_kit(region: str, prefix: str = "iam-check", account: str = "111122223333") -> config.Kit:
    """A Kit that answers account, names and tags without any AWS call (for rendering documents)."""
    settings = config.Settings(target="aws", region=region, prefix=prefix, run_id=RUN, endpoint_url=None)
    kit = config.Kit(settings, session=None)
    kit.__dict__["account"] = account  # the cached_property STS would fill
    return kit


class Arns:
    """ARNs of the sample kit's resources."""

    def __init__(self, kit: config.Kit) -> None:
        self.kit, self.names = kit, kit.names
        self.partition, self.region, self.account = iam.partition(kit.region), kit.region, kit.account

    def regional(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"

    def object(self, key: str) -> str:
        return f"arn:{self.partition}:s3:::{self.names.bucket}/{key}"

    def bucket(self) -> str:
        return f"arn:{self.partition}:s3:::{self.names.bucket}"

    def role(self, purpose: str) -> str:
        return f"arn:{self.partition}:iam::{self.account}:role/{self.names.role(purpose)}"

    def function(self, purpose: str) -> str:
        return self.regional("lambda", f"function:{self.names.function(purpose)}")

    def log_group(self, name: str) -> str:
        return self.regional("logs", f"log-group:{name}:*")

    def log_stream(self, group: str, stream: str) -> str:
        return self.regional("logs", f"log-group:{group}:log-stream:{stream}")


# -- the evaluator --------------------------------------------------------------------------------

def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _condition_holds(condition: dict[str, dict[str, Any]], context: dict[str, str]) -> bool:
    """StringEquals/StringLike on the keys the request supplies; other keys and operators are ignored."""
    for operator, tests in condition.items():
        for key, expected in tests.items():
            if key not in context:
                continue
            if operator == "StringEquals" and context[key] not in as_list(expected):
                return False
            if operator == "StringLike" and not any(fnmatchcase(context[key], p) for p in as_list(expected)):
                return False
    return True


def statement_matches(statement: dict[str, Any], need: Need) -> bool:
    """Action and Resource match with IAM's ``*``/``?`` wildcards (actions case-insensitively)."""
    return (any(fnmatchcase(need.action.lower(), a.lower()) for a in as_list(statement["Action"]))
            and any(fnmatchcase(need.resource, r) for r in as_list(statement["Resource"]))
            and _condition_holds(statement.get("Condition", {}), dict(need.context)))


def allowed(document: dict[str, Any], need: Need) -> bool:
    """True when an Allow statement matches and no Deny does."""
    matching = [s for s in document["Statement"] if statement_matches(s, need)]
    return any(s["Effect"] == "Allow" for s in matching) and not any(s["Effect"] == "Deny" for s in matching)


def rendered_policy(kit: config.Kit, purpose: str, iam_dir: Path) -> dict[str, Any]:
    return iam.render_document(kit, iam_dir / "policies" / f"{purpose}.json")


def dumps(needs: list[Need]) -> str:
    return json.dumps([vars(n) for n in needs], indent=1, default=list)
