"""The venv of another supported Python (3.12 or 3.13) that the shared series runs on (``test_python_versions``).

It is made as ``make venv`` makes one: a venv, requirements.lock, the kit editable (~20 s of pip). Under
``make test`` the pytest-xdist controller, which runs no test, makes it in the background as soon as it knows
the shared series was collected (tests/parallel.py), while both workers start on other tests; the worker that
runs the shared series waits for it (:func:`result`). Without xdist the fixture makes it itself (:func:`build`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Another supported Python for the kit (not the suite's own version): the first of these that exists.
OTHER_PYTHONS = [os.environ.get("PIPELINE_DREAMS_OTHER_PYTHON", ""),
                 str(Path.home() / ".pyenv/versions/3.13.0/bin/python"),
                 str(Path.home() / ".pyenv/versions/3.12.1/bin/python"),
                 shutil.which("python3.13") or "", shutil.which("python3.12") or ""]
DONE = "done.json"  # written last, once: its presence says the venv is made (or failed)


def other_python() -> str | None:
    """An interpreter of 3.12 or 3.13 (not the suite's own version), or None."""
    import sys

    for candidate in filter(None, OTHER_PYTHONS):
        if not Path(candidate).exists():
            continue
        version = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"],
                                 capture_output=True, text=True).stdout.strip()
        if version in ("(3, 12)", "(3, 13)") and version != str(sys.version_info[:2]):
            return candidate
    return None


def build(python: str, venv: Path) -> tuple[str | None, list[subprocess.CompletedProcess]]:
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
    if steps[-1].returncode == 0:  # as make venv: the .pth that sends SDK code's AWS URLs to the local cloud
        steps.append(subprocess.run([str(venv / "bin/python"), "-m", "localcloud.client.aws_urls"],
                                    capture_output=True, text=True, timeout=120))
    return (str(venv / "bin/python") if steps[-1].returncode == 0 else None), steps


def start(directory: Path) -> threading.Thread:
    """Find the other Python and make its venv under ``directory`` in a daemon thread; :data:`DONE` says how it went."""

    def make() -> None:
        other, python, steps = other_python(), None, []
        try:
            if other:
                python, steps = build(other, directory / "venv")
        finally:
            record = {"other_python": other, "python": python,
                      "steps": [{"args": [str(a) for a in s.args], "returncode": s.returncode, "stdout": s.stdout,
                                 "stderr": s.stderr} for s in steps]}
            (directory / f"{DONE}.part").write_text(json.dumps(record))
            (directory / f"{DONE}.part").rename(directory / DONE)

    thread = threading.Thread(target=make, daemon=True, name="other-python-venv")
    thread.start()
    return thread


def result(directory: Path, timeout: float = 1500) -> tuple[str | None, str | None, list[subprocess.CompletedProcess]]:
    """Wait for :func:`start`'s venv: (the other Python, the venv's python or None, the steps).

    Raises:
        TimeoutError: nothing was recorded within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while not (directory / DONE).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the other Python's venv in {directory} was not made within {timeout:g} s")
        time.sleep(0.5)
    record = json.loads((directory / DONE).read_text())
    steps = [subprocess.CompletedProcess(s["args"], s["returncode"], s["stdout"], s["stderr"]) for s in record["steps"]]
    return record["other_python"], record["python"], steps
