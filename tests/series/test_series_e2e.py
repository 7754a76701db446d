"""The series end to end: ``python -m helpers run`` executes notebooks 01-08 with papermill.

The run is the shared series (tests/series/conftest.py), against a local cloud of its own that stays
up, so that what the run left behind can be inspected afterwards: the S3 objects, the jobs and the
model, which must predict the held-out rows with accuracy ≥ 0.9. Every test here uses that cloud.
"""

from __future__ import annotations

import io
import re
import tarfile
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import numpy as np
import pandas as pd
import pytest

from helpers.config import settings
from helpers.stepfunctions import pipeline_settings
from localcloud.sagemaker.algorithms.linear_learner import train as linear_learner
from series_support import kit_bucket, lambda_job, pipeline_run, run_helpers

# Reads the shared series, as test_loopback_only and test_python_versions do (one group: tests/parallel.py).
pytestmark = pytest.mark.series


@pytest.fixture(scope="module")
def series(shared_series) -> dict:
    """The shared run of 01-08 (tests/series/conftest.py)."""
    return {"result": shared_series.result, "out": shared_series.out, "run_id": shared_series.run_id}


@pytest.fixture(scope="module")
def cloud(shared_series):
    """The shared series' own local cloud (not the session's): what the run left is there."""
    return shared_series.cloud


class TestSeriesRun:
    @pytest.mark.slow(5)
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
                            "05_stepfunctions.ipynb", "06_evaluate.ipynb", "07_triggers.ipynb",
                            "08_sagemaker_sdk.ipynb"]
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
        (job,) = lambda_job(cloud.client("sagemaker"), "training", f"pipeline-dreams-train-{run}")
        assert {f"runs/{run}/raw/iris.data", f"runs/{run}/processed/train/train.csv",
                f"runs/{run}/processed/test/test.csv", f"runs/{run}/processed/meta/preprocess.json",
                f"runs/{run}/model/{job['TrainingJobName']}/output/model.tar.gz"} <= keys
        raw = s3.get_object(Bucket=bucket, Key=f"runs/{run}/raw/iris.data")["Body"].read()
        assert raw == (Path(__file__).resolve().parents[2] / "data/iris.data").read_bytes()
        fixed = pipeline_run(s3, f"{run}-pipeline")
        pipeline = f"runs/{fixed}/model/pipeline-dreams-train-{fixed}/output/model.tar.gz"
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
        job = lambda_job(cloud.client("sagemaker"), "training", f"pipeline-dreams-train-{run}")[-1]["TrainingJobName"]
        archive = s3.get_object(Bucket=bucket, Key=f"runs/{run}/model/{job}/output/model.tar.gz")
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
        sm, s3 = cloud.client("sagemaker"), cloud.client("s3")
        article_run, fixed_run = pipeline_run(s3, f"{series['run_id']}-article"), pipeline_run(s3, f"{series['run_id']}-pipeline")
        (article,) = lambda_job(sm, "training", f"pipeline-dreams-train-{article_run}")
        article = sm.describe_training_job(TrainingJobName=article["TrainingJobName"])
        assert article["TrainingJobStatus"] == "Failed" and "no S3 objects found" in article["FailureReason"]
        fixed = sm.describe_training_job(TrainingJobName=f"pipeline-dreams-train-{fixed_run}")
        prep = sm.describe_processing_job(ProcessingJobName=f"pipeline-dreams-preprocess-{fixed_run}")
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


class TestEvaluationGateAndTrigger:
    def test_the_gated_run_deployed_a_model_that_answers(self, series: dict, cloud) -> None:
        """Notebook 06's run.

        1. evaluation.json of <run_id>-gated has accuracy ≥ 0.9 and a 3x3 confusion matrix summing to 30.
        2. The kit's endpoint is InService on that run's model and answers the test rows like the truth.
        """
        import json

        s3 = cloud.client("s3")
        run = pipeline_run(s3, f"{series['run_id']}-gated")
        bucket = kit_bucket(s3)
        report = json.loads(s3.get_object(Bucket=bucket, Key=f"runs/{run}/evaluation/report/evaluation.json")
                            ["Body"].read())
        assert report["accuracy"] >= 0.9 and sum(map(sum, report["confusion_matrix"])) == 30
        endpoint = cloud.client("sagemaker").describe_endpoint(EndpointName="pipeline-dreams-iris")
        assert endpoint["EndpointStatus"] == "InService"
        test = pd.read_csv(io.BytesIO(s3.get_object(Bucket=bucket, Key=f"runs/{run}/processed/test/test.csv")
                                      ["Body"].read()), header=None)
        body = test.iloc[:, 1:].to_csv(header=False, index=False)
        answer = json.loads(cloud.client("sagemaker-runtime").invoke_endpoint(
            EndpointName="pipeline-dreams-iris", ContentType="text/csv", Body=body)["Body"].read())
        predicted = [int(p["predicted_label"]) for p in answer["predictions"]]
        assert np.mean(np.array(predicted) == test[0].to_numpy()) >= 0.9

    def test_the_strict_run_stopped_at_the_gate(self, series: dict, cloud) -> None:
        """1. The <run_id>-strict execution FAILED with QualityGateFailed.
        2. Its cause names the accuracy and the threshold 1.01; no endpoint config was made for it.
        """
        sfn, run = cloud.client("stepfunctions"), f"{series['run_id']}-strict"
        machine = next(m for m in sfn.list_state_machines()["stateMachines"] if m["name"] == "pipeline-dreams-pipeline")
        (execution,) = [e for e in sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]
                        if re.fullmatch(rf"{run}-[0-9a-f]{{6}}", e["name"])]
        execution = sfn.describe_execution(executionArn=execution["executionArn"])
        assert execution["status"] == "FAILED" and execution["error"] == "QualityGateFailed"
        assert "is below min_accuracy 1.01" in execution["cause"] and "accuracy 0." in execution["cause"]
        configs = cloud.client("sagemaker").list_endpoint_configs(NameContains=f"{run}-strict")["EndpointConfigs"]
        assert configs == []

    def test_an_upload_under_incoming_started_its_own_run(self, series: dict, cloud) -> None:
        """Notebook 07's trigger.

        1. An execution of the pipeline has the uploaded key in its input (it came from EventBridge).
        2. It SUCCEEDED and wrote a run of its own (runs/t-…/raw/iris-<run>.csv, named after the upload, is there).
        """
        import json

        sfn, run = cloud.client("stepfunctions"), series["run_id"]
        machine = next(m for m in sfn.list_state_machines()["stateMachines"] if m["name"] == "pipeline-dreams-pipeline")
        executions = [sfn.describe_execution(executionArn=e["executionArn"])
                      for e in sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]]
        triggered = [e for e in executions if f"incoming/iris-{run}.csv" in e.get("input", "")]
        assert len(triggered) == 1 and triggered[0]["status"] == "SUCCEEDED"
        output = json.loads(triggered[0]["output"])
        assert output["run_id"].startswith("t-")
        s3 = cloud.client("s3")
        assert s3.head_object(Bucket=output["bucket"], Key=f"{output['run_prefix']}/raw/iris-{run}.csv")["ContentLength"] > 0


class TestRawMeasurements:
    def test_the_endpoint_answers_raw_measurements_with_the_right_species(self, series: dict, cloud) -> None:
        """Raw measurements in, right species out (no training/serving skew).

        linear-learner normalises the features itself (normalize_data, default on) and applies the same
        normalisation at inference, so preprocessing does not scale and the endpoint takes raw rows:
        https://docs.aws.amazon.com/sagemaker/latest/dg/ll_how-it-works.html

        1. Ask the kit's endpoint about the first row of each species in UCI's file, in centimetres.
        2. It answers setosa, versicolor, virginica (labels 0, 1, 2) in that order.
        3. The held-out split the model was trained beside is in centimetres too (not z-scores).
        """
        import json

        rows = "5.1,3.5,1.4,0.2\n7.0,3.2,4.7,1.4\n6.3,3.3,6.0,2.5\n"
        answer = json.loads(cloud.client("sagemaker-runtime").invoke_endpoint(
            EndpointName="pipeline-dreams-iris", ContentType="text/csv", Body=rows)["Body"].read())
        assert [int(p["predicted_label"]) for p in answer["predictions"]] == [0, 1, 2], answer
        s3 = cloud.client("s3")
        run = pipeline_run(s3, f"{series['run_id']}-gated")
        test = pd.read_csv(io.BytesIO(s3.get_object(Bucket=kit_bucket(s3), Key=f"runs/{run}/processed/test/test.csv")
                                      ["Body"].read()), header=None)
        assert test[1].between(4.0, 8.0).all()  # sepal length in cm


class TestChangedSetting:
    @pytest.mark.slow(12)
    def test_a_changed_epochs_under_the_same_run_id_trains_a_new_job(self, series: dict, cloud, tmp_path: Path) -> None:
        """What you change is what runs.

        SageMaker job names are unique in an account and region, so a changed request needs a new name:
        https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTrainingJob.html

        1. Run 04 again under the series' run id with -p epochs 3 (PIPELINE_DREAMS_CONTINUE_RUN=1).
        2. A new training job of the run Completed with epochs 3; the earlier one (epochs 15) is still there.
        3. The executed notebook says which job it replaces and that epochs went 15 → 3.
        4. Running 04 once more with epochs 3 reuses that job (no third job).
        """
        run = series["run_id"]
        args = ("run", "--endpoint", cloud.url, "--out", str(tmp_path), "--notebooks", "04", "-p", "run_id", run,
                "-p", "data_url", f"{cloud.data_url}/iris.data", "-p", "epochs", "3")
        result = run_helpers(*args, env={"PIPELINE_DREAMS_CONTINUE_RUN": "1"})
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        sm = cloud.client("sagemaker")
        newest, earlier = lambda_job(sm, "training", f"pipeline-dreams-train-{run}")
        job = sm.describe_training_job(TrainingJobName=newest["TrainingJobName"])
        assert job["TrainingJobStatus"] == "Completed" and job["HyperParameters"]["epochs"] == "3"
        assert sm.describe_training_job(TrainingJobName=earlier["TrainingJobName"])["HyperParameters"]["epochs"] == "15"
        notebook = nbformat.read(tmp_path / "04_train.ipynb", as_version=4)
        printed = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
        assert (f"training job {newest['TrainingJobName']} replaces {earlier['TrainingJobName']}: epochs 15 → 3"
                in printed), printed[-2000:]
        again = run_helpers(*args, env={"PIPELINE_DREAMS_CONTINUE_RUN": "1"})
        assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
        assert len(lambda_job(sm, "training", f"pipeline-dreams-train-{run}")) == 2


class TestShuffledLabels:
    @pytest.mark.slow(6)
    def test_a_model_trained_on_shuffled_labels_fails_at_the_gate(self, series: dict, cloud, tmp_path: Path) -> None:
        """Garbage in must not be deployed.

        1. Serve iris with its species shuffled (fixed seed) on 127.0.0.1.
        2. Start the gated pipeline (deployed by notebook 06) on it with min_accuracy 0.9.
        3. The execution FAILS with QualityGateFailed; the cause has the accuracy (< 0.9) and the threshold.
        """
        import functools
        import http.server
        import json
        import re
        import threading

        rows = [line.split(",") for line in (Path(__file__).resolve().parents[2] / "data/iris.data").read_text().split()]
        labels = [row[4] for row in rows]
        np.random.default_rng(7).shuffle(labels)
        (tmp_path / "shuffled.data").write_text("".join(",".join(r[:4] + [l]) + "\n" for r, l in zip(rows, labels)))
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
        handler.log_message = lambda *args: None
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            sfn, s3 = cloud.client("stepfunctions"), cloud.client("s3")
            bucket = next(b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("pipeline-dreams-"))
            machine = next(m for m in sfn.list_state_machines()["stateMachines"]
                           if m["name"] == "pipeline-dreams-pipeline")
            run = f"{series['run_id']}-shuffled"
            arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name=run, input=json.dumps({
                "bucket": bucket, "run_id": run, "run_prefix": f"runs/{run}", "min_accuracy": 0.9,
                **pipeline_settings(SimpleNamespace(settings=settings())),
                "data_url": f"http://127.0.0.1:{server.server_address[1]}/shuffled.data"}))["executionArn"]
            deadline = time.monotonic() + 180
            while (execution := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
                assert time.monotonic() < deadline, "the shuffled run did not end"
                time.sleep(0.3)
        finally:
            server.shutdown()
        assert execution["status"] == "FAILED" and execution["error"] == "QualityGateFailed", execution
        accuracy = float(re.search(r"accuracy ([0-9.]+) is below min_accuracy 0.9", execution["cause"]).group(1))
        assert accuracy < 0.9
