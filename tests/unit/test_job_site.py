"""Tests for src/localcloud/job_site/sitecustomize.py: /opt/ml mapping, and the next sitecustomize still runs.

Python imports only the first ``sitecustomize`` on sys.path, and job processes get job_site
first: job_site's module must run the next one (the loopback audit of tests/series, for one).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from localcloud import jobs

SCRIPT = ("import sys; open('/opt/ml/probe.txt', 'w').write('mapped'); "
          "print('NEXT' if '_next_sitecustomize' in sys.modules else 'ALONE', "
          "sys.modules.get('_next_sitecustomize') and sys.modules['_next_sitecustomize'].MARK)")


def write_site(folder: Path, mark: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "sitecustomize.py").write_text(f"MARK = {mark!r}\nprint('ran', MARK)\n")
    return folder


def run_job_like(tmp_path: Path, *after: Path) -> subprocess.CompletedProcess:
    """A Python process started as the job runner starts one: job_site first on PYTHONPATH."""
    opt_ml = tmp_path / "fs" / "opt" / "ml"
    opt_ml.mkdir(parents=True)
    env = {"PATH": os.environ.get("PATH", ""), "LOCALCLOUD_OPT_ML": str(opt_ml),
           "PYTHONPATH": os.pathsep.join([str(jobs._JOB_SITE), *map(str, after)])}
    return subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)


class TestNextSitecustomizeRuns:
    """job_site's sitecustomize runs the first sitecustomize.py that comes after it on sys.path."""

    def test_the_next_one_runs_once_after_the_mapping(self, tmp_path):
        """
        1. Start a process with PYTHONPATH = job_site, a folder without sitecustomize, folder A, folder B.
        2. A's sitecustomize ran (once); B's did not (only the next one is run, like an import).
        3. /opt/ml still maps to the job folder.
        """
        empty = tmp_path / "empty"
        empty.mkdir()
        first, second = write_site(tmp_path / "a", "A"), write_site(tmp_path / "b", "B")
        result = run_job_like(tmp_path, empty, first, second)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == ["ran A", "NEXT A"]
        assert (tmp_path / "fs" / "opt" / "ml" / "probe.txt").read_text() == "mapped"

    def test_alone_nothing_else_runs(self, tmp_path):
        """
        1. Start a process with only job_site on PYTHONPATH.
        2. No other sitecustomize is loaded, and the mapping works.
        """
        result = run_job_like(tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == ["ALONE None"]
        assert (tmp_path / "fs" / "opt" / "ml" / "probe.txt").read_text() == "mapped"

    def test_one_before_job_site_is_not_run_again(self, tmp_path):
        """
        1. Put folder A before job_site on PYTHONPATH: Python imports A's sitecustomize, not job_site's.
        2. A ran once, as Python's own import; nothing chained (job_site was never imported).
        """
        first = write_site(tmp_path / "a", "A")
        opt_ml = tmp_path / "fs" / "opt" / "ml"
        opt_ml.mkdir(parents=True)
        env = {"PATH": os.environ.get("PATH", ""), "LOCALCLOUD_OPT_ML": str(opt_ml),
               "PYTHONPATH": os.pathsep.join([str(first), str(jobs._JOB_SITE)])}
        result = subprocess.run([sys.executable, "-c", "import sys; print('_next_sitecustomize' in sys.modules)"],
                                env=env, capture_output=True, text=True, timeout=60)
        assert result.stdout.splitlines() == ["ran A", "False"]
