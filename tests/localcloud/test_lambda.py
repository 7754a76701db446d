"""Lambda behaviour: the local cloud really runs handlers, as AWS Lambda would.

Every test talks to ``python -m localcloud`` (the ``cloud`` fixture) through boto3 only.
"""

from __future__ import annotations

import base64
import json
import textwrap
import time
import uuid

import pytest
from _support import (PROJECT_ROOT, account_id, create_bucket, create_role, ecr_image_uri, load_event,
                      read_log_messages, unique_name, zip_bytes)
from _wait import wait_for

RUNTIME = "python3.11"

ARITHMETIC_HANDLER = textwrap.dedent('''
    def handler(event, context):
        numbers = event["numbers"]
        return {"sum": sum(numbers), "count": len(numbers), "label": event["label"].upper(),
                "function_name": context.function_name}
''')

PUT_OBJECT_HANDLER = textwrap.dedent('''
    import boto3

    def handler(event, context):
        boto3.client("s3").put_object(Bucket=event["bucket"], Key=event["key"], Body=event["body"].encode())
        return {"written": "s3://%s/%s" % (event["bucket"], event["key"])}
''')

ENVIRONMENT_HANDLER = textwrap.dedent('''
    import os

    def handler(event, context):
        return {name: os.environ.get(name) for name in event["names"]}
''')

ERROR_HANDLER = textwrap.dedent('''
    def check(value):
        raise ValueError(f"cannot handle {value!r}")

    def handler(event, context):
        return check(event["value"])
''')

SLEEP_HANDLER = textwrap.dedent('''
    import time

    def handler(event, context):
        time.sleep(event["seconds"])
        return {"slept": event["seconds"]}
''')

LOGGING_HANDLER = textwrap.dedent('''
    import logging

    logger = logging.getLogger()
    logger.setLevel(logging.INFO)

    def handler(event, context):
        print(f"print says {event['marker']}")
        logger.info("logging says %s", event["marker"])
        return {"request_id": context.aws_request_id}
''')

COUNTER_HANDLER = textwrap.dedent('''
    import os

    VERSION = "{version}"
    COUNT = 0

    def handler(event, context):
        global COUNT
        COUNT += 1
        return {{"count": COUNT, "version": VERSION, "setting": os.environ.get("SETTING"), "pid": os.getpid()}}
''')



def _invoke(lam, name: str, event: object, **kwargs) -> tuple[dict, object]:
    """Invoke and return (response, decoded JSON payload)."""
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), **kwargs)
    body = response["Payload"].read()
    return response, json.loads(body) if body else None


@pytest.fixture(scope="module")
def lam(cloud):
    return cloud.client("lambda")


@pytest.fixture(scope="module")
def s3(cloud):
    return cloud.client("s3")


@pytest.fixture(scope="module")
def role(cloud):
    return create_role(cloud, unique_name("lambda-tests"))


@pytest.fixture(scope="module")
def bucket(cloud):
    return create_bucket(cloud, unique_name("lambda-tests"))


@pytest.fixture(scope="module")
def make_function(lam, role):
    """Create a Zip function from handler source; returns its name."""

    def make(source: str, name: str | None = None, **kwargs) -> str:
        name = name or unique_name("fn")
        lam.create_function(FunctionName=name, Runtime=RUNTIME, Role=role, Handler="app.handler",
                            Code={"ZipFile": zip_bytes({"app.py": source})}, **{"Timeout": 10, **kwargs})
        return name

    return make


class TestZipFunctionRunsTheHandler:
    """A Zip function's handler runs and its return value is the Invoke payload."""

    def test_zip_file_code(self, lam, make_function):
        """
        1. Create a function from an in-memory ZipFile whose handler sums event["numbers"].
        2. Invoke it with tests/events/lambda_arithmetic.json.
        3. The payload holds the values computed from that event, and no FunctionError.
        """
        event = load_event("lambda_arithmetic.json")
        name = make_function(ARITHMETIC_HANDLER)

        response, payload = _invoke(lam, name, event)

        assert response["StatusCode"] == 200
        assert "FunctionError" not in response
        assert payload == {"sum": sum(event["numbers"]), "count": len(event["numbers"]),
                           "label": event["label"].upper(), "function_name": name}

    def test_code_from_s3(self, lam, s3, role, bucket):
        """
        1. Upload the deployment package to S3.
        2. Create the function with Code S3Bucket/S3Key.
        3. Invoke it: the handler from the S3 package runs on the event.
        """
        event = load_event("lambda_arithmetic.json")
        key = f"packages/{uuid.uuid4().hex}.zip"
        s3.put_object(Bucket=bucket, Key=key, Body=zip_bytes({"app.py": ARITHMETIC_HANDLER}))
        name = unique_name("fn-s3")
        lam.create_function(FunctionName=name, Runtime=RUNTIME, Role=role, Handler="app.handler",
                            Code={"S3Bucket": bucket, "S3Key": key}, Timeout=10)

        _, payload = _invoke(lam, name, event)

        assert payload["sum"] == sum(event["numbers"])
        assert payload["function_name"] == name


class TestHandlerCallsTheCloud:
    """boto3 inside the handler reaches the same local cloud (no credentials or endpoint in the code)."""

    def test_handler_puts_an_s3_object(self, lam, s3, bucket, make_function):
        """
        1. Create a function whose handler puts an S3 object with plain boto3.client("s3").
        2. Invoke it synchronously with tests/events/lambda_put_object.json.
        3. The test reads the object back with its own client: same bytes the event asked for.
        """
        key = f"sync/{uuid.uuid4().hex}.txt"
        event = load_event("lambda_put_object.json", bucket=bucket, key=key)
        name = make_function(PUT_OBJECT_HANDLER)

        response, payload = _invoke(lam, name, event)

        assert "FunctionError" not in response, payload
        assert payload == {"written": f"s3://{bucket}/{key}"}
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == event["body"].encode()


class TestEnvironmentVariables:
    """The function's Environment variables, and Lambda's own, are visible to the handler."""

    def test_environment_is_visible(self, lam, make_function):
        """
        1. Create a function with Environment {"GREETING": <random>, "STAGE": "test"}.
        2. Invoke it asking for those variables and Lambda's reserved ones.
        3. The handler sees the configured values, its own name and region.
        """
        greeting = uuid.uuid4().hex
        name = make_function(ENVIRONMENT_HANDLER, Environment={"Variables": {"GREETING": greeting, "STAGE": "test"}})

        _, payload = _invoke(lam, name, {"names": ["GREETING", "STAGE", "AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION"]})

        assert payload == {"GREETING": greeting, "STAGE": "test", "AWS_LAMBDA_FUNCTION_NAME": name,
                           "AWS_REGION": "eu-west-1"}


class TestUnhandledError:
    """An exception in the handler comes back as AWS reports it."""

    def test_exception_becomes_function_error(self, lam, make_function):
        """
        1. Create a function whose handler raises ValueError from a helper function.
        2. Invoke it.
        3. FunctionError is "Unhandled"; the payload has errorMessage, errorType and a stackTrace
           list of strings that names the helper.
        """
        name = make_function(ERROR_HANDLER)
        value = uuid.uuid4().hex

        response, payload = _invoke(lam, name, {"value": value})

        assert response["StatusCode"] == 200
        assert response["FunctionError"] == "Unhandled"
        assert payload["errorType"] == "ValueError"
        assert payload["errorMessage"] == f"cannot handle {value!r}"
        assert isinstance(payload["stackTrace"], list) and payload["stackTrace"]
        assert all(isinstance(line, str) for line in payload["stackTrace"])
        assert any("check" in line for line in payload["stackTrace"])


class TestTimeout:
    """The function's Timeout stops a handler that runs longer."""

    def test_sleeping_handler_times_out(self, lam, make_function):
        """
        1. Create a function with Timeout=1 whose handler sleeps for event["seconds"].
        2. Invoke it with seconds=5 and time the call.
        3. FunctionError, errorType Sandbox.Timedout, a message naming the 1 s timeout, and the call
           returned after about 1 s, not 5.
        4. Invoke again with seconds=0: a fresh environment answers normally.
        """
        name = make_function(SLEEP_HANDLER, Timeout=1)

        started = time.monotonic()
        response, payload = _invoke(lam, name, {"seconds": 5})
        elapsed = time.monotonic() - started

        assert response["FunctionError"] == "Unhandled"
        assert payload["errorType"] == "Sandbox.Timedout"
        assert "timed out after 1.00 seconds" in payload["errorMessage"]
        assert 0.9 <= elapsed < 3.5, f"the invoke took {elapsed:.2f} s for a 1 s timeout"

        response, payload = _invoke(lam, name, {"seconds": 0})
        assert "FunctionError" not in response
        assert payload == {"slept": 0}


class TestLogs:
    """What the handler prints or logs reaches CloudWatch Logs and the LogResult tail."""

    def test_print_and_logging_output(self, cloud, lam, make_function):
        """
        1. Create a function that print()s and logging.info()s a marker.
        2. Invoke it with LogType="Tail".
        3. The decoded LogResult holds both lines and the REPORT line.
        4. Log group /aws/lambda/<name> holds START/END/REPORT lines for that request and both lines.
        """
        name = make_function(LOGGING_HANDLER)
        marker = uuid.uuid4().hex

        response, payload = _invoke(lam, name, {"marker": marker}, LogType="Tail")

        request_id = payload["request_id"]
        tail = base64.b64decode(response["LogResult"]).decode()
        assert f"print says {marker}" in tail
        assert f"logging says {marker}" in tail
        assert f"REPORT RequestId: {request_id}" in tail

        messages = wait_for(lambda: read_log_messages(cloud, f"/aws/lambda/{name}"), timeout=5,
                            description="the function's log events")
        text = "\n".join(messages)
        assert f"START RequestId: {request_id}" in text
        assert f"END RequestId: {request_id}" in text
        assert f"REPORT RequestId: {request_id}" in text
        assert f"print says {marker}" in text
        assert f"logging says {marker}" in text


class TestWarmEnvironments:
    """Environments stay warm between invokes and are replaced when code or configuration change."""

    def test_warm_reuse(self, lam, make_function):
        """
        1. Create a function with a module-level counter and 0.3 s of init work (module-level code).
        2. Invoke it three times, timing each call.
        3. The counter goes 1, 2, 3 in the same process, and warm invokes are faster than the cold one:
           the init phase ran once.
        """
        name = make_function("import time\ntime.sleep(0.3)  # init work: imports, clients\n"
                             + COUNTER_HANDLER.format(version="1"))

        results, durations = [], []
        for _ in range(3):
            started = time.monotonic()
            results.append(_invoke(lam, name, {})[1])
            durations.append(time.monotonic() - started)

        assert [r["count"] for r in results] == [1, 2, 3]
        assert len({r["pid"] for r in results}) == 1
        assert max(durations[1:]) < durations[0], f"cold {durations[0]:.3f} s, warm {durations[1:]}"

    def test_code_update_gives_fresh_environment(self, lam, make_function):
        """
        1. Create the counter function (version 1) and invoke it twice.
        2. Update its code to version 2.
        3. The next invoke runs version 2 with the counter back at 1.
        """
        name = make_function(COUNTER_HANDLER.format(version="1"))
        _invoke(lam, name, {})
        assert _invoke(lam, name, {})[1]["count"] == 2

        lam.update_function_code(FunctionName=name, ZipFile=zip_bytes({"app.py": COUNTER_HANDLER.format(version="2")}))
        _, payload = _invoke(lam, name, {})

        assert payload["version"] == "2"
        assert payload["count"] == 1

    def test_configuration_update_gives_fresh_environment(self, lam, make_function):
        """
        1. Create the counter function with SETTING=a and invoke it twice.
        2. Update its Environment to SETTING=b.
        3. The next invoke sees SETTING=b with the counter back at 1.
        """
        name = make_function(COUNTER_HANDLER.format(version="1"), Environment={"Variables": {"SETTING": "a"}})
        _invoke(lam, name, {})
        assert _invoke(lam, name, {})[1] | {"pid": None} == {"count": 2, "version": "1", "setting": "a", "pid": None}

        lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"SETTING": "b"}})
        _, payload = _invoke(lam, name, {})

        assert payload["setting"] == "b"
        assert payload["count"] == 1


class TestAsynchronousInvoke:
    """InvocationType="Event" returns at once and the handler runs afterwards."""

    def test_event_invoke_runs_in_background(self, lam, s3, bucket, make_function):
        """
        1. Create the S3-writing function.
        2. Invoke it with InvocationType="Event".
        3. The call returns 202 with an empty payload.
        4. The object the handler writes appears in S3 shortly after.
        """
        key = f"async/{uuid.uuid4().hex}.txt"
        event = load_event("lambda_put_object.json", bucket=bucket, key=key)
        name = make_function(PUT_OBJECT_HANDLER)

        response = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event).encode())

        assert response["StatusCode"] == 202
        assert response["Payload"].read() == b""
        body = wait_for(lambda: s3.get_object(Bucket=bucket, Key=key)["Body"].read(), timeout=15,
                        description=f"s3://{bucket}/{key}")
        assert body == event["body"].encode()


class TestImageFunction:
    """An Image function resolves its ECR repository to docker/<name>/Dockerfile and runs its CMD."""

    def test_ingest_image_fetches_data_into_s3(self, cloud, lam, s3, role, bucket):
        """
        1. Create ECR repository <prefix>/ingest (the kit's docker/ingest image).
        2. Create an Image function with ImageUri <account>.dkr.ecr.eu-west-1.amazonaws.com/<prefix>/ingest:latest.
        3. Invoke it with tests/events/fetch_data.json, data_url pointing at the cloud's data server.
        4. The object it reports is in S3 with exactly the bytes of data/iris.data.
        """
        repository = f"{unique_name('kit')}/ingest"
        cloud.client("ecr").create_repository(repositoryName=repository)
        image_uri = ecr_image_uri(account_id(cloud), "eu-west-1", repository)
        name = unique_name("ingest")
        lam.create_function(FunctionName=name, Role=role, PackageType="Image", Code={"ImageUri": image_uri},
                            Timeout=30)
        event = load_event("fetch_data.json", data_url=cloud.data_url + "/iris.data", bucket=bucket)

        response, payload = _invoke(lam, name, event)

        assert "FunctionError" not in response, payload
        expected = (PROJECT_ROOT / "data" / "iris.data").read_bytes()
        key = f"{event['run_prefix']}/raw/iris.data"
        assert payload["raw_s3_uri"] == f"s3://{bucket}/{key}"
        assert payload["raw_bytes"] == len(expected)
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == expected

    def test_repository_without_dockerfile_fails(self, cloud, lam, role):
        """
        1. Create an Image function whose repository (<prefix>/no-such-image) has no docker/ folder.
        2. Invoke it.
        3. FunctionError, and an errorMessage naming the repository and the docker path tried.
        """
        repository = f"{unique_name('kit')}/no-such-image"
        cloud.client("ecr").create_repository(repositoryName=repository)
        name = unique_name("missing-image")
        lam.create_function(FunctionName=name, Role=role, PackageType="Image",
                            Code={"ImageUri": ecr_image_uri(account_id(cloud), "eu-west-1", repository)})

        response, payload = _invoke(lam, name, {})

        assert response["FunctionError"] == "Unhandled"
        assert repository in payload["errorMessage"]
        assert "docker/no-such-image/Dockerfile" in payload["errorMessage"]
