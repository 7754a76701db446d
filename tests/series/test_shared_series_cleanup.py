"""Cleanup after a whole series, and the same run id after it: on the shared series, once everyone has read it.

The shared series (tests/series/conftest.py) is cleaned here rather than a series of its own being run
with --cleanup: this module is the last of the shared group (tests/parallel.py ``SHARED_SERIES_MODULES``;
its name also sorts after the other readers', for a run without xdist), so nothing reads the run after it.
That `--cleanup` appends 99 to the notebooks and runs it even after a failure is
tests/faults/test_runner_faults.py ``TestCleanupRunsAfterAFailure``.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from series_support import kit_resources, lambda_job, run_helpers

# Reads (then removes) the shared series: the last module of its group (tests/parallel.py).
pytestmark = pytest.mark.series

PREFIX = "pipeline-dreams"  # the shared series runs with the kit's default prefix
JOBS = (("processing", "preprocess", "ProcessingJobName", "ProcessingJobStatus"),
        ("training", "train", "TrainingJobName", "TrainingJobStatus"))


@dataclass
class CleanedRun:
    """The shared series, 99 run on its cloud with --cleanup, and what was there before and after."""

    run_id: str
    series: subprocess.CompletedProcess  # the shared run of 01-08
    result: subprocess.CompletedProcess  # `python -m helpers run --cleanup --notebooks 99`
    out: Path
    before: dict[str, list[str]]
    leftovers: dict[str, list[str]]
    jobs: dict[str, set[str]]  # the run's job names before cleanup, by kind


@pytest.fixture(scope="module")
def cloud(shared_series):
    """The shared series' own local cloud (not the session's): what the run left is there."""
    return shared_series.cloud


@pytest.fixture(scope="module")
def cleaned_run(shared_series, cloud, tmp_path_factory) -> CleanedRun:
    """`python -m helpers run --cleanup --notebooks 99` on the shared run, then every service listed directly."""
    out, run_id, sm = tmp_path_factory.mktemp("cleaned"), shared_series.run_id, cloud.client("sagemaker")
    before = kit_resources(cloud, PREFIX)
    jobs = {kind: {j[name] for j in lambda_job(sm, kind, f"{PREFIX}-{step}-{run_id}")}
            for kind, step, name, _ in JOBS}
    result = run_helpers("run", "--endpoint", cloud.url, "--out", str(out), "--cleanup", "--notebooks", "99",
                         "-p", "run_id", run_id, "-p", "data_url", f"{cloud.data_url}/iris.data",
                         env={"PIPELINE_DREAMS_CONTINUE_RUN": "1"})  # the run's own cleanup: it continues it
    return CleanedRun(run_id, shared_series.result, result, out, before, kit_resources(cloud, PREFIX), jobs)


class TestCleanup:
    @pytest.mark.slow(8)
    def test_run_with_cleanup_leaves_nothing_and_clean_is_safe_twice(self, cleaned_run: CleanedRun, cloud) -> None:
        """A whole series, then 99 with --cleanup: nothing of the kit's is left.

        1. The shared series (01-08, default prefix) exited 0 and printed a test accuracy.
        2. Before cleanup it had made resources in every service (the summary's facts came from them).
        3. `python -m helpers run --cleanup --notebooks 99` on its cloud, continuing its run id:
           exit 0, the executed 99 is in --out.
        4. Listing every service directly finds nothing with the prefix.
        5. `python -m helpers clean` again: exit 0, "nothing of the kit's was found", "left: 0".
        """
        series, result = cleaned_run.series, cleaned_run.result
        assert series.returncode == 0 and "test accuracy:" in series.stdout, series.stdout[-3000:]
        assert all(cleaned_run.before.values()), cleaned_run.before
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert (cleaned_run.out / "99_cleanup.ipynb").exists()
        leftovers = cleaned_run.leftovers
        assert leftovers == {service: [] for service in leftovers}
        again = run_helpers("clean", "--endpoint", cloud.url, "-p", "prefix", PREFIX, timeout=120)
        assert again.returncode == 0 and "nothing of the kit's was found" in again.stdout and "left: 0" in again.stdout

    @pytest.mark.slow(14)
    def test_after_cleanup_the_same_run_id_runs_clean_again(self, cleaned_run: CleanedRun, cloud,
                                                            tmp_path: Path) -> None:
        """SageMaker never frees a job name, even after cleanup; the kit's names must not collide.

        https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateProcessingJob.html (unique names)

        1. The cleanup above (99 after the shared series, default prefix, its run id) exited 0.
        2. Run 01-05 again with the same prefix and run id: exit 0.
        3. Each step made a new job that Completed: one processing and one training job of the run more than
           before cleanup, and every one of the run's jobs is still listed.
        """
        first = cleaned_run.result
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        second = run_helpers("run", "--endpoint", cloud.url, "--notebooks", "01,02,03,04,05",
                             "-p", "run_id", cleaned_run.run_id,
                             "-p", "data_url", f"{cloud.data_url}/iris.data", "--out", str(tmp_path / "second"))
        assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
        sm = cloud.client("sagemaker")
        for kind, step, name, status in JOBS:
            jobs = lambda_job(sm, kind, f"{PREFIX}-{step}-{cleaned_run.run_id}")
            earlier = cleaned_run.jobs[kind]
            assert earlier and {j[name] for j in jobs[1:]} == earlier, (jobs, earlier)
            assert jobs[0][name] not in earlier and all(j[status] == "Completed" for j in jobs), jobs
