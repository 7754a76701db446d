"""The series end to end: ``python -m helpers run`` executes notebooks 01-05 with papermill.

Runs against the session's local cloud (``--endpoint``) so that what the run left behind can
be inspected afterwards: the S3 objects, the jobs and the model, which must predict the
held-out rows with accuracy ≥ 0.9.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from localcloud import linear_learner

pytestmark = pytest.mark.series


def run_helpers(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "helpers", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def series(cloud, tmp_path_factory) -> dict:
    """Run 01-05 once for the module (about 30 s)."""
    out = tmp_path_factory.mktemp("series")
    run_id = f"e2e-{time.time_ns() % 10**6}"
    result = run_helpers("run", "--endpoint", cloud.url, "--out", str(out), "-p", "run_id", run_id,
                         "-p", "data_url", f"{cloud.data_url}/iris.data")
    return {"result": result, "out": out, "run_id": run_id}


class TestSeriesRun:
    def test_every_notebook_ran_and_the_summary_is_printed(self, series: dict) -> None:
        """The runner reports success.

        1. Exit status 0.
        2. The five executed notebooks are in --out, each with an injected-parameters cell holding the run id.
        3. The summary names the run, the model and a test accuracy.
        """
        result = series["result"]
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        executed = sorted(p.name for p in series["out"].glob("*.ipynb"))
        assert executed == ["01_bucket.ipynb", "02_ingest.ipynb", "03_preprocess.ipynb", "04_train.ipynb",
                            "05_stepfunctions.ipynb"]
        notebook = nbformat.read(series["out"] / "03_preprocess.ipynb", as_version=4)
        injected = [c for c in notebook.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert injected and series["run_id"] in injected[0].source
        assert f"run {series['run_id']}:" in result.stdout
        assert "model: s3://" in result.stdout and "test accuracy:" in result.stdout

    def test_s3_holds_each_steps_output_under_the_run_prefix(self, series: dict, cloud) -> None:
        """What ended up in S3.

        1. List the kit bucket under runs/<run_id>/.
        2. The raw CSV (same bytes as data/iris.data), train/test splits, preprocess meta and the model are there.
        3. The fixed pipeline's own run (<run_id>-pipeline) has its model too.
        """
        s3 = cloud.client("s3")
        bucket = next(b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("pipeline-dreams-"))
        run = series["run_id"]
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"runs/{run}/")["Contents"]}
        assert {f"runs/{run}/raw/iris.data", f"runs/{run}/processed/train/train.csv",
                f"runs/{run}/processed/test/test.csv", f"runs/{run}/processed/meta/preprocess.json",
                f"runs/{run}/model/pipeline-dreams-train-{run}/output/model.tar.gz"} <= keys
        raw = s3.get_object(Bucket=bucket, Key=f"runs/{run}/raw/iris.data")["Body"].read()
        assert raw == (Path(__file__).resolve().parents[2] / "data/iris.data").read_bytes()
        pipeline = f"runs/{run}-pipeline/model/pipeline-dreams-train-{run}-pipeline/output/model.tar.gz"
        assert s3.head_object(Bucket=bucket, Key=pipeline)["ContentLength"] > 0

    def test_the_model_predicts_the_held_out_rows(self, series: dict, cloud, tmp_path: Path) -> None:
        """The trained model is good on data it never saw.

        1. Download model.tar.gz of the run and the held-out test split.
        2. Predict the test rows with the model (linear-learner's response shape).
        3. Accuracy ≥ 0.9.
        """
        s3 = cloud.client("s3")
        bucket = next(b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("pipeline-dreams-"))
        run = series["run_id"]
        archive = s3.get_object(Bucket=bucket, Key=f"runs/{run}/model/pipeline-dreams-train-{run}/output/model.tar.gz")
        tarfile.open(fileobj=io.BytesIO(archive["Body"].read())).extractall(tmp_path, filter="data")
        test = pd.read_csv(io.BytesIO(s3.get_object(Bucket=bucket, Key=f"runs/{run}/processed/test/test.csv")["Body"]
                                      .read()), header=None).to_numpy()
        predictions = linear_learner.predict(linear_learner.load_model(tmp_path), test[:, 1:])
        accuracy = float(np.mean([p["predicted_label"] == label for p, label in zip(predictions, test[:, 0])]))
        assert len(test) == 30 and accuracy >= 0.9

    def test_the_article_chain_raced_and_the_fixed_pipeline_did_not(self, series: dict, cloud) -> None:
        """Notebook 05's two state machines, as the jobs they left show.

        1. The article chain's training job failed: it found no training data (it started too early).
        2. The fixed pipeline's training job completed, created after its preprocessing job ended.
        """
        sm = cloud.client("sagemaker")
        run = series["run_id"]
        article = sm.describe_training_job(TrainingJobName=f"pipeline-dreams-train-{run}-article")
        assert article["TrainingJobStatus"] == "Failed" and "no S3 objects found" in article["FailureReason"]
        fixed = sm.describe_training_job(TrainingJobName=f"pipeline-dreams-train-{run}-pipeline")
        prep = sm.describe_processing_job(ProcessingJobName=f"pipeline-dreams-preprocess-{run}-pipeline")
        assert fixed["TrainingJobStatus"] == "Completed"
        assert fixed["CreationTime"] >= prep["ProcessingEndTime"]


class TestSeriesFailure:
    def test_a_failing_notebook_is_named_with_its_cell_and_error(self, cloud, tmp_path: Path) -> None:
        """A bad parameter fails the first notebook; the runner says where.

        1. Run 01 with region "moon-1".
        2. Exit status 1; the message names 01_bucket.ipynb, the cell and ConfigError with the bad value.
        """
        result = run_helpers("run", "--endpoint", cloud.url, "--out", str(tmp_path), "--notebooks", "01",
                             "-p", "region", "moon-1", timeout=120)
        assert result.returncode == 1
        assert "01_bucket.ipynb failed in cell" in result.stderr
        assert "ConfigError" in result.stderr and "moon-1" in result.stderr

    def test_without_a_cloud_the_notebook_says_in_one_line_what_to_run(self, tmp_path: Path) -> None:
        """A learner opens a notebook with no local cloud running.

        1. Execute 01 with the endpoint pointing at a closed port.
        2. The failing cell's error is CloudNotReachable, shown as ONE line naming what to run.
        """
        import socket

        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        root = Path(__file__).resolve().parents[2]
        notebook = nbformat.read(root / "notebooks/01_bucket.ipynb", as_version=4)
        import os

        env_before = os.environ.get("PIPELINE_DREAMS_ENDPOINT")
        os.environ["PIPELINE_DREAMS_ENDPOINT"] = f"http://127.0.0.1:{port}"
        try:
            with pytest.raises(CellExecutionError):
                NotebookClient(notebook, timeout=60, kernel_name="python3",
                               resources={"metadata": {"path": str(root / "notebooks")}}).execute()
        finally:
            if env_before is None:
                os.environ.pop("PIPELINE_DREAMS_ENDPOINT")
            else:
                os.environ["PIPELINE_DREAMS_ENDPOINT"] = env_before
        errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert errors[0]["ename"] == "CloudNotReachable"
        assert len(errors[0]["traceback"]) == 1
        assert "make lab" in errors[0]["traceback"][0] and str(port) in errors[0]["traceback"][0]
