"""``make handout``: a static, offline HTML handout of the executed notebooks, in build/handout/.

Run with the lab venv's Python (it has nbconvert):
    .venv-lab/bin/python scripts/handout.py [--out build/handout] [--notebooks notebooks]

Writes index.html (the README's introduction and the pages in order), GLOSSARY.html (notebooks/GLOSSARY.md, which
the notebooks' terms link to) and one page per committed notebook
(01-05, 06, 07, 99), converted by nbconvert's HTML exporter with the JupyterLab template, minus everything
that template would fetch from a CDN (require.js, MathJax, mermaid.js): the notebooks need none of them.
Outputs stay inline: the state-machine pictures are SVG, the confusion matrix a base64 PNG, markdown
images are embedded. The build fails if a page still references an http(s) URL in any attribute, style
or script, so the handout opens the same with no network.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
from jinja2 import DictLoader
from nbconvert import HTMLExporter
from nbconvert.preprocessors import CoalesceStreamsPreprocessor
from nbconvert.filters.markdown import markdown2html

ROOT = Path(__file__).resolve().parents[1]
KIT = "Pipeline Dreams"

# The lab template without its CDN scripts, with a navigation bar above and below each notebook.
TEMPLATE = r"""
{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_css -%}
<style type="text/css">
nav.handout-nav { display: flex; justify-content: space-between; gap: 1em; padding: 0.6em 1em; margin: 0 0 1em 0;
  font-family: var(--jp-ui-font-family, sans-serif); font-size: 14px; background: #f3f5f7; border-bottom: 1px solid #d0d7de; }
nav.handout-nav.bottom { margin: 2em 0 0 0; border-top: 1px solid #d0d7de; border-bottom: none; }
nav.handout-nav a { text-decoration: none; }
</style>
{%- endblock html_head_css -%}
{%- macro handout_nav(position) -%}
<nav class="handout-nav {{ position }}">
  <span>{% if resources.handout.prev %}<a href="{{ resources.handout.prev[0] }}" rel="prev">← {{ resources.handout.prev[1] }}</a>{% endif %}</span>
  <span><a href="index.html">{{ resources.handout.kit }} — contents</a></span>
  <span>{% if resources.handout.next %}<a href="{{ resources.handout.next[0] }}" rel="next">{{ resources.handout.next[1] }} →</a>{% endif %}</span>
</nav>
{%- endmacro -%}
{%- block body_header -%}
{{ super() }}
{{ handout_nav("top") }}
{%- endblock body_header -%}
{% block body_footer %}
{{ handout_nav("bottom") }}
{{ super() }}
{% endblock body_footer %}
"""

INDEX = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{kit} — handout</title>
<style type="text/css">
body {{ font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; max-width: 58em; margin: 2em auto;
  padding: 0 1.5em; line-height: 1.5; color: #1f2328; }}
h1 {{ border-bottom: 1px solid #d0d7de; padding-bottom: 0.3em; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #d0d7de; padding: 0.3em 0.7em; text-align: left; vertical-align: top; }}
pre {{ background: #f6f8fa; padding: 0.8em 1em; overflow-x: auto; }}
code {{ background: #f6f8fa; padding: 0.1em 0.3em; }}
pre code {{ padding: 0; }}
ol.pages li {{ margin: 0.6em 0; }}
ol.pages .what {{ color: #57606a; }}
footer {{ margin-top: 3em; color: #57606a; font-size: 0.9em; }}
</style>
</head>
<body>
<header><h1>{kit}</h1><p>A handout of the notebook series, with the outputs of its offline run.</p></header>
<main>
<section class="intro">
{intro}
</section>
<section class="contents">
<h2>The notebooks, in order</h2>
<ol class="pages">
{items}
</ol>
</section>
</main>
<footer>Built by <code>make handout</code> from the committed, executed notebooks; it needs no network.</footer>
</body>
</html>
"""

_FETCHING_ATTRIBUTES = {"src", "href", "xlink:href", "data", "poster", "srcset", "action", "formaction",
                        "background", "manifest", "codebase", "cite", "longdesc", "ping", "archive"}
_URL = re.compile(r"(?:https?:)?//[^\s\"'<>)]+", re.IGNORECASE)
_CSS_URL = re.compile(r"(?:url\(\s*['\"]?|@import\s+['\"])\s*((?:https?:)?//[^'\")\s]+)", re.IGNORECASE)
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)


class _References(HTMLParser):
    """Every http(s) (or protocol-relative) URL the page would load: attributes, CSS, scripts (not ``<a>`` links)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if not value or name.startswith("xmlns"):
                continue
            if name == "srcset":
                self.found += [f"<{tag} srcset> {url}" for url in _URL.findall(value)]
            elif tag == "a" and name == "href":
                continue  # a link the reader may follow (the AWS docs a notebook cites): nothing is fetched
            elif (name in _FETCHING_ATTRIBUTES or name.endswith(":href")) and _URL.match(value.strip()):
                self.found.append(f"<{tag} {name}={value.strip()[:120]}>")
            if name == "style":
                self.found += [f"<{tag} style> {url}" for url in _CSS_URL.findall(_CSS_COMMENT.sub("", value))]
        self._in = tag if tag in ("style", "script") else None

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "style":
            self.found += [f"<style> {url}" for url in _CSS_URL.findall(_CSS_COMMENT.sub("", data))]
        elif self._in == "script":
            self.found += [f"<script> {url}" for url in re.findall(r"https?://[^\s\"'`]+", data)]


def external_references(page: str) -> list[str]:
    """The http(s) URLs a browser would fetch for this HTML (empty for an offline page); links to follow are fine."""
    parser = _References()
    parser.feed(page)
    parser.close()
    return parser.found


def notebook_title(notebook: nbformat.NotebookNode, fallback: str) -> str:
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#\s+(.+)$", cell.source, re.MULTILINE)
            if match:
                return match.group(1).strip()
    return fallback


def notebook_summary(notebook: nbformat.NotebookNode) -> str:
    """The first markdown cell's "What this step builds/removes" sentence, as HTML."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"\*\*What this [^*]*:\*\*\s*(.+?)(?:\n\s*\n|$)", cell.source, re.DOTALL)
            if match:  # as HTML: its markdown links (a glossary term) become links
                rendered = markdown_html(" ".join(match.group(1).split()))
                return re.sub(r"^<p>|</p>\s*$", "", rendered.strip())
            break
    return ""


GLOSSARY = "GLOSSARY.md"  # beside the notebooks: JupyterLab serves notebooks/ only, GitHub resolves it from there
_GLOSSARY_LINK = re.compile(r'href="GLOSSARY\.md(#[^"]*)?"')
_DETAILS = re.compile(r"(<details>\s*<summary>.*?</summary>)(.*?)(</details>)", re.DOTALL)
_HEADING = re.compile(r'<h([1-6]) id="[^"]*">(.*?)(?:<a class="anchor-link"[^>]*>[^<]*</a>)?</h\1>', re.DOTALL)


def github_slug(heading_html: str) -> str:
    """The anchor GitHub gives a heading (``Task, Choice, Catch`` → ``task-choice-catch``), which the notebooks use."""
    text = html.unescape(re.sub(r"<[^>]+>", "", heading_html))
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def markdown_html(text: str) -> str:
    """Markdown as HTML with GitHub's heading anchors, and links to the glossary pointing at its page."""
    rendered = _HEADING.sub(lambda m: f'<h{m.group(1)} id="{github_slug(m.group(2))}">{m.group(2)}</h{m.group(1)}>',
                            markdown2html(text))
    return _GLOSSARY_LINK.sub(lambda m: f'href="GLOSSARY.html{m.group(1) or ""}"', rendered)


def fold_details(notebook: nbformat.NotebookNode) -> None:
    """Render the markdown inside each ``<details>`` block of a markdown cell as HTML, in place.

    nbconvert's markdown ends an HTML block at its first blank line, so ``<details>``, a blank line, a markdown
    table and ``</details>`` came out as an empty ``<details>`` with the table below it (JupyterLab renders it).
    """
    def rendered(match: re.Match) -> str:
        inner = "\n".join(line for line in markdown_html(match.group(2)).splitlines() if line.strip())
        return f"{match.group(1)}{inner}{match.group(3)}"

    for cell in notebook.cells:
        if cell.cell_type == "markdown" and "<details>" in cell.source:
            cell.source = _DETAILS.sub(rendered, cell.source)


def glossary_page(source: Path) -> str:
    """The glossary as a page of the handout (the notebooks' terms link to its headings)."""
    body = markdown_html(source.read_text(encoding="utf-8"))
    return INDEX.split("<body>")[0].replace("{kit} — handout", "Glossary — {kit}").format(kit=KIT) + (
        f'<body>\n<nav><a href="index.html">{KIT} — contents</a></nav>\n<main>\n{body}\n</main>\n</body>\n</html>\n')


def readme_intro(readme: Path) -> str:
    """The README's first section (between the title and the first ``##`` heading), as HTML."""
    text = readme.read_text(encoding="utf-8")
    body = text.split("\n", 1)[1] if text.startswith("# ") else text
    first_section = re.split(r"^## ", body, maxsplit=1, flags=re.MULTILINE)[0]
    return markdown2html(first_section.strip())


def build(out_dir: Path, notebooks_dir: Path = ROOT / "notebooks", readme: Path = ROOT / "README.md") -> list[Path]:
    """Write the handout; return the pages written, index first.

    Raises:
        SystemExit: no notebooks, or a page references an http(s) URL.
    """
    sources = sorted(notebooks_dir.glob("[0-9][0-9]_*.ipynb"))
    if not sources:
        raise SystemExit(f"no notebooks in {notebooks_dir}")
    out_dir.mkdir(parents=True, exist_ok=True)
    notebooks = [nbformat.read(path, as_version=4) for path in sources]
    titles = [notebook_title(nb, path.stem) for nb, path in zip(notebooks, sources)]
    pages = [f"{path.stem}.html" for path in sources]
    exporter = HTMLExporter(template_name="lab", extra_loaders=[DictLoader({"handout.html.j2": TEMPLATE})],
                            template_file="handout.html.j2")
    exporter.embed_images = True  # markdown images become data: URIs
    # Progress bars are stored as one stream chunk per refresh: show each bar's final line only.
    exporter.register_preprocessor(CoalesceStreamsPreprocessor, enabled=True)
    exporter.exclude_anchor_links = True
    exporter.mathjax_url = ""
    written, problems = [], []
    for index, (notebook, path) in enumerate(zip(notebooks, sources)):
        notebook.metadata["title"] = f"{titles[index]} — {KIT}"
        fold_details(notebook)
        resources = {"metadata": {"name": path.stem, "path": str(notebooks_dir)},
                     "handout": {"kit": KIT,
                                 "prev": (pages[index - 1], titles[index - 1]) if index else None,
                                 "next": (pages[index + 1], titles[index + 1]) if index + 1 < len(pages) else None}}
        body, _ = exporter.from_notebook_node(notebook, resources=resources)
        body = _GLOSSARY_LINK.sub(lambda m: f'href="GLOSSARY.html{m.group(1) or ""}"', body)
        problems += [f"{pages[index]}: {ref}" for ref in external_references(body)]
        target = out_dir / pages[index]
        target.write_text(body, encoding="utf-8")
        written.append(target)
    items = "\n".join(
        f'<li><a href="{page}">{html.escape(title)}</a>'
        + (f'<br><span class="what">{summary}</span>' if (summary := notebook_summary(nb)) else "")
        + "</li>" for page, title, nb in zip(pages, titles, notebooks))
    index_html = INDEX.format(kit=KIT, intro=readme_intro(readme), items=items)
    problems += [f"index.html: {ref}" for ref in external_references(index_html)]
    (out_dir / "index.html").write_text(index_html, encoding="utf-8")
    if (notebooks_dir / GLOSSARY).exists():
        glossary = glossary_page(notebooks_dir / GLOSSARY)
        problems += [f"GLOSSARY.html: {ref}" for ref in external_references(glossary)]
        (out_dir / "GLOSSARY.html").write_text(glossary, encoding="utf-8")
        written.append(out_dir / "GLOSSARY.html")
    if problems:
        raise SystemExit("the handout would fetch from the network:\n  " + "\n  ".join(problems))
    return [out_dir / "index.html", *written]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "handout")
    parser.add_argument("--notebooks", type=Path, default=ROOT / "notebooks")
    args = parser.parse_args(argv)
    pages = build(args.out, args.notebooks)
    for page in pages:
        print(f"wrote {page.relative_to(ROOT) if page.is_relative_to(ROOT) else page} ({page.stat().st_size // 1024} KiB)")
    print(f"handout: open {pages[0]} (offline: no http(s) reference on any page)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
