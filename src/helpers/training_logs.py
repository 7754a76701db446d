"""A training job's per-epoch metrics, read from its CloudWatch logs, and their curve.

linear-learner logs each epoch's objective loss of the model it keeps, on the train channel (and validation,
when the job has one), to the job's log streams in ``/aws/sagemaker/TrainingJobs`` (``<job>/algo-1-<time>``):

    #quality_metric: host=algo-1, epoch=0, train multiclass_cross_entropy_objective <loss>=0.4521

DescribeTrainingJob's ``FinalMetricDataList`` keeps only the last values; the logs keep the curve. The same calls
work on AWS and on the local cloud (whose stand-in logs these lines too):

    aws logs describe-log-streams --log-group-name /aws/sagemaker/TrainingJobs --log-stream-name-prefix JOB/
    aws logs get-log-events --log-group-name /aws/sagemaker/TrainingJobs --log-stream-name STREAM --start-from-head
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from helpers.config import Kit

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
_EPOCH_LINE = re.compile(r"#quality_metric: host=(?P<host>[^,\s]+), epoch=(?P<epoch>\d+), "
                         r"(?P<channel>train|validation) (?P<metric>\S+) <loss>=(?P<value>\S+)")


def _messages(kit: Kit, job_name: str) -> list[str]:
    """Every log message of the job's streams, oldest first within a stream."""
    logs = kit.client("logs")
    streams = [s["logStreamName"] for page in logs.get_paginator("describe_log_streams").paginate(
        logGroupName=LOG_GROUP, logStreamNamePrefix=f"{job_name}/") for s in page["logStreams"]]
    messages: list[str] = []
    for stream in sorted(streams):
        token = None
        while True:  # get_log_events answers its last page again with the same token
            request: dict[str, Any] = {"logGroupName": LOG_GROUP, "logStreamName": stream, "startFromHead": True}
            if token:
                request["nextToken"] = token
            page = logs.get_log_events(**request)
            messages += [event["message"] for event in page["events"]]
            if not page["events"] or page.get("nextForwardToken") in (None, token):
                break
            token = page["nextForwardToken"]
    return messages


def parse_epochs(messages: list[str]) -> pd.DataFrame:
    """The per-epoch ``#quality_metric`` lines as a table: epoch, channel, metric, value (the first host's)."""
    rows = [m.groupdict() for m in map(_EPOCH_LINE.search, messages) if m]
    table = pd.DataFrame(rows, columns=["host", "epoch", "channel", "metric", "value"])
    if table.empty:
        return table.drop(columns="host")
    table = table[table["host"] == table["host"].iloc[0]].drop(columns="host")
    return table.astype({"epoch": int, "value": float}).reset_index(drop=True)


def epoch_metrics(kit: Kit, job_name: str) -> pd.DataFrame:
    """The training job's per-epoch objective loss, from its CloudWatch logs.

    Raises:
        LookupError: the job's logs hold no per-epoch line (named with the log group, for the console).
    """
    table = parse_epochs(_messages(kit, job_name))
    if table.empty:
        raise LookupError(f"no per-epoch #quality_metric line in the logs of training job {job_name} "
                          f"({LOG_GROUP}, streams {job_name}/…)")
    return table


def plot_epochs(table: pd.DataFrame, title: str = "objective loss per epoch"):
    """The training curve: each channel's objective loss by epoch (a matplotlib figure)."""
    import matplotlib.pyplot as plt  # ~0.4 s: only the notebook that plots pays it

    figure, axes = plt.subplots(figsize=(5.6, 3.4))
    for (channel, metric), rows in table.groupby(["channel", "metric"], sort=True):
        axes.plot(rows["epoch"] + 1, rows["value"], marker="o", markersize=3, label=f"{channel}: {metric}")
    axes.set_xlabel("epoch")
    axes.set_ylabel("loss")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    return figure
