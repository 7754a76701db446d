"""Each Lambda execution environment has a /tmp of its own, of EphemeralStorage's size, gone with it.

AWS: "each execution environment" has its own ``/tmp``; its size is the function's
``EphemeralStorage`` (512 MB by default, 512-10240 MB)
(https://docs.aws.amazon.com/lambda/latest/dg/API_EphemeralStorage.html,
https://docs.aws.amazon.com/lambda/latest/dg/configuration-ephemeral-storage.html). Where the
machine lets the cloud make mount namespaces, /tmp is a tmpfs of that size per environment; elsewhere
(or with ``LOCALCLOUD_PRIVATE_TMP=0``) each environment gets a ``TMPDIR`` folder of its own, removed
with it (see localcloud.child.private_tmp). Tests that need the namespace skip, saying why, without it.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest
from _support import create_role, unique_name, zip_bytes
from test_escaped_processes import SRC, unprivileged_user  # noqa: F401 - unprivileged_user: a fixture

from conftest_cloud import CloudProcess

REGION = "eu-west-1"
# Writes event["write"] into event["path"] (if given); answers what /tmp looks like from inside.
HANDLER = """
import errno, os, tempfile
def handler(event, context):
    answer = {"private": os.environ.get("LOCALCLOUD_PRIVATE_TMP"), "tempdir": tempfile.gettempdir()}
    path = event.get("path")
    if path and "write" in event:
        with open(path, "w") as f:
            f.write(event["write"])
    if path:
        answer["read"] = open(path).read() if os.path.exists(path) else None
    if event.get("fill_mb"):
        try:
            with open("/tmp/fill", "wb") as f:
                for _ in range(event["fill_mb"]):
                    f.write(b"\\0" * (1 << 20))
                f.flush()
                os.fsync(f.fileno())
            answer["fill"] = "written"
        except OSError as error:
            answer["fill"] = errno.errorcode.get(error.errno, str(error))
        finally:
            if os.path.exists("/tmp/fill"):
                os.remove("/tmp/fill")
    st = os.statvfs("/tmp")
    answer["tmp_mb"] = st.f_blocks * st.f_frsize // (1 << 20)
    return answer
"""


def make_function(cloud, storage_mb: int | None = None, env: dict[str, str] | None = None) -> str:
    name = unique_name("tmp")
    extra = {"EphemeralStorage": {"Size": storage_mb}} if storage_mb else {}
    cloud.client("lambda", region=REGION).create_function(
        FunctionName=name, Runtime="python3.11", Role=create_role(cloud, unique_name("role")),
        Handler="app.handler", Code={"ZipFile": zip_bytes({"app.py": HANDLER})}, Timeout=60,
        Environment={"Variables": env or {"V": "1"}}, **extra)
    return name


def call(cloud, name: str, **event) -> dict:
    response = cloud.client("lambda", region=REGION).invoke(FunctionName=name, Payload=json.dumps(event).encode())
    payload = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, payload
    return payload


def new_environment(cloud, name: str, value: str) -> None:
    """A configuration change: the next invoke runs in a new execution environment, as on AWS."""
    cloud.client("lambda", region=REGION).update_function_configuration(
        FunctionName=name, Environment={"Variables": {"V": value}})


def require_private(answer: dict) -> None:
    """Skip where the cloud says it fell back to folders; fail where it says nothing (no private /tmp at all)."""
    if answer["private"] == "0":
        pytest.skip("this machine lets the cloud make no mount namespace (see the cloud's note on stderr)")
    assert answer["private"] == "1", f"the environment should say whether its /tmp is private: {answer}"


class TestPrivateTmp:
    """With namespaces: literal /tmp paths are each environment's own, and go with it."""

    def test_two_functions_see_only_their_own_file(self, cloud):
        """
        1. Functions A and B each write /tmp/<same name> (A writes "A", B writes "B").
        2. Each reads back its own; A's warm environment still reads "A"; the machine's /tmp has no such file.
        """
        path = f"/tmp/lc-same-{uuid.uuid4().hex}"
        a, b = make_function(cloud), make_function(cloud)
        require_private(call(cloud, a, path=path, write="A"))
        assert call(cloud, b, path=path, write="B")["read"] == "B"
        assert call(cloud, a, path=path)["read"] == "A"
        assert call(cloud, b, path=path)["read"] == "B"
        assert not os.path.exists(path), "the environments' /tmp must not be the machine's"

    def test_the_file_is_gone_with_the_environment(self, cloud):
        """
        1. Invoke: the handler writes /tmp/<name>; a warm invoke still sees it.
        2. UpdateFunctionConfiguration (the environment is replaced): the next invoke does not see it.
        """
        path = f"/tmp/lc-gone-{uuid.uuid4().hex}"
        name = make_function(cloud)
        require_private(call(cloud, name, path=path, write="x"))
        assert call(cloud, name, path=path)["read"] == "x"
        new_environment(cloud, name, "2")
        assert call(cloud, name, path=path)["read"] is None

    def test_writing_past_ephemeral_storage_fails_with_enospc(self, cloud):
        """
        1. A function of EphemeralStorage 512 MB: /tmp is 512 MB; writing 600 MB fails with ENOSPC.
        2. A function of 1024 MB: its /tmp is 1024 MB.
        """
        name = make_function(cloud, storage_mb=512)
        answer = call(cloud, name, fill_mb=600)
        require_private(answer)
        assert answer["fill"] == "ENOSPC", answer
        assert answer["tmp_mb"] == 512, answer
        assert call(cloud, make_function(cloud, storage_mb=1024))["tmp_mb"] == 1024


@pytest.fixture(scope="module")
def fallback_cloud():
    """A cloud told to use the folder fallback (as on a machine without namespaces)."""
    cloud = CloudProcess(env={**os.environ, "LOCALCLOUD_PRIVATE_TMP": "0"})
    yield cloud
    cloud.stop()


class TestFallbackFolder:
    """Without namespaces (forced here): each environment has a TMPDIR folder of its own, removed with it."""

    def test_each_environment_has_its_own_tempdir_removed_with_it(self, fallback_cloud):
        """
        1. Two functions: LOCALCLOUD_PRIVATE_TMP=0, and tempfile.gettempdir() differs, is an existing folder.
        2. A file written there is seen by the warm environment; after UpdateFunctionConfiguration the folder
           is gone and the new environment has another one.
        """
        a, b = make_function(fallback_cloud), make_function(fallback_cloud)
        first, other = call(fallback_cloud, a), call(fallback_cloud, b)
        assert first["private"] == "0" and first["tempdir"] != other["tempdir"], (first, other)
        assert first["tempdir"] != "/tmp" and os.path.isdir(first["tempdir"])
        path = os.path.join(first["tempdir"], "mine")
        call(fallback_cloud, a, path=path, write="A")
        assert call(fallback_cloud, a, path=path)["read"] == "A"
        new_environment(fallback_cloud, a, "2")
        again = call(fallback_cloud, a)
        assert again["tempdir"] != first["tempdir"]
        assert not os.path.exists(first["tempdir"]), "the old environment's folder should be removed"


# process_group's leader makes the namespace with the standard library only, so the system's Python runs it
# as the unprivileged user (the venv's interpreter lives under /root, 0700 here: see test_escaped_processes).
UNPRIVILEGED_CHILD = (
    "import os, errno\n"
    "st = os.statvfs('/tmp'); print(st.f_blocks * st.f_frsize >> 20)\n"
    "open('/tmp/lc-unprivileged', 'w').write('x'); print(os.getuid())\n"
    "try:\n"
    "    open('/tmp/fill', 'wb').write(b'0' * (9 << 20)); print('written')\n"
    "except OSError as error:\n"
    "    print(errno.errorcode[error.errno])\n")
UNPRIVILEGED_CHECK = (
    "import sys; sys.path.insert(0, sys.argv[1])\n"
    "from localcloud.child import process_group, private_tmp\n"
    "ok, reason = private_tmp.probe()\n"
    "if not ok:\n"
    "    print('unavailable', reason); sys.exit(0)\n"
    "import os; os.environ[private_tmp.SIZE_ENV] = '8'\n"
    "leader = process_group.start([sys.executable, '-c', sys.argv[2]])\n"
    "sys.exit(leader.wait())\n")


class TestUnprivileged:
    """As a user who is not root: the same private, size-limited /tmp (user + mount namespaces)."""

    def test_private_tmp_as_a_plain_user(self, unprivileged_user):  # noqa: F811 - the fixture
        """
        1. As a user made with useradd, start a command under process_group with LOCALCLOUD_TMP_MB=8.
        2. Its /tmp is 8 MB, a file it writes there is not in the machine's /tmp, 9 MB fail with ENOSPC,
           and it runs as that user (not as root in its namespace).
        """
        done = subprocess.run(["/usr/bin/python3", "-I", "-c", UNPRIVILEGED_CHECK, str(SRC), UNPRIVILEGED_CHILD],
                              user=unprivileged_user.pw_uid, group=unprivileged_user.pw_gid, cwd="/",
                              env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        if done.stdout.startswith("unavailable"):
            pytest.skip(f"no user namespaces for a plain user here: {done.stdout}")
        leaked = os.path.exists("/tmp/lc-unprivileged")
        if leaked:
            os.remove("/tmp/lc-unprivileged")
        assert done.stdout.split() == ["8", str(unprivileged_user.pw_uid), "ENOSPC"], (done.stdout, done.stderr)
        assert not leaked, "the file should have been written in the command's own /tmp"
