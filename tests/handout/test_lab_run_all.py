"""Run All in JupyterLab, in Chromium, as a learner does after ``make lab``: what the page then shows.

papermill's outputs and nbval see what the kernel sent; a learner sees what JupyterLab made of it. JupyterLab
applies a ``\\r`` by overwriting the line character by character, as a terminal does, so a wait line rewritten
shorter kept the tail of the longer one ("Completed after 0 sfar) [1/2]") where the saved notebook looked clean.
This test drives JupyterLab itself (Playwright on Debian's chromium), runs notebooks 01 → 05 with Run All, one
after the other in one lab (05 needs the bucket, roles and Lambdas 01-04 make), and reads the rendered page:

* no error output and nothing on stderr, in any cell;
* every wait line (``training job …: Completed after 3 s``) reads whole, as one line ending "after N s";
* 05's executions show their picture live: it changed while the execution ran (a state "running"), and the
  final one, left in the cell, has the states the execution passed coloured "succeeded".

01 → 05 rather than the whole series: 03, 04 and 05 hold every kind of wait line (processing and training jobs,
executions, the jobs of a run) and 05 the live picture; 06 and 07 repeat the same calls for another minute.
JupyterLab's autosave is off (the lab's own user settings, a temp folder): the committed notebooks are never
rewritten, which the test checks.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from pathlib import Path

import pytest
from chromium import CHROMIUM_FLAGS
from lab_process import running_lab

ROOT = Path(__file__).resolve().parents[2]
LAB_PYTHON = ROOT / ".venv-lab" / "bin" / "python"
SHOTS = ROOT / "build" / "handout" / "screenshots"
NOTEBOOKS = ["01_bucket", "02_ingest", "03_preprocess", "04_train", "05_stepfunctions"]
# The start of every wait line helpers.progress writes, and the one shape it may have once the wait is over.
WAIT_START = re.compile(r"^(training job|processing job|execution of|jobs of run) \S")
WAIT_LINE = re.compile(r"^(training job|processing job|execution of|jobs of run) \S+: \S+ after \d+ s$")
STATE = re.compile(r'data-state="([^"]+)" data-status="([a-z-]+)"')

# ~60 s alone; a loaded 2-core machine (make test's other worker) may take several times that: past pytest's 300 s.
pytestmark = [pytest.mark.series, pytest.mark.slow(150), pytest.mark.timeout(1200),
              pytest.mark.skipif(not LAB_PYTHON.exists(), reason="no .venv-lab: `make test` builds it (make lab's venv)")]

# Installed before JupyterLab loads: every SVG picture added to the page (or whose source changes), by notebook.
RECORDER = """
window.__pictures = [];
const record = image => {
  if (image.tagName === "IMG" && image.src.startsWith("data:image/svg+xml"))
    window.__pictures.push({notebook: window.__pd ? window.__pd.name : null, src: image.src});
};
new MutationObserver(changes => {
  for (const change of changes) {
    if (change.type === "attributes") { record(change.target); continue; }
    for (const node of change.addedNodes) {
      if (!node.querySelectorAll) continue;
      record(node);
      node.querySelectorAll("img").forEach(record);
    }
  }
}).observe(document, {childList: true, subtree: true, attributes: true, attributeFilter: ["src"]});
"""

OPEN = """async name => {
  const app = window.jupyterapp;
  const panel = await app.commands.execute("docmanager:open", {path: name + ".ipynb", factory: "Notebook"});
  await panel.context.ready;
  await panel.sessionContext.ready;
  window.__pd = {name, panel, done: null};
  app.shell.activateById(panel.id);
  return panel.content.widgets.length;
}"""

RUN_ALL = """() => {
  const pd = window.__pd;
  window.jupyterapp.shell.activateById(pd.panel.id);
  window.jupyterapp.commands.execute("notebook:run-all-cells")
    .then(ran => { pd.done = {ran}; }, error => { pd.done = {error: String(error)}; });
}"""

IDLE = "() => { const k = window.__pd.panel.sessionContext.session?.kernel; return !!k && k.status === 'idle'; }"

# What each cell shows: its outputs' MIME type (the renderer JupyterLab chose), text and pictures.
CELLS = """() => window.__pd.panel.content.widgets.map(cell => ({
  type: cell.model.type,
  source: cell.model.sharedModel.getSource(),
  count: cell.model.type === "code" ? cell.model.executionCount : null,
  outputs: cell.model.type !== "code" ? [] : [...cell.node.querySelectorAll(".jp-OutputArea-output")].map(o => ({
    mime: o.getAttribute("data-mime-type") || "",
    text: o.textContent,
    images: [...o.querySelectorAll("img")].map(i => ({src: i.src, width: i.naturalWidth, height: i.naturalHeight})),
  })),
}))"""

CLOSE = """async () => {
  const panel = window.__pd.panel;
  await panel.sessionContext.shutdown();
  panel.context.model.dirty = false;  // nothing to save: the committed notebook stays as it is
  panel.close();
}"""


def svg_text(src: str) -> str:
    """The SVG document of an ``<img>``'s data URI (percent-encoded or base64)."""
    head, _, body = src.partition(",")
    return base64.b64decode(body).decode() if head.endswith(";base64") else urllib.parse.unquote(body)


def lab_settings(folder: Path) -> Path:
    """JupyterLab user settings: no autosave (nothing rewritten), no news prompt, every cell always in the DOM."""
    for plugin, values in {"@jupyterlab/docmanager-extension/plugin": {"autosave": False},
                           "@jupyterlab/apputils-extension/notification": {"fetchNews": "false"},
                           "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"}}.items():
        target = folder / f"{plugin}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    return folder


def problems_in(name: str, cells: list[dict]) -> list[str]:
    """What is wrong on a notebook's rendered page: unrun cells, errors, stderr, garbled wait lines."""
    found = []
    for number, cell in enumerate(cells):
        if cell["type"] != "code":
            continue
        where = f"{name} cell {number} ({cell['source'].splitlines()[0][:60] if cell['source'] else ''})"
        if cell["count"] is None:
            found.append(f"{where}: did not run")
        for output in cell["outputs"]:
            if output["mime"] in ("application/vnd.jupyter.error", "application/vnd.jupyter.stderr"):
                found.append(f"{where}: {output['mime']}: {output['text'][-600:]}")
                continue
            for line in output["text"].splitlines():
                if (WAIT_START.match(line) or " so far" in line) and not WAIT_LINE.match(line):
                    found.append(f"{where}: wait line reads {line!r}")
    return found


def statuses(svg: str) -> dict[str, str]:
    return dict(STATE.findall(svg))


def test_run_all_01_to_05_renders_clean_in_jupyterlab(chromium_binary: str, tmp_path: Path) -> None:
    """
    1. `make lab` (its own cloud), JupyterLab exposing its app object to the page; Chromium opens it.
    2. For 01 → 05: open the notebook, wait for its kernel to be idle, Run All, wait until every cell ran and the
       kernel is idle again (generous timeouts: a loaded 2-core machine), read every cell's rendered outputs,
       shut its kernel down.
    3. No cell unrun, no error or stderr output, every wait line whole (``… Completed after N s``).
    4. 05: each execution's picture changed while it ran (some state "running" on the way), and the picture left
       in the fixed pipeline's cell has FetchData, Preprocess and Train "succeeded" and no state "running".
    5. A screenshot of 05's pipeline cell is kept in build/handout/screenshots/lab-run-05.png; no notebook file
       changed.
    """
    from playwright.sync_api import sync_playwright

    before = {name: (ROOT / "notebooks" / f"{name}.ipynb").read_bytes() for name in NOTEBOOKS}
    settings = lab_settings(tmp_path / "user-settings")
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    pictures: list[dict] = []
    final_cells: list[dict] = []
    try:
        with running_lab(f"--LabApp.user_settings_dir={settings} --LabApp.expose_app_in_browser=True",
                         timeout=180) as lab, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_binary, args=CHROMIUM_FLAGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.add_init_script(RECORDER)
                page.goto(f"{lab.base}/lab?token={lab.token}", timeout=180_000)
                page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started !== undefined",
                                       timeout=180_000)
                page.evaluate("() => window.jupyterapp.started")
                for name in NOTEBOOKS:
                    page.evaluate(OPEN, name)
                    page.wait_for_function(IDLE, timeout=180_000, polling=500)
                    page.evaluate(RUN_ALL)
                    page.wait_for_function("() => window.__pd.done !== null", timeout=900_000, polling=500)
                    page.wait_for_function(IDLE, timeout=180_000, polling=500)
                    cells = page.evaluate(CELLS)
                    problems += problems_in(name, cells)
                    if name == NOTEBOOKS[-1]:
                        final_cells = cells
                        pictures = page.evaluate("() => window.__pictures.filter(p => p.notebook === '05_stepfunctions')")
                        page.locator(".jp-Cell", has_text="helpers.stepfunctions.wait(kit, execution, pipeline)") \
                            .first.scroll_into_view_if_needed()
                        page.screenshot(path=str(SHOTS / "lab-run-05.png"))
                    page.evaluate(CLOSE)
                    if problems:  # the next notebooks need this one's resources
                        break
            finally:
                browser.close()
    finally:
        for name, content in before.items():
            path = ROOT / "notebooks" / f"{name}.ipynb"
            if path.read_bytes() != content:  # never leave a rewritten notebook behind
                path.write_bytes(content)
                problems.append(f"JupyterLab rewrote {path.name} (restored)")
    assert not problems, "\n".join(problems)

    waits = [c for c in final_cells if c["type"] == "code" and "helpers.stepfunctions.wait(" in c["source"]]
    assert len(waits) == 2, f"05 has {len(waits)} cells that wait for an execution"
    seen = [statuses(svg_text(p["src"])) for p in pictures]
    assert any("running" in s.values() for s in seen), \
        f"05 never showed a state running: the pictures seen were {seen}"
    for cell in waits:
        shown = [statuses(svg_text(i["src"])) for o in cell["outputs"] for i in o["images"]
                 if i["src"].startswith("data:image/svg+xml") and i["width"] > 0]
        assert shown and shown[-1], f"no execution picture in the cell {cell['source'][:80]!r}"
        assert "running" not in shown[-1].values(), shown[-1]
    final = [statuses(svg_text(i["src"])) for o in waits[-1]["outputs"] for i in o["images"]
             if i["src"].startswith("data:image/svg+xml")][-1]
    assert all(final.get(state) == "succeeded" for state in ("FetchData", "Preprocess", "Train")), final
