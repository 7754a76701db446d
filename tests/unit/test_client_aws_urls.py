"""localcloud/client/aws_urls.py: an explicit AWS URL in client code reaches the configured endpoint, nothing else."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from localcloud.client import aws_urls


class TestWhichUrlsAreRedirected:
    @pytest.mark.parametrize("url", ["https://sts.eu-west-1.amazonaws.com", "https://sts.cn-north-1.amazonaws.com.cn",
                                     "https://sts.us-east-1.api.aws", "sts.eu-west-1.amazonaws.com"])
    def test_aws_hosts_go_to_the_configured_endpoint(self, url, monkeypatch):
        """1. AWS_ENDPOINT_URL set. 2. An AWS URL becomes it."""
        monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5999")
        monkeypatch.delenv("AWS_ENDPOINT_URL_STS", raising=False)
        assert aws_urls.redirected("sts", url) == "http://127.0.0.1:5999"

    @pytest.mark.parametrize("url", ["http://127.0.0.1:9", "https://amazonaws.com.example.org", None,
                                     "https://notamazonaws.com"])
    def test_other_urls_stay(self, url, monkeypatch):
        """1. AWS_ENDPOINT_URL set. 2. A URL that is not AWS's is left as the code gave it."""
        monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5999")
        assert aws_urls.redirected("sts", url) == url

    def test_the_service_variable_wins_and_none_configured_leaves_the_url(self, monkeypatch):
        """1. AWS_ENDPOINT_URL_STS beats AWS_ENDPOINT_URL. 2. With neither (or ignored), AWS's URL stays."""
        monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:2")
        assert aws_urls.redirected("sts", "https://sts.amazonaws.com") == "http://127.0.0.1:2"
        monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
        assert aws_urls.redirected("sts", "https://sts.amazonaws.com") == "https://sts.amazonaws.com"
        monkeypatch.delenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        monkeypatch.delenv("AWS_ENDPOINT_URL")
        monkeypatch.delenv("AWS_ENDPOINT_URL_STS")
        assert aws_urls.redirected("sts", "https://sts.amazonaws.com") == "https://sts.amazonaws.com"


_PROBE = ("import sys, boto3; c = boto3.client('sts', region_name='eu-west-1', "
          "endpoint_url='https://sts.eu-west-1.amazonaws.com'); print(c.meta.endpoint_url)")


class TestTheVenvLoadsIt:
    def test_the_venv_has_the_pth(self):
        """make venv wrote localcloud-client.pth into this interpreter's site-packages, with pth_line()."""
        pth = Path(sysconfig.get_paths()["purelib"]) / aws_urls.PTH_NAME
        assert pth.read_text() == aws_urls.pth_line()

    @pytest.mark.parametrize("flag, expected", [("1", "http://127.0.0.1:5999"), ("", "https://sts.eu-west-1.amazonaws.com")])
    def test_a_new_python_redirects_only_when_asked(self, flag, expected):
        """1. A new Python, AWS_ENDPOINT_URL set, makes an STS client with AWS's URL. 2. It points at
        AWS_ENDPOINT_URL when LOCALCLOUD_REDIRECT_AWS_URLS=1, at AWS's URL otherwise (no request is sent)."""
        env = {"PATH": "/usr/bin:/bin", "AWS_ENDPOINT_URL": "http://127.0.0.1:5999", aws_urls.ENV_REDIRECT: flag,
               "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "HOME": "/nonexistent"}
        done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == expected

    def test_inactive_it_imports_nothing(self):
        """A new Python without the variable has loaded neither botocore nor the module."""
        code = "import sys; print('localcloud.client.aws_urls' in sys.modules, 'botocore' in sys.modules)"
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                              env={"PATH": "/usr/bin:/bin"})
        assert done.stdout.split() == ["False", "False"]


class TestTargetAwsIgnoresTheLocalCloudsVariables:
    """A kernel pointed at the local cloud (AWS_* set for SDK code) still reaches AWS itself with target aws."""

    def test_aws_sessions_ignore_the_configured_endpoint_and_the_clouds_keys(self, monkeypatch):
        """1. The variables the runner sets for a kernel. 2. helpers' AWS session builds clients for AWS's URL
        and does not take the cloud's keys from the environment."""
        from helpers import sessions

        monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5999")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIALOCALCLOUDKEY000")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local-secret")
        monkeypatch.setenv(sessions.ENV_LOCAL_KEY_ID, "AKIALOCALCLOUDKEY000")
        monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata request for credentials
        session = sessions.aws_session("eu-west-1")
        assert session.client("sts").meta.endpoint_url == "https://sts.eu-west-1.amazonaws.com"
        credentials = session.get_credentials()
        assert credentials is None or credentials.access_key != "AKIALOCALCLOUDKEY000"


class TestAProxyDoesNotGetTheCloudsRequests:
    """On a laptop with HTTP(S)_PROXY set, a client pointed at the local cloud talks to it directly: botocore sends
    every host not in NO_PROXY through the proxy (https://docs.aws.amazon.com/cli/latest/userguide/
    cli-configure-proxy.html), and a proxy cannot reach the laptop's 127.0.0.1."""

    def test_no_proxy_names_loopback_and_keeps_what_it_held(self, monkeypatch):
        """
        1. With NO_PROXY=corp.example set, build the client environment for a cloud on 127.0.0.1.
        2. NO_PROXY and no_proxy keep corp.example and add 127.0.0.1 and localhost.
        """
        from localcloud.client.aws_urls import client_environment

        monkeypatch.setenv("NO_PROXY", "corp.example")
        monkeypatch.delenv("no_proxy", raising=False)
        env = client_environment("http://127.0.0.1:5050", "K", "S", "eu-west-1")
        for name in ("NO_PROXY", "no_proxy"):
            assert env[name].split(",") == ["corp.example", "127.0.0.1", "localhost"], env[name]


class TestTheUsersAwsFilesStayOut:
    """A client pointed at the local cloud reads none of the user's ~/.aws files, as the cloud's handlers do not."""

    def test_config_and_credentials_files_are_devnull(self):
        """1. Build the client environment. 2. AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE name os.devnull."""
        import os

        from localcloud.client.aws_urls import client_environment

        env = client_environment("http://127.0.0.1:5050", "K", "S")
        assert env["AWS_CONFIG_FILE"] == env["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull
