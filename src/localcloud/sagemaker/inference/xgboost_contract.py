"""The built-in XGBoost algorithm behind an endpoint or a Batch Transform job: what it accepts and answers.

The model server itself is :mod:`localcloud.sagemaker.algorithms.xgboost.serve` (the container's request and
response handling); this module puts it behind the cloud's endpoint and transform contract, as
:mod:`localcloud.sagemaker.inference.inference_contract` does for linear-learner: its refusals become
:class:`~localcloud.sagemaker.inference.inference_contract.InferenceError` (an endpoint's ModelError, with the
container's status as OriginalStatusCode) or a transform job's ClientError.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localcloud.contracts import CLIENT_ERROR, JobFailure
from localcloud.sagemaker.algorithms.xgboost import serve
from localcloud.sagemaker.inference.inference_contract import InferenceError, column_selector, media_type

_READS = ("text/csv", "csv", "text/libsvm", "text/x-libsvm", "libsvm")


def load(raw: bytes, name: str) -> Any:
    """The booster of a model file's bytes.

    Raises:
        InferenceError: not an XGBoost model (the container answers 500).
    """
    try:
        return serve.load_booster(raw)
    except serve.ServeError as exc:
        raise InferenceError(f"model {name}: {exc}", original_status=exc.status) from None


def invoke(booster: Any, body: bytes, content_type: str | None, accept: str | None) -> tuple[bytes, str]:
    """Answer one InvokeEndpoint request as the XGBoost container does; returns (body, content type).

    Raises:
        InferenceError: the container's refusal, its HTTP status as OriginalStatusCode.
    """
    try:
        return serve.answer(booster, body, content_type, accept)
    except serve.ServeError as exc:
        raise InferenceError(str(exc), original_status=exc.status) from None


@dataclass
class XGBoostTransform:
    """A transform request's data handling for an XGBoost model, checked up front (unsupported options fail it)."""

    accept: str
    content_type: str
    select: Callable[[list[str]], list[str]]
    input_filter: str
    gzip: bool

    @classmethod
    def read(cls, request: dict[str, Any]) -> XGBoostTransform:
        """Raises: JobFailure (ClientError) for an option the container or the cloud does not take."""
        data_in, data_out = request["TransformInput"], request["TransformOutput"]
        processing = request.get("DataProcessing") or {}
        source = data_in["DataSource"]["S3DataSource"]
        if source.get("S3DataType", "S3Prefix") != "S3Prefix":
            raise JobFailure(CLIENT_ERROR, f"S3DataType {source['S3DataType']} is not supported by localcloud "
                             "(use S3Prefix)")
        content_type = media_type(data_in.get("ContentType"), "text/libsvm")
        if content_type not in _READS:
            raise JobFailure(CLIENT_ERROR, f"Content-type {data_in.get('ContentType')} is not supported.")
        if data_in.get("SplitType", "None") not in ("Line", "None"):
            raise JobFailure(CLIENT_ERROR, f"SplitType {data_in['SplitType']} is not supported for {content_type} "
                             "(use Line)")
        if processing.get("JoinSource", "None") != "None" or processing.get("OutputFilter", "$") != "$":
            raise JobFailure(CLIENT_ERROR, "DataProcessing.JoinSource and OutputFilter are not supported by localcloud")
        try:
            accept = serve.accept_type(data_out.get("Accept"))
        except serve.ServeError as exc:
            raise JobFailure(CLIENT_ERROR, str(exc)) from None
        input_filter = (processing.get("InputFilter") or "$").strip()
        if input_filter != "$" and "csv" not in content_type:
            raise JobFailure(CLIENT_ERROR, f"InputFilter {input_filter!r} needs text/csv input")
        return cls(accept=accept, content_type=content_type, select=column_selector(input_filter),
                   input_filter=input_filter, gzip=data_in.get("CompressionType", "None") == "Gzip")

    def transform(self, booster: Any, text: str, where: str) -> tuple[bytes, int]:
        """Predict every record of one input object; returns (output bytes, record count).

        The output is the container's batch answer (``SAGEMAKER_BATCH``): one prediction per line, in input order,
        the same bytes whether the records went one per request (SingleRecord) or together (MultiRecord).
        """
        lines = [line for line in text.splitlines() if line.strip()]
        if not lines:
            raise JobFailure(CLIENT_ERROR, f"{where} holds no records")
        if self.input_filter != "$":
            try:
                lines = [_csv_line(self.select(next(csv.reader([line])))) for line in lines]
            except IndexError as exc:
                raise JobFailure(CLIENT_ERROR, f"{where}: {exc}") from None
        try:
            body, _ = serve.answer(booster, "\n".join(lines).encode(), self.content_type, self.accept, batch=True)
        except serve.ServeError as exc:
            after = f" (columns counted after InputFilter {self.input_filter})" if self.input_filter != "$" else ""
            raise JobFailure(CLIENT_ERROR, f"{where}: {exc}{after}") from None
        return body, len(lines)


def _csv_line(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(cells)
    return buffer.getvalue()
