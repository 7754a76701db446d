"""An execution's picture, live: each state coloured by what the execution history says of it, as the console does.

:func:`state_statuses` reads GetExecutionHistory's events (the same call on AWS and offline); :class:`LivePicture`
shows the state machine picture (helpers.diagrams) below the wait line and redraws it in place whenever a state's
status changes, so the colours move while the execution runs. The last picture is a plain SVG and PNG output, so
the saved notebook and the handout keep the final colours without a kernel.

A state is *running* from its ``…StateEntered`` event, *succeeded* at its ``…StateExited``, *caught* when it exited
after a failure event (its ``Catch`` led on; a ``Retry`` that then succeeded is a success), *failed* when the
execution failed or timed out while it ran (a ``Fail`` state included), *aborted* when the execution was stopped,
and *not reached* otherwise. States inside a Parallel or Map branch are not in the definition's top level and are
left out.
"""

from __future__ import annotations

from typing import Any

from helpers.diagrams import StateMachinePicture
from helpers.progress import Display, in_kernel

_EXECUTION_END = {"ExecutionFailed": "failed", "ExecutionTimedOut": "failed", "ExecutionAborted": "aborted"}


def state_statuses(events: list[dict[str, Any]], definition: dict[str, Any]) -> dict[str, str]:
    """Every top-level state's status after ``events`` (GetExecutionHistory's, oldest first): running, succeeded,
    failed, caught, aborted or not-reached."""
    statuses = {name: "not-reached" for name in definition["States"]}
    current: str | None = None
    errored: set[str] = set()
    for event in sorted(events, key=lambda e: e["id"]):
        kind = event["type"]
        name = (event.get("stateEnteredEventDetails") or event.get("stateExitedEventDetails") or {}).get("name")
        if kind.endswith("StateEntered") and name in statuses:
            statuses[name], current = "running", name
            errored.discard(name)
        elif kind.endswith("StateExited") and name in statuses:
            statuses[name] = "caught" if name in errored else "succeeded"
            current = None if current == name else current
        elif kind in _EXECUTION_END:
            for state, status in statuses.items():
                if status == "running":
                    statuses[state] = _EXECUTION_END[kind]
        elif current and not kind.startswith("Execution"):
            if kind.endswith(("Failed", "TimedOut")):  # TaskFailed, LambdaFunctionFailed, TaskTimedOut, ...
                errored.add(current)
            elif kind.endswith("Succeeded"):  # a retry that worked
                errored.discard(current)
    return statuses


class LivePicture:
    """The picture of one execution in a notebook cell, redrawn in place when a status changes (no-op elsewhere)."""

    def __init__(self, definition: dict[str, Any], title: str) -> None:
        self.definition, self.title = definition, title
        self.display = Display() if in_kernel() else None
        self.statuses: dict[str, str] | None = None
        self.status: str | None = None

    def show(self, statuses: dict[str, str], status: str) -> None:
        """Draw ``statuses`` (unchanged ones are not drawn again); ``status`` is the execution's, for the title."""
        if self.display is None or (statuses, status) == (self.statuses, self.status):
            return
        self.statuses, self.status = dict(statuses), status
        picture = StateMachinePicture(self.definition, f"{self.title}: {status}", statuses)
        self.display.show(picture._repr_mimebundle_())
