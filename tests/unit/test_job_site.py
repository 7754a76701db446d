"""Tests for src/localcloud/child/job_site/sitecustomize.py: /opt/ml mapping, and the next sitecustomize still runs.

Python imports only the first ``sitecustomize`` on sys.path, and job processes get job_site
first: job_site's module must run the next one (the loopback audit of tests/series, for one).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from localcloud.sagemaker.jobs import runner as jobs

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


MOUNT_PROBE = '''
import json, os, pathlib, shutil
out = "/opt/ml/processing/output"
for name in ("a", "b"):
    os.makedirs(f"{out}/{name}", exist_ok=True)
results = {}
def attempt(label, action):
    try:
        action()
        results[label] = "ok"
    except OSError as error:
        results[label] = [error.errno, error.strerror]
for label, (src, dst, call) in {
    "os.rename across": ("a/1.txt", "b/1.txt", os.rename),
    "os.replace across": ("a/2.txt", "b/2.txt", os.replace),
    "os.link across": ("a/3.txt", "b/3.txt", os.link),
    "pathlib rename across": ("a/4.txt", "b/4.txt", lambda s, d: pathlib.Path(s).rename(d)),
    "pathlib replace across": ("a/5.txt", "b/5.txt", lambda s, d: pathlib.Path(s).replace(d)),
    "rename to the root file system": ("a/6.txt", "../6.txt", os.rename),
    "rename within a": ("a/7.txt", "a/7-renamed.txt", os.rename),
    "rename via .. within a": ("a/8.txt", "b/../a/8-renamed.txt", os.rename),
    "shutil.move across": ("a/9.txt", "b/9.txt", shutil.move),
}.items():
    with open(f"{out}/{src}", "w") as handle:
        handle.write(label)
    attempt(label, lambda: call(f"{out}/{src}", f"{out}/{dst}"))
os.makedirs(f"{out}/a/tree/sub", exist_ok=True)
open(f"{out}/a/tree/sub/x.txt", "w").write("x")
attempt("shutil.move a folder across", lambda: shutil.move(f"{out}/a/tree", f"{out}/b/tree"))
results["moved"] = sorted(str(p.relative_to(out)) for p in pathlib.Path(out).rglob("*") if p.is_file())
print(json.dumps(results))
'''


class TestChannelsAreSeparateMounts:
    def test_rename_across_channels_fails_with_exdev(self, tmp_path):
        """Each channel folder in LOCALCLOUD_MOUNTS behaves as its own file system.

        On SageMaker each processing input/output LocalPath is its own mount (docs/ARCHITECTURE.md; rename(2) across
        mounts fails with EXDEV: https://man7.org/linux/man-pages/man2/rename.2.html), so:
        1. Run a job-like process whose outputs ``a`` and ``b`` are two mounts.
        2. os.rename, os.replace, os.link and pathlib's rename/replace from a to b, or from a to the
           container's own file system, fail with errno 18 "Invalid cross-device link".
        3. A rename inside a works, also through a path with ``..`` that resolves into a.
        4. shutil.move of a file and of a folder across works (its rename fails, it copies), and the sources go.
        """
        import json

        opt_ml = tmp_path / "fs" / "opt" / "ml"
        output = opt_ml / "processing" / "output"
        opt_ml.mkdir(parents=True)
        env = {"PATH": os.environ.get("PATH", ""), "LOCALCLOUD_OPT_ML": str(opt_ml), "PYTHONPATH": str(jobs._JOB_SITE),
               "LOCALCLOUD_MOUNTS": os.pathsep.join([str(output / "a"), str(output / "b")])}
        result = subprocess.run([sys.executable, "-c", MOUNT_PROBE], env=env, capture_output=True, text=True,
                                timeout=60, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        results = json.loads(result.stdout.splitlines()[-1])
        exdev = [18, "Invalid cross-device link"]
        for label in ("os.rename across", "os.replace across", "os.link across", "pathlib rename across",
                      "pathlib replace across", "rename to the root file system"):
            assert results[label] == exdev, label
        for label in ("rename within a", "rename via .. within a", "shutil.move across",
                      "shutil.move a folder across"):
            assert results[label] == "ok", label
        assert results["moved"] == ["a/1.txt", "a/2.txt", "a/3.txt", "a/4.txt", "a/5.txt", "a/6.txt",
                                    "a/7-renamed.txt", "a/8-renamed.txt", "b/9.txt", "b/tree/sub/x.txt"]

    def test_without_mounts_renames_are_unchanged(self, tmp_path):
        """With no LOCALCLOUD_MOUNTS (a job-like process of old), a rename between folders works.

        1. Run the probe without LOCALCLOUD_MOUNTS.
        2. Every rename succeeds.
        """
        import json

        opt_ml = tmp_path / "fs" / "opt" / "ml"
        opt_ml.mkdir(parents=True)
        env = {"PATH": os.environ.get("PATH", ""), "LOCALCLOUD_OPT_ML": str(opt_ml), "PYTHONPATH": str(jobs._JOB_SITE)}
        result = subprocess.run([sys.executable, "-c", MOUNT_PROBE], env=env, capture_output=True, text=True,
                                timeout=60, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        results = json.loads(result.stdout.splitlines()[-1])
        assert {value for key, value in results.items() if key != "moved"} == {"ok"}
