"""helpers.sagemaker.image_uri: the SDK's answer, without importing the SDK for plain algorithms.

The kit looks the built-in algorithm's image up per region (the article hard-coded one region's URI);
the table is the SageMaker Python SDK's (``image_uris.retrieve``, see
https://sagemaker.readthedocs.io/en/stable/api/utility/image_uris.html). Reading its JSON directly must
give exactly what the SDK gives, in every region the SDK knows.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import sagemaker

SDK_TABLES = Path(__import__("importlib.util").util.find_spec("sagemaker").submodule_search_locations[0]) \
    / "core" / "image_uri_config"


def _regions(algorithm: str) -> list[str]:
    config = json.loads((SDK_TABLES / f"{algorithm}.json").read_text())
    versions = config.get("versions") or next(iter(v for v in config.values() if isinstance(v, dict)))["versions"]
    return sorted({region for entry in versions.values() if isinstance(entry, dict)
                   for region in entry.get("registries", {})})


@pytest.fixture(scope="module")
def sdk():
    """The SDK's ``image_uris``, its endpoint resolver made once for the module.

    ``retrieve`` builds a new botocore resolver on every call (``common_utils._botocore_resolver``: a new loader
    parses botocore's endpoints.json, ~70 ms), 2 s for the ~30 regions of one algorithm. The resolver is a pure
    function of the installed botocore data, so one per module gives the same answers.
    """
    from sagemaker.core import common_utils, image_uris

    with pytest.MonkeyPatch.context() as patch:
        resolver = functools.lru_cache(maxsize=1)(common_utils._botocore_resolver)
        patch.setattr(common_utils, "_botocore_resolver", resolver)
        yield image_uris


class TestSameAnswerAsTheSdk:
    """Every region of the SDK's table gives the SDK's URI."""

    @pytest.mark.parametrize("algorithm", ["linear-learner", "kmeans", "pca", "factorization-machines"])
    def test_plain_algorithms_in_every_region(self, sdk, algorithm):
        """
        1. For each region the SDK's table lists, ask helpers and the SDK.
        2. Same URI (China's .amazonaws.com.cn hostname included), and helpers answered from the table itself.
        """
        regions = _regions(algorithm)
        assert len(regions) > 20 and "cn-north-1" in regions
        for region in regions:
            expected = sdk.retrieve(algorithm, region, version="1")
            assert sagemaker._plain_image_uri(algorithm, region, "1") == expected, region
            assert sagemaker.image_uri(algorithm, region) == expected

    def test_other_algorithms_are_the_sdks_own_answer(self, sdk):
        """
        1. xgboost (versions, processors) is not a plain table entry: helpers hands it to the SDK.
        2. Same URI as the SDK's.
        """
        assert sagemaker._plain_image_uri("xgboost", "eu-west-1", "1.7-1") is None
        assert sagemaker.image_uri("xgboost", "eu-west-1", "1.7-1") == sdk.retrieve("xgboost", "eu-west-1",
                                                                                    version="1.7-1")

    def test_a_version_the_table_lacks_is_the_sdks_call(self, sdk):
        """
        1. Ask linear-learner for version "7" (its table has only "1").
        2. The fast path declines; the answer is whatever the SDK makes of it.
        """
        assert sagemaker._plain_image_uri("linear-learner", "eu-west-1", "7") is None
        assert sagemaker.image_uri("linear-learner", "eu-west-1", "7") == sdk.retrieve("linear-learner", "eu-west-1",
                                                                                      version="7")


class TestErrorsAreTheSdks:
    """What the table lacks is the SDK's to refuse, with its own message."""

    @pytest.mark.parametrize("algorithm, region, version", [("linear-learner", "moon-1", "1"),
                                                            ("no-such-algorithm", "eu-west-1", "1"),
                                                            ("../linear-learner", "eu-west-1", "1")])
    def test_unknown_region_version_or_algorithm(self, algorithm, region, version):
        """
        1. Ask for a region, version or algorithm the table does not have (or a name that is a path).
        2. The fast path declines; the SDK raises its own error (ValueError naming the region; a missing
           table file for an algorithm it does not know).
        """
        assert sagemaker._plain_image_uri(algorithm, region, version) is None
        with pytest.raises((ValueError, FileNotFoundError)):
            sagemaker.image_uri(algorithm, region, version)


class TestTheSdkIsNotImported:
    def test_linear_learner_lookup_imports_no_sagemaker_module(self):
        """
        1. In a fresh Python, import helpers and look linear-learner's image up.
        2. No sagemaker module was imported (the 1-2 s import the notebooks used to pay).
        """
        code = ("import sys, helpers; print(helpers.sagemaker.image_uri('linear-learner', 'eu-west-1')); "
                "print(sorted(m for m in sys.modules if m == 'sagemaker' or m.startswith('sagemaker.')))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
        uri, modules = out.stdout.splitlines()
        assert uri.endswith(".dkr.ecr.eu-west-1.amazonaws.com/linear-learner:1")
        assert modules == "[]"
