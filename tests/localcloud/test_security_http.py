"""The local cloud refuses what a web page could send it; boto3-style requests pass.

A browser sends "simple" cross-origin requests (GET/POST with a form, multipart or text/plain body)
without a CORS preflight: the page cannot read the answer, but the side effect happens
(https://developer.mozilla.org/en-US/docs/Web/HTTP/Guides/CORS#simple_requests, Fetch standard
https://fetch.spec.whatwg.org/#cors-safelisted-request-header). Such requests carry ``Origin``
(every POST) and ``Sec-Fetch-Site``; a DNS-rebound page keeps its own name in ``Host``. The attacks
below are real HTTP requests with those headers; the one that "creates something" is an S3 POST
Object form upload (https://docs.aws.amazon.com/AmazonS3/latest/API/RESTObjectPOST.html), which moto
accepts unsigned and which a plain HTML form can send.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
from _support import PROJECT_ROOT, create_bucket, unique_name

from conftest_cloud import CloudProcess

BOUNDARY = "----pipeline-dreams-test"
FOREIGN_ORIGINS = ["http://evil.example", "http://127.0.0.1:1", "http://localhost:1", "null",
                   "https://127.0.0.1:{port}", "http://127.0.0.1:{port}.evil.example"]


def _port(url: str) -> int:
    return urlsplit(url).port


def _request(port: int, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    """Send one request with exactly these headers (http.client adds Host only when not given)."""
    headers = dict(headers or {})
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest(method, path, skip_host="Host" in headers, skip_accept_encoding=True)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def _signed(cloud, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> dict:
    """``headers`` plus the SigV4 headers boto3 would add with the cloud's keys (S3, the Host given or the cloud's)."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    headers = dict(headers or {})
    host = headers.get("Host") or urlsplit(cloud.url).netloc
    request = AWSRequest(method=method, url=f"http://{host}{path}", data=body,
                         headers={**headers, "X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()})
    S3SigV4Auth(Credentials(cloud.keys["AWS_ACCESS_KEY_ID"], cloud.keys["AWS_SECRET_ACCESS_KEY"]), "s3",
                "eu-west-1").add_auth(request)
    return dict(request.headers.items())


def _put(cloud, bucket: str, key: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    """A signed S3 PutObject (what the cloud answers), with extra browser headers."""
    body = b"written by a page of the cloud's own origin"
    return _request(_port(cloud.url), "PUT", f"/{bucket}/{key}", body, _signed(cloud, "PUT", f"/{bucket}/{key}", body,
                                                                              headers))


def _form_upload(bucket: str, key: str) -> tuple[str, bytes]:
    """A multipart/form-data S3 POST Object body, as an HTML <form enctype=multipart/form-data> sends it."""
    body = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\n{key}\r\n"
            f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.txt\"\r\n"
            f"Content-Type: text/plain\r\n\r\nwritten by a web page\r\n--{BOUNDARY}--\r\n")
    return f"/{bucket}", body.encode()


def _keys(cloud, bucket: str) -> list[str]:
    return [o["Key"] for o in cloud.client("s3").list_objects_v2(Bucket=bucket).get("Contents", [])]


@pytest.fixture(scope="module")
def bucket(cloud) -> str:
    return create_bucket(cloud, unique_name("guard"))


def _assert_refused(status: int, body: bytes, word: str) -> None:
    assert status == 403, (status, body[:300])
    text = body.decode()
    assert text.count("\n") == 1 and text.endswith("\n") and word in text, text


class TestLoopbackHostsPass:
    """boto3's Host (127.0.0.1:PORT) and the other loopback spellings with the cloud's port are answered."""

    @pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}", "127.9.8.7:{port}",
                                      "s3.localhost:{port}"])
    def test_loopback_host_is_answered(self, cloud, host):
        """
        1. GET / (S3 ListBuckets) on the API server and GET /iris.data on the data server with that Host.
        2. Neither is refused: moto and the data server answer (200; a virtual-hosted ``s3.localhost`` name is
           taken as bucket "s3" by moto, a 404 NoSuchBucket, not the guard's 403).
        """
        for url, path in ((cloud.url, "/"), (cloud.data_url, "/iris.data")):
            headers = {"Host": host.format(port=_port(url))}
            if url == cloud.url:  # the API answers only signed requests (localcloud.server.signing)
                headers = _signed(cloud, "GET", path, b"", headers)
            status, _, body = _request(_port(url), "GET", path, headers=headers)
            assert status == (404 if host.startswith("s3.") and url == cloud.url else 200), (url, host, body[:200])

    def test_boto3_with_the_clouds_keys_works(self, cloud, bucket):
        """
        1. boto3 (the cloud's keys, endpoint http://127.0.0.1:PORT) puts and lists an object.
        2. It succeeds: the guard lets through what the kit's clients send.
        """
        s3 = cloud.client("s3")
        s3.put_object(Bucket=bucket, Key="boto3.txt", Body=b"ok")
        assert "boto3.txt" in _keys(cloud, bucket)


class TestForeignHostRefused:
    """DNS rebinding: a request whose Host is not a loopback name with the server's port gets 403."""

    @pytest.mark.parametrize("host", ["evil.example:{port}", "127.0.0.1.nip.io:{port}", "10.1.2.3:{port}",
                                      "127.0.0.1:1", "127.0.0.1", "localhost.evil.example:{port}", ""])
    def test_foreign_host_is_refused_on_both_servers(self, cloud, bucket, host):
        """
        1. Send the S3 form upload (API server) and GET /iris.data (data server) with that Host header.
        2. Both answer 403 with a one-line reason naming the Host; the object was not created.
        """
        path, body = _form_upload(bucket, "rebound.txt")
        headers = {"Host": host.format(port=_port(cloud.url)), "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        status, _, answer = _request(_port(cloud.url), "POST", path, body, headers)
        _assert_refused(status, answer, "Host")
        status, _, answer = _request(_port(cloud.data_url), "GET", "/iris.data",
                                     headers={"Host": host.format(port=_port(cloud.data_url))})
        _assert_refused(status, answer, "Host")
        assert "rebound.txt" not in _keys(cloud, bucket)


class TestCrossOriginRequestsRefused:
    """A simple cross-origin POST (no preflight) is refused, so a web page cannot create anything."""

    def test_the_upload_without_origin_meets_the_signature_check(self, cloud, bucket):
        """
        1. Send the S3 POST Object form upload with no Origin (as a script or curl would), unsigned.
        2. The guard lets it through and the signature check refuses it as S3 refuses an anonymous write
           (403 AccessDenied, https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html): the guard
           is what stops the browser's requests below, before any of their body is parsed.
        """
        path, body = _form_upload(bucket, "no-origin.txt")
        status, _, answer = _request(_port(cloud.url), "POST", path, body,
                                     {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
        assert status == 403 and b"<Code>AccessDenied</Code>" in answer, answer
        assert "no-origin.txt" not in _keys(cloud, bucket)

    @pytest.mark.parametrize("origin", FOREIGN_ORIGINS)
    def test_foreign_origin_is_refused(self, cloud, bucket, origin):
        """
        1. Send the same form upload with a foreign Origin (another site, another loopback port, a file:// page's
           "null", https on the cloud's port).
        2. 403 with a one-line reason naming the Origin; no Access-Control-Allow-Origin; nothing created.
        """
        key = unique_name("foreign")
        path, body = _form_upload(bucket, key)
        status, headers, answer = _request(_port(cloud.url), "POST", path, body, {
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Origin": origin.format(port=_port(cloud.url)), "Sec-Fetch-Site": "same-site"})
        _assert_refused(status, answer, "Origin")
        assert "access-control-allow-origin" not in headers
        assert key not in _keys(cloud, bucket)

    def test_text_plain_post_is_refused(self, cloud):
        """
        1. POST a text/plain body (fetch(url, {mode: "no-cors", method: "POST"})) with a foreign Origin.
        2. 403 before moto parses the body.
        """
        status, _, answer = _request(_port(cloud.url), "POST", "/", b"Action=CreateQueue&QueueName=x",
                                     {"Content-Type": "text/plain", "Origin": "http://evil.example"})
        _assert_refused(status, answer, "Origin")

    @pytest.mark.parametrize("site", ["cross-site", "same-site"])
    def test_browser_request_without_origin_is_refused(self, cloud, bucket, site):
        """
        1. Send the form upload with Sec-Fetch-Site cross-site or same-site and no Origin (a page's GET carries
           none; a page on another 127.0.0.1 port is "same-site").
        2. 403 naming Sec-Fetch-Site; nothing created.
        """
        key = unique_name(site)
        path, body = _form_upload(bucket, key)
        status, _, answer = _request(_port(cloud.url), "POST", path, body, {
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}", "Sec-Fetch-Site": site})
        _assert_refused(status, answer, "Sec-Fetch-Site")
        assert key not in _keys(cloud, bucket)

    def test_preflight_from_foreign_origin_gets_no_cors_grant(self, cloud):
        """
        1. Send the CORS preflight a page makes before a SageMaker JSON call (OPTIONS, X-Amz-Target).
        2. 403 and no Access-Control-Allow-* header (moto used to echo any Origin).
        """
        status, headers, answer = _request(_port(cloud.url), "OPTIONS", "/", headers={
            "Origin": "http://evil.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-amz-target,content-type,authorization"})
        _assert_refused(status, answer, "Origin")
        assert not [h for h in headers if h.startswith("access-control-allow")], headers

    @pytest.mark.parametrize("headers", [{"Origin": "http://127.0.0.1:{port}"}, {"Origin": "http://localhost:{port}"},
                                         {"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}],
                             ids=["own-origin", "own-origin-localhost", "same-origin", "typed-url"])
    def test_own_origin_passes(self, cloud, bucket, headers):
        """
        1. Send a signed PutObject from the cloud's own origin (a page it serves), or marked same-origin/none.
        2. It creates the object.
        """
        key = unique_name("own")
        extra = {name: value.format(port=_port(cloud.url)) for name, value in headers.items()}
        status, _, answer = _put(cloud, bucket, key, extra)
        assert status == 200, answer
        assert key in _keys(cloud, bucket)

    def test_data_server_refuses_foreign_origin(self, cloud):
        """
        1. GET /iris.data on the data server with a foreign Origin, then with Sec-Fetch-Site: cross-site.
        2. Both 403; without them it is served (200).
        """
        port = _port(cloud.data_url)
        for headers, word in (({"Origin": "http://evil.example"}, "Origin"), ({"Sec-Fetch-Site": "cross-site"},
                                                                             "Sec-Fetch-Site")):
            status, _, answer = _request(port, "GET", "/iris.data", headers=headers)
            _assert_refused(status, answer, word)
        assert _request(port, "GET", "/iris.data")[0] == 200


class TestAllowOrigin:
    """``--allow-origin URL`` lets one more origin's pages call the cloud (JupyterLab's, from make lab)."""

    def test_allowed_origin_passes_and_others_still_fail(self):
        """
        1. Start python -m localcloud --allow-origin http://127.0.0.1:8888.
        2. A signed PutObject with Origin http://127.0.0.1:8888 creates its object; one from :8889 gets 403.
        3. No response carries an Access-Control-Allow-Origin other than the allowed origin.
        """
        cloud = CloudProcess("--allow-origin", "http://127.0.0.1:8888")
        try:
            bucket = create_bucket(cloud, unique_name("allow"))
            for origin, expected in (("http://127.0.0.1:8888", 200), ("http://127.0.0.1:8889", 403)):
                status, headers, _ = _put(cloud, bucket, origin[-4:], {"Origin": origin})
                assert status == expected, origin
                assert headers.get("access-control-allow-origin", origin) == origin
            assert _keys(cloud, bucket) == ["8888"]
        finally:
            assert cloud.stop() == 0

    def test_malformed_allow_origin_is_a_usage_error(self):
        """
        1. Start python -m localcloud --allow-origin not-a-url.
        2. It exits 2 at once naming the value; nothing listens.
        """
        done = subprocess.run([sys.executable, "-m", "localcloud", "--port", "0", "--allow-origin", "not-a-url"],
                              capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT)
        assert done.returncode == 2 and "not-a-url" in done.stderr, done.stderr


def test_loopback_names():
    """The guard's own loopback test: names and addresses that are, and are not, loopback."""
    from localcloud.server.guard import is_loopback_host

    assert all(map(is_loopback_host, ["127.0.0.1", "127.255.0.9", "::1", "[::1]", "localhost", "LOCALHOST",
                                      "a.localhost", "localhost."]))
    assert not any(map(is_loopback_host, ["evil.example", "127.0.0.1.nip.io", "0.0.0.0", "10.0.0.1",
                                          "localhost.evil.example", "", socket.gethostname() + ".invalid"]))
