"""``python -m helpers run`` stopped from outside leaves nothing running and no scratch folder.

SIGTERM (``kill``, a CI timeout, systemd) and SIGHUP (a closed terminal) stop the runner as Ctrl-C
does: the local cloud it started is stopped, with its Lambda environments and job processes, and the
cloud's temporary work folder is removed. A runner killed with SIGKILL cannot clean up; its cloud
notices that its parent is gone and stops itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from faults_support import PROJECT_ROOT

pytestmark = pytest.mark.series
STARTED = "local cloud started at "


class Runner:
    """A real ``python -m helpers run`` whose TMPDIR is a test folder (so the cloud's workdir lands there)."""

    def __init__(self, tmp_path: Path, notebooks: str) -> None:
        self.tmp = tmp_path / "tmp"
        self.tmp.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_DREAMS_")}
        env["TMPDIR"] = str(self.tmp)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "helpers", "run", "--notebooks", notebooks, "--out", str(tmp_path / "out")],
            cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_for_cloud(self, timeout: float = 120) -> psutil.Process:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if line.startswith(STARTED):
                break
            if not line and self.process.poll() is not None:
                pytest.fail(f"the runner exited ({self.process.returncode}) before starting its cloud: "
                            f"{self.process.stderr.read()[-2000:]}")
        clouds = [p for p in psutil.Process(self.process.pid).children() if "localcloud" in p.cmdline()]
        assert len(clouds) == 1, f"the runner's children: {[p.cmdline() for p in clouds]}"
        return clouds[0]

    def descendants(self) -> list[psutil.Process]:
        return [p for p in psutil.Process(self.process.pid).children(recursive=True)
                if p.status() != psutil.STATUS_ZOMBIE]

    def kill_if_running(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        self.process.stderr.close()


def gone(processes: list[psutil.Process], timeout: float) -> list[str]:
    """The processes still running (not zombies) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        left = []
        for process in processes:
            try:
                if process.status() != psutil.STATUS_ZOMBIE:
                    left.append(" ".join(process.cmdline()[:4]))
            except psutil.NoSuchProcess:
                pass
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


@pytest.fixture
def runner_factory(tmp_path):
    made: list[Runner] = []

    def make(notebooks: str) -> Runner:
        made.append(Runner(tmp_path, notebooks))
        return made[-1]

    yield make
    for runner in made:
        runner.kill_if_running()


class TestSigtermStopsTheRunnersCloud:
    """SIGTERM during notebook 02 (a Lambda environment running): cloud, environments, kernel and workdir go."""

    def test_sigterm_mid_series_cleans_up(self, runner_factory):
        """
        1. Start `python -m helpers run --notebooks 01,02,03` (it starts its own cloud).
        2. Wait until the cloud has a child (02's Lambda environment or 03's job).
        3. SIGTERM the runner.
        4. It exits 143 within 30 s saying it was stopped by SIGTERM; the cloud, every process the runner had
           started (cloud children, the notebook kernel) and the cloud's localcloud-* work folder are gone.
        """
        runner = runner_factory("01,02,03")
        cloud = runner.wait_for_cloud()
        deadline = time.monotonic() + 180
        while not [p for p in cloud.children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE]:
            assert time.monotonic() < deadline and runner.process.poll() is None, "the cloud never started a process"
            time.sleep(0.2)
        started = runner.descendants()
        assert list(runner.tmp.glob("localcloud-*")), "the cloud's work folder should exist while it runs"

        sent = time.monotonic()
        runner.process.send_signal(signal.SIGTERM)
        code = runner.process.wait(timeout=30)
        left = gone(started, timeout=5)
        seconds = time.monotonic() - sent

        assert code == 128 + signal.SIGTERM, runner.process.stderr.read()[-2000:]
        assert "stopped by SIGTERM" in runner.process.stderr.read()
        assert not left, f"still running after SIGTERM to the runner: {left}"
        assert not list(runner.tmp.glob("localcloud-*")), "the cloud's work folder was left behind"
        print(f"SIGTERM to clean: {seconds:.2f} s ({len(started)} processes)")


class TestSighupStopsTheRunnersCloud:
    """SIGHUP (the terminal closed) stops the runner and its cloud the same way."""

    def test_sighup_cleans_up(self, runner_factory):
        """
        1. Start the runner on notebook 01 and wait for its cloud.
        2. SIGHUP the runner: it exits 129, its cloud is gone and so is the cloud's work folder.
        """
        runner = runner_factory("01")
        cloud = runner.wait_for_cloud()
        runner.process.send_signal(signal.SIGHUP)
        assert runner.process.wait(timeout=30) == 128 + signal.SIGHUP
        assert not gone([cloud], timeout=5)
        assert not list(runner.tmp.glob("localcloud-*"))


class TestSigkilledRunnersCloudStopsItself:
    """A runner killed with SIGKILL runs no cleanup; its cloud (started with --exit-with-parent) stops itself."""

    def test_cloud_exits_when_runner_is_killed(self, runner_factory):
        """
        1. Start the runner on notebook 01 and wait for its cloud.
        2. SIGKILL the runner.
        3. Within 5 s the cloud has stopped (cleanly: its work folder is removed).
        """
        runner = runner_factory("01")
        cloud = runner.wait_for_cloud()
        runner.process.kill()
        runner.process.wait()
        sent = time.monotonic()
        assert not gone([cloud], timeout=10)
        deadline = time.monotonic() + 5
        while list(runner.tmp.glob("localcloud-*")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not list(runner.tmp.glob("localcloud-*"))
        print(f"cloud gone {time.monotonic() - sent:.2f} s after SIGKILL to the runner")
