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
8. ``moto.sagemakerruntime.responses.SageMakerRuntimeResponse.invoke_endpoint`` — endpoint →
   config → model → linear-learner predictions (moto answers a static body).
9. ``SageMakerResponse.create_transform_job`` — refuse duplicate names, run the job.
10. ``moto.events.models.Rule.send_to_targets`` — skip disabled rules; Step Functions and Lambda
    targets get the event with Input/InputPath/InputTransformer applied (moto raises).
11. ``moto.s3.notifications.send_event`` — AWS-shaped S3 events: Lambda through the kit's runtime
    (asynchronously), SQS/SNS records with keys encoded as AWS does, EventBridge to the default bus.
``ADDITIONS`` are actions moto lacks: StopTrainingJob, StopTransformJob, UpdateEndpoint.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import threading
import time
from datetime import datetime
from typing import Any
from urllib.parse import unquote

import botocore.session
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from moto.awslambda import models as lambda_models
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.config import default_user_config
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import unix_time, utcnow
from moto.events import models as events_models
from moto.logs.exceptions import ResourceAlreadyExistsException
from moto.logs.models import logs_backends
from moto.moto_api._internal import mock_random
from moto.s3 import notifications as s3_notifications
from moto.sagemaker.exceptions import ResourceInUseException, ValidationError
from moto.sagemaker.models import FakeEndpoint, FakeEndpointConfig, FakeTransformJob, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse
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
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
    StateTaskServiceAwsSdk,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str
from moto.stepfunctions.responses import get_backend as sfn_backend

from localcloud import events as shapes
from localcloud.inference import InferenceError, ModelRef, endpoint_log_group, error_response
from localcloud.lambda_runtime import FunctionSpec, LambdaRuntime, encode_log_tail

SEAMS = {
    "lambda_invoke": (lambda_models.LambdaFunction, "invoke"),
    "create_processing_job": (SageMakerResponse, "create_processing_job"),
    "create_training_job": (SageMakerResponse, "create_training_job"),
    "stop_processing_job": (SageMakerResponse, "stop_processing_job"),
    "sfn_service_factory": (state_task_factory, "state_task_service_for"),
    "sfn_sync_delay": (callback_module, "_DELAY_SECONDS_SYNC_CONDITION_CHECK"),
    "sfn_start_execution": (sfn_parser_models.StepFunctionsParserBackend, "start_execution"),
    "invoke_endpoint": (SageMakerRuntimeResponse, "invoke_endpoint"),
    "create_transform_job": (SageMakerResponse, "create_transform_job"),
    "events_send_to_targets": (events_models.Rule, "send_to_targets"),
    "s3_send_event": (s3_notifications, "send_event"),
    "sfn_aws_sdk_task": (StateTaskServiceAwsSdk, "_eval_service_task"),
}
# actions moto does not have at all: added on install, removed on uninstall
ADDITIONS = {name: (SageMakerResponse, name) for name in ("stop_training_job", "stop_transform_job", "update_endpoint")}
_SYNC_POLL_SECONDS = 0.1
# create action -> (describe action, name parameter, status field)
_SYNC_JOBS = {
    "create_processing_job": ("describe_processing_job", "ProcessingJobName", "ProcessingJobStatus"),
    "create_training_job": ("describe_training_job", "TrainingJobName", "TrainingJobStatus"),
    "create_transform_job": ("describe_transform_job", "TransformJobName", "TransformJobStatus"),
}
_originals: dict[str, Any] = {}
_cloud: Any = None  # the LocalCloud whose executors the seams call
_log = logging.getLogger("localcloud")


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
    jobs = {"processing": backend.processing_jobs, "training": backend.training_jobs,
            "transform": backend.transform_jobs}[kind]
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


def _aws_sdk_task(self, env, resource_runtime_part, normalised_parameters, state_credentials):
    """``aws-sdk:s3:getObject`` hands the next state its Body as text, as AWS does (moto: a stream)."""
    _originals["sfn_aws_sdk_task"](self, env, resource_runtime_part, normalised_parameters, state_credentials)
    response = env.stack[-1]
    if isinstance(response, dict):
        for key, value in list(response.items()):
            if isinstance(value, StreamingBody):
                response[key] = value.read().decode("utf-8", errors="replace")


def _state_task_service_for(service_name: str):
    if service_name == "sagemaker":
        return StateTaskServiceSageMaker()
    return _originals["sfn_service_factory"](service_name=service_name)


# -- 6. unnamed executions -----------------------------------------------------------------
def _start_execution(self, state_machine_arn: str, name: str = None, execution_input: str = None,
                     trace_header: str = None):
    return _originals["sfn_start_execution"](self, state_machine_arn, name or str(mock_random.uuid4()),
                                             execution_input, trace_header)


# -- 8. endpoints --------------------------------------------------------------------------
def _invoke_endpoint(self: SageMakerRuntimeResponse):
    account, region = self.current_account, self.region
    name = unquote(self.path.split("/")[2])  # moto parses the body as a form and loses EndpointName
    backend = sagemaker_backends[account][region]
    try:
        endpoint = backend.endpoints.get(name)
        if endpoint is None:
            raise InferenceError(f"Endpoint {name} of account {account} not found.", "ValidationError", 400)
        config = backend.endpoint_configs.get(endpoint.endpoint_config_name)
        variants = config.production_variants if config else []
        wanted = self.headers.get("X-Amzn-SageMaker-Target-Variant")
        variant = next((v for v in variants if not wanted or v["VariantName"] == wanted), None)
        if variant is None:
            raise InferenceError(f"Variant {wanted} not found for endpoint {name}" if wanted else
                                 f"endpoint configuration {endpoint.endpoint_config_name} of endpoint {name} "
                                 "no longer exists", "ValidationError", 400)
        if variant["ModelName"] not in backend._models:
            raise InferenceError(f"model {variant['ModelName']} of endpoint {name} no longer exists",
                                 original_status=500)
        body, content_type = _cloud.inference.invoke(
            region, ModelRef.of(backend._models[variant["ModelName"]], account), self.raw_body or b"",
            self.headers.get("Content-Type"), self.headers.get("Accept"))
    except InferenceError as exc:
        if exc.code == "ModelError":
            write_logs(region, endpoint_log_group(name), "AllTraffic/i-localcloud", [f"ERROR {exc}"])
        status, headers, body = error_response(exc, region, account, name)
        return status, {**headers, "status": status}, body  # moto takes the status from the headers
    return 200, {"Content-Type": content_type, "x-Amzn-Invoked-Production-Variant": variant["VariantName"]}, body


def _update_endpoint(self: SageMakerResponse) -> ActionResult:
    name, config_name = self._get_param("EndpointName"), self._get_param("EndpointConfigName")
    endpoint = self.sagemaker_backend.endpoints.get(name)
    if endpoint is None:
        arn = FakeEndpoint.arn_formatter(name, self.current_account, self.region)
        raise ValidationError(f"Could not find endpoint '{arn}'.")
    config = self.sagemaker_backend.endpoint_configs.get(config_name)
    if config is None:
        arn = FakeEndpointConfig.arn_formatter(config_name, self.current_account, self.region)
        raise ValidationError(f"Could not find endpoint configuration '{arn}'.")
    # AWS goes Updating -> InService while it deploys the new config; here the switch is at once.
    endpoint.endpoint_config_name = config_name
    endpoint.production_variants = endpoint._process_production_variants(config.production_variants)
    endpoint.data_capture_config = config.data_capture_config
    endpoint.last_modified_time = utcnow()
    return ActionResult({"EndpointArn": endpoint.arn})


# -- 9. batch transform --------------------------------------------------------------------
def _create_transform_job(self: SageMakerResponse) -> ActionResult:
    request = _request(self)
    name = request["TransformJobName"]
    if name in self.sagemaker_backend.transform_jobs:
        arn = FakeTransformJob.arn_formatter(name, self.current_account, self.region)
        raise ResourceInUseException(f"Job name must be unique within an AWS account and region, "
                                     f"and a job with this name already exists ({arn})")
    model = self.sagemaker_backend.describe_model(request["ModelName"])  # ValidationError if unknown
    result = _originals["create_transform_job"](self)
    update_job("transform", self.region, name, {
        "transform_job_status": "InProgress", "failure_reason": None, "transform_start_time": None,
        "transform_end_time": None, "labeling_job_arn": None, "auto_ml_job_arn": None})
    _cloud.inference.start_transform(self.region, request, ModelRef.of(model, self.current_account))
    return result


def _stop_transform_job(self: SageMakerResponse) -> EmptyResult:
    name = self._get_param("TransformJobName")
    job = self.sagemaker_backend.transform_jobs.get(name)
    if job is None:
        arn = FakeTransformJob.arn_formatter(name, self.current_account, self.region)
        raise ValidationError(f"Could not find transform job '{arn}'.")
    if job.transform_job_status == "InProgress" and _cloud.inference.stop_transform(self.region, name):
        job.transform_job_status = "Stopping"
    return EmptyResult()


# -- 10. EventBridge rules ------------------------------------------------------------------
def _send_to_targets(self, original_event: dict[str, Any], transform_input: bool = True) -> None:
    if self.state == "DISABLED" or not self.event_pattern.matches_event(original_event):
        return  # moto delivered to disabled rules too
    own = [t for t in self.targets if t["Arn"].split(":")[2:3] in (["states"], ["lambda"])]
    others = [t for t in self.targets if t not in own]
    if others:  # moto's own delivery (SQS, logs, buses, archives) for the rest
        rest = copy.copy(self)
        rest.targets = others
        try:
            _originals["events_send_to_targets"](rest, original_event, transform_input)
        except NotImplementedError:  # moto raised and PutEvents answered 500; AWS would deliver
            _log.warning("rule %s: localcloud cannot deliver to %s", self.name, [t["Arn"] for t in others])
    event = shapes.as_delivered(original_event)
    for target in own:  # asynchronously, as EventBridge delivers
        _cloud.run_in_background(_deliver, target, event, self.arn, self.name, original_event.get("ingestion-time"))


def _deliver(target: dict[str, Any], event: dict[str, Any], rule_arn: str, rule: str, ingested: Any) -> None:
    """Start the state machine, or invoke the function, with what the target makes of the event."""
    arn = target["Arn"]
    try:
        text = shapes.target_input(target, event, rule_arn, rule, ingested)
        _, _, service, region, account, *_ = arn.split(":")
        if service == "states":
            sfn_backend(account, region).start_execution(arn, None, text)
        else:
            _invoke_function(account, region, arn, shapes.json_or_text(text))
    except Exception as exc:  # noqa: BLE001 - AWS counts a FailedInvocation; the event is dropped
        _log.warning("rule %s: could not deliver to %s: %s: %s", rule, arn, type(exc).__name__, exc)


# -- 11. S3 notifications ---------------------------------------------------------------------
_request_local = threading.local()  # the key the current S3 request created (see _s3_send_event)


def _s3_send_event(account_id: str, event_name: str, bucket: Any, key: Any) -> None:
    config = bucket.notification_configuration
    if event_name.startswith("s3:ObjectCreated"):
        _request_local.created = key
        if event_name == "s3:ObjectCreated:Put" and getattr(key, "multipart", None) is not None:
            return  # moto's CompleteMultipartUpload puts the object first; AWS sends only the completion
    elif event_name == "s3:ObjectTagging:Put" and getattr(_request_local, "created", None) is key:
        return  # moto tags every new key in the same request; AWS sends no tagging event for that
    if config is None:
        return
    details = {"account": account_id, "region": bucket.region_name, "bucket": bucket.name, "bucket_arn": bucket.arn,
               "key": key.name, "size": key.size, "etag": key.etag.strip('"'), "version_id": key.version_id}
    for kind, arn, record in shapes.s3_notifications(config, event_name, details):
        region = arn.split(":")[3]
        if kind == "lambda":  # asynchronous, as S3 invokes functions
            _cloud.run_in_background(_invoke_function, account_id, region, arn, record)
        elif kind == "sqs":
            s3_notifications._send_sqs_message(account_id, record, arn.split(":")[-1], region)
        else:
            s3_notifications._send_sns_message(account_id, record, arn, region)
    detail_type = shapes.s3_detail_type(event_name)
    if config.event_bridge is not None and detail_type:
        event = shapes.s3_eventbridge_event(event_name=event_name, detail_type=detail_type, requester=account_id,
                                            **details)
        _cloud.run_in_background(_put_on_default_bus, account_id, bucket.region_name, event)


def _invoke_function(account: str, region: str, arn: str, event: Any) -> None:
    """An asynchronous invocation (S3 notification, EventBridge target): nobody hears of failures."""
    try:
        function = lambda_models.lambda_backends[account][region].get_function(arn)
        _cloud.lambda_runtime.invoke(_function_spec(function), event)
    except Exception as exc:  # noqa: BLE001 - an asynchronous invoke fails without telling the caller
        _log.warning("asynchronous invocation of %s failed: %s: %s", arn, type(exc).__name__, exc)


def _put_on_default_bus(account: str, region: str, event: dict[str, Any]) -> None:
    """S3 sends to the default bus only (moto sent to every bus, without input transformation)."""
    bus = events_models.events_backends[account][region].event_buses.get("default")
    now = unix_time()
    for rule in list(bus.rules.values()) if bus else []:
        try:
            rule.send_to_targets({**event, "time": now, "ingestion-time": now})
        except Exception as exc:  # noqa: BLE001 - one rule's failure does not stop the others
            _log.warning("rule %s: delivery failed: %s: %s", rule.name, type(exc).__name__, exc)


_PATCHES = {
    "lambda_invoke": _lambda_invoke,
    "create_processing_job": _create_processing_job,
    "create_training_job": _create_training_job,
    "stop_processing_job": _stop_job("processing", "processing_job_status", "ProcessingJobName"),
    "sfn_service_factory": _state_task_service_for,
    "sfn_sync_delay": _SYNC_POLL_SECONDS,
    "sfn_start_execution": _start_execution,
    "invoke_endpoint": _invoke_endpoint,
    "create_transform_job": _create_transform_job,
    "events_send_to_targets": _send_to_targets,
    "s3_send_event": _s3_send_event,
    "sfn_aws_sdk_task": _aws_sdk_task,
}
_ADDED = {"stop_training_job": _stop_job("training", "training_job_status", "TrainingJobName"),
          "stop_transform_job": _stop_transform_job, "update_endpoint": _update_endpoint}


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
    for name, (owner, attribute) in ADDITIONS.items():
        setattr(owner, attribute, _ADDED[name])


def uninstall() -> None:
    """Put moto back as it was (tests use this to prove the seams are what changes behaviour)."""
    global _cloud
    for seam, (owner, attribute) in SEAMS.items():
        if seam in _originals:
            setattr(owner, attribute, _originals.pop(seam))
    for owner, attribute in ADDITIONS.values():
        if attribute in vars(owner):
            delattr(owner, attribute)
    default_user_config["stepfunctions"]["execute_state_machine"] = False
    _cloud = None
