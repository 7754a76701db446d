"""An AWS URL written into client code reaches the endpoint the environment configures (the local cloud).

botocore takes the endpoint from ``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_<SERVICE>``) unless the code passes
``endpoint_url`` itself, and some code written for AWS does: the SageMaker Python SDK asks STS for the account and
the caller at ``https://sts.<region>.amazonaws.com`` (sagemaker-core's ``sts_regional_endpoint``), so
``Session().account_id()``, ``default_bucket()`` and role lookups would leave the machine. When
:data:`ENV_REDIRECT` is ``1``, :func:`install` makes ``botocore.session.Session.create_client`` treat an explicit
AWS URL (a host under ``amazonaws.com``, ``amazonaws.com.cn`` or ``api.aws``) as the endpoint the environment
configures for that service, as if the code had passed none; any other URL, and every call without a configured
endpoint, is left as it is (https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html).

The kit's venv loads this module at every Python start through ``localcloud-client.pth`` (:func:`write_pth`);
inactive, it costs one environment lookup. Active, botocore is patched when the process imports it, so a process
that never talks to AWS pays nothing. Standard library only.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import os
import sys
import urllib.parse
from pathlib import Path
from typing import Any

ENV_REDIRECT = "LOCALCLOUD_REDIRECT_AWS_URLS"
# The SageMaker Python SDK reads its defaults from the file this variable names (telemetry off: sagemaker_sdk.yaml)
ENV_SAGEMAKER_CONFIG = "SAGEMAKER_USER_CONFIG_OVERRIDE"
SAGEMAKER_CONFIG_FILE = Path(__file__).with_name("sagemaker_sdk.yaml")
PTH_NAME = "localcloud-client.pth"
_AWS_DOMAINS = ("amazonaws.com", "amazonaws.com.cn", "api.aws")
_LOOPBACK = ("127.0.0.1", "localhost")
_PATCHED = "_localcloud_redirects_aws_urls"


def client_environment(url: str, key_id: str, secret: str, region: str = "") -> dict[str, str]:
    """The variables that point a client process (boto3, the AWS CLI, the SageMaker SDK) at the cloud at ``url``."""
    values = {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret,
              ENV_REDIRECT: "1", ENV_SAGEMAKER_CONFIG: str(SAGEMAKER_CONFIG_FILE)}
    if region:
        values["AWS_DEFAULT_REGION"] = region
    # The user's ~/.aws files (profiles, credential processes, real accounts' settings) stay out of a client pointed
    # at the cloud, as they stay out of the cloud's own handlers and jobs
    values["AWS_CONFIG_FILE"] = values["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    # A proxy the machine sets would get every request to a host NO_PROXY does not name, the cloud's included
    held = [h for h in (os.environ.get("NO_PROXY") or os.environ.get("no_proxy") or "").split(",") if h.strip()]
    values["NO_PROXY"] = values["no_proxy"] = ",".join([*held, *(h for h in _LOOPBACK if h not in held)])
    return values


def is_aws_url(url: object) -> bool:
    """Whether ``url`` names a host of AWS's public endpoints."""
    if not isinstance(url, str):
        return False
    host = (urllib.parse.urlsplit(url if "//" in url else f"//{url}").hostname or "").rstrip(".").lower()
    return any(host == domain or host.endswith("." + domain) for domain in _AWS_DOMAINS)


def configured_endpoint(service_name: str, environ: dict[str, str] | os._Environ = os.environ) -> str | None:
    """The endpoint the environment configures for ``service_name``, as botocore reads it; None when none is."""
    if environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        return None
    service = service_name.upper().replace("-", "_").replace(" ", "_")
    return environ.get(f"AWS_ENDPOINT_URL_{service}") or environ.get("AWS_ENDPOINT_URL") or None


def redirected(service_name: str, endpoint_url: object) -> object:
    """``endpoint_url`` as the client gets it: an AWS URL becomes the configured endpoint, if there is one."""
    if is_aws_url(endpoint_url):
        return configured_endpoint(service_name) or endpoint_url
    return endpoint_url


def patch(session_module: Any) -> None:
    """Wrap ``session_module.Session.create_client`` (botocore.session) once."""
    session_class = session_module.Session
    original = session_class.create_client
    if getattr(original, _PATCHED, False):
        return

    @functools.wraps(original)
    def create_client(self: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
        if len(args) >= 5:  # endpoint_url given by position (region, api_version, use_ssl, verify, endpoint_url)
            args = (*args[:4], redirected(service_name, args[4]), *args[5:])
        elif "endpoint_url" in kwargs:
            kwargs["endpoint_url"] = redirected(service_name, kwargs["endpoint_url"])
        return original(self, service_name, *args, **kwargs)

    setattr(create_client, _PATCHED, True)
    session_class.create_client = create_client


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Patches ``botocore.session`` right after Python executes it (no import of botocore before the process's own)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if name != "botocore.session":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_and_patch(module: Any) -> None:
            exec_module(module)
            patch(module)

        loader.exec_module = exec_and_patch
        return spec


def install() -> None:
    """Redirect explicit AWS URLs in this process: now if botocore is loaded, else when it is."""
    if "botocore.session" in sys.modules:
        patch(sys.modules["botocore.session"])
    elif not any(isinstance(finder, _PatchOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport())


def pth_line() -> str:
    """The one line of ``localcloud-client.pth``; site.py executes a .pth line that starts with ``import``."""
    return (f"import os; os.environ.get({ENV_REDIRECT!r}) == '1' and "
            "__import__('localcloud.client.aws_urls').client.aws_urls.install()\n")


def write_pth(site_dir: str | Path | None = None) -> Path:
    """Write ``localcloud-client.pth`` into ``site_dir`` (this interpreter's site-packages by default)."""
    if site_dir is None:
        import sysconfig

        site_dir = sysconfig.get_paths()["purelib"]
    target = Path(site_dir) / PTH_NAME
    target.write_text(pth_line())
    return target


if __name__ == "__main__":  # `python -m localcloud.client.aws_urls`: make venv installs the .pth
    print(write_pth())
