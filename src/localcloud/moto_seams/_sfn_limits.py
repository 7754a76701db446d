"""Seams 19-21 (and seam 6's input check): Step Functions quotas and terminal errors as AWS enforces them.

* 6. StartExecution refuses an input over 262,144 UTF-8 bytes (moto started it; its first state then
  failed). https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html
* 19. A standard workflow's history stops at 25,000 events: event 25,000 is ExecutionFailed
  (States.Runtime) unless it is the execution's own end, and the execution stops working. moto kept
  appending: an endless loop wrote 134,913 events in 35 s at 1.8 cores, never ending.
  https://docs.aws.amazon.com/step-functions/latest/dg/bp-history-limit.html
* 20. A Parallel branch or Map iteration failing with a ``States.*`` error fails its state with that
  error (moto turned the name into a custom error name, which refuses ``States.``: a Python ValueError
  reported as States.Runtime).
* 21. ``States.ALL`` catches and retries neither States.DataLimitExceeded nor States.Runtime
  (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html); naming them still does.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
from moto.stepfunctions.parser.asl.component.common.error_name import error_equals_decl
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import iteration_worker
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branches_decl
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.parser.backend import execution_worker

from localcloud.moto_seams import _state

PAYLOAD_LIMIT = 262144  # bytes of UTF-8: an execution's input, a state's or task's input and output
HISTORY_LIMIT = 25000  # events in a standard workflow's history (express workflows have no limit)
HISTORY_CAUSE = f"The execution reached the maximum number of history events ({HISTORY_LIMIT})."
_ENDS = {HistoryEventType.ExecutionSucceeded, HistoryEventType.ExecutionFailed, HistoryEventType.ExecutionAborted,
         HistoryEventType.ExecutionTimedOut}
# terminal errors States.ALL does not match (AWS's error handling page)
_UNCATCHABLE = {StatesErrorNameType.StatesStatesDataLimitExceeded, StatesErrorNameType.StatesRuntime}
# the module-level names seam 20 replaces (each module imported CustomErrorName by name)
ERROR_NAME_MODULES = {"sfn_branch_error_name": branches_decl, "sfn_iteration_error_name": iteration_worker}

__all__ = ["ERROR_NAME_MODULES", "HISTORY_LIMIT", "PAYLOAD_LIMIT", "CappedEventManager", "check_execution_input",
           "error_equals", "error_equals_decl", "evaluation_environment", "states_error_name", "execution_worker"]


# -- 6. the execution's input ------------------------------------------------------------------
def check_execution_input(execution_input: str | None) -> None:
    """Raise AWS's ValidationException when StartExecution's input is over :data:`PAYLOAD_LIMIT` bytes.

    AWS words a broken length constraint as ``1 validation error detected: Value at 'input' failed to
    satisfy constraint: ...``; the input is sensitive data, so its value is not echoed back.
    """
    if execution_input is not None and len(execution_input.encode("utf-8")) > PAYLOAD_LIMIT:
        raise JsonRESTError("ValidationException", "1 validation error detected: Value at 'input' failed to "
                            f"satisfy constraint: Member must have length less than or equal to {PAYLOAD_LIMIT}")


# -- 19. the history cap -------------------------------------------------------------------------
class CappedEventManager(EventManager):
    """moto's event history of one execution, which fails the execution when it reaches 25,000 events.

    At event 24,999 the next event must be the execution's end; any other is not written: the execution
    is failed instead (States.Runtime, AWS's cause), and its ExecutionFailed becomes event 25,000. Events
    the interpreter still reports while it unwinds (a state's exit, a Map iteration's end) are dropped.
    """

    def __init__(self, env: Any) -> None:
        super().__init__(cloud_watch_logging_session=env.cloud_watch_logging_session)
        self._root = weakref.ref(env)  # the execution's own environment (frames share this manager)
        self._cap_lock = threading.Lock()  # Map iterations and Parallel branches add events from threads
        self._full = False
        self._ended = False

    def add_event(self, context, event_type, event_details=None, timestamp=None, update_source_event_id=True):
        with self._cap_lock:
            if self._ended:
                return context.last_published_event_id
            if self._full:
                if event_type != HistoryEventType.ExecutionFailed:
                    return context.last_published_event_id
                self._ended = True
                self._fail_execution()  # the failure that ends the unwinding may have replaced AWS's error
                return super().add_event(context=context, event_type=event_type, timestamp=timestamp,
                                         event_details=EventDetails(executionFailedEventDetails=_history_failure()),
                                         update_source_event_id=update_source_event_id)
            if len(self._history_event_list) < HISTORY_LIMIT - 1 or event_type in _ENDS:
                self._ended = event_type in _ENDS
                return super().add_event(context=context, event_type=event_type, event_details=event_details,
                                         timestamp=timestamp, update_source_event_id=update_source_event_id)
            self._full = True
        root = self._fail_execution()
        # unwind the state that wanted to write: the execution is over (States.ALL does not catch this)
        raise FailureEventException(FailureEvent(
            env=root, error_name=StatesErrorName(typ=StatesErrorNameType.StatesRuntime),
            event_type=HistoryEventType.ExecutionFailed,
            event_details=EventDetails(executionFailedEventDetails=_history_failure())))

    def _fail_execution(self) -> Any:
        root = self._root()
        if root is not None:
            root.set_error(error=_history_failure())  # every frame stops too (Map iterations, branches)
        return root


def _history_failure() -> ExecutionFailedEventDetails:
    return ExecutionFailedEventDetails(error=StatesErrorNameType.StatesRuntime.to_name(), cause=HISTORY_CAUSE)


def evaluation_environment(self: Any) -> Any:
    """Replaces ``ExecutionWorker._get_evaluation_environment``: a standard workflow's history is capped."""
    env = _state.originals["sfn_evaluation_environment"](self)
    if env.is_standard_workflow():
        env.event_manager = CappedEventManager(env)
    return env


# -- 20. States.* errors out of branches and iterations -----------------------------------------
def states_error_name(error_name: str | None) -> Any:
    """What moto's branch and iteration code builds from a failed program's error name: ``States.*``
    names stay the states error they are (moto's CustomErrorName raises ValueError on them)."""
    if error_name is not None and error_name.startswith("States."):
        try:
            return StatesErrorName.from_name(error_name)
        except ValueError:
            pass  # a States.* name moto does not know: moto's own refusal follows
    return CustomErrorName(error_name=error_name)


# -- 21. terminal errors -------------------------------------------------------------------------
def error_equals(self: Any, env: Any) -> None:
    """Replaces ``ErrorEqualsDecl._eval_body``: States.ALL does not match a terminal error."""
    error = env.stack[-1] if env.stack else None
    if (isinstance(error, StatesErrorName) and error.typ in _UNCATCHABLE
            and not any(name == error for name in self.error_names)):
        env.stack.pop()
        env.stack.append(False)
        return
    _state.originals["sfn_error_equals"](self, env)
