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
from series_support import ROOT, audited_env, counting_proxy, laptop_with_aws_settings, read_lines

import other_venv  # tests/other_venv.py
from parallel import OTHER_VENV_KEY


@dataclass
class SharedSeries:
    """What the shared run did, and what the audit saw of it."""

    cloud: CloudProcess  # the run's local cloud, still up
    result: subprocess.CompletedProcess  # `python -m helpers run` 01-08
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


@pytest.fixture(scope="session")
def shared_series(request, tmp_path_factory) -> Iterator[SharedSeries]:
    """Run 01-08 once: on another Python when there is one, audited, against a local cloud that stays up.

    Under ``make test`` the other Python's venv was started by the xdist controller (tests/other_venv.py).
    """
    base = tmp_path_factory.mktemp("shared-series")
    made_by_controller = getattr(request.config, "workerinput", {}).get(OTHER_VENV_KEY)
    if made_by_controller:
        other, runner_python, venv_steps = other_venv.result(Path(made_by_controller))
    else:
        other = other_venv.other_python()
        runner_python, venv_steps = other_venv.build(other, base / "venv") if other else (None, [])
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

