"""The IAM side of the documents test: sample kit, ARNs, needs and a small policy evaluator (no test logic here).

A :class:`Need` is one request a role must be allowed to make: an action, a resource ARN and
the condition keys the request carries. :func:`allowed` evaluates it against a rendered policy with the local
cloud's own evaluator, so the documents are checked by the rules the offline run enforces.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers import config, iam
from localcloud.moto_seams._iam_policy import ALLOW, NEUTRAL, evaluate, statement_effect

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


# -- the evaluator: the local cloud's own (AWS's rules, tested rule by rule in tests/localcloud) ----------------

def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def statement_matches(statement: dict[str, Any], need: Need) -> bool:
    """The statement applies to the need (action, resource and conditions), by the local cloud's evaluator."""
    return statement_effect(statement, need.action, need.resource, dict(need.context)) != NEUTRAL


def allowed(document: dict[str, Any], need: Need) -> bool:
    """True when the policy allows the need: an Allow matches (action, resource, conditions on the need's keys)
    and no Deny does, as :func:`localcloud.moto_seams._iam_policy.evaluate` decides for the local cloud's IAM."""
    return evaluate([document], need.action, need.resource, dict(need.context)) == ALLOW


def rendered_policy(kit: config.Kit, purpose: str, iam_dir: Path) -> dict[str, Any]:
    return iam.render_document(kit, iam_dir / "policies" / f"{purpose}.json")


def dumps(needs: list[Need]) -> str:
    return json.dumps([vars(n) for n in needs], indent=1, default=list)
