"""SageMaker's Describe answers without the empty members moto adds where AWS leaves a member out.

moto's DescribeModel, DescribeEndpointConfig and DescribeEndpoint answer ``"VpcConfig": {}`` and
``"DataCaptureConfig": {}`` for a model or endpoint made without them. AWS omits an optional member that was never
set (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeModel.html: VpcConfig "Required: No"),
and clients that parse the answer into typed shapes refuse the empty ones: sagemaker-core's pydantic
``VpcConfig`` requires ``SecurityGroupIds`` and ``Subnets`` (``ValidationError … Field required``), so
``Model.create()`` failed after the model was made. Seam 32 drops those members when they are empty.
"""

from __future__ import annotations

from typing import Any

from localcloud.moto_seams import _state

# members AWS leaves out when they were not given, and moto answers as {}
OMITTED_WHEN_EMPTY = ("VpcConfig", "DataCaptureConfig")


def without_empty_members(answer: Any) -> Any:
    """``answer`` (a dict) without the :data:`OMITTED_WHEN_EMPTY` members whose value is empty."""
    if isinstance(answer, dict):
        return {key: value for key, value in answer.items() if not (key in OMITTED_WHEN_EMPTY and not value)}
    return answer


def _pruned(name: str, self: Any) -> Any:
    from moto.core.responses import ActionResult

    result = _state.originals[name](self)
    if isinstance(result, ActionResult):
        return ActionResult(without_empty_members(result.result))
    return result


def _describe_model(self: Any) -> Any:
    return _pruned("sagemaker_describe_model", self)


def _describe_endpoint_config(self: Any) -> Any:
    return _pruned("sagemaker_describe_endpoint_config", self)


def _describe_endpoint(self: Any) -> Any:
    return _pruned("sagemaker_describe_endpoint", self)
