"""Load: executions side by side keep their outputs apart; many in a row leave nothing behind in the cloud."""

from __future__ import annotations

import json
import time

import pytest
from faults_support import (CloudStats, connect, deploy_light_machine, new_prefix, start_own_cloud,
                            workdir_of)

pytestmark = pytest.mark.series


class TestTwoExecutionsAtTheSameTime:
    """Two runs of the kit's pipeline started together, with different run ids, do not mix."""

    def test_both_succeed_with_separate_outputs(self, cloud, pipeline):
        """
        1. Start the pipeline twice, back to back, with run ids load-a and load-b (good data).
        2. Both SUCCEED.
        3. Each run prefix holds its own raw file, train/test/meta splits and model.tar.gz; each execution's
           output names the model under its own prefix, trained by its own job.
        4. The two raw files and the two splits are the same bytes (same data, same seed): nothing was mixed.
        """
        runs = ("load-a", "load-b")
        arns = {run: pipeline.start(run, data_url=f"{cloud.data_url}/iris.data") for run in runs}
        executions = {run: pipeline.wait(arn) for run, arn in arns.items()}

        for run, execution in executions.items():
            assert execution["status"] == "SUCCEEDED", (run, execution.get("error"), execution.get("cause"))
            job = pipeline.job_name("train", run)
            model = f"runs/{run}/model/{job}/output/model.tar.gz"
            assert set(pipeline.keys(f"runs/{run}/")) >= {
                f"runs/{run}/raw/iris.data", f"runs/{run}/processed/train/train.csv",
                f"runs/{run}/processed/test/test.csv", f"runs/{run}/processed/meta/preprocess.json", model}
            output = json.loads(execution["output"])
            assert output["train"]["model"] == f"s3://{pipeline.bucket}/{model}"
            assert output["train"]["job"] == job and output["preprocess"]["job"] == pipeline.job_name("preprocess", run)
        s3 = pipeline.kit.client("s3")

        def body(run: str, key: str) -> bytes:
            return s3.get_object(Bucket=pipeline.bucket, Key=f"runs/{run}/{key}")["Body"].read()

        for key in ("raw/iris.data", "processed/train/train.csv", "processed/test/test.csv"):
            assert body("load-a", key) == body("load-b", key), key
        windows = [(e["startDate"], e["stopDate"]) for e in executions.values()]
        assert windows[1][0] < windows[0][1], "the two executions did not overlap"


class TestManyExecutionsLeakNothing:
    """20 executions in a row on a cloud of the test's own: no processes, folders or threads pile up."""

    @pytest.mark.slow(17)
    def test_twenty_executions(self, tmp_path):
        """
        1. Start a local cloud (its workdir under tmp_path); deploy a light pipeline: a Lambda, then a small
           processing job under .sync (tests/events/faults_light_machine.json).
        2. Run it twice to warm up (Lambda environment, lazily loaded services); measure the cloud process.
        3. Run it 20 times in a row; all SUCCEED, each with its own output object.
        4. Measure again: no more child processes (one warm Lambda environment and one spare), no job folders left in
           the workdir, threads and open files within a small margin of the warm figures.
        5. Run 3 executions whose job fails: the workdir keeps exactly one job folder, the last failed job's
           (kept for a look inside, as src/localcloud/sagemaker/jobs/runner.py documents).
        6. Stop the cloud: it exits 0, its workdir is gone and no process it started survives.
        """
        import psutil

        own = start_own_cloud(tmp_path)
        try:
            workdir = workdir_of(tmp_path)
            light = deploy_light_machine(connect(own.url, new_prefix("load")))
            for warm in ("warm-1", "warm-2"):
                assert light.wait(light.start(warm))["status"] == "SUCCEEDED"
            time.sleep(1)
            before = CloudStats.of(own.process.pid, workdir)
            started = time.monotonic()
            for number in range(20):
                execution = light.wait(light.start(f"run-{number:02d}"), timeout=60)
                assert execution["status"] == "SUCCEEDED", (number, execution.get("cause"))
            seconds = time.monotonic() - started
            time.sleep(1)
            after = CloudStats.of(own.process.pid, workdir)
            descendants = psutil.Process(own.process.pid).children(recursive=True)
            print(f"\n20 executions in {seconds:.1f} s; before: {before}\nafter: {after}")

            assert all(f"runs/run-{n:02d}/out/done.txt" in light.keys(f"runs/run-{n:02d}/") for n in range(20))
            # At most one warm Lambda environment plus the one spare bootstrap kept ready for the next cold start
            # (src/localcloud/awslambda/lambda_spare.py); each runs under a process-group leader of its own
            environments = [child for child in after.children if "lambda_bootstrap" in child]
            assert after.children == before.children and len(environments) <= 2, after.children
            assert after.job_folders == [], after.job_folders
            assert after.threads <= before.threads + 4, (before.threads, after.threads)
            assert after.open_files <= before.open_files + 8, (before.open_files, after.open_files)

            failing = deploy_light_machine(connect(own.url, new_prefix("fail")),
                                           entrypoint=["python3", "-c", "raise SystemExit('broken on purpose')"])
            for number in range(3):
                assert failing.wait(failing.start(f"fail-{number}"))["status"] == "FAILED"
            kept = CloudStats.of(own.process.pid, workdir).job_folders
            assert len(kept) == 1 and kept[0].startswith(f"{failing.prefix}-prepare-fail-2-"), kept
        finally:
            code = own.stop()
        assert code == 0
        assert list(tmp_path.glob("localcloud-*")) == []
        assert [p.pid for p in descendants if p.is_running() and p.status() != psutil.STATUS_ZOMBIE] == []
