"""04's training curve: each epoch's objective loss read from the training job's CloudWatch logs.

linear-learner logs, per epoch of the model it keeps, ``#quality_metric: host=algo-1, epoch=0, train
binary_classification_cross_entropy_objective <loss>=0.595682421003`` (a linear-learner training log as the
SageMaker SDK prints it); the objective names are linear-learner's (``multiclass_cross_entropy_objective``,
``mse_objective``; https://docs.aws.amazon.com/sagemaker/latest/dg/linear-learner-tuning.html). The logs are in
``/aws/sagemaker/TrainingJobs``, one stream per instance, ``<job>/algo-1-<time>``
(https://docs.aws.amazon.com/sagemaker/latest/dg/logging-cloudwatch.html).
"""

from __future__ import annotations

import matplotlib
import pytest

from helpers import training_logs

matplotlib.use("Agg")

AWS_LOG = [
    "[11/24/2020 18:53:56 INFO 140513285547840] #quality_metric: host=algo-1, epoch=0, train "
    "binary_classification_cross_entropy_objective <loss>=0.595682421003",
    '#metrics {"Metrics": {"validation_binary_classification_cross_entropy_objective": {"count": 1}}}',
    "[11/24/2020 18:53:57 INFO 140513285547840] #quality_metric: host=algo-1, epoch=0, validation "
    "binary_classification_cross_entropy_objective <loss>=0.508278604365",
    "[11/24/2020 18:53:57 INFO 140513285547840] #early_stopping_criteria_metric: host=algo-1, epoch=0, "
    "criteria=sampled_accuracy, value=0.943377806704",
    "[11/24/2020 18:53:58 INFO 140513285547840] #quality_metric: host=algo-1, epoch=1, train "
    "binary_classification_cross_entropy_objective <loss>=0.41",
    "[11/24/2020 18:54:10 INFO 140513285547840] #quality_metric: host=algo-1, train binary_classification_accuracy "
    "<score>=0.98",
]


class TestParse:
    def test_aws_lines_make_one_row_per_epoch_and_channel(self):
        """Real linear-learner lines: the per-epoch losses only (not the final metrics or #metrics JSON)."""
        table = training_logs.parse_epochs(AWS_LOG)
        assert table.to_dict("records") == [
            {"epoch": 0, "channel": "train", "metric": "binary_classification_cross_entropy_objective",
             "value": 0.595682421003},
            {"epoch": 0, "channel": "validation", "metric": "binary_classification_cross_entropy_objective",
             "value": 0.508278604365},
            {"epoch": 1, "channel": "train", "metric": "binary_classification_cross_entropy_objective", "value": 0.41}]

    def test_the_curve_plots_a_line_per_channel(self):
        figure = training_logs.plot_epochs(training_logs.parse_epochs(AWS_LOG))
        assert [line.get_label() for line in figure.axes[0].get_lines()] == [
            "train: binary_classification_cross_entropy_objective",
            "validation: binary_classification_cross_entropy_objective"]


class TestReadFromCloudWatch:
    def test_reads_every_page_of_the_jobs_stream(self, aws_kit):
        """
        1. describe_log_streams names the job's stream; get_log_events answers two pages, then the same token
           with no events (as CloudWatch Logs ends a stream read from its head).
        2. The table has the epochs of both pages.
        """
        kit, stub = aws_kit
        logs = stub("logs")
        group, stream = training_logs.LOG_GROUP, "job-1/algo-1-1700000000"
        logs.add_response("describe_log_streams", {"logStreams": [{"logStreamName": stream}]},
                          {"logGroupName": group, "logStreamNamePrefix": "job-1/"})
        pages = [(AWS_LOG[:3], "f/1"), (AWS_LOG[3:], "f/2"), ([], "f/2")]
        token = None
        for messages, forward in pages:
            request = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
            if token:
                request["nextToken"] = token
            logs.add_response("get_log_events", {"events": [{"timestamp": 1, "message": m} for m in messages],
                                                 "nextForwardToken": forward, "nextBackwardToken": "b"}, request)
            token = forward
        table = training_logs.epoch_metrics(kit, "job-1")
        assert list(table["epoch"]) == [0, 0, 1]
        logs.assert_no_pending_responses()

    def test_no_epoch_lines_names_the_log_group(self, aws_kit):
        kit, stub = aws_kit
        stub("logs").add_response("describe_log_streams", {"logStreams": []},
                                  {"logGroupName": training_logs.LOG_GROUP, "logStreamNamePrefix": "job-2/"})
        with pytest.raises(LookupError, match=r"training job job-2 \(/aws/sagemaker/TrainingJobs"):
            training_logs.epoch_metrics(kit, "job-2")
