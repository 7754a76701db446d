"""``make handout`` and JupyterLab, as a person sees them: pages opened in headless Chromium.

Chromium is Debian's package, installed when missing (tests/chromium.py, the fixture in conftest.py).
Chromium runs with the network-off flags; the handout pages are opened from file:// and JupyterLab from 127.0.0.1.
Screenshots are kept in build/handout/screenshots/ for the record.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from chromium import CHROMIUM_FLAGS
from lab_process import running_lab

ROOT = Path(__file__).resolve().parents[2]
LAB_PYTHON = ROOT / ".venv-lab" / "bin" / "python"
HANDOUT = ROOT / "build" / "handout"
SHOTS = HANDOUT / "screenshots"
# The issue: intro (index.html), the five steps, 06, 07 and the cleanup, in this order.
PAGES = ["01_bucket", "02_ingest", "03_preprocess", "04_train", "05_stepfunctions", "06_evaluate", "07_triggers",
         "99_cleanup"]
# Pictures a page must show: the state machines and each execution's final colours are SVG outputs, 04's training
# curve and the confusion matrix PNGs.
EXPECTED_IMAGES = {"04_train": {"png": 1}, "05_stepfunctions": {"svg": 4}, "06_evaluate": {"svg": 3, "png": 1},
                   "07_triggers": {"svg": 1}}

pytestmark = [pytest.mark.series,
              pytest.mark.skipif(not LAB_PYTHON.exists(), reason="no .venv-lab: `make test` builds it (make lab's venv)")]

# Appended to a copy of each page: once loaded, it writes what the page shows into the DOM for --dump-dom.
PROBE = """<script>
window.addEventListener("load", () => {
  const external = /^\\s*(https?:)?\\/\\//i, cssExternal = /url\\(\\s*['"]?\\s*(https?:)?\\/\\//i;
  const references = [];
  for (const element of document.querySelectorAll("*")) {
    for (const attribute of element.attributes) {
      if (attribute.name.startsWith("xmlns")) continue;
      if (element.tagName === "A" && attribute.name === "href") continue;  // a link to follow fetches nothing
      const value = attribute.value;
      if (external.test(value) || (attribute.name === "srcset" && /https?:\\/\\//i.test(value))
          || (attribute.name === "style" && cssExternal.test(value)))
        references.push(`<${element.tagName.toLowerCase()} ${attribute.name}="${value.slice(0, 120)}">`);
    }
  }
  for (const sheet of document.styleSheets) {
    for (const rule of sheet.cssRules) {
      if (rule instanceof CSSImportRule || cssExternal.test(rule.cssText)) references.push("css: " + rule.cssText.slice(0, 120));
    }
  }
  const images = [...document.images].map(image => ({
    kind: (image.currentSrc.match(/^data:image\\/(svg|png|jpeg|gif)/) || [null, image.currentSrc.slice(0, 40)])[1],
    width: image.naturalWidth, height: image.naturalHeight, complete: image.complete}));
  const probe = document.createElement("pre");
  probe.id = "handout-probe";
  probe.style.display = "none";  // in the DOM dump, not in the screenshot
  probe.textContent = JSON.stringify({
    title: document.title, h1: [...document.querySelectorAll("h1")].map(h => h.textContent.trim()),
    links: [...document.querySelectorAll("ol.pages > li > a")].map(a => a.getAttribute("href")),
    text: document.body.innerText.length, height: document.documentElement.scrollHeight,
    images, inlineSvgs: document.querySelectorAll("main svg").length, references,
    fetched: performance.getEntriesByType("resource").map(entry => entry.name)});
  document.body.appendChild(probe);
});
</script>"""


def chromium(binary: str, url: str, profile: Path, *, screenshot: Path | None = None, window: str = "1280,2000",
             budget_ms: int = 5000, timeout: float = 120) -> str:
    """Open ``url`` headless; return the DOM after ``budget_ms`` of virtual time; optionally screenshot it."""
    command = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={window}",
               f"--virtual-time-budget={budget_ms}", "--dump-dom"]
    if screenshot:
        command.append(f"--screenshot={screenshot}")
    process = subprocess.Popen([*command, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        dom, errors = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"chromium did not finish with {url} in {timeout:.0f} s")
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert process.returncode == 0, f"chromium exited {process.returncode}: {errors[-2000:]}"
    if screenshot:
        assert screenshot.is_file(), f"chromium wrote no screenshot: {errors[-2000:]}"
    return dom


def assert_not_blank(png: Path) -> None:
    """A real page has ink: grey-level spread and more than a handful of colours (Pillow; else the PNG's size)."""
    try:
        from PIL import Image, ImageStat
    except ImportError:  # Pillow comes with matplotlib in the kit's venv; without it, a blank PNG compresses to little
        assert png.stat().st_size > 20_000, f"{png} looks blank ({png.stat().st_size} bytes)"
        return
    with Image.open(png) as image:
        spread = ImageStat.Stat(image.convert("L")).stddev[0]
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    distinct = len(colours) if colours is not None else 1 << 16
    assert spread > 8 and distinct > 16, f"{png} looks blank (grey-level deviation {spread:.1f}, {distinct} colours)"


def notebook_title(name: str) -> str:
    cells = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())["cells"]
    for cell in cells:
        if cell["cell_type"] == "markdown":
            match = re.search(r"^#\s+(.+)$", "".join(cell["source"]), re.MULTILINE)
            if match:
                return match.group(1).strip()
    raise AssertionError(f"{name} has no title")


def probe(binary: str, page: Path, work: Path, screenshot: Path) -> dict:
    """Open a probed copy of ``page``; return what the probe saw."""
    copy = work / page.name
    copy.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = chromium(binary, copy.as_uri(), work / "profile", screenshot=screenshot)
    match = re.search(r'<pre id="handout-probe"[^>]*>(.*?)</pre>', dom, re.DOTALL)
    assert match, f"{page.name}: the page did not finish loading (no probe output in the DOM)"
    return json.loads(html.unescape(match.group(1)))


@pytest.fixture(scope="module")
def handout() -> Path:
    """``make handout``'s script, run as the Makefile runs it (the lab venv's Python)."""
    done = subprocess.run([str(LAB_PYTHON), str(ROOT / "scripts/handout.py"), "--out", str(HANDOUT)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    SHOTS.mkdir(parents=True, exist_ok=True)
    return HANDOUT


def test_handout_has_an_index_linking_every_page_in_order(handout: Path, chromium_binary: str, tmp_path: Path) -> None:
    names = [p.stem for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))]
    assert [n for n in names if n in PAGES] == PAGES, f"notebooks changed: {names}"
    seen = probe(chromium_binary, handout / "index.html", tmp_path, SHOTS / "index.png")
    assert seen["h1"] == ["Pipeline Dreams"]
    assert seen["links"] == [f"{name}.html" for name in names]
    assert seen["text"] > 1000, "the intro text is missing"
    assert not seen["references"] and not [u for u in seen["fetched"] if re.match(r"https?:", u)], seen
    assert_not_blank(SHOTS / "index.png")


def _links_and_ids(page: Path) -> tuple[list[str], set[str], str]:
    """A page's relative <a href>s, its element ids, and its visible text (scripts and styles left out)."""
    from html.parser import HTMLParser

    class Reader(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.links, self.ids, self.text, self.skip = [], set(), [], 0

        def handle_starttag(self, tag, attrs):
            attributes = dict(attrs)
            if attributes.get("id"):
                self.ids.add(attributes["id"])
            href = attributes.get("href") or ""
            if tag == "a" and href and not re.match(r"[a-z]+:|#|//", href):
                self.links.append(href)
            self.skip += tag in ("script", "style")

        def handle_endtag(self, tag):
            self.skip -= tag in ("script", "style") and self.skip > 0

        def handle_data(self, data):
            if not self.skip:
                self.text.append(data)

    reader = Reader()
    reader.feed(page.read_text(encoding="utf-8"))
    return reader.links, reader.ids, "".join(reader.text)


def test_every_link_of_the_handout_leads_somewhere_and_no_markdown_shows(handout: Path) -> None:
    """
    1. index.html, every page and GLOSSARY.html of the handout.
    2. Every relative link names a file of the handout and, with a #fragment, an id on it (the glossary terms
       pointed at ../docs/GLOSSARY.md, which the handout does not have).
    3. No raw markdown link ("[ECR](…)") in the visible text (the index showed them); no <details> that holds
       only its summary (nbconvert left the series table outside it).
    """
    pages = [handout / "index.html", handout / "GLOSSARY.html", *[handout / f"{name}.html" for name in PAGES]]
    glossary_links = 0
    for page in pages:
        links, _, text = _links_and_ids(page)
        for link in links:
            target, _, fragment = link.partition("#")
            assert (handout / target).is_file(), f"{page.name}: {link} leads nowhere"
            if fragment:
                assert fragment in _links_and_ids(handout / target)[1], f"{page.name}: {link}: no such anchor"
            glossary_links += target == "GLOSSARY.html"
        assert not re.search(r"\]\([^)\s]+\)", text), f"{page.name} shows a raw markdown link"
        assert not re.search(r"<details><summary>[^<]*</summary>\s*</details>", page.read_text(encoding="utf-8")), \
            f"{page.name} has an empty <details>"
    assert glossary_links >= 9


@pytest.mark.parametrize("name", PAGES)
def test_page_renders_offline_with_its_pictures(handout: Path, chromium_binary: str, tmp_path: Path, name: str) -> None:
    """Each page: title and heading in the DOM, every picture decoded, nothing from the network, ink on screen."""
    page = handout / f"{name}.html"
    raw = page.read_text(encoding="utf-8")
    fetched = re.sub(r"<a\s[^>]*>", "<a>", raw, flags=re.IGNORECASE)  # links to follow (AWS docs) fetch nothing
    assert not re.search(r"""(?:src|href)\s*=\s*["']\s*(?:https?:)?//""", fetched, re.IGNORECASE), \
        f"{name}.html references a remote URL"
    screenshot = SHOTS / f"{name}.png"
    seen = probe(chromium_binary, page, tmp_path, screenshot)

    title = notebook_title(name)
    assert title in seen["title"] and seen["h1"][:1] == [title], (seen["title"], seen["h1"])
    assert not seen["references"], f"{name}: elements reference http(s) URLs: {seen['references']}"
    assert not [u for u in seen["fetched"] if not u.startswith(("data:", "file:"))], seen["fetched"]
    counts: dict[str, int] = {}
    for image in seen["images"]:
        assert image["complete"] and image["width"] > 0 and image["height"] > 0, f"{name}: image not shown: {image}"
        counts[image["kind"]] = counts.get(image["kind"], 0) + 1
    counts["svg"] = counts.get("svg", 0) + seen["inlineSvgs"]
    for kind, wanted in EXPECTED_IMAGES.get(name, {}).items():
        assert counts.get(kind, 0) >= wanted, f"{name}: {counts.get(kind, 0)} {kind} picture(s), expected ≥ {wanted}"
    assert_not_blank(screenshot)
    if name in EXPECTED_IMAGES:  # the whole page, pictures included, for the record
        tall = SHOTS / f"{name}-full.png"
        chromium(chromium_binary, page.as_uri(), tmp_path / "profile-full", screenshot=tall,
                 window=f"1280,{min(seen['height'], 16000)}")
        assert_not_blank(tall)



def test_jupyterlab_shows_notebook_05(chromium_binary: str, tmp_path: Path) -> None:
    """`make lab`, then notebook 05 opened in JupyterLab in Chromium: a screenshot with the notebook in it.

    Autosave is off and the news prompt answered in the lab's user settings (a temp folder), so opening the
    notebook cannot rewrite it; the test checks that the file is unchanged.
    """
    notebook = ROOT / "notebooks" / "05_stepfunctions.ipynb"
    before = notebook.read_bytes()
    settings = tmp_path / "user-settings"
    for plugin, values in {"@jupyterlab/docmanager-extension/plugin": {"autosave": False},
                           "@jupyterlab/apputils-extension/notification": {"fetchNews": "false"}}.items():
        target = settings / f"{plugin}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    screenshot = SHOTS / "lab-05_stepfunctions.png"
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        with running_lab(f"--LabApp.user_settings_dir={settings}") as lab:
            dom = chromium(chromium_binary, f"{lab.base}/lab/tree/05_stepfunctions.ipynb?token={lab.token}",
                           tmp_path / "profile", screenshot=screenshot, window="1400,1000", budget_ms=15000,
                           timeout=180)
    finally:
        if notebook.read_bytes() != before:  # never leave a rewritten notebook behind
            notebook.write_bytes(before)
            pytest.fail("opening 05_stepfunctions.ipynb in JupyterLab rewrote it (restored)")
    assert "05 · Step Functions" in dom, "the notebook's title is not in JupyterLab's DOM"
    assert "jp-Notebook" in dom
    assert_not_blank(screenshot)
