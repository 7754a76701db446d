"""``python -m localcloud``: announces itself, serves, and shuts down cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import ctypes
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
from _support import PROJECT_ROOT
from conftest_cloud import boto_keys, keys_from_ready_line

READY_TIMEOUT = 30
EXIT_TIMEOUT = 8  # "within a few seconds"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class CliProcess:
    """``python -m localcloud --port PORT`` with its stdout read line by line in the background."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen([sys.executable, "-m", "localcloud", "--port", str(port)],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                        cwd=PROJECT_ROOT)
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for_line(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line containing {text!r} within {timeout} s") from None
            if line is None:
                raise AssertionError(f"localcloud exited ({self.process.poll()}) before printing {text!r}")
            if text in line:
                if "keys in " in line:
                    self.keys = keys_from_ready_line(line)
                return line

    def client(self, service: str):
        return boto3.session.Session().client(service, region_name="eu-west-1", endpoint_url=self.url,
                                              **boto_keys(self.keys))

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def cli():
    process = CliProcess(_free_port())
    yield process
    process.kill()


def _stop_and_time(cli: CliProcess, send: Callable[[], None]) -> tuple[int, float]:
    """Send a signal with ``send``; return (exit code, seconds until exit)."""
    started = time.monotonic()
    send()
    try:
        code = cli.process.wait(timeout=EXIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"localcloud did not exit within {EXIT_TIMEOUT} s of the signal")
    return code, time.monotonic() - started


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
class TestServeUntilSignal:
    """It announces its URL, serves AWS APIs there, and SIGTERM/SIGINT stop it cleanly."""

    def test_ready_serve_and_stop(self, cli, signum):
        """
        1. Start python -m localcloud --port <free port>.
        2. It prints a line containing "ready" and http://127.0.0.1:<port>.
        3. S3 create_bucket/list_buckets against that URL work.
        4. Send the signal: it prints "stopped" and exits 0 within a few seconds.
        5. The port no longer accepts connections.
        """
        line = cli.wait_for_line("ready", READY_TIMEOUT)

        assert f"http://127.0.0.1:{cli.port}" in line
        s3 = cli.client("s3")
        s3.create_bucket(Bucket="cli-test", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["cli-test"]

        code, elapsed = _stop_and_time(cli, lambda: cli.process.send_signal(signum))

        assert code == 0, f"exit code {code} after {signal.Signals(signum).name}"
        assert elapsed < EXIT_TIMEOUT
        cli.wait_for_line("stopped", 1)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", cli.port), timeout=1).close()


class TestSignalOnAnotherThread:
    """SIGTERM stops the cloud even when the kernel hands it to a thread other than the main one."""

    def test_signal_received_by_another_thread(self, cli):
        """
        1. Start python -m localcloud and wait for its ready line.
        2. Deliver SIGTERM to one of its non-main threads (tgkill), as the kernel may do when another
           thread is busy, e.g. starting a Lambda environment or a job process.
        3. It still exits 0 within a few seconds: the main thread notices the signal without being woken
           by it. (Before the fix in localcloud/__main__.py the process never exited.)
        """
        libc = ctypes.CDLL(None, use_errno=True)
        if not hasattr(libc, "tgkill") or not Path(f"/proc/{cli.process.pid}/task").is_dir():
            pytest.skip("needs Linux /proc and glibc's tgkill to signal one thread of another process")
        cli.wait_for_line("ready", READY_TIMEOUT)
        pid = cli.process.pid
        threads = sorted(int(task.name) for task in Path(f"/proc/{pid}/task").iterdir() if int(task.name) != pid)
        assert threads, "localcloud runs server threads besides the main thread"

        def send() -> None:
            assert libc.tgkill(pid, threads[0], signal.SIGTERM) == 0, f"tgkill failed: errno {ctypes.get_errno()}"

        code, _ = _stop_and_time(cli, send)

        assert code == 0, f"exit code {code} after SIGTERM"


class TestBusyPort:
    """A taken port is a quick, clear failure, not a hang (ThreadedMotoServer waited forever)."""

    BUSY_TIMEOUT = 5

    def test_taken_port_fails_within_seconds_naming_it(self):
        """
        1. Hold a listening socket on a free port of 127.0.0.1.
        2. Start python -m localcloud --port <that port>.
        3. It exits non-zero within 5 s, printing one line that names the port and no "ready" line.
        """
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", 0))
            holder.listen()
            port = holder.getsockname()[1]
            started = time.monotonic()
            process = subprocess.Popen([sys.executable, "-m", "localcloud", "--port", str(port)], cwd=PROJECT_ROOT,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                out, err = process.communicate(timeout=self.BUSY_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
                pytest.fail(f"localcloud on a taken port did not exit within {self.BUSY_TIMEOUT} s")
            elapsed = time.monotonic() - started

        assert process.returncode != 0
        assert "ready" not in out
        lines = err.strip().splitlines()
        assert len(lines) == 1 and str(port) in lines[0] and "in use" in lines[0], err
        assert elapsed < self.BUSY_TIMEOUT
        print(f"busy port: exit {process.returncode} after {elapsed:.2f} s: {lines[0]}")

    def test_in_process_cloud_raises_port_in_use_and_cleans_up(self, monkeypatch):
        """
        1. Hold a listening socket; start LocalCloud(port=<that port>) in-process (the path the CLI takes when the
           port is taken between its quick test and the real bind).
        2. start() raises PortInUse naming the port at once, and removes the scratch folder it made.
        """
        from localcloud import moto_seams
        from localcloud.cloud import LocalCloud, PortInUse

        monkeypatch.delenv("MOTO_PORT", raising=False)
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", 0))
            holder.listen()
            port = holder.getsockname()[1]
            cloud = LocalCloud(port=port)
            try:
                with pytest.raises(PortInUse, match=str(port)):
                    cloud.start()
            finally:
                moto_seams.uninstall()
        assert not cloud.workdir.exists()


class TestInfoRoute:
    """GET /_localcloud/info tells a client where the cloud serves its data (no AWS API can)."""

    def test_it_names_the_data_server(self, cloud):
        """
        1. GET <cloud>/_localcloud/info with a loopback Host and no Origin (as helpers.connect does).
        2. 200 JSON: the cloud's URL and the data URL of its ready line; that URL serves iris.data.
        """
        import json
        import urllib.request

        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{cloud.url}/_localcloud/info", timeout=5) as response:
            info = json.load(response)
        assert info == {"url": cloud.url, "data_url": cloud.data_url}
        with opener.open(f"{info['data_url']}/iris.data", timeout=5) as response:
            assert response.read().count(b"\n") >= 150
