"""Which Step Functions executions are in a quick step: what :mod:`localcloud.sagemaker.jobs.startup_order` asks.

Kept apart from ``_stepfunctions`` (which imports moto's Step Functions parser, ~0.6 s with the EC2
models it pulls in) so that the cloud's job runner can ask before anything has used Step Functions.
"""

from __future__ import annotations

import threading
from typing import Any

_executions: set[Any] = set()  # moto's Execution objects started since the cloud started; pruned when ended
_executions_lock = threading.Lock()
# The last history event of an execution that waits: a Wait state, a .sync or callback task that has
# submitted its work, an activity. Anything else is a step in progress (a Lambda Task, a Choice, ...).
_WAITING = {"WaitStateEntered", "TaskSubmitted", "ActivityScheduled", "ActivityStarted"}


def executions_busy() -> bool:
    """True while a running execution is in a quick step (not waiting; see localcloud.sagemaker.jobs.startup_order)."""
    with _executions_lock:
        running = [e for e in _executions if _status(e) in (None, "RUNNING")]
        _executions.intersection_update(running)
    for execution in running:
        worker = execution.exec_worker
        env = getattr(worker, "env", None)
        events = env.event_manager._history_event_list if env is not None else []
        if not events:
            return True  # starting
        last = events[-1]["type"]
        if str(getattr(last, "value", last)) not in _WAITING:
            return True
    return False


def _status(execution: Any) -> str | None:
    status = execution.exec_status
    return None if status is None else str(getattr(status, "value", status))


def started(execution: Any) -> None:
    """Remember an execution moto started (``_stepfunctions._start_execution``)."""
    with _executions_lock:
        _executions.add(execution)
