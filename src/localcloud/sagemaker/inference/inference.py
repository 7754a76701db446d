"""Serve built-in algorithms' models: endpoint invocations and Batch Transform jobs, without containers.

On AWS a model is an image plus a ``model.tar.gz``; an endpoint or a transform job runs the
image's server. Here SageMaker's built-in ``linear-learner`` and ``sagemaker-xgboost`` images can be served
(:func:`localcloud.sagemaker.algorithms.builtin` names the algorithm). linear-learner's artifact is the stand-in
model :mod:`localcloud.sagemaker.algorithms.linear_learner.train` trains, and inference is
:func:`~localcloud.sagemaker.algorithms.linear_learner.model.predict` behind linear-learner's request/response contract
(``text/csv`` in; ``application/json`` or ``application/jsonlines`` out), which
:mod:`localcloud.sagemaker.inference.inference_contract` spells out. XGBoost's artifact is an ``xgboost-model``
booster, served by the xgboost library as the container serves it (:mod:`localcloud.sagemaker.inference.xgboost_contract`).
A model that cannot be served fails for that reason before any of its request's options is checked.

This module knows nothing of moto: :mod:`localcloud.moto_seams` resolves endpoint → endpoint
configuration → model into a :class:`ModelRef`, and job status changes go back through a
callback, as for :mod:`localcloud.sagemaker.jobs.runner`.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from botocore.config import Config

from localcloud.common import clients
from localcloud.contracts import (
    CLIENT_ERROR,
    FAILURE_REASON_CHARS,
    INTERNAL_ERROR,
    Credentials,
    JobFailure,
    LogWriter,
    StatusUpdate,
    Stopped,
    standalone_credentials,
)
from localcloud.sagemaker.algorithms.linear_learner import model as linear_model
from localcloud.sagemaker.inference import model_artifacts, xgboost_contract
from localcloud.sagemaker.inference.inference_contract import (
    ACCEPT_JSON,
    ACCEPTS,
    InferenceError,
    ModelRef,
    TransformSettings,
    media_type,
    parse_request,
    render,
)
from localcloud.sagemaker.jobs.job_files import split_s3_uri


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Inference:
    """Endpoint invocations and Batch Transform jobs for linear-learner and XGBoost models.

    Args:
        endpoint_url: the local cloud's URL, for reading models and data from S3.
        update: callback that sets attributes on the cloud's record of a transform job.
        write_logs: ``(region, group, stream, lines)`` sink for CloudWatch Logs.
    """

    def __init__(self, endpoint_url: str, update: StatusUpdate, write_logs: LogWriter) -> None:
        self.endpoint_url, self.update, self.write_logs = endpoint_url, update, write_logs
        self._models: dict[tuple[str, str], dict[str, Any]] = {}  # (ModelDataUrl, ETag) -> model
        self._lock = threading.Lock()
        self._stops: dict[tuple[str, str], threading.Event] = {}
        self._threads: set[threading.Thread] = set()
        self.credentials: Credentials = standalone_credentials  # the cloud sets its own (LocalCloud.credentials)

    # -- models -------------------------------------------------------------------------
    def _s3(self, region: str, ref: ModelRef):
        # as the model's role when IAM is enforced
        keys = self.credentials(ref.role, f"SageMaker-{ref.name}"[:64])
        return clients.client("s3", region, self.endpoint_url, keys, config=Config(retries={"max_attempts": 2}))

    def load(self, region: str, ref: ModelRef) -> Any:
        """The model behind ``ref`` (cached by ModelDataUrl and ETag): a stand-in linear-learner model's dict or an
        ``xgboost.Booster``.

        Raises:
            InferenceError: the image is no built-in algorithm the cloud plays, or the artifact is missing or not a
                model of it.
        """
        if ref.algorithm is None:
            raise InferenceError(
                f"localcloud can serve only SageMaker's built-in linear-learner and XGBoost images; model {ref.name} "
                f"uses image {ref.image!r}", original_status=500)
        if not ref.model_data_url:
            raise InferenceError(f"model {ref.name} has no PrimaryContainer.ModelDataUrl", original_status=500)
        s3 = self._s3(region, ref)
        try:
            bucket, key = model_artifacts.s3_location(ref.model_data_url)
            head = s3.head_object(Bucket=bucket, Key=key)
            etag = head["ETag"]
            cached = self._models.get((ref.model_data_url, etag))
            if cached is not None:
                return cached
            if head.get("ContentLength", 0) > model_artifacts.MAX_BYTES:  # measured before it is read
                raise model_artifacts.ArtifactTooLarge(f"an object of {head['ContentLength']} bytes")
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read(model_artifacts.MAX_BYTES + 1)
        except model_artifacts.ArtifactTooLarge as exc:
            raise _too_large(ref, exc) from None
        except Exception as exc:  # noqa: BLE001 - any failure to fetch is the model's failure to load
            raise InferenceError(f"cannot read model artifact {ref.model_data_url} of model {ref.name}: {exc}",
                                 original_status=500) from None
        model = _load_artifact(body, ref)
        with self._lock:
            self._models[(ref.model_data_url, etag)] = model
        return model

    # -- endpoints ----------------------------------------------------------------------
    def invoke(self, region: str, ref: ModelRef, body: bytes, content_type: str | None,
               accept: str | None) -> tuple[bytes, str]:
        """Answer one InvokeEndpoint request; returns (body, content type).

        Raises:
            InferenceError: what the linear-learner container would answer with a 4xx/5xx.
        """
        if ref.algorithm == "xgboost":  # the container's own order of checks (xgboost_contract)
            return xgboost_contract.invoke(self.load(region, ref), body, content_type, accept)
        accept = media_type(accept if accept and accept != "*/*" else None, ACCEPT_JSON)
        if accept not in ACCEPTS:
            raise InferenceError(f"linear-learner (localcloud stand-in) cannot answer Accept {accept!r}; "
                                 f"use one of {', '.join(ACCEPTS)}", original_status=406)
        model = self.load(region, ref)
        rows = parse_request(body, content_type, model["feature_dim"])
        return render(linear_model.predict(model, rows), accept), accept

    # -- batch transform ----------------------------------------------------------------
    def start_transform(self, region: str, request: dict[str, Any], ref: ModelRef) -> None:
        """Run a CreateTransformJob request in the background."""
        name = request["TransformJobName"]
        stop = self._stops[(region, name)] = threading.Event()
        thread = threading.Thread(target=self._guard, args=(region, request, ref, stop), daemon=True,
                                  name=f"localcloud-transform-{name}")
        self._threads.add(thread)
        thread.start()

    def stop_transform(self, region: str, name: str) -> bool:
        """Ask a running transform job to stop; False when it is not running."""
        stop = self._stops.get((region, name))
        if stop is None:
            return False
        stop.set()
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Stop running transform jobs and wait for them."""
        for stop in list(self._stops.values()):
            stop.set()
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def _guard(self, region: str, request: dict[str, Any], ref: ModelRef, stop: threading.Event) -> None:
        name = request["TransformJobName"]
        log = _TransformLog(name)
        try:
            self._run_transform(region, request, ref, stop, log)
        except Stopped:
            log.add("Stopped on request")
            self._finish(region, name, "Stopped")
        except (JobFailure, InferenceError) as exc:
            failure = exc if isinstance(exc, JobFailure) else JobFailure(CLIENT_ERROR, str(exc))
            log.add(str(failure))
            self._finish(region, name, "Failed", str(failure))
        except Exception as exc:  # noqa: BLE001 - the job fails, the cloud keeps serving
            log.add(f"{type(exc).__name__}: {exc}")
            self._finish(region, name, "Failed", str(JobFailure(INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")))
        finally:
            self.write_logs(region, "/aws/sagemaker/TransformJobs", log.stream, log.lines)
            self._stops.pop((region, name), None)
            self._threads.discard(threading.current_thread())

    def _finish(self, region: str, name: str, status: str, reason: str | None = None) -> None:
        now = _now()
        fields: dict[str, Any] = {"transform_job_status": status, "transform_end_time": now, "last_modified_time": now}
        if reason:
            fields["failure_reason"] = reason[:FAILURE_REASON_CHARS]
        self.update("transform", region, name, fields)

    def _run_transform(self, region: str, request: dict[str, Any], ref: ModelRef, stop: threading.Event,
                       log: _TransformLog) -> None:
        name = request["TransformJobName"]
        self.update("transform", region, name, {"transform_start_time": _now(), "last_modified_time": _now()})
        source = request["TransformInput"]["DataSource"]["S3DataSource"]
        try:  # first: a model that cannot be served says so, whatever the request's data options
            model = self.load(region, ref)
        except InferenceError as exc:
            raise JobFailure(CLIENT_ERROR, str(exc)) from None
        if ref.algorithm == "xgboost":
            settings = xgboost_contract.XGBoostTransform.read(request)
            log.add(f"Serving model {ref.name} ({ref.model_data_url}) with xgboost {_xgboost_version()}")
        else:
            settings = TransformSettings.read(request)
            log.add(f"Serving model {ref.name} ({ref.model_data_url}) with the {linear_model.NOTE}")
        s3 = self._s3(region, ref)
        objects = list(_list_objects(s3, source["S3Uri"]))
        if not objects:
            raise JobFailure(CLIENT_ERROR, f"no S3 objects found under {source['S3Uri']}")
        out_bucket, out_prefix = split_s3_uri(request["TransformOutput"]["S3OutputPath"])
        total = 0
        for bucket, key, relative in objects:
            if stop.is_set():
                raise Stopped()
            raw = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            if settings.gzip:
                raw = gzip.decompress(raw)
            output, count = settings.transform(model, raw.decode("utf-8", errors="replace"), f"s3://{bucket}/{key}")
            target = "/".join(part for part in (out_prefix.rstrip("/"), relative + ".out") if part)
            s3.put_object(Bucket=out_bucket, Key=target, Body=output, ContentType=settings.accept)
            log.add(f"s3://{bucket}/{key}: {count} records -> s3://{out_bucket}/{target}")
            total += count
        log.add(f"Transformed {total} records from {len(objects)} object(s)")
        self._finish(region, name, "Completed")


class _TransformLog:
    def __init__(self, name: str) -> None:
        self.stream = f"{name}/i-localcloud-{int(time.time())}"
        self.lines: list[str] = []

    def add(self, line: str) -> None:
        self.lines.append(f"{_now():%Y-%m-%dT%H:%M:%S.%f}Z {line}")


def _too_large(ref: ModelRef, exc: Exception) -> InferenceError:
    return InferenceError(f"model {ref.name}: artifact {ref.model_data_url} is too large for localcloud ({exc}; "
                          f"the cap is {model_artifacts.MAX_BYTES} bytes in at most {model_artifacts.MAX_MEMBERS} "
                          "members)", original_status=500)


def _xgboost_version() -> str:
    import xgboost

    return xgboost.__version__


def _load_artifact(body: bytes, ref: ModelRef) -> Any:
    """Read a model.tar.gz (or the bare JSON model) within the size cap: the algorithm's model."""
    try:
        if ref.algorithm == "xgboost":
            return xgboost_contract.load(model_artifacts.xgboost_model(body), ref.name)
        return model_artifacts.load(body)
    except InferenceError:
        raise
    except model_artifacts.ArtifactTooLarge as exc:
        raise _too_large(ref, exc) from None
    except Exception as exc:  # noqa: BLE001 - a bad artifact fails the model, not the cloud
        what = "an XGBoost model" if ref.algorithm == "xgboost" else "a linear-learner model trained by localcloud"
        raise InferenceError(f"model {ref.name}: {ref.model_data_url} is not {what} ({type(exc).__name__}: {exc})",
                             original_status=500) from None


def _list_objects(s3, uri: str) -> Iterator[tuple[str, str, str]]:
    """(bucket, key, output name) for each object under an S3Prefix URI.

    As SageMaker does, the output name is the key after the prefix's last ``/``: ``s3://b/in/``
    gives ``data.csv`` for ``in/data.csv``, ``s3://b/in`` gives ``in/data.csv``.
    """
    bucket, prefix = split_s3_uri(uri)
    base = prefix[:prefix.rfind("/") + 1]
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            if not key.endswith("/"):
                yield bucket, key, key[len(base):]


