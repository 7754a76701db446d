"""Find and remove everything the kit made, by its tag and names: nothing is remembered between runs.

A resource is the kit's when its name starts with the prefix **and** it carries the tag
``pipeline-dreams:kit = <prefix>`` (logs carry no tags: a Lambda function's and an endpoint's log
group, and the kit's jobs' streams in SageMaker's shared log groups, are found by name). Removal
runs in dependency order and is safe to repeat. What AWS does not let anyone delete (SageMaker's
job records) is listed by :func:`kept`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
from botocore.exceptions import ClientError

from helpers.config import TAG_KIT, Kit

# Where SageMaker writes job logs: one stream per job (and host) in each, named after the job.
JOB_LOG_GROUPS = ("/aws/sagemaker/ProcessingJobs", "/aws/sagemaker/TrainingJobs", "/aws/sagemaker/TransformJobs")


@dataclass(frozen=True)
class Resource:
    service: str
    kind: str
    name: str
    arn: str = ""


def _tags(pairs: list[dict[str, str]] | dict[str, str] | None) -> dict[str, str]:
    if isinstance(pairs, dict):
        return pairs
    return {p.get("Key", p.get("key")): p.get("Value", p.get("value")) for p in pairs or []}


def _paged(client, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(key, [])


def find(kit: Kit) -> list[Resource]:
    """Every kit resource that exists now, in the order they must be removed."""
    prefix, mine = kit.settings.prefix, (lambda tags: _tags(tags).get(TAG_KIT) == kit.settings.prefix)
    sm, found = kit.client("sagemaker"), []
    for kind, operation, key, name_key, arn_key in (
            ("endpoint", "list_endpoints", "Endpoints", "EndpointName", "EndpointArn"),
            ("endpoint config", "list_endpoint_configs", "EndpointConfigs", "EndpointConfigName", "EndpointConfigArn"),
            ("model", "list_models", "Models", "ModelName", "ModelArn")):
        for item in _paged(sm, operation, key, NameContains=prefix):
            if item[name_key].startswith(prefix) and mine(sm.list_tags(ResourceArn=item[arn_key]).get("Tags")):
                found.append(Resource("sagemaker", kind, item[name_key], item[arn_key]))
    events = kit.client("events")
    for rule in events.list_rules(NamePrefix=prefix).get("Rules", []):
        if mine(events.list_tags_for_resource(ResourceARN=rule["Arn"]).get("Tags")):
            found.append(Resource("events", "rule", rule["Name"], rule["Arn"]))
    sfn = kit.client("stepfunctions")
    for machine in _paged(sfn, "list_state_machines", "stateMachines"):
        if machine["name"].startswith(prefix) and mine(
                sfn.list_tags_for_resource(resourceArn=machine["stateMachineArn"]).get("tags")):
            found.append(Resource("stepfunctions", "state machine", machine["name"], machine["stateMachineArn"]))
    lam, logs = kit.client("lambda"), kit.client("logs")
    for function in _paged(lam, "list_functions", "Functions"):
        if function["FunctionName"].startswith(prefix) and mine(lam.list_tags(Resource=function["FunctionArn"]).get("Tags")):
            found.append(Resource("lambda", "function", function["FunctionName"], function["FunctionArn"]))
    for group_prefix in (f"/aws/lambda/{prefix}-", f"/aws/sagemaker/Endpoints/{prefix}-"):
        for group in _paged(logs, "describe_log_groups", "logGroups", logGroupNamePrefix=group_prefix):
            found.append(Resource("logs", "log group", group["logGroupName"]))
    for group in JOB_LOG_GROUPS:  # shared by every job of the account: only the kit's jobs' streams go
        try:
            streams = list(_paged(logs, "describe_log_streams", "logStreams", logGroupName=group,
                                  logStreamNamePrefix=f"{prefix}-"))
            for stream in sorted(streams, key=lambda s: s.get("creationTime", 0)):  # the order the jobs ran in
                found.append(Resource("logs", "log stream", stream["logStreamName"], group))
        except logs.exceptions.ResourceNotFoundException:
            pass
    ecr = kit.client("ecr")
    for repository in _paged(ecr, "describe_repositories", "repositories"):
        if repository["repositoryName"].startswith(f"{prefix}/") and mine(
                ecr.list_tags_for_resource(resourceArn=repository["repositoryArn"]).get("tags")):
            found.append(Resource("ecr", "repository", repository["repositoryName"], repository["repositoryArn"]))
    iam = kit.client("iam")
    for role in _paged(iam, "list_roles", "Roles"):
        if role["RoleName"].startswith(prefix) and mine(iam.list_role_tags(RoleName=role["RoleName"]).get("Tags")):
            found.append(Resource("iam", "role", role["RoleName"], role["Arn"]))
    s3 = kit.client("s3")
    for bucket in s3.list_buckets().get("Buckets", []):
        if bucket["Name"].startswith(prefix) and mine(_bucket_tags(s3, bucket["Name"])):
            found.append(Resource("s3", "bucket", bucket["Name"]))
    order = list(dict.fromkeys(r.kind for r in found))  # removal order (dependencies first); by name within a kind
    # by name within a kind; log streams stay in the order their jobs ran (their names end in hashes and times)
    return sorted(found, key=lambda r: (order.index(r.kind), "" if r.kind == "log stream" else r.name))


def _bucket_tags(s3, name: str) -> list[dict[str, str]]:
    try:
        return s3.get_bucket_tagging(Bucket=name)["TagSet"]
    except ClientError:
        return []


def _remove(kit: Kit, resource: Resource) -> None:
    client = kit.client(resource.service)
    removers: dict[str, Callable[[], Any]] = {
        "endpoint": lambda: client.delete_endpoint(EndpointName=resource.name),
        "endpoint config": lambda: client.delete_endpoint_config(EndpointConfigName=resource.name),
        "model": lambda: client.delete_model(ModelName=resource.name),
        "rule": lambda: _remove_rule(client, resource.name),
        "state machine": lambda: client.delete_state_machine(stateMachineArn=resource.arn),
        "function": lambda: client.delete_function(FunctionName=resource.name),
        "log group": lambda: client.delete_log_group(logGroupName=resource.name),
        "log stream": lambda: client.delete_log_stream(logGroupName=resource.arn, logStreamName=resource.name),
        "repository": lambda: client.delete_repository(repositoryName=resource.name, force=True),
        "role": lambda: _remove_role(client, resource.name),
        "bucket": lambda: _remove_bucket(client, resource.name),
    }
    removers[resource.kind]()


def _remove_rule(events, name: str) -> None:
    targets = [t["Id"] for t in events.list_targets_by_rule(Rule=name).get("Targets", [])]
    if targets:
        events.remove_targets(Rule=name, Ids=targets)
    events.delete_rule(Name=name)


def _remove_role(iam, name: str) -> None:
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=name, PolicyName=policy)
    for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
    iam.delete_role(RoleName=name)


def _remove_bucket(s3, name: str) -> None:
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
        doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                  for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        for start in range(0, len(doomed), 1000):
            s3.delete_objects(Bucket=name, Delete={"Objects": doomed[start:start + 1000], "Quiet": True})
    s3.delete_bucket(Bucket=name)


def clean(kit: Kit, dry_run: bool = False) -> pd.DataFrame:
    """Remove every kit resource; return what was found and what became of it.

    SageMaker jobs cannot be deleted (and cost nothing once ended); running ones are stopped.
    """
    _stop_running_jobs(kit, dry_run)
    rows = []
    for resource in find(kit):
        outcome = "would remove" if dry_run else "removed"
        if not dry_run:
            try:
                _remove(kit, resource)
            except ClientError as error:
                outcome = f"FAILED: {error.response['Error'].get('Message', error)}"
        rows.append({"service": resource.service, "kind": resource.kind, "name": resource.name, "result": outcome})
    return pd.DataFrame(rows, columns=["service", "kind", "name", "result"])


def _stop_running_jobs(kit: Kit, dry_run: bool) -> None:
    sm = kit.client("sagemaker")
    for operation, key, name_key, stop, parameter in (
            ("list_processing_jobs", "ProcessingJobSummaries", "ProcessingJobName", "stop_processing_job", "ProcessingJobName"),
            ("list_training_jobs", "TrainingJobSummaries", "TrainingJobName", "stop_training_job", "TrainingJobName"),
            ("list_transform_jobs", "TransformJobSummaries", "TransformJobName", "stop_transform_job", "TransformJobName")):
        for job in _paged(sm, operation, key, NameContains=kit.settings.prefix, StatusEquals="InProgress"):
            print(f"{'would stop' if dry_run else 'stopping'} running job {job[name_key]}")
            if not dry_run:
                getattr(sm, stop)(**{parameter: job[name_key]})


def by_kind(resources: list[Resource] | pd.DataFrame, names_shown: int = 3) -> pd.DataFrame:
    """One row per service and kind: how many, and the first few names (a series leaves ~45 resources).

    Args:
        resources: :func:`find`'s list, or :func:`clean`'s table (its ``result`` column is counted too).
    """
    table = resources if isinstance(resources, pd.DataFrame) else pd.DataFrame(
        [vars(r) for r in resources], columns=["service", "kind", "name", "arn"])
    rows = []
    for (service, kind), group in table.groupby(["service", "kind"], sort=False):
        names = list(group["name"])
        row = {"service": service, "kind": kind, "count": len(names),
               "names": ", ".join(names[:names_shown]) + (f", … ({len(names) - names_shown} more)"
                                                          if len(names) > names_shown else "")}
        if "result" in group:
            row["result"] = "; ".join(f"{n} {r}" for r, n in group["result"].value_counts().items())
        rows.append(row)
    return pd.DataFrame(rows)


def remaining(kit: Kit) -> pd.DataFrame:
    """What is left that could be removed (an empty table after a clean)."""
    rows = [{"service": r.service, "kind": r.kind, "name": r.name} for r in find(kit)]
    return pd.DataFrame(rows, columns=["service", "kind", "name"])


def kept(kit: Kit) -> pd.DataFrame:
    """The kit's SageMaker job records: AWS keeps them for good (there is no Delete*Job), at no cost once ended.

    Their names stay taken in the account and region, which is why a re-run needs new job names.
    """
    sm, rows = kit.client("sagemaker"), []
    for kind, operation, key, name_key, status_key in (
            ("processing job", "list_processing_jobs", "ProcessingJobSummaries", "ProcessingJobName", "ProcessingJobStatus"),
            ("training job", "list_training_jobs", "TrainingJobSummaries", "TrainingJobName", "TrainingJobStatus"),
            ("transform job", "list_transform_jobs", "TransformJobSummaries", "TransformJobName", "TransformJobStatus")):
        for job in _paged(sm, operation, key, NameContains=kit.settings.prefix):
            if job[name_key].startswith(f"{kit.settings.prefix}-"):
                rows.append({"service": "sagemaker", "kind": kind, "name": job[name_key], "status": job[status_key]})
    return pd.DataFrame(rows, columns=["service", "kind", "name", "status"])
