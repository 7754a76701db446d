"""Where the kit runs and what it names things: one place for target, region, names and tags.

Every notebook starts with ``kit = helpers.connect(target=..., region=..., ...)``. The
returned :class:`Kit` builds all boto3 clients from one Session:

* ``local`` (the default) points every client at the local cloud with dummy
  credentials, and never reads the user's AWS profile or config files;
* ``aws`` uses the normal credential chain, and only when asked for explicitly.

Nothing else in :mod:`helpers` knows which one it talks to.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import re
import socket
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from helpers import sessions, settings_file
from helpers.errors import CloudNotReachable, ConfigError
from helpers.names import (JOB_NAME_MAX, JOB_NAME_PATTERN, JOB_STEPS, Names,  # noqa: F401  (helpers.config's API)
                           bucket_name_problem, job_name)

if TYPE_CHECKING:  # boto3 and botocore are imported where used: `python -m helpers run` starts its cloud first
    import boto3

KIT = "pipeline-dreams"
TARGETS = ("local", "aws")
DEFAULT_REGION = "eu-west-1"
DEFAULT_LOCAL_ENDPOINT = "http://127.0.0.1:5050"
UCI_IRIS_URL = "https://archive.ics.uci.edu/ml/machine-learning-databases/iris/iris.data"
# The local cloud answers GET <endpoint>/_localcloud/info with {"data_url": …}: where it serves data/.
LOCAL_CLOUD_INFO_PATH = "/_localcloud/info"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
TAG_KIT = f"{KIT}:kit"
TAG_RUN = f"{KIT}:run-id"
# Environment variables the series runner and `make lab` set for the notebooks' kernels.
ENV_TARGET, ENV_REGION, ENV_ENDPOINT = "PIPELINE_DREAMS_TARGET", "PIPELINE_DREAMS_REGION", "PIPELINE_DREAMS_ENDPOINT"
ENV_DATA_URL, ENV_RUN_ID = "PIPELINE_DREAMS_DATA_URL", "PIPELINE_DREAMS_RUN_ID"
# The names given with `python -m helpers run -p NAME VALUE` (comma-separated; the runner sets it for its kernels),
# so the settings table tells "-p" from a value typed in the notebook's parameters cell.
ENV_CLI_PARAMETERS = "PIPELINE_DREAMS_CLI_PARAMETERS"
# Where the local cloud's own copy of iris comes from when nothing names a data_url.
LOCAL_COPY = "default: the local cloud's copy"
# the local cloud's keys (it answers only keys it issued); see helpers.sessions.local_session
ENV_LOCAL_KEY_ID, ENV_LOCAL_SECRET = sessions.ENV_LOCAL_KEY_ID, sessions.ENV_LOCAL_SECRET

_PREFIX = re.compile(r"^[a-z][a-z0-9-]{1,22}[a-z0-9]$")
# A letter or digit at both ends: job names end with the run id, and SageMaker refuses a trailing hyphen.
_RUN_ID = re.compile(r"^[a-z0-9]([a-z0-9-]{0,22}[a-z0-9])?$")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")


@dataclass(frozen=True)
class Settings:
    """The parameters every notebook shares."""

    target: str = "local"
    region: str = DEFAULT_REGION
    prefix: str = KIT
    run_id: str = "demo"
    endpoint_url: str | None = DEFAULT_LOCAL_ENDPOINT
    data_url: str = ""  # empty on target local until connect() asks the cloud for its copy
    # settings.toml's [hyperparameters] (as SageMaker strings) and [dataset], with -p overrides applied.
    hyperparameters: dict[str, str] = field(default_factory=dict, compare=False)
    dataset: dict[str, Any] = field(default_factory=dict, compare=False)
    # Where each setting came from: "-p", "notebook", "environment <VARIABLE>", "settings.toml", "default…".
    sources: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def run_prefix(self) -> str:
        """The S3 key prefix of this run: two runs never write the same keys."""
        return f"runs/{self.run_id}"

    def tags(self, **extra: str) -> list[dict[str, str]]:
        """Tags for every resource the kit makes: cleanup finds them by ``TAG_KIT``."""
        tags = {TAG_KIT: self.prefix, TAG_RUN: self.run_id, **extra}
        return [{"Key": k, "Value": v} for k, v in tags.items()]


@functools.cache
def known_regions() -> frozenset[str]:
    """Every region of every partition the installed botocore knows (read from its bundled data, offline)."""
    endpoints = sessions.isolated_botocore_session().get_data("endpoints")
    return frozenset(region for partition in endpoints["partitions"] for region in partition["regions"])


def new_run_id(now: datetime | None = None) -> str:
    """A run id that sorts by time and does not collide within a second: ``20261125-101502-3f9a``."""
    now = now or datetime.now(timezone.utc)
    return f"{now:%Y%m%d-%H%M%S}-{os.urandom(2).hex()}"


def _pick(sources: dict[str, str], name: str, *candidates: tuple[str, Any]) -> Any:
    """The first candidate that is set, remembering where it came from (shown by each notebook)."""
    for source, value in candidates:
        if value is not None and value != "":
            sources[name] = source
            return value
    sources[name] = "default"
    return None


def _explicit(name: str) -> str:
    """How a value passed to :func:`settings` was given: with ``-p`` (the runner says which) or in the notebook."""
    given = {n.strip() for n in os.environ.get(ENV_CLI_PARAMETERS, "").split(",")}
    return "-p" if name in given else "notebook"


def settings(target: str | None = None, region: str | None = None, prefix: str | None = None,
             run_id: str | None = None, data_url: str | None = None,
             overrides: dict[str, Any] | None = None) -> Settings:
    """Resolve settings: explicit arguments, then ``PIPELINE_DREAMS_*`` variables, then settings.toml, then defaults.

    Args:
        overrides: dataset and hyperparameter values that win over settings.toml (``-p epochs 5``).

    Raises:
        ConfigError: a value AWS would refuse, or a bad settings.toml, named with what is allowed.
    """
    try:
        tables = settings_file.load()
    except settings_file.SettingsFileError as error:
        raise ConfigError(str(error)) from None
    cloud, sources = tables["cloud"], {}
    known = settings_file.overridable(tables)
    unknown = set(overrides or {}) - known
    if unknown:
        raise ConfigError(f"unknown setting(s) {settings_file.unknown_names(unknown, known)}: neither a [dataset] "
                          "key nor a linear-learner hyperparameter")
    hyperparameters, dataset = {}, {}
    for table, out in (("hyperparameters", hyperparameters), ("dataset", dataset)):
        for key, value in tables[table].items():
            out[key] = value
            sources[key] = "settings.toml"
    for key, value in (overrides or {}).items():
        (dataset if key in settings_file.DATASET_KEYS else hyperparameters)[key] = value
        sources[key] = _explicit(key)
    # The dataset drives training: linear-learner needs num_classes, and feature_dim must match the columns.
    if dataset.get("class_names") and "num_classes" not in (overrides or {}):
        hyperparameters["num_classes"], sources["num_classes"] = len(dataset["class_names"]), "dataset.class_names"
    if dataset.get("feature_columns") and "feature_dim" not in (overrides or {}):
        hyperparameters["feature_dim"], sources["feature_dim"] = len(dataset["feature_columns"]), "dataset.feature_columns"
    hyperparameters = {k: settings_file.hyperparameter_value(v) for k, v in hyperparameters.items()}
    target = _pick(sources, "target", (_explicit("target"), target),
                   (f"environment {ENV_TARGET}", os.environ.get(ENV_TARGET)), ("settings.toml", cloud.get("target")))
    region = _pick(sources, "region", (_explicit("region"), region),
                   (f"environment {ENV_REGION}", os.environ.get(ENV_REGION)), ("settings.toml", cloud.get("region")))
    prefix = _pick(sources, "prefix", (_explicit("prefix"), prefix), ("settings.toml", cloud.get("prefix")))
    data_url = _pick(sources, "data_url", (_explicit("data_url"), data_url),
                     (f"environment {ENV_DATA_URL}", os.environ.get(ENV_DATA_URL)),
                     ("settings.toml", cloud.get("data_url")))
    _pick(sources, "run_id", (_explicit("run_id"), run_id), (f"environment {ENV_RUN_ID}", os.environ.get(ENV_RUN_ID)))
    _pick(sources, "endpoint", (f"environment {ENV_ENDPOINT}", os.environ.get(ENV_ENDPOINT)))
    resolved = _settings(target, region, prefix, run_id, data_url)
    if resolved.target == "aws":
        sources["endpoint"] = "AWS"
        if sources["data_url"] == "default":
            sources["data_url"] = "default: UCI's iris"
    return Settings(target=resolved.target, region=resolved.region, prefix=resolved.prefix, run_id=resolved.run_id,
                    endpoint_url=resolved.endpoint_url, data_url=resolved.data_url,
                    hyperparameters=hyperparameters, dataset=dataset, sources=sources)


def _settings(target: str | None = None, region: str | None = None, prefix: str | None = None,
              run_id: str | None = None, data_url: str | None = None) -> Settings:
    """Validate the cloud settings; unset ones take the environment's or the kit's defaults."""
    target = (target or os.environ.get(ENV_TARGET) or "local").lower()
    if target not in TARGETS:
        raise ConfigError(f"target {target!r} is not one of {', '.join(TARGETS)}")
    if not region and not os.environ.get(ENV_REGION) and target == "aws":
        import boto3

        region = boto3.session.Session().region_name
    region = region or os.environ.get(ENV_REGION) or DEFAULT_REGION
    if not _REGION.match(region):
        raise ConfigError(f"region {region!r} does not look like an AWS region (e.g. eu-west-1)")
    if region not in known_regions():
        # A well-formed but unknown region (eu-moon-1) would get as far as the bucket and roles before a
        # service refuses it, on AWS as here: refuse it before anything is made.
        from botocore import __version__ as botocore_version

        raise ConfigError(f"region {region!r} is not an AWS region botocore {botocore_version} knows "
                          f"(e.g. eu-west-1, us-east-1, ap-southeast-2); a region newer than that needs a newer boto3")
    prefix = prefix or KIT
    if not _PREFIX.match(prefix):
        raise ConfigError(f"prefix {prefix!r}: use 3-24 lower-case letters, digits and hyphens, starting with a letter "
                          "(it starts bucket, role and function names)")
    problem = bucket_name_problem(f"{prefix}-{'0' * 12}-{region}")  # the account's digits change nothing here
    if problem:
        raise ConfigError(f"prefix {prefix!r} would make a bucket name AWS rejects: {problem}")
    run_id = str(run_id or os.environ.get(ENV_RUN_ID) or "demo")  # papermill -p turns 20261125 into an int
    if not _RUN_ID.match(run_id):
        raise ConfigError(f"run_id {run_id!r}: use 1-24 lower-case letters, digits and hyphens, with a letter or "
                          "digit at both ends (it ends job names, which SageMaker allows 63 characters and no "
                          "trailing hyphen)")
    endpoint = (os.environ.get(ENV_ENDPOINT) or DEFAULT_LOCAL_ENDPOINT) if target == "local" else None
    data_url = data_url or os.environ.get(ENV_DATA_URL) or (UCI_IRIS_URL if target == "aws" else "")
    if target == "local" and data_url and not is_loopback_url(data_url):
        # A local run must not reach the internet: its Lambda would resolve the URL's host.
        raise ConfigError(f"data_url {data_url!r}: target local runs offline and fetches only from this machine "
                          "(127.0.0.1); leave data_url empty for the local cloud's copy of iris, or serve your file "
                          "on 127.0.0.1")
    return Settings(target=target, region=region, prefix=prefix, run_id=run_id, endpoint_url=endpoint,
                    data_url=data_url)


def is_loopback_url(url: str) -> bool:
    """True when ``url``'s host is this machine (127.0.0.0/8, ::1, localhost): reaching it needs no DNS."""
    host = (urllib.parse.urlparse(url).hostname or "").lower()
    return host in LOOPBACK_NAMES or host.startswith("127.") and host.replace(".", "").isdigit()


@dataclass
class Kit:
    """A connection to the target cloud: clients, account, names and tags."""

    settings: Settings
    session: boto3.session.Session = field(repr=False)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    # lists collecting the calls the clients make (helpers.calls.recorded: a helper's show_request=True)
    recorders: list[list[Any]] = field(default_factory=list, repr=False, compare=False)

    def client(self, service: str):
        """A boto3 client for ``service`` (made once per Kit), pointed at the target."""
        if service not in self._clients:
            self._clients[service] = self._new_client(service)
        return self._clients[service]

    def _new_client(self, service: str):
        from botocore.config import Config

        retries = {"max_attempts": 2, "mode": "standard"} if self.settings.target == "local" else {"mode": "standard"}
        local = self.settings.target == "local"
        # Local: no proxy, whatever HTTP(S)_PROXY says (loopback traffic must not go through one).
        # A synchronous Lambda Invoke answers when the handler ends (up to 900 s): a shorter read timeout made
        # botocore send the Invoke again while the first still ran, so the handler ran twice.
        read_timeout = 960 if service == "lambda" else 120
        config = Config(retries=retries, connect_timeout=5 if local else 60, read_timeout=read_timeout,
                        user_agent_extra=f"{KIT}/0.1", proxies={} if local else None)
        client = self.session.client(service, endpoint_url=self.settings.endpoint_url, config=config)
        client.meta.events.register("provide-client-params", self._record_call)
        if self.settings.target == "local":
            client.meta.events.register("after-call-error", self._cloud_gone)
            client.meta.events.register("after-call", self._keys_refused)
        return client

    def _record_call(self, **event: Any) -> None:
        """Hand a call about to be made to every recorder (helpers.calls); nothing when none listens."""
        if self.recorders:
            from helpers import calls

            for recorder in self.recorders:
                calls.record(recorder, **event)

    def _keys_refused(self, parsed: dict[str, Any] | None = None, **_: Any) -> None:
        """Turn the local cloud's refusal of the kernel's keys into one line saying where keys come from."""
        code = ((parsed or {}).get("Error") or {}).get("Code", "")
        if code in KEYS_REFUSED_CODES:
            raise CloudNotReachable(
                f"the local cloud at {self.settings.endpoint_url} refused this kernel's keys ({code}): it answers "
                "only the keys it issued. Open the notebooks from `make lab`, run them with `python -m helpers run`, "
                f"or set {ENV_LOCAL_KEY_ID} and {ENV_LOCAL_SECRET} to the keys `python -m localcloud env "
                f"--endpoint {self.settings.endpoint_url}` prints, then restart the kernel.")

    def _cloud_gone(self, exception: Exception | None = None, event_name: str = "", **_: Any) -> None:
        """Turn "connection refused/closed" into one line naming the endpoint and what to run.

        A cloud that stops in the middle of a run would otherwise surface as botocore's
        ``EndpointConnectionError``, with no hint that the cloud has gone or how to bring it back.
        """
        from botocore.exceptions import ConnectionClosedError
        from botocore.exceptions import ConnectionError as BotocoreConnectionError

        if isinstance(exception, (BotocoreConnectionError, ConnectionClosedError)):
            operation = ".".join(event_name.split(".")[1:]) or "a request"
            port = urllib.parse.urlparse(self.settings.endpoint_url).port
            raise CloudNotReachable(
                f"the local cloud at {self.settings.endpoint_url} stopped answering ({operation}: "
                f"{type(exception).__name__}). Start one with `make lab` or `.venv/bin/python -m localcloud --port "
                f"{port}`, then re-run the series from 01 (a new local cloud starts empty).") from exception

    @functools.cached_property
    def account(self) -> str:
        """The account id, asked of STS (never written in code)."""
        return self.client("sts").get_caller_identity()["Account"]

    @functools.cached_property
    def names(self) -> Names:
        return Names(self.settings.prefix, self.account, self.settings.region)

    @property
    def region(self) -> str:
        return self.settings.region

    def tags(self, **extra: str) -> list[dict[str, str]]:
        return self.settings.tags(**extra)

    def tag_map(self, **extra: str) -> dict[str, str]:
        """Tags as ``{key: value}``, the shape Lambda, ECR-less APIs and Step Functions' tags differ on."""
        return {t["Key"]: t["Value"] for t in self.tags(**extra)}

    def describe(self) -> dict[str, str]:
        """What a learner should see before anything is created."""
        identity = self.client("sts").get_caller_identity()
        return {"target": self.settings.target, "region": self.region, "account": identity["Account"],
                "caller": identity["Arn"], "endpoint": self.settings.endpoint_url or "AWS",
                "run id": self.settings.run_id, "bucket": self.names.bucket}


@contextlib.contextmanager
def without_user_aws_settings() -> Iterator[None]:
    """Hide profiles and the ~/.aws files from code that builds a default boto3 session it does not need."""
    names = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")
    saved = {name: os.environ.pop(name, None) for name in names}
    os.environ.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# what AWS (and the local cloud) answers to keys it did not issue
KEYS_REFUSED_CODES = {"InvalidClientTokenId", "UnrecognizedClientException", "InvalidAccessKeyId",
                      "SignatureDoesNotMatch", "InvalidSignatureException", "MissingAuthenticationToken",
                      "MissingAuthenticationTokenException"}


def _session(settings: Settings) -> boto3.session.Session:
    if settings.target == "aws":
        return sessions.aws_session(settings.region)
    return sessions.local_session(settings.region)


def _check_reachable(url: str) -> None:
    parsed = urllib.parse.urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 80), timeout=2):
            return
    except OSError:
        raise CloudNotReachable(
            f"no local cloud answers at {url}. Start one with `make lab` (JupyterLab + cloud) or "
            f"`.venv/bin/python -m localcloud --port {parsed.port}` in a terminal, then re-run this cell.") from None


def connect(target: str | None = None, region: str | None = None, prefix: str | None = None,
            run_id: str | None = None, data_url: str | None = None,
            overrides: dict[str, Any] | None = None) -> Kit:
    """Resolve settings and connect; for ``local``, fail at once if no cloud answers.

    Args:
        overrides: dataset and hyperparameter values over settings.toml's
            (a notebook passes ``helpers.settings_file.overrides(globals())``).

    Raises:
        ConfigError: a bad setting.
        CloudNotReachable: target local and nothing listens at the endpoint.
    """
    resolved = settings(target, region, prefix, run_id, data_url, overrides)
    if resolved.target == "local":
        _check_reachable(resolved.endpoint_url)
        if not resolved.data_url:
            resolved = dataclasses.replace(resolved, data_url=local_data_url(resolved.endpoint_url),
                                           sources={**resolved.sources, "data_url": LOCAL_COPY})
    return Kit(resolved, _session(resolved))


def local_data_url(endpoint: str, name: str = "iris.data") -> str:
    """The URL of the local cloud's own copy of ``name``, asked of the cloud (it serves data/ on a port of its own).

    Raises:
        ConfigError: the cloud at ``endpoint`` does not say where its data is.
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy
    try:
        with opener.open(endpoint.rstrip("/") + LOCAL_CLOUD_INFO_PATH, timeout=5) as response:
            served = json.load(response).get("data_url")
    except (OSError, ValueError) as error:
        served, reason = None, f"{type(error).__name__}: {error}"
    else:
        reason = "it serves no data folder"
    if not served:
        raise ConfigError(f"data_url: the local cloud at {endpoint} did not say where its data is ({reason}); "
                          f"pass one on 127.0.0.1 (-p data_url http://127.0.0.1:PORT/{name})")
    return f"{served.rstrip('/')}/{name}"
