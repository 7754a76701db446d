"""An embedded AWS for the kit: moto plus the executors moto lacks.

``python -m localcloud --port PORT`` serves until SIGTERM/SIGINT; in Python::

    with LocalCloud(port=0) as cloud:
        boto3.client("lambda", endpoint_url=cloud.url, ...)
"""

from typing import Any

__all__ = ["LocalCloud"]


def __getattr__(name: str) -> Any:
    # Lazy: Lambda environments and job processes import localcloud.<module> and must not pay
    # for importing moto (about 1 s) when they start.
    if name == "LocalCloud":
        from localcloud.cloud import LocalCloud

        return LocalCloud
    raise AttributeError(name)
