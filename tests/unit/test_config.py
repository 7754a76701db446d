"""Tests for helpers.config: settings precedence, validation, connecting, names and tags.

Nothing here reaches AWS: the aws target runs on moto in-process, and the local target
talks to sockets these tests open on 127.0.0.1.
"""

from __future__ import annotations

import http.server
import json
import re
import socket
import time
from collections.abc import Iterator
from datetime import datetime, timezone

import boto3
import pytest
from _handler_support import local_server
from botocore.exceptions import ProfileNotFound

from helpers import config
from helpers.config import CloudNotReachable, ConfigError, Names, Settings

BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
JOB_NAME = re.compile(r"^[A-Za-z0-9](-*[A-Za-z0-9]){0,62}$")
LONGEST_PREFIX = "p" + "x" * 22 + "1"  # 24 characters: the most settings() accepts
LONGEST_RUN_ID = "2" + "9" * 23  # 24 characters
LONG_REGION = "ap-southeast-2"


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _IdentityHandler(http.server.BaseHTTPRequestHandler):
    """Answers every POST like STS GetCallerIdentity and records the request headers."""

    seen: list[dict[str, str]] = []
    account = "0" * 12

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).seen.append(dict(self.headers))
        body = (f'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                f"<GetCallerIdentityResult><Arn>arn:aws:iam::{self.account}:root</Arn><UserId>{self.account}</UserId>"
                f"<Account>{self.account}</Account></GetCallerIdentityResult>"
                f"<ResponseMetadata><RequestId>unit</RequestId></ResponseMetadata></GetCallerIdentityResponse>").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - the local cloud's info route: where it serves its data
        if self.path != config.LOCAL_CLOUD_INFO_PATH or not self.data_url:
            self.send_error(404)
            return
        body = json.dumps({"data_url": self.data_url}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    data_url = "http://127.0.0.1:9/served"

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def identity_server() -> Iterator[str]:
    """A listening HTTP server on 127.0.0.1 that plays STS; yields its URL."""
    _IdentityHandler.seen = []
    with local_server(_IdentityHandler) as url:
        yield url


class TestSettingsPrecedence:
    """settings(): an argument beats a PIPELINE_DREAMS_* variable, which beats the default."""

    def test_defaults_without_arguments_or_environment(self, aws_env):
        """
        1. Resolve settings with no arguments and no PIPELINE_DREAMS_* variables.
        2. Every field has its documented default, and the target is local.
        """
        resolved = config.settings()
        assert resolved == Settings(target="local", region=config.DEFAULT_REGION, prefix=config.KIT, run_id="demo",
                                    endpoint_url=config.DEFAULT_LOCAL_ENDPOINT, data_url="")

    def test_environment_overrides_defaults(self, aws_env, monkeypatch):
        """
        1. Set every PIPELINE_DREAMS_* variable.
        2. Resolve settings without arguments: each value comes from its variable.
        """
        monkeypatch.setenv(config.ENV_REGION, "eu-central-1")
        monkeypatch.setenv(config.ENV_RUN_ID, "from-env")
        monkeypatch.setenv(config.ENV_ENDPOINT, "http://127.0.0.1:6001")
        monkeypatch.setenv(config.ENV_DATA_URL, "http://127.0.0.1:6002/iris.data")
        resolved = config.settings()
        assert (resolved.region, resolved.run_id, resolved.endpoint_url, resolved.data_url) == (
            "eu-central-1", "from-env", "http://127.0.0.1:6001", "http://127.0.0.1:6002/iris.data")

    def test_arguments_override_environment(self, aws_env, monkeypatch):
        """
        1. Set PIPELINE_DREAMS_* variables for target, region, run id and data URL.
        2. Resolve settings with different arguments: the arguments win.
        """
        monkeypatch.setenv(config.ENV_TARGET, "aws")
        monkeypatch.setenv(config.ENV_REGION, "eu-central-1")
        monkeypatch.setenv(config.ENV_RUN_ID, "from-env")
        monkeypatch.setenv(config.ENV_DATA_URL, "http://127.0.0.1:6002/env.data")
        resolved = config.settings(target="local", region="us-west-2", run_id="from-arg",
                                   data_url="http://127.0.0.1:6003/arg.data")
        assert (resolved.target, resolved.region, resolved.run_id, resolved.data_url) == (
            "local", "us-west-2", "from-arg", "http://127.0.0.1:6003/arg.data")

    def test_run_prefix_is_per_run(self, aws_env):
        """
        1. Resolve settings for two run ids.
        2. Their S3 prefixes differ and end with the run id.
        """
        assert config.settings(run_id="one").run_prefix == "runs/one"
        assert config.settings(run_id="two").run_prefix == "runs/two"


class TestLocalDataComesFromTheCloud:
    """Target local never fetches from the internet: the data URL is the cloud's own copy (issue 9)."""

    def test_connect_asks_the_cloud_where_its_data_is(self, aws_env, monkeypatch, identity_server):
        """
        1. Connect to a local "cloud" (an STS stand-in with the info route) without a data_url.
        2. The kit's data_url is the cloud's data server plus iris.data, not UCI's URL.
        """
        monkeypatch.setenv(config.ENV_ENDPOINT, identity_server)
        kit = config.connect()
        assert kit.settings.data_url == "http://127.0.0.1:9/served/iris.data"

    def test_a_cloud_that_does_not_say_is_a_clear_error(self, aws_env, monkeypatch, identity_server):
        """
        1. The cloud answers 404 on the info route.
        2. connect() raises ConfigError naming data_url, the endpoint, and how to pass one on 127.0.0.1.
        """
        monkeypatch.setattr(_IdentityHandler, "data_url", "")
        monkeypatch.setenv(config.ENV_ENDPOINT, identity_server)
        with pytest.raises(ConfigError) as raised:
            config.connect()
        assert str(raised.value).startswith(f"data_url: the local cloud at {identity_server} did not say where")
        assert "-p data_url http://127.0.0.1:PORT/iris.data" in str(raised.value)

    @pytest.mark.parametrize("url", [config.UCI_IRIS_URL, "http://10.0.0.8/iris.data", "http://127.0.0.1.example/x"])
    def test_a_public_url_is_refused_offline_and_accepted_on_aws(self, aws_env, url):
        """
        1. settings(target local, data_url=<not this machine>): ConfigError saying local runs fetch only from
           127.0.0.1 (the Lambda would otherwise resolve a public name).
        2. The same URL with target aws is kept as given.
        """
        with pytest.raises(ConfigError, match="target local runs offline and fetches only from this machine"):
            config.settings(target="local", data_url=url)
        assert config.settings(target="aws", region="eu-west-1", data_url=url).data_url == url


class TestRunIdRules:
    """A run id ends job names: it must make names SageMaker accepts."""

    @pytest.mark.parametrize("run_id", ["demo-", "-demo", "Demo", "a_b", "x" * 25, "run id"])
    def test_refused_with_what_is_allowed(self, aws_env, run_id):
        """
        1. settings(run_id=<bad>): ConfigError quoting it and saying what is allowed (a trailing hyphen made job
           names like pipeline-dreams-preprocess-demo-, which SageMaker refuses: pattern
           ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}, https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateProcessingJob.html).
        """
        with pytest.raises(ConfigError, match=r"letter or digit at both ends"):
            config.settings(run_id=run_id)

    @pytest.mark.parametrize("run_id", ["d", "demo", "20261129-152228-5f94", "a--b", "x" * 24])
    def test_accepted(self, aws_env, run_id):
        """1. settings(run_id=<good>) keeps it as given."""
        assert config.settings(run_id=run_id).run_id == run_id


class TestTarget:
    """The target is local unless aws is asked for; only local has an endpoint."""

    def test_local_is_the_default_even_with_aws_credentials_around(self, aws_env, monkeypatch):
        """
        1. Leave credentials and AWS_DEFAULT_REGION in the environment (as on a developer's laptop).
        2. Resolve settings: the target is local, the region the kit's default, the endpoint local.
        """
        monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-northeast-1")
        resolved = config.settings()
        assert resolved.target == "local"
        assert resolved.region == config.DEFAULT_REGION
        assert resolved.endpoint_url == config.DEFAULT_LOCAL_ENDPOINT

    @pytest.mark.parametrize("how", ["argument", "environment"])
    def test_aws_only_when_asked(self, aws_env, monkeypatch, how):
        """
        1. Ask for target aws (argument, or PIPELINE_DREAMS_TARGET, in capitals).
        2. The target is aws, no endpoint is set, and the region comes from the normal AWS chain.
        """
        monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-northeast-1")
        if how == "environment":
            monkeypatch.setenv(config.ENV_TARGET, "AWS")
        resolved = config.settings(target="AWS" if how == "argument" else None)
        assert (resolved.target, resolved.endpoint_url, resolved.region) == ("aws", None, "ap-northeast-1")

    def test_connect_aws_does_not_probe_a_local_endpoint(self, aws):
        """
        1. With moto in place of AWS, connect(target="aws").
        2. The Kit has no endpoint, and its account comes from STS (moto's account).
        """
        kit = config.connect(target="aws", region="eu-west-1")
        assert kit.settings.endpoint_url is None
        assert kit.account == boto3.client("sts").get_caller_identity()["Account"]
        assert kit.describe()["endpoint"] == "AWS"


class TestValidation:
    """Values AWS would refuse raise ConfigError naming the value."""

    @pytest.mark.parametrize("arguments, named", [
        ({"target": "azure"}, "'azure'"),
        ({"region": "europe"}, "'europe'"),
        ({"region": "EU-WEST-1"}, "'EU-WEST-1'"),
        ({"region": "eu-west"}, "'eu-west'"),
        ({"prefix": "Pipeline_Dreams"}, "'Pipeline_Dreams'"),
        ({"prefix": "ab"}, "'ab'"),
        ({"prefix": "p" * 25}, repr("p" * 25)),
        ({"prefix": "trailing-"}, "'trailing-'"),
        ({"prefix": "1starts-with-digit"}, "'1starts-with-digit'"),
        ({"run_id": "Run_1"}, "'Run_1'"),
        ({"run_id": "r" * 25}, repr("r" * 25)),
        ({"run_id": "-leading"}, "'-leading'"),
    ])
    def test_bad_argument_is_named(self, aws_env, arguments, named):
        """
        1. Resolve settings with one bad argument.
        2. ConfigError (a ValueError) is raised and its message quotes the value.
        """
        with pytest.raises(ConfigError) as raised:
            config.settings(**arguments)
        assert named in str(raised.value)
        assert isinstance(raised.value, ValueError)

    @pytest.mark.parametrize("variable, value", [
        (config.ENV_TARGET, "cloud"), (config.ENV_REGION, "moon-1"), (config.ENV_RUN_ID, "With Space")])
    def test_bad_environment_value_is_named(self, aws_env, monkeypatch, variable, value):
        """
        1. Put a bad value in a PIPELINE_DREAMS_* variable.
        2. Resolving settings raises ConfigError quoting that value.
        """
        monkeypatch.setenv(variable, value)
        with pytest.raises(ConfigError, match=re.escape(repr(value))):
            config.settings()

    @pytest.mark.parametrize("arguments", [
        {"prefix": LONGEST_PREFIX, "run_id": LONGEST_RUN_ID, "region": "us-gov-west-1"},
        {"prefix": "abc", "run_id": "x", "region": "il-central-1"}])
    def test_edge_values_are_accepted(self, aws_env, arguments):
        """
        1. Resolve settings with the shortest and longest values the rules allow.
        2. No error, and the values are kept as given.
        """
        resolved = config.settings(**arguments)
        assert (resolved.prefix, resolved.run_id, resolved.region) == (
            arguments["prefix"], arguments["run_id"], arguments["region"])


class TestCloudNotReachable:
    """connect() on local fails at once, in one line, saying what to run."""

    def test_message_names_url_and_what_to_run(self, aws_env, monkeypatch):
        """
        1. Point the local endpoint at a port nothing listens on.
        2. connect() raises CloudNotReachable within a second.
        3. The message names the URL and both ways to start a cloud.
        """
        url = f"http://127.0.0.1:{free_port()}"
        monkeypatch.setenv(config.ENV_ENDPOINT, url)
        started = time.monotonic()
        with pytest.raises(CloudNotReachable) as raised:
            config.connect()
        assert time.monotonic() - started < 1.5
        message = str(raised.value)
        assert url in message
        assert "make lab" in message
        assert "python -m localcloud" in message
        assert f"--port {url.rsplit(':', 1)[1]}" in message

    def test_notebook_shows_one_line(self, aws_env, monkeypatch):
        """
        1. Make connect() fail for lack of a cloud.
        2. IPython's _render_traceback_() gives exactly one line, starting with the error's name.
        """
        monkeypatch.setenv(config.ENV_ENDPOINT, f"http://127.0.0.1:{free_port()}")
        with pytest.raises(CloudNotReachable) as raised:
            config.connect()
        lines = raised.value._render_traceback_()
        assert len(lines) == 1
        assert "\n" not in lines[0]
        assert lines[0].startswith("CloudNotReachable: no local cloud answers at")
        assert isinstance(raised.value, ConnectionError)

    def test_bad_settings_are_reported_before_reachability(self, aws_env, monkeypatch):
        """
        1. Give a bad region while no cloud listens.
        2. The ConfigError comes first (the setting is the thing to fix).
        """
        monkeypatch.setenv(config.ENV_ENDPOINT, f"http://127.0.0.1:{free_port()}")
        with pytest.raises(ConfigError, match="'mars-1'"):
            config.connect(region="mars-1")


class TestLocalSessionIgnoresProfile:
    """The local target never reads the user's AWS profile, config or credentials files."""

    @pytest.fixture
    def hostile_profile(self, aws_env, monkeypatch, tmp_path) -> str:
        """AWS_PROFILE names a missing profile; the config files hold other credentials and a region."""
        (tmp_path / "config").write_text("[default]\nregion = ap-southeast-2\n"
                                         "[profile other]\nregion = sa-east-1\n")
        (tmp_path / "credentials").write_text("[default]\naws_access_key_id = PROFILEKEYDEFAULT\n"
                                              "aws_secret_access_key = profile-secret\n"
                                              "[other]\naws_access_key_id = PROFILEKEYOTHER\n"
                                              "aws_secret_access_key = other-secret\n")
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
        monkeypatch.setenv("AWS_PROFILE", "nonexistent-profile")
        monkeypatch.delenv("AWS_DEFAULT_REGION")
        return "nonexistent-profile"

    def test_the_environment_would_break_a_normal_session(self, hostile_profile):
        """
        1. In that environment, build a default boto3 Session.
        2. It raises ProfileNotFound: the next test would notice if the kit read the profile.
        """
        with pytest.raises(ProfileNotFound):
            boto3.session.Session()

    def test_local_kit_signs_with_the_clouds_keys(self, hostile_profile, identity_server, monkeypatch):
        """
        1. Point the local endpoint at a listening server that plays STS; hand the kit the cloud's keys as the
           runner and `make lab` do (PIPELINE_DREAMS_LOCAL_ACCESS_KEY_ID/SECRET).
        2. connect() succeeds (no ProfileNotFound) and asks STS for the account.
        3. The request was signed with the cloud's key for the kit's region, not the profile's key or region.
        """
        monkeypatch.setenv(config.ENV_ENDPOINT, identity_server)
        monkeypatch.setenv(config.ENV_LOCAL_KEY_ID, "AKIALOCALUNITTEST001")
        monkeypatch.setenv(config.ENV_LOCAL_SECRET, "the-local-clouds-secret-for-this-test")
        kit = config.connect()
        credentials = kit.session.get_credentials().get_frozen_credentials()
        assert credentials.access_key == "AKIALOCALUNITTEST001"
        assert kit.client("sts").meta.region_name == config.DEFAULT_REGION
        assert kit.account == _IdentityHandler.account
        authorization = _IdentityHandler.seen[-1]["Authorization"]
        assert "Credential=AKIALOCALUNITTEST001/" in authorization
        assert f"/{config.DEFAULT_REGION}/sts/aws4_request" in authorization
        assert "PROFILEKEY" not in authorization

    def test_local_kit_ignores_environment_credentials(self, aws_env, identity_server, monkeypatch):
        """
        1. Leave AWS_ACCESS_KEY_ID set (as a developer with AWS access would).
        2. A local Kit signs with the local cloud's key (or, without one, a placeholder the cloud refuses): real
           keys are never sent to 127.0.0.1.
        """
        monkeypatch.setenv(config.ENV_ENDPOINT, identity_server)
        monkeypatch.delenv(config.ENV_LOCAL_KEY_ID, raising=False)
        config.connect().client("sts").get_caller_identity()
        authorization = _IdentityHandler.seen[-1]["Authorization"]
        assert "Credential=NOLOCALCLOUDKEYSSET0/" in authorization
        assert "testing-unit-key" not in authorization


class TestRunId:
    """new_run_id(): time-sorted, unique within a second, valid as a run id."""

    def test_shape_from_a_given_time(self):
        """
        1. Make a run id for a fixed UTC time.
        2. It reads date-time-hex and starts with that time.
        """
        run_id = config.new_run_id(datetime(2026, 11, 25, 10, 15, 2, tzinfo=timezone.utc))
        assert re.fullmatch(r"20261125-101502-[0-9a-f]{4}", run_id)

    def test_valid_and_distinct(self, aws_env):
        """
        1. Make twenty run ids now.
        2. settings() accepts each, and they are not all the same within the same second.
        """
        ids = [config.new_run_id() for _ in range(20)]
        for run_id in ids:
            assert config.settings(run_id=run_id).run_id == run_id
            assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{4}", run_id)
        assert len(set(ids)) > 1


class TestTags:
    """Every resource is tagged with the kit's tag (the prefix) and the run id."""

    def test_settings_tags(self, aws_env):
        """
        1. Resolve settings with a prefix and run id, and ask for tags with an extra one.
        2. The list holds the kit tag, the run tag and the extra, each key once.
        """
        tags = config.settings(prefix="my-kit", run_id="r42").tags(step="train")
        assert {"Key": config.TAG_KIT, "Value": "my-kit"} in tags
        assert {"Key": config.TAG_RUN, "Value": "r42"} in tags
        assert {"Key": "step", "Value": "train"} in tags
        assert len({t["Key"] for t in tags}) == len(tags) == 3

    def test_kit_tag_map(self, make_kit):
        """
        1. Build a Kit.
        2. tag_map() is the same tags as a dict.
        """
        kit = make_kit(run_id="r7")
        assert kit.tag_map() == {config.TAG_KIT: config.KIT, config.TAG_RUN: "r7"}


class TestNames:
    """Resource names carry the prefix; the bucket the account and region; all fit AWS limits."""

    def test_bucket_contains_account_and_region(self, make_kit):
        """
        1. Build a Kit on moto.
        2. Its bucket name holds the STS account and the region, and is a valid S3 name.
        """
        kit = make_kit(region="us-west-2")
        account = boto3.client("sts").get_caller_identity()["Account"]
        assert kit.names.bucket == f"{config.KIT}-{account}-us-west-2"
        assert BUCKET_NAME.match(kit.names.bucket)

    def test_longest_names_fit(self):
        """
        1. Take the longest prefix and run id settings() allows, a long region and a 12-digit account.
        2. The bucket is a valid S3 name of at most 63 characters.
        3. Job names are at most 63 characters and are not cut (two runs keep distinct names).
        4. With the notebooks' run suffixes (-pipeline) the longest ones are cut and end with a hash, still valid.
        4. Role and function names are at most 64 characters.
        """
        names = Names(LONGEST_PREFIX, "9" * 12, LONG_REGION)
        assert len(names.bucket) <= 63 and BUCKET_NAME.match(names.bucket)
        for step in ("preprocess", "train", "evaluate"):
            job = names.job(step, LONGEST_RUN_ID)
            assert len(job) <= 63 and JOB_NAME.match(job)
            assert job == f"{LONGEST_PREFIX}-{step}-{LONGEST_RUN_ID}"
        for step in ("preprocess", "train", "evaluate"):
            job = names.job(step, f"{LONGEST_RUN_ID}-pipeline")
            assert len(job) <= 63 and JOB_NAME.match(job)
        assert names.job("evaluate", f"{LONGEST_RUN_ID}-pipeline") != names.job("evaluate", f"{LONGEST_RUN_ID}-pipelin")
        for purpose in ("lambda", "sagemaker", "states", "start-preprocessing"):
            assert len(names.role(purpose)) <= 64 and len(names.function(purpose)) <= 64
        assert names.repository("ingest") == f"{LONGEST_PREFIX}/ingest"

    def test_job_names_are_capped(self):
        """
        1. Ask for a job name from parts longer than the limit.
        2. It is cut to 63 characters, the last 9 being "-" and a stable hash of the whole name.
        """
        name = Names("p" * 40, "9" * 12, "eu-west-1").job("preprocess", "r" * 40)
        assert len(name) == 63 and JOB_NAME.match(name) and name.startswith("p" * 40 + "-preprocess-")
        assert name == config.job_name("p" * 40, "r" * 40, "preprocess")
        assert name != Names("p" * 40, "9" * 12, "eu-west-1").job("preprocess", "r" * 39 + "s")


class TestKitClients:
    """One Session, cached clients."""

    def test_clients_are_cached_per_kit(self, make_kit):
        """
        1. Ask one Kit for the same client twice, and a second Kit once.
        2. The first Kit returns one object; the second Kit its own.
        """
        first, second = make_kit(), make_kit()
        assert first.client("s3") is first.client("s3")
        assert first.client("s3") is not second.client("s3")
        assert first.client("s3").meta.region_name == "eu-west-1"


class TestLambdaClientWaitsForTheHandler:
    def test_lambda_read_timeout_exceeds_the_longest_function(self, kit):
        """
        1. The Kit's Lambda client waits 960 s for an answer (a synchronous Invoke lasts up to the function's
           timeout, 900 s at most: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html),
           so botocore never retries an Invoke that is still running; other services keep 120 s.
        """
        assert kit.client("lambda").meta.config.read_timeout == 960
        assert kit.client("s3").meta.config.read_timeout == 120

