"""SDK programs run as a learner runs a script: a new Python after ``eval "$(python -m localcloud env ...)"``.

Each program under ``programs/`` is SageMaker Python SDK v3 code as AWS's example notebooks write it, with no
change for the local cloud. It runs under the loopback audit (``tests/series/audit_site``): any connection or DNS
lookup that would leave 127.0.0.1 is refused and logged, and :func:`run_program` fails the test on it.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PROGRAMS = Path(__file__).resolve().parent / "programs"
AUDIT_SITE = Path(__file__).resolve().parents[1] / "series" / "audit_site"
REGION = "eu-west-1"


def localcloud_env(url: str, region: str = REGION) -> dict[str, str]:
    """What ``eval "$(python -m localcloud env --endpoint URL --region R)"`` sets, read from its output."""
    done = subprocess.run([sys.executable, "-m", "localcloud", "env", "--endpoint", url, "--region", region],
                          capture_output=True, text=True, timeout=120, check=True)
    values: dict[str, str] = {}
    for line in done.stdout.splitlines():
        words = shlex.split(line)
        if words[:1] == ["export"]:
            name, _, value = words[1].partition("=")
            values[name] = value
    return values


def program_env(url: str, home: Path, audit_log: Path, without: tuple[str, ...] = ()) -> dict[str, str]:
    """A process's environment after ``localcloud env``, with a home of its own (no ~/.aws) and the audit on.

    ``without``: variables ``localcloud env`` prints that are left out (to show what each is for).
    """
    env = {name: os.environ[name] for name in ("PATH", "LANG", "TMPDIR") if name in os.environ}
    env.update({name: value for name, value in localcloud_env(url).items() if name not in without})
    env.update(HOME=str(home), PYTHONPATH=str(AUDIT_SITE), LOOPBACK_AUDIT_LOG=str(audit_log))
    return env


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    refused: list[str]  # the audit's log: connections and DNS lookups that would have left loopback

    @property
    def result(self) -> dict:
        """The JSON object the program printed last."""
        return json.loads(self.stdout.strip().splitlines()[-1])


def run_program(name: str, url: str, tmp_path: Path, args: dict[str, str] | None = None,
                without: tuple[str, ...] = (), timeout: float = 600) -> Outcome:
    """Run ``programs/<name>`` against the cloud at ``url``; ``args`` reach it as PROGRAM_* variables."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    audit_log = tmp_path / f"{name}.audit.log"
    env = program_env(url, home, audit_log, without)
    env.update({f"PROGRAM_{key.upper()}": value for key, value in (args or {}).items()})
    done = subprocess.run([sys.executable, str(PROGRAMS / name)], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=tmp_path)
    refused = audit_log.read_text().splitlines() if audit_log.exists() else []
    return Outcome(done.returncode, done.stdout, done.stderr, refused)


def assert_ran(outcome: Outcome) -> dict:
    """The program ended well and nothing left loopback; returns what it printed last."""
    assert not outcome.refused, "left loopback:\n" + "\n".join(outcome.refused) + "\n" + outcome.stderr[-3000:]
    assert outcome.returncode == 0, outcome.stderr[-6000:]
    return outcome.result
