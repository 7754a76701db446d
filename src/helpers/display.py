"""What the notebooks show: source files from disk, and tables that fit a page."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from IPython.display import Code, Markdown

from helpers.paths import PROJECT_ROOT

_LANGUAGES = {".py": "python", ".json": "json", "Dockerfile": "docker"}


def show_source(relative_path: str, start: str | None = None, end: str | None = None) -> Code:
    """Display a file of the kit (the one that is deployed), optionally from a line containing
    ``start`` up to the line before one containing ``end``."""
    path = PROJECT_ROOT / relative_path
    lines = path.read_text().splitlines()
    if start:
        lines = lines[next(i for i, line in enumerate(lines) if start in line):]
    if end:
        lines = lines[:next(i for i, line in enumerate(lines) if end in line and i > 0)]
    language = _LANGUAGES.get(path.suffix) or _LANGUAGES.get(path.name, "text")
    return Code("\n".join(lines), language=language)


def cli(command: str) -> Markdown:
    """An AWS CLI command, shown beside the Python that does the same."""
    return Markdown(f"```bash\n{command}\n```")


def relative(path: Path) -> str:
    return str(Path(path).resolve().relative_to(PROJECT_ROOT))


# Where a value comes from when nobody chose it for this notebook: shown in 01's full table, left out later.
_AS_USUAL = ("settings.toml", "default", "asked of the account")
_ALWAYS = ("target", "run id")  # what a learner must see in every notebook


def settings(kit, full: bool = False) -> "pd.DataFrame":
    """The settings this notebook runs with, and where each came from (-p, notebook, environment, settings.toml…).

    Every setting is a row: the cloud's (target, region, prefix, run id, data_url, endpoint), what the account
    makes of them (account, caller, bucket), the ``[dataset]`` and the ``[hyperparameters]``.

    Args:
        full: every row (notebook 01); otherwise target, run id and only the settings that do not come from
            settings.toml or a default (``-p``, the notebook, the environment, the data), with one line saying
            how many rows are left out.
    """
    import pandas as pd

    chosen, sources = kit.settings, kit.settings.sources
    cloud = {"target": ("target", chosen.target), "region": ("region", chosen.region),
             "prefix": ("prefix", chosen.prefix), "run id": ("run_id", chosen.run_id),
             "data_url": ("data_url", chosen.data_url), "endpoint": ("endpoint", chosen.endpoint_url or "AWS")}
    rows = [{"setting": label, "value": value, "from": sources.get(key, "default")}
            for label, (key, value) in cloud.items()]
    described = kit.describe()
    rows += [{"setting": name, "value": described[name], "from": "asked of the account"}
             for name in ("account", "caller", "bucket") if name in described]
    rows += [{"setting": f"dataset.{name}", "value": value, "from": sources.get(name, "")}
             for name, value in kit.settings.dataset.items()]
    rows += [{"setting": f"hyperparameters.{name}", "value": value, "from": sources.get(name, "")}
             for name, value in kit.settings.hyperparameters.items()]
    table = pd.DataFrame(rows, columns=["setting", "value", "from"]).set_index("setting")
    if full:
        return table
    usual = table["from"].str.startswith(_AS_USUAL) | table["from"].eq(f"environment {_ENV_ENDPOINT}")
    shown = table[~usual | table.index.isin(_ALWAYS)]
    print(f"{len(table) - len(shown)} more settings as in 01's table (settings.toml and defaults); "
          "all of them: display.settings(kit, full=True)")
    return shown


_ENV_ENDPOINT = "PIPELINE_DREAMS_ENDPOINT"  # set by make lab and the runner: where the local cloud is


class Fields:
    """A record (a handler's result) as two columns, every value in full: pandas cuts long values off."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record

    def _value(self, value: Any) -> str:
        return json.dumps(value) if isinstance(value, (dict, list)) else str(value)

    def __repr__(self) -> str:
        width = max((len(str(k)) for k in self.record), default=0)
        return "\n".join(f"{str(k):<{width}}  {self._value(v)}" for k, v in self.record.items())

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
                       f"<td style='text-align:left'><code>{html.escape(self._value(v))}</code></td></tr>"
                       for k, v in self.record.items())
        return f"<table>{rows}</table>"


def fields(record: dict[str, Any]) -> Fields:
    """Show ``record`` (e.g. what a Lambda returned) as field and value, no value cut off."""
    return Fields(record)


class JsonBlock:
    """JSON, pretty-printed, folded under a one-line summary (HTML), or printed whole (text)."""

    def __init__(self, value: Any, title: str) -> None:
        self.value, self.title = _decoded(value), title

    def __repr__(self) -> str:
        return f"{self.title}:\n{json.dumps(self.value, indent=2, sort_keys=True)}"

    def _repr_html_(self) -> str:
        body = html.escape(json.dumps(self.value, indent=2, sort_keys=True))
        return f"<details><summary>{html.escape(self.title)}</summary><pre>{body}</pre></details>"


def _decoded(value: Any) -> Any:
    """``value`` with strings that hold a JSON object or list parsed, so nothing shows escaped twice."""
    if isinstance(value, dict):
        return {k: _decoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return _decoded(json.loads(value))
        except ValueError:
            return value
    return value


def json_block(value: Any, title: str) -> JsonBlock:
    """Show JSON (a dict, or a string holding JSON) pretty-printed and collapsed under ``title``."""
    return JsonBlock(value, title)
