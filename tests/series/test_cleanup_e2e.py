"""Cleanup after a whole series, and the same run id after it: their own prefixes on the session's cloud."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from series_support import kit_resources, lambda_job, run_helpers

pytestmark = pytest.mark.series


@dataclass
class CleanedRun:
    """A whole series run with --cleanup (01-07 then 99), and what was left after it."""

    prefix: str
    run_id: str
    result: subprocess.CompletedProcess
    out: Path
    leftovers: dict[str, list[str]]


@pytest.fixture(scope="class")
def cleaned_run(cloud, tmp_path_factory) -> CleanedRun:
    """`python -m helpers run --cleanup -p prefix clean-e2e -p run_id c1`, then every service listed directly."""
    prefix, run_id, out = "clean-e2e", "c1", tmp_path_factory.mktemp("cleaned")
    result = run_helpers("run", "--endpoint", cloud.url, "--out", str(out), "--cleanup", "-p", "prefix", prefix,
                         "-p", "run_id", run_id, "-p", "data_url", f"{cloud.data_url}/iris.data")
    return CleanedRun(prefix, run_id, result, out, kit_resources(cloud, prefix))


class TestCleanup:
    @pytest.mark.slow(50)
    def test_run_with_cleanup_leaves_nothing_and_clean_is_safe_twice(self, cleaned_run: CleanedRun, cloud) -> None:
        """A whole series with --cleanup, under its own prefix so the other tests' resources stay.

        1. `python -m helpers run --cleanup -p prefix clean-e2e`: 01-07 then 99; exit 0.
        2. Before cleanup it had made resources in every service (the summary's facts came from them).
        3. Listing every service directly finds nothing with the prefix.
        4. `python -m helpers clean` again: exit 0, "nothing of the kit's was found", "left: 0".
        """
        result = cleaned_run.result
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert (cleaned_run.out / "99_cleanup.ipynb").exists() and "test accuracy:" in result.stdout
        leftovers = cleaned_run.leftovers
        assert leftovers == {service: [] for service in leftovers}
        again = run_helpers("clean", "--endpoint", cloud.url, "-p", "prefix", cleaned_run.prefix, timeout=120)
        assert again.returncode == 0 and "nothing of the kit's was found" in again.stdout and "left: 0" in again.stdout

    @pytest.mark.slow(35)
    def test_after_cleanup_the_same_run_id_runs_clean_again(self, cleaned_run: CleanedRun, cloud,
                                                            tmp_path: Path) -> None:
        """SageMaker never frees a job name, even after cleanup; the kit's names must not collide.

        https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateProcessingJob.html (unique names)

        1. The run with --cleanup above (01-07 then 99, prefix clean-e2e, run id c1) exited 0.
        2. Run 01-05 again with the same prefix and run id: exit 0.
        3. Each step made new jobs that Completed (two processing and two training jobs of c1 exist).
        """
        first = cleaned_run.result
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        second = run_helpers("run", "--endpoint", cloud.url, "--notebooks", "01,02,03,04,05",
                             "-p", "prefix", cleaned_run.prefix, "-p", "run_id", cleaned_run.run_id,
                             "-p", "data_url", f"{cloud.data_url}/iris.data", "--out", str(tmp_path / "second"))
        assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
        sm = cloud.client("sagemaker")
        for kind, step in (("processing", "preprocess"), ("training", "train")):
            jobs = lambda_job(sm, kind, f"{cleaned_run.prefix}-{step}-{cleaned_run.run_id}")
            assert len(jobs) == 2, jobs
            status = "ProcessingJobStatus" if kind == "processing" else "TrainingJobStatus"
            assert all(j[status] == "Completed" for j in jobs), jobs
