"""The errors a learner meets first: a wrong setting, or no local cloud answering (one line each in a notebook)."""

from __future__ import annotations


class ConfigError(ValueError):
    """A setting is wrong; the message names the setting and what is allowed."""


class CloudNotReachable(ConnectionError):
    """No local cloud answers; shown in a notebook as one line saying what to run."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [f"CloudNotReachable: {self}"]


class EarlierNotebookNeeded(LookupError):
    """What this notebook needs from an earlier one is missing; the message names the notebook to run first."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [f"EarlierNotebookNeeded: {self}"]
