"""``python -m localcloud --warm-stepfunctions``: moto's ASL parser has built its tables before a notebook asks.

moto parses every definition with ANTLR, whose decision tables (DFA states, shared by all parsers in a
process) are built the first time a decision is met: the first CreateStateMachine in a fresh cloud took
~0.5 s more than the next ones. The warm-up parses a sample definition once the cloud is ready.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

from _support import PROJECT_ROOT
from conftest_cloud import CloudProcess

from localcloud.moto_seams._warmup import DEFINITION, warm_stepfunctions

PIPELINE = PROJECT_ROOT / "statemachines" / "pipeline.asl.json"
# a fresh interpreter: how many DFA states parsing the kit's pipeline builds, after the warm-up or without it
COUNT = """
import json, re, sys
from moto.stepfunctions.parser.asl.antlr.runtime.ASLLexer import ASLLexer
from moto.stepfunctions.parser.asl.antlr.runtime.ASLParser import ASLParser
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from localcloud.moto_seams._warmup import warm_stepfunctions

def states():
    return sum(len(dfa._states) for owner in (ASLLexer, ASLParser) for dfa in owner.decisionsToDFA)

if sys.argv[1] == "warm":
    warm_stepfunctions()
before = states()
AmazonStateLanguageParser.parse(sys.argv[2])
print(json.dumps({"built": states() - before}))
"""


def _pipeline_definition() -> str:
    """The kit's pipeline with its ``${...}`` placeholders filled as notebook 05 fills them (shape only)."""
    arn = "arn:aws:lambda:eu-west-1:123456789012:function:warm-test"
    return re.sub(r"\$\{(\w+)\}", lambda m: arn if m.group(1).endswith("Arn") else "placeholder", PIPELINE.read_text())


def _states_built(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", COUNT, mode, _pipeline_definition()], capture_output=True,
                          text=True, timeout=120, cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])["built"]


class TestWarmUpFillsTheParserTables:
    """After the warm-up, parsing the kit's pipeline builds (almost) no new ANTLR decision states."""

    def test_sample_definition_parses(self):
        """
        1. Parse the warm-up's sample definition with moto's parser (a refusal raises).
        2. It is a real state machine: it starts somewhere and has the constructs the kit uses.
        """
        warm_stepfunctions()
        sample = json.loads(DEFINITION)
        assert sample["StartAt"] in sample["States"]
        assert {state["Type"] for state in sample["States"].values()} >= {"Task", "Choice", "Wait", "Pass", "Fail"}

    def test_pipeline_parse_after_warm_up_builds_little(self):
        """
        1. In a fresh interpreter, parse statemachines/pipeline.asl.json and count the DFA states it builds.
        2. In another, run the warm-up first, then parse the same definition and count again.
        3. The warm parse builds at most a tenth of what the cold one builds.
        """
        cold = _states_built("cold")
        warm = _states_built("warm")
        assert cold > 50, f"a cold parse built only {cold} DFA states: moto's parser changed?"
        assert warm <= cold // 10, f"after the warm-up the pipeline's parse still built {warm} of {cold} states"


class TestCliWarmUp:
    """``--warm-stepfunctions`` starts the warm-up after the ready line; requests are answered meanwhile."""

    def test_create_state_machine_while_warming(self):
        """CreateStateMachine answers with the machine's ARN
        (https://docs.aws.amazon.com/step-functions/latest/apireference/API_CreateStateMachine.html).

        1. Start ``python -m localcloud --warm-stepfunctions``.
        2. At once (the warm-up may still run), create a role Step Functions trusts and a state machine.
        3. The answer names the machine; describing it returns the definition given.
        """
        cloud = CloudProcess("--warm-stepfunctions")
        try:
            iam, sfn = cloud.client("iam"), cloud.client("stepfunctions")
            trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                            "Principal": {"Service": "states.amazonaws.com"}}]}
            role = iam.create_role(RoleName="warm-test", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
            definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
            arn = sfn.create_state_machine(name="warm-test", definition=definition, roleArn=role)["stateMachineArn"]
            assert arn.endswith(":stateMachine:warm-test")
            assert sfn.describe_state_machine(stateMachineArn=arn)["definition"] == definition
        finally:
            assert cloud.stop() == 0
