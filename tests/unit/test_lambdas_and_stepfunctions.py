"""Tests for helpers.lambdas, helpers.stepfunctions and helpers.diagrams.

moto's in-process Lambda cannot run a handler (that needs Docker), so nothing here
invokes a deployed function: ``invoke`` is tested with botocore's Stubber instead.
"""

from __future__ import annotations

import base64
import io
import json
import os
import xml.etree.ElementTree as ET
import zipfile

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from helpers import config, diagrams, iam, lambdas, stepfunctions
from helpers.paths import LAMBDAS_DIR, STATEMACHINES_DIR

SVG = "{http://www.w3.org/2000/svg}"
ZEROS = "0" * 12  # an account id that is obviously not one
PLACEHOLDERS = {
    "pipeline": {"FetchFunctionArn", "JobNamePrefix", "SageMakerRoleArn", "PreprocessImageUri",
                 "ProcessingInstanceType", "TrainingImageUri", "TrainingInstanceType"},
    "article_chain": {"FetchFunctionArn", "StartPreprocessingFunctionArn", "StartTrainingFunctionArn"},
    "evaluate_deploy": {"JobNamePrefix", "SageMakerRoleArn", "TrainingImageUri", "JobsImageUri", "EndpointName",
                        "ProcessingInstanceType", "TransformInstanceType", "EndpointInstanceType"},
}


def filled(name: str) -> dict:
    """A definition with every placeholder given a recognisable value."""
    values = {key: f"arn:aws:lambda:eu-west-1:{ZEROS}:function:{key}" if key.endswith("Arn") else f"v-{key}"
              for key in PLACEHOLDERS[name]}
    values["JobNamePrefix"] = "unit-kit"
    return stepfunctions.load_definition(name, **values)


def targets(state: dict) -> list[str]:
    """Every state name a state can move to."""
    names = [state[key] for key in ("Next", "Default") if key in state]
    names += [choice["Next"] for choice in state.get("Choices", [])]
    names += [catch["Next"] for catch in state.get("Catch", [])]
    return names


class TestZipHandler:
    """The deployment package is reproducible and holds the handler at its root."""

    def test_same_bytes_twice_and_after_touching(self, tmp_path):
        """
        1. Zip a copy of fetch_data.py twice, then change its modification time and zip again.
        2. All three packages are byte-identical (no timestamps leak in).
        """
        handler = tmp_path / "fetch_data.py"
        handler.write_bytes((LAMBDAS_DIR / "fetch_data.py").read_bytes())
        first, second = lambdas.zip_handler(handler), lambdas.zip_handler(handler)
        os.utime(handler, (1_000_000_000, 1_000_000_000))
        assert first == second == lambdas.zip_handler(handler)

    @pytest.mark.parametrize("name", ["fetch_data.py", "start_preprocessing.py", "start_training.py"])
    def test_file_at_zip_root(self, name):
        """
        1. Zip a handler from src/lambdas.
        2. The archive has exactly that file, at the root, readable by everyone, with the same bytes.
        """
        path = LAMBDAS_DIR / name
        with zipfile.ZipFile(io.BytesIO(lambdas.zip_handler(path))) as archive:
            assert archive.namelist() == [name]
            assert archive.read(name) == path.read_bytes()
            assert (archive.getinfo(name).external_attr >> 16) & 0o444 == 0o444
            assert archive.testzip() is None


class TestEnsureFunction:
    """Functions are created once, then updated in place."""

    @pytest.fixture
    def role_arn(self, kit) -> str:
        return iam.ensure_role(kit, "fetch-data")

    def test_create_then_update(self, kit, role_arn, capsys):
        """
        1. ensure_function() with a zip and an environment: the function is created, tagged, Active.
        2. Call again with a changed environment, timeout and code.
        3. Same ARN; the configuration and code now are the new ones.
        """
        code = lambdas.zip_handler(LAMBDAS_DIR / "fetch_data.py")
        name = kit.names.function("fetch-data")
        arn = lambdas.ensure_function(kit, name, role_arn, zip_file=code, handler="fetch_data.handler",
                                      environment={"BUCKET": "one"}, timeout=30)
        client = kit.client("lambda")
        created = client.get_function(FunctionName=name)
        assert created["Configuration"]["FunctionArn"] == arn
        assert created["Configuration"]["Environment"]["Variables"] == {"BUCKET": "one"}
        assert created["Configuration"]["Handler"] == "fetch_data.handler"
        assert created["Configuration"]["Runtime"] == "python3.11"
        assert created["Configuration"]["Role"] == role_arn
        assert created["Tags"] == kit.tag_map()
        assert f"function {name} created" in capsys.readouterr().out

        new_code = lambdas.zip_handler(LAMBDAS_DIR / "start_training.py")
        again = lambdas.ensure_function(kit, name, role_arn, zip_file=new_code, handler="start_training.handler",
                                        environment={"BUCKET": "two", "RUN_PREFIX": "runs/x"}, timeout=90)
        assert again == arn
        updated = client.get_function_configuration(FunctionName=name)
        assert updated["Environment"]["Variables"] == {"BUCKET": "two", "RUN_PREFIX": "runs/x"}
        assert (updated["Timeout"], updated["Handler"]) == (90, "start_training.handler")
        assert updated["CodeSha256"] != created["Configuration"]["CodeSha256"]
        assert f"function {name} updated" in capsys.readouterr().out
        assert [f["FunctionName"] for f in client.list_functions()["Functions"]] == [name]

    @pytest.mark.parametrize("code", [{}, {"zip_file": b"zip", "image_uri": "repo:latest"}])
    def test_exactly_one_kind_of_code(self, kit, code):
        """
        1. Give neither or both of zip_file and image_uri.
        2. ValueError, before anything is created.
        """
        with pytest.raises(ValueError, match="either zip_file"):
            lambdas.ensure_function(kit, "f", f"arn:aws:iam::{ZEROS}:role/r", **code)
        assert kit.client("lambda").list_functions()["Functions"] == []

    def test_function_arn_names_the_notebooks_to_run(self, kit, role_arn):
        """
        1. Ask for the ARN of a function that does not exist, then of one that does.
        2. LookupError says which notebooks create it; the existing one's ARN is returned.
        """
        with pytest.raises(LookupError, match="run notebooks 02-04 first"):
            lambdas.function_arn(kit, "absent")
        arn = lambdas.ensure_function(kit, "present", role_arn, zip_file=lambdas.zip_handler(
            LAMBDAS_DIR / "fetch_data.py"), handler="fetch_data.handler")
        assert lambdas.function_arn(kit, "present") == arn


def _invoke_response(body: bytes, function_error: str | None = None, log: str = "") -> dict:
    response = {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(body), len(body)),
                "LogResult": base64.b64encode(log.encode()).decode(), "ExecutedVersion": "$LATEST"}
    if function_error:
        response["FunctionError"] = function_error
    return response


@pytest.fixture
def stubbed_lambda(aws_env):
    """A Kit whose lambda client answers from a Stubber (no network, no moto)."""
    kit = config.Kit(config.settings(target="aws", region="eu-west-1"),
                     boto3.session.Session(region_name="eu-west-1"))
    client = kit.client("lambda")
    with Stubber(client) as stubber:
        yield kit, stubber
        stubber.assert_no_pending_responses()


class TestInvoke:
    """invoke() returns the handler's result, or raises with its error type, message and log."""

    def test_result_is_returned(self, stubbed_lambda):
        """
        1. Stub a successful Invoke; expect the payload as JSON and the log tail requested.
        2. invoke() returns the parsed result.
        """
        kit, stubber = stubbed_lambda
        stubber.add_response("invoke", _invoke_response(b'{"raw_bytes": 4551}'),
                             {"FunctionName": "f", "Payload": b'{"bucket": "b"}', "LogType": "Tail"})
        assert lambdas.invoke(kit, "f", {"bucket": "b"}) == {"raw_bytes": 4551}

    def test_function_error_becomes_lambda_invoke_error(self, stubbed_lambda):
        """
        1. Stub an Invoke whose handler raised ValueError (FunctionError Unhandled), with a log tail.
        2. invoke() raises LambdaInvokeError carrying errorType, errorMessage, the function and the log.
        """
        kit, stubber = stubbed_lambda
        error = {"errorType": "ValueError", "errorMessage": "missing 'bucket': give it in the event or set BUCKET",
                 "stackTrace": ["  File \"/var/task/fetch_data.py\", line 24"]}
        stubber.add_response("invoke", _invoke_response(json.dumps(error).encode(), "Unhandled",
                                                        "START\n[ERROR] ValueError\nEND\n"))
        with pytest.raises(lambdas.LambdaInvokeError) as raised:
            lambdas.invoke(kit, "pipeline-dreams-fetch-data", {})
        assert raised.value.error["errorType"] == "ValueError"
        assert raised.value.error["errorMessage"] == error["errorMessage"]
        assert raised.value.function == "pipeline-dreams-fetch-data"
        assert raised.value.log_tail == "START\n[ERROR] ValueError\nEND\n"
        assert str(raised.value) == f"pipeline-dreams-fetch-data failed: ValueError: {error['errorMessage']}"

    def test_non_dict_error_body(self, stubbed_lambda):
        """
        1. Stub a FunctionError whose payload is a bare JSON string (as a timeout report can be).
        2. LambdaInvokeError still carries it as errorMessage.
        """
        kit, stubber = stubbed_lambda
        stubber.add_response("invoke", _invoke_response(b'"Task timed out after 3.00 seconds"', "Unhandled"))
        with pytest.raises(lambdas.LambdaInvokeError, match="f failed: Error: Task timed out") as raised:
            lambdas.invoke(kit, "f", {})
        assert raised.value.error == {"errorMessage": "Task timed out after 3.00 seconds"}


class TestLoadDefinition:
    """${Name} placeholders are filled; ASL's own $.path references are kept."""

    @pytest.mark.parametrize("name", sorted(PLACEHOLDERS))
    def test_filled_and_paths_kept(self, name):
        """
        1. Load a state machine with a value for every placeholder.
        2. No ``${`` is left, and the values appear where the placeholders were.
        """
        definition = filled(name)
        text = json.dumps(definition)
        assert "${" not in text
        if "FetchData" in definition["States"]:
            assert "function:FetchFunctionArn" in definition["States"]["FetchData"]["Resource"]
        else:  # the fragment appended after Train
            assert definition["States"]["CreateModel"]["Parameters"]["ExecutionRoleArn"].endswith(":SageMakerRoleArn")

    def test_asl_paths_survive(self):
        """
        1. Load the fixed pipeline.
        2. Job names are read from $.job_names (fetch_data fills them), tags have the prefix filled and still read
           $.run_id; ResultSelector paths are intact.
        """
        states = filled("pipeline")["States"]
        assert states["Preprocess"]["Parameters"]["ProcessingJobName.$"] == "$.job_names.preprocess"
        assert states["Train"]["Parameters"]["TrainingJobName.$"] == "$.job_names.train"
        assert states["Train"]["Parameters"]["Tags"] == [{"Key": "pipeline-dreams:kit", "Value": "unit-kit"},
                                                         {"Key": "pipeline-dreams:run-id", "Value.$": "$.run_id"}]
        assert states["FetchData"]["ResultPath"] == "$"  # the Lambda returns the input plus the run's names
        assert states["Preprocess"]["Parameters"]["ProcessingInputs"][0]["S3Input"]["S3Uri.$"] == "$.raw_s3_uri"
        assert states["Train"]["ResultPath"] == "$.train"
        assert states["TrainFailed"]["CausePath"] == "$.error.Cause"

    @pytest.mark.parametrize("name", sorted(PLACEHOLDERS))
    def test_missing_placeholders_are_all_named(self, name):
        """
        1. Load a state machine with one value given (and one irrelevant extra).
        2. KeyError lists every other placeholder, sorted, and not the given one.
        """
        with pytest.raises(KeyError) as raised:
            stepfunctions.load_definition(name, FetchFunctionArn="arn", Unused="x")
        message = raised.value.args[0]
        expected = sorted(PLACEHOLDERS[name] - {"FetchFunctionArn"})
        assert message == f"statemachines/{name}.asl.json needs values for: {', '.join(expected)}"

    def test_placeholder_list_is_complete(self):
        """
        1. Read each statemachines/*.asl.json.
        2. Its ${...} names are exactly the ones these tests fill (a new one must be added here).
        """
        import re

        for path in STATEMACHINES_DIR.glob("*.asl.json"):
            found = set(re.findall(r"\$\{(\w+)\}", path.read_text()))
            assert found == PLACEHOLDERS[path.name.removesuffix(".asl.json")], path.name


class TestDefinitionsAreWellFormed:
    """Every transition of both state machines leads to a state that exists."""

    @pytest.mark.parametrize("name", sorted(PLACEHOLDERS))
    def test_transitions(self, name):
        """
        1. Load the definition.
        2. StartAt and every Next/Default/Choice/Catch target names a state.
        3. Every Task/Pass/Wait either moves on or ends; every state is reachable from StartAt.
        """
        definition = filled(name)
        states = definition["States"]
        assert definition["StartAt"] in states
        for state_name, state in states.items():
            for target in targets(state):
                assert target in states, f"{state_name} -> {target}"
            if state["Type"] in ("Task", "Pass", "Wait"):
                assert ("Next" in state) != bool(state.get("End")), state_name
            if state["Type"] == "Task":
                assert state["Resource"].startswith("arn:aws:"), state_name
        reached, queue = set(), [definition["StartAt"]]
        while queue:
            current = queue.pop()
            if current not in reached:
                reached.add(current)
                queue += targets(states[current])
        assert reached == set(states)

    def test_pipeline_catches_every_task(self):
        """
        1. Load the fixed pipeline.
        2. Each Task catches States.ALL into a Fail state whose cause is the caught error's.
        """
        states = filled("pipeline")["States"]
        for name, state in states.items():
            if state["Type"] == "Task":
                (catch,) = state["Catch"]
                assert catch["ErrorEquals"] == ["States.ALL"]
                assert states[catch["Next"]]["Type"] == "Fail"
                assert states[catch["Next"]]["CausePath"] == "$.error.Cause"

    def test_pipeline_waits_for_sagemaker_jobs(self):
        """
        1. Load the fixed pipeline.
        2. Its SageMaker tasks use the .sync integrations (pitfall 1 of the article).
        """
        states = filled("pipeline")["States"]
        assert states["Preprocess"]["Resource"] == "arn:aws:states:::sagemaker:createProcessingJob.sync"
        assert states["Train"]["Resource"] == "arn:aws:states:::sagemaker:createTrainingJob.sync"


class TestEnsureStateMachine:
    """State machines are created once with tags, then updated in place."""

    def test_create_then_update(self, kit, capsys):
        """
        1. ensure_state_machine() for the article's chain.
        2. It exists with that definition, the role, STANDARD type and the kit's tags.
        3. Call again with the pipeline definition and another role: same ARN, new definition and role.
        """
        first_role = iam.ensure_role(kit, "states")
        other_role = iam.ensure_role(kit, "fetch-data")
        name = kit.names.state_machine("pipeline")
        arn = stepfunctions.ensure_state_machine(kit, name, filled("article_chain"), first_role)
        client = kit.client("stepfunctions")
        described = client.describe_state_machine(stateMachineArn=arn)
        assert json.loads(described["definition"]) == filled("article_chain")
        assert (described["roleArn"], described["type"]) == (first_role, "STANDARD")
        tags = client.list_tags_for_resource(resourceArn=arn)["tags"]
        assert {"key": config.TAG_KIT, "value": config.KIT} in tags
        assert f"state machine {name} created" in capsys.readouterr().out

        again = stepfunctions.ensure_state_machine(kit, name, filled("pipeline"), other_role)
        assert again == arn
        described = client.describe_state_machine(stateMachineArn=arn)
        assert json.loads(described["definition"]) == filled("pipeline")
        assert described["roleArn"] == other_role
        assert f"state machine {name} updated" in capsys.readouterr().out
        assert [m["name"] for m in client.list_state_machines()["stateMachines"]] == [name]


class TestFailureCause:
    """failure_cause() digs the readable reason out of an execution's cause."""

    @pytest.mark.parametrize("cause, expected", [
        (json.dumps({"TrainingJobName": "t", "TrainingJobStatus": "Failed",
                     "FailureReason": "ClientError: num_classes must be set"}), "ClientError: num_classes must be set"),
        (json.dumps({"errorType": "ValueError", "errorMessage": "missing 'bucket'"}), "missing 'bucket'"),
        (json.dumps({"ProcessingJobStatus": "Stopped"}), json.dumps({"ProcessingJobStatus": "Stopped"})),
        ("States.Timeout: no JSON here", "States.Timeout: no JSON here"),
        (json.dumps(["a", "list"]), json.dumps(["a", "list"])),
    ])
    def test_cause(self, cause, expected):
        """
        1. Give an execution with a cause: SageMaker job JSON, Lambda error JSON, JSON without reason, text, a list.
        2. The reason, the error message, or the cause unchanged.
        """
        assert stepfunctions.failure_cause({"status": "FAILED", "cause": cause}) == expected

    def test_no_cause(self):
        """
        1. Give an execution without a cause.
        2. An empty string.
        """
        assert stepfunctions.failure_cause({"status": "ABORTED"}) == ""


class TestStateMachineSvg:
    """The picture is well-formed SVG showing every state; Catch edges are dashed."""

    @staticmethod
    def parse(definition: dict, title: str = "") -> ET.Element:
        return ET.fromstring(diagrams.state_machine_svg(definition, title))

    @pytest.mark.parametrize("name", sorted(PLACEHOLDERS))
    def test_states_and_edges(self, name):
        """
        1. Draw a state machine.
        2. The root is <svg>; every state has one box and its name as text.
        3. There is one dashed path per Catch and one solid path per other transition.
        """
        definition = filled(name)
        root = self.parse(definition)
        assert root.tag == f"{SVG}svg"
        texts = [t.text for t in root.iter(f"{SVG}text")]
        for state in definition["States"]:
            assert texts.count(state) == 1, state
        assert len(list(root.iter(f"{SVG}rect"))) == len(definition["States"])
        paths = [p for p in root.iter(f"{SVG}path") if p.get("fill") == "none"]
        dashed = [p for p in paths if p.get("stroke-dasharray")]
        catches = sum(len(s.get("Catch", [])) for s in definition["States"].values())
        transitions = sum(len(targets(s)) for s in definition["States"].values())
        assert len(dashed) == catches
        assert len(paths) - len(dashed) == transitions - catches

    def test_catch_targets_beside_the_main_path(self):
        """
        1. Draw the fixed pipeline.
        2. The Fail states stand to the right of the main path's states.
        """
        root = self.parse(filled("pipeline"))
        boxes = list(root.iter(f"{SVG}rect"))
        x = dict(zip(filled("pipeline")["States"], (float(b.get("x")) for b in boxes)))
        assert min(x["IngestFailed"], x["PreprocessFailed"], x["TrainFailed"]) > max(
            x["FetchData"], x["Preprocess"], x["Train"])

    def test_choice_labels_and_escaped_title(self):
        """
        1. Draw a machine with a Choice (a rule and a Default), a Wait and names needing escaping, titled "<A & B>".
        2. It parses; the title and names read back unescaped; the choice rule and "default" label their edges.
        """
        definition = {"StartAt": "Check <score>", "States": {
            "Check <score>": {"Type": "Choice", "Choices": [
                {"Variable": "$.accuracy", "NumericGreaterThanEquals": 0.9, "Next": "Deploy & go"}],
                "Default": "Wait a bit"},
            "Wait a bit": {"Type": "Wait", "Seconds": 1, "Next": "Check <score>"},
            "Deploy & go": {"Type": "Succeed"}}}
        root = self.parse(definition, title="<A & B>")
        texts = [t.text for t in root.iter(f"{SVG}text")]
        assert texts[0] == "<A & B>"
        assert {"Check <score>", "Wait a bit", "Deploy & go", "default", "≥ 0.9"} <= set(texts)
