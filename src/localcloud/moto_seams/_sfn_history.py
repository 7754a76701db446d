"""Seam 22: GetExecutionHistory answers page by page, as AWS does.

moto answered every call with the whole history, oldest first, whatever ``maxResults``, ``reverseOrder``
and ``nextToken`` said, and deep-copied all of it first: a capped history (25,000 events, seam 19) took
11.5 s to fetch. AWS answers at most ``maxResults`` events (default 100, at most 1,000), newest first when
``reverseOrder`` is true, with a ``nextToken`` while there are more
(https://docs.aws.amazon.com/step-functions/latest/apireference/API_GetExecutionHistory.html).

Kept apart from ``_sfn_limits`` (which imports moto's Step Functions parser): this seam is installed with
the others at start-up and must not import it.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

from moto.core.responses import ActionResult
from moto.stepfunctions.exceptions import InvalidToken, ValidationException

DEFAULT_PAGE = 100
MAX_PAGE = 1000


def _token(arn: str, reverse: bool, offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([arn, reverse, offset]).encode()).decode()


def _offset(token: str | None, arn: str, reverse: bool) -> int:
    """Where the page of ``token`` starts; InvalidToken for one made for another call."""
    if not token:
        return 0
    try:
        made_for_arn, made_reverse, offset = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError):
        raise InvalidToken() from None
    if made_for_arn != arn or made_reverse != reverse or not isinstance(offset, int) or offset < 0:
        raise InvalidToken()
    return offset


def _page_size(value: Any) -> int:
    size = int(value) if value not in (None, "") else 0
    if size < 0 or size > MAX_PAGE:
        bound = "greater than or equal to 0" if size < 0 else f"less than or equal to {MAX_PAGE}"
        raise ValidationException(f"1 validation error detected: Value '{size}' at 'maxResults' failed to "
                                  f"satisfy constraint: Member must have value {bound}")
    return size or DEFAULT_PAGE  # AWS: "A value of 0 uses the default"


def _events(execution: Any) -> list[Any]:
    """The execution's events as moto records them (not copied: only the page is)."""
    env = getattr(getattr(execution, "exec_worker", None), "env", None)
    if env is None:  # not started yet
        return []
    manager = env.event_manager
    with manager._mutex:
        return list(manager._history_event_list)


def _get_execution_history(self: Any) -> ActionResult:
    """Replaces ``StepFunctionResponse.get_execution_history``."""
    arn = self._get_param("executionArn")
    reverse = bool(self._get_param("reverseOrder"))
    size = _page_size(self._get_param("maxResults"))
    offset = _offset(self._get_param("nextToken"), arn, reverse)
    execution = self.stepfunction_backend.describe_execution(arn)  # AWS's errors for a bad or unknown ARN
    events = _events(execution)
    if reverse:
        events.reverse()
    result: dict[str, Any] = {"events": copy.deepcopy(events[offset:offset + size])}
    if offset + size < len(events):
        result["nextToken"] = _token(arn, reverse, offset + size)
    return ActionResult(result)
