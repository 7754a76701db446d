"""A spare Lambda environment: a bootstrap process started ahead, with boto3 already imported.

A fresh Python imports boto3 (the handlers' one dependency, part of AWS's Python runtime) before the
handler's own module: most of the 0.2-0.4 s a cold invoke would take. So the runtime keeps one spare ``python -m localcloud.child.lambda_bootstrap --spare`` process that has
imported boto3 and waits; a cold start hands it the function's environment and code folder (one
JSON line, :func:`localcloud.child.spare.become_message`), and it goes on exactly as a fresh bootstrap does: the
environment replaces ``os.environ``, the code folder becomes the working directory and the first
entry of ``sys.path``, the mirror patches are armed, and the handler's module is imported (the init
phase). Then a new spare starts in the background for the next cold start.

A spare is used only when the function's environment agrees with the spare's in everything read when
Python starts (``PYTHON*``, ``LD_*``, ``MALLOC_*``, locale, ``*_NUM_THREADS``); otherwise, or if no
spare is ready, the environment starts as a fresh bootstrap. Nothing of one function reaches another: a
spare has run no handler code, and each one serves a single environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from localcloud.child import process_group
from localcloud.child.spare import become_message
from localcloud.common.python_startup import startup_settings

# A spare's leader mounted its /tmp (localcloud.child.private_tmp) at this size before the spare started.
_LEADER_SETTINGS = ("LOCALCLOUD_TMP_MB",)


class Spares:
    """The runtime's side: one spare at a time, started in the background.

    Args:
        env: the spare's environment (what every function's environment starts with), or a function
            returning it (called once, in the background: it may wait for the runtime's /tmp probe).
        cwd: a neutral working directory for the waiting spare.
    """

    def __init__(self, env: dict[str, str] | Callable[[], dict[str, str]], cwd: Path) -> None:
        self._env_source = env
        self._env: dict[str, str] | None = None
        self.cwd = cwd
        self._lock = threading.Lock()
        self._spare: subprocess.Popen | None = None
        self._tmp_folders: set[str] = set()  # the machine's /tmp folders the spare's private /tmp shows
        self._closed = False
        self._refill()

    @property
    def env(self) -> dict[str, str]:
        if self._env is None:
            source = self._env_source
            self._env = source() if callable(source) else source
        return self._env

    def _refill(self) -> None:
        threading.Thread(target=self._launch, daemon=True, name="localcloud-lambda-spare").start()

    def _launch(self) -> None:
        self.cwd.mkdir(parents=True, exist_ok=True)
        folders = _tmp_folders() if "LOCALCLOUD_TMP_MB" in self.env else set()  # listed before its leader does
        try:
            process = process_group.start([sys.executable, "-m", "localcloud.child.lambda_bootstrap", "--spare"],
                                          cwd=self.cwd, env=self.env, text=True, stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError:
            return
        with self._lock:
            if self._closed or self._spare is not None:
                _kill(process)
                return
            self._spare, self._tmp_folders = process, folders

    def take(self, env: dict[str, str], cwd: Path) -> subprocess.Popen | None:
        """A spare turned into the function's environment, or None (start a fresh one)."""
        if startup_settings(env, _LEADER_SETTINGS) != startup_settings(self.env, _LEADER_SETTINGS):
            return None
        with self._lock:
            process, self._spare = self._spare, None
        if process is None:
            return None
        if "LOCALCLOUD_TMP_MB" in env and not _tmp_folders() <= self._tmp_folders:
            _kill(process)  # a folder made in /tmp since (a test's tmp_path) would be missing from its /tmp
            self._refill()
            return None
        self._refill()
        if process.poll() is not None:
            _kill(process)
            return None
        try:
            process.stdin.write(become_message(env, cwd))
            process.stdin.flush()
        except OSError:
            _kill(process)
            return None
        return process

    def close(self) -> None:
        with self._lock:
            self._closed = True
            process, self._spare = self._spare, None
        if process is not None:
            _kill(process)


def _tmp_folders() -> set[str]:
    try:
        return {entry.name for entry in os.scandir("/tmp") if entry.is_dir(follow_symlinks=False)}
    except OSError:
        return set()


def _kill(process: subprocess.Popen) -> None:
    process_group.kill(process)
    for pipe in (process.stdin, process.stdout, process.stderr):
        if pipe:
            pipe.close()
