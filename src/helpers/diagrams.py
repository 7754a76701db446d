"""Draw a state machine from its Amazon States Language definition, as an SVG and a PNG.

The picture needs no Graphviz or JavaScript, so it renders in JupyterLab, in the static handout
and offline. The path an execution takes when all goes well runs down the left column; every other
state (failures, branches, retries) sits in the right column beside the first state that leads to it.
Edges are drawn at right angles, each in a lane of its own, so they never run over a box or over each
other; ``Catch`` edges are dashed red and ``Choice`` edges carry their condition beside the source.

Given the statuses of an execution's states (helpers.execution_view reads them from its history), the
boxes are coloured as the Step Functions console colours them — running blue, succeeded green, failed red,
caught error orange, aborted grey, not reached white — with a legend below.

A notebook shows it as a bundle of both formats: JupyterLab renders SVG only in a trusted notebook
(one you executed yourself) and falls back to the PNG, drawn from the same geometry with Pillow,
when the notebook is opened untrusted.
"""

from __future__ import annotations

import base64
import functools
import io
from dataclasses import dataclass, field
from html import escape
from typing import Any

_WIDTH, _HEIGHT, _GAP_Y, _MARGIN, _GAP_X, _LANE = 230, 46, 30, 130, 190, 9
_COLOURS = {"Task": "#dbeafe", "Choice": "#fef3c7", "Wait": "#e0e7ff", "Fail": "#fee2e2", "Succeed": "#dcfce7",
            "Pass": "#f3f4f6", "Parallel": "#ede9fe", "Map": "#ede9fe"}
# An execution's state, as the console shows it: (fill, outline, the legend's words).
STATUS_STYLES = {"running": ("#bfdbfe", "#1d4ed8", "running"), "succeeded": ("#bbf7d0", "#15803d", "succeeded"),
                 "failed": ("#fecaca", "#b91c1c", "failed"), "caught": ("#fed7aa", "#c2410c", "caught error"),
                 "aborted": ("#e5e7eb", "#4b5563", "aborted"), "not-reached": ("#ffffff", "#9ca3af", "not reached")}
_LEGEND = 34  # the legend row's height below a coloured picture
_OPERATORS = {"NumericGreaterThanEquals": "≥", "NumericGreaterThan": ">", "NumericLessThanEquals": "≤",
              "NumericLessThan": "<", "NumericEquals": "=", "StringEquals": "=", "BooleanEquals": "="}


def _condition(choice: dict[str, Any]) -> str:
    """A Choice rule in a few characters: ``≥ $.min_accuracy``, ``= InService``."""
    for key, value in choice.items():
        if key in ("Variable", "Next"):
            continue
        operator = _OPERATORS.get(key.removesuffix("Path"), key)
        return f"{operator} {value}"[:24]
    return ""


def _edges(states: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(from, to, kind) with kind 'next', 'catch', 'default' or a Choice rule's condition."""
    edges = []
    for name, state in states.items():
        if "Next" in state:
            edges.append((name, state["Next"], "next"))
        for choice in state.get("Choices", []):
            edges.append((name, choice["Next"], _condition(choice)))
        if "Default" in state:
            edges.append((name, state["Default"], "default"))
        for catch in state.get("Catch", []):
            edges.append((name, catch["Next"], "catch"))
    return edges


def _layout(definition: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """(column, row): the happy path in column 0, every other state in column 1 beside its first source."""
    states, edges = definition["States"], _edges(definition["States"])
    position: dict[str, tuple[int, int]] = {}
    name: str | None = definition["StartAt"]
    while name and name not in position:  # the happy path: Next, or a Choice's first rule
        position[name] = (0, len(position))
        state = states[name]
        name = state.get("Next") or next((c["Next"] for c in state.get("Choices", [])), None)
    pending = [n for n in states if n not in position]
    while pending:  # beside the first placed state that leads there, in the first free row from there down
        name = next((n for n in pending if any(frm in position for frm, to, _ in edges if to == n)), pending[0])
        sources = [position[frm] for frm, to, _ in edges if to == name and frm in position]
        row = min(r + c for c, r in sources) if sources else max(r for _, r in position.values()) + 1
        while (1, row) in position.values():
            row += 1
        position[name] = (1, row)
        pending.remove(name)
    return position


@dataclass
class _Geometry:
    """Everything both renderers draw, in pixels (y grows downwards)."""

    width: float
    height: float
    title: str
    boxes: dict[str, tuple[float, float, str, str]] = field(default_factory=dict)  # x, y, kind, detail
    edges: list[tuple[list[tuple[float, float]], str]] = field(default_factory=list)  # points, kind
    labels: list[tuple[float, float, str, str]] = field(default_factory=list)  # x, y, text, anchor
    start: tuple[float, float] = (0.0, 0.0)
    statuses: dict[str, str] | None = None  # an execution's: every state's status, for colours and the legend

    def style(self, name: str, kind: str) -> tuple[str, str, int]:
        """A box's fill, outline and outline width: by state type, or by status in an execution's picture."""
        if self.statuses is None:
            return _COLOURS.get(kind, "#f3f4f6"), "#374151", 1
        fill, outline, _ = STATUS_STYLES[self.statuses.get(name, "not-reached")]
        return fill, outline, 2

    def legend(self) -> list[tuple[float, float, str, str, str]]:
        """(x, y, fill, outline, words) of each legend swatch, left to right under the boxes."""
        y, x, swatches = self.height - _LEGEND - 12, float(_MARGIN), []
        for status, (fill, outline, words) in STATUS_STYLES.items():
            swatches.append((x, y, fill, outline, words))
            x += 30 + 7 * len(words) + 22
        return swatches


def _geometry(definition: dict[str, Any], title: str, statuses: dict[str, str] | None = None) -> _Geometry:
    states, position = definition["States"], _layout(definition)
    rows = max(r for _, r in position.values()) + 1
    top = 70 if title else 50
    x_of = {0: _MARGIN, 1: _MARGIN + _WIDTH + _GAP_X}
    width = x_of[1] + _WIDTH + _MARGIN
    legend = _LEGEND if statuses is not None else 0
    geometry = _Geometry(width, top + rows * (_HEIGHT + _GAP_Y) + 30 + legend, title,
                         statuses={n: statuses.get(n, "not-reached") for n in states} if statuses is not None else None)
    for name, (column, row) in position.items():
        kind = states[name]["Type"]
        detail = states[name].get("Resource", "").split(":::")[-1].split(":")[-1] if kind == "Task" else kind
        geometry.boxes[name] = (x_of[column], top + row * (_HEIGHT + _GAP_Y), kind, detail[:36])
    lanes = {"left": 0, "middle": 0, "right": 0}
    labelled: dict[str, int] = {}  # labels already beside a source: the next goes below them

    def lane(side: str) -> int:
        lanes[side] += 1
        return lanes[side]

    for frm, to, kind in _edges(states):
        (fc, fr), (tc, tr) = position[frm], position[to]
        x1, y1, *_ = geometry.boxes[frm]
        x2, y2, *_ = geometry.boxes[to]
        middle1, middle2 = y1 + _HEIGHT / 2, y2 + _HEIGHT / 2
        if fc == tc and tr == fr + 1:
            points = [(x1 + _WIDTH / 2, y1 + _HEIGHT), (x2 + _WIDTH / 2, y2)]
            label_at = (x1 + _WIDTH / 2 + 6, y1 + _HEIGHT + 14, "start")
        elif fc == tc:  # a jump or a loop within a column: around its outer side, in a lane of its own
            side = "left" if fc == 0 else "right"
            edge_x = x1 if side == "left" else x1 + _WIDTH
            lane_x = edge_x - 10 - _LANE * lane(side) if side == "left" else edge_x + 10 + _LANE * lane(side)
            points = [(edge_x, middle1 + 6), (lane_x, middle1 + 6), (lane_x, middle2 - 6), (edge_x, middle2 - 6)]
            label_at = (edge_x - 4, middle1 - 2, "end") if side == "left" else (edge_x + 4, middle1 - 2, "start")
        else:  # across the gap between the columns: right angles, in a lane of its own
            rightwards = tc > fc
            start_x, end_x = (x1 + _WIDTH, x2) if rightwards else (x1, x2 + _WIDTH)
            lane_x = _MARGIN + _WIDTH + _GAP_X / 2 + (lane("middle") % 9 - 4) * _LANE
            points = [(start_x, middle1), (lane_x, middle1), (lane_x, middle2), (end_x, middle2)]
            if middle1 == middle2:
                points = [(start_x, middle1), (end_x, middle2)]
            label_at = (start_x + 4, middle1 - 4, "start") if rightwards else (start_x - 4, middle1 - 4, "end")
        geometry.edges.append((points, kind))
        if kind not in ("next", "catch"):
            shift = 15 * labelled.get(frm, 0)
            labelled[frm] = labelled.get(frm, 0) + 1
            geometry.labels.append((label_at[0], label_at[1] + shift, kind, label_at[2]))
    start_x, start_y, *_ = geometry.boxes[definition["StartAt"]]
    geometry.start = (start_x + _WIDTH / 2, start_y)
    return geometry


def state_machine_svg(definition: dict[str, Any], title: str = "", statuses: dict[str, str] | None = None) -> str:
    """The SVG text of a state machine picture; with ``statuses`` (state → a key of STATUS_STYLES), an execution's."""
    g = _geometry(definition, title, statuses)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{g.width}" height="{g.height}" '
             f'viewBox="0 0 {g.width} {g.height}" font-family="Helvetica, Arial, sans-serif" font-size="13">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#374151"/></marker></defs>']
    if title:
        parts.append(f'<text x="{_MARGIN}" y="28" font-size="16" font-weight="bold">{escape(title)}</text>')
    sx, sy = g.start
    parts.append(f'<circle cx="{sx}" cy="{sy - 22}" r="7" fill="#374151"/><line x1="{sx}" y1="{sy - 15}" '
                 f'x2="{sx}" y2="{sy}" stroke="#374151" marker-end="url(#arrow)"/>')
    for points, kind in g.edges:
        style = ' stroke-dasharray="5,4" stroke="#dc2626"' if kind == "catch" else ' stroke="#374151"'
        path = " L ".join(f"{x} {y}" for x, y in points)
        parts.append(f'<path d="M {path}" fill="none"{style} marker-end="url(#arrow)"/>')
    for x, y, text, anchor in g.labels:
        parts.append(f'<text x="{x}" y="{y}" font-size="11" text-anchor="{anchor}" fill="#92400e">{escape(text)}</text>')
    for name, (x, y, kind, detail) in g.boxes.items():
        fill, outline, thick = g.style(name, kind)
        status = f' data-state="{escape(name)}" data-status="{g.statuses[name]}"' if g.statuses is not None else ""
        tip = f"<title>{escape(name)}: {STATUS_STYLES[g.statuses[name]][2]}</title>" if g.statuses is not None else ""
        parts.append(f'<rect{status} x="{x}" y="{y}" width="{_WIDTH}" height="{_HEIGHT}" rx="8" '
                     f'fill="{fill}" stroke="{outline}" stroke-width="{thick}">{tip}</rect>'
                     f'<text x="{x + _WIDTH / 2}" y="{y + 19}" text-anchor="middle" font-weight="bold">{escape(name)}</text>'
                     f'<text x="{x + _WIDTH / 2}" y="{y + 36}" text-anchor="middle" font-size="11" '
                     f'fill="#4b5563">{escape(detail)}</text>')
    if g.statuses is not None:
        for x, y, fill, outline, words in g.legend():
            parts.append(f'<rect x="{x}" y="{y}" width="22" height="14" rx="3" fill="{fill}" stroke="{outline}" '
                         f'stroke-width="2"/><text x="{x + 28}" y="{y + 11}" font-size="12">{words}</text>')
    parts.append("</svg>")
    return "".join(parts)


def state_machine_png(definition: dict[str, Any], title: str = "", statuses: dict[str, str] | None = None) -> bytes:
    """The same picture as :func:`state_machine_svg`, as PNG bytes, drawn with Pillow.

    Pillow, not matplotlib: importing matplotlib cost ~0.25 s of the first picture of a notebook. The picture is
    drawn at twice its size and scaled down, which smooths its lines and text as an SVG renderer would.
    """
    from PIL import Image, ImageDraw, ImageFont

    g, k = _geometry(definition, title, statuses), _SCALE
    image = Image.new("RGB", (round(g.width * k), round(g.height * k)), "white")
    draw = ImageDraw.Draw(image)
    font = functools.partial(_font, ImageFont)
    if title:
        draw.text((_MARGIN * k, 28 * k), title, font=font(16 * k), fill="#111827", anchor="ls",
                  stroke_width=0.4 * k, stroke_fill="#111827")
    sx, sy = g.start
    draw.ellipse([(sx - 4) * k, (sy - 26) * k, (sx + 4) * k, (sy - 18) * k], fill="#374151")
    _arrow(draw, [(sx, sy - 15), (sx, sy)], "#374151", False, k)
    for points, kind in g.edges:
        _arrow(draw, points, "#dc2626" if kind == "catch" else "#374151", kind == "catch", k)
    for x, y, text, anchor in g.labels:
        draw.text((x * k, y * k), text, font=font(11 * k), fill="#92400e", anchor={"start": "ls", "end": "rs"}[anchor])
    for name, (x, y, kind, detail) in g.boxes.items():
        fill, outline, thick = g.style(name, kind)
        draw.rounded_rectangle([x * k, y * k, (x + _WIDTH) * k, (y + _HEIGHT) * k], radius=8 * k,
                               fill=fill, outline=outline, width=thick * k)
        draw.text(((x + _WIDTH / 2) * k, (y + 19) * k), name, font=font(13 * k), fill="#111827", anchor="ms",
                  stroke_width=0.3 * k, stroke_fill="#111827")
        draw.text(((x + _WIDTH / 2) * k, (y + 36) * k), detail, font=font(11 * k), fill="#4b5563", anchor="ms")
    if g.statuses is not None:
        for x, y, fill, outline, words in g.legend():
            draw.rounded_rectangle([x * k, y * k, (x + 22) * k, (y + 14) * k], radius=3 * k, fill=fill,
                                   outline=outline, width=2 * k)
            draw.text(((x + 28) * k, (y + 11) * k), words, font=font(12 * k), fill="#111827", anchor="ls")
    buffer = io.BytesIO()
    image.resize((round(g.width), round(g.height)), Image.Resampling.LANCZOS).save(buffer, format="PNG")
    return buffer.getvalue()


_SCALE = 2  # drawn at twice the size, then scaled down (smooth lines and text)


@functools.cache
def _font(image_font: Any, size: int) -> Any:
    return image_font.load_default(size=size)  # Pillow's own font (FreeType), the same on every machine


def _arrow(draw: Any, points: list[tuple[float, float]], colour: str, dashed: bool, k: int) -> None:
    """A polyline ending in a filled arrowhead at its last point (dashed: 4-unit dashes and gaps)."""
    scaled = [(x * k, y * k) for x, y in points]
    (x1, y1), (x2, y2) = scaled[-2], scaled[-1]
    length = max(((x2 - x1) ** 2 + (y2 - y1) ** 2) ** 0.5, 1e-9)
    ux, uy = (x2 - x1) / length, (y2 - y1) / length
    head, half = 9 * k, 4 * k
    base = (x2 - ux * head, y2 - uy * head)
    line = scaled[:-1] + [base]
    for (ax, ay), (bx, by) in zip(line, line[1:]):
        if not dashed:
            draw.line([(ax, ay), (bx, by)], fill=colour, width=k)
            continue
        span = ((bx - ax) ** 2 + (by - ay) ** 2) ** 0.5
        step = 4 * k
        for start in range(0, int(span), 2 * step):
            end = min(start + step, span)
            draw.line([(ax + (bx - ax) * start / span, ay + (by - ay) * start / span),
                       (ax + (bx - ax) * end / span, ay + (by - ay) * end / span)], fill=colour, width=k)
    draw.polygon([(x2, y2), (base[0] - uy * half, base[1] + ux * half), (base[0] + uy * half, base[1] - ux * half)],
                 fill=colour)


class StateMachinePicture:
    """A state machine picture for a notebook: SVG where the notebook is trusted, PNG where it is not.

    With ``statuses`` it is an execution's picture, its states coloured by status.
    """

    def __init__(self, definition: dict[str, Any], title: str = "", statuses: dict[str, str] | None = None) -> None:
        self.definition, self.title, self.statuses = definition, title, statuses

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        name = self.title or self.definition["StartAt"]
        return {"image/svg+xml": state_machine_svg(self.definition, self.title, self.statuses),
                "image/png": base64.b64encode(state_machine_png(self.definition, self.title, self.statuses)).decode(),
                "text/plain": f"<{name}>" if self.statuses is not None else f"<state machine: {name}>"}


def show_state_machine(definition: dict[str, Any], title: str = "") -> StateMachinePicture:
    """Display the state machine picture in a notebook (SVG, with a PNG for untrusted notebooks)."""
    return StateMachinePicture(definition, title)
