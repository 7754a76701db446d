"""Bad input through the whole system: served file → fetch Lambda → processing job → state machine's Catch.

Each bad file of tests/events/faults_bad_data.json is served on 127.0.0.1 and given to the kit's pipeline
(deployed by the same helpers notebooks 01-05 use) as ``data_url``. All the executions start together and
are awaited once for the module; each test then reads what one of them left behind.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from faults_support import Deployed, FileServer, bad_file, load_fixture

import helpers

CASES = load_fixture("faults_bad_data.json")["cases"]
PREPROCESS_CASES = sorted(name for name, case in CASES.items() if case["error"] == "PreprocessFailed")


@pytest.fixture(scope="module")
def bad_runs(pipeline: Deployed, files: FileServer) -> dict[str, dict[str, Any]]:
    """Start one execution per bad file at the same time; wait for all; return what each case needs."""
    runs = {}
    for number, (name, case) in enumerate(sorted(CASES.items())):
        body = bad_file(case)
        run_id = f"bad-{number}-{name.replace('_', '-')}"[:24].rstrip("-")
        url = files.put(f"{name}/iris.data", body)  # raw objects are named after the file: iris.data
        runs[name] = {"run_id": run_id, "body": body, "url": url,
                      "arn": pipeline.start(run_id, data_url=url)}
    for run in runs.values():
        run["execution"] = pipeline.wait(run["arn"])
    return runs


class TestBadDataFailsThePipelineWithTheReason:
    """A bad file ends the execution FAILED at PreprocessFailed, with the row and field in the cause."""

    @pytest.mark.parametrize("name", PREPROCESS_CASES)
    def test_execution_failed_naming_the_row_and_field(self, name, pipeline, bad_runs):
        """
        1. Serve the bad file; start the pipeline on it (module fixture).
        2. The execution is FAILED with the error PreprocessFailed (the Preprocess state's Catch).
        3. ``helpers.stepfunctions.failure_cause`` gives preprocess.py's message: the row and field, or the problem.
        4. ``ExecutionFailed`` (what notebooks and the series runner print) carries the same readable cause,
           not the whole job description.
        """
        execution = bad_runs[name]["execution"]
        assert execution["status"] == "FAILED", execution
        assert execution["error"] == "PreprocessFailed"
        cause = helpers.stepfunctions.failure_cause(execution)
        for phrase in CASES[name]["expect"]:
            assert phrase in cause, f"{phrase!r} not in {cause!r}"
        message = str(helpers.stepfunctions.ExecutionFailed(execution))
        assert message == f"execution {bad_runs[name]['run_id']} FAILED: PreprocessFailed: {cause}"
        assert '"ProcessingJobArn"' not in message

    @pytest.mark.parametrize("name", PREPROCESS_CASES)
    def test_processing_job_failed_with_that_reason(self, name, pipeline, bad_runs):
        """
        1. Describe the run's processing job (named <prefix>-preprocess-<run id>, as the kit names it).
        2. It is Failed; its FailureReason is the execution's cause and says preprocess.py exited 1.
        3. Its log in CloudWatch Logs has the same message.
        """
        run_id = bad_runs[name]["run_id"]
        job = pipeline.kit.client("sagemaker").describe_processing_job(
            ProcessingJobName=pipeline.job_name("preprocess", run_id))
        assert job["ProcessingJobStatus"] == "Failed"
        assert job["FailureReason"] == helpers.stepfunctions.failure_cause(bad_runs[name]["execution"])
        assert job["FailureReason"].startswith("AlgorithmError: exit code 1: preprocess: error: ")
        logs = pipeline.kit.client("logs")
        messages = [e["message"] for e in logs.filter_log_events(
            logGroupName="/aws/sagemaker/ProcessingJobs", logStreamNamePrefix=job["ProcessingJobName"] + "/")["events"]]
        assert any(CASES[name]["expect"][0] in message for message in messages), messages

    @pytest.mark.parametrize("name", PREPROCESS_CASES)
    def test_raw_data_untouched_and_no_partial_outputs(self, name, pipeline, bad_runs):
        """
        1. The raw object under <run_prefix>/raw/ is byte for byte the file that was served.
        2. Nothing exists under <run_prefix>/processed/ (no train/test/meta for a next step to pick up),
           nor under <run_prefix>/model/; the run has no training job.
        """
        run_id = bad_runs[name]["run_id"]
        s3 = pipeline.kit.client("s3")
        raw = s3.get_object(Bucket=pipeline.bucket, Key=f"runs/{run_id}/raw/iris.data")["Body"].read()
        assert raw == bad_runs[name]["body"]
        assert pipeline.keys(f"runs/{run_id}/") == [f"runs/{run_id}/raw/iris.data"]
        sm = pipeline.kit.client("sagemaker")
        assert sm.list_training_jobs(NameContains=pipeline.job_name("train", run_id))["TrainingJobSummaries"] == []


class TestEmptyDownloadFailsAtIngest:
    """An empty file never reaches preprocessing: the fetch Lambda refuses it."""

    def test_ingest_failed_and_nothing_written(self, pipeline, bad_runs):
        """
        1. Serve an empty file; start the pipeline on it (module fixture).
        2. FAILED with IngestFailed; the cause names the URL and says nothing was written.
        3. The fetch Lambda ran once (a ValueError is not retried); the run has no object at all in S3.
        """
        run = bad_runs["empty_file"]
        execution = run["execution"]
        assert (execution["status"], execution["error"]) == ("FAILED", "IngestFailed")
        cause = helpers.stepfunctions.failure_cause(execution)
        for phrase in CASES["empty_file"]["expect"] + [run["url"]]:
            assert phrase in cause, f"{phrase!r} not in {cause!r}"
        types = [e["type"] for e in pipeline.history(run["arn"])]
        assert types.count("LambdaFunctionFailed") == 1, types
        assert pipeline.keys(f"runs/{run['run_id']}/") == []


class TestMissingObjectFailsAtIngest:
    """An upload that is not there (notebook 07's trigger path, ``source_s3_uri``)."""

    def test_ingest_failed_naming_the_key(self, pipeline):
        """
        1. Start the pipeline with source_s3_uri pointing at a key that does not exist in the kit bucket.
        2. FAILED with IngestFailed; the cause names the whole s3:// URI of the missing object.
        3. The run has no object in S3 and no processing job.
        """
        run_id, uri = "missing-object", f"s3://{pipeline.bucket}/incoming/never-uploaded.csv"
        execution = pipeline.wait(pipeline.start(run_id, source_s3_uri=uri))
        assert (execution["status"], execution["error"]) == ("FAILED", "IngestFailed")
        cause = helpers.stepfunctions.failure_cause(execution)
        assert uri in cause and "does not exist" in cause, cause
        assert json.loads(execution["cause"])["errorType"] == "NoSuchKey"
        assert pipeline.keys(f"runs/{run_id}/") == []
        summaries = pipeline.kit.client("sagemaker").list_processing_jobs(
            NameContains=pipeline.job_name("preprocess", run_id))["ProcessingJobSummaries"]
        assert summaries == []
