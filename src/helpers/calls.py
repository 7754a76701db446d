"""The boto3 requests a helper makes, recorded and shown under the cell: ``ensure_function(…, show_request=True)``.

A helper hides a few boto3 calls; a learner should be able to see them as they would write them. Every client of a
:class:`~helpers.config.Kit` reports the parameters of each call it is about to make (botocore's
``provide-client-params`` event); :func:`recorded` collects those of the calls that change something, and
:func:`show` prints each as the boto3 code that makes it, folded under "the request".
"""

from __future__ import annotations

import contextlib
import functools
import html
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

READ_ONLY = ("Get", "List", "Describe", "Head")  # calls that only look: left out of what is shown
_SHORT_BYTES = 2000  # bytes shown as text (a payload, a CSV body); longer ones (a zip) by their size

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Call:
    """One boto3 call: ``kit.client(service).<method>(**params)``."""

    service: str
    method: str
    params: dict[str, Any]

    def code(self) -> str:
        """The call as the boto3 code that makes it: JSON documents as ``json.dumps({...})``, long bytes sized."""
        arguments = "".join(f"    {key}={_python(value)},\n" for key, value in self.params.items())
        return f'kit.client("{self.service}").{self.method}(\n{arguments})'


def _python(value: Any) -> str:
    """A parameter as Python source, indented to sit in a call's argument list."""
    if isinstance(value, (bytes, bytearray)) and len(value) <= _SHORT_BYTES:
        text = _json_source(value.decode("utf-8", errors="replace"))
        return f"{text}.encode()" if text else repr(bytes(value))
    return _json_source(value) or _literal(_sized(value), 1)


class _Sized:
    """Long bytes (a zip) shown by their size: ``b'<5302 bytes>'``."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __repr__(self) -> str:
        return f"b'<{self.size} bytes>'"


def _sized(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sized(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_sized(v) for v in value]
    if isinstance(value, (bytes, bytearray)) and len(value) > _SHORT_BYTES:
        return _Sized(len(value))
    return value


def _json_source(value: Any, level: int = 1) -> str | None:
    """``json.dumps({...})`` for a string holding a JSON object or list (a policy, an input), else None."""
    if not isinstance(value, str) or value[:1] not in "{[":
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    return f"json.dumps({_literal(parsed, level)})"


def _literal(value: Any, level: int) -> str:
    """A Python literal, one key or item a line when it does not fit on one (as a person lays out a policy)."""
    as_json = _json_source(value, level)  # a JSON string inside (an input template): json.dumps({...}) too
    if as_json:
        return as_json
    if not isinstance(value, (dict, list)) or not value:
        return repr(value)
    keyed = isinstance(value, dict)
    parts = [(f"{k!r}: " if keyed else "") + _literal(v, level + 1)
             for k, v in (value.items() if keyed else enumerate(value))]
    opening, closing = "{}" if keyed else "[]"
    flat = opening + ", ".join(parts) + closing
    if "\n" not in flat and len(flat) + 4 * level <= 100:
        return flat
    pad = "    " * (level + 1)
    return opening + "\n" + "".join(f"{pad}{part},\n" for part in parts) + "    " * level + closing


def record(calls: list[Call], params: dict[str, Any], model: Any, **_: Any) -> None:
    """botocore's ``provide-client-params`` handler: keep a call that changes something."""
    from botocore import xform_name

    if not model.name.startswith(READ_ONLY):
        calls.append(Call(model.service_model.service_name, xform_name(model.name), dict(params)))


@contextlib.contextmanager
def recorded(kit: Any) -> Iterator[list[Call]]:
    """The calls that change something, made by ``kit``'s clients inside the ``with`` block."""
    calls: list[Call] = []
    kit.recorders.append(calls)
    try:
        yield calls
    finally:
        kit.recorders.remove(calls)


class Requests:
    """Calls shown as boto3 code: folded under "the request" (HTML), printed whole (text)."""

    def __init__(self, calls: list[Call], title: str = "the request") -> None:
        self.calls, self.title = calls, title

    def _summary(self) -> str:
        names = ", ".join(f"{c.service}.{c.method}" for c in self.calls) or "no call changed anything"
        return f"{self.title}: {names}"

    def __repr__(self) -> str:
        return "\n".join([self._summary(), *(c.code() for c in self.calls)])

    def _repr_html_(self) -> str:
        code = "\n\n".join(html.escape(c.code()) for c in self.calls)
        return f"<details><summary>{html.escape(self._summary())}</summary><pre>{code}</pre></details>"


def show(calls: list[Call], title: str = "the request") -> None:
    """Display ``calls`` under the cell (in a notebook: folded; elsewhere: printed)."""
    from IPython.display import display

    display(Requests(calls, title))


def showable(function: F) -> F:
    """Give a helper whose first argument is the kit a ``show_request`` keyword: show the calls it made."""
    @functools.wraps(function)
    def wrapper(kit: Any, *args: Any, show_request: bool = False, **kwargs: Any) -> Any:
        if not show_request:
            return function(kit, *args, **kwargs)
        with recorded(kit) as made:
            try:
                return function(kit, *args, **kwargs)
            finally:
                show(made)

    wrapper.__doc__ = (function.__doc__ or "") + (
        "\n\n    ``show_request=True`` shows the boto3 calls it made that change something, folded under the cell.\n")
    return wrapper  # type: ignore[return-value]
