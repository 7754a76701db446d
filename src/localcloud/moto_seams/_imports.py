"""Import moto's EC2 models with one botocore session instead of three, and only when Batch is used.

moto's Step Functions parser imports its Batch integration, which imports ``moto.ec2.models``; the class
body of ``availability_zones_and_regions.RegionsAndZonesBackend`` lists the regions by calling
``Session().get_available_regions(...)`` three times. Each fresh ``boto3.Session`` loads and parses
botocore's endpoint data again (~0.1 s each on the kit's machine). During that one import,
``boto3.Session()`` without arguments is given a shared botocore session: the same files answer the same
three questions, read once. Afterwards every module that bound the stand-in at import time is handed
the real ``boto3.Session`` back, so nothing at run time shares a session it did not share before.

The parser reaches ``moto.ec2.models`` only through ``from moto.batch.utils import JobStatus``: importing
any module of the ``moto.batch`` package runs its ``__init__``, ``from .models import batch_backends``, which
imports EC2's models (~0.4 s of CPU in all). :func:`defer_batch_models` registers ``moto.batch`` as the same
package without running that line; its models (and EC2's) load when something asks the package for one of
their names (moto's backend registry asks for ``batch_backends`` when a Batch request arrives).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

import boto3
import botocore.session

MODULE = "moto.ec2.models.availability_zones_and_regions"
BATCH = "moto.batch"


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


def defer_batch_models() -> None:
    """Register ``moto.batch`` unexecuted, its models loaded on first use (see above); no-op once imported."""
    if BATCH in sys.modules:
        return
    package = importlib.util.module_from_spec(importlib.util.find_spec(BATCH))  # __path__ set, __init__ not run

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        import_ec2_models()
        return getattr(importlib.import_module(f"{BATCH}.models"), name)

    package.__getattr__ = __getattr__  # type: ignore[attr-defined]
    sys.modules[BATCH] = package
    setattr(sys.modules["moto"], "batch", package)
