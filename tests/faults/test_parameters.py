"""Parameters the kit must refuse before it makes anything: a bad region, a bucket name AWS rejects, a run id
that is taken. Each through ``helpers.connect`` (a notebook's first cell) and ``python -m helpers run``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from faults_support import PROJECT_ROOT, NOTHING, connect, load_fixture, new_prefix, owned, run_helpers

import helpers
from helpers.config import ConfigError, Names, bucket_name_problem

PARAMETERS = load_fixture("faults_parameters.json")


class TestBadRegion:
    """A region that is malformed, or well-formed but not AWS's, is refused by name."""

    @pytest.mark.parametrize("region", sorted(PARAMETERS["regions"]))
    def test_connect_refuses_it(self, cloud, region):
        """
        1. Connect (as every notebook's first cell does) with the region.
        2. ConfigError quoting the value and saying what is wrong; nothing under the prefix exists.
        """
        prefix = new_prefix("reg")
        with pytest.raises(ConfigError) as raised:
            connect(cloud.url, prefix, region=region)
        assert f"region {region!r}" in str(raised.value)
        assert PARAMETERS["regions"][region] in str(raised.value)
        assert owned(cloud, prefix) == NOTHING

    def test_runner_refuses_it_before_anything_is_made(self, cloud, tmp_path):
        """
        1. `python -m helpers run --notebooks 01,02 -p region eu-moon-1` (a region that looks right; before the
           fix the local cloud made the bucket and then Lambda answered 500).
        2. Exit 1; stderr names 01_bucket.ipynb, its cell, ConfigError and the value; 02 never ran.
        3. No bucket, role, function or repository with the prefix exists.
        """
        prefix = new_prefix("reg")
        result = run_helpers("run", "--endpoint", cloud.url, "--out", str(tmp_path), "--notebooks", "01,02",
                             "-p", "prefix", prefix, "-p", "run_id", "r1", "-p", "region", "eu-moon-1", timeout=180)
        assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
        assert "series FAILED: 01_bucket.ipynb failed in cell" in result.stderr
        assert "ConfigError: region 'eu-moon-1' is not an AWS region" in result.stderr
        assert not (tmp_path / "02_ingest.ipynb").exists()
        assert owned(cloud, prefix) == NOTHING


class TestBucketNameAWSRejects:
    """The kit's bucket is ``<prefix>-<account>-<region>``: a prefix that makes S3 refuse it is refused first."""

    @pytest.mark.parametrize("prefix", sorted(PARAMETERS["prefixes"]))
    def test_connect_refuses_the_prefix(self, cloud, prefix):
        """
        1. Connect with the prefix (upper case, underscore, 25 characters, or a prefix S3 reserves).
        2. ConfigError quoting the prefix and the rule; nothing with the prefix exists.
        """
        with pytest.raises(ConfigError) as raised:
            connect(cloud.url, prefix)
        assert f"prefix {prefix!r}" in str(raised.value)
        assert PARAMETERS["prefixes"][prefix] in str(raised.value)
        assert owned(cloud, prefix.lower().replace("_", "-")) == NOTHING

    @pytest.mark.parametrize("name", sorted(PARAMETERS["bucket_names"]))
    def test_bucket_name_rules(self, name):
        """
        1. Check whole bucket names against S3's rules (suffixes a prefix cannot produce, IP form, dots, length).
        2. Each has the expected problem; the kit's own bucket names have none.
        """
        assert PARAMETERS["bucket_names"][name] in (bucket_name_problem(name) or "")
        assert bucket_name_problem(Names("pipeline-dreams", "0" * 12, "eu-west-1").bucket) is None

    def test_names_refuse_a_bucket_s3_would_reject(self):
        """
        1. Build Names whose bucket would start with "xn--" (not through settings, which refuse it earlier).
        2. Asking for the bucket name raises ConfigError quoting the name, before any call could use it.
        """
        with pytest.raises(ConfigError, match=r"bucket name 'xn--kit-0{12}-eu-west-1' .* 'xn--'"):
            Names("xn--kit", "0" * 12, "eu-west-1").bucket

    def test_runner_refuses_it_before_anything_is_made(self, cloud, tmp_path):
        """
        1. `python -m helpers run --notebooks 01 -p prefix xn--<random>`.
        2. Exit 1; stderr names 01_bucket.ipynb, ConfigError, the prefix and the reserved start.
        3. Nothing with the prefix exists.
        """
        prefix = "xn--" + new_prefix("k")
        result = run_helpers("run", "--endpoint", cloud.url, "--out", str(tmp_path), "--notebooks", "01",
                             "-p", "prefix", prefix, "-p", "run_id", "r1", timeout=180)
        assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
        assert "01_bucket.ipynb failed in cell" in result.stderr
        assert f"ConfigError: prefix {prefix!r} would make a bucket name AWS rejects" in result.stderr
        assert "'xn--'" in result.stderr
        assert owned(cloud, prefix) == NOTHING


@pytest.fixture(scope="module")
def taken(cloud) -> dict:
    """A kit bucket holding the outputs of run "taken" and of notebook 05's run "taken2-pipeline-<hash>"."""
    kit = connect(cloud.url, new_prefix("col"))
    bucket = helpers.s3.ensure_bucket(kit)
    s3 = kit.client("s3")
    for key in ("runs/taken/raw/iris.data", "runs/taken2-pipeline-0a1b2c/raw/iris.data"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"5.1,3.5,1.4,0.2,Iris-setosa\n")
    return {"prefix": kit.settings.prefix, "bucket": bucket}


class TestRunIdThatCollides:
    """An explicit run id is taken when its outputs exist: the runner refuses it before any notebook runs."""

    @pytest.mark.parametrize("run_id, key", [("taken", "runs/taken/raw/iris.data"),
                                             ("taken2", "runs/taken2-pipeline-0a1b2c/raw/iris.data")])
    def test_runner_refuses_a_taken_run_id(self, cloud, taken, tmp_path, run_id, key):
        """
        1. `python -m helpers run --notebooks 01,02 -p run_id <id>` where runs/<id>/ (or a run notebook 05
           makes from it, <id>-pipeline-<hash of its settings>) already has objects.
        2. Exit 1; stderr says the run id is taken, names the bucket and a key found, and how to go on.
        3. No notebook ran (the --out folder was not even made); the cloud holds exactly what it held.
        """
        before = owned(cloud, taken["prefix"])
        out = tmp_path / "out"
        result = run_helpers("run", "--endpoint", cloud.url, "--out", str(out), "--notebooks", "01,02",
                             "-p", "prefix", taken["prefix"], "-p", "run_id", run_id, timeout=180)
        assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
        assert f"series FAILED: run id {run_id!r} is taken: s3://{taken['bucket']}/ already holds {key}" \
            in result.stderr
        assert "PIPELINE_DREAMS_CONTINUE_RUN=1" in result.stderr and "Nothing was run" in result.stderr
        assert not out.exists()
        assert owned(cloud, taken["prefix"]) == before

    def test_continuing_on_purpose_and_a_new_run_id_are_accepted(self, cloud, taken, tmp_path):
        """
        1. The same taken run id with PIPELINE_DREAMS_CONTINUE_RUN=1: notebook 01 runs and finds its bucket.
        2. A run id nobody used: notebook 01 runs.
        """
        again = run_helpers("run", "--endpoint", cloud.url, "--out", str(tmp_path / "a"), "--notebooks", "01",
                            "-p", "prefix", taken["prefix"], "-p", "run_id", "taken", timeout=180,
                            PIPELINE_DREAMS_CONTINUE_RUN="1")
        assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
        fresh = run_helpers("run", "--endpoint", cloud.url, "--out", str(tmp_path / "b"), "--notebooks", "01",
                            "-p", "prefix", taken["prefix"], "-p", "run_id", "fresh", timeout=180)
        assert fresh.returncode == 0, fresh.stdout[-2000:] + fresh.stderr[-2000:]
        assert (tmp_path / "b" / "01_bucket.ipynb").exists()


class TestOneRunIdTwoRunnersAtOnce:
    """Two runners started at the same moment with one run id: exactly one runs, the other writes nothing.

    Issue 9: the taken-run-id check was check-then-act; both runs passed it and the good run failed with the
    other run's data error (its raw object had been overwritten). The claim is an S3 conditional write
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html): exactly one writer wins.
    """

    def test_exactly_one_claims_it(self, cloud, tmp_path):
        """
        1. Start two `python -m helpers run --notebooks 01,02 -p run_id twin` processes together on one cloud
           and prefix (the bucket does not exist yet: both race to make it, too).
        2. One exits 0; the other exits 1 saying the run id is taken, that another run claimed it, and that
           nothing was run; it made no --out folder.
        3. The bucket holds the claim and the winner's raw data only.
        """
        prefix = new_prefix("twin")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_DREAMS_")}
        runners = [subprocess.Popen(
            [sys.executable, "-m", "helpers", "run", "--endpoint", cloud.url, "--out", str(tmp_path / name),
             "--notebooks", "01,02", "-p", "prefix", prefix, "-p", "run_id", "twin",
             "-p", "data_url", f"{cloud.data_url}/iris.data"],
            cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for name in ("a", "b")]
        outcomes = [(runner.returncode, out, err) for runner in runners
                    for out, err in [runner.communicate(timeout=300)]]
        codes = sorted(code for code, _, _ in outcomes)
        assert codes == [0, 1], [(code, out[-1500:], err[-1500:]) for code, out, err in outcomes]
        loser = next(index for index, (code, _, _) in enumerate(outcomes) if code == 1)
        assert "series FAILED: run id 'twin' is taken: another run claimed it" in outcomes[loser][2]
        assert "Nothing was run" in outcomes[loser][2]
        assert not (tmp_path / ("a", "b")[loser]).exists()
        objects = [key.split("/", 1)[1] for key in owned(cloud, prefix)["objects"]]
        assert objects == ["runs/twin/.run-claim.json", "runs/twin/raw/iris.data"]


class TestEndpointWithoutDataUrl:
    """The README's newcomer path: start `python -m localcloud`, then `helpers run --endpoint …` with no data_url.

    Issue 9: 02's Lambda then resolved archive.ics.uci.edu (the internet) and the series failed offline. The
    cloud says where it serves its data (GET /_localcloud/info) and the notebooks download from there.
    """

    @pytest.mark.slow(10)
    def test_ingest_downloads_from_the_clouds_data_server(self, cloud, tmp_path):
        """
        1. `python -m helpers run --endpoint <cloud> --notebooks 01,02` with no data_url anywhere.
        2. Exit 0; the fetch-data function's DATA_URL is the cloud's data server's iris.data.
        3. The raw object holds the kit's data/iris.data, byte for byte.
        """
        prefix = new_prefix("nodata")
        result = run_helpers("run", "--endpoint", cloud.url, "--out", str(tmp_path), "--notebooks", "01,02",
                             "-p", "prefix", prefix, "-p", "run_id", "offline", timeout=300)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        function = cloud.client("lambda").get_function_configuration(FunctionName=f"{prefix}-fetch-data")
        assert function["Environment"]["Variables"]["DATA_URL"] == f"{cloud.data_url}/iris.data"
        bucket = owned(cloud, prefix)["buckets"][0]
        raw = cloud.client("s3").get_object(Bucket=bucket, Key="runs/offline/raw/iris.data")["Body"].read()
        assert raw == (PROJECT_ROOT / "data" / "iris.data").read_bytes()


class TestTypoInASettingName:
    """A misspelt setting is refused, naming the nearest known name, before anything is made
    (real linear-learner refuses a training job with an unknown hyperparameter:
    https://docs.aws.amazon.com/sagemaker/latest/dg/ll_hyperparameters.html)."""

    def test_runner_refuses_a_misspelt_p(self, cloud, tmp_path):
        """
        1. `python -m helpers run --notebooks 01,02 -p epcohs 2` (epochs misspelt).
        2. Exit 1; stderr names "epcohs" and "did you mean epochs?"; nothing was made (not even the run's claim).
        """
        prefix = new_prefix("typo")
        result = run_helpers("run", "--endpoint", cloud.url, "--out", str(tmp_path), "--notebooks", "01,02",
                             "-p", "prefix", prefix, "-p", "run_id", "t1", "-p", "epcohs", "2", timeout=180)
        assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
        assert "epcohs (did you mean epochs?)" in result.stderr, result.stderr[-2000:]
        assert owned(cloud, prefix) == NOTHING

    def test_a_typo_in_the_parameters_cell_is_refused(self, cloud, tmp_path, monkeypatch):
        """
        1. Notebook 01 with `epcohs = 2` added to its parameters cell, as a learner types it in JupyterLab,
           run with papermill against the cloud.
        2. It stops in the connect cell with UnknownSettingError naming epcohs and epochs; no bucket exists.
        """
        import nbformat
        import papermill

        prefix = new_prefix("typo")
        notebook = nbformat.read(PROJECT_ROOT / "notebooks" / "01_bucket.ipynb", as_version=4)
        cell = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
        cell.source = cell.source.replace('prefix = ""', f'prefix = "{prefix}"') + "\nepcohs = 2\n"
        source = tmp_path / "01_typo.ipynb"
        nbformat.write(notebook, source)
        for name, value in cloud.kit_env.items():  # the kernel papermill starts inherits them
            monkeypatch.setenv(name, value)
        with pytest.raises(papermill.PapermillExecutionError) as raised:
            papermill.execute_notebook(str(source), str(tmp_path / "out.ipynb"), kernel_name="python3",
                                       progress_bar=False, cwd=str(PROJECT_ROOT / "notebooks"))
        assert raised.value.ename == "UnknownSettingError"
        assert "epcohs (did you mean epochs?)" in raised.value.evalue
        assert owned(cloud, prefix) == NOTHING
