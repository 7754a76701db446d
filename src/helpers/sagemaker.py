"""SageMaker: image URIs, waiting for jobs with a progress bar, and readable job summaries."""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.calls import showable
from helpers.config import Kit, without_user_aws_settings
from helpers.progress import poll, strip_metadata

_JOBS = {  # kind -> (describe method, name parameter, status field)
    "processing": ("describe_processing_job", "ProcessingJobName", "ProcessingJobStatus"),
    "training": ("describe_training_job", "TrainingJobName", "TrainingJobStatus"),
}
_TRAINING_STEPS = ["Starting", "Downloading", "Training", "Uploading", "Completed"]


class JobFailed(RuntimeError):
    """A job ended Failed or Stopped; the message carries SageMaker's FailureReason."""

    def __init__(self, kind: str, name: str, status: str, reason: str) -> None:
        self.kind, self.name, self.status, self.reason = kind, name, status, reason
        super().__init__(f"{kind} job {name} ended {status}: {reason}")


def image_uri(algorithm: str, region: str, version: str = "1") -> str:
    """The region's image of a built-in algorithm, looked up in the SageMaker Python SDK's table.

    The account that hosts linear-learner differs per region; the SDK ships the table
    (``sagemaker/core/image_uri_config/<algorithm>.json``), so nothing is hard-coded here and the
    lookup works offline. A plain algorithm (one registry per region, one repository, tagged with
    its version, as linear-learner is) is read from that file directly, as
    ``sagemaker.core.image_uris.retrieve`` reads it, without importing the SDK (1-2 s per kernel);
    anything else, and every error message, comes from the SDK itself.
    """
    uri = _plain_image_uri(algorithm, region, version)
    if uri:
        return uri
    # The SDK builds a default boto3 session when imported, which reads AWS_PROFILE and ~/.aws (a
    # profile that exists only on the learner's laptop broke a local run); the lookup needs neither.
    with without_user_aws_settings():
        from sagemaker.core import image_uris  # 1-2 s import: only when needed

        return image_uris.retrieve(algorithm, region, version=version)


def _plain_image_uri(algorithm: str, region: str, version: str) -> str | None:
    """``<registry>.dkr.<ECR hostname>/<repository>:<version>`` from the SDK's table; None: ask the SDK."""
    config = _sdk_image_table(algorithm)
    if not config or "training" not in config.get("scope", []) or set(config) - {"scope", "versions"}:
        return None
    entry = config["versions"].get(version)
    if not isinstance(entry, dict) or set(entry) != {"registries", "repository"}:
        return None
    registry = entry["registries"].get(region)
    endpoint = _ecr_endpoints().construct_endpoint("ecr", region) if registry else None
    if not endpoint:
        return None
    return f"{registry}.dkr.{endpoint['hostname']}/{entry['repository']}:{version}"


@functools.cache
def _sdk_image_table(algorithm: str) -> dict[str, Any] | None:
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", algorithm):
        return None
    spec = importlib.util.find_spec("sagemaker")  # a namespace package: finding it imports nothing
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "core" / "image_uri_config" / f"{algorithm}.json"
        if path.is_file():
            return json.loads(path.read_text())
    return None


@functools.cache
def _ecr_endpoints() -> Any:
    """botocore's endpoint table, as the SDK uses it for the ECR hostname (``.amazonaws.com.cn`` in China)."""
    import botocore.loaders
    import botocore.regions

    return botocore.regions.EndpointResolver(botocore.loaders.create_loader().load_data("endpoints"))


def describe_job(kit: Kit, kind: str, name: str) -> dict[str, Any]:
    method, parameter, _ = _JOBS[kind]
    return strip_metadata(getattr(kit.client("sagemaker"), method)(**{parameter: name}))


def wait_for_job(kit: Kit, kind: str, name: str, timeout: float = 3600) -> dict[str, Any]:
    """Wait for a processing or training job to end; return its description.

    Raises:
        JobFailed: the job ended Failed or Stopped.
    """
    _, _, status_field = _JOBS[kind]
    result: dict[str, Any] = {}
    note = replacement_note(kit, kind, name)
    if note:
        print(note)

    def check() -> tuple[bool, int, str]:
        result.update(describe_job(kit, kind, name))
        status = result[status_field]
        if kind == "training":
            secondary = result.get("SecondaryStatus", status)
            step = _TRAINING_STEPS.index(secondary) + 1 if secondary in _TRAINING_STEPS else 1
            return status not in ("InProgress", "Stopping"), step if status != "Completed" else 5, secondary
        return status not in ("InProgress", "Stopping"), 2 if status == "Completed" else 1, status

    poll(check, f"{kind} job {name}", total=5 if kind == "training" else 2, timeout=timeout)
    if result[status_field] != "Completed":
        raise JobFailed(kind, name, result[status_field], result.get("FailureReason", "(no reason given)"))
    return result


def job_summary(job: dict[str, Any]) -> pd.DataFrame:
    """One job's name, status, image and S3 locations as a two-column table."""
    if "ProcessingJobName" in job:
        rows = {"job": job["ProcessingJobName"], "status": job["ProcessingJobStatus"],
                "image": job["AppSpecification"]["ImageUri"].split("/", 1)[-1]}
        rows.update({f"input {i['InputName']}": i["S3Input"]["S3Uri"] for i in job.get("ProcessingInputs", [])})
        rows.update({f"output {o['OutputName']}": o["S3Output"]["S3Uri"]
                     for o in job.get("ProcessingOutputConfig", {}).get("Outputs", [])})
    else:
        rows = {"job": job["TrainingJobName"], "status": job["TrainingJobStatus"],
                "image": job["AlgorithmSpecification"]["TrainingImage"].split("/", 1)[-1],
                "model": job.get("ModelArtifacts", {}).get("S3ModelArtifacts", "")}
        rows.update({f"hyperparameter {k}": v for k, v in sorted(job.get("HyperParameters", {}).items())})
    return pd.DataFrame({"value": rows})


def metrics_table(job: dict[str, Any]) -> pd.DataFrame:
    """A training job's final metrics, rounded for reading."""
    metrics = job.get("FinalMetricDataList") or job.get("metrics") or []  # Describe output, or the pipeline's
    rows = [{"metric": m["MetricName"], "value": round(m["Value"], 4)} for m in metrics]
    return pd.DataFrame(rows, columns=["metric", "value"]).sort_values("metric", ignore_index=True)


_LIST = {"processing": ("list_processing_jobs", "ProcessingJobSummaries", "ProcessingJobName"),
         "training": ("list_training_jobs", "TrainingJobSummaries", "TrainingJobName")}
# What a learner changes in a job's request, shown when a new job replaces an earlier one of the run.
_COMPARED = {"processing": {"image": ("AppSpecification", "ImageUri"),
                            "arguments": ("AppSpecification", "ContainerArguments"),
                            "input": ("ProcessingInputs",),
                            "instance type": ("ProcessingResources", "ClusterConfig", "InstanceType")},
             "training": {"image": ("AlgorithmSpecification", "TrainingImage"),
                          "input": ("InputDataConfig",),
                          "instance type": ("ResourceConfig", "InstanceType")}}


def jobs_named(kit: Kit, kind: str, base: str) -> list[dict[str, Any]]:
    """Summaries of the jobs whose name is ``base`` or ``base-<hash>``, newest first.

    The start_* Lambdas keep 56 characters of ``base`` before the hash (SageMaker allows 63).
    """
    method, key, name_field = _LIST[kind]
    client = kit.client("sagemaker")
    hashed = base[:56].strip("-")
    found = []
    for page in client.get_paginator(method).paginate(NameContains=hashed):
        found += [j for j in page[key] if j[name_field] == base
                  or re.fullmatch(rf"{re.escape(hashed)}-[0-9a-f]{{6}}", j[name_field])]
    return sorted(found, key=lambda j: j["CreationTime"], reverse=True)


def run_jobs(kit: Kit, run_id: str) -> dict[str, dict[str, Any]]:
    """The run's newest preprocessing and training jobs that exist, by kind."""
    bases = {"processing": kit.names.job("preprocess", run_id), "training": kit.names.job("train", run_id)}
    jobs = {}
    for kind, base in bases.items():
        found = jobs_named(kit, kind, base)
        if found:
            jobs[kind] = describe_job(kit, kind, found[0][_LIST[kind][2]])
    return jobs


def _differences(kind: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between two jobs' requests, in a learner's words (``epochs 15 → 2``)."""
    changes = []
    if kind == "training":
        before, after = old.get("HyperParameters", {}), new.get("HyperParameters", {})
        changes += [f"{k} {before.get(k, '(unset)')} → {after.get(k, '(unset)')}"
                    for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]
    for label, path in _COMPARED[kind].items():
        a, b = old, new
        for step in path:
            a, b = (a or {}).get(step), (b or {}).get(step)
        if a != b:
            changes.append(f"{label} changed")
    return changes or ["same settings, input data written again (re-run upstream, or made again after cleanup)"]


def replacement_note(kit: Kit, kind: str, name: str) -> str | None:
    """One line saying which earlier job of the run ``name`` replaces and what differs; None for the first.

    Only jobs made before ``name`` count: a job found again (the start_* Lambda said "reusing it") replaces none.
    """
    base = name[:-7] if len(name) > 7 and name[-7] == "-" else name
    jobs = jobs_named(kit, kind, base)
    this = next((j for j in jobs if j[_LIST[kind][2]] == name), None)
    earlier = [j for j in jobs if j[_LIST[kind][2]] != name
               and (this is None or j["CreationTime"] < this["CreationTime"])]
    if not earlier:
        return None
    previous = earlier[0][_LIST[kind][2]]
    changes = _differences(kind, describe_job(kit, kind, previous), describe_job(kit, kind, name))
    return f"{kind} job {name} replaces {previous}: {'; '.join(changes)}"


def jobs_of_run(kit: Kit, run_id: str, timeout: float = 3600) -> pd.DataFrame:
    """Wait until the run's jobs have ended, then tabulate their status and failure reason."""
    def check() -> tuple[bool, int, str]:
        jobs = run_jobs(kit, run_id)
        running = [k for k, j in jobs.items() if j[_JOBS[k][2]] in ("InProgress", "Stopping")]
        return not running, len(jobs) - len(running), "running: " + ", ".join(running) if running else "ended"

    poll(check, f"jobs of run {run_id}", total=2, timeout=timeout, counting="{done} of {total} jobs ended")
    rows = [{"job": job.get("ProcessingJobName") or job.get("TrainingJobName"), "kind": kind,
             "status": job[_JOBS[kind][2]], "failure reason": job.get("FailureReason", "")[:160]}
            for kind, job in run_jobs(kit, run_id).items()]
    return pd.DataFrame(rows, columns=["job", "kind", "status", "failure reason"])


def started_before_finished(kit: Kit, run_id: str) -> bool:
    """True when the run's training job was created before its preprocessing job had ended."""
    jobs = run_jobs(kit, run_id)
    return jobs["training"]["CreationTime"] < jobs["processing"]["ProcessingEndTime"]


@showable
def predict(kit: Kit, endpoint: str, features: Any) -> list[dict[str, Any]]:
    """Ask a deployed endpoint about feature rows (no label column); linear-learner's JSON records."""

    rows = pd.DataFrame(features).to_csv(header=False, index=False)
    response = kit.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint, ContentType="text/csv", Accept="application/json", Body=rows.encode())
    return json.loads(response["Body"].read())["predictions"]


def endpoint_status(kit: Kit, endpoint: str) -> pd.DataFrame:
    """An endpoint's status and the model behind it, as a table."""
    client = kit.client("sagemaker")
    described = client.describe_endpoint(EndpointName=endpoint)
    config = client.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    variant = config["ProductionVariants"][0]
    return pd.DataFrame({"value": {"endpoint": endpoint, "status": described["EndpointStatus"],
                                   "config": described["EndpointConfigName"], "model": variant["ModelName"],
                                   "instance type": variant["InstanceType"]}})
