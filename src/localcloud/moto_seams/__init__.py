"""Every place where the local cloud patches or subclasses moto's internals: this package.

The table (``SEAMS``, ``ADDITIONS``) and ``install``/``uninstall`` are here; the patches live
beside it, one module per service (``_lambda``, ``_sagemaker``, ``_stepfunctions``,
``_events``), and ``_records`` holds what the executors update in moto's records.

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
12. ``moto.awslambda.responses.LambdaResponse.call_action`` — names and Invoke payload sizes checked
    as AWS checks them (:mod:`localcloud.constraints`) before moto acts.
13. ``SageMakerResponse.call_action`` — job, model and endpoint names and processing ``LocalPath``
    checked the same way.
14. ``moto.core.authorization.ActionAuthenticatorMixin._authenticate_and_authorize_action`` — IAM:
    requests signed with an assumed role's or IAM user's keys are evaluated against its policies
    (``_iam``, ``_iam_policy``); other keys act as the account's root.
15. ``LambdaResponse.create_function`` / ``update_function_configuration``,
    ``SageMakerResponse.create_model`` (and 2, 9), ``StepFunctionResponse.create_state_machine`` /
    ``update_state_machine``, ``EventsHandler.put_targets`` — the role handed over must exist, trust
    the service, and the caller must hold ``iam:PassRole`` (``_iam_create``).
16. ``boto_client_for`` as imported by moto's Step Functions modules — the interpreter's calls act
    as the state machine's role (moto signed them with ``ak``/``sk``).
``ADDITIONS`` are actions moto lacks: StopTrainingJob, StopTransformJob, UpdateEndpoint.
``_server.serve_moto`` builds moto's HTTP server from ``moto.moto_server.werkzeug_app`` (its
dispatcher app and request handler, global CORS off) instead of ``ThreadedMotoServer``, which
hangs on a busy port and cannot take middleware; the test checks those names (``READ``).
``_imports.import_ec2_models`` imports ``moto.ec2.models`` with one botocore session for the three
region lists its class body builds (checked by ``SOURCE`` and test_moto_import).
``_warmup.warm_in_background`` parses one definition with moto's ASL parser so that ANTLR's tables are
built before the first CreateStateMachine (``--warm-stepfunctions``).
"""

from __future__ import annotations

from typing import Any

from localcloud.moto_seams._imports import import_ec2_models

import_ec2_models()  # before any other moto import reaches moto.ec2 (see _imports: the cloud starts sooner)

from moto.awslambda import models as lambda_models  # noqa: E402
from moto.awslambda.responses import LambdaResponse
from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.config import default_user_config
from moto.events import models as events_models
from moto.events.responses import EventsHandler
from moto.s3 import notifications as s3_notifications
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse
from moto.stepfunctions.parser import models as sfn_parser_models
from moto.stepfunctions.parser.asl.utils import boto_client as boto_client_module
from moto.stepfunctions.responses import StepFunctionResponse
from moto.stepfunctions.parser.asl.component.state.exec.state_task import (
    state_task_factory,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback as callback_module,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
    StateTaskServiceAwsSdk,
)

from localcloud.moto_seams import _state
from localcloud.moto_seams._events import _s3_send_event, _send_to_targets
from localcloud.moto_seams._iam import _authorize, role_credentials
from localcloud.moto_seams._iam_create import (
    _events_put_targets,
    _lambda_create_function,
    _lambda_update_configuration,
    _sagemaker_create_model,
    _states_create,
    _states_update,
)
from localcloud.moto_seams._lambda import _lambda_invoke
from localcloud.moto_seams._records import cloud_account, update_job, write_logs
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
from localcloud.moto_seams._warmup import warm_in_background
from localcloud.moto_seams._validation import _lambda_call_action, _sagemaker_call_action
from localcloud.moto_seams._stepfunctions import (
    _SYNC_POLL_SECONDS,
    StateTaskServiceSageMaker,
    _aws_sdk_task,
    _boto_client_for,
    _start_execution,
    executions_busy,
    _state_task_service_for,
    client_modules,
)

__all__ = ["ADDITIONS", "SEAMS", "StateTaskServiceSageMaker", "cloud_account", "executions_busy", "install",
           "role_credentials",
           "serve_moto", "uninstall", "update_job", "warm_in_background", "write_logs"]
_originals = _state.originals

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
    "lambda_call_action": (LambdaResponse, "call_action"),
    "sagemaker_call_action": (SageMakerResponse, "call_action"),
    "iam_authorize": (ActionAuthenticatorMixin, "_authenticate_and_authorize_action"),
    "lambda_create_function": (LambdaResponse, "create_function"),
    "lambda_update_configuration": (LambdaResponse, "update_function_configuration"),
    "sagemaker_create_model": (SageMakerResponse, "create_model"),
    "states_create": (StepFunctionResponse, "create_state_machine"),
    "states_update": (StepFunctionResponse, "update_state_machine"),
    "events_put_targets": (EventsHandler, "put_targets"),
    "sfn_boto_client_for": (boto_client_module, "boto_client_for"),
}
# actions moto does not have at all: added on install, removed on uninstall
ADDITIONS = {name: (SageMakerResponse, name) for name in ("stop_training_job", "stop_transform_job", "update_endpoint")}


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
    "lambda_call_action": _lambda_call_action,
    "sagemaker_call_action": _sagemaker_call_action,
    "iam_authorize": _authorize,
    "lambda_create_function": _lambda_create_function,
    "lambda_update_configuration": _lambda_update_configuration,
    "sagemaker_create_model": _sagemaker_create_model,
    "states_create": _states_create,
    "states_update": _states_update,
    "events_put_targets": _events_put_targets,
    "sfn_boto_client_for": _boto_client_for,
}
_INHERITED: set[str] = set()  # seams moto's class inherits: uninstall deletes the patch instead of setting
_ADDED = {"stop_training_job": _stop_job("training", "training_job_status", "TrainingJobName"),
          "stop_transform_job": _stop_transform_job, "update_endpoint": _update_endpoint}


def install(cloud: Any) -> None:
    """Point the seams at ``cloud``'s executors (once per process) and turn execution on.

    IAM is enforced unless ``cloud.iam`` is False; executors get the roles' keys through
    ``credentials`` (see :func:`._iam.role_credentials`).
    """
    _state.cloud = cloud
    _state.iam_enforced = bool(getattr(cloud, "iam", True))
    default_user_config["stepfunctions"]["execute_state_machine"] = True
    if _originals:
        return
    for seam, (owner, attribute) in SEAMS.items():
        _originals[seam] = getattr(owner, attribute)
        if isinstance(owner, type) and attribute not in vars(owner):
            _INHERITED.add(seam)
        setattr(owner, attribute, _PATCHES[seam])
    for module in client_modules():  # each Step Functions module that imported boto_client_for by name
        module.boto_client_for = _boto_client_for
    for name, (owner, attribute) in ADDITIONS.items():
        setattr(owner, attribute, _ADDED[name])


def uninstall() -> None:
    """Put moto back as it was (tests use this to prove the seams are what changes behaviour)."""
    if "sfn_boto_client_for" in _originals:
        for module in client_modules():
            module.boto_client_for = _originals["sfn_boto_client_for"]
    for seam, (owner, attribute) in SEAMS.items():
        if seam in _INHERITED:
            _originals.pop(seam, None)
            _INHERITED.discard(seam)
            delattr(owner, attribute)
        elif seam in _originals:
            setattr(owner, attribute, _originals.pop(seam))
    for owner, attribute in ADDITIONS.values():
        if attribute in vars(owner):
            delattr(owner, attribute)
    default_user_config["stepfunctions"]["execute_state_machine"] = False
    _state.cloud = None
    _state.iam_enforced = False
