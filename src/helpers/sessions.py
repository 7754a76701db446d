"""The boto3 sessions the kit makes: kept from the user's AWS files when local, on one botocore data loader.

A new botocore session has a data loader of its own, which reads and parses botocore's service models
and endpoint rules again: ~0.2 s of CPU for the six clients a notebook makes, every notebook. The kit's
sessions share one loader, which keeps what it parsed (the files are botocore's bundled data: they do not
change while Python runs). Each session still has its own credentials, region and configuration.

:func:`warm` loads the kit's services into that loader ahead of use: the series runner's kernels call it
while the notebook before theirs runs, as a warm Lambda keeps its runtime's clients.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import boto3
    import botocore.loaders
    import botocore.session

# Every service a notebook or helper makes a client of (service-quotas only on AWS, by preflight: left out).
KIT_SERVICES = ("sts", "s3", "iam", "ecr", "lambda", "logs", "sagemaker", "stepfunctions", "events",
                "sagemaker-runtime")
# The local cloud answers only the keys it issued: the series runner and `make lab` hand its keys to the kernels
# in these variables (never AWS_ACCESS_KEY_ID, which is the learner's own, for AWS).
ENV_LOCAL_KEY_ID, ENV_LOCAL_SECRET = "PIPELINE_DREAMS_LOCAL_ACCESS_KEY_ID", "PIPELINE_DREAMS_LOCAL_SECRET_ACCESS_KEY"
_loader: botocore.loaders.Loader | None = None
_lock = threading.Lock()


def shared_loader() -> botocore.loaders.Loader:
    """The one data loader of the kit's sessions (made at first use)."""
    global _loader
    with _lock:
        if _loader is None:
            import botocore.loaders

            _loader = botocore.loaders.create_loader()
        return _loader


def _on_shared_loader(core: botocore.session.Session) -> botocore.session.Session:
    core.register_component("data_loader", shared_loader())
    return core


def _boto3_session(core: botocore.session.Session, region: str) -> boto3.session.Session:
    import boto3

    made = boto3.session.Session(botocore_session=_on_shared_loader(core), region_name=region)
    loader = shared_loader()
    with _lock:  # boto3 adds its own data folder to the loader's search path at every session: keep it once
        loader.search_paths[:] = list(dict.fromkeys(loader.search_paths))
    return made


def isolated_botocore_session() -> botocore.session.Session:
    """A botocore session that reads no profile, config or credentials file, whatever the environment says.

    ``botocore.session.get_session()`` looks up ``AWS_PROFILE`` in ``~/.aws/config`` even to read its
    bundled region list, so ``AWS_PROFILE=nosuchprofile`` would break a local run (ProfileNotFound).
    """
    import botocore.session

    return _on_shared_loader(botocore.session.Session(session_vars={
        "profile": (None, None, None, None),
        "config_file": (None, None, os.devnull, None),
        "credentials_file": (None, None, os.devnull, None)}))


def aws_session(region: str) -> boto3.session.Session:
    """A session with the normal credential chain (profiles, environment, instance roles), on AWS's endpoints.

    A kernel of ``make lab`` or the series runner has the local cloud's URL and keys in ``AWS_ENDPOINT_URL`` and
    ``AWS_ACCESS_KEY_ID`` (for code written for AWS, such as the SageMaker SDK): target ``aws`` means AWS itself, so
    this session ignores configured endpoint URLs, and environment keys that are the local cloud's.
    """
    import botocore.session

    core = botocore.session.get_session()
    core.set_config_variable("ignore_configured_endpoint_urls", True)
    local_key = os.environ.get(ENV_LOCAL_KEY_ID)
    if local_key and os.environ.get("AWS_ACCESS_KEY_ID") == local_key:
        core.get_component("credential_provider").remove("env")
    return _boto3_session(core, region)


def local_session(region: str) -> boto3.session.Session:
    """A session with the local cloud's keys (from :data:`ENV_LOCAL_KEY_ID`/:data:`ENV_LOCAL_SECRET`) that reads
    none of the user's AWS files; without them, keys the cloud refuses with a message saying where keys come from."""
    core = isolated_botocore_session()
    core.set_credentials(os.environ.get(ENV_LOCAL_KEY_ID) or "NOLOCALCLOUDKEYSSET0",
                         os.environ.get(ENV_LOCAL_SECRET) or "no-local-cloud-keys-set")
    return _boto3_session(core, region)


def warm(services: tuple[str, ...] = KIT_SERVICES) -> None:
    """Load ``services``' models and endpoint rules into the shared loader (clients made and closed: no request)."""
    session = local_session("us-east-1")
    for service in services:
        session.client(service, endpoint_url="http://127.0.0.1:9").close()
