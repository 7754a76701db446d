"""Step Functions quotas as AWS enforces them: payload size and execution history length.

Every test talks to ``python -m localcloud`` (the ``cloud`` fixture) through boto3 only.
Quotas: https://docs.aws.amazon.com/step-functions/latest/dg/limits.html ("Maximum input or output
size for a task, state, or execution: 262,144 bytes of data as a UTF-8 encoded string";
"Maximum execution history size: 25,000 events. If the execution history reaches this quota, the
execution will fail").
"""

from __future__ import annotations

import json
import time

import pytest
from _support import create_role, unique_name
from _wait import wait_for_status
from botocore.exceptions import ClientError

REGION = "eu-west-1"
FINISHED = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
PAYLOAD_LIMIT = 262144
HISTORY_LIMIT = 25000
DATA_LIMIT_CAUSE = ("The state/task '{}' returned a result with a size exceeding the maximum number of bytes "
                    "service limit.")


@pytest.fixture(scope="module")
def role(cloud):
    return create_role(cloud, unique_name("sfn-limits"))


@pytest.fixture(scope="module")
def machine(sfn, role):
    """Create a state machine from a definition; returns its ARN."""

    def create(definition: dict) -> str:
        return sfn.create_state_machine(name=unique_name("limits"), definition=json.dumps(definition),
                                        roleArn=role)["stateMachineArn"]

    return create


def _payload(size: int) -> str:
    """A JSON object of exactly ``size`` UTF-8 bytes."""
    text = json.dumps({"x": ""})
    return json.dumps({"x": "a" * (size - len(text))})


def _finish(sfn, execution: str, timeout: float) -> dict:
    """Describe ``execution`` once it has ended; stop it if it has not within ``timeout`` (then fail)."""
    try:
        return wait_for_status(lambda: sfn.describe_execution(executionArn=execution), "status", FINISHED,
                               timeout=timeout, interval=0.2)
    except AssertionError:
        sfn.stop_execution(executionArn=execution)  # do not leave an endless loop eating the shared cloud
        raise


class TestExecutionInputLimit:
    """StartExecution refuses an input over 262,144 bytes before anything runs."""

    def test_oversize_input_refused(self, sfn, machine):
        """https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html: input
        "Length Constraints: Maximum length of 262144" (bytes in UTF-8); a broken constraint is a
        ValidationException, worded as AWS's other constraint errors ("1 validation error detected: Value
        at 'input' failed to satisfy constraint: ..."; input is sensitive data, so its value is not shown).

        1. Create a one-Pass machine.
        2. Start it with an input of 262,145 bytes: ValidationException naming 'input' and the limit;
           no execution was started.
        3. Start it with an input of exactly 262,144 bytes: accepted.
        """
        arn = machine({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "done", "End": True}}})

        with pytest.raises(ClientError) as refused:
            sfn.start_execution(stateMachineArn=arn, input=_payload(PAYLOAD_LIMIT + 1))

        error = refused.value.response["Error"]
        assert error["Code"] == "ValidationException"
        assert error["Message"] == ("1 validation error detected: Value at 'input' failed to satisfy constraint: "
                                    f"Member must have length less than or equal to {PAYLOAD_LIMIT}")
        assert sfn.list_executions(stateMachineArn=arn)["executions"] == []
        accepted = sfn.start_execution(stateMachineArn=arn, input=_payload(PAYLOAD_LIMIT))
        assert accepted["executionArn"]


class TestStateOutputLimit:
    """A state whose output is over 262,144 bytes fails the execution with States.DataLimitExceeded."""

    def test_branch_output_over_limit_is_terminal(self, sfn, machine):
        """https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html:
        States.DataLimitExceeded is reported when "the output of a state is larger than payload size quota",
        and "States.ALL ... can't catch the States.DataLimitExceeded terminal error".

        1. Create a machine: a Parallel whose one branch is a Pass doubling a 140,000-byte string (output
           over the limit), with Catch States.ALL leading to a Pass.
        2. Run it.
        3. FAILED with States.DataLimitExceeded and AWS's cause naming the Pass; the Catch did not run.
        """
        arn = machine({"StartAt": "Fan", "States": {
            "Fan": {"Type": "Parallel", "End": True, "Branches": [{"StartAt": "Double", "States": {
                "Double": {"Type": "Pass", "Parameters": {"a.$": "$.x", "b.$": "$.x"}, "End": True}}}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "Caught"}]},
            "Caught": {"Type": "Pass", "End": True}}})
        execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"x": "a" * 140000}))["executionArn"]

        described = _finish(sfn, execution, timeout=60)

        assert described["status"] == "FAILED"
        assert described["error"] == "States.DataLimitExceeded"
        assert described["cause"] == DATA_LIMIT_CAUSE.format("Double")
        events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
        entered = [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]
        assert "Caught" not in entered


class TestHistoryLimit:
    """An execution whose history reaches 25,000 events fails at event 25,000 and stops working."""

    def test_endless_loop_fails_at_the_cap(self, sfn, machine):
        """https://docs.aws.amazon.com/step-functions/latest/dg/bp-history-limit.html: "When an execution
        reaches 24,999 events ... If the event number 25,000 isn't ExecutionSucceeded, the ExecutionFailed
        event is logged and the state machine execution fails". AWS reports it as
        {"error": "States.Runtime", "cause": "The execution reached the maximum number of history events
        (25000)."} (https://github.com/loads/ardere/issues/86).

        1. Create a machine: a Pass, then a Choice that always goes back to the Pass (no end).
        2. Start it and poll DescribeExecution for at most 60 s.
        3. FAILED with States.Runtime and AWS's cause.
        4. Half a second later, the history's newest event is still ExecutionFailed with id 25,000 and the
           same error and cause (the execution no longer runs); event 24,999 is the loop's own.
        """
        arn = machine({"StartAt": "Spin", "States": {
            "Spin": {"Type": "Pass", "Result": True, "ResultPath": "$.spin", "Next": "Again"},
            "Again": {"Type": "Choice", "Default": "Spin",
                      "Choices": [{"Variable": "$.spin", "BooleanEquals": True, "Next": "Spin"}]}}})
        execution = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]

        described = _finish(sfn, execution, timeout=60)

        cause = f"The execution reached the maximum number of history events ({HISTORY_LIMIT})."
        assert (described["status"], described.get("error"), described.get("cause")) == (
            "FAILED", "States.Runtime", cause)
        time.sleep(0.5)  # an execution still working would add events meanwhile
        last, before = sfn.get_execution_history(executionArn=execution, maxResults=2, reverseOrder=True)["events"]
        assert (last["id"], last["type"]) == (HISTORY_LIMIT, "ExecutionFailed")
        assert last["executionFailedEventDetails"] == {"error": "States.Runtime", "cause": cause}
        assert before["id"] == HISTORY_LIMIT - 1 and before["type"] in (
            "PassStateEntered", "PassStateExited", "ChoiceStateEntered", "ChoiceStateExited")


class TestHistoryPages:
    """GetExecutionHistory answers page by page, as AWS does (a 25,000-event history is 25 pages or more)."""

    def test_pages_reverse_order_and_tokens(self, sfn, machine):
        """https://docs.aws.amazon.com/step-functions/latest/apireference/API_GetExecutionHistory.html:
        maxResults "default is 100 and the maximum allowed page size is 1000", reverseOrder lists the newest
        first, nextToken continues; "an expired pagination token will return an HTTP 400 InvalidToken error".

        1. Run three Pass states (8 events) to the end.
        2. Pages of 3: events 1-3, 4-6, 7-8; the last page has no nextToken.
        3. reverseOrder with 3: events 8, 7, 6.
        4. The first forward token used with reverseOrder: InvalidToken. maxResults 1001: ValidationException.
        """
        arn = machine({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"},
                                                  "B": {"Type": "Pass", "Next": "C"},
                                                  "C": {"Type": "Pass", "End": True}}})
        execution = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
        assert _finish(sfn, execution, timeout=30)["status"] == "SUCCEEDED"

        pages, token = [], None
        while True:
            more = {"nextToken": token} if token else {}
            page = sfn.get_execution_history(executionArn=execution, maxResults=3, **more)
            pages.append([event["id"] for event in page["events"]])
            token = page.get("nextToken")
            if not token:
                break
        newest = sfn.get_execution_history(executionArn=execution, maxResults=3, reverseOrder=True)

        assert pages == [[1, 2, 3], [4, 5, 6], [7, 8]]
        assert [event["id"] for event in newest["events"]] == [8, 7, 6]
        first_token = sfn.get_execution_history(executionArn=execution, maxResults=3)["nextToken"]
        with pytest.raises(ClientError) as wrong_token:
            sfn.get_execution_history(executionArn=execution, maxResults=3, reverseOrder=True, nextToken=first_token)
        assert wrong_token.value.response["Error"]["Code"] == "InvalidToken"
        with pytest.raises(ClientError) as too_many:
            sfn.get_execution_history(executionArn=execution, maxResults=1001)
        assert too_many.value.response["Error"]["Code"] == "ValidationException"
