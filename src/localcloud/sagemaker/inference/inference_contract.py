"""linear-learner's inference contract: what an endpoint or a Batch Transform job accepts and answers.

The request side (``text/csv`` or linear-learner's JSON; a transform's ``DataProcessing.InputFilter``,
``SplitType``, ``BatchStrategy``, ``AssembleWith``) and the response side (``application/json`` or
``application/jsonlines``; sagemaker-runtime's error body) live here, apart from
:mod:`localcloud.sagemaker.inference.inference`, which loads models and runs the transforms. Nothing here touches S3 or moto.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from localcloud.sagemaker.algorithms.linear_learner import model as linear_model
from localcloud.sagemaker import algorithms
from localcloud.contracts import CLIENT_ERROR, JobFailure

ACCEPT_JSON, ACCEPT_JSONLINES = "application/json", "application/jsonlines"
ACCEPTS = (ACCEPT_JSON, ACCEPT_JSONLINES)
_CSV = "text/csv"
# $[1:] / $[n:] (columns from n on) or $[a,b,...] (those columns); "$" keeps the whole row.
_SLICE_FILTER = re.compile(r"^\$\[\s*(\d+)\s*:\s*\]$")
_LIST_FILTER = re.compile(r"^\$\[\s*(\d+(?:\s*,\s*\d+)*)\s*\]$")



class InferenceError(Exception):
    """A request the model server refuses; ``code``/``status`` are what the client sees."""

    def __init__(self, message: str, code: str = "ModelError", status: int = 424, original_status: int = 400):
        super().__init__(message)
        self.code, self.status, self.original_status = code, status, original_status


@dataclass(frozen=True)
class ModelRef:
    """What a SageMaker model says about the container that serves it."""

    name: str
    image: str
    model_data_url: str | None
    account: str = ""
    role: str = ""  # ExecutionRoleArn: model and data are read as this role

    @classmethod
    def of(cls, model: Any, account: str) -> ModelRef:
        """From a record with ``model_name``, ``primary_container`` and ``containers`` (moto's Model)."""
        container = model.primary_container or (model.containers[0] if model.containers else {})
        return cls(name=model.model_name, image=container.get("Image", ""), account=account,
                   model_data_url=container.get("ModelDataUrl"),
                   role=getattr(model, "execution_role_arn", "") or "")

    @property
    def algorithm(self) -> str | None:
        """The built-in algorithm package that serves this model (``linear_learner``, ``xgboost``), or None."""
        return algorithms.builtin(self.image)

    @property
    def is_linear_learner(self) -> bool:
        return self.algorithm == "linear_learner"



def media_type(value: str | None, default: str) -> str:
    """The media type of a Content-Type or Accept value, lower-cased, without parameters."""
    return (value or default).split(";", 1)[0].strip().lower() or default


def render(records: list[dict[str, Any]], accept: str) -> bytes:
    """Records as linear-learner answers: one JSON document, or one JSON record per line."""
    if accept == ACCEPT_JSONLINES:
        return "".join(json.dumps(record) + "\n" for record in records).encode()
    return json.dumps({"predictions": records}).encode()


def column_selector(input_filter: str | None) -> Callable[[list[str]], list[str]]:
    """The columns a Batch Transform ``DataProcessing.InputFilter`` keeps of a CSV row.

    Supports ``$`` (all), ``$[n:]`` (from column n on, 0-based; ``$[1:]`` drops a label column)
    and ``$[a,b,...]``. Anything else raises a ClientError :class:`~localcloud.contracts.JobFailure`.
    """
    text = (input_filter or "$").strip()
    if text == "$":
        return lambda row: row
    match = _SLICE_FILTER.match(text)
    if match:
        start = int(match.group(1))
        return lambda row: row[start:]
    match = _LIST_FILTER.match(text)
    if match:
        columns = [int(part) for part in match.group(1).split(",")]

        def pick(row: list[str]) -> list[str]:
            if max(columns) >= len(row):
                raise IndexError(f"InputFilter {text} selects column {max(columns)} but the row has {len(row)} columns")
            return [row[i] for i in columns]
        return pick
    raise JobFailure(CLIENT_ERROR, f"InputFilter {text!r} is not supported by localcloud for text/csv input: "
                   "use $[n:] (e.g. $[1:] to drop the first column) or $[a,b,...]")



@dataclass
class TransformSettings:
    """A transform request's data handling, checked up front (unsupported options fail the job)."""

    accept: str
    select: Callable[[list[str]], list[str]]
    input_filter: str
    split_lines: bool
    single_record: bool
    assemble_lines: bool
    gzip: bool

    @classmethod
    def read(cls, request: dict[str, Any]) -> TransformSettings:
        data_in, data_out = request["TransformInput"], request["TransformOutput"]
        processing = request.get("DataProcessing") or {}
        source = data_in["DataSource"]["S3DataSource"]
        if source.get("S3DataType", "S3Prefix") != "S3Prefix":
            raise JobFailure(CLIENT_ERROR, f"S3DataType {source['S3DataType']} is not supported by localcloud "
                           "(use S3Prefix)")
        if media_type(data_in.get("ContentType"), _CSV) != _CSV:
            raise JobFailure(CLIENT_ERROR, f"linear-learner (localcloud stand-in) reads ContentType text/csv, "
                           f"not {data_in['ContentType']!r}")
        if data_in.get("SplitType", "None") not in ("Line", "None"):
            raise JobFailure(CLIENT_ERROR, f"SplitType {data_in['SplitType']} is not supported for text/csv (use Line)")
        if processing.get("JoinSource", "None") != "None" or processing.get("OutputFilter", "$") != "$":
            raise JobFailure(CLIENT_ERROR, "DataProcessing.JoinSource and OutputFilter are not supported by localcloud")
        accept = media_type(data_out.get("Accept"), ACCEPT_JSON)
        if accept not in ACCEPTS:
            raise JobFailure(CLIENT_ERROR, f"linear-learner (localcloud stand-in) cannot produce Accept {accept!r}; "
                           f"use one of {', '.join(ACCEPTS)}")
        input_filter = (processing.get("InputFilter") or "$").strip()
        return cls(accept=accept, select=column_selector(input_filter), input_filter=input_filter,
                   split_lines=data_in.get("SplitType", "None") == "Line",
                   single_record=request.get("BatchStrategy") == "SingleRecord",
                   assemble_lines=data_out.get("AssembleWith", "None") == "Line",
                   gzip=data_in.get("CompressionType", "None") == "Gzip")

    def transform(self, model: dict[str, Any], text: str, where: str) -> tuple[bytes, int]:
        """Predict every record of one input object; returns (output bytes, record count)."""
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                selected = self.select(next(csv.reader([line])))
                rows.append(linear_model.parse_csv_payload(_csv_line(selected), model["feature_dim"])[0])
            except (IndexError, linear_model.InvalidInputError) as exc:
                detail = str(exc).replace("row 1, ", "").replace("row 1: ", "")
                after = f" (columns counted after InputFilter {self.input_filter})" if self.input_filter != "$" else ""
                raise JobFailure(CLIENT_ERROR, f"{where}, line {number}: {detail}{after}") from None
        if not rows:
            raise JobFailure(CLIENT_ERROR, f"{where} holds no records")
        records = linear_model.predict(model, np.vstack(rows))
        if self.accept == ACCEPT_JSONLINES:
            return render(records, self.accept), len(records)
        # application/json: one {"predictions": [...]} per request (a whole object, or one line per
        # request under SingleRecord), joined by newlines when AssembleWith is Line.
        batches = [[r] for r in records] if self.single_record and self.split_lines else [records]
        joiner = b"\n" if self.assemble_lines else b""
        return joiner.join(render(batch, self.accept) for batch in batches) + joiner, len(records)



def parse_request(body: bytes, content_type: str | None, feature_dim: int) -> np.ndarray:
    """Feature rows from an InvokeEndpoint body: text/csv, or linear-learner's JSON request.

    Raises:
        InferenceError: an unsupported content type or a bad row (its message names the row).
    """
    media = media_type(content_type, _CSV)
    try:
        if media == _CSV:
            return linear_model.parse_csv_payload(body, feature_dim)
        if media == "application/json":
            instances = json.loads(body)["instances"]
            return np.asarray([instance["features"] for instance in instances], dtype=np.float64)
    except linear_model.InvalidInputError as exc:
        raise InferenceError(f"unable to parse text/csv payload: {exc}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise InferenceError(f'unable to parse application/json payload: expected {{"instances": [{{"features": '
                             f'[...]}}, ...]}}: {type(exc).__name__}: {exc}') from None
    raise InferenceError(f"linear-learner (localcloud stand-in) does not accept ContentType {media!r}; "
                         "use text/csv or application/json", original_status=415)


def _csv_line(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(cells)
    return buffer.getvalue()



def endpoint_log_group(endpoint: str) -> str:
    return f"/aws/sagemaker/Endpoints/{endpoint}"


def error_response(exc: InferenceError, region: str, account: str, endpoint: str) -> tuple[int, dict[str, str], bytes]:
    """The HTTP answer of sagemaker-runtime for a refused invocation (ValidationError, ModelError)."""
    body: dict[str, Any] = {"message": str(exc)}
    if exc.code == "ModelError":
        group = endpoint_log_group(endpoint)
        side = "client" if exc.original_status < 500 else "server"
        body = {"message": (f'Received {side} error ({exc.original_status}) from primary with message "{exc}". '
                            f"See https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
                            f"#logEventViewer:group={group} in account {account} for more information."),
                "OriginalStatusCode": exc.original_status, "OriginalMessage": str(exc),
                "LogStreamArn": f"arn:aws:logs:{region}:{account}:log-group:{group}"}
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": exc.code}
    return exc.status, headers, json.dumps(body).encode()
