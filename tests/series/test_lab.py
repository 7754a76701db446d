"""``make lab``: JupyterLab and a local cloud, wired so a notebook runs with no extra step."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from lab_process import running_lab

ROOT = Path(__file__).resolve().parents[2]
LAB_PYTHON = ROOT / ".venv-lab" / "bin" / "python"


@pytest.mark.skipif(not LAB_PYTHON.exists(), reason="no .venv-lab: `make test` builds it (make lab's venv)")
class TestMakeLab:
    def test_notebook_01_runs_in_the_kernel_jupyterlab_starts(self) -> None:
        """A learner runs `make lab`, opens 01_bucket and runs all cells.

        1. `make lab` on free ports (no token, no browser).
        2. Wait for JupyterLab's API to answer.
        3. Open 01_bucket.ipynb as a session and run every code cell in its kernel: all succeed.
        4. Ctrl-C (SIGINT) stops JupyterLab and the local cloud.
        """
        with running_lab() as lab:
            result = subprocess.run([str(LAB_PYTHON), str(Path(__file__).with_name("lab_driver.py")), lab.base,
                                     lab.token, "01_bucket.ipynb", str(ROOT / "notebooks/01_bucket.ipynb")],
                                    capture_output=True, text=True, timeout=300)
            assert result.returncode == 0, result.stdout + result.stderr
            code_cells = sum(c.cell_type == "code" for c in nbformat.read(ROOT / "notebooks/01_bucket.ipynb", 4).cells)
            assert f"all {code_cells} code cells ran" in result.stdout
        with socket.socket() as probe:  # the local cloud stopped with it
            assert probe.connect_ex(("127.0.0.1", lab.cloud_port)) != 0


@pytest.mark.skipif(not LAB_PYTHON.exists(), reason="no .venv-lab: `make test` builds it (make lab's venv)")
class TestMakeLabServesTheGlossary:
    def test_every_glossary_link_of_the_notebooks_opens_in_jupyterlab(self) -> None:
        """
        1. `make lab`; every relative markdown link of the notebooks (the glossary's terms), resolved against the
           notebooks' folder as JupyterLab resolves it.
        2. JupyterLab's contents API answers each with the file (it answered 404 for ../docs/GLOSSARY.md: the
           lab serves notebooks/ only).
        """
        import urllib.parse
        import urllib.request

        links = {re.sub(r"#.*", "", link) for path in sorted((ROOT / "notebooks").glob("*.ipynb"))
                 for cell in nbformat.read(path, 4).cells if cell.cell_type == "markdown"
                 for link in re.findall(r"\]\(([^)\s]+)\)", cell.source) if not re.match(r"[a-z]+:|#", link)}
        assert links
        with running_lab() as lab:
            for link in sorted(links):
                request = urllib.request.Request(
                    f"{lab.base}/api/contents/{urllib.parse.quote(link)}?content=0",
                    headers={"Authorization": f"token {lab.token}"})
                try:
                    with urllib.request.urlopen(request, timeout=30) as answer:
                        assert json.load(answer)["type"] == "file", link
                except urllib.error.HTTPError as error:
                    pytest.fail(f"JupyterLab answers {error.code} for {link}")


def _make_lab(port: str | None, lab_args: str, timeout: float = 60) -> tuple[int, str, float]:
    """Run `make -s lab` to its end (it must end by itself); return (exit code, output, seconds)."""
    env = {k: v for k, v in os.environ.items() if k != "PIPELINE_DREAMS_ENDPOINT"}
    env["LAB_ARGS"] = lab_args
    command = ["make", "-s", "lab"] + ([f"LAB_PORT={port}"] if port is not None else [])
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


@pytest.mark.skipif(not LAB_PYTHON.exists(), reason="no .venv-lab: `make test` builds it (make lab's venv)")
class TestMakeLabPorts:
    """The lab's cloud is on a free port by default, and a taken LAB_PORT fails fast and clearly."""

    def test_taken_lab_port_fails_fast_naming_it(self) -> None:
        """
        1. Hold a listening socket on a port; run `make lab LAB_PORT=<that port>`.
        2. It exits non-zero within 15 s (it does not hang after announcing the other program's port), printing
           the cloud's one-line message naming the port, and never announces JupyterLab.
        """
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", 0))
            holder.listen()
            port = holder.getsockname()[1]
            code, output, seconds = _make_lab(str(port), "")
        assert code != 0
        assert f"port {port} on 127.0.0.1 is already in use" in output, output
        assert "JupyterLab at" not in output and "local cloud at" not in output, output
        assert seconds < 15, f"make lab took {seconds:.1f} s to fail"

    def test_default_cloud_port_is_a_free_one_and_is_stopped_after(self) -> None:
        """
        1. Run `make lab` without LAB_PORT, with JupyterLab told to use a taken port (so it fails at once).
        2. The cloud was announced on 127.0.0.1 at a port other than the old fixed 5050, JupyterLab's URL printed.
        3. make lab exits non-zero, and the cloud it started no longer listens.
        """
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", 0))
            holder.listen()
            code, output, _ = _make_lab(None, f"--ServerApp.port={holder.getsockname()[1]}")
        match = re.search(r"local cloud at http://127\.0\.0\.1:(\d+)", output)
        assert match and int(match.group(1)) != 5050, output
        assert "JupyterLab at http://127.0.0.1:" in output
        assert code != 0
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", int(match.group(1)))) != 0, "the lab's cloud outlived make lab"


class TestMakeLabKeepsTheSettingsFile:
    """What settings.toml says is what the lab's kernels run with: `make lab` sets no setting of its own."""

    def test_data_url_in_settings_toml_reaches_the_kernel(self, tmp_path: Path) -> None:
        """
        1. A settings file whose [cloud] data_url names the learner's own CSV on 127.0.0.1.
        2. scripts/lab.sh (make lab's script) with a stand-in JupyterLab that records the environment it was
           started with (the one its kernels inherit), then exits.
        3. The kit's settings, resolved in that environment, take data_url from settings.toml, and say so.
        """
        settings = tmp_path / "settings.toml"
        settings.write_text('[cloud]\ndata_url = "http://127.0.0.1:9/mine.csv"\n')
        recorded = tmp_path / "lab-env.json"
        fake_lab = tmp_path / "lab-venv"
        (fake_lab / "bin").mkdir(parents=True)
        jupyter = fake_lab / "bin" / "jupyter"
        jupyter.write_text(f"#!{sys.executable}\nimport json, os\n"
                           f"open({str(recorded)!r}, 'w').write(json.dumps(dict(os.environ)))\n")
        jupyter.chmod(0o755)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_DREAMS_")}
        env["PIPELINE_DREAMS_SETTINGS"] = str(settings)
        done = subprocess.run(["bash", str(ROOT / "scripts" / "lab.sh"), sys.executable, str(fake_lab), "0"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        kernel_env = json.loads(recorded.read_text())
        probe = ("from helpers import config; s = config.settings(); "
                 "print(s.data_url, '|', s.sources['data_url'])")
        resolved = subprocess.run([sys.executable, "-c", probe], env=kernel_env, capture_output=True, text=True,
                                  timeout=60)
        assert resolved.stdout.strip() == "http://127.0.0.1:9/mine.csv | settings.toml", resolved.stderr
