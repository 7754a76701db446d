"""Create calls that hand a role to a service: refused as AWS refuses them (IAM enforcement).

Each check asks :func:`._iam.check_role_handover`: the caller may ``iam:PassRole`` the role to
the service, the role exists in the account and its trust policy lets the service assume it.
moto accepted any string as a role ARN.
"""

from __future__ import annotations

from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.sagemaker.exceptions import ValidationError

from localcloud.moto_seams import _state
from localcloud.moto_seams._iam import RoleNotAssumable, check_role_handover


def sagemaker_role(response: Any, role_arn: str | None) -> None:
    """CreateProcessingJob/TrainingJob/Model: a role SageMaker cannot assume is a ValidationException."""
    try:
        check_role_handover(response.current_account, role_arn or "", "sagemaker", "sagemaker")
    except RoleNotAssumable:
        raise ValidationError(f"Could not assume role {role_arn}. Please ensure that the role exists and allows "
                              "principal 'sagemaker.amazonaws.com' to assume the role.") from None


def _lambda_role(response: Any, role_arn: str, name: str) -> None:
    source = f"arn:aws:lambda:{response.region}:{response.current_account}:function:{name}"
    try:
        check_role_handover(response.current_account, role_arn, "lambda", "lambda", source_arn=source)
    except RoleNotAssumable:
        error = JsonRESTError("InvalidParameterValueException",
                              "The role defined for the function cannot be assumed by Lambda.")
        raise error from None


def _lambda_create_function(self: Any) -> Any:
    body = self.json_body or {}
    _lambda_role(self, str(body.get("Role", "")), str(body.get("FunctionName", "")).rsplit(":", 1)[-1])
    return _state.originals["lambda_create_function"](self)


def _lambda_update_configuration(self: Any) -> Any:
    body = self.json_body or {}
    if "Role" in body:
        _lambda_role(self, str(body["Role"]), self.path.rsplit("/", 2)[-2])
    return _state.originals["lambda_update_configuration"](self)


def _sagemaker_create_model(self: Any) -> Any:
    sagemaker_role(self, self._get_param("ExecutionRoleArn"))
    return _state.originals["sagemaker_create_model"](self)


def _states_role(response: Any, role_arn: str | None, machine_arn: str) -> None:
    if role_arn is None:
        return
    try:
        check_role_handover(response.current_account, role_arn, "states", "states", source_arn=machine_arn)
    except RoleNotAssumable:
        try:  # AWS trusts the regional principal too (states.<region>.amazonaws.com)
            check_role_handover(response.current_account, role_arn, f"states.{response.region}", "states",
                                 source_arn=machine_arn)
        except RoleNotAssumable:
            raise JsonRESTError("AccessDeniedException", "Neither the global service principal states.amazonaws.com, "
                                "nor the regional one is authorized to assume the provided role.") from None


def _states_create(self: Any) -> Any:
    name = self._get_param("name") or ""
    _states_role(self, self._get_param("roleArn") or "",
                 f"arn:aws:states:{self.region}:{self.current_account}:stateMachine:{name}")
    return _state.originals["states_create"](self)


def _states_update(self: Any) -> Any:
    _states_role(self, self._get_param("roleArn"), self._get_param("stateMachineArn") or "")
    return _state.originals["states_update"](self)


# targets EventBridge can reach only through a role (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-targets.html)
_ROLE_REQUIRED = {"states", "kinesis", "ec2", "codebuild", "codepipeline", "ecs", "batch", "ssm"}


def _events_put_targets(self: Any) -> Any:
    """PutTargets: a target that needs a role names one, and the caller may pass it to EventBridge."""
    for target in self._get_param("Targets") or []:
        arn = str(target.get("Arn") or "")
        if arn.split(":")[2:3] and arn.split(":")[2] in _ROLE_REQUIRED and not target.get("RoleArn"):
            raise JsonRESTError("ValidationException", f"RoleArn is required for target {arn}.")
        if target.get("RoleArn"):
            try:
                check_role_handover(self.current_account, target["RoleArn"], "events", "events")
            except RoleNotAssumable:
                pass  # AWS accepts the target; delivery then fails (see _event_delivery._deliver)
    return _state.originals["events_put_targets"](self)
