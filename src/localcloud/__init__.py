"""An embedded AWS for the kit: moto plus the executors moto lacks.

``python -m localcloud --port PORT`` serves until SIGTERM/SIGINT; in Python::

    with LocalCloud(port=0) as cloud:
        boto3.client("lambda", endpoint_url=cloud.url, ...)
"""

from localcloud.cloud import LocalCloud

__all__ = ["LocalCloud"]
