"""Bring your own CSV: the series through 06 on scikit-learn's wine data, exported with a header.

The data set ships with scikit-learn (offline); the test serves it on 127.0.0.1 like any learner's URL.
"""

from __future__ import annotations

import functools
import http.server
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest
from sklearn.datasets import load_wine

pytestmark = pytest.mark.series


def notebook_text(path: Path) -> str:
    notebook = nbformat.read(path, as_version=4)
    return "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
                   for c in notebook.cells if c.cell_type == "code" for o in c.outputs)


def serve(folder: Path) -> http.server.ThreadingHTTPServer:
    """``folder`` served on 127.0.0.1 (a learner's own URL), in a thread."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run_series(cloud, out: Path, notebooks: str, *parameters: str, **env: str) -> subprocess.CompletedProcess:
    """``python -m helpers run`` on the session's cloud; ``env`` adds variables (PIPELINE_DREAMS_CONTINUE_RUN)."""
    import os

    environment = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_DREAMS_")}
    environment.update(env, PIPELINE_DREAMS_LOCAL_ACCESS_KEY_ID=cloud.keys["AWS_ACCESS_KEY_ID"],
                       PIPELINE_DREAMS_LOCAL_SECRET_ACCESS_KEY=cloud.keys["AWS_SECRET_ACCESS_KEY"])
    arguments = [item for pair in zip(["-p"] * (len(parameters) // 2), parameters[::2], parameters[1::2])
                 for item in pair]
    return subprocess.run([sys.executable, "-m", "helpers", "run", "--endpoint", cloud.url, "--out", str(out),
                           "--notebooks", notebooks, *arguments], capture_output=True, text=True, timeout=900,
                          env=environment)


def wine_csv(folder: Path) -> Path:
    """scikit-learn's wine data as a learner exports it: a header row, the label in the column "cultivar"."""
    wine = load_wine(as_frame=True)
    frame = wine.frame.rename(columns={"target": "cultivar"})
    frame["cultivar"] = [wine.target_names[i] for i in wine.target]
    folder.mkdir(exist_ok=True)
    frame.to_csv(folder / "wine.csv", index=False)
    return folder / "wine.csv"


class TestSwitchingDatasetUnderOneRunId:
    @pytest.mark.slow(20)
    def test_03_processes_the_file_02_just_wrote(self, cloud, tmp_path: Path) -> None:
        """
        1. Run 01-03 on iris with a run id; then, under the same run id (continued on purpose), run 02 and 03
           with a wine CSV (-p data_url …/wine.csv -p label_column cultivar): raw/ now holds iris.data and wine.csv.
        2. Exit 0 both times; the second 03 says which file it processes (wine.csv, the one 02 wrote last) and
           its train split has wine's 13 features and 3 labels (it was refused with "2 data files found").
        """
        server = serve(wine_csv(tmp_path / "data").parent)
        run_id = f"switch-{time.time_ns() % 10**6}"
        try:
            first = run_series(cloud, tmp_path / "iris", "01,02,03", "prefix", "switch-e2e", "run_id", run_id)
            assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
            second = run_series(cloud, tmp_path / "wine", "02,03", "prefix", "switch-e2e", "run_id", run_id,
                                "data_url", f"http://127.0.0.1:{server.server_address[1]}/wine.csv",
                                "label_column", "cultivar", PIPELINE_DREAMS_CONTINUE_RUN="1")
        finally:
            server.shutdown()
        assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
        printed = notebook_text(tmp_path / "wine" / "03_preprocess.ipynb")
        assert "processing wine.csv, the one 02 wrote last (not iris.data)" in printed, printed[-3000:]
        assert "train (142, 14)" in printed and "labels [0, 1, 2]" in printed, printed[-3000:]


class TestTwoClassCsv:
    @pytest.mark.slow(40)
    def test_a_two_class_csv_trains_a_binary_classifier_and_names_the_endpoint_after_itself(self, cloud, tmp_path):
        """
        1. scikit-learn's breast cancer data (569 rows, 30 features, 2 classes) as breast_cancer.csv with a header
           and the label column "diagnosis"; run 01-06 with -p data_url … -p label_column diagnosis.
        2. Exit 0; 04's training job has predictor_type binary_classifier and no num_classes (settings.toml's 3
           classes did not reach it), 04 says why; 06 scored ≥ 0.85 and deployed to <prefix>-breast-cancer.
        """
        from sklearn.datasets import load_breast_cancer

        data = load_breast_cancer(as_frame=True)
        frame = data.frame.rename(columns={"target": "diagnosis"})
        frame.columns = [re.sub(r"[^a-z0-9]+", "_", c.lower()) for c in frame.columns]
        frame["diagnosis"] = [data.target_names[i] for i in data.target]
        (tmp_path / "data").mkdir()
        frame.to_csv(tmp_path / "data" / "breast_cancer.csv", index=False)
        server = serve(tmp_path / "data")
        run_id = f"bc-{time.time_ns() % 10**6}"
        try:
            result = run_series(cloud, tmp_path / "out", "01,02,03,04,05,06", "prefix", "bc-e2e", "run_id", run_id,
                                "data_url", f"http://127.0.0.1:{server.server_address[1]}/breast_cancer.csv",
                                "label_column", "diagnosis")
        finally:
            server.shutdown()
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        sagemaker = cloud.client("sagemaker")
        jobs = [j["TrainingJobName"] for j in sagemaker.list_training_jobs(NameContains=f"bc-e2e-train-{run_id}",
                                                                         MaxResults=100)["TrainingJobSummaries"]]
        assert jobs
        hyperparameters = sagemaker.describe_training_job(TrainingJobName=jobs[0])["HyperParameters"]
        assert hyperparameters["predictor_type"] == "binary_classifier" and "num_classes" not in hyperparameters
        assert "the data has 2 classes (benign, malignant): predictor_type multiclass_classifier → " \
            "binary_classifier" in notebook_text(tmp_path / "out" / "04_train.ipynb")
        printed = notebook_text(tmp_path / "out" / "06_evaluate.ipynb")
        match = re.search(r"accuracy ([0-9.]+) on (\d+) held-out rows", printed)
        assert match and float(match.group(1)) >= 0.85, printed[-3000:]
        assert sagemaker.describe_endpoint(EndpointName="bc-e2e-breast-cancer")["EndpointStatus"] == "InService"


class TestWineCsv:
    @pytest.mark.slow(38)
    def test_the_series_runs_on_a_wine_csv_with_a_header_and_a_named_label(self, cloud, tmp_path: Path) -> None:
        """
        1. Export load_wine as wine.csv: a header row, 13 numeric columns and the label column "cultivar".
        2. Serve it on 127.0.0.1 and run 01-06 with -p data_url …/wine.csv -p label_column cultivar
           (own prefix and run id, so the iris series' endpoint is untouched).
        3. Exit 0; 02 stored the object as raw/wine.csv; 06 printed a test accuracy ≥ 0.85 on 36 held-out rows
           with the three cultivars as classes.
        """
        wine = load_wine(as_frame=True)
        frame = wine.frame.rename(columns={"target": "cultivar"})
        frame["cultivar"] = [wine.target_names[i] for i in wine.target]
        (tmp_path / "data").mkdir()
        frame.to_csv(tmp_path / "data" / "wine.csv", index=False)
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "data"))
        handler.log_message = lambda *args: None
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        run_id = f"wine-{time.time_ns() % 10**6}"
        try:
            result = subprocess.run(
                [sys.executable, "-m", "helpers", "run", "--endpoint", cloud.url, "--out", str(tmp_path / "out"),
                 "--notebooks", "01,02,03,04,05,06", "-p", "prefix", "wine-e2e", "-p", "run_id", run_id,
                 "-p", "data_url", f"http://127.0.0.1:{server.server_address[1]}/wine.csv",
                 "-p", "label_column", "cultivar"], capture_output=True, text=True, timeout=900)
        finally:
            server.shutdown()
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert f"runs/{run_id}/raw/wine.csv" in notebook_text(tmp_path / "out" / "02_ingest.ipynb")
        printed = notebook_text(tmp_path / "out" / "06_evaluate.ipynb")
        match = re.search(r"accuracy ([0-9.]+) on (\d+) held-out rows", printed)
        assert match, printed[-3000:]
        assert float(match.group(1)) >= 0.85 and int(match.group(2)) == 36
        assert "class_0" in printed and "class_2" in printed
