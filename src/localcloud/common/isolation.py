"""Keep the user's AWS settings and proxies away from the local cloud and everything it runs.

The cloud talks only to itself on 127.0.0.1. botocore, used by moto's Step Functions
interpreter and by the cloud's own S3 and CloudWatch Logs clients, would otherwise read
``AWS_PROFILE`` and ``~/.aws/config`` (and fail with ``ProfileNotFound`` for a profile that
exists only on the learner's laptop), and send loopback traffic through ``HTTP(S)_PROXY``.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

# Variables that point botocore or an HTTP client at the user's own settings.
USER_SETTINGS = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
                 "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def isolate(environ: MutableMapping[str, str] = os.environ) -> None:
    """Drop profiles and proxies from ``environ``; point the AWS config and credentials files at /dev/null."""
    for name in USER_SETTINGS:
        environ.pop(name, None)
    environ["AWS_CONFIG_FILE"] = os.devnull
    environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
