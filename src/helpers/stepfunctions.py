"""Step Functions: templated definitions, create-or-update, start, watch and read the history."""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd

from helpers.calls import showable
from helpers.config import Kit
from helpers.paths import STATEMACHINES_DIR
from helpers.progress import poll, strip_metadata
from helpers.retry import with_role_retry


_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


class ExecutionFailed(RuntimeError):
    """An execution ended FAILED, TIMED_OUT or ABORTED; the message has its error and readable cause.

    The cause is :func:`failure_cause`'s reading of it (a failed job's ``FailureReason``, a handler's
    ``errorMessage``) rather than the whole Describe* JSON a ``.sync`` task puts there; ``execution``
    keeps everything.
    """

    def __init__(self, execution: dict[str, Any]) -> None:
        self.execution = execution
        super().__init__(f"execution {execution['name']} {execution['status']}: "
                         f"{execution.get('error', '')}: {failure_cause(execution)}".rstrip(": "))


def load_definition(name: str, **values: str) -> dict[str, Any]:
    """Read ``statemachines/<name>.asl.json`` and fill its ``${placeholders}``.

    Raises:
        KeyError: a placeholder has no value (named in the message).
    """
    text = (STATEMACHINES_DIR / f"{name}.asl.json").read_text()
    missing = sorted({m for m in _PLACEHOLDER.findall(text) if m not in values})
    if missing:
        raise KeyError(f"statemachines/{name}.asl.json needs values for: {', '.join(missing)}")
    # ${Name} only: ASL's own "$.path" references stay as they are.
    return json.loads(_PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), text))


@showable
def ensure_state_machine(kit: Kit, name: str, definition: dict[str, Any], role_arn: str) -> str:
    """Create the state machine, or update its definition and role; return its ARN."""
    sfn = kit.client("stepfunctions")
    body = json.dumps(definition, indent=2)
    arn = _state_machine_arn(sfn, name)
    if arn is None:
        tags = [{"key": t["Key"], "value": t["Value"]} for t in kit.tags()]  # lower-case keys in this API
        try:
            # The role was made seconds ago (notebook 05): Step Functions may not be able to assume it yet.
            arn = with_role_retry(sfn.create_state_machine, name=name, definition=body, roleArn=role_arn,
                                  type="STANDARD", tags=tags)["stateMachineArn"]
            print(f"state machine {name} created")
            return arn
        except sfn.exceptions.StateMachineAlreadyExists:  # another run created it since we listed: update it
            arn = _state_machine_arn(sfn, name)
            if arn is None:  # and deleted it again: nothing to update
                raise
    with_role_retry(sfn.update_state_machine, stateMachineArn=arn, definition=body, roleArn=role_arn)
    print(f"state machine {name} updated")
    return arn


def _state_machine_arn(sfn: Any, name: str) -> str | None:
    """The ARN of the state machine called ``name``, or None if there is none."""
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                return machine["stateMachineArn"]
    return None


def extend(definition: dict[str, Any], fragment: dict[str, Any], after: str) -> dict[str, Any]:
    """A new definition in which ``after`` (an end state) continues into ``fragment``'s states.

    Raises:
        ValueError: ``after`` is not an end state, or a state name is in both.
    """
    if not definition["States"].get(after, {}).get("End"):
        raise ValueError(f"{after!r} is not an end state of the definition")
    clash = set(definition["States"]) & set(fragment["States"])
    if clash:
        raise ValueError(f"both definitions have states named {sorted(clash)}")
    states = {name: dict(state) for name, state in definition["States"].items()}
    states[after].pop("End")
    states[after]["Next"] = fragment["StartAt"]
    comment = " ".join(filter(None, [definition.get("Comment"), fragment.get("Comment")]))
    return {"Comment": comment, "StartAt": definition["StartAt"], "States": {**states, **fragment["States"]}}


@showable
def start(kit: Kit, state_machine_arn: str, payload: dict[str, Any], name: str | None = None) -> str:
    """Start an execution and return its ARN.

    Naming it after the run makes re-running a notebook harmless: a second start with the
    same name finds the execution that exists (running or ended) instead of starting another.
    """
    sfn = kit.client("stepfunctions")
    request: dict[str, Any] = {"stateMachineArn": state_machine_arn, "input": json.dumps(payload, sort_keys=True)}
    if name:
        request["name"] = name
    try:
        arn = sfn.start_execution(**request)["executionArn"]
    except sfn.exceptions.ExecutionAlreadyExists:  # AWS's answer once the first one has ended
        arn = state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
        print(f"execution {name} exists; showing it instead of starting another")
        return arn
    note = replacement_note(kit, state_machine_arn, name, payload) if name else None
    if note:
        print(note)
    return arn


def replacement_note(kit: Kit, state_machine_arn: str, name: str, payload: dict[str, Any]) -> str | None:
    """One line naming the earlier execution of this run (``<run>-<label>-<other hash>``) and what differs."""
    if not re.fullmatch(r".+-[0-9a-f]{6}", name):
        return None
    sfn, base = kit.client("stepfunctions"), name[:-6]
    earlier = [e for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn)
               for e in page["executions"]
               if e["name"] != name and e["name"].startswith(base) and re.fullmatch(r"[0-9a-f]{6}", e["name"][len(base):])]
    if not earlier:
        return None
    previous = max(earlier, key=lambda e: e["startDate"])
    before = json.loads(sfn.describe_execution(executionArn=previous["executionArn"]).get("input") or "{}")
    changes = []
    for key in sorted(set(before) | set(payload)):
        if key in ("run_id", "run_prefix", "dataset_json") or before.get(key) == payload.get(key):
            continue
        old, new = before.get(key), payload.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            changes += [f"{k} {old.get(k, '(unset)')} → {new.get(k, '(unset)')}"
                        for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
        else:
            changes.append(f"{key} {old} → {new}")
    return f"execution {name} replaces {previous['name']}: {'; '.join(changes) or 'same settings, bucket made again'}"


def wait(kit: Kit, execution_arn: str, definition: dict[str, Any], timeout: float = 3600,
         raise_on_failure: bool = True, picture: bool = True) -> dict[str, Any]:
    """Watch an execution until it ends: a line counting the states done and, in a notebook, its picture below,
    states coloured as they run and end (helpers.execution_view), left in the cell with the final colours.

    Args:
        picture: show the live picture (in a notebook's kernel; never in a script).

    Raises:
        ExecutionFailed: it did not succeed (unless ``raise_on_failure`` is False).
    """
    from helpers.execution_view import LivePicture, state_statuses

    sfn = kit.client("stepfunctions")
    result: dict[str, Any] = {}
    statuses: dict[str, str] = {}
    total = len(definition["States"])
    machine = execution_arn.split(":")[-2]
    live = LivePicture(definition, f"execution {execution_arn.split(':')[-1]}") if picture else None

    def check() -> tuple[bool, int, str]:
        result.update(strip_metadata(sfn.describe_execution(executionArn=execution_arn)))
        events = _events(sfn, execution_arn)
        statuses.update(state_statuses(events, definition))
        exited = {e["stateExitedEventDetails"]["name"] for e in events if "stateExitedEventDetails" in e}
        if result["status"] == "SUCCEEDED":  # states on paths not taken (Fail, Catch) never run
            return True, total, result["status"]
        return result["status"] != "RUNNING", len(exited), result["status"]

    def shown(done: bool) -> None:
        if live is not None:
            live.show(statuses, result["status"])

    poll(check, f"execution of {machine}", total=total, timeout=timeout, counting="{done} of {total} states done",
         shown=shown)
    if raise_on_failure and result["status"] != "SUCCEEDED":
        raise ExecutionFailed(result)
    return result


def _events(sfn, execution_arn: str) -> list[dict[str, Any]]:
    events = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events += page["events"]
    return events


def history(kit: Kit, execution_arn: str) -> pd.DataFrame:
    """The execution's events as a table: step, event type, state and a short detail."""
    rows = []
    for event in _events(kit.client("stepfunctions"), execution_arn):
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        detail = details.get("error") or details.get("resource") or ""
        rows.append({"id": event["id"], "type": event["type"], "state": details.get("name", ""), "detail": detail})
    return pd.DataFrame(rows, columns=["id", "type", "state", "detail"])


def failure_cause(execution: dict[str, Any]) -> str:
    """The readable part of a failed execution's cause (SageMaker puts a whole job in it)."""
    cause = execution.get("cause", "")
    try:
        parsed = json.loads(cause)
    except (TypeError, ValueError):
        return cause
    return parsed.get("FailureReason") or parsed.get("errorMessage") or cause if isinstance(parsed, dict) else cause


def output(execution: dict[str, Any]) -> dict[str, Any]:
    """A finished execution's output, parsed."""
    return json.loads(execution.get("output") or "{}")


def pipeline_settings(kit: Kit) -> dict[str, Any]:
    """What every pipeline execution's input carries from settings.toml: hyperparameters and dataset settings.

    ``dataset_json`` is the dataset as one string: the processing job's ``Environment`` takes strings only,
    and a plain ``$.dataset_json`` path needs no intrinsic function.
    """
    return {"hyperparameters": kit.settings.hyperparameters, "dataset": kit.settings.dataset,
            "dataset_json": json.dumps(kit.settings.dataset, sort_keys=True)}


def pipeline_input(kit: Kit, bucket: str, label: str, **extra: Any) -> tuple[str, dict[str, Any]]:
    """The run name and execution input of one pipeline run made with this notebook's settings.

    The run name is ``<run_id>-<label>-<hash>``: the hash covers the hyperparameters, dataset settings,
    data URL, ``extra`` and when the bucket was made. Re-running with the same settings shows the same
    execution; a changed setting (``-p epochs 5``) or a bucket made again after 99_cleanup starts a new
    execution whose jobs have new names (SageMaker never frees a job name, even after cleanup).

    Returns:
        ``(run, payload)``: the execution's name and its input (bucket, run_id, run_prefix, data_url,
        hyperparameters, dataset, ``extra``).
    """
    from helpers.s3 import bucket_created
    from helpers.settings_file import fingerprint

    settings = {"data_url": kit.settings.data_url, **pipeline_settings(kit), **extra}
    digest = fingerprint(settings, bucket_created(kit, bucket))
    run = f"{kit.settings.run_id}-{label}-{digest}"
    room = 63 - len(kit.names.job("preprocess", ""))  # the longest job name the state machines make
    if len(run) > room:
        run = f"{kit.settings.run_id}-{label[0]}{digest}"
    payload = {"bucket": bucket, "run_id": run, "run_prefix": f"runs/{run}", **settings}
    return run, payload
