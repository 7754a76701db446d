"""Only keys the cloud issued reach it: its root keys (a file only its owner reads) and its STS's and IAM's.

AWS answers a request only when its Signature Version 4 checks out under a key AWS issued
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html); every refusal below is one AWS
documents: https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html (S3) and
https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html (the other services:
InvalidClientTokenId, MissingAuthenticationToken, IncompleteSignature, SignatureDoesNotMatch).
"""

from __future__ import annotations

import datetime
import http.client
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from _support import PROJECT_ROOT, create_bucket, create_role, unique_name, zip_bytes
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest_cloud import CloudProcess

HOSTILE = PROJECT_ROOT / "tests" / "fixtures" / "hostile"
REGION = "eu-west-1"


def _client(cloud, service: str, key_id: str, secret: str, token: str | None = None, **config):
    return boto3.session.Session().client(service, region_name=REGION, endpoint_url=cloud.url,
                                          aws_access_key_id=key_id, aws_secret_access_key=secret,
                                          aws_session_token=token, config=Config(retries={"max_attempts": 1},
                                                                                 **config))


def _code(call) -> tuple[str, str]:
    with pytest.raises(ClientError) as refused:
        call()
    return refused.value.response["Error"]["Code"], refused.value.response["Error"].get("Message", "")


def _raw(cloud, method: str, path: str, headers: dict | None = None, body: bytes = b"") -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", urlsplit(cloud.url).port, timeout=30)
    try:
        connection.request(method, path, body, headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def bucket(cloud) -> str:
    name = create_bucket(cloud, unique_name("authn"))
    cloud.client("s3").put_object(Bucket=name, Key="kept.txt", Body=b"kept")
    return name


class TestUnknownKeysAreRefused:
    """Keys nobody issued (the dummy ``x``/``testing`` keys every tutorial shows) are refused as AWS refuses them."""

    @pytest.mark.parametrize("service,call,code", [
        ("sts", lambda c: c.get_caller_identity(), "InvalidClientTokenId"),
        ("s3", lambda c: c.list_buckets(), "InvalidAccessKeyId"),
        ("lambda", lambda c: c.list_functions(), "UnrecognizedClientException"),
        ("sagemaker", lambda c: c.list_training_jobs(), "UnrecognizedClientException"),
    ])
    def test_dummy_keys(self, cloud, service, call, code):
        """
        1. Call the service with access key ``testing``.
        2. AWS's error for a key that does not exist (403), before anything runs.
        """
        assert _code(lambda: call(_client(cloud, service, "testing", "testing")))[0] == code

    def test_the_right_key_with_a_wrong_secret(self, cloud):
        """
        1. Sign with the cloud's access key id (which is not secret) and a made-up secret.
        2. SignatureDoesNotMatch: the key id alone opens nothing.
        """
        keys = cloud.keys
        for service, call in (("s3", lambda c: c.list_buckets()), ("sts", lambda c: c.get_caller_identity())):
            client = _client(cloud, service, keys["AWS_ACCESS_KEY_ID"], "guessed-secret-guessed-secret-guessed")
            assert _code(lambda: call(client))[0] == "SignatureDoesNotMatch"

    def test_the_clouds_keys_pass(self, cloud, bucket):
        """1. The cloud's own keys read the object and ask STS who they are; 2. the cloud's account answers."""
        s3 = _client(cloud, "s3", cloud.keys["AWS_ACCESS_KEY_ID"], cloud.keys["AWS_SECRET_ACCESS_KEY"])
        assert s3.get_object(Bucket=bucket, Key="kept.txt")["Body"].read() == b"kept"
        sts = _client(cloud, "sts", cloud.keys["AWS_ACCESS_KEY_ID"], cloud.keys["AWS_SECRET_ACCESS_KEY"])
        assert sts.get_caller_identity()["Account"] == cloud.client("sts").get_caller_identity()["Account"]


class TestUnsignedAndMalformedRequests:
    """Unsigned, SigV2-header and malformed requests do not act as root (they did: item 4 of the issue)."""

    def test_unsigned_s3_read_is_access_denied(self, cloud, bucket):
        """1. GET an object with boto3's UNSIGNED config; 2. S3's anonymous answer: AccessDenied (403)."""
        from botocore import UNSIGNED

        s3 = boto3.session.Session().client("s3", region_name=REGION, endpoint_url=cloud.url,
                                            config=Config(signature_version=UNSIGNED))
        assert _code(lambda: s3.get_object(Bucket=bucket, Key="kept.txt"))[0] == "AccessDenied"

    def test_unsigned_lambda_call_is_missing_authentication_token(self, cloud):
        """1. GET Lambda's ListFunctions with no Authorization; 2. 403 MissingAuthenticationTokenException."""
        status, body = _raw(cloud, "GET", "/2015-03-31/functions/")
        assert status == 403 and b"MissingAuthenticationToken" in body, body

    def test_sigv2_header_is_not_supported(self, cloud, bucket):
        """
        1. GET an object with a SigV2 ``Authorization: AWS key:signature`` header.
        2. S3's InvalidRequest "Please use AWS4-HMAC-SHA256" (what S3 answers where SigV2 is gone).
        """
        status, body = _raw(cloud, "GET", f"/{bucket}/kept.txt",
                            {"Authorization": f"AWS {cloud.keys['AWS_ACCESS_KEY_ID']}:c2lnbmF0dXJl"})
        assert status == 400 and b"InvalidRequest" in body and b"AWS4-HMAC-SHA256" in body, body

    def test_lowercase_credential_is_malformed(self, cloud, bucket):
        """1. ``AWS4-HMAC-SHA256 credential=…`` (lower case); 2. 400 AuthorizationHeaderMalformed, not root."""
        status, body = _raw(cloud, "GET", f"/{bucket}/kept.txt", {
            "Authorization": f"AWS4-HMAC-SHA256 credential={cloud.keys['AWS_ACCESS_KEY_ID']}/20261207/eu-west-1/s3/"
                             "aws4_request, SignedHeaders=host, Signature=00"})
        assert status == 400 and b"AuthorizationHeaderMalformed" in body, body

    def test_x_moto_account_id_header_is_ignored(self, cloud):
        """1. Sign a GetCallerIdentity carrying moto's ``x-moto-account-id``; 2. the account is still the cloud's."""
        sts = _client(cloud, "sts", cloud.keys["AWS_ACCESS_KEY_ID"], cloud.keys["AWS_SECRET_ACCESS_KEY"])
        own = sts.get_caller_identity()["Account"]
        sts.meta.events.register("before-sign.sts.*", lambda request, **_: request.headers.__setitem__(
            "x-moto-account-id", "999999999999"))
        assert sts.get_caller_identity()["Account"] == own


class TestPresignedUrls:
    """A presigned URL acts as its signer, for the service and time it was signed for."""

    def _url(self, cloud, bucket: str, version: str, **kwargs) -> str:
        s3 = _client(cloud, "s3", cloud.keys["AWS_ACCESS_KEY_ID"], cloud.keys["AWS_SECRET_ACCESS_KEY"],
                     signature_version=version)
        return s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "kept.txt"}, **kwargs)

    @pytest.mark.parametrize("version", ["s3v4", "s3"])
    def test_presigned_get_works_and_tampering_fails(self, cloud, bucket, version):
        """
        1. Presign GetObject (SigV4, and SigV2, boto3's default for S3) and GET it with requests.
        2. 200 with the bytes; the same URL for another key is SignatureDoesNotMatch (403).
        """
        url = self._url(cloud, bucket, version)
        assert requests.get(url, timeout=30).content == b"kept"
        tampered = url.replace("/kept.txt", "/other.txt")
        answer = requests.get(tampered, timeout=30)
        assert answer.status_code == 403 and b"SignatureDoesNotMatch" in answer.content, answer.content

    def test_expired_presigned_url(self, cloud, bucket):
        """1. Presign for 60 s with a signing clock two minutes behind (no sleep); 2. S3's AccessDenied
        "Request has expired"."""
        old = _client(cloud, "s3", cloud.keys["AWS_ACCESS_KEY_ID"], cloud.keys["AWS_SECRET_ACCESS_KEY"],
                      signature_version="s3v4")
        import botocore.auth

        real = botocore.auth.datetime.datetime

        class Past(real):
            @classmethod
            def utcnow(cls):
                return real.utcnow() - datetime.timedelta(seconds=120)

            @classmethod
            def now(cls, tz=None):
                return real.now(tz) - datetime.timedelta(seconds=120)

        botocore.auth.datetime.datetime = Past
        try:
            url = old.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "kept.txt"}, ExpiresIn=60)
        finally:
            botocore.auth.datetime.datetime = real
        answer = requests.get(url, timeout=30)
        assert answer.status_code == 403 and b"Request has expired" in answer.content, answer.content

    @pytest.mark.parametrize("service", ["lambda", "sts"])
    def test_presigned_for_another_service(self, cloud, bucket, service):
        """
        1. Sign an S3 GetObject URL with the credential scope of another service (``lambda``, ``sts``), using a
           role's keys and the root's.
        2. Refused as AWS refuses a credential scoped to the wrong service (it was evaluated as ``lambda:GetObject``).
        """
        from botocore.auth import SigV4QueryAuth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        request = AWSRequest(method="GET", url=f"{cloud.url}/{bucket}/kept.txt")
        SigV4QueryAuth(Credentials(cloud.keys["AWS_ACCESS_KEY_ID"], cloud.keys["AWS_SECRET_ACCESS_KEY"]), service,
                       REGION, expires=300).add_auth(request)
        answer = requests.get(request.url, timeout=30)
        assert answer.status_code in (400, 403) and b"scoped to correct service" in answer.content, answer.content


class TestBrowserUploadsFollowTheirPostPolicy:
    """S3 POST Object uploads are signed by their policy
    (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html)."""

    @pytest.mark.parametrize("version", ["s3v4", "s3"])
    def test_presigned_post(self, cloud, bucket, version):
        """
        1. generate_presigned_post for one key with a content-length-range of 1-100 bytes (SigV4 and SigV2).
        2. The upload is stored (204); another key is AccessDenied naming the failed condition; 200 bytes is
           EntityTooLarge; an unsigned form upload is AccessDenied.
        """
        s3 = _client(cloud, "s3", cloud.keys["AWS_ACCESS_KEY_ID"], cloud.keys["AWS_SECRET_ACCESS_KEY"],
                     signature_version=version)
        key = unique_name("post")
        post = s3.generate_presigned_post(bucket, key, Conditions=[["content-length-range", 1, 100]])
        upload = requests.post(post["url"], data=post["fields"], files={"file": ("x.txt", b"hello")}, timeout=30)
        assert upload.status_code == 204, upload.content
        assert cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read() == b"hello"
        other = requests.post(post["url"], data={**post["fields"], "key": "other.txt"},
                              files={"file": ("x.txt", b"hello")}, timeout=30)
        assert other.status_code == 403 and b"Policy Condition failed" in other.content, other.content
        big = requests.post(post["url"], data=post["fields"], files={"file": ("x.txt", b"x" * 200)}, timeout=30)
        assert big.status_code == 400 and b"EntityTooLarge" in big.content, big.content
        unsigned = requests.post(post["url"], data={"key": "anonymous.txt"}, files={"file": ("x.txt", b"x")},
                                 timeout=30)
        assert unsigned.status_code == 403 and b"AccessDenied" in unsigned.content, unsigned.content


class TestMotoApiIsClosed:
    """moto's control API (``/moto-api``) answers no one: AWS has none (item 2: a handler wiped the cloud)."""

    def test_signed_and_unsigned_reset_refused(self, cloud, bucket):
        """
        1. POST /moto-api/reset unsigned, and signed with the cloud's own keys.
        2. 403 each time; the bucket made before is still there.
        """
        assert _raw(cloud, "POST", "/moto-api/reset")[0] == 403
        assert _raw(cloud, "GET", "/moto-api/data.json")[0] == 403
        s3 = cloud.client("s3")
        assert s3.get_object(Bucket=bucket, Key="kept.txt")["Body"].read() == b"kept"

    def test_handler_without_permissions_cannot_wipe_the_cloud(self, cloud, bucket):
        """
        1. A Lambda handler whose role has no policy POSTs /moto-api/reset (and two more control calls) to its
           AWS_ENDPOINT_URL (tests/fixtures/hostile/wipe_handler.py).
        2. Every call gets 403; the function and the bucket still exist afterwards.
        """
        lam = cloud.client("lambda")
        role = create_role(cloud, unique_name("no-policy"), policy=None)
        name = unique_name("wipe")
        lam.create_function(FunctionName=name, Runtime="python3.11", Role=role, Handler="wipe_handler.handler",
                            Code={"ZipFile": zip_bytes({"wipe_handler.py": (HOSTILE / "wipe_handler.py").read_text()})},
                            Timeout=30)
        response = lam.invoke(FunctionName=name, Payload=b"{}")
        answers = json.loads(response["Payload"].read())
        assert "FunctionError" not in response, answers
        assert set(answers.values()) == {403}, answers
        assert lam.get_function(FunctionName=name)["Configuration"]["FunctionName"] == name
        assert cloud.client("s3").get_object(Bucket=bucket, Key="kept.txt")["Body"].read() == b"kept"


class TestRuntimeFile:
    """The root keys reach their owner in a file no one else can read; ``localcloud env`` turns it into shell."""

    def test_file_and_folder_are_private(self, cloud):
        """1. The ready line names the runtime file; 2. it is mode 0600 in a folder of mode 0700, owned by us."""
        path = Path(cloud.ready_line.rsplit("keys in ", 1)[1].strip())
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert path.stat().st_uid == os.getuid()
        assert json.loads(path.read_text())["aws_access_key_id"] == cloud.keys["AWS_ACCESS_KEY_ID"]

    def test_a_handler_cannot_read_the_keys(self, cloud):
        """
        1. A handler (which runs as the cloud's owner) reads the cloud's runtime file.
        2. Where its environment has a private mount namespace, the key folder is empty there: FileNotFoundError;
           elsewhere the test is skipped, saying why (README: what the cloud cannot prove).
        """
        path = cloud.ready_line.rsplit("keys in ", 1)[1].strip()
        lam = cloud.client("lambda")
        name = unique_name("peek")
        source = ("import os\n\ndef handler(event, context):\n    try:\n        open(event['path']).read()\n"
                  "        return {'read': True, 'private': os.environ.get('LOCALCLOUD_PRIVATE_TMP')}\n"
                  "    except OSError as error:\n"
                  "        return {'read': False, 'error': type(error).__name__,"
                  " 'private': os.environ.get('LOCALCLOUD_PRIVATE_TMP')}\n")
        lam.create_function(FunctionName=name, Runtime="python3.11", Role=create_role(cloud, unique_name("peek")),
                            Handler="app.handler", Timeout=30, Code={"ZipFile": zip_bytes({"app.py": source})})
        answer = json.loads(lam.invoke(FunctionName=name, Payload=json.dumps({"path": path}))["Payload"].read())
        if answer.get("private") != "1":
            pytest.skip("Lambda environments have no private mount namespace here (LOCALCLOUD_PRIVATE_TMP=0): a "
                        "handler can read its owner's files")
        assert answer == {"read": False, "error": "FileNotFoundError", "private": "1"}, answer

    def test_env_lines_point_a_script_at_the_cloud(self, cloud, tmp_path):
        """
        1. ``eval "$(python -m localcloud env --endpoint URL)"`` in bash, then the AWS CLI's way: a plain boto3
           script with no endpoint or key in its code.
        2. It reaches the cloud with its keys (GetCallerIdentity names the cloud's account).
        """
        script = (f'eval "$({sys.executable} -m localcloud env --endpoint {cloud.url})" && {sys.executable} -c '
                  '"import boto3; print(boto3.client(\'sts\', region_name=\'us-east-1\').get_caller_identity()[\'Account\'])"')
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=120,
                              cwd=PROJECT_ROOT)
        account = cloud.client("sts").get_caller_identity()["Account"]
        assert done.returncode == 0 and done.stdout.strip() == account, done.stdout + done.stderr

    def test_env_without_a_cloud_says_so(self, tmp_path):
        """1. ``localcloud env --endpoint`` a port where no cloud of ours runs; 2. exit 1, one line naming it."""
        done = subprocess.run([sys.executable, "-m", "localcloud", "env", "--endpoint", "http://127.0.0.1:9"],
                              capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT,
                              env={**os.environ, "LOCALCLOUD_RUNTIME_DIR": str(tmp_path)})
        assert done.returncode == 1 and "no local cloud runs at http://127.0.0.1:9" in done.stderr, done.stderr

    def test_a_runtime_folder_open_to_others_is_refused(self, tmp_path):
        """1. Start a cloud whose runtime folder is mode 0777; 2. it stops at start naming the folder (exit 2)."""
        folder = tmp_path / "open"
        folder.mkdir()
        folder.chmod(0o777)
        done = subprocess.run([sys.executable, "-m", "localcloud", "--port", "0"], capture_output=True, text=True,
                              timeout=60, cwd=PROJECT_ROOT, env={**os.environ, "LOCALCLOUD_RUNTIME_DIR": str(folder)})
        assert done.returncode == 2 and str(folder) in done.stderr and "open to other users" in done.stderr, \
            done.stderr

    def test_the_folder_is_checked_before_any_child_starts(self, tmp_path, monkeypatch):
        """
        1. Start an in-process cloud that writes its runtime file into a folder open to others, with the Lambda
           runtime and the job runner (which start child processes) made to fail if they are built.
        2. start() refuses the folder (KeysError) before building either: no child process can outlive the
           refusal holding the caller's pipes (a ``subprocess.run(capture_output=True)`` waited for them).
        """
        from localcloud import cloud as cloud_module
        from localcloud import moto_seams
        from localcloud.server.keys import KeysError

        folder = tmp_path / "open"
        folder.mkdir()
        folder.chmod(0o777)
        monkeypatch.setenv("LOCALCLOUD_RUNTIME_DIR", str(folder))
        monkeypatch.delenv("MOTO_PORT", raising=False)

        def built(*args, **kwargs):
            raise AssertionError("a child-starting executor was built before the runtime folder was checked")

        monkeypatch.setattr(cloud_module, "LambdaRuntime", built)
        monkeypatch.setattr(cloud_module, "JobRunner", built)
        try:
            with pytest.raises(KeysError, match="open to other users"):
                cloud_module.LocalCloud(port=0, runtime_file=True).start()
        finally:
            moto_seams.uninstall()


def _other_user() -> str:
    name = f"lcother{os.getpid() % 100000}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True,
                   capture_output=True, timeout=60)
    return name


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("useradd") or not Path("/usr/bin/python3").exists(),
                    reason="needs root (to make a second Unix user with useradd) and /usr/bin/python3")
class TestOtherUsersOfTheMachine:
    """Another Unix user reaches the cloud's loopback port, but runs nothing (item 3: a Lambda ran as us)."""

    def test_other_user_cannot_invoke_or_read_the_keys(self, cloud):
        """
        1. Make a Unix user with useradd; as that user, run tests/fixtures/hostile/other_user.py (standard
           library only): an unsigned Lambda Invoke over raw HTTP, one signed with made-up keys, and a read of
           the cloud's runtime file.
        2. 403 MissingAuthenticationToken, 403 UnrecognizedClientException, PermissionError; the function was
           never invoked (its log group has no stream).
        """
        lam = cloud.client("lambda")
        name = unique_name("victim")
        lam.create_function(FunctionName=name, Runtime="python3.11", Role=create_role(cloud, unique_name("victim")),
                            Handler="app.handler", Timeout=10,
                            Code={"ZipFile": zip_bytes({"app.py": "import os\n\ndef handler(event, context):\n"
                                                                  "    return os.listdir(os.path.expanduser('~'))\n"})})
        runtime_file = cloud.ready_line.rsplit("keys in ", 1)[1].strip()
        user = _other_user()
        try:
            script = Path("/tmp") / f"other_user_{os.getpid()}.py"
            shutil.copy(HOSTILE / "other_user.py", script)
            script.chmod(0o644)
            done = subprocess.run(["runuser", "-u", user, "--", "/usr/bin/python3", str(script), cloud.url, name,
                                   runtime_file], capture_output=True, text=True, timeout=120, cwd="/")
            script.unlink()
        finally:
            subprocess.run(["userdel", user], capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["unsigned"]["status"] == 403 and "MissingAuthenticationToken" in result["unsigned"]["type"]
        assert result["dummy_keys"]["status"] == 403 and result["dummy_keys"]["type"] == "UnrecognizedClientException"
        assert result["runtime_file"] == "PermissionError", result
        streams = cloud.client("logs").describe_log_streams(logGroupName=f"/aws/lambda/{name}") \
            if _has_group(cloud, name) else {"logStreams": []}
        assert streams["logStreams"] == []


def _has_group(cloud, name: str) -> bool:
    groups = cloud.client("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"]
    return bool(groups)


class TestKeysHandedOver:
    """A parent that starts the cloud may choose its keys (the runner starts kernels first); nothing else sees them."""

    def test_keys_from_the_environment_and_not_in_children(self, tmp_path):
        """
        1. Start a cloud with LOCALCLOUD_ACCESS_KEY_ID/SECRET set; invoke a handler that returns its environment.
        2. Those keys sign requests; the handler's environment holds neither variable nor the secret.
        """
        key_id, secret = "AKIALOCALTESTKEY0001", "a-secret-chosen-by-the-parent-process-0123"
        cloud = CloudProcess(env={**os.environ, "LOCALCLOUD_ACCESS_KEY_ID": key_id,
                                  "LOCALCLOUD_SECRET_ACCESS_KEY": secret})
        try:
            assert cloud.keys == {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret}
            lam = cloud.client("lambda")
            name = unique_name("env")
            lam.create_function(FunctionName=name, Runtime="python3.11", Role=create_role(cloud, unique_name("env")),
                                Handler="app.handler", Timeout=10, Code={"ZipFile": zip_bytes({
                                    "app.py": "import os\n\ndef handler(event, context):\n    return dict(os.environ)\n"})})
            env = json.loads(lam.invoke(FunctionName=name)["Payload"].read())
            assert not any(k.startswith("LOCALCLOUD_ACCESS") or k.startswith("LOCALCLOUD_SECRET") for k in env)
            assert secret not in json.dumps(env)
        finally:
            cloud.stop()

    def test_malformed_keys_stop_the_cloud(self):
        """1. LOCALCLOUD_ACCESS_KEY_ID set without the secret; 2. exit 2 naming both variables."""
        env = {**os.environ, "LOCALCLOUD_ACCESS_KEY_ID": "AKIALOCALTESTKEY0001"}
        env.pop("LOCALCLOUD_SECRET_ACCESS_KEY", None)
        done = subprocess.run([sys.executable, "-m", "localcloud", "--port", "0"], capture_output=True, text=True,
                              timeout=60, cwd=PROJECT_ROOT, env=env)
        assert done.returncode == 2 and "LOCALCLOUD_SECRET_ACCESS_KEY" in done.stderr, done.stderr

