"""Seams 2, 3, 8, 9 and the added actions: jobs, endpoints and Batch Transform run for real."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ResourceInUseException, ValidationError
from moto.sagemaker.models import (
    FakeEndpoint,
    FakeEndpointConfig,
    FakeTransformJob,
    sagemaker_backends,
)
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

from localcloud.contracts import CLIENT_ERROR, JobFailure
from localcloud.sagemaker.inference.inference_contract import (
    InferenceError,
    ModelRef,
    endpoint_log_group,
    error_response,
)
from localcloud.moto_seams import _state
from localcloud.moto_seams._iam import image_pull_denial
from localcloud.moto_seams._iam_create import sagemaker_role
from localcloud.moto_seams._records import update_job, write_logs


# -- 2/3. SageMaker jobs -------------------------------------------------------------------
def _request(response: SageMakerResponse) -> dict[str, Any]:
    return json.loads(response.body or "{}")


def _create_processing_job(self: SageMakerResponse) -> ActionResult:
    request = _request(self)
    name = request["ProcessingJobName"]
    if name in self.sagemaker_backend.processing_jobs:
        raise ResourceInUseException(f"Job name must be unique within an AWS account and region, "
                                     f"and a job with this name already exists ({name})")
    sagemaker_role(self, request.get("RoleArn"))
    result = _state.originals["create_processing_job"](self)
    update_job("processing", self.region, name, {
        "processing_job_status": "InProgress", "environment": request.get("Environment"),
        "processing_resources": request.get("ProcessingResources"),
        "app_specification": request["AppSpecification"]})
    if not _pull_refused("processing", self, name, request["RoleArn"], request["AppSpecification"]["ImageUri"]):
        _state.cloud.jobs.start_processing(self.region, request)
    return result


def _create_training_job(self: SageMakerResponse) -> ActionResult:
    request = _request(self)
    name = request["TrainingJobName"]
    if name in self.sagemaker_backend.training_jobs:
        raise ResourceInUseException(f"Training job names must be unique within an AWS account and region, "
                                     f"and a training job with this name already exists ({name})")
    sagemaker_role(self, request.get("RoleArn"))
    result = _state.originals["create_training_job"](self)
    update_job("training", self.region, name, {
        "training_job_status": "InProgress", "secondary_status": "Starting",
        "secondary_status_transitions": [], "final_metric_data_list": [],
        "algorithm_specification": request["AlgorithmSpecification"], "environment": request.get("Environment"),
        "model_artifacts": None, "training_start_time": None, "training_end_time": None})
    image = request["AlgorithmSpecification"].get("TrainingImage", "")
    if not _pull_refused("training", self, name, request["RoleArn"], image):
        _state.cloud.jobs.start_training(self.region, request)
    return result


def _pull_refused(kind: str, response: SageMakerResponse, name: str, role: str, image: str) -> bool:
    """The job's role may not pull its image from the account's ECR: the job fails, as on AWS."""
    denied = image_pull_denial(response.current_account, response.region, role, image)
    if denied:
        status = "processing_job_status" if kind == "processing" else "training_job_status"
        failure = JobFailure(CLIENT_ERROR, f"Cannot pull image {image}: {denied}")
        update_job(kind, response.region, name, {status: "Failed", "last_modified_time": utcnow(),
                                                 "failure_reason": failure.reason})
    return bool(denied)


def _stop_job(kind: str, status_field: str, name_param: str):
    def stop(self: SageMakerResponse) -> EmptyResult:
        name = self._get_param(name_param)
        jobs = self.sagemaker_backend.processing_jobs if kind == "processing" else self.sagemaker_backend.training_jobs
        if name not in jobs:
            raise ValidationError(f"Could not find {kind} job '{name}'.")
        if getattr(jobs[name], status_field) == "InProgress":
            setattr(jobs[name], status_field, "Stopping")
            _state.cloud.jobs.stop(kind, self.region, name)
        return EmptyResult()
    return stop


stop_processing_job = _stop_job("processing", "processing_job_status", "ProcessingJobName")  # seam 3
stop_training_job = _stop_job("training", "training_job_status", "TrainingJobName")  # seam 3 (an addition)


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
        body, content_type = _state.cloud.inference.invoke(
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
    result = _state.originals["create_transform_job"](self)
    update_job("transform", self.region, name, {
        "transform_job_status": "InProgress", "failure_reason": None, "transform_start_time": None,
        "transform_end_time": None, "labeling_job_arn": None, "auto_ml_job_arn": None})
    _state.cloud.inference.start_transform(self.region, request, ModelRef.of(model, self.current_account))
    return result


def _stop_transform_job(self: SageMakerResponse) -> EmptyResult:
    name = self._get_param("TransformJobName")
    job = self.sagemaker_backend.transform_jobs.get(name)
    if job is None:
        arn = FakeTransformJob.arn_formatter(name, self.current_account, self.region)
        raise ValidationError(f"Could not find transform job '{arn}'.")
    if job.transform_job_status == "InProgress" and _state.cloud.inference.stop_transform(self.region, name):
        job.transform_job_status = "Stopping"
    return EmptyResult()

