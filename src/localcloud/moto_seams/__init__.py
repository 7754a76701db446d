"""Every place where the local cloud patches or subclasses moto's internals: this package.

The table (``SEAMS``, ``ADDITIONS``) and ``install``/``uninstall`` are here; the patches live
beside it, one module per service (``_lambda``, ``_sagemaker``, ``_stepfunctions``,
``_events``), and ``_records`` holds what the executors update in moto's records.

moto records AWS API calls faithfully but runs nothing: Lambda handlers need Docker,
SageMaker jobs are ``Completed`` at once, Step Functions cannot wait for a SageMaker job
(``.sync``). Each seam below replaces one such spot with a call into the kit's own
executors (:mod:`localcloud.awslambda.lambda_runtime`, :mod:`localcloud.sagemaker.jobs.runner`). moto is pinned
exactly; ``tests/localcloud/test_moto_seams.py`` fails loudly if a seam moves.

Seams (the names ``SEAMS`` lists are checked by the tests):
1. ``moto.awslambda.models.LambdaFunction.invoke`` — runs the handler (429 TooManyRequestsException past the
   account's concurrency; an asynchronous invoke waits for a free slot instead).
2. ``moto.sagemaker.responses.SageMakerResponse.create_processing_job`` /
   ``create_training_job`` — keep the whole request, refuse duplicate names, start the job.
3. ``SageMakerResponse.stop_processing_job`` / ``stop_training_job`` — stop the process.
4. ``...state_task.state_task_factory.state_task_service_for`` — a SageMaker integration
   with ``.sync``.
5. ``...state_task_service_callback._DELAY_SECONDS_SYNC_CONDITION_CHECK`` — poll faster.
6. ``moto.stepfunctions.parser.models.StepFunctionsParserBackend.start_execution`` —
   unnamed executions get a fresh name (moto names them all ``None``); an input over 262,144 bytes
   is refused with AWS's ValidationException (``_sfn_limits``).
7. ``moto.core.config.default_user_config`` — Step Functions executes definitions.
8. ``moto.sagemakerruntime.responses.SageMakerRuntimeResponse.invoke_endpoint`` — endpoint →
   config → model → linear-learner predictions (moto answers a static body).
9. ``SageMakerResponse.create_transform_job`` — refuse duplicate names, run the job.
10. ``moto.events.models.Rule.send_to_targets`` — skip disabled rules; Step Functions and Lambda
    targets get the event with Input/InputPath/InputTransformer applied (moto raises).
11. ``moto.s3.notifications.send_event`` — AWS-shaped S3 events: Lambda through the kit's runtime
    (asynchronously), SQS/SNS records with keys encoded as AWS does, EventBridge to the default bus.
12. ``moto.awslambda.responses.LambdaResponse.call_action`` — names, Invoke payload sizes and the
    unzipped size of deployment packages (inline or in S3) checked as AWS checks them
    (:mod:`localcloud.common.constraints`, :mod:`localcloud.awslambda.lambda_code`) before moto acts.
13. ``SageMakerResponse.call_action`` — job, model and endpoint names and processing ``LocalPath``
    checked the same way.
14. ``moto.core.authorization.ActionAuthenticatorMixin._authenticate_and_authorize_action`` — IAM:
    requests signed with an assumed role's or IAM user's keys are evaluated against its policies
    (``_iam_request``, ``_iam``, ``_iam_policy``); the cloud's root keys act as the account's root (no other key gets
    past :mod:`localcloud.server.signing`, which asks ``_iam_request.issued_key`` for the secrets moto's STS and IAM issued).
15. ``LambdaResponse.create_function`` / ``update_function_configuration``,
    ``SageMakerResponse.create_model`` (and 2, 9), ``StepFunctionResponse.create_state_machine`` /
    ``update_state_machine``, ``EventsHandler.put_targets`` — the role handed over must exist, trust
    the service, and the caller must hold ``iam:PassRole`` (``_iam_create``).
16. ``boto_client_for`` as imported by moto's Step Functions modules — the interpreter's calls act
    as the state machine's role (moto signed them with ``ak``/``sk``).
17. ``moto.stepfunctions.responses.get_backend`` — the one way to moto's Step Functions interpreter
    (its API and EventBridge's targets): the first call installs seams 4-6, 16, 19-21 and 23, which import moto's
    Step Functions parser (~0.3 s). A cloud that never runs a state
    machine never pays it; ``--warm-stepfunctions`` pays it in the background after the ready line.
    ``SEAMS`` holds the seams installed at once, :func:`stepfunctions_seams` the others (19-21 and 23 too).
18. ``moto.s3.responses.S3Response.put_object`` / ``_key_response_post`` — a conditional PutObject or
    CompleteMultipartUpload (``If-None-Match``, ``If-Match``) checks and writes in one step (``_s3``).
19. ``...backend.execution_worker.ExecutionWorker._get_evaluation_environment`` — a standard workflow's
    history stops at 25,000 events: the execution fails (States.Runtime) and stops (``_sfn_limits``).
20. ``CustomErrorName`` as imported by moto's ``branches_decl`` and ``iteration_worker`` — a Parallel
    branch or Map iteration failing with a ``States.*`` error fails its state with it (moto: ValueError).
21. ``...error_name.error_equals_decl.ErrorEqualsDecl._eval_body`` — ``States.ALL`` does not catch or retry
    States.DataLimitExceeded or States.Runtime.
22. ``StepFunctionResponse.get_execution_history`` — pages of ``maxResults`` events (newest first with
    ``reverseOrder``) and a ``nextToken``; moto answered the whole history every time (``_sfn_history``).
23. ``...state_task.state_task.StateTask._eval_state_credentials`` — a Task's ``Credentials.RoleArn`` is
    assumed only when the execution role may ``sts:AssumeRole`` it and the role trusts the execution role;
    else the task fails with STS's AccessDenied (``_iam.assume_role_denial``).
24. ``S3Response.key_response`` — a request on an object keeps its raw body whatever its ``Content-Type``
    (werkzeug parsed a form-typed PutObject or UploadPart as a form: 0 bytes stored, 200) (``_s3_body``).
25. ``moto.moto_server.werkzeug_app.DomainDispatcherApplication._get_body`` — an unsigned form-urlencoded body
    is always put back after moto's service lookup reads it (binary bytes were dropped) (``_s3_body``).
26. ``S3Response._key_response`` — keys over 1,024 bytes, and PutObject/UploadPart bodies that do not match their
    ``Content-MD5`` or ``x-amz-checksum-*``, are refused with AWS's errors before moto stores them (``_s3_digests``).
27. ``moto.s3.models.FakeMultipart.complete`` / 28. ``FakeKey.value`` (a property) — CompleteMultipartUpload writes
    the object into its file part by part (moto joined and copied the parts in memory: 4.2 GB for 1 GiB)
    (``_s3_multipart``).
29. ``moto.awslambda.models.LambdaBackend.delete_function`` — the function's warm environments and
    everything their handlers started end with it (``_lambda``).
``ADDITIONS`` are actions moto lacks: StopTrainingJob, StopTransformJob, UpdateEndpoint.
``_server.serve_moto`` builds moto's HTTP server from ``moto.moto_server.werkzeug_app`` (its
dispatcher app and request handler, global CORS off) instead of ``ThreadedMotoServer``, which
hangs on a busy port and cannot take middleware; the test checks those names (``READ``).
``_imports.import_ec2_models`` imports ``moto.ec2.models`` with one botocore session for the three
region lists its class body builds (checked by ``SOURCE`` and test_moto_import), and ``_imports.defer_batch_models``
keeps moto's Batch models (and so EC2's) unloaded until a Batch request: the parser imports ``moto.batch.utils``.
``_warmup.warm_in_background`` installs seams 4-6, 16, 19-21 and 23 and parses one definition with moto's ASL parser,
so that ANTLR's tables are built before the first CreateStateMachine (``--warm-stepfunctions``).
"""

from __future__ import annotations

import threading
from typing import Any

from localcloud.moto_seams._imports import defer_batch_models

defer_batch_models()  # before the Step Functions parser imports moto.batch.utils (see _imports)

from moto.awslambda import models as lambda_models  # noqa: E402
from moto.awslambda.responses import LambdaResponse
from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.config import default_user_config
from moto.events import models as events_models
from moto.events.responses import EventsHandler
from moto.moto_server import werkzeug_app
from moto.s3 import models as s3_models
from moto.s3 import notifications as s3_notifications
from moto.s3.responses import S3Response
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse
from moto.stepfunctions import responses as sfn_responses
from moto.stepfunctions.responses import StepFunctionResponse

from localcloud.moto_seams import _state
from localcloud.moto_seams._events import _s3_send_event, _send_to_targets
from localcloud.moto_seams._executions import executions_busy
from localcloud.moto_seams._iam import role_credentials
from localcloud.moto_seams._iam_request import _authorize, issued_key
from localcloud.moto_seams._iam_create import (
    _events_put_targets,
    _lambda_create_function,
    _lambda_update_configuration,
    _sagemaker_create_model,
    _states_create,
    _states_update,
)
from localcloud.moto_seams._lambda import _lambda_delete_function, _lambda_invoke
from localcloud.moto_seams._records import cloud_account, update_job, write_logs
from localcloud.moto_seams._s3 import _key_response_post, _put_object
from localcloud.moto_seams._sfn_history import _get_execution_history
from localcloud.moto_seams._s3_body import _dispatcher_get_body, _key_response
from localcloud.moto_seams._s3_digests import _key_response as _key_response_checks
from localcloud.moto_seams._s3_multipart import _complete as _multipart_complete
from localcloud.moto_seams._s3_multipart import key_value
from localcloud.moto_seams._server import serve_moto
from localcloud.moto_seams._sagemaker import (
    _create_processing_job,
    _create_training_job,
    _create_transform_job,
    _invoke_endpoint,
    _stop_job,
    _stop_transform_job,
    _update_endpoint,
)
from localcloud.moto_seams._validation import _lambda_call_action, _sagemaker_call_action

__all__ = ["ADDITIONS", "SEAMS", "all_patches", "all_seams", "cloud_account", "executions_busy", "install",
           "install_stepfunctions", "issued_key", "role_credentials", "serve_moto", "stepfunctions_patches", "stepfunctions_seams",
           "uninstall", "update_job", "warm_in_background", "write_logs"]
_originals = _state.originals


def _get_backend(account: str, region: str) -> Any:
    """moto's ``get_backend``, once the Step Functions seams are in (seam 17)."""
    if default_user_config["stepfunctions"].get("execute_state_machine"):
        install_stepfunctions()
    return _originals["sfn_get_backend"](account, region)


SEAMS = {
    "lambda_invoke": (lambda_models.LambdaFunction, "invoke"),
    "create_processing_job": (SageMakerResponse, "create_processing_job"),
    "create_training_job": (SageMakerResponse, "create_training_job"),
    "stop_processing_job": (SageMakerResponse, "stop_processing_job"),
    "invoke_endpoint": (SageMakerRuntimeResponse, "invoke_endpoint"),
    "create_transform_job": (SageMakerResponse, "create_transform_job"),
    "events_send_to_targets": (events_models.Rule, "send_to_targets"),
    "s3_send_event": (s3_notifications, "send_event"),
    "lambda_call_action": (LambdaResponse, "call_action"),
    "sagemaker_call_action": (SageMakerResponse, "call_action"),
    "iam_authorize": (ActionAuthenticatorMixin, "_authenticate_and_authorize_action"),
    "lambda_create_function": (LambdaResponse, "create_function"),
    "lambda_update_configuration": (LambdaResponse, "update_function_configuration"),
    "sagemaker_create_model": (SageMakerResponse, "create_model"),
    "states_create": (StepFunctionResponse, "create_state_machine"),
    "states_update": (StepFunctionResponse, "update_state_machine"),
    "events_put_targets": (EventsHandler, "put_targets"),
    "sfn_get_backend": (sfn_responses, "get_backend"),
    "s3_put_object": (S3Response, "put_object"),
    "s3_key_response_post": (S3Response, "_key_response_post"),
    "states_execution_history": (StepFunctionResponse, "get_execution_history"),
    "s3_key_response": (S3Response, "key_response"),
    "dispatcher_get_body": (werkzeug_app.DomainDispatcherApplication, "_get_body"),
    "s3_key_response_checks": (S3Response, "_key_response"),
    "s3_multipart_complete": (s3_models.FakeMultipart, "complete"),
    "s3_key_value": (s3_models.FakeKey, "value"),
    "lambda_delete_function": (lambda_models.LambdaBackend, "delete_function"),
}
# actions moto does not have at all: added on install, removed on uninstall
ADDITIONS = {name: (SageMakerResponse, name) for name in ("stop_training_job", "stop_transform_job", "update_endpoint")}


_PATCHES = {
    "lambda_invoke": _lambda_invoke,
    "create_processing_job": _create_processing_job,
    "create_training_job": _create_training_job,
    "stop_processing_job": _stop_job("processing", "processing_job_status", "ProcessingJobName"),
    "invoke_endpoint": _invoke_endpoint,
    "create_transform_job": _create_transform_job,
    "events_send_to_targets": _send_to_targets,
    "s3_send_event": _s3_send_event,
    "lambda_call_action": _lambda_call_action,
    "sagemaker_call_action": _sagemaker_call_action,
    "iam_authorize": _authorize,
    "lambda_create_function": _lambda_create_function,
    "lambda_update_configuration": _lambda_update_configuration,
    "sagemaker_create_model": _sagemaker_create_model,
    "states_create": _states_create,
    "states_update": _states_update,
    "events_put_targets": _events_put_targets,
    "sfn_get_backend": _get_backend,
    "s3_put_object": _put_object,
    "s3_key_response_post": _key_response_post,
    "states_execution_history": _get_execution_history,
    "s3_key_response": _key_response,
    "dispatcher_get_body": _dispatcher_get_body,
    "s3_key_response_checks": _key_response_checks,
    "s3_multipart_complete": _multipart_complete,
    "s3_key_value": key_value,
    "lambda_delete_function": _lambda_delete_function,
}
_INHERITED: set[str] = set()  # seams moto's class inherits: uninstall deletes the patch instead of setting
_ADDED = {"stop_training_job": _stop_job("training", "training_job_status", "TrainingJobName"),
          "stop_transform_job": _stop_transform_job, "update_endpoint": _update_endpoint}
_stepfunctions_lock = threading.Lock()


def stepfunctions_seams() -> dict[str, tuple[Any, str]]:
    """Seams 4-6, 16, 19-21 and 23, on moto's Step Functions parser (importing it: see seam 17)."""
    from localcloud.moto_seams import _sfn_limits as limits
    from localcloud.moto_seams import _stepfunctions as sfn

    return {
        "sfn_service_factory": (sfn.state_task_factory, "state_task_service_for"),
        "sfn_sync_delay": (sfn.callback_module, "_DELAY_SECONDS_SYNC_CONDITION_CHECK"),
        "sfn_start_execution": (sfn.sfn_parser_models.StepFunctionsParserBackend, "start_execution"),
        "sfn_aws_sdk_task": (sfn.StateTaskServiceAwsSdk, "_eval_service_task"),
        "sfn_boto_client_for": (sfn.boto_client_module, "boto_client_for"),
        "sfn_evaluation_environment": (limits.execution_worker.ExecutionWorker, "_get_evaluation_environment"),
        **{seam: (module, "CustomErrorName") for seam, module in limits.ERROR_NAME_MODULES.items()},
        "sfn_error_equals": (limits.error_equals_decl.ErrorEqualsDecl, "_eval_body"),
        "sfn_state_credentials": (sfn.StateTask, "_eval_state_credentials"),
    }


def stepfunctions_patches() -> dict[str, Any]:
    """What :func:`stepfunctions_seams` puts in place."""
    from localcloud.moto_seams import _sfn_limits as limits
    from localcloud.moto_seams import _stepfunctions as sfn

    return {"sfn_service_factory": sfn._state_task_service_for, "sfn_sync_delay": sfn._SYNC_POLL_SECONDS,
            "sfn_start_execution": sfn._start_execution, "sfn_aws_sdk_task": sfn._aws_sdk_task,
            "sfn_boto_client_for": sfn._boto_client_for, "sfn_evaluation_environment": limits.evaluation_environment,
            **{seam: limits.states_error_name for seam in limits.ERROR_NAME_MODULES},
            "sfn_error_equals": limits.error_equals, "sfn_state_credentials": sfn._state_credentials}


def all_seams() -> dict[str, tuple[Any, str]]:
    """Every seam, those installed at first use included (imports moto's Step Functions parser)."""
    return {**SEAMS, **stepfunctions_seams()}


def all_patches() -> dict[str, Any]:
    return {**_PATCHES, **stepfunctions_patches()}


def _patch(seams: dict[str, tuple[Any, str]], patches: dict[str, Any]) -> None:
    for seam, (owner, attribute) in seams.items():
        _originals[seam] = getattr(owner, attribute)
        if isinstance(owner, type) and attribute not in vars(owner):
            _INHERITED.add(seam)
        setattr(owner, attribute, patches[seam])


def _unpatch(seams: dict[str, tuple[Any, str]]) -> None:
    for seam, (owner, attribute) in seams.items():
        if seam in _INHERITED:
            _originals.pop(seam, None)
            _INHERITED.discard(seam)
            delattr(owner, attribute)
        elif seam in _originals:
            setattr(owner, attribute, _originals.pop(seam))


def install(cloud: Any) -> None:
    """Point the seams at ``cloud``'s executors (once per process) and turn execution on.

    IAM is enforced unless ``cloud.iam`` is False; executors get the roles' keys through
    ``credentials`` (see :func:`._iam.role_credentials`). The Step Functions seams follow at first use.
    """
    _state.cloud = cloud
    _state.iam_enforced = bool(getattr(cloud, "iam", True))
    default_user_config["stepfunctions"]["execute_state_machine"] = True
    if "lambda_invoke" in _originals:
        return
    _patch(SEAMS, _PATCHES)
    for name, (owner, attribute) in ADDITIONS.items():
        setattr(owner, attribute, _ADDED[name])


def install_stepfunctions() -> None:
    """Install seams 4-6, 16, 19-21 and 23 (once; a no-op without an installed cloud). Thread-safe: the first
    Step Functions request waits here for a warm-up thread that is installing them."""
    if "sfn_boto_client_for" in _originals:  # installed: every Step Functions request after the first
        return
    with _stepfunctions_lock:
        if _state.cloud is None or "sfn_boto_client_for" in _originals:
            return
        from localcloud.moto_seams._stepfunctions import _boto_client_for, client_modules

        _patch(stepfunctions_seams(), stepfunctions_patches())
        for module in client_modules():  # each Step Functions module that imported boto_client_for by name
            module.boto_client_for = _boto_client_for


def uninstall() -> None:
    """Put moto back as it was (tests use this to prove the seams are what changes behaviour)."""
    with _stepfunctions_lock:
        if "sfn_boto_client_for" in _originals:
            from localcloud.moto_seams._stepfunctions import client_modules

            for module in client_modules():
                module.boto_client_for = _originals["sfn_boto_client_for"]
            _unpatch(stepfunctions_seams())
    _unpatch(SEAMS)
    for owner, attribute in ADDITIONS.values():
        if attribute in vars(owner):
            delattr(owner, attribute)
    default_user_config["stepfunctions"]["execute_state_machine"] = False
    _state.cloud = None
    _state.iam_enforced = False


def warm_in_background() -> threading.Thread:
    """Install the Step Functions seams and warm moto's parser in a daemon thread (``--warm-stepfunctions``)."""
    from localcloud.moto_seams._warmup import warm_stepfunctions

    def warm() -> None:
        install_stepfunctions()
        warm_stepfunctions()

    thread = threading.Thread(target=warm, daemon=True, name="localcloud-warm-stepfunctions")
    thread.start()
    return thread
