"""A web page in a real browser (headless Chromium) cannot make the local cloud create anything.

The page is served from another port of 127.0.0.1 (any local dev server, or a page that learned the
port) and sends what a page may send without a CORS preflight
(https://developer.mozilla.org/en-US/docs/Web/HTTP/Guides/CORS#simple_requests): a plain HTML form POST
and two ``fetch(…, {mode: "no-cors"})`` POSTs (multipart and text/plain), each an S3 POST Object upload
(https://docs.aws.amazon.com/AmazonS3/latest/API/RESTObjectPOST.html). The form and the multipart fetch
carry a real presigned POST policy (``generate_presigned_post``), as a page that was handed one would; the
text/plain one is unsigned. First the same page is pointed at a cloud that allows its origin
(``--allow-origin``): the two signed uploads create their objects (the attack is real) and the unsigned one
is refused by the signature check. Against a cloud with the default settings it creates none.

Chromium is Debian's package, installed by scripts/ensure_chromium.sh when missing (as tests/handout does);
the test skips, saying why, only when that is impossible.
"""

from __future__ import annotations

import functools
import html
import http.server
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from _support import PROJECT_ROOT, create_bucket, unique_name

from conftest_cloud import CloudProcess

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                  "--disable-default-apps", "--mute-audio"]
ATTACK_KEYS = ["form-attack.txt", "fetch-multipart-attack.txt", "fetch-text-attack.txt"]
SIGNED_KEYS = ATTACK_KEYS[:2]  # the uploads that carry a presigned POST policy
PAGE = """<!doctype html><html><body>
<iframe name="sink"></iframe>
<form id="form" method="POST" action="{target}" target="sink" enctype="multipart/form-data">
  <input name="key" value="form-attack.txt">{inputs}<input name="file" value="written by a web page">
</form>
<script>
const target = "{target}";
const multipart = new FormData();
multipart.append("key", "fetch-multipart-attack.txt");
for (const [name, value] of Object.entries({fields})) multipart.append(name, value);
multipart.append("file", new Blob(["written by a web page"], {{type: "text/plain"}}), "x.txt");
Promise.allSettled([
  fetch(target, {{method: "POST", mode: "no-cors", body: multipart}}),
  fetch(target + "?key=fetch-text-attack.txt", {{method: "POST", mode: "no-cors",
        headers: {{"Content-Type": "text/plain"}}, body: "written by a web page"}}),
]).then(results => {{
  document.getElementById("form").submit();  // a 204 answer does not load the iframe: wait instead
  setTimeout(() => {{
    const done = document.createElement("pre");
    done.id = "attack-done";
    done.textContent = results.map(r => r.status).join(",");
    document.body.appendChild(done);
  }}, 2000);
}});
</script></body></html>"""


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium")
    if not found:
        done = subprocess.run(["bash", str(PROJECT_ROOT / "scripts/ensure_chromium.sh")], capture_output=True,
                              text=True, timeout=1200)
        found = shutil.which("chromium")
        if done.returncode != 0 or not found:
            pytest.skip(f"Debian's chromium is not installed and scripts/ensure_chromium.sh could not install it "
                        f"(exit {done.returncode}): {(done.stderr or done.stdout).strip()[-500:]}")
    return found


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib's name
        pass


@pytest.fixture(scope="module")
def attack_site(tmp_path_factory):
    """An HTTP server on another 127.0.0.1 port serving the attack pages: (folder, origin)."""
    folder = tmp_path_factory.mktemp("attack-site")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def open_attack_page(chromium: str, attack_site, cloud, bucket: str, profile: Path) -> str:
    """Serve the page aimed at ``cloud``'s bucket, open it headless, return the DOM once the attacks were sent."""
    folder, origin = attack_site
    page = folder / f"{bucket}.html"
    post = cloud.client("s3").generate_presigned_post(bucket, "${filename}", Conditions=[["starts-with", "$key", ""]])
    fields = {name: value for name, value in post["fields"].items() if name != "key"}
    inputs = "".join(f'<input type="hidden" name="{html.escape(n)}" value="{html.escape(v)}">' for n, v in fields.items())
    page.write_text(PAGE.format(target=f"{cloud.url}/{bucket}", inputs=inputs, fields=json.dumps(fields)))
    command = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--dump-dom",
               f"{origin}/{page.name}"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        dom, errors = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail("chromium did not finish the attack page in 120 s")
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert process.returncode == 0, f"chromium exited {process.returncode}: {errors[-2000:]}"
    assert 'id="attack-done"' in dom, f"the page did not send its requests: {dom[-2000:]}"
    return dom


def keys(cloud, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in cloud.client("s3").list_objects_v2(Bucket=bucket).get("Contents", []))


class TestCrossOriginPageCreatesNothing:
    """The page's simple POSTs create objects only where its origin is explicitly allowed."""

    def test_the_attack_page_works_where_its_origin_is_allowed(self, chromium, attack_site, tmp_path):
        """
        1. Start a cloud with --allow-origin <the attack page's origin>; make a bucket.
        2. Open the attack page in headless Chromium.
        3. The two uploads with a presigned POST policy create their objects (the form and the multipart no-cors
           fetch reach S3); the unsigned text/plain one is refused by the signature check.
        """
        cloud = CloudProcess("--allow-origin", attack_site[1])
        try:
            bucket = create_bucket(cloud, unique_name("allowed-page"))
            open_attack_page(chromium, attack_site, cloud, bucket, tmp_path / "profile")
            deadline = time.monotonic() + 10
            while keys(cloud, bucket) != sorted(SIGNED_KEYS) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert keys(cloud, bucket) == sorted(SIGNED_KEYS)
        finally:
            assert cloud.stop() == 0

    def test_default_cloud_refuses_the_page(self, chromium, attack_site, cloud, tmp_path):
        """
        1. With the session's cloud (default settings), make a bucket.
        2. Open the same attack page aimed at it in headless Chromium; it sends its three requests.
        3. The bucket stays empty: nothing the page sent was acted on.
        """
        bucket = create_bucket(cloud, unique_name("refused-page"))
        open_attack_page(chromium, attack_site, cloud, bucket, tmp_path / "profile")
        time.sleep(1)  # as long as the allowed case may need for the last object to land
        assert keys(cloud, bucket) == []
