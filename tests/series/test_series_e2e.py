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
    """Run 01-07 once for the module (about a minute)."""
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
                            "05_stepfunctions.ipynb", "06_evaluate.ipynb", "07_triggers.ipynb"]
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


class TestEvaluationGateAndTrigger:
    def test_the_gated_run_deployed_a_model_that_answers(self, series: dict, cloud) -> None:
        """Notebook 06's run.

        1. evaluation.json of <run_id>-gated has accuracy ≥ 0.9 and a 3x3 confusion matrix summing to 30.
        2. The kit's endpoint is InService on that run's model and answers the test rows like the truth.
        """
        import json

        s3, run = cloud.client("s3"), series["run_id"]
        bucket = next(b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("pipeline-dreams-"))
        report = json.loads(s3.get_object(Bucket=bucket, Key=f"runs/{run}-gated/evaluation/report/evaluation.json")
                            ["Body"].read())
        assert report["accuracy"] >= 0.9 and sum(map(sum, report["confusion_matrix"])) == 30
        endpoint = cloud.client("sagemaker").describe_endpoint(EndpointName="pipeline-dreams-iris")
        assert endpoint["EndpointStatus"] == "InService"
        test = pd.read_csv(io.BytesIO(s3.get_object(Bucket=bucket, Key=f"runs/{run}-gated/processed/test/test.csv")
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
        sfn, run = cloud.client("stepfunctions"), series["run_id"]
        machine = next(m for m in sfn.list_state_machines()["stateMachines"] if m["name"] == "pipeline-dreams-pipeline")
        execution = sfn.describe_execution(
            executionArn=machine["stateMachineArn"].replace(":stateMachine:", ":execution:") + f":{run}-strict")
        assert execution["status"] == "FAILED" and execution["error"] == "QualityGateFailed"
        assert "is below min_accuracy 1.01" in execution["cause"] and "accuracy 0." in execution["cause"]
        configs = cloud.client("sagemaker").list_endpoint_configs(NameContains=f"{run}-strict")["EndpointConfigs"]
        assert configs == []

    def test_an_upload_under_incoming_started_its_own_run(self, series: dict, cloud) -> None:
        """Notebook 07's trigger.

        1. An execution of the pipeline has the uploaded key in its input (it came from EventBridge).
        2. It SUCCEEDED and wrote a run of its own (runs/t-…/raw/iris.data is there).
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
        assert s3.head_object(Bucket=output["bucket"], Key=f"{output['run_prefix']}/raw/iris.data")["ContentLength"] > 0


class TestShuffledLabels:
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


def kit_resources(cloud, prefix: str) -> dict[str, list[str]]:
    """Every service the kit uses, listed directly (not through helpers.cleanup)."""
    sm = cloud.client("sagemaker")
    return {
        "s3": [b["Name"] for b in cloud.client("s3").list_buckets()["Buckets"] if b["Name"].startswith(prefix)],
        "lambda": [f["FunctionName"] for f in cloud.client("lambda").list_functions()["Functions"]
                   if f["FunctionName"].startswith(prefix)],
        "stepfunctions": [m["name"] for m in cloud.client("stepfunctions").list_state_machines()["stateMachines"]
                          if m["name"].startswith(prefix)],
        "endpoints": [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"] if e["EndpointName"].startswith(prefix)],
        "endpoint configs": [c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]
                             if c["EndpointConfigName"].startswith(prefix)],
        "models": [m["ModelName"] for m in sm.list_models()["Models"] if m["ModelName"].startswith(prefix)],
        "rules": [r["Name"] for r in cloud.client("events").list_rules()["Rules"] if r["Name"].startswith(prefix)],
        "ecr": [r["repositoryName"] for r in cloud.client("ecr").describe_repositories()["repositories"]
                if r["repositoryName"].startswith(prefix)],
        "iam": [r["RoleName"] for r in cloud.client("iam").list_roles()["Roles"] if r["RoleName"].startswith(prefix)],
        "log groups": [g["logGroupName"] for g in cloud.client("logs").describe_log_groups()["logGroups"]
                       if g["logGroupName"].startswith(f"/aws/lambda/{prefix}")],
    }


class TestCleanup:
    def test_run_with_cleanup_leaves_nothing_and_clean_is_safe_twice(self, cloud, tmp_path: Path) -> None:
        """A whole series with --cleanup, under its own prefix so the other tests' resources stay.

        1. `python -m helpers run --cleanup -p prefix clean-e2e`: 01-07 then 99; exit 0.
        2. Before cleanup it had made resources in every service (the summary's facts came from them).
        3. Listing every service directly finds nothing with the prefix.
        4. `python -m helpers clean` again: exit 0, "nothing of the kit's was found", "left: 0".
        """
        prefix = "clean-e2e"
        result = run_helpers("run", "--endpoint", cloud.url, "--out", str(tmp_path), "--cleanup", "-p", "prefix", prefix,
                             "-p", "run_id", "c1", "-p", "data_url", f"{cloud.data_url}/iris.data")
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert (tmp_path / "99_cleanup.ipynb").exists() and "test accuracy:" in result.stdout
        leftovers = kit_resources(cloud, prefix)
        assert leftovers == {service: [] for service in leftovers}
        again = run_helpers("clean", "--endpoint", cloud.url, "-p", "prefix", prefix, timeout=120)
        assert again.returncode == 0 and "nothing of the kit's was found" in again.stdout and "left: 0" in again.stdout
