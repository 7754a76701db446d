"""What the notebooks show: source files from disk, and tables that fit a page."""

from __future__ import annotations

from pathlib import Path

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


def settings(kit) -> "pd.DataFrame":
    """The settings this notebook runs with, and where each came from (-p, notebook, environment, settings.toml…).

    Every setting is a row: the cloud's (target, region, prefix, run id, data_url, endpoint), what the account
    makes of them (account, caller, bucket), the ``[dataset]`` and the ``[hyperparameters]``.
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
    return pd.DataFrame(rows, columns=["setting", "value", "from"]).set_index("setting")
