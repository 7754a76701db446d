"""The SageMaker Python SDK's Session reaches the local cloud with nothing written for it.

sagemaker-core asks STS at ``https://sts.<region>.amazonaws.com`` itself (``sts_regional_endpoint``), whatever
``AWS_ENDPOINT_URL`` says; ``localcloud env`` sets LOCALCLOUD_REDIRECT_AWS_URLS, which the kit's venv reads at
start-up (``localcloud/client/aws_urls.py``). Configured endpoints:
https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html
"""

from __future__ import annotations

from _programs import REGION, assert_ran, run_program


class TestSessionReachesTheLocalCloud:
    def test_account_caller_and_default_bucket_come_from_the_cloud(self, cloud, tmp_path):
        """1. Run Session(), account_id(), get_caller_identity_arn(), default_bucket() after `localcloud env`.
        2. Nothing left loopback; the account and caller are the cloud's; the default bucket exists in it."""
        result = assert_ran(run_program("session_basics.py", cloud.url, tmp_path))
        identity = cloud.client("sts", region=REGION).get_caller_identity()
        assert (result["region"], result["account"], result["caller"]) == (REGION, identity["Account"],
                                                                           identity["Arn"])
        assert result["bucket"] == f"sagemaker-{REGION}-{identity['Account']}"
        cloud.client("s3", region=REGION).head_bucket(Bucket=result["bucket"])

    def test_without_the_redirect_the_sdk_asks_aws(self, cloud, tmp_path):
        """1. The same program without LOCALCLOUD_REDIRECT_AWS_URLS. 2. The audit refused a lookup of AWS's STS
        host (so the audit is live, and the redirect is what keeps the SDK on loopback)."""
        outcome = run_program("session_basics.py", cloud.url, tmp_path, without=("LOCALCLOUD_REDIRECT_AWS_URLS",))
        assert outcome.returncode != 0
        assert any(f"sts.{REGION}.amazonaws.com" in line for line in outcome.refused), outcome.refused
