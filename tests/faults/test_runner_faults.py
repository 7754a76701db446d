"""The series runner on bad data: ``python -m helpers run`` stops at the notebook that fails, names its cell and
prints the cause (row and field), for the processing job of notebook 03 and for the pipeline of notebook 05."""

from __future__ import annotations

import re

import pytest
from faults_support import NOTHING, FileServer, bad_file, load_fixture, new_prefix, owned, run_helpers

pytestmark = pytest.mark.series

NON_NUMERIC = load_fixture("faults_bad_data.json")["cases"]["non_numeric_feature"]
REASON = "iris.data: row 7, field 'petal_width': 'abc' is not a number"


@pytest.fixture(scope="module")
def kit_made(cloud, tmp_path_factory) -> dict:
    """Notebooks 01-04 run once with good data under a prefix of the module's own (what 05 needs)."""
    prefix = new_prefix("run")
    result = run_helpers("run", "--endpoint", cloud.url, "--out", str(tmp_path_factory.mktemp("good")),
                         "--notebooks", "01,02,03,04", "-p", "prefix", prefix, "-p", "run_id", "good",
                         "-p", "data_url", f"{cloud.data_url}/iris.data")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return {"prefix": prefix}


@pytest.fixture(scope="module")
def bad_url(files: FileServer) -> str:
    return files.put("non-numeric/iris.data", bad_file(NON_NUMERIC))


class TestRunnerStopsAtTheProcessingJob:
    """01-05 on a file with a non-numeric feature: notebook 03's job fails, the runner says where and why."""

    @pytest.mark.slow(25)
    def test_exit_1_naming_notebook_cell_and_cause(self, cloud, kit_made, bad_url, tmp_path):
        """
        1. `python -m helpers run --notebooks 01,02,03,04,05 -p data_url <bad file>` with a new run id.
        2. Exit 1; stderr: "series FAILED: 03_preprocess.ipynb failed in cell N", JobFailed, the job's name and
           preprocess.py's message with the row and field.
        3. Notebooks 04 and 05 did not run; the executed 03 (with the traceback) is in --out.
        4. The run's claim and raw file are there; nothing under its processed/ prefix.
        """
        prefix = kit_made["prefix"]
        result = run_helpers("run", "--endpoint", cloud.url, "--out", str(tmp_path), "--notebooks", "01,02,03,04,05",
                             "-p", "prefix", prefix, "-p", "run_id", "bad-03", "-p", "data_url", bad_url)

        assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
        assert "series FAILED: 03_preprocess.ipynb failed in cell " in result.stderr
        # the job's name ends in a hash of its request (a changed setting is a new job)
        assert re.search(rf"JobFailed: processing job {prefix}-preprocess-bad-03-[0-9a-f]{{6}} ended Failed: "
                         rf"AlgorithmError: exit code 1: preprocess: error: {re.escape(REASON)}", result.stderr), \
            result.stderr[-3000:]
        assert f"executed notebook with the traceback: {tmp_path / '03_preprocess.ipynb'}" in result.stderr
        assert sorted(p.name for p in tmp_path.glob("*.ipynb")) == [
            "01_bucket.ipynb", "02_ingest.ipynb", "03_preprocess.ipynb"]
        objects = [o.split("/", 1)[1] for o in owned(cloud, prefix)["objects"] if "/runs/bad-03/" in o]
        assert objects == ["runs/bad-03/.run-claim.json", "runs/bad-03/raw/iris.data"]


class TestRunnerShowsThePipelinesFailure:
    """05 alone on the bad file: the fixed pipeline's execution FAILS, and the runner prints its readable cause."""

    @pytest.mark.slow(8)
    def test_exit_1_with_the_executions_cause(self, cloud, kit_made, bad_url, tmp_path):
        """
        1. `python -m helpers run --notebooks 05 -p data_url <bad file>` (02-04 made the functions).
        2. Exit 1; stderr names 05_stepfunctions.ipynb and its cell, ExecutionFailed, the execution
           <run id>-pipeline, PreprocessFailed and preprocess.py's message with the row and field.
        3. The message is the readable cause, not the processing job's whole description.
        """
        prefix = kit_made["prefix"]
        result = run_helpers("run", "--endpoint", cloud.url, "--out", str(tmp_path), "--notebooks", "05",
                             "-p", "prefix", prefix, "-p", "run_id", "bad-05", "-p", "data_url", bad_url)

        assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
        assert "series FAILED: 05_stepfunctions.ipynb failed in cell " in result.stderr
        assert re.search(r"ExecutionFailed: execution bad-05-pipeline-[0-9a-f]{6} FAILED: PreprocessFailed: "
                         rf"AlgorithmError: exit code 1: preprocess: error: {re.escape(REASON)}", result.stderr), \
            result.stderr[-3000:]
        assert "ProcessingJobArn" not in result.stderr


class TestCleanupRunsAfterAFailure:
    """`--cleanup` promises nothing is left behind: 99 runs even when a notebook failed (issue 9)."""

    @pytest.mark.slow(13)
    def test_failed_run_is_cleaned_and_says_so(self, cloud, bad_url, tmp_path):
        """
        1. `python -m helpers run --notebooks 01,02,03 --cleanup` on the bad file, under a prefix of its own:
           notebook 03's processing job fails.
        2. Exit 1; stderr names 03's failure, says 99_cleanup ran anyway, and the executed 99 is in --out.
        3. Nothing named with the prefix is left: no bucket, role, function, repository, state machine, and
           no log group or job log stream (the job's stream in /aws/sagemaker/ProcessingJobs went too).
        4. The processing job's record is still there (AWS keeps job records), and 99 said so.
        """
        prefix = new_prefix("clean")
        result = run_helpers("run", "--endpoint", cloud.url, "--out", str(tmp_path), "--notebooks", "01,02,03",
                             "--cleanup", "-p", "prefix", prefix, "-p", "run_id", "fails", "-p", "data_url", bad_url)

        assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
        assert "series FAILED: 03_preprocess.ipynb failed in cell " in result.stderr
        assert "99_cleanup ran anyway and removed what the run had made" in result.stderr
        assert (tmp_path / "99_cleanup.ipynb").exists()
        assert owned(cloud, prefix) == NOTHING
        logs = cloud.client("logs")
        groups = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"] if prefix in g["logGroupName"]]
        streams = [s["logStreamName"] for s in logs.describe_log_streams(
            logGroupName="/aws/sagemaker/ProcessingJobs", logStreamNamePrefix=prefix)["logStreams"]]
        assert (groups, streams) == ([], [])
        jobs = cloud.client("sagemaker").list_processing_jobs(
            NameContains=f"{prefix}-preprocess-fails")["ProcessingJobSummaries"]  # named <base>-<hash of its request>
        assert [job["ProcessingJobStatus"] for job in jobs] == ["Failed"]
        executed = (tmp_path / "99_cleanup.ipynb").read_text()
        assert jobs[0]["ProcessingJobName"] in executed and "kept by AWS" in executed
