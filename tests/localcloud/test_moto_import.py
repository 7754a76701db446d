"""moto_seams._imports: moto's EC2 models are imported with one botocore session, and nothing keeps it.

moto's Step Functions parser imports ``moto.ec2.models``, whose region table is built at import by three
``boto3.Session().get_available_regions(...)`` calls; each fresh session parsed botocore's EC2 model again.
The cloud imports the parser when Step Functions is first used (``moto_seams.stepfunctions_seams``).
"""

from __future__ import annotations

import subprocess
import sys

import boto3

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
if len(sys.argv) > 2:
    getattr(module, sys.argv[2])()
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
        2. In another, import localcloud.moto_seams and ask for its Step Functions seams (which import the
           parser, and so moto.ec2.models), and count again.
        3. moto alone loads it three times (its three Session()s); through the seam, once.
        """
        assert _ec2_model_loads("moto.ec2.models") == 3, "moto changed how it builds its region table"
        assert _ec2_model_loads("localcloud.moto_seams", "stepfunctions_seams") == 1


class TestSameRegionsNoSharedSessionLeft:
    """The region table is what moto builds on its own, and no module keeps the shared session."""

    def test_regions_as_botocore_lists_them(self):
        """
        1. Read the regions moto's EC2 backend lists (imported through the seams).
        2. They are botocore's EC2 regions of the aws, aws-us-gov and aws-cn partitions, in that order.
        """
        moto_seams.stepfunctions_seams()
        from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend

        session = boto3.session.Session()
        expected = [region for partition in ("aws", "aws-us-gov", "aws-cn")
                    for region in session.get_available_regions("ec2", partition_name=partition)]
        assert [region.name for region in RegionsAndZonesBackend.regions] == expected

    def test_real_session_restored_everywhere(self):
        """
        1. Import the Step Functions seams (and with them moto.ec2.models) as the cloud does at first use.
        2. boto3.Session is boto3's own class again.
        3. No imported module (moto's included) holds the stand-in under the name Session.
        """
        moto_seams.stepfunctions_seams()
        assert MODULE in sys.modules
        assert boto3.Session is boto3.session.Session
        left = [name for name, module in list(sys.modules.items())
                if type(getattr(module, "Session", None)) is type and module.Session.__name__ == "_SharedSession"]
        assert left == []
