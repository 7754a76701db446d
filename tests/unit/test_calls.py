"""A helper call can show the boto3 requests it made (show_request=True), as boto3 code folded under the cell."""

from __future__ import annotations

import json

from helpers import calls, events, iam, lambdas, s3, stepfunctions


class TestShowRequest:
    def test_ensure_function_shows_create_function_as_boto3_code(self, kit, capsys):
        """
        1. On moto, ensure_role (the role's trust and permission JSON) and ensure_function, both with
           show_request=True.
        2. Each prints "the request:" naming the calls that changed something (not the Get*/waiter calls), as
           boto3 code whose parameters are what moto received: the role's documents as JSON objects, the zip by
           its size.
        """
        s3.ensure_bucket(kit)
        role = iam.ensure_role(kit, "start-training", show_request=True)
        shown = capsys.readouterr().out
        assert "the request: iam.create_role, iam.put_role_policy" in shown
        assert "AssumeRolePolicyDocument=json.dumps({" in shown  # the trust policy as code, not an escaped string
        assert "'Principal': {'Service': 'lambda.amazonaws.com'}" in shown
        name = kit.names.function("start-training")
        lambdas.ensure_function(kit, name, role, handler="h.handler", zip_file=b"PK" + b"\0" * 3000,
                                show_request=True)
        shown = capsys.readouterr().out
        assert "the request: lambda.create_function\n" in shown
        assert 'kit.client("lambda").create_function(\n' in shown and "Code={'ZipFile': b'<3002 bytes>'}" in shown
        assert f"    FunctionName='{name}',\n" in shown and "get_function" not in shown
        assert kit.client("lambda").get_function(FunctionName=name)["Configuration"]["Role"] == role

    def test_start_execution_and_rules(self, kit, capsys):
        """
        1. On moto, a state machine, start() and ensure_rule() with show_request=True.
        2. start shows stepfunctions.start_execution with its input as JSON; ensure_rule events.put_rule and
           events.put_targets. Without show_request nothing is printed but the helpers' own lines.
        """
        role = kit.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "states.amazonaws.com"}}]}))["Role"]["Arn"]
        arn = kit.client("stepfunctions").create_state_machine(
            name="m", roleArn=role, definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass",
                                                                                          "End": True}}}))[
            "stateMachineArn"]
        stepfunctions.start(kit, arn, {"epochs": "2"}, name="run-1", show_request=True)
        shown = capsys.readouterr().out
        assert "the request: stepfunctions.start_execution" in shown and "input=json.dumps({'epochs': '2'})" in shown
        events.ensure_rule(kit, "rule", {"source": ["aws.s3"]}, arn, role, show_request=True)
        assert "the request: events.put_rule, events.put_targets" in capsys.readouterr().out
        stepfunctions.start(kit, arn, {"epochs": "3"}, name="run-2")
        assert "the request" not in capsys.readouterr().out

    def test_folded_in_html(self):
        shown = calls.Requests([calls.Call("lambda", "invoke", {"Payload": b'{"a": 1}'})])
        assert shown._repr_html_().startswith("<details><summary>the request: lambda.invoke</summary><pre>")
        assert "Payload=json.dumps({'a': 1}).encode()," in repr(shown)
