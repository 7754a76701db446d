"""Event-driven triggers: S3 → EventBridge → Step Functions, PutEvents → Step Functions, S3 → Lambda.

Every test talks to ``python -m localcloud`` (the ``cloud`` fixture) through boto3 only. Each
test makes its own bucket and rule, so the rules of one test never match another's uploads.
Delivery is asynchronous, as on AWS: tests wait for the expected executions with a deadline,
then wait a little longer to see that no extra ones appear.
"""

from __future__ import annotations

import json
import re
import textwrap
import time

import pytest
from botocore.exceptions import ClientError
from _support import (EVENTS_DIR, create_bucket, create_role, load_event, unique_name, zip_bytes)
from _wait import wait_for, wait_for_status

REGION = "eu-west-1"
FINISHED = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
GRACE_SECONDS = 1.0  # how long to keep watching for deliveries that should not happen
ISO_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

RECORDING_HANDLER = textwrap.dedent('''
    import json, os, time
    import boto3

    def handler(event, context):
        time.sleep(float(os.environ["DELAY_SECONDS"]))  # slower than the PutObject that triggered it
        boto3.client("s3").put_object(Bucket=os.environ["RECORD_BUCKET"], Key=f"events/{context.aws_request_id}.json",
                                      Body=json.dumps(event))
        return {"recorded": context.aws_request_id}
''')


def _fixture(name: str) -> dict:
    """A JSON file of tests/events/ read as it is (its JSONPaths hold ``$``, so no templating)."""
    return json.loads((EVENTS_DIR / name).read_text())


@pytest.fixture(scope="module")
def clients(cloud):
    return {service: cloud.client(service, REGION) for service in ("s3", "events", "stepfunctions", "lambda", "iam")}


@pytest.fixture(scope="module")
def role(cloud):
    return create_role(cloud, unique_name("events-tests"))


@pytest.fixture
def machine(clients, role):
    """A fresh state machine (one Pass state): its executions are only those the test causes."""
    definition = {"StartAt": "Received", "States": {"Received": {"Type": "Pass", "End": True}}}
    return clients["stepfunctions"].create_state_machine(
        name=unique_name("triggered"), definition=json.dumps(definition), roleArn=role)["stateMachineArn"]


@pytest.fixture
def eventbridge_bucket(cloud, clients):
    """A bucket that sends its events to EventBridge."""
    bucket = create_bucket(cloud, unique_name("events"), REGION)
    clients["s3"].put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})
    return bucket


def _uploads_rule(clients, bucket: str, target: dict, prefix: str = "incoming/", state: str = "ENABLED") -> str:
    """A rule for objects created in ``bucket`` under ``prefix``, with one target; returns its name."""
    name = unique_name("uploads")
    pattern = {"source": ["aws.s3"], "detail-type": ["Object Created"],
               "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": prefix}]}}}
    clients["events"].put_rule(Name=name, EventPattern=json.dumps(pattern), State=state)
    failed = clients["events"].put_targets(Rule=name, Targets=[{"Id": "machine", **target}])
    assert failed["FailedEntryCount"] == 0, failed
    return name


def _recording_function(clients, role: str, record_bucket: str, delay_seconds: float = 0.0) -> str:
    """A function that records each event it gets as events/<request id>.json in ``record_bucket``."""
    return clients["lambda"].create_function(
        FunctionName=unique_name("recorder"), Runtime="python3.11", Role=role, Handler="app.handler",
        Code={"ZipFile": zip_bytes({"app.py": RECORDING_HANDLER})}, Timeout=30,
        Environment={"Variables": {"RECORD_BUCKET": record_bucket, "DELAY_SECONDS": str(delay_seconds)}},
    )["FunctionArn"]


def _recorded_events(clients, record_bucket: str, count: int) -> list:
    """Wait for ``count`` recorded events, then a grace period; return every recorded event."""
    s3 = clients["s3"]

    def keys() -> list[str]:
        return [o["Key"] for o in s3.list_objects_v2(Bucket=record_bucket).get("Contents", [])]

    wait_for(lambda: len(keys()) >= count, timeout=20, description=f"{count} recorded event(s)")
    time.sleep(GRACE_SECONDS)
    return [json.loads(s3.get_object(Bucket=record_bucket, Key=key)["Body"].read()) for key in keys()]


def _executions(clients, machine: str) -> list[dict]:
    """Every execution of ``machine``, finished, described (input parsed), oldest first."""
    sfn = clients["stepfunctions"]
    found = []
    for item in sfn.list_executions(stateMachineArn=machine)["executions"]:
        described = wait_for_status(lambda: sfn.describe_execution(executionArn=item["executionArn"]), "status",
                                    FINISHED, timeout=20)
        found.append({**described, "input": json.loads(described["input"])})
    return sorted(found, key=lambda e: e["startDate"])


def _wait_executions(clients, machine: str, count: int) -> list[dict]:
    """Wait until ``machine`` has ``count`` executions, then a grace period; return them all."""
    sfn = clients["stepfunctions"]
    if count:
        wait_for(lambda: len(sfn.list_executions(stateMachineArn=machine)["executions"]) >= count, timeout=15,
                 description=f"{count} execution(s) of {machine.rsplit(':', 1)[-1]}")
    time.sleep(GRACE_SECONDS)
    return _executions(clients, machine)


class TestS3ToStepFunctions:
    """An upload to a bucket with EventBridge notifications starts the rule's state machine."""

    def test_matching_upload_starts_one_execution(self, clients, eventbridge_bucket, machine, role):
        """
        1. Rule: objects created in the bucket under incoming/; target: the state machine with the
           InputTransformer of tests/events/localcloud_s3_upload_transformer.json.
        2. Upload other/y.csv (outside the prefix), then incoming/x.csv.
        3. Exactly one execution starts, SUCCEEDED; its input is the transformer's output for
           incoming/x.csv: bucket and key as JSON strings, and the quoted message filled in.
        """
        transformer = _fixture("localcloud_s3_upload_transformer.json")
        _uploads_rule(clients, eventbridge_bucket, {"Arn": machine, "RoleArn": role, "InputTransformer": transformer})

        clients["s3"].put_object(Bucket=eventbridge_bucket, Key="other/y.csv", Body=b"1,2,3\n")
        clients["s3"].put_object(Bucket=eventbridge_bucket, Key="incoming/x.csv", Body=b"1,2,3\n")

        executions = _wait_executions(clients, machine, 1)
        assert len(executions) == 1
        assert executions[0]["status"] == "SUCCEEDED"
        assert executions[0]["input"] == {
            "bucket": eventbridge_bucket, "key": "incoming/x.csv",
            "message": f"PutObject of incoming/x.csv in {eventbridge_bucket}"}

    def test_default_input_is_the_s3_event(self, clients, eventbridge_bucket, machine, role, account):
        """
        1. Rule with a plain target (no Input, InputPath or InputTransformer).
        2. Upload incoming/a b+c.csv.
        3. The execution input is S3's EventBridge event: source aws.s3, detail-type Object Created,
           account, region, ISO time, the bucket ARN in resources, and a detail with the key
           NOT URL-encoded, size, etag, sequencer, request-id, requester and reason PutObject.
        """
        _uploads_rule(clients, eventbridge_bucket, {"Arn": machine, "RoleArn": role})
        key = "incoming/a b+c.csv"
        etag = clients["s3"].put_object(Bucket=eventbridge_bucket, Key=key, Body=b"5.1,3.5\n")["ETag"].strip('"')

        [execution] = _wait_executions(clients, machine, 1)

        event = execution["input"]
        assert event["source"] == "aws.s3" and event["detail-type"] == "Object Created"
        assert event["version"] == "0" and event["id"]
        assert event["account"] == account and event["region"] == REGION
        assert ISO_SECONDS.match(event["time"]), event["time"]
        assert event["resources"] == [f"arn:aws:s3:::{eventbridge_bucket}"]
        detail = event["detail"]
        assert detail["version"] == "0"
        assert detail["bucket"] == {"name": eventbridge_bucket}
        assert detail["object"]["key"] == key
        assert detail["object"]["size"] == 8
        assert detail["object"]["etag"] == etag
        assert re.fullmatch(r"[0-9A-F]+", detail["object"]["sequencer"])
        assert detail["reason"] == "PutObject"
        assert detail["requester"] == account and detail["request-id"]

    def test_copy_and_multipart_uploads(self, clients, eventbridge_bucket, machine, role):
        """
        1. Rule on incoming/ with InputPath $.detail (the target gets only the event's detail).
        2. Put a source object under src/ (no match), copy it to incoming/copied.csv, and upload
           incoming/parts.csv as a multipart upload.
        3. Two executions: reasons CopyObject and CompleteMultipartUpload, with their keys.
        """
        _uploads_rule(clients, eventbridge_bucket, {"Arn": machine, "RoleArn": role, "InputPath": "$.detail"})
        s3 = clients["s3"]
        s3.put_object(Bucket=eventbridge_bucket, Key="src/original.csv", Body=b"1,2\n")
        s3.copy_object(Bucket=eventbridge_bucket, Key="incoming/copied.csv",
                       CopySource={"Bucket": eventbridge_bucket, "Key": "src/original.csv"})
        upload = s3.create_multipart_upload(Bucket=eventbridge_bucket, Key="incoming/parts.csv")["UploadId"]
        part = s3.upload_part(Bucket=eventbridge_bucket, Key="incoming/parts.csv", UploadId=upload, PartNumber=1,
                              Body=b"3,4\n")
        s3.complete_multipart_upload(Bucket=eventbridge_bucket, Key="incoming/parts.csv", UploadId=upload,
                                     MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]})

        executions = _wait_executions(clients, machine, 2)

        received = sorted((e["input"]["reason"], e["input"]["object"]["key"]) for e in executions)
        assert received == [("CompleteMultipartUpload", "incoming/parts.csv"), ("CopyObject", "incoming/copied.csv")]

    def test_constant_input(self, clients, eventbridge_bucket, machine, role):
        """
        1. Rule whose target has Input: the JSON of tests/events/localcloud_constant_input.json.
        2. Upload incoming/z.csv.
        3. One execution, whose input is exactly that constant.
        """
        constant = _fixture("localcloud_constant_input.json")
        _uploads_rule(clients, eventbridge_bucket, {"Arn": machine, "RoleArn": role, "Input": json.dumps(constant)})

        clients["s3"].put_object(Bucket=eventbridge_bucket, Key="incoming/z.csv", Body=b"1\n")

        [execution] = _wait_executions(clients, machine, 1)
        assert execution["input"] == constant

    def test_disabled_rule_starts_nothing(self, clients, eventbridge_bucket, machine, role):
        """
        1. A DISABLED rule that would match.
        2. Upload incoming/x.csv.
        3. No execution starts.
        """
        _uploads_rule(clients, eventbridge_bucket, {"Arn": machine, "RoleArn": role}, state="DISABLED")

        clients["s3"].put_object(Bucket=eventbridge_bucket, Key="incoming/x.csv", Body=b"1\n")

        assert _wait_executions(clients, machine, 0) == []

    def test_bucket_without_eventbridge_starts_nothing(self, cloud, clients, machine, role):
        """
        1. A bucket without EventBridge notifications, and a rule that matches its uploads.
        2. Upload incoming/x.csv.
        3. No execution starts (S3 sends nothing to EventBridge unless asked to).
        """
        bucket = create_bucket(cloud, unique_name("quiet"), REGION)
        _uploads_rule(clients, bucket, {"Arn": machine, "RoleArn": role})

        clients["s3"].put_object(Bucket=bucket, Key="incoming/x.csv", Body=b"1\n")

        assert _wait_executions(clients, machine, 0) == []


class TestPutEvents:
    """A custom event sent with PutEvents reaches a matching rule's state machine or function."""

    def test_custom_event_starts_execution(self, clients, machine, role, account):
        """
        1. Rule matching source <unique> and detail.stage "train"; target: the state machine.
        2. PutEvents: first a detail with stage "evaluate" (no match), then the detail of
           tests/events/localcloud_custom_event.json (stage "train").
        3. One execution; its input is the whole event: source, detail-type, account, region,
           ISO time, and the detail as sent.
        """
        source = f"kit.tests.{unique_name('app')}"
        rule = unique_name("custom")
        clients["events"].put_rule(Name=rule, EventPattern=json.dumps({"source": [source],
                                                                       "detail": {"stage": ["train"]}}))
        clients["events"].put_targets(Rule=rule, Targets=[{"Id": "machine", "Arn": machine, "RoleArn": role}])
        detail = load_event("localcloud_custom_event.json", run_id=unique_name("run"))

        entries = [{"Source": source, "DetailType": "Pipeline Stage", "Detail": json.dumps(body)}
                   for body in ({**detail, "stage": "evaluate"}, detail)]
        response = clients["events"].put_events(Entries=entries)

        assert response["FailedEntryCount"] == 0
        [execution] = _wait_executions(clients, machine, 1)
        event = execution["input"]
        assert event["source"] == source and event["detail-type"] == "Pipeline Stage"
        assert event["account"] == account and event["region"] == REGION
        assert ISO_SECONDS.match(event["time"]), event["time"]
        assert event["detail"] == detail
        assert event["id"] == response["Entries"][1]["EventId"]
        assert execution["status"] == "SUCCEEDED"

    def test_custom_event_invokes_lambda_target(self, cloud, clients, role):
        """
        1. Rule matching source <unique>; target: a recording function with InputPath $.detail.
        2. PutEvents with the detail of tests/events/localcloud_custom_event.json.
        3. The function runs once and receives exactly that detail.
        """
        record_bucket = create_bucket(cloud, unique_name("records"), REGION)
        function = _recording_function(clients, role, record_bucket)
        source = f"kit.tests.{unique_name('app')}"
        rule = unique_name("to-lambda")
        rule_arn = clients["events"].put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))["RuleArn"]
        clients["lambda"].add_permission(FunctionName=function, StatementId="events", Action="lambda:InvokeFunction",
                                         Principal="events.amazonaws.com", SourceArn=rule_arn)
        clients["events"].put_targets(Rule=rule, Targets=[{"Id": "fn", "Arn": function, "InputPath": "$.detail"}])
        detail = load_event("localcloud_custom_event.json", run_id=unique_name("run"))

        clients["events"].put_events(Entries=[{"Source": source, "DetailType": "Pipeline Stage",
                                               "Detail": json.dumps(detail)}])

        assert _recorded_events(clients, record_bucket, 1) == [detail]

    def test_function_that_granted_nothing_is_not_invoked(self, cloud, clients, role):
        """
        1. One rule, two recording functions as targets: one granted events.amazonaws.com lambda:InvokeFunction
           for the rule (AddPermission), one that granted nothing
           (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-lambda-permissions).
        2. PutEvents: the granting function records the event; the other never runs.
        """
        granted_bucket = create_bucket(cloud, unique_name("granted"), REGION)
        silent_bucket = create_bucket(cloud, unique_name("silent"), REGION)
        granted = _recording_function(clients, role, granted_bucket)
        silent = _recording_function(clients, role, silent_bucket)
        source = f"kit.tests.{unique_name('app')}"
        rule = unique_name("grants")
        rule_arn = clients["events"].put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))["RuleArn"]
        clients["lambda"].add_permission(FunctionName=granted, StatementId="events", Action="lambda:InvokeFunction",
                                         Principal="events.amazonaws.com", SourceArn=rule_arn)
        # the silent target first: its (refused) delivery is decided before the granted one has run
        clients["events"].put_targets(Rule=rule, Targets=[{"Id": "silent", "Arn": silent},
                                                          {"Id": "granted", "Arn": granted}])

        clients["events"].put_events(Entries=[{"Source": source, "DetailType": "x", "Detail": "{}"}])

        assert len(_recorded_events(clients, granted_bucket, 1)) == 1
        assert clients["s3"].list_objects_v2(Bucket=silent_bucket).get("KeyCount") == 0

    def test_state_machine_target_needs_a_role(self, clients, machine):
        """
        1. PutTargets with a state machine target and no RoleArn.
        2. ValidationException "RoleArn is required for target <arn>." (EventBridge starts state machines only
           through a role: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-targets.html).
        """
        rule = unique_name("no-role")
        clients["events"].put_rule(Name=rule, EventPattern=json.dumps({"source": ["kit.tests"]}))
        with pytest.raises(ClientError) as refused:
            clients["events"].put_targets(Rule=rule, Targets=[{"Id": "machine", "Arn": machine}])
        assert refused.value.response["Error"]["Code"] == "ValidationException"
        assert refused.value.response["Error"]["Message"] == f"RoleArn is required for target {machine}."


class TestS3ToLambda:
    """S3 notifications run the function asynchronously with AWS's event record."""

    def test_handler_receives_record_with_encoded_key(self, cloud, clients, role):
        """
        1. A function that sleeps 1.5 s, then writes the event it got into a record bucket.
        2. The data bucket notifies it of s3:ObjectCreated:* for keys with prefix incoming/ and suffix .csv.
        3. Upload incoming/my file.csv (match), incoming/notes.txt and other/z.csv (no match):
           PutObject returns well before the handler could have finished.
        4. Exactly one event is recorded: eventSource aws:s3, eventName ObjectCreated:Put, the bucket's
           name and ARN, the object's size and ETag, and the key URL-encoded as AWS does it:
           incoming/my+file.csv ("/" kept, space as "+").
        """
        data_bucket = create_bucket(cloud, unique_name("notify"), REGION)
        record_bucket = create_bucket(cloud, unique_name("records"), REGION)
        function = _recording_function(clients, role, record_bucket, delay_seconds=1.5)
        clients["lambda"].add_permission(FunctionName=function, StatementId="s3", Action="lambda:InvokeFunction",
                                         Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{data_bucket}")
        clients["s3"].put_bucket_notification_configuration(Bucket=data_bucket, NotificationConfiguration={
            "LambdaFunctionConfigurations": [{
                "LambdaFunctionArn": function, "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "incoming/"},
                                                   {"Name": "suffix", "Value": ".csv"}]}}}]})

        started = time.monotonic()
        put = clients["s3"].put_object(Bucket=data_bucket, Key="incoming/my file.csv", Body=b"5.1,3.5,1.4,0.2\n")
        elapsed = time.monotonic() - started
        clients["s3"].put_object(Bucket=data_bucket, Key="incoming/notes.txt", Body=b"no")
        clients["s3"].put_object(Bucket=data_bucket, Key="other/z.csv", Body=b"1\n")

        assert elapsed < 1.0, f"PutObject waited {elapsed:.2f} s for the function"
        [event] = _recorded_events(clients, record_bucket, 1)
        [record] = event["Records"]
        assert record["eventSource"] == "aws:s3" and record["eventName"] == "ObjectCreated:Put"
        assert record["awsRegion"] == REGION
        assert record["s3"]["bucket"]["name"] == data_bucket
        assert record["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{data_bucket}"
        assert record["s3"]["object"]["key"] == "incoming/my+file.csv"
        assert record["s3"]["object"]["size"] == 16
        assert record["s3"]["object"]["eTag"] == put["ETag"].strip('"')
