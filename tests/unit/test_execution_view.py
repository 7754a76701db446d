"""An execution's picture: states coloured from GetExecutionHistory's events as the Step Functions console colours
them, redrawn in place in a notebook while the execution runs.

The console's colours: "In progress" blue, "Succeeded" green, "Failed" red, "Caught error" orange, "Cancelled"
grey, not reached white (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-view-execution-details.html,
"Graph view"). The event types are GetExecutionHistory's
(https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html).
"""

from __future__ import annotations

import base64
import io
import re

import nbformat
from nbclient import NotebookClient
from PIL import Image

from helpers import diagrams, execution_view, stepfunctions
from test_diagrams import VALUES, gated

PIPELINE = stepfunctions.load_definition("pipeline", **VALUES)


def events(*steps: tuple[str, str | None]) -> list[dict]:
    """History events from (type, state name or None), numbered from 1."""
    found = []
    for number, (kind, name) in enumerate(steps, 1):
        event = {"id": number, "type": kind}
        if name and kind.endswith("StateEntered"):
            event["stateEnteredEventDetails"] = {"name": name}
        elif name and kind.endswith("StateExited"):
            event["stateExitedEventDetails"] = {"name": name}
        found.append(event)
    return found


def entered_exited(name: str, middle: tuple[str, ...] = ("TaskScheduled", "TaskStarted", "TaskSucceeded")):
    return [("TaskStateEntered", name), *[(kind, None) for kind in middle], ("TaskStateExited", name)]


class TestStatusesFromHistory:
    def test_running_then_succeeded_and_the_rest_not_reached(self):
        """
        1. FetchData entered and exited, Preprocess entered: FetchData succeeded, Preprocess running.
        2. The Fail states and Train: not reached.
        """
        seen = execution_view.state_statuses(events(("ExecutionStarted", None), *entered_exited("FetchData"),
                                                    ("TaskStateEntered", "Preprocess"), ("TaskScheduled", None)),
                                             PIPELINE)
        assert seen == {"FetchData": "succeeded", "Preprocess": "running", "Train": "not-reached",
                        "IngestFailed": "not-reached", "PreprocessFailed": "not-reached",
                        "TrainFailed": "not-reached"}

    def test_a_caught_error_then_its_fail_state_failed(self):
        """
        1. Preprocess fails (TaskFailed), exits through its Catch into PreprocessFailed (a Fail state); the
           execution fails.
        2. Preprocess caught, PreprocessFailed failed, FetchData succeeded, Train not reached.
        """
        seen = execution_view.state_statuses(events(
            *entered_exited("FetchData", ("LambdaFunctionScheduled", "LambdaFunctionSucceeded")),
            *entered_exited("Preprocess", ("TaskScheduled", "TaskStarted", "TaskFailed")),
            ("FailStateEntered", "PreprocessFailed"), ("ExecutionFailed", None)), PIPELINE)
        assert (seen["FetchData"], seen["Preprocess"], seen["PreprocessFailed"], seen["Train"]) == \
            ("succeeded", "caught", "failed", "not-reached")

    def test_a_retry_that_worked_is_a_success(self):
        """FetchData's Lambda fails once, is retried and succeeds: FetchData succeeded, not caught."""
        seen = execution_view.state_statuses(events(*entered_exited("FetchData", (
            "LambdaFunctionScheduled", "LambdaFunctionFailed", "LambdaFunctionScheduled",
            "LambdaFunctionSucceeded"))), PIPELINE)
        assert seen["FetchData"] == "succeeded"

    def test_a_state_running_when_the_execution_fails_or_is_stopped(self):
        """A task still running when the execution times out is failed; when it is stopped, aborted."""
        running = [("TaskStateEntered", "FetchData"), ("LambdaFunctionScheduled", None)]
        assert execution_view.state_statuses(events(*running, ("ExecutionTimedOut", None)), PIPELINE)["FetchData"] \
            == "failed"
        assert execution_view.state_statuses(events(*running, ("ExecutionAborted", None)), PIPELINE)["FetchData"] \
            == "aborted"

    def test_a_state_entered_again_is_running_again(self):
        """06's CheckEndpoint ↔ WaitForEndpoint loop: CheckEndpoint entered a second time is running again."""
        loop = [*entered_exited("CheckEndpoint"), ("ChoiceStateEntered", "EndpointReady"),
                ("ChoiceStateExited", "EndpointReady"), ("WaitStateEntered", "WaitForEndpoint"),
                ("WaitStateExited", "WaitForEndpoint"), ("TaskStateEntered", "CheckEndpoint")]
        seen = execution_view.state_statuses(events(*loop), gated())
        assert (seen["CheckEndpoint"], seen["EndpointReady"], seen["WaitForEndpoint"]) == \
            ("running", "succeeded", "succeeded")


class TestColouredPicture:
    def test_each_state_carries_its_status_and_colour_with_a_legend(self):
        """
        1. Draw the pipeline with FetchData succeeded, Preprocess running (the rest not reached).
        2. The SVG's boxes carry data-status and the console's colours; a legend names every status.
        3. The PNG has the SVG's size, taller than the plain picture by the legend.
        """
        statuses = {"FetchData": "succeeded", "Preprocess": "running"}
        svg = diagrams.state_machine_svg(PIPELINE, "execution e: RUNNING", statuses)
        found = dict(re.findall(r'data-state="([^"]+)" data-status="([a-z-]+)"', svg))
        assert found["FetchData"] == "succeeded" and found["Preprocess"] == "running"
        assert found["Train"] == "not-reached" and len(found) == len(PIPELINE["States"])
        assert re.search(r'data-state="FetchData" data-status="succeeded"[^>]*fill="#bbf7d0"', svg)
        for words in ("running", "succeeded", "failed", "caught error", "aborted", "not reached"):
            assert f">{words}</text>" in svg
        png = Image.open(io.BytesIO(diagrams.state_machine_png(PIPELINE, "execution e: RUNNING", statuses)))
        plain = diagrams._geometry(PIPELINE, "x")
        assert png.size == (round(plain.width), round(plain.height) + diagrams._LEGEND)

    def test_the_plain_picture_has_no_statuses(self):
        assert "data-status" not in diagrams.state_machine_svg(PIPELINE, "the fixed pipeline")


LIVE_CELL = '''
from helpers import execution_view, stepfunctions
definition = stepfunctions.load_definition("pipeline", **VALUES)
live = execution_view.LivePicture(definition, "execution e")
live.show({"FetchData": "running"}, "RUNNING")
live.show({"FetchData": "running"}, "RUNNING")
live.show({"FetchData": "succeeded", "Preprocess": "succeeded", "Train": "succeeded"}, "SUCCEEDED")
'''


class TestLiveInANotebook:
    def test_one_output_redrawn_in_place_ending_with_the_final_colours(self):
        """
        1. A notebook cell shows a LivePicture three times (the second unchanged), run by nbclient (papermill's).
        2. The kernel sent one display and one update (the unchanged picture is not sent again); the saved cell
           holds one output, SVG and PNG, with the final statuses and title.
        """
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"VALUES = {VALUES!r}\n{LIVE_CELL}")])
        client = NotebookClient(notebook, timeout=120, kernel_name="python3")
        kinds = []
        original = client.process_message
        client.process_message = lambda msg, cell, index: (kinds.append(msg["msg_type"]), original(msg, cell, index))[1]
        client.execute()
        assert [k for k in kinds if "display" in k] == ["display_data", "update_display_data"]
        (output,) = notebook.cells[0].outputs
        svg = output["data"]["image/svg+xml"]
        assert "execution e: SUCCEEDED" in svg and 'data-state="Train" data-status="succeeded"' in svg
        assert base64.b64decode(output["data"]["image/png"])[:4] == b"\x89PNG"

    def test_outside_a_notebook_it_draws_nothing(self, capsys):
        execution_view.LivePicture(PIPELINE, "execution e").show({"FetchData": "running"}, "RUNNING")
        assert capsys.readouterr().out == ""

