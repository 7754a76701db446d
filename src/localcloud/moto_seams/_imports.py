"""Import moto's EC2 models with one botocore session instead of three (the cloud starts ~0.3 s sooner).

moto's Step Functions parser imports its Batch integration, which imports ``moto.ec2.models``; the class
body of ``availability_zones_and_regions.RegionsAndZonesBackend`` lists the regions by calling
``Session().get_available_regions(...)`` three times. Each fresh ``boto3.Session`` loads and parses
botocore's endpoint data again (~0.1 s each on the kit's machine). During that one import,
``boto3.Session()`` without arguments is given a shared botocore session: the same files answer the same
three questions, read once. Afterwards every module that bound the stand-in at import time is handed
the real ``boto3.Session`` back, so nothing at run time shares a session it did not share before.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import boto3
import botocore.session

MODULE = "moto.ec2.models.availability_zones_and_regions"


def import_ec2_models() -> None:
    """Import :data:`MODULE` (and so ``moto.ec2.models``) with the shared session; no-op once imported."""
    if MODULE in sys.modules:
        return
    real = boto3.Session
    shared = botocore.session.get_session()

    class _SharedSession(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            if not args and not kwargs:  # moto's bare Session(): the shared botocore session
                kwargs = {"botocore_session": shared}
            super().__init__(*args, **kwargs)

    boto3.Session = _SharedSession  # type: ignore[misc]
    try:
        importlib.import_module(MODULE)
    finally:
        boto3.Session = real  # type: ignore[misc]
        for module in list(sys.modules.values()):  # `from boto3 import Session` bound it meanwhile
            if getattr(module, "Session", None) is _SharedSession:
                module.Session = real
