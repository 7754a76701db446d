"""The one executed series that the series tests read, made once per session on the worker that needs it.

A whole series costs about a minute, so the tests that only read what a run did share one:

* it runs on another supported Python (3.12 or 3.13, in a venv made from requirements.lock as `make venv`
  makes one) when the machine has one, else on the suite's own (``test_python_versions``);
* every process of it (the runner, its papermill kernels, the local cloud, its Lambda workers and jobs)
  is under the loopback audit, on a "laptop" with ~/.aws files, AWS_PROFILE and HTTP(S)_PROXY set
  (``test_loopback_only``); what the audit saw is read right after the run;
* its local cloud is its own and stays up, for the tests that inspect what the run left (``test_series_e2e``).

The modules that read it are one group of ``make test``'s workers (tests/parallel.py), so that it runs once.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest_cloud import CloudProcess
from series_support import ROOT, audited_env, counting_proxy, laptop_with_aws_settings, other_python, read_lines


@dataclass
class SharedSeries:
    """What the shared run did, and what the audit saw of it."""

    cloud: CloudProcess  # the run's local cloud, still up
    result: subprocess.CompletedProcess  # `python -m helpers run` 01-07
    out: Path  # the executed notebooks
    run_id: str
    python: str  # the interpreter that ran the runner and its kernels
    other_python: str | None  # a 3.12 or 3.13 found on the machine
    venv_steps: list[subprocess.CompletedProcess] = field(default_factory=list)  # `make venv`'s steps with it
    refused: list[str] = field(default_factory=list)  # connections and lookups the audit refused
    aws_files: list[str] = field(default_factory=list)  # processes that opened a file in ~/.aws
    armed: list[str] = field(default_factory=list)  # every process that armed the audit
    proxied: list[str] = field(default_factory=list)  # what reached HTTP(S)_PROXY
    seconds: float = 0.0


def other_python_venv(python: str, venv: Path) -> tuple[str | None, list[subprocess.CompletedProcess]]:
    """`make venv`'s steps with ``python``: a venv, requirements.lock, the kit editable; its python if all passed.

    ``--no-compile``: pip would byte-compile every installed module (moto's thousands), half the time of the
    install; Python compiles what the run imports anyway.
    """
    steps = [subprocess.run([python, "-m", "venv", str(venv)], capture_output=True, text=True, timeout=120)]
    pip = [str(venv / "bin/python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
    for args in (["-r", str(ROOT / "requirements.lock")], ["--no-deps", "-e", str(ROOT)]):
        if steps[-1].returncode != 0:
            return None, steps
        steps.append(subprocess.run([*pip, *args], capture_output=True, text=True, timeout=1200))
    return (str(venv / "bin/python") if steps[-1].returncode == 0 else None), steps


@pytest.fixture(scope="session")
def shared_series(tmp_path_factory) -> Iterator[SharedSeries]:
    """Run 01-07 once: on another Python when there is one, audited, against a local cloud that stays up."""
    base = tmp_path_factory.mktemp("shared-series")
    other = other_python()
    runner_python, venv_steps = other_python_venv(other, base / "venv") if other else (None, [])
    log = base / "connections.log"
    run_id = f"e2e-{time.time_ns() % 10**6}"
    with ExitStack() as stack:
        proxy_url, proxied = stack.enter_context(counting_proxy())
        env = laptop_with_aws_settings(audited_env(log), base / "home", proxy_url)
        cloud = CloudProcess(env=env)
        stack.callback(cloud.stop)
        started = time.monotonic()
        python = runner_python or sys.executable  # a broken venv fails test_python_versions, not the others
        result = subprocess.run([python, "-m", "helpers", "run", "--endpoint", cloud.url, "--out", str(base / "out"),
                                 "-p", "run_id", run_id, "-p", "data_url", f"{cloud.data_url}/iris.data"],
                                env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)
        yield SharedSeries(cloud=cloud, result=result, out=base / "out", run_id=run_id, python=python,
                           other_python=other, venv_steps=venv_steps, refused=read_lines(log),
                           aws_files=read_lines(Path(f"{log}.aws-files")), armed=read_lines(Path(f"{log}.armed")),
                           proxied=list(proxied), seconds=time.monotonic() - started)

