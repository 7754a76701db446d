"""moto_seams._imports: moto's EC2 models are imported with one botocore session, and nothing keeps it.

moto's Step Functions parser imports ``moto.ec2.models``, whose region table is built at import by three
``boto3.Session().get_available_regions(...)`` calls; each fresh session parsed botocore's EC2 model again.
The cloud imports the parser when Step Functions is first used (``moto_seams.stepfunctions_seams``), and the
parser reaches EC2 only through the ``moto.batch`` package, whose models the seams load on first use.
"""

from __future__ import annotations

import subprocess
import sys

import boto3

from fresh_python import printed_lines

from localcloud import moto_seams  # imports moto the way the cloud does
from localcloud.moto_seams._imports import MODULE

# a fresh interpreter: which botocore data files importing argv[1] loads (EC2's model is the costly one)
COUNT = """
import importlib, json, sys, botocore.loaders
loaded = []
original = botocore.loaders.Loader.load_data
def load_data(self, name, *args, **kwargs):
    loaded.append(name)
    return original(self, name, *args, **kwargs)
botocore.loaders.Loader.load_data = load_data
module = importlib.import_module(sys.argv[1])
for call in sys.argv[2:]:
    if call == "batch_backends":
        from moto.backends import get_backend
        get_backend("batch")
    else:
        getattr(module, call)()
print(json.dumps(loaded))
"""


def _ec2_model_loads(module: str, *call: str) -> int:
    done = subprocess.run([sys.executable, "-c", COUNT, module, *call], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1].count('"ec2/2016-11-15/service-2"')


class TestOneSessionForTheRegionTable:
    """Importing moto through the seams parses botocore's EC2 model once, where moto alone parses it three times."""

    def test_ec2_model_loaded_once(self):
        """
        1. In a fresh interpreter, import moto.ec2.models directly and count EC2 model loads.
        2. In another, import localcloud.moto_seams, ask for its Step Functions seams (which import the parser),
           then ask moto's registry for the Batch backends (which import moto.ec2.models), counting after each.
        3. moto alone loads it three times (its three Session()s); the parser through the seams, never; Batch
           through the seams, once.
        """
        assert _ec2_model_loads("moto.ec2.models") == 3, "moto changed how it builds its region table"
        assert _ec2_model_loads("localcloud.moto_seams", "stepfunctions_seams") == 0
        assert _ec2_model_loads("localcloud.moto_seams", "stepfunctions_seams", "batch_backends") == 1


class TestSameRegionsNoSharedSessionLeft:
    """The region table is what moto builds on its own, and no module keeps the shared session."""

    def test_regions_as_botocore_lists_them(self):
        """
        1. Read the regions moto's EC2 backend lists (imported through the seams).
        2. They are botocore's EC2 regions of the aws, aws-us-gov and aws-cn partitions, in that order.
        """
        from moto.backends import get_backend

        get_backend("batch")  # imports moto.ec2.models through the seams' shim
        from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend

        session = boto3.session.Session()
        expected = [region for partition in ("aws", "aws-us-gov", "aws-cn")
                    for region in session.get_available_regions("ec2", partition_name=partition)]
        assert [region.name for region in RegionsAndZonesBackend.regions] == expected

    def test_real_session_restored_everywhere(self):
        """
        1. Import the Step Functions seams and moto's Batch backends (and with them moto.ec2.models) as the cloud
           does at first use.
        2. boto3.Session is boto3's own class again.
        3. No imported module (moto's included) holds the stand-in under the name Session.
        """
        from moto.backends import get_backend

        moto_seams.stepfunctions_seams()
        get_backend("batch")
        assert MODULE in sys.modules
        assert boto3.Session is boto3.session.Session
        left = [name for name, module in list(sys.modules.items())
                if type(getattr(module, "Session", None)) is type and module.Session.__name__ == "_SharedSession"]
        assert left == []


class TestBatchModelsLoadOnFirstUse:
    """``defer_batch_models``: moto.batch without its __init__'s model import, the same names on first use."""

    def test_package_init_is_what_the_shim_replaces(self):
        """
        1. Read moto/batch/__init__.py.
        2. Its only statement imports batch_backends from .models: the shim, which serves every name of
           moto.batch.models on first use, offers what it did.
        """
        import importlib.util
        from pathlib import Path

        source = Path(importlib.util.find_spec("moto.batch").origin).read_text()
        lines = [line for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        assert lines == ["from .models import batch_backends  # noqa: F401"], (
            f"moto changed under localcloud's deferred Batch models: moto/batch/__init__.py is now {lines}")

    def test_step_functions_without_batch_then_batch_works(self):
        """
        1. In a fresh interpreter, import the seams and the Step Functions seams: neither Batch's nor EC2's models
           are imported, though the parser imported moto.batch.utils.
        2. moto's registry then gives the Batch backends, a real BackendDict, and a Batch backend answers.
        """
        code = ("import sys\n"
                "from localcloud import moto_seams\n"
                "moto_seams.stepfunctions_seams()\n"
                "print(sorted(m for m in ('moto.batch.models', 'moto.ec2.models', 'moto.batch.utils') if m in sys.modules))\n"
                "from moto.backends import get_backend\n"
                "backend = get_backend('batch')['123456789012']['eu-west-1']\n"
                "print(type(backend).__name__, backend.describe_compute_environments())\n")
        assert printed_lines(code) == ["['moto.batch.utils']", "BatchBackend []"]
