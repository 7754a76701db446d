"""Every place where the local cloud patches or subclasses moto's internals.

moto records AWS API calls faithfully but runs nothing: Lambda handlers need Docker,
SageMaker jobs are ``Completed`` at once, Step Functions cannot wait for a SageMaker job
(``.sync``). Each seam below replaces one such spot with a call into the kit's own
executors (:mod:`localcloud.lambda_runtime`, :mod:`localcloud.jobs`). moto is pinned
exactly; ``tests/localcloud/test_moto_seams.py`` fails loudly if a seam moves.

Seams (the names ``SEAMS`` lists are checked by the tests):
1. ``moto.awslambda.models.LambdaFunction.invoke`` — runs the handler.
2. ``moto.sagemaker.responses.SageMakerResponse.create_processing_job`` /
   ``create_training_job`` — keep the whole request, refuse duplicate names, start the job.
3. ``SageMakerResponse.stop_processing_job`` / ``stop_training_job`` — stop the process.
4. ``...state_task.state_task_factory.state_task_service_for`` — a SageMaker integration
   with ``.sync``.
5. ``...state_task_service_callback._DELAY_SECONDS_SYNC_CONDITION_CHECK`` — poll faster.
6. ``moto.stepfunctions.parser.models.StepFunctionsParserBackend.start_execution`` —
   unnamed executions get a fresh name (moto names them all ``None``).
7. ``moto.core.config.default_user_config`` — Step Functions executes definitions.
"""

from __future__ import annotations

import functools
import json
import time
from datetime import datetime
from typing import Any

import botocore.session
from botocore.exceptions import ClientError
from moto.awslambda import models as lambda_models
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.config import default_user_config
from moto.core.responses import ActionResult, EmptyResult
from moto.logs.exceptions import ResourceAlreadyExistsException
from moto.logs.models import logs_backends
from moto.moto_api._internal import mock_random
from moto.sagemaker.exceptions import ResourceInUseException, ValidationError
from moto.sagemaker.models import sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.stepfunctions.parser import models as sfn_parser_models
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback as callback_module,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

from localcloud.lambda_runtime import FunctionSpec, LambdaRuntime, encode_log_tail

SEAMS = {
    "lambda_invoke": (lambda_models.LambdaFunction, "invoke"),
    "create_processing_job": (SageMakerResponse, "create_processing_job"),
    "create_training_job": (SageMakerResponse, "create_training_job"),
    "stop_processing_job": (SageMakerResponse, "stop_processing_job"),
    "sfn_service_factory": (state_task_factory, "state_task_service_for"),
    "sfn_sync_delay": (callback_module, "_DELAY_SECONDS_SYNC_CONDITION_CHECK"),
    "sfn_start_execution": (sfn_parser_models.StepFunctionsParserBackend, "start_execution"),
}
_SYNC_POLL_SECONDS = 0.1
# create action -> (describe action, name parameter, status field)
_SYNC_JOBS = {
    "create_processing_job": ("describe_processing_job", "ProcessingJobName", "ProcessingJobStatus"),
    "create_training_job": ("describe_training_job", "TrainingJobName", "TrainingJobStatus"),
    "create_transform_job": ("describe_transform_job", "TransformJobName", "TransformJobStatus"),
}
_originals: dict[str, Any] = {}
_cloud: Any = None  # the LocalCloud whose executors the seams call


# -- logs and job records (used by the executors through callbacks) ---------------------
def write_logs(region: str, group: str, stream: str, lines: list[str]) -> None:
    """Append lines to a CloudWatch Logs stream, creating group and stream as needed."""
    backend = logs_backends[DEFAULT_ACCOUNT_ID][region]
    backend.ensure_log_group(group)
    try:
        backend.create_log_stream(group, stream)
    except ResourceAlreadyExistsException:
        pass
    now = int(time.time() * 1000)
    events = [{"timestamp": now, "message": line or " "} for line in lines[-10000:]]
    if events:
        backend.put_log_events(group, stream, events)


def update_job(kind: str, region: str, name: str, fields: dict[str, Any]) -> None:
    """Set attributes on moto's record of a job; they appear in Describe* responses."""
    backend = sagemaker_backends[DEFAULT_ACCOUNT_ID][region]
    jobs = backend.processing_jobs if kind == "processing" else backend.training_jobs
    job = jobs.get(name)
    if job is not None:
        for key, value in fields.items():
            setattr(job, key, value)


# -- 1. Lambda ----------------------------------------------------------------------------
def _function_spec(fn: Any) -> FunctionSpec:
    image_uri = fn.code.get("ImageUri") if fn.package_type == "Image" else None
    return FunctionSpec(
        name=fn.function_name, arn=fn.function_arn, region=fn.region, handler=fn.handler,
        timeout=float(fn.timeout), memory_size=int(fn.memory_size),
        environment={k: str(v) for k, v in (fn.environment_vars or {}).items()},
        code_sha256=fn.code_sha_256 or "", zip_bytes=None if image_uri else fn.code_bytes,
        image_uri=image_uri, image_command=tuple(fn.image_config.cmd or ()))


def _lambda_invoke(self: Any, body: str, request_headers: Any, response_headers: Any) -> bytes:
    runtime: LambdaRuntime = _cloud.lambda_runtime
    event = json.loads(body) if body else {}
    spec = _function_spec(self)
    response_headers["X-Amz-Executed-Version"] = spec.version
    if request_headers.get("x-amz-invocation-type") == "Event":
        _cloud.run_in_background(runtime.invoke, spec, event)
        return b""
    result = runtime.invoke(spec, event)
    if result.function_error:
        response_headers["x-amz-function-error"] = result.function_error
    response_headers["x-amz-log-result"] = encode_log_tail(result.log_tail)
    return result.payload


# -- 2/3. SageMaker jobs -------------------------------------------------------------------
def _request(response: SageMakerResponse) -> dict[str, Any]:
    return json.loads(response.body or "{}")


def _create_processing_job(self: SageMakerResponse) -> ActionResult:
    request = _request(self)
    name = request["ProcessingJobName"]
    if name in self.sagemaker_backend.processing_jobs:
        raise ResourceInUseException(f"Job name must be unique within an AWS account and region, "
                                     f"and a job with this name already exists ({name})")
    result = _originals["create_processing_job"](self)
    update_job("processing", self.region, name, {
        "processing_job_status": "InProgress", "environment": request.get("Environment"),
        "processing_resources": request.get("ProcessingResources"),
        "app_specification": request["AppSpecification"]})
    _cloud.jobs.start_processing(self.region, request)
    return result


def _create_training_job(self: SageMakerResponse) -> ActionResult:
    request = _request(self)
    name = request["TrainingJobName"]
    if name in self.sagemaker_backend.training_jobs:
        raise ResourceInUseException(f"Training job names must be unique within an AWS account and region, "
                                     f"and a training job with this name already exists ({name})")
    result = _originals["create_training_job"](self)
    update_job("training", self.region, name, {
        "training_job_status": "InProgress", "secondary_status": "Starting",
        "secondary_status_transitions": [], "final_metric_data_list": [],
        "algorithm_specification": request["AlgorithmSpecification"], "environment": request.get("Environment"),
        "model_artifacts": None, "training_start_time": None, "training_end_time": None})
    _cloud.jobs.start_training(self.region, request)
    return result


def _stop_job(kind: str, status_field: str, name_param: str):
    def stop(self: SageMakerResponse) -> EmptyResult:
        name = self._get_param(name_param)
        jobs = self.sagemaker_backend.processing_jobs if kind == "processing" else self.sagemaker_backend.training_jobs
        if name not in jobs:
            raise ValidationError(f"Could not find {kind} job '{name}'.")
        if getattr(jobs[name], status_field) == "InProgress":
            setattr(jobs[name], status_field, "Stopping")
            _cloud.jobs.stop(kind, self.region, name)
        return EmptyResult()
    return stop


# -- 4. Step Functions: SageMaker integration with .sync ------------------------------------
class StateTaskServiceSageMaker(callback_module.StateTaskServiceCallback):
    """``arn:aws:states:::sagemaker:<action>[.sync]``, as AWS runs it."""

    def __init__(self) -> None:
        super().__init__(supported_integration_patterns={ResourceCondition.Sync, ResourceCondition.WaitForTaskToken})

    def _get_supported_parameters(self) -> set[str] | None:
        # moto validates definitions against this set: AWS's own API shape for the action.
        action = self.resource.api_action
        operation = _sagemaker_model().operation_model(action[:1].upper() + action[1:])
        return set(operation.input_shape.members)

    def _client(self, resource_runtime_part: Any, state_credentials: Any):
        return boto_client_for(service="sagemaker", region=resource_runtime_part.region,
                               state_credentials=state_credentials)

    def _eval_service_task(self, env, resource_runtime_part, normalised_parameters, state_credentials):
        client = self._client(resource_runtime_part, state_credentials)
        response = getattr(client, self._get_boto_service_action())(**normalised_parameters)
        response.pop("ResponseMetadata", None)
        env.stack.append(response)

    def _from_error(self, env, ex: Exception) -> FailureEvent:
        if isinstance(ex, ClientError):
            error = f"SageMaker.{ex.response['Error']['Code']}"
            return FailureEvent(env=env, error_name=CustomErrorName(error), event_type=HistoryEventType.TaskFailed,
                                event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(
                                    error=error, cause=ex.response["Error"].get("Message", ""),
                                    resource=self._get_sfn_resource(), resourceType=self._get_sfn_resource_type())))
        return super()._from_error(env=env, ex=ex)

    def _build_sync_resolver(self, env, resource_runtime_part, normalised_parameters, state_credentials):
        action = self._get_boto_service_action()
        if action not in _SYNC_JOBS:
            return super()._build_sync_resolver(env, resource_runtime_part, normalised_parameters, state_credentials)
        describe, name_param, status_field = _SYNC_JOBS[action]
        env.stack.pop()  # the Create* response; .sync returns the final Describe* instead
        client = self._client(resource_runtime_part, state_credentials)
        name = normalised_parameters[name_param]

        def resolve() -> dict[str, Any] | None:
            job = getattr(client, describe)(**{name_param: name})
            job.pop("ResponseMetadata", None)
            job = _epoch_millis(job)
            if job[status_field] in ("InProgress", "Stopping"):
                return None
            if job[status_field] == "Completed":
                return job
            raise FailureEventException(FailureEvent(
                env=env, error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(
                    resource=self._get_sfn_resource(), resourceType=self._get_sfn_resource_type(),
                    error=StatesErrorNameType.StatesTaskFailed.to_name(), cause=to_json_str(job)))))

        return resolve


@functools.cache
def _sagemaker_model():
    return botocore.session.get_session().get_service_model("sagemaker")


def _epoch_millis(value: Any) -> Any:
    """Step Functions shows SageMaker timestamps as epoch milliseconds."""
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {k: _epoch_millis(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_epoch_millis(v) for v in value]
    return value


def _state_task_service_for(service_name: str):
    if service_name == "sagemaker":
        return StateTaskServiceSageMaker()
    return _originals["sfn_service_factory"](service_name=service_name)


# -- 6. unnamed executions -----------------------------------------------------------------
def _start_execution(self, state_machine_arn: str, name: str = None, execution_input: str = None,
                     trace_header: str = None):
    return _originals["sfn_start_execution"](self, state_machine_arn, name or str(mock_random.uuid4()),
                                             execution_input, trace_header)


_PATCHES = {
    "lambda_invoke": _lambda_invoke,
    "create_processing_job": _create_processing_job,
    "create_training_job": _create_training_job,
    "stop_processing_job": _stop_job("processing", "processing_job_status", "ProcessingJobName"),
    "sfn_service_factory": _state_task_service_for,
    "sfn_sync_delay": _SYNC_POLL_SECONDS,
    "sfn_start_execution": _start_execution,
}


def install(cloud: Any) -> None:
    """Point the seams at ``cloud``'s executors (once per process) and turn execution on."""
    global _cloud
    _cloud = cloud
    default_user_config["stepfunctions"]["execute_state_machine"] = True
    if _originals:
        return
    for seam, (owner, attribute) in SEAMS.items():
        _originals[seam] = getattr(owner, attribute)
        setattr(owner, attribute, _PATCHES[seam])
    # moto has no StopTrainingJob at all: add the action to the response class.
    SageMakerResponse.stop_training_job = _stop_job("training", "training_job_status", "TrainingJobName")


def uninstall() -> None:
    """Put moto back as it was (tests use this to prove the seams are what changes behaviour)."""
    global _cloud
    for seam, (owner, attribute) in SEAMS.items():
        if seam in _originals:
            setattr(owner, attribute, _originals.pop(seam))
    if hasattr(SageMakerResponse, "stop_training_job"):
        del SageMakerResponse.stop_training_job
    default_user_config["stepfunctions"]["execute_state_machine"] = False
    _cloud = None
