"""Someone else's article-style project runs offline unmodified (issue 12).

The project under tests/fixtures/article_project is laid out and written the article's way:
its own Dockerfile folders with relative COPY, handlers that hard-code the author's account in
role ARNs and image URIs, a fixed bucket, ``preprocess.py`` fetched from S3 by the processing job
and a hard-coded https data URL fetched with ``requests.get`` and no timeout. The tests copy it
into a temp folder as ``src/...`` (the fixture keeps the 12-digit account out of any ``src/``
path) and deploy it with plain boto3 (its ``deploy.py``) on a cloud started with
``--account``, ``--image`` and ``--mirror``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from _support import create_role, unique_name, zip_bytes
from conftest_cloud import PROJECT_ROOT, CloudProcess, boto_keys

FIXTURE = PROJECT_ROOT / "tests" / "fixtures" / "article_project"
AUDIT_SITE = PROJECT_ROOT / "tests" / "series" / "audit_site"
# The article author's account, hard-coded in the fixture's handlers (kept in tests/fixtures only).
AUTHOR_ACCOUNT = re.search(r'^ACCOUNT = "([0-9]{12})"$', (FIXTURE / "deploy.py").read_text(), re.M).group(1)
DATA_URL = "https://archive.ics.uci.edu/ml/machine-learning-databases/iris/iris.data"
IRIS = PROJECT_ROOT / "data" / "iris.data"


def article_project(root: Path) -> Path:
    """The fixture laid out as the article's repository: src/data, src/preprocess, src/pipeline, deploy.py."""
    for folder in ("data", "preprocess", "pipeline"):
        shutil.copytree(FIXTURE / folder, root / "src" / folder)
    shutil.copy2(FIXTURE / "deploy.py", root / "deploy.py")
    return root


def script_env(cloud, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A plain boto3 user's environment after ``eval "$(python -m localcloud env)"``: the endpoint and the cloud's
    keys, none of the kit's or the user's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PIPELINE_DREAMS_", "MOTO_"))}
    env.update(cloud.script_env, AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, **(extra or {}))
    return env


def one_line_error(*args: str) -> tuple[int, list[str], float]:
    """Run ``python -m localcloud ARGS`` expecting it to refuse them: (exit code, stderr lines, seconds)."""
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "localcloud", "--port", "0", *args], capture_output=True,
                            text=True, timeout=60, cwd=PROJECT_ROOT)
    return result.returncode, result.stderr.splitlines(), time.monotonic() - started


class TestArticleProjectRunsOffline:
    def test_ingest_through_the_mirror_jobs_run_chain_succeeds_training_loses_the_race(self, tmp_path: Path) -> None:
        """The article's pipeline, deployed unmodified, behaves as on AWS, and nothing leaves 127.0.0.1.

        1. Lay the project out in a temp folder; start ``python -m localcloud --account <author's id>
           --image iris-data-ingest=src/data --image iris-preprocess=src/preprocess --mirror <UCI URL>=data/iris.data``
           with tests/series/audit_site on PYTHONPATH (every process it starts refuses and logs any
           non-loopback connection or DNS lookup in LOOPBACK_AUDIT_LOG).
        2. Run deploy.py (plain boto3, no kit imports, also audited): STS answers the author's account, the
           roles it creates have the ARNs the handlers hard-code, ECR's repository URIs name the author's
           registry host.
        3. The state machine (three Lambda tasks named by the author's ARNs) reaches SUCCEEDED: a Lambda task
           returns when the function returns, it does not wait for the job it started
           (https://docs.aws.amazon.com/step-functions/latest/dg/connect-lambda.html).
        4. The image Lambda (built from src/data/Dockerfile, handler from its CMD) downloaded iris.data through
           the mirror (the same 4551 bytes); the processing job ran preprocess.py fetched from S3 with the
           image's python3 ContainerEntrypoint (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_AppSpecification.html)
           and wrote train/test.
        5. The training job started by the chain failed as on AWS: when it looked, no object existed under its
           S3Prefix yet (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_S3DataSource.html).
        6. The audit log is empty, and it was armed in deploy.py, the cloud, the Lambda workers and the processing job
           (or the warm-job template it is a fork of).
        """
        project = article_project(tmp_path / "project")
        log = tmp_path / "connections.log"
        audited = {"PYTHONPATH": os.pathsep.join(filter(None, [str(AUDIT_SITE), os.environ.get("PYTHONPATH")])),
                   "LOOPBACK_AUDIT_LOG": str(log)}
        cloud = CloudProcess("--account", AUTHOR_ACCOUNT,
                             "--image", f"iris-data-ingest={project / 'src/data'}",
                             "--image", f"iris-preprocess={project / 'src/preprocess'}",
                             "--mirror", f"{DATA_URL}={IRIS}", env={**os.environ, **audited})
        try:
            result = subprocess.run([sys.executable, "deploy.py", str(project)], cwd=project, capture_output=True,
                                    text=True, timeout=300, env=script_env(cloud, audited))
        finally:
            cloud.stop()
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
        report = json.loads(result.stdout.split("RESULT ", 1)[1])

        assert report["account"] == AUTHOR_ACCOUNT
        assert report["SageMakerExecutionRole"] == f"arn:aws:iam::{AUTHOR_ACCOUNT}:role/SageMakerExecutionRole"
        assert report["repositories"][0] == f"{AUTHOR_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/iris-data-ingest"
        assert report["execution"]["status"] == "SUCCEEDED", report["execution"]
        assert report["execution"]["arn"].startswith(f"arn:aws:states:us-east-1:{AUTHOR_ACCOUNT}:execution:")
        assert report["raw_bytes"] == IRIS.stat().st_size
        assert report["processing"]["ProcessingJobStatus"] == "Completed", report["processing"]
        assert report["processed"] == ["processed/test/test.csv", "processed/train/train.csv"]
        training = report["training"]
        assert training["TrainingJobStatus"] == "Failed", training
        assert training["FailureReason"].startswith("ClientError: no S3 objects found under "
                                                    "s3://iris-ml-pipeline-data/processed/train/"), training
        assert training["RoleArn"] == f"arn:aws:iam::{AUTHOR_ACCOUNT}:role/SageMakerExecutionRole"

        assert not log.exists() or not log.read_text(), f"non-loopback connections: {log.read_text()}"
        armed = Path(f"{log}.armed").read_text()
        # (the training job fails on its input, before it starts a process)
        for marker in ("-m localcloud --port", "localcloud.child.lambda_bootstrap", "deploy.py"):
            assert marker in armed, f"the audit never armed in a process running {marker!r}"
        # The processing job runs warm (the default): a fork of the warm-job template, which armed the hook
        # before any fork; a fork inherits it and it cannot be removed
        # (https://docs.python.org/3/library/sys.html#sys.addaudithook). Cold, it is its own process.
        assert ("/opt/ml/processing/input/code/preprocess.py" in armed or "-m localcloud.child.warm_template" in armed), \
            "the audit never armed in the processing job's process or the warm-job template it forks from"


class TestOwnCodeOptionsFailInOneLine:
    """A mistake in --account/--image/--mirror stops the cloud at start-up with one line naming it."""

    @pytest.mark.parametrize("case", ["unknown image folder", "Lambda image without CMD", "package not installed",
                                      "account not 12 digits", "mirror file missing", "mirror of a loopback URL"])
    def test_refused_with_one_line(self, tmp_path: Path, case: str) -> None:
        """
        1. Make the folder or file the case needs, start ``python -m localcloud`` with the option.
        2. It exits 2 within seconds (before importing moto), printing exactly one line that names the option
           value and what is wrong; nothing listens.
        """
        image = tmp_path / "image"
        image.mkdir()
        (image / "app.py").write_text("def handler(event, context):\n    return 1\n")
        lambda_base = "FROM public.ecr.aws/lambda/python:3.11\nCOPY app.py ${LAMBDA_TASK_ROOT}\n"
        args, expected = {
            "unknown image folder": (["--image", f"app={tmp_path / 'nowhere'}"], "no such directory"),
            "Lambda image without CMD": (["--image", f"app={image}"], "has no CMD naming the handler"),
            "package not installed": (["--image", f"app={image}"], "needs not-a-kit-package-xyz>=1, not installed"),
            "account not 12 digits": (["--account", "12345678901"], "an AWS account id is 12 digits"),
            "mirror file missing": (["--mirror", f"{DATA_URL}={tmp_path / 'none.csv'}"], "no such file"),
            "mirror of a loopback URL": (["--mirror", f"http://127.0.0.1:9/x={IRIS}"], "non-loopback host"),
        }[case]
        dockerfile = lambda_base + ('RUN pip install --no-cache-dir requests "not-a-kit-package-xyz>=1"\n'
                                    'CMD ["app.handler"]\n' if case == "package not installed" else "")
        (image / "Dockerfile").write_text(dockerfile)
        code, lines, seconds = one_line_error(*args)
        assert code == 2 and len(lines) == 1, lines
        assert lines[0].startswith("localcloud: ") and expected in lines[0], lines
        assert seconds < 20

    def test_image_is_not_an_abbreviation_of_images_dir(self) -> None:
        """
        1. ``--imag x`` (a prefix of both --image and --images-dir) and ``--images x=y`` are unrecognised.
        2. Before the fix, argparse took ``--image`` for ``--images-dir`` when no --image option existed.
        """
        for option in ("--imag", "--images"):
            code, lines, _ = one_line_error(option, "x=y")
            assert code == 2 and "unrecognized arguments" in lines[-1], lines


class TestUnmirroredUrlFailsAtOnce:
    """A handler fetching a URL the cloud does not mirror fails at once, naming the URL and --mirror."""

    @pytest.mark.parametrize("client", ["requests", "urllib"])
    def test_lambda_fetch_of_unmirrored_url(self, cloud, client: str) -> None:
        """
        1. Create a Zip Lambda whose handler fetches https://example.com/data.csv (no timeout) with ``client``.
        2. Invoke it on the session's cloud (started without --mirror).
        3. It fails within a few seconds (no DNS lookup, no connect timeout) with one line that names the URL
           and ``--mirror <url>=FILE``.
        """
        lam = cloud.client("lambda")
        fetch = {"requests": "import requests\n    return requests.get(URL).text",
                 "urllib": "import urllib.request\n    return urllib.request.urlopen(URL).read().decode()"}[client]
        code = f"URL = 'https://example.com/data.csv'\ndef handler(event, context):\n    {fetch}\n"
        name = unique_name("unmirrored")
        lam.create_function(FunctionName=name, Runtime="python3.11", Role=create_role(cloud, name), Handler="app.handler",
                            Code={"ZipFile": zip_bytes({"app.py": code})}, Timeout=30)
        started = time.monotonic()
        response = lam.invoke(FunctionName=name, Payload=b"{}")
        error = json.loads(response["Payload"].read())
        assert response.get("FunctionError") == "Unhandled", error
        assert time.monotonic() - started < 15
        message = error["errorMessage"]
        assert "\n" not in message
        assert "https://example.com/data.csv is not reachable offline" in message, message
        assert "--mirror https://example.com/data.csv=FILE" in message, message


class TestMirrorModule:
    """localcloud.child.mirror in a process of its own, as a Lambda environment or job loads it."""

    def test_mirrored_urls_answered_others_refused_before_any_socket(self, tmp_path: Path) -> None:
        """
        1. Start Python with LOCALCLOUD_MIRRORS naming an https and an http URL, and install the module.
        2. requests (https, a default port written out) and urllib.request (http) get the file's bytes, 200.
        3. An unmirrored URL through requests, and a raw socket to TEST-NET 203.0.113.1, fail at once with
           OfflineError lines naming the URL / address and --mirror.
        """
        script = textwrap.dedent("""
            import socket, time
            from localcloud.child import mirror
            mirror.install()
            import requests, urllib.request
            data = open(EXPECTED, "rb").read()
            assert requests.get("https://Mirror.Example:443/iris.data").content == data
            with urllib.request.urlopen("http://plain.example/a?b=c") as response:
                assert response.status == 200 and response.read() == data
            started = time.monotonic()
            for attempt in (lambda: requests.get("https://example.org/other"),
                            lambda: socket.create_connection(("203.0.113.1", 80), timeout=3)):
                try:
                    attempt()
                except OSError as exc:
                    print(str(exc))
            print(round(time.monotonic() - started, 2))
        """).replace("EXPECTED", repr(str(IRIS)))
        table = {"https://mirror.example/iris.data": str(IRIS), "http://plain.example/a?b=c": str(IRIS)}
        env = {**os.environ, "LOCALCLOUD_MIRRORS": json.dumps(table)}
        result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        refused_url, refused_socket, seconds = result.stdout.splitlines()
        assert "https://example.org/other is not reachable offline" in refused_url
        assert "--mirror https://example.org/other=FILE" in refused_url
        assert "203.0.113.1:80 refused" in refused_socket and "--mirror" in refused_socket
        assert float(seconds) < 2


class TestRunnerAndLabPassCloudOptions:
    """``python -m helpers run --cloud-arg`` and ``make lab``'s CLOUD_ARGS reach the cloud they start."""

    def test_runner_cloud_arg_reaches_the_cloud(self) -> None:
        """
        1. Start the runner's cloud (helpers.runner.series.LocalCloudProcess) with extra_args --account 210987654321.
        2. sts get-caller-identity on it answers that account.
        3. ``python -m helpers run --cloud-arg=--account=12`` fails at once with the cloud's own line.
        """
        import boto3

        from helpers.runner.series import LocalCloudProcess

        cloud = LocalCloudProcess.start(extra_args=["--account", "210987654321"])
        try:
            sts = boto3.session.Session().client("sts", region_name="us-east-1", endpoint_url=cloud.url,
                                                 **boto_keys(cloud.keys))
            assert sts.get_caller_identity()["Account"] == "210987654321"
        finally:
            cloud.stop()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_DREAMS_")}
        result = subprocess.run([sys.executable, "-m", "helpers", "run", "--cloud-arg=--account=12", "--notebooks",
                                 "01"], capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT, env=env)
        assert result.returncode == 1
        assert result.stderr.strip().splitlines()[-1] == ("series FAILED: the local cloud did not start: "
                                                          "localcloud: --account '12': an AWS account id is 12 digits")

    @pytest.mark.parametrize("cloud_args, expected", [("--account 210987654321", "account 210987654321"),
                                                      ("--account 12", "an AWS account id is 12 digits")])
    def test_lab_cloud_args_reach_the_cloud(self, tmp_path: Path, cloud_args: str, expected: str) -> None:
        """
        1. Run scripts/lab.sh (what ``make lab`` runs) with CLOUD_ARGS and a stand-in JupyterLab venv whose
           ``jupyter`` asks the cloud (PIPELINE_DREAMS_ENDPOINT) for its account and exits.
        2. A valid --account is the account sts reports; an invalid one stops make lab with the cloud's line.
        """
        jupyter = tmp_path / "lab" / "bin" / "jupyter"
        jupyter.parent.mkdir(parents=True)
        jupyter.write_text(f"#!/bin/sh\nexec {sys.executable} -c 'import os, boto3; print(\"account\", boto3.client("
                           "\"sts\", region_name=\"us-east-1\", endpoint_url=os.environ[\"PIPELINE_DREAMS_ENDPOINT\"],"
                           " aws_access_key_id=os.environ[\"PIPELINE_DREAMS_LOCAL_ACCESS_KEY_ID\"],"
                           " aws_secret_access_key=os.environ[\"PIPELINE_DREAMS_LOCAL_SECRET_ACCESS_KEY\"]"
                           ").get_caller_identity()[\"Account\"])'\n")
        jupyter.chmod(0o755)
        env = {**os.environ, "CLOUD_ARGS": cloud_args}
        result = subprocess.run(["bash", "scripts/lab.sh", sys.executable, str(tmp_path / "lab")], env=env,
                                capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)
        assert expected in result.stdout + result.stderr, result.stdout + result.stderr
        assert (result.returncode == 0) == cloud_args.endswith("210987654321")


class TestUnmirroredUrlFailsTheJob:
    def test_processing_script_fetching_unmirrored_url_fails_naming_it(self, cloud) -> None:
        """
        1. Start a processing job whose ContainerEntrypoint is ``python3 -c`` fetching https://example.com/x.csv
           with urllib (no timeout), on the session's cloud (no --mirror).
        2. The job fails within seconds; its FailureReason names the URL and ``--mirror https://example.com/x.csv=FILE``.
        """
        sm = cloud.client("sagemaker")
        name = unique_name("unmirrored")
        script = "import urllib.request; urllib.request.urlopen('https://example.com/x.csv')"
        sm.create_processing_job(
            ProcessingJobName=name, RoleArn=create_role(cloud, name),
            AppSpecification={"ImageUri": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/someone-else:1",
                              "ContainerEntrypoint": ["python3", "-c", script]},
            ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.t3.medium",
                                                   "VolumeSizeInGB": 1}})
        started = time.monotonic()
        while time.monotonic() - started < 60:
            job = sm.describe_processing_job(ProcessingJobName=name)
            if job["ProcessingJobStatus"] != "InProgress":
                break
            time.sleep(0.2)
        assert job["ProcessingJobStatus"] == "Failed", job
        assert "https://example.com/x.csv is not reachable offline" in job["FailureReason"], job["FailureReason"]
        assert "--mirror https://example.com/x.csv=FILE" in job["FailureReason"]
        assert time.monotonic() - started < 30
