"""Seams 4-6, 16, 23 and 30: .sync for SageMaker, fresh execution names, AWS-shaped SDK results,
Task credentials checked as STS checks them."""

from __future__ import annotations

import functools
import sys
import time
from datetime import datetime, timezone
from typing import Any

import botocore.session
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from moto.moto_api._internal import mock_random
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
    CustomErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser import models as sfn_parser_models  # noqa: F401  (seam 6's owner)
from moto.stepfunctions.parser.asl.component.state.exec.state_task import (  # noqa: F401  (seam 4's owner)
    state_task_factory,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task import (
    StateTask,  # noqa: F401  (seam 23's owner)
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback as callback_module,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
    StateTaskServiceAwsSdk,  # noqa: F401  (seam 30's owner)
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
import boto3
from botocore.config import Config
from moto.settings import moto_server_port
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
from moto.stepfunctions.parser.asl.utils import boto_client as boto_client_module
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

from localcloud.moto_seams import _state
from localcloud.moto_seams._executions import started
from localcloud.moto_seams._iam import assume_role_denial, boto_keys, role_credentials
from localcloud.moto_seams._sfn_limits import check_execution_input

_SYNC_POLL_SECONDS = 0.1  # moto's pause between two checks of its own .sync tasks (ECS, Batch, Glue, nested runs)
# A SageMaker .sync task's check waits for a job this cloud runs to end (the job runner's signal, at most
# _SYNC_WAIT_SECONDS at a time) instead of returning to moto's pause: a 0.1 s poll noticed an ended job
# 0.05 s late on average, and the pipeline runs two such tasks. Other jobs (transform) are checked that often.
_SYNC_WAIT_SECONDS = 0.1
# create action -> (describe action, name parameter, status field, the kind cloud.jobs runs it as or None)
_SYNC_JOBS = {
    "create_processing_job": ("describe_processing_job", "ProcessingJobName", "ProcessingJobStatus", "processing"),
    "create_training_job": ("describe_training_job", "TrainingJobName", "TrainingJobStatus", "training"),
    "create_transform_job": ("describe_transform_job", "TransformJobName", "TransformJobStatus", None),
}


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
        return _boto_client_for(service="sagemaker", region=resource_runtime_part.region,
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
        describe, name_param, status_field, kind = _SYNC_JOBS[action]
        env.stack.pop()  # the Create* response; .sync returns the final Describe* instead
        client = self._client(resource_runtime_part, state_credentials)
        name = normalised_parameters[name_param]

        def resolve() -> dict[str, Any] | None:
            while True:
                job = getattr(client, describe)(**{name_param: name})
                job.pop("ResponseMetadata", None)
                job = _epoch_millis(job)
                if job[status_field] not in ("InProgress", "Stopping"):
                    break
                if not env.is_running():  # the execution was stopped: moto's loop ends
                    return None
                _wait_for_job(kind, resource_runtime_part.region, name)
            if job[status_field] == "Completed":
                return job
            raise FailureEventException(FailureEvent(
                env=env, error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(
                    resource=self._get_sfn_resource(), resourceType=self._get_sfn_resource_type(),
                    error=StatesErrorNameType.StatesTaskFailed.to_name(), cause=to_json_str(job)))))

        return resolve


def _wait_for_job(kind: str | None, region: str, name: str) -> None:
    """Until the ``kind`` job ``name`` ends (at most :data:`_SYNC_WAIT_SECONDS`), or that long."""
    jobs = getattr(_state.cloud, "jobs", None)
    if not (kind and jobs is not None and jobs.wait_ended(kind, region, name, _SYNC_WAIT_SECONDS)):
        time.sleep(_SYNC_WAIT_SECONDS)  # not a job of this cloud's runner: checked again in a while


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
    """An aws-sdk task's result as AWS hands it on: JSON, with ``aws-sdk:s3:getObject``'s Body as text
    (moto: a stream) and timestamps as ISO 8601 strings (moto: datetimes, which DescribeExecution could
    not serialise: it answered 500)."""
    _state.originals["sfn_aws_sdk_task"](self, env, resource_runtime_part, normalised_parameters, state_credentials)
    response = env.stack[-1]
    if isinstance(response, dict):
        for key, value in list(response.items()):
            if isinstance(value, StreamingBody):
                response[key] = value.read().decode("utf-8", errors="replace")
    env.stack[-1] = _iso_timestamps(response)


def _iso_timestamps(value: Any) -> Any:
    """``value`` with every datetime as a UTC ISO 8601 string (``2024-05-23T19:11:31Z``; milliseconds
    only when there are some), as Step Functions shows an SDK result's timestamps."""
    if isinstance(value, datetime):
        utc = value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
        millis = utc.microsecond // 1000
        return utc.strftime("%Y-%m-%dT%H:%M:%S") + (f".{millis:03d}Z" if millis else "Z")
    if isinstance(value, dict):
        return {k: _iso_timestamps(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_iso_timestamps(v) for v in value]
    return value


def _state_task_service_for(service_name: str):
    if service_name == "sagemaker":
        return StateTaskServiceSageMaker()
    return _state.originals["sfn_service_factory"](service_name=service_name)


# -- 6. unnamed executions, oversize inputs ---------------------------------------------
def _start_execution(self, state_machine_arn: str, name: str = None, execution_input: str = None,
                     trace_header: str = None):
    check_execution_input(execution_input)  # AWS refuses an oversize input before it starts anything
    execution = _state.originals["sfn_start_execution"](self, state_machine_arn, name or str(mock_random.uuid4()),
                                                        execution_input, trace_header)
    started(execution)  # for executions_busy (the jobs' start-up order, localcloud.sagemaker.jobs.startup_order)
    return execution


# -- 23. a Task's Credentials.RoleArn ------------------------------------------------------------
def _state_credentials(self, env):
    """Replaces ``StateTask._eval_state_credentials``: a Task naming ``Credentials.RoleArn`` acts as that
    role only if the execution role may assume it (moto took it as given); else the task fails as the
    AssumeRole call failed, with STS's AccessDenied as the cause."""
    credentials = _state.originals["sfn_state_credentials"](self, env)
    if self.credentials:
        denial = assume_role_denial(env.aws_execution_details.role_arn, credentials.role_arn, "StepFunctions")
        if denial:
            details = TaskFailedEventDetails(error=StatesErrorNameType.StatesTaskFailed.to_name(), cause=denial)
            for field, getter in (("resource", "_get_sfn_resource"), ("resourceType", "_get_sfn_resource_type")):
                if hasattr(self, getter):  # service integrations name theirs; a Lambda ARN task has none
                    details[field] = getattr(self, getter)()
            raise FailureEventException(FailureEvent(
                env=env, error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                event_type=HistoryEventType.TaskFailed, event_details=EventDetails(taskFailedEventDetails=details)))
    return credentials


# -- the interpreter's AWS calls act as the state machine's role ---------------------------------
def _boto_client_for(region: str, service: str, state_credentials: Any = None):
    """moto's ``boto_client_for`` signs with ``ak``/``sk``, keys nobody issued; AWS acts as the execution role
    (the cloud's root keys without IAM)."""
    role = getattr(state_credentials, "role_arn", None)
    credentials = role_credentials(role, "StepFunctions") if role else None
    timeout = TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS  # as moto's
    return boto3.client(service_name=service, region_name=region, endpoint_url=f"http://localhost:{moto_server_port()}",
                        config=Config(parameter_validation=False, retries={"max_attempts": 0, "total_max_attempts": 1},
                                      connect_timeout=timeout, read_timeout=timeout),
                        **boto_keys(credentials))


def client_modules() -> list[Any]:
    """moto's Step Functions modules that imported ``boto_client_for`` by name (each gets the seam)."""
    original = _state.originals.get("sfn_boto_client_for", boto_client_module.boto_client_for)
    return [module for name, module in list(sys.modules.items())
            if name.startswith("moto.stepfunctions.parser") and module is not None
            and getattr(module, "boto_client_for", None) in (original, _boto_client_for)
            and module is not boto_client_module]
