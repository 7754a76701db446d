"""AWS's size limits: Lambda payloads, deployment packages and log events, and model artifacts that would unpack
to gigabytes.

Every test talks to ``python -m localcloud`` (the ``cloud`` fixture) through plain boto3.
"""

from __future__ import annotations

import glob
import io
import json
import tarfile
import uuid
import zipfile

import pytest
from _support import create_bucket, create_role, ecr_image_uri, unique_name, zip_bytes
from _wait import wait_for_status
from botocore.exceptions import ClientError

from localcloud.sagemaker.inference import model_artifacts

REGION = "eu-west-1"
ECHO_SIZE = "def handler(event, context):\n    return {'bytes': len(event.get('blob', ''))}\n"
BIG_ANSWER = "def handler(event, context):\n    return 'A' * event['size']\n"


@pytest.fixture(scope="module")
def lam(cloud):
    return cloud.client("lambda", REGION)


@pytest.fixture(scope="module")
def function(cloud, lam):
    """A function that answers the size of the string it got, or a string of the size asked for."""
    role = create_role(cloud, unique_name("limits-role"))
    names = {}
    for label, source in (("echo", ECHO_SIZE), ("big", BIG_ANSWER)):
        names[label] = unique_name(f"limits-{label}")
        lam.create_function(FunctionName=names[label], Runtime="python3.11", Role=role, Handler="app.handler",
                            Code={"ZipFile": zip_bytes({"app.py": source})}, Timeout=30, MemorySize=512)
    return names


def _blob(size: int) -> bytes:
    """A JSON event of exactly ``size`` bytes."""
    overhead = len(json.dumps({"blob": ""}))
    return json.dumps({"blob": "x" * (size - overhead)}).encode()


class TestInvokePayloadLimits:
    """Invoke refuses requests over AWS's payload quotas with 413 before any handler runs.

    AWS: https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html ("For synchronous invocations, the
    maximum payload size is 6 MB. For asynchronous invocations, the maximum payload size is 1 MB.";
    RequestTooLargeException, HTTP 413) and https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html.
    The wire code and message are those AWS answers ("RequestEntityTooLargeException: Request must be smaller
    than 6291456 bytes for the InvokeFunction operation", measured in
    https://zaccharles.medium.com/deep-dive-lambdas-request-payload-size-limit-2-2-6350c1ae5577).
    """

    def test_sync_request_at_the_limit_runs(self, lam, function):
        """
        1. Invoke synchronously with a 6291456-byte event.
        2. The handler runs and sees the whole string.
        """
        response = lam.invoke(FunctionName=function["echo"], Payload=_blob(6291456))
        assert "FunctionError" not in response
        assert json.loads(response["Payload"].read())["bytes"] == 6291456 - len(json.dumps({"blob": ""}))

    def test_sync_request_over_the_limit_is_413(self, lam, function):
        """
        1. Invoke synchronously with a 6291457-byte event.
        2. 413 RequestEntityTooLargeException, "Request must be smaller than 6291456 bytes for the
           InvokeFunction operation".
        """
        with pytest.raises(ClientError) as caught:
            lam.invoke(FunctionName=function["echo"], Payload=_blob(6291457))
        error = caught.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 413
        assert error["Error"]["Code"] == "RequestEntityTooLargeException"
        assert error["Error"]["Message"] == (
            "Request must be smaller than 6291456 bytes for the InvokeFunction operation")

    def test_async_request_over_1_mb_is_413(self, lam, function):
        """
        1. Invoke with InvocationType Event and a 1048577-byte event; then with 1048576 bytes.
        2. The first is 413 naming the Event invocation type and its limit; the second is accepted (202).
        """
        with pytest.raises(ClientError) as caught:
            lam.invoke(FunctionName=function["echo"], InvocationType="Event", Payload=_blob(1048577))
        error = caught.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 413
        assert error["Error"]["Code"] == "RequestEntityTooLargeException"
        assert "for the Event invocation type (limit 1048576 bytes)" in error["Error"]["Message"]
        accepted = lam.invoke(FunctionName=function["echo"], InvocationType="Event", Payload=_blob(1048576))
        assert accepted["StatusCode"] == 202


class TestInvokeResponseLimit:
    """A handler answer over 6 MB becomes AWS's Function.ResponseSizeTooLarge function error.

    AWS: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html (6 MB response) and the
    error Lambda returns, measured in
    https://zaccharles.medium.com/deep-dive-lambdas-response-payload-size-limit-8aedba9530ed
    ("Response payload size exceeded maximum allowed payload size (6291556 bytes).").
    """

    def test_response_over_the_limit(self, lam, function):
        """
        1. The handler returns a string whose JSON is 6291557 bytes (6291555 letters and two quotes).
        2. FunctionError Unhandled; the payload is errorType Function.ResponseSizeTooLarge with AWS's message.
        """
        response = lam.invoke(FunctionName=function["big"], Payload=json.dumps({"size": 6291555}).encode())
        payload = json.loads(response["Payload"].read())
        assert response["FunctionError"] == "Unhandled"
        assert payload == {"errorType": "Function.ResponseSizeTooLarge", "errorMessage":
                           "Response payload size exceeded maximum allowed payload size (6291556 bytes)."}

    def test_response_at_the_limit(self, lam, function):
        """
        1. The handler returns a string whose JSON is exactly 6291556 bytes.
        2. It arrives whole.
        """
        response = lam.invoke(FunctionName=function["big"], Payload=json.dumps({"size": 6291554}).encode())
        assert "FunctionError" not in response
        assert len(response["Payload"].read()) == 6291556


class TestZipExtractionStaysInside:
    """A deployment package with ``..`` or absolute member names unpacks inside the function's folder.

    AWS: https://docs.aws.amazon.com/lambda/latest/dg/python-package.html (the package is unpacked in
    /var/task).
    """

    def test_climbing_members_do_not_escape(self, cloud, lam):
        """
        1. A zip with app.py, ``../../../../../../tmp/<marker>`` and ``/tmp/<marker>-abs``.
        2. The function runs; no /tmp/<marker>* exists.
        """
        marker = f"localcloud-escape-{uuid.uuid4().hex[:12]}"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("app.py", "def handler(event, context):\n    return 'ran'\n")
            archive.writestr(f"{'../' * 12}tmp/{marker}", "pwned")
            archive.writestr(f"/tmp/{marker}-abs", "pwned")
        name = unique_name("zip-slip")
        lam.create_function(FunctionName=name, Runtime="python3.11", Role=create_role(cloud, unique_name("zip")),
                            Handler="app.handler", Code={"ZipFile": buffer.getvalue()})
        assert lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read() == b'"ran"'
        assert glob.glob(f"/tmp/{marker}*") == []


MESSAGE_LIMIT = 262_144 - 26  # a CloudWatch Logs event, less its 26 bytes of overhead
LONG_LINE = ("def handler(event, context):\n    print(event['char'] * event['count'])\n"
             "    return context.log_stream_name\n")


def _stream_events(cloud, group: str, stream: str) -> list[str]:
    logs, messages, token = cloud.client("logs", REGION), [], None
    while True:
        page = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True,
                                   **({"nextToken": token} if token else {}))
        messages += [event["message"] for event in page["events"]]
        if not page["events"] or page["nextForwardToken"] == token:
            return messages
        token = page["nextForwardToken"]


@pytest.fixture(scope="module")
def printer(cloud, lam):
    """A function printing one line of event["count"] times event["char"]; it answers its log stream's name."""
    name = unique_name("long-line")
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=create_role(cloud, unique_name("ll")),
                        Handler="app.handler", Code={"ZipFile": zip_bytes({"app.py": LONG_LINE})}, Timeout=60,
                        MemorySize=512)
    return name


class TestLogEventLimit:
    """A line longer than a CloudWatch Logs event is stored as several events, as Lambda splits it.

    AWS: "Each log event can be no larger than 256 KB" with 26 bytes of overhead an event
    (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html); Lambda cuts a
    longer line into consecutive events of 2^18 - 26 bytes (observed in https://stackoverflow.com/questions/77175643).
    The local cloud keeps its logs in memory: of one invocation's output it keeps the first 8 MiB and the last 2 MiB,
    and one event in between says how much it left out (localcloud.child.log_events).
    """

    def test_long_line_becomes_several_events(self, cloud, lam, printer):
        """
        1. The handler prints one line of 300,000 two-byte characters (600,000 bytes).
        2. Its log stream holds it as consecutive events of at most 262,118 bytes, cut between characters:
           joined, they are the line.
        """
        response = lam.invoke(FunctionName=printer, Payload=json.dumps({"char": "é", "count": 300_000}).encode())
        stream = json.loads(response["Payload"].read())
        messages = _stream_events(cloud, f"/aws/lambda/{printer}", stream)
        pieces = [m for m in messages if m.startswith("é")]
        assert len(pieces) == 3, [len(m) for m in messages]
        assert all(len(m.encode()) <= MESSAGE_LIMIT for m in messages)
        assert "".join(pieces) == "é" * 300_000

    def test_huge_output_keeps_its_start_and_end(self, cloud, lam, printer):
        """
        1. The handler prints one line of 20,000,000 bytes.
        2. The stream has no event over the limit, the first 8 MiB and the last 2 MiB of the line, and one event
           between them naming the 10 MiB or so it left out.
        """
        response = lam.invoke(FunctionName=printer, Payload=json.dumps({"char": "z", "count": 20_000_000}).encode())
        assert "FunctionError" not in response
        messages = _stream_events(cloud, f"/aws/lambda/{printer}", json.loads(response["Payload"].read()))
        assert all(len(m.encode()) <= MESSAGE_LIMIT for m in messages)
        markers = [m for m in messages if m.startswith("[localcloud: ")]
        assert len(markers) == 1 and "left out" in markers[0], markers
        kept = sum(len(m) for m in messages if m.startswith("z"))
        assert (8 << 20) + (2 << 20) - 2 * MESSAGE_LIMIT <= kept <= (8 << 20) + (2 << 20)


UNZIPPED_LIMIT = 262_144_000  # 250 MiB


def _zip_of_zeros(unpacked: int) -> bytes:
    """A deployment package (about 1 MB) holding app.py and a member of zeros: ``unpacked`` bytes in all."""
    source = b"def handler(event, context):\n    return 'ran'\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("app.py", source)
        left = unpacked - len(source)
        with archive.open("blob.bin", "w", force_zip64=True) as member:
            while left > 0:
                member.write(bytes(min(left, 1 << 20)))
                left -= 1 << 20
    return buffer.getvalue()


@pytest.fixture(scope="module")
def oversized_zip() -> bytes:
    return _zip_of_zeros(UNZIPPED_LIMIT + 1)


class TestUnzippedCodeLimit:
    """A deployment package that unpacks past 250 MB is refused at CreateFunction and UpdateFunctionCode.

    AWS: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html ("250 MB (unzipped)"
    deployment package, CodeSizeUnzipped in https://docs.aws.amazon.com/lambda/latest/api/API_AccountLimit.html);
    the error AWS answers, InvalidParameterValueException "Unzipped size must be smaller than 262144000 bytes",
    as reported in https://github.com/serverless/serverless/issues/6792 and
    https://github.com/Miserlou/Zappa/issues/612 (CreateFunction operation).
    """

    def test_create_function_refuses_it(self, cloud, lam, oversized_zip):
        """
        1. A 1 MB zip whose members unpack to 262144001 bytes.
        2. CreateFunction with it as ZipFile: 400 InvalidParameterValueException, AWS's message; no function.
        """
        name = unique_name("zip-bomb")
        with pytest.raises(ClientError) as caught:
            lam.create_function(FunctionName=name, Runtime="python3.11", Role=create_role(cloud, unique_name("zb")),
                                Handler="app.handler", Code={"ZipFile": oversized_zip})
        error = caught.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert error["Error"]["Code"] == "InvalidParameterValueException"
        assert error["Error"]["Message"] == "Unzipped size must be smaller than 262144000 bytes"
        with pytest.raises(lam.exceptions.ResourceNotFoundException):
            lam.get_function(FunctionName=name)

    def test_code_from_s3_and_updates_are_refused(self, cloud, lam, s3, oversized_zip):
        """
        1. The same zip in S3: CreateFunction with S3Bucket/S3Key is refused the same way.
        2. A function made from a small zip; UpdateFunctionCode with the large zip (ZipFile, then S3) is refused,
           and the function still runs its first code.
        """
        bucket = create_bucket(cloud, unique_name("zip-bomb"), REGION)
        s3.put_object(Bucket=bucket, Key="bomb.zip", Body=oversized_zip)
        role = create_role(cloud, unique_name("zb"))
        with pytest.raises(ClientError) as caught:
            lam.create_function(FunctionName=unique_name("zip-bomb-s3"), Runtime="python3.11", Role=role,
                                Handler="app.handler", Code={"S3Bucket": bucket, "S3Key": "bomb.zip"})
        assert caught.value.response["Error"]["Message"] == "Unzipped size must be smaller than 262144000 bytes"

        name = unique_name("zip-small")
        lam.create_function(FunctionName=name, Runtime="python3.11", Role=role, Handler="app.handler",
                            Code={"ZipFile": zip_bytes({"app.py": "def handler(event, context):\n"
                                                                  "    return 'small'\n"})})
        for code in ({"ZipFile": oversized_zip}, {"S3Bucket": bucket, "S3Key": "bomb.zip"}):
            with pytest.raises(ClientError) as caught:
                lam.update_function_code(FunctionName=name, **code)
            assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
            assert caught.value.response["Error"]["Message"] == "Unzipped size must be smaller than 262144000 bytes"
        assert lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read() == b'"small"'


def _bomb(member_bytes: int) -> bytes:
    """A model.tar.gz whose one member unpacks to ``member_bytes`` zero bytes (a few hundred KB packed)."""
    class Zeros:
        def __init__(self, size: int) -> None:
            self.left = size

        def read(self, count: int = -1) -> bytes:
            count = self.left if count < 0 else min(count, self.left)
            self.left -= count
            return bytes(count)

    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w:gz", compresslevel=1) as tar:
        info = tarfile.TarInfo("model_algo-1.json")
        info.size = member_bytes
        tar.addfile(info, Zeros(member_bytes))
    return packed.getvalue()


@pytest.fixture(scope="module")
def bomb_model(cloud, sm, s3, account):
    """A linear-learner model whose artifact unpacks past localcloud's cap."""
    bucket = create_bucket(cloud, unique_name("bomb"), REGION)
    key = "models/bomb/model.tar.gz"
    s3.put_object(Bucket=bucket, Key=key, Body=_bomb(model_artifacts.MAX_BYTES + 1))
    name = unique_name("bomb-model")
    sm.create_model(ModelName=name, ExecutionRoleArn=create_role(cloud, unique_name("bomb-role")),
                    PrimaryContainer={"Image": ecr_image_uri(account, REGION, "linear-learner", "1"),
                                      "ModelDataUrl": f"s3://{bucket}/{key}"})
    return {"name": name, "bucket": bucket, "url": f"s3://{bucket}/{key}"}


class TestModelArtifactCap:
    """A model.tar.gz that unpacks past the cap is refused before it is read (ModelError / failed job).

    AWS: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html (ModelError,
    HTTP 424, when the model container fails) and
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeTransformJob.html (FailureReason).
    The cap itself is localcloud's (a stand-in model is a few KB).
    """

    def test_endpoint_answers_model_error(self, cloud, sm, bomb_model):
        """
        1. Deploy the bomb model to an endpoint and invoke it with one CSV row.
        2. 424 ModelError whose message names the artifact and the cap.
        """
        config, endpoint = unique_name("bomb-config"), unique_name("bomb-endpoint")
        sm.create_endpoint_config(EndpointConfigName=config, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": bomb_model["name"], "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large"}])
        sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
        runtime = cloud.client("sagemaker-runtime", REGION)
        with pytest.raises(ClientError) as caught:
            runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=b"5.1,3.5,1.4,0.2")
        error = caught.value.response
        assert error["Error"]["Code"] == "ModelError"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
        assert bomb_model["url"] in error["Error"]["Message"]
        assert f"the cap is {model_artifacts.MAX_BYTES} bytes" in error["Error"]["Message"]

    def test_transform_job_fails_naming_artifact_and_cap(self, sm, s3, bomb_model):
        """
        1. Run a Batch Transform job of the bomb model over one CSV object.
        2. The job Failed; FailureReason is a ClientError naming the artifact and the cap.
        """
        s3.put_object(Bucket=bomb_model["bucket"], Key="in/rows.csv", Body=b"5.1,3.5,1.4,0.2\n")
        name = unique_name("bomb-transform")
        sm.create_transform_job(
            TransformJobName=name, ModelName=bomb_model["name"],
            TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                            "S3Uri": f"s3://{bomb_model['bucket']}/in/"}},
                            "ContentType": "text/csv", "SplitType": "Line"},
            TransformOutput={"S3OutputPath": f"s3://{bomb_model['bucket']}/out/"},
            TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
        final = wait_for_status(lambda: sm.describe_transform_job(TransformJobName=name), "TransformJobStatus",
                                {"Completed", "Failed", "Stopped"}, timeout=60)
        assert final["TransformJobStatus"] == "Failed"
        assert final["FailureReason"].startswith("ClientError: ")
        assert bomb_model["url"] in final["FailureReason"]
        assert f"the cap is {model_artifacts.MAX_BYTES} bytes" in final["FailureReason"]
