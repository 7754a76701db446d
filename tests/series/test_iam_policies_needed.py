"""Each statement of iam/policies/*.json is needed: without it, a named step of the kit fails.

The local cloud enforces IAM, so the series passing shows the policies are *sufficient*
(``test_series_e2e``, ``python -m helpers run``). This module shows each statement is *needed*:
it deploys the gated pipeline with the kit's own helpers, runs it once with the full policies
(sufficient), then for every statement puts the role's policy back without it and runs only the
step that uses it — a Lambda handler invoked directly, a SageMaker job made from the request the
pipeline made, the evaluate/deploy half of the pipeline from the input it had, an EventBridge
rule — and checks that step fails with AccessDenied (or, for logs, that no log appears).

Two statements cannot be shown offline, and notebook 08's ``sdk`` role is shown elsewhere; ``NOT_SHOWN`` says why, and the test checks the list holds
exactly those.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "faults"))
from faults_support import Deployed, connect, deploy_pipeline, new_prefix  # noqa: E402

import helpers  # noqa: E402
from helpers.paths import IAM_DIR  # noqa: E402

pytestmark = [pytest.mark.series, pytest.mark.slow(1.5)]  # each: one step, the kit deployed once (30 s in all)

# (role, Sid) -> why no offline step can fail without it
NOT_SHOWN = {
    ("sagemaker", "JobMetricsOnlyInSageMakerNamespaces"):
        "the local cloud's jobs publish no CloudWatch metrics (on AWS, training publishes them as the role)",
    ("states", "SyncIntegrationWatchesJobsThroughEventBridge"):
        "the local cloud's .sync polls Describe*; AWS watches the job through a managed EventBridge rule",
    # notebook 08's role: the SDK's role check is shown by tests/sdk (TestRoleValidation: the kit's role without
    # this statement is refused before any job); the rest repeats the sagemaker role's statements, shown above
    ("sdk", "WhatTheSdkRoleCheckSimulatesBeforeItStartsATrainingJob"):
        "the SDK refuses a role without it before it starts a job (tests/sdk/test_sdk_pipeline.py)",
    **{("sdk", s["Sid"]): "the sagemaker role's statement, repeated in sdk.json and shown with that role"
       for s in json.loads((IAM_DIR / "policies" / "sagemaker.json").read_text())["Statement"]},
}


def statements() -> list[tuple[str, str]]:
    return [(path.stem, s["Sid"]) for path in sorted((IAM_DIR / "policies").glob("*.json"))
            for s in json.loads(path.read_text())["Statement"]]


def wait(probe, timeout: float = 240, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := probe()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(interval)
    return value


class Kit:
    """The deployed kit, the baseline run, and ways to run one step with a policy missing a statement."""

    def __init__(self, deployed: Deployed, run_id: str) -> None:
        self.deployed, self.kit, self.run_id = deployed, deployed.kit, run_id
        kit = self.kit
        self.roles = dict(deployed.roles)
        for purpose in ("start-preprocessing", "start-training", "events"):
            self.roles[purpose] = helpers.iam.ensure_role(kit, purpose)
        environment = {"SAGEMAKER_ROLE_ARN": self.roles["sagemaker"], "JOB_NAME_PREFIX": kit.settings.prefix,
                       "PREPROCESS_IMAGE_URI": helpers.ecr.publish_image(kit, "preprocess"),
                       "TRAINING_IMAGE_URI": helpers.sagemaker.image_uri("linear-learner", kit.region),
                       "RESOURCE_TAGS": helpers.json_tags(kit)}
        self.functions = {"fetch-data": kit.names.function("fetch-data")}
        for purpose, handler in (("start-preprocessing", "start_preprocessing"), ("start-training", "start_training")):
            self.functions[purpose] = kit.names.function(purpose)
            helpers.lambdas.ensure_function(
                kit, self.functions[purpose], self.roles[purpose], handler=f"{handler}.handler",
                zip_file=helpers.lambdas.zip_handler(helpers.paths.LAMBDAS_DIR / f"{handler}.py"),
                environment=environment)
        self.sfn, self.sm, self.logs = kit.client("stepfunctions"), kit.client("sagemaker"), kit.client("logs")
        self.counter = 0

    def fresh(self, tag: str) -> str:
        self.counter += 1
        return f"{self.run_id}-{tag}{self.counter}"

    # -- policies --------------------------------------------------------------------------------
    def put_policy(self, purpose: str, without: str | None = None) -> None:
        document = helpers.iam.render_document(self.kit, IAM_DIR / "policies" / f"{purpose}.json")
        document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != without]
        name, iam = self.kit.names.role(purpose), self.kit.client("iam")
        if not document["Statement"]:  # its only statement: the role keeps no policy at all
            iam.delete_role_policy(RoleName=name, PolicyName=f"{name}-policy")
            return
        iam.put_role_policy(RoleName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(document))

    # -- steps -----------------------------------------------------------------------------------
    def invoke(self, purpose: str, event: dict[str, Any]) -> dict[str, Any]:
        response = self.kit.client("lambda").invoke(FunctionName=self.functions[purpose], Payload=json.dumps(event))
        return {"error": response.get("FunctionError"), "payload": response["Payload"].read().decode()}

    def log_events(self, group: str, stream_prefix: str, since_ms: int) -> list[str]:
        """Streams of ``group`` named ``stream_prefix``* with events at or after ``since_ms``."""
        prefix = {"logStreamNamePrefix": stream_prefix} if stream_prefix else {}
        try:  # describe_log_streams: moto's filter_log_events ignores logStreamNamePrefix
            streams = self.logs.describe_log_streams(logGroupName=group, **prefix)["logStreams"]
        except self.logs.exceptions.ResourceNotFoundException:
            return []
        return [s["logStreamName"] for s in streams if s.get("lastEventTimestamp", 0) >= since_ms]

    def execution(self, machine: str, payload: dict[str, Any]) -> dict[str, Any]:
        arn = self.sfn.start_execution(stateMachineArn=machine, input=json.dumps(payload))["executionArn"]
        return wait(lambda: (d := self.sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d)

    def failed_states(self, execution_arn: str) -> dict[str, str]:
        """State name -> error and cause of each failed Task of the execution."""
        failed, current = {}, None
        for page in self.sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            for event in page["events"]:
                if event["type"] == "TaskStateEntered":
                    current = event["stateEnteredEventDetails"]["name"]
                elif event["type"] in ("TaskFailed", "LambdaFunctionFailed"):
                    details = event.get("taskFailedEventDetails") or event.get("lambdaFunctionFailedEventDetails")
                    failed[current] = f"{details.get('error')}: {details.get('cause')}"
        return failed

    def processing_job(self, parameters: dict[str, Any]) -> dict[str, Any]:
        """The pipeline's Preprocess request under a new job name, made by the caller: the job runs as its role."""
        request = {**parameters, "ProcessingJobName": f"{self.kit.settings.prefix}-iam-{self.fresh('p')}"}
        self.sm.create_processing_job(**request)
        return wait(lambda: (d := self.sm.describe_processing_job(ProcessingJobName=request["ProcessingJobName"]))[
            "ProcessingJobStatus"] not in ("InProgress", "Stopping") and d)


@pytest.fixture(scope="module")
def kit(cloud) -> Kit:
    run_id = f"iam-{time.time_ns() % 10**6}"
    deployed = deploy_pipeline(connect(cloud.url, new_prefix("iam"), run_id=run_id,
                                       data_url=f"{cloud.data_url}/iris.data"), gated=True)
    return Kit(deployed, run_id)


@pytest.fixture(scope="module")
def baseline(kit: Kit) -> dict[str, Any]:
    """One gated run with the full policies: it succeeds (the policies are sufficient for it)."""
    for purpose in ("fetch-data", "sagemaker", "states"):
        kit.put_policy(purpose)
    arn = kit.deployed.start(kit.run_id, min_accuracy=0.5)  # notebook 06 gives the quality gate a threshold
    execution = kit.deployed.wait(arn, timeout=400)
    assert execution["status"] == "SUCCEEDED", (execution.get("error"), execution.get("cause"), kit.failed_states(arn))
    scheduled, entered = {}, {}
    current = None
    for event in kit.deployed.history(arn):
        if event["type"] == "TaskStateEntered":
            current = event["stateEnteredEventDetails"]["name"]
            entered.setdefault(current, json.loads(event["stateEnteredEventDetails"]["input"]))
        elif event["type"] == "TaskScheduled":
            scheduled.setdefault(current, json.loads(event["taskScheduledEventDetails"]["parameters"]))
    names = {"SageMakerRoleArn": kit.roles["sagemaker"], "JobNamePrefix": kit.kit.settings.prefix,
             "EndpointName": f"{kit.kit.settings.prefix}-iris", "TransformInstanceType": "ml.m5.large",
             "EndpointInstanceType": "ml.m5.large", "JobsImageUri": helpers.ecr.publish_image(kit.kit, "preprocess"),
             "PreprocessImageUri": "", "FetchFunctionArn": "",
             "TrainingImageUri": helpers.sagemaker.image_uri("linear-learner", kit.kit.region),
             "ProcessingInstanceType": "ml.t3.medium", "TrainingInstanceType": "ml.m5.large"}
    second_half = helpers.stepfunctions.ensure_state_machine(
        kit.kit, kit.kit.names.state_machine("iam-evaluate"),
        helpers.stepfunctions.load_definition("evaluate_deploy", **names), kit.roles["states"])
    return {"scheduled": scheduled, "entered": entered, "second_half": second_half}


def run_step(kit: Kit, baseline: dict[str, Any], purpose: str, sid: str) -> str:
    """Run the step that needs (purpose, sid); return what went wrong ("" when nothing did)."""
    run = kit.fresh("r")
    event = {"bucket": kit.deployed.bucket, "run_id": run, "run_prefix": f"runs/{run}"}
    if purpose in ("fetch-data", "start-preprocessing", "start-training"):
        if purpose == "fetch-data" and sid == "ReadUploadsThatTriggerARun":
            kit.kit.client("s3").put_object(Bucket=kit.deployed.bucket, Key=f"incoming/{run}.csv",
                                            Body=b"5.1,3.5,1.4,0.2,Iris-setosa\n")
            event["source_s3_uri"] = f"s3://{kit.deployed.bucket}/incoming/{run}.csv"
        since = int(time.time() * 1000)
        result = kit.invoke(purpose, event)
        if sid == "WriteOwnLogs":
            logged = kit.log_events(f"/aws/lambda/{kit.functions[purpose]}", "", since)
            return "" if logged else "no log events"
        return f"{result['error']}: {result['payload']}" if result["error"] else ""
    if purpose == "sagemaker":
        job = kit.processing_job(baseline["scheduled"]["Preprocess"])
        if sid == "JobAndEndpointLogs":
            assert job["ProcessingJobStatus"] == "Completed", job
            return "" if kit.log_events("/aws/sagemaker/ProcessingJobs", job["ProcessingJobName"] + "/", 0) else (
                "no log events")
        return "" if job["ProcessingJobStatus"] == "Completed" else job.get("FailureReason", "")
    if purpose == "states":
        if sid in ("DeployKitModels", "ReadEvaluationReports"):
            # the baseline's data (its run_prefix) under new job and model names (a new run_id)
            payload = {**baseline["entered"]["CreateModel"], "run_id": run, "job_names": kit.kit.names.jobs(run)}
            machine = baseline["second_half"]
        else:  # the input notebook 05 gives an execution (settings.toml's hyperparameters and dataset)
            payload, machine = {**event, **helpers.stepfunctions.pipeline_settings(kit.kit)}, kit.deployed.machine_arn
        execution = kit.execution(machine, payload)
        failed = kit.failed_states(execution["executionArn"])
        return json.dumps(failed) if execution["status"] != "SUCCEEDED" else ""
    if purpose == "events":
        before = len(kit.sfn.list_executions(stateMachineArn=kit.deployed.machine_arn)["executions"])
        rule = f"{kit.kit.settings.prefix}-iam-{run}"
        helpers.events.ensure_rule(kit.kit, rule, {"source": [f"iam.test.{run}"]}, kit.deployed.machine_arn,
                                   kit.roles["events"])
        kit.kit.client("events").put_events(Entries=[{"Source": f"iam.test.{run}", "DetailType": "t",
                                                      "Detail": "{}"}])
        try:
            wait(lambda: len(kit.sfn.list_executions(stateMachineArn=kit.deployed.machine_arn)["executions"])
                 > before, timeout=5)
        except AssertionError:
            return "the rule started no execution"
        return ""
    raise AssertionError(f"no step known for {purpose}/{sid}")


# the step whose failure shows a statement is needed, and what the failure must mention
EXPECTED = {
    ("fetch-data", "WriteOwnLogs"): "no log events",
    ("fetch-data", "WriteRawDataOfARun"): "s3:PutObject",
    ("fetch-data", "ReadUploadsThatTriggerARun"): "s3:GetObject",
    ("start-preprocessing", "WriteOwnLogs"): "no log events",
    ("start-preprocessing", "StartAndDescribeTheProcessingJob"): "sagemaker:CreateProcessingJob",
    ("start-preprocessing", "HandTheExecutionRoleToSageMakerOnly"): "iam:PassRole",
    ("start-training", "WriteOwnLogs"): "no log events",
    ("start-training", "StartAndDescribeTheTrainingJob"): "sagemaker:CreateTrainingJob",
    ("start-training", "HandTheExecutionRoleToSageMakerOnly"): "iam:PassRole",
    ("sagemaker", "ListRunsInKitBucket"): "s3:ListBucket",
    ("sagemaker", "ReadInputsWriteOutputs"): "HeadObject operation: Forbidden",  # a HEAD's 403 has no body
    ("sagemaker", "JobAndEndpointLogs"): "no log events",
    ("sagemaker", "PullKitImages"): "ecr:",
    ("sagemaker", "EcrLoginHasNoResourceLevelPermissions"): "ecr:GetAuthorizationToken",
    ("states", "InvokeKitFunctions"): '"FetchData"',
    ("states", "RunKitJobs"): '"Preprocess"',
    ("states", "DeployKitModels"): '"CreateModel"',
    ("states", "ReadEvaluationReports"): '"ReadEvaluation"',
    ("states", "HandTheExecutionRoleToSageMakerOnly"): "iam:PassRole",
    ("events", "StartTheKitPipeline"): "started no execution",
}


class TestEveryStatementIsNeeded:
    """Removing any one statement of iam/policies/*.json makes a named step fail."""

    def test_every_statement_has_a_step(self):
        """
        1. List the (role, Sid) of every statement under iam/policies/.
        2. Each has a step in EXPECTED or a reason in NOT_SHOWN, and nothing else is listed.
        """
        assert sorted(statements()) == sorted({*EXPECTED, *NOT_SHOWN})

    @pytest.mark.parametrize("purpose, sid", sorted(EXPECTED), ids=[f"{p}/{s}" for p, s in sorted(EXPECTED)])
    def test_step_fails_without_the_statement(self, kit: Kit, baseline, purpose: str, sid: str):
        """https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html

        1. Run the step with the full policy: nothing goes wrong (for the state machine's statements, the
           baseline gated run is that run).
        2. Put the role's policy back without the statement; run the step again.
        3. It fails, and the failure names the action (or the state) EXPECTED says; restore the policy.
        """
        if purpose != "states":
            assert run_step(kit, baseline, purpose, sid) == ""
        kit.put_policy(purpose, without=sid)
        try:
            problem = run_step(kit, baseline, purpose, sid)
        finally:
            kit.put_policy(purpose)
        assert problem, f"{purpose}/{sid}: the step still succeeds without the statement"
        assert EXPECTED[(purpose, sid)] in problem, problem
        if EXPECTED[(purpose, sid)] != "no log events" and purpose != "events":
            assert any(word in problem for word in ("AccessDenied", "not authorized", "Forbidden")), problem
