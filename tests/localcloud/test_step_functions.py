"""Step Functions behaviour: state machines really execute, including SageMaker ``.sync`` tasks.

Every test talks to ``python -m localcloud`` (the ``cloud`` fixture) through boto3 only.
"""

from __future__ import annotations

import json
import textwrap
import uuid

import pytest
from _support import (IRIS_DATA, create_bucket, create_role, ecr_image_uri, load_event, unique_name,
                      zip_bytes)
from _wait import wait_for_status

REGION = "eu-west-1"
FINISHED = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}

DOUBLE_HANDLER = textwrap.dedent('''
    def handler(event, context):
        return event * 2 if isinstance(event, (int, float)) else {"doubled": event["value"] * 2}
''')

FLAKY_HANDLER = textwrap.dedent('''
    ATTEMPTS = 0

    class TransientError(Exception):
        pass

    def handler(event, context):
        global ATTEMPTS
        ATTEMPTS += 1
        if ATTEMPTS == 1:
            raise TransientError("the first attempt always fails")
        return {"attempts": ATTEMPTS}
''')

FAILING_SCRIPT = textwrap.dedent('''
    import sys
    sys.stderr.write("preprocessing broke: {marker}\\n")
    sys.exit(1)
''')


@pytest.fixture(scope="module")
def role(cloud):
    return create_role(cloud, unique_name("sfn-tests"))


@pytest.fixture(scope="module")
def bucket(cloud, s3):
    name = create_bucket(cloud, unique_name("sfn-tests"), REGION)
    s3.upload_file(str(IRIS_DATA), name, "raw/iris.data")
    return name


@pytest.fixture(scope="module")
def make_function(cloud, role):
    lam = cloud.client("lambda", region=REGION)

    def make(source: str) -> str:
        return lam.create_function(FunctionName=unique_name("sfn-fn"), Runtime="python3.11", Role=role,
                                   Handler="app.handler", Code={"ZipFile": zip_bytes({"app.py": source})},
                                   Timeout=10)["FunctionArn"]

    return make


@pytest.fixture(scope="module")
def run_machine(sfn, role):
    """Create a state machine from a definition, run it with an input and wait; returns (arn, Describe)."""

    def run(definition: dict, execution_input: dict, timeout: float = 60) -> tuple[str, dict]:
        machine = sfn.create_state_machine(name=unique_name("machine"), definition=json.dumps(definition),
                                           roleArn=role)["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps(execution_input))["executionArn"]
        return execution, _wait_execution(sfn, execution, timeout)

    return run


def _wait_execution(sfn, execution: str, timeout: float = 60) -> dict:
    return wait_for_status(lambda: sfn.describe_execution(executionArn=execution), "status", FINISHED,
                           timeout=timeout, interval=0.1)


def _history(sfn, execution: str) -> list[dict]:
    return sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]


@pytest.fixture(scope="module")
def pipeline(bucket, account, role, run_machine):
    """Run preprocess (kit image) then linear-learner under .sync; return (input, execution, Describe)."""
    processed = f"s3://{bucket}/processed"
    processing = {
        "ProcessingJobName.$": "$.processing_job_name",
        "RoleArn": role,
        "AppSpecification": {
            "ImageUri": ecr_image_uri(account, REGION, f"{unique_name('kit')}/preprocess"),
            "ContainerArguments": ["--input-dir", "/opt/ml/processing/input",
                                   "--output-dir", "/opt/ml/processing/output"]},
        "ProcessingInputs": [{"InputName": "raw", "S3Input": {
            "S3Uri": f"s3://{bucket}/raw/", "LocalPath": "/opt/ml/processing/input", "S3DataType": "S3Prefix",
            "S3InputMode": "File"}}],
        "ProcessingOutputConfig": {"Outputs": [
            {"OutputName": output, "S3Output": {"S3Uri": f"{processed}/{output}",
                                                "LocalPath": f"/opt/ml/processing/output/{output}",
                                                "S3UploadMode": "EndOfJob"}}
            for output in ("train", "test")]},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.t3.medium",
                                                  "VolumeSizeInGB": 5}},
        "StoppingCondition": {"MaxRuntimeInSeconds": 120},
    }
    training = {
        "TrainingJobName.$": "$.training_job_name",
        "RoleArn": role,
        "AlgorithmSpecification": {"TrainingImage": ecr_image_uri("1" * 12, REGION, "linear-learner", "1"),
                                   "TrainingInputMode": "File"},
        "HyperParameters": load_event("linear_learner_hyperparameters.json"),
        "InputDataConfig": [
            {"ChannelName": channel, "ContentType": "text/csv", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": f"{processed}/{channel}/",
                "S3DataDistributionType": "FullyReplicated"}}}
            for channel in ("train", "test")],
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/models"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
    }
    definition = {"StartAt": "Preprocess", "States": {
        "Preprocess": {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
                       "Parameters": processing, "ResultPath": "$.processing", "Next": "Train"},
        "Train": {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                  "Parameters": training, "ResultPath": "$.training", "End": True}}}
    execution_input = load_event("sfn_pipeline.json", processing_job_name=unique_name("sfn-preprocess"),
                                 training_job_name=unique_name("sfn-train"))
    execution, described = run_machine(definition, execution_input)
    return execution_input, execution, described


class TestSageMakerSync:
    """createProcessingJob.sync then createTrainingJob.sync: each task waits for its job to finish."""

    def test_pipeline_succeeds_with_describe_results(self, pipeline):
        """
        1. Create a machine: Preprocess (createProcessingJob.sync, kit preprocess image) then Train
           (createTrainingJob.sync, linear-learner) on the processed data.
        2. Start it with tests/events/sfn_pipeline.json (job names filled in) and wait.
        3. SUCCEEDED; each task's result is the job's Describe* response in its final state.
        """
        execution_input, _, described = pipeline
        assert described["status"] == "SUCCEEDED", described.get("cause")
        output = json.loads(described["output"])
        assert output["processing"]["ProcessingJobName"] == execution_input["processing_job_name"]
        assert output["processing"]["ProcessingJobStatus"] == "Completed"
        assert output["training"]["TrainingJobName"] == execution_input["training_job_name"]
        assert output["training"]["TrainingJobStatus"] == "Completed"
        assert output["training"]["ModelArtifacts"]["S3ModelArtifacts"].endswith(
            f"/{execution_input['training_job_name']}/output/model.tar.gz")

    def test_training_starts_after_processing_completed(self, sm, pipeline):
        """
        1. Run the pipeline (class fixture).
        2. Describe both jobs.
        3. The training job was created after the processing job ended.
        """
        execution_input, _, _ = pipeline
        processing = sm.describe_processing_job(ProcessingJobName=execution_input["processing_job_name"])
        training = sm.describe_training_job(TrainingJobName=execution_input["training_job_name"])
        assert processing["ProcessingJobStatus"] == "Completed"
        assert processing["ProcessingEndTime"] <= training["CreationTime"]

    def test_failed_job_is_caught(self, sfn, sm, bucket, s3, account, role, run_machine):
        """
        1. Create a machine whose createProcessingJob.sync task runs a failing script, with Catch
           (States.TaskFailed, ResultPath $.caught) leading to a Fail state reporting the caught Cause.
        2. Run it and wait.
        3. The history has TaskFailed (States.TaskFailed) with a cause holding the job's FailureReason,
           then the Fail state entered with the caught error.
        4. The execution is FAILED with the Fail state's error and the caught cause.
        """
        marker = uuid.uuid4().hex
        job = unique_name("sfn-failing")
        s3.put_object(Bucket=bucket, Key=f"code/{job}/fail.py", Body=FAILING_SCRIPT.format(marker=marker).encode())
        processing = {
            "ProcessingJobName": job,
            "RoleArn": role,
            "AppSpecification": {"ImageUri": ecr_image_uri(account, REGION, "sagemaker-scikit-learn", "1.2-1-cpu-py3"),
                                 "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/fail.py"]},
            "ProcessingInputs": [{"InputName": "code", "S3Input": {
                "S3Uri": f"s3://{bucket}/code/{job}/fail.py", "LocalPath": "/opt/ml/processing/input/code",
                "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
            "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.t3.medium",
                                                      "VolumeSizeInGB": 5}},
            "StoppingCondition": {"MaxRuntimeInSeconds": 60},
        }
        definition = {"StartAt": "Preprocess", "States": {
            "Preprocess": {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
                           "Parameters": processing, "End": True,
                           "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.caught",
                                      "Next": "PreprocessingFailed"}]},
            # "States." names are reserved, so the Fail state reports its own error with the caught cause.
            "PreprocessingFailed": {"Type": "Fail", "Error": "PreprocessingFailed", "CausePath": "$.caught.Cause"}}}

        execution, described = run_machine(definition, {})

        reason = sm.describe_processing_job(ProcessingJobName=job)["FailureReason"]
        assert f"preprocessing broke: {marker}" in reason
        history = _history(sfn, execution)
        failures = [e["taskFailedEventDetails"] for e in history if e["type"] == "TaskFailed"]
        assert failures and failures[0]["error"] == "States.TaskFailed"
        assert json.loads(failures[0]["cause"])["FailureReason"] == reason
        entered = [e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")]
        assert entered == ["Preprocess", "PreprocessingFailed"]
        fail_input = json.loads(next(e["stateEnteredEventDetails"]["input"] for e in history
                                     if e["type"] == "FailStateEntered"))
        assert fail_input["caught"]["Error"] == "States.TaskFailed"
        assert described["status"] == "FAILED"
        assert described["error"] == "PreprocessingFailed"
        assert json.loads(described["cause"])["FailureReason"] == reason


class TestLambdaTasks:
    """Task states on a Lambda ARN and on arn:aws:states:::lambda:invoke run the real handler."""

    def test_lambda_arn_and_lambda_invoke(self, make_function, run_machine):
        """
        1. Create a Lambda that doubles event["value"].
        2. Run a machine: Task on the function ARN, then Task on lambda:invoke with the same function.
        3. SUCCEEDED; the first result is the handler's return value, the second the Invoke response
           (Payload holds the handler's return value, StatusCode 200).
        """
        function = make_function(DOUBLE_HANDLER)
        definition = {"StartAt": "Direct", "States": {
            "Direct": {"Type": "Task", "Resource": function, "ResultPath": "$.direct", "Next": "Integration"},
            "Integration": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                            "Parameters": {"FunctionName": function, "Payload": {"value.$": "$.direct.doubled"}},
                            "ResultPath": "$.integration", "End": True}}}

        _, described = run_machine(definition, {"value": 21})

        assert described["status"] == "SUCCEEDED", described.get("cause")
        output = json.loads(described["output"])
        assert output["direct"] == {"doubled": 42}
        assert output["integration"]["StatusCode"] == 200
        assert output["integration"]["Payload"] == {"doubled": 84}


class TestAwsSdkIntegration:
    """arn:aws:states:::aws-sdk:s3:putObject calls S3 in the same cloud."""

    def test_put_object(self, s3, bucket, run_machine):
        """
        1. Run a machine whose only Task is aws-sdk:s3:putObject with Bucket/Key/Body from the input
           (tests/events/sfn_put_object.json).
        2. SUCCEEDED; the object is in S3 with the body the input gave.
        """
        key = f"sdk/{uuid.uuid4().hex}.txt"
        execution_input = load_event("sfn_put_object.json", bucket=bucket, key=key)
        definition = {"StartAt": "Put", "States": {"Put": {
            "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject", "End": True,
            "Parameters": {"Bucket.$": "$.bucket", "Key.$": "$.key", "Body.$": "$.body"}}}}

        _, described = run_machine(definition, execution_input)

        assert described["status"] == "SUCCEEDED", described.get("cause")
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == execution_input["body"].encode()

    def test_timestamps_in_results_are_strings(self, sfn, s3, bucket, run_machine):
        """AWS hands aws-sdk results on as JSON, timestamps as ISO 8601 strings (LastModified in the recorded
        AWS history of https://github.com/localstack/localstack/blob/main/tests/aws/services/stepfunctions/v2/
        services/test_aws_sdk_task_service.snapshot.json, test_s3_get_object, is a string).

        1. Put an object; run a machine: aws-sdk:s3:getObject then aws-sdk:s3:listObjectsV2 on its bucket and
           key, both results kept in the output.
        2. DescribeExecution answers (moto answered 500: datetime is not JSON serializable): SUCCEEDED; both
           LastModified values are the same UTC ISO 8601 string, the object's own time; the Body is the text.
        3. GetExecutionHistory answers; its ExecutionSucceeded output is the execution's output.
        """
        key = f"sdk/{uuid.uuid4().hex}.txt"
        s3.put_object(Bucket=bucket, Key=key, Body=b"timestamped")
        definition = {"StartAt": "Get", "States": {
            "Get": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject", "ResultPath": "$.got",
                    "Parameters": {"Bucket": bucket, "Key": key}, "Next": "List"},
            "List": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:listObjectsV2", "ResultPath": "$.listed",
                     "Parameters": {"Bucket": bucket, "Prefix": key}, "End": True}}}

        execution, described = run_machine(definition, {})

        assert described["status"] == "SUCCEEDED", described.get("cause")
        output = json.loads(described["output"])
        modified = s3.head_object(Bucket=bucket, Key=key)["LastModified"]
        assert output["got"]["Body"] == "timestamped"
        assert output["got"]["LastModified"] == modified.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert [item["LastModified"] for item in output["listed"]["Contents"]] == [output["got"]["LastModified"]]
        history = _history(sfn, execution)
        assert json.loads(history[-1]["executionSucceededEventDetails"]["output"]) == output


class TestControlFlow:
    """Choice, Wait, Map, Parallel and Retry behave as in Step Functions."""

    def test_parallel_map_wait_choice(self, sfn, role, make_function):
        """
        1. Create a machine: Parallel of (Map doubling each number with a Lambda) and (Wait 1 s), then a
           Choice on the sum of the doubled numbers against $.threshold.
        2. Start it twice with tests/events/sfn_control_flow.json: once as is, once with a higher threshold.
        3. Both SUCCEED; the Map results are the doubled numbers; each took the branch its input implies;
           each lasted at least the Wait's 1 s.
        """
        function = make_function(DOUBLE_HANDLER)
        definition = {"StartAt": "Fanout", "States": {
            "Fanout": {"Type": "Parallel", "ResultPath": "$.results", "Next": "Sum", "Branches": [
                {"StartAt": "Double", "States": {"Double": {
                    "Type": "Map", "ItemsPath": "$.numbers", "End": True,
                    "ItemProcessor": {"StartAt": "DoubleOne", "States": {
                        "DoubleOne": {"Type": "Task", "Resource": function, "End": True}}}}}},
                {"StartAt": "Pause", "States": {
                    "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Waited"},
                    "Waited": {"Type": "Pass", "Result": "waited", "End": True}}}]},
            "Sum": {"Type": "Pass", "Parameters": {"threshold.$": "$.threshold", "doubled.$": "$.results[0]",
                                                   "total.$": "States.MathAdd(States.ArrayGetItem($.results[0], 0), "
                                                              "States.ArrayGetItem($.results[0], 1))",
                                                   "waited.$": "$.results[1]"},
                    "Next": "Decide"},
            "Decide": {"Type": "Choice", "Default": "Small", "Choices": [
                {"Variable": "$.total", "NumericGreaterThanPath": "$.threshold", "Next": "Big"}]},
            "Big": {"Type": "Pass", "Result": "big", "ResultPath": "$.branch", "End": True},
            "Small": {"Type": "Pass", "Result": "small", "ResultPath": "$.branch", "End": True}}}
        machine = sfn.create_state_machine(name=unique_name("control-flow"), definition=json.dumps(definition),
                                           roleArn=role)["stateMachineArn"]
        low = load_event("sfn_control_flow.json")
        high = {**low, "threshold": 1000}
        runs = [(data, sfn.start_execution(stateMachineArn=machine, input=json.dumps(data))["executionArn"])
                for data in (low, high)]

        for data, execution in runs:
            described = _wait_execution(sfn, execution)
            assert described["status"] == "SUCCEEDED", described.get("cause")
            output = json.loads(described["output"])
            doubled = [n * 2 for n in data["numbers"]]
            assert output["doubled"] == doubled
            assert output["waited"] == "waited"
            assert output["total"] == doubled[0] + doubled[1]
            assert output["branch"] == ("big" if output["total"] > data["threshold"] else "small")
            assert (described["stopDate"] - described["startDate"]).total_seconds() >= 1
        branches = {json.loads(_wait_execution(sfn, execution)["output"])["branch"] for _, execution in runs}
        assert len(branches) == 2, "the two inputs should take different Choice branches"

    def test_retry_after_a_failure(self, sfn, make_function, run_machine):
        """
        1. Create a Lambda that raises on its first invocation (module-level counter) and succeeds after.
        2. Run a machine with a Task on it and Retry (ErrorEquals States.ALL, IntervalSeconds 1).
        3. SUCCEEDED with the second attempt's result; the history shows one failed attempt first.
        """
        function = make_function(FLAKY_HANDLER)
        definition = {"StartAt": "Flaky", "States": {"Flaky": {
            "Type": "Task", "Resource": function, "End": True,
            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1.0}]}}}

        execution, described = run_machine(definition, {})

        assert described["status"] == "SUCCEEDED", described.get("cause")
        assert json.loads(described["output"]) == {"attempts": 2}
        types = [e["type"] for e in _history(sfn, execution)]
        assert types.count("LambdaFunctionFailed") == 1, types
        assert types.count("LambdaFunctionSucceeded") == 1, types
        assert types.index("LambdaFunctionFailed") < types.index("LambdaFunctionSucceeded")


class TestUnnamedExecutions:
    """start_execution without a name gets a fresh name each time."""

    def test_two_unnamed_executions(self, sfn, role):
        """
        1. Create a one-Pass-state machine.
        2. Start it twice without a name.
        3. Two distinct execution ARNs, both SUCCEEDED.
        """
        definition = {"StartAt": "Hello", "States": {"Hello": {"Type": "Pass", "Result": "hi", "End": True}}}
        machine = sfn.create_state_machine(name=unique_name("unnamed"), definition=json.dumps(definition),
                                           roleArn=role)["stateMachineArn"]

        first = sfn.start_execution(stateMachineArn=machine)["executionArn"]
        second = sfn.start_execution(stateMachineArn=machine)["executionArn"]

        assert first != second
        assert not first.endswith(":None") and not second.endswith(":None")
        for execution in (first, second):
            assert _wait_execution(sfn, execution)["status"] == "SUCCEEDED"
