"""The order in which the local cloud's jobs start (localcloud.sagemaker.jobs.startup_order), without timing.

On AWS a job's instance takes minutes to launch while a state machine's quick Lambda steps take seconds;
once up, a training job downloads its data first (Starting → Downloading → Training → Uploading,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_SecondaryStatusTransition.html) while a
processing job pulls its image and runs before its outputs are uploaded at the end (EndOfJob,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProcessingS3Output.html). The end-to-end
proof (the article chain's training job fails on missing data, every run) is
tests/series/test_series_e2e.py::TestSeries::test_the_article_chain_raced_and_the_fixed_pipeline_did_not.
"""

from __future__ import annotations

import threading
import time

from localcloud.sagemaker.jobs.startup_order import InstanceStarts


def _run(target, *args) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


class TestInstancesStartWhenNoExecutionRunsQuickSteps:
    """A job's instance starts only once no execution is in a quick step."""

    def test_launch_waits_for_the_chain_then_starts(self):
        """
        1. While busy() is True, launched() does not return.
        2. Once busy() turns False it returns at once.
        """
        busy = threading.Event()
        busy.set()
        starts = InstanceStarts(busy=busy.is_set)
        done = threading.Event()
        thread = _run(lambda: (starts.launched(), done.set()))
        assert not done.wait(0.3)
        busy.clear()
        assert done.wait(5)
        thread.join(5)

    def test_nothing_busy_costs_nothing(self):
        """
        1. With no execution at all, launched() and before_container() return within milliseconds.
        """
        starts = InstanceStarts()
        began = time.monotonic()
        starts.launched()
        starts.before_container()
        assert time.monotonic() - began < 0.05

    def test_a_stop_request_ends_the_wait(self):
        """
        1. A job stopped while its instance waits returns from launched() (the job then turns Stopped).
        """
        starts = InstanceStarts(busy=lambda: True)
        stop = threading.Event()
        done = threading.Event()
        _run(lambda: (starts.launched(stop), done.set()))
        assert not done.wait(0.2)
        stop.set()
        assert done.wait(5)

    def test_the_wait_is_capped(self):
        """
        1. An execution that never stops being busy (a Lambda waiting for its own job) holds a job at most max_wait.
        """
        starts = InstanceStarts(busy=lambda: True, max_wait=0.2)
        began = time.monotonic()
        starts.launched()
        assert 0.2 <= time.monotonic() - began < 2


class TestTrainingDataBeforeProcessingContainers:
    """A processing container waits for the training jobs created before it to have their data."""

    def test_processing_waits_for_an_earlier_training_download(self):
        """
        1. A training job is created (not yet downloaded); a processing job reaches its container.
        2. The processing job waits until the training job reports its download done, then goes on.
        """
        starts = InstanceStarts()
        training = object()
        starts.created(training, "training")
        order: list[str] = []
        thread = _run(lambda: (starts.before_container(), order.append("container")))
        time.sleep(0.2)
        order.append("downloaded")
        starts.downloaded(training)
        thread.join(5)
        assert order == ["downloaded", "container"]

    def test_later_training_jobs_and_processing_jobs_do_not_hold_a_container(self):
        """
        1. A processing job snapshots the training jobs pending when it reaches its container.
        2. A training job created after that, and other processing jobs, do not hold it.
        """
        starts = InstanceStarts()
        starts.created(object(), "processing")
        done = threading.Event()
        thread = _run(lambda: (starts.before_container(), done.set()))
        assert done.wait(1)
        thread.join(1)
        starts.created(object(), "training")  # too late to matter for the container above
        assert done.is_set()

    def test_a_training_job_that_fails_releases_the_container(self):
        """
        1. A training job is created and ends (failed) without a download; downloaded() is called for it.
        2. The waiting processing job goes on.
        """
        starts = InstanceStarts()
        training = object()
        starts.created(training, "training")
        done = threading.Event()
        _run(lambda: (starts.before_container(), done.set()))
        assert not done.wait(0.2)
        starts.downloaded(training)
        starts.downloaded(training)  # twice (after the download and when the job ends) is harmless
        assert done.wait(5)
