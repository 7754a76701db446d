"""The one list of the local cloud's touches of moto: each :class:`Seam` names its owner, attribute, patch and why.

moto records AWS API calls faithfully but runs nothing: Lambda handlers need Docker, SageMaker jobs are
``Completed`` at once, Step Functions cannot wait for a SageMaker job (``.sync``). Each seam replaces one such spot
with a call into the kit's own executors, or makes moto refuse what AWS refuses. Owners and patches are written as
``"module:attribute.path"`` and resolved only when installed, so reading this list imports nothing of moto.

:mod:`localcloud.moto_seams` installs the seams from this list (the ``"stepfunctions"`` stage at the first Step
Functions request, seam 17), and ``tests/localcloud/test_moto_seams.py`` reads it to check that every owner,
attribute and moto signature is still where and what the patch expects (moto is pinned exactly). Other files cite
seams by their number.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["replace", "add", "setting"]
Stage = Literal["start", "stepfunctions"]
_SFN = "moto.stepfunctions.parser.asl.component"
_SFN_TASK = f"{_SFN}.state.exec.state_task"
_SAGEMAKER = "moto.sagemaker.responses:SageMakerResponse"
_LAMBDA = "moto.awslambda.responses:LambdaResponse"
_STATES = "moto.stepfunctions.responses:StepFunctionResponse"
_S3 = "moto.s3.responses:S3Response"
_OURS = "localcloud.moto_seams."


@dataclass(frozen=True)
class Seam:
    """One place where the local cloud changes moto.

    Attributes:
        number: The seam's number, as the code and docs cite it ("seam 17"); several names may share one.
        name: Unique key (also the key of the original kept while installed).
        owner: ``"module"`` or ``"module:Class"`` (dotted path after the colon) holding ``attribute``.
        attribute: The attribute replaced (``replace``), added (``add``: moto must not have it) or, for a
            ``setting``, the key of moto's configuration dict set to ``patch``.
        patch: ``"module:name"`` of the replacement (for a ``setting``, the value itself, as text).
        why: What moto does there and what the seam does instead.
        moto_shape: The parameter names of moto's callable the patch is written against, or the type moto's value
            has (``"float"``, ``"type"``, ``"property"``, ``"bool"``); ``()`` for an addition.
        kind: ``replace``, ``add`` or ``setting``.
        stage: ``start`` (installed with the cloud) or ``stepfunctions`` (at the first Step Functions request).
    """

    number: int
    name: str
    owner: str
    attribute: str
    patch: str
    why: str
    moto_shape: tuple[str, ...] | str
    kind: Kind = "replace"
    stage: Stage = "start"

    def resolve_owner(self) -> Any:
        """The module or class named by :attr:`owner` (imports it)."""
        return resolve(self.owner)

    def resolve_patch(self) -> Any:
        """The replacement named by :attr:`patch` (imports its module)."""
        return resolve(self.patch)


def resolve(path: str) -> Any:
    """``"package.module:Class.attribute"`` (or a bare module path) to the object it names."""
    module_path, _, attributes = path.partition(":")
    value: Any = importlib.import_module(module_path)
    for attribute in filter(None, attributes.split(".")):
        value = getattr(value, attribute)
    return value


def _seam(number: int, name: str, owner: str, attribute: str, patch: str, why: str,
          moto_shape: tuple[str, ...] | str = ("self",), **kind: Any) -> Seam:
    return Seam(number, name, owner, attribute, _OURS + patch, why, moto_shape, **kind)


_SELF = ("self",)
_SFN_STAGE: dict[str, Any] = {"stage": "stepfunctions"}

SEAMS: tuple[Seam, ...] = (
    _seam(1, "lambda_invoke", "moto.awslambda.models:LambdaFunction", "invoke", "_lambda:_lambda_invoke",
          "moto needs Docker to run a handler: run it in the kit's runtime (429 TooManyRequestsException past the "
          "account's concurrency; an asynchronous invoke waits for a free slot instead)",
          ("self", "body", "request_headers", "response_headers")),
    _seam(2, "create_processing_job", _SAGEMAKER, "create_processing_job", "_sagemaker:_create_processing_job",
          "moto marks a job Completed at once: keep the whole request, refuse duplicate names, start the job"),
    _seam(2, "create_training_job", _SAGEMAKER, "create_training_job", "_sagemaker:_create_training_job",
          "a training job is kept, checked and started as seam 2 does a processing job"),
    _seam(3, "stop_processing_job", _SAGEMAKER, "stop_processing_job", "_sagemaker:stop_processing_job",
          "stop the job's process (moto only flips the status)"),
    _seam(3, "stop_training_job", _SAGEMAKER, "stop_training_job", "_sagemaker:stop_training_job",
          "StopTrainingJob, which moto lacks: stop the job's process", (), kind="add"),
    _seam(4, "sfn_service_factory", f"{_SFN_TASK}.state_task_factory", "state_task_service_for",
          "_stepfunctions:_state_task_service_for",
          "moto's interpreter has no SageMaker integration: one with .sync that waits for the kit's job runner",
          ("service_name",), **_SFN_STAGE),
    _seam(5, "sfn_sync_delay", f"{_SFN_TASK}.service.state_task_service_callback",
          "_DELAY_SECONDS_SYNC_CONDITION_CHECK", "_stepfunctions:_SYNC_POLL_SECONDS",
          "moto pauses 5 s between checks of its own .sync tasks: poll faster", "float", **_SFN_STAGE),
    _seam(6, "sfn_start_execution", "moto.stepfunctions.parser.models:StepFunctionsParserBackend",
          "start_execution", "_stepfunctions:_start_execution",
          "moto names unnamed executions None: a fresh name; an input over 262,144 bytes refused with AWS's "
          "ValidationException (_sfn_limits)",
          ("self", "state_machine_arn", "name", "execution_input", "trace_header"), **_SFN_STAGE),
    _seam(30, "sfn_aws_sdk_task", f"{_SFN_TASK}.service.state_task_service_aws_sdk:StateTaskServiceAwsSdk",
          "_eval_service_task", "_stepfunctions:_aws_sdk_task",
          "an aws-sdk task's result in AWS's shape (timestamps, streaming bodies read)",
          ("self", "env", "resource_runtime_part", "normalised_parameters", "state_credentials"), **_SFN_STAGE),
    Seam(7, "sfn_execute", "moto.core.config:default_user_config", "stepfunctions.execute_state_machine", "True",
         "moto only records state machines by default: Step Functions executes definitions", "bool",
         kind="setting"),
    _seam(8, "invoke_endpoint", "moto.sagemakerruntime.responses:SageMakerRuntimeResponse", "invoke_endpoint",
          "_sagemaker:_invoke_endpoint",
          "moto answers a static body: endpoint → config → model → the model's predictions"),
    _seam(9, "create_transform_job", _SAGEMAKER, "create_transform_job", "_sagemaker:_create_transform_job",
          "refuse duplicate names, run the transform job"),
    _seam(9, "stop_transform_job", _SAGEMAKER, "stop_transform_job", "_sagemaker:_stop_transform_job",
          "StopTransformJob, which moto lacks", (), kind="add"),
    _seam(9, "update_endpoint", _SAGEMAKER, "update_endpoint", "_sagemaker:_update_endpoint",
          "UpdateEndpoint, which moto lacks", (), kind="add"),
    _seam(10, "events_send_to_targets", "moto.events.models:Rule", "send_to_targets", "_event_delivery:_send_to_targets",
          "moto raises for Step Functions targets: skip disabled rules; Step Functions and Lambda targets get the "
          "event with Input/InputPath/InputTransformer applied", ("self", "original_event", "transform_input")),
    _seam(11, "s3_send_event", "moto.s3.notifications", "send_event", "_event_delivery:_s3_send_event",
          "AWS-shaped S3 events: Lambda through the kit's runtime (asynchronously), SQS/SNS records with keys "
          "encoded as AWS does, EventBridge to the default bus", ("account_id", "event_name", "bucket", "key")),
    _seam(12, "lambda_call_action", _LAMBDA, "call_action", "_validation:_lambda_call_action",
          "names, Invoke payload sizes and the unzipped size of deployment packages checked as AWS checks them "
          "before moto acts (common.constraints, awslambda.lambda_code)"),
    _seam(13, "sagemaker_call_action", _SAGEMAKER, "call_action", "_validation:_sagemaker_call_action",
          "job, model and endpoint names and processing LocalPath checked as AWS checks them"),
    _seam(14, "iam_authorize", "moto.core.authorization:ActionAuthenticatorMixin",
          "_authenticate_and_authorize_action", "_iam_request:_authorize",
          "IAM: requests signed with an assumed role's or IAM user's keys are evaluated against its policies "
          "(_iam_request, _iam, _iam_policy); the cloud's root keys act as the account's root",
          ("self", "iam_request_cls", "resource")),
    _seam(15, "lambda_create_function", _LAMBDA, "create_function", "_iam_create:_lambda_create_function",
          "the role handed over must exist and trust the service, and the caller must hold iam:PassRole"),
    _seam(15, "lambda_update_configuration", _LAMBDA, "update_function_configuration",
          "_iam_create:_lambda_update_configuration", "a new Role in UpdateFunctionConfiguration is checked as seam 15 checks it"),
    _seam(15, "sagemaker_create_model", _SAGEMAKER, "create_model", "_iam_create:_sagemaker_create_model",
          "as seam 15 (jobs: seams 2 and 9)"),
    _seam(15, "states_create", _STATES, "create_state_machine", "_iam_create:_states_create",
          "a state machine's roleArn must exist, trust states.amazonaws.com and be passable (seam 15)"),
    _seam(15, "states_update", _STATES, "update_state_machine", "_iam_create:_states_update",
          "a new roleArn in UpdateStateMachine is checked as seam 15 checks it"),
    _seam(15, "events_put_targets", "moto.events.responses:EventsHandler", "put_targets",
          "_iam_create:_events_put_targets", "as seam 15; RoleArn required where AWS requires it"),
    _seam(16, "sfn_boto_client_for", "moto.stepfunctions.parser.asl.utils.boto_client", "boto_client_for",
          "_stepfunctions:_boto_client_for",
          "moto signs the interpreter's calls with ak/sk: they act as the state machine's role (also replaced "
          "in every Step Functions module that imported it by name: _stepfunctions.client_modules)",
          ("region", "service", "state_credentials"), **_SFN_STAGE),
    _seam(17, "sfn_get_backend", "moto.stepfunctions.responses", "get_backend", "_stepfunctions_gate:get_backend",
          "the one way to moto's Step Functions interpreter: the first call installs the stepfunctions stage, "
          "which imports moto's parser (~0.3 s a cloud that never runs a state machine does not pay)",
          ("account", "region")),
    _seam(18, "s3_put_object", _S3, "put_object", "_s3:_put_object",
          "a conditional PutObject (If-None-Match, If-Match) checks and writes in one step (moto: two)"),
    _seam(18, "s3_key_response_post", _S3, "_key_response_post", "_s3:_key_response_post",
          "a conditional CompleteMultipartUpload checks and writes in one step (seam 18)",
          ("self", "request", "body", "bucket_name", "query", "key_name")),
    _seam(19, "sfn_evaluation_environment", "moto.stepfunctions.parser.backend.execution_worker:ExecutionWorker",
          "_get_evaluation_environment", "_sfn_limits:evaluation_environment",
          "a standard workflow's history stops at 25,000 events: the execution fails (States.Runtime)",
          **_SFN_STAGE),
    _seam(20, "sfn_branch_error_name", f"{_SFN}.state.exec.state_parallel.branches_decl", "CustomErrorName",
          "_sfn_limits:states_error_name",
          "a Parallel branch failing with a States.* error fails its state with it (moto: ValueError)", "type",
          **_SFN_STAGE),
    _seam(20, "sfn_iteration_error_name", f"{_SFN}.state.exec.state_map.iteration.iteration_worker",
          "CustomErrorName", "_sfn_limits:states_error_name", "a Map iteration failing with a States.* error fails its state with it (seam 20)", "type",
          **_SFN_STAGE),
    _seam(21, "sfn_error_equals", f"{_SFN}.common.error_name.error_equals_decl:ErrorEqualsDecl", "_eval_body",
          "_sfn_limits:error_equals", "States.ALL does not catch or retry States.DataLimitExceeded or States.Runtime",
          ("self", "env"), **_SFN_STAGE),
    _seam(22, "states_execution_history", _STATES, "get_execution_history", "_sfn_history:_get_execution_history",
          "moto answers the whole history every time: pages of maxResults events (newest first with "
          "reverseOrder) and a nextToken"),
    _seam(23, "sfn_state_credentials", f"{_SFN_TASK}.state_task:StateTask", "_eval_state_credentials",
          "_stepfunctions:_state_credentials",
          "a Task's Credentials.RoleArn is assumed only when the execution role may sts:AssumeRole it and the role "
          "trusts it; else the task fails with STS's AccessDenied (_iam.assume_role_denial)",
          ("self", "env"), **_SFN_STAGE),
    _seam(24, "s3_key_response", _S3, "key_response", "_s3_body:_key_response",
          "werkzeug parses a form-typed PutObject or UploadPart body as a form (0 bytes stored, 200): an object "
          "request keeps its raw body whatever its Content-Type", ("self", "request", "full_url", "headers")),
    _seam(25, "dispatcher_get_body", "moto.moto_server.werkzeug_app:DomainDispatcherApplication", "_get_body",
          "_s3_body:_dispatcher_get_body",
          "moto's service lookup drops an unsigned form-urlencoded body that is not UTF-8: it is put back",
          ("self", "environ")),
    _seam(26, "s3_key_response_checks", _S3, "_key_response", "_s3_digests:_key_response",
          "keys over 1,024 bytes and bodies that do not match Content-MD5 or x-amz-checksum-* are refused with "
          "AWS's errors before moto stores them", ("self", "request", "full_url")),
    _seam(27, "s3_multipart_complete", "moto.s3.models:FakeMultipart", "complete", "_s3_multipart:_complete",
          "CompleteMultipartUpload writes the object into its file part by part (moto joined and copied the "
          "parts in memory: 4.2 GB for 1 GiB)", ("self", "body")),
    _seam(28, "s3_key_value", "moto.s3.models:FakeKey", "value", "_s3_multipart:key_value",
          "as seam 27: an object's value read from and written to its file without a second copy", "property"),
    _seam(29, "lambda_delete_function", "moto.awslambda.models:LambdaBackend", "delete_function",
          "_lambda:_lambda_delete_function",
          "the function's warm environments and everything their handlers started end with it",
          ("self", "function_name", "qualifier")),
    _seam(31, "iam_simulate_principal_policy", "moto.iam.responses:IamResponse", "simulate_principal_policy",
          "_iam_simulate:simulate_principal_policy",
          "SimulatePrincipalPolicy, which moto lacks (500): the principal's policies through the cloud's own "
          "evaluator, in AWS's shape (the SageMaker SDK checks roles with it)", (), kind="add"),
    _seam(32, "sagemaker_describe_model", _SAGEMAKER, "describe_model", "_sagemaker_shapes:_describe_model",
          "moto answers VpcConfig {} where AWS leaves the member out (sagemaker-core's shapes refuse it): dropped"),
    _seam(32, "sagemaker_describe_endpoint_config", _SAGEMAKER, "describe_endpoint_config",
          "_sagemaker_shapes:_describe_endpoint_config", "DataCaptureConfig {} dropped as seam 32 drops VpcConfig"),
    _seam(32, "sagemaker_describe_endpoint", _SAGEMAKER, "describe_endpoint", "_sagemaker_shapes:_describe_endpoint",
          "DataCaptureConfig {} dropped as seam 32 drops VpcConfig"),
)


def seams(stage: Stage | None = None, kind: Kind | None = None) -> tuple[Seam, ...]:
    """The seams of one stage and/or kind (all of them by default), in the order of :data:`SEAMS`."""
    return tuple(s for s in SEAMS if stage in (None, s.stage) and kind in (None, s.kind))


def by_name(name: str) -> Seam:
    """The seam called ``name`` (``KeyError`` names it if there is none)."""
    for seam in SEAMS:
        if seam.name == name:
            return seam
    raise KeyError(f"no seam called {name!r} in localcloud.moto_seams.registry")
