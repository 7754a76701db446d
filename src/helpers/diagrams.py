"""Draw a state machine from its Amazon States Language definition, as an SVG and a PNG.

The picture needs no Graphviz or JavaScript, so it renders in JupyterLab, in the
static handout and offline. States are laid out top to bottom in the order the
execution can reach them; ``Catch`` edges are dashed, ``Choice`` edges labelled.

A notebook shows it as a bundle of both: JupyterLab renders SVG only in a trusted notebook
(one you executed yourself), and falls back to the PNG, drawn from the same layout with
matplotlib, when the notebook is opened untrusted.
"""

from __future__ import annotations

from html import escape
from typing import Any


_WIDTH, _HEIGHT, _GAP_X, _GAP_Y = 230, 46, 60, 34
_COLOURS = {"Task": "#dbeafe", "Choice": "#fef3c7", "Wait": "#e0e7ff", "Fail": "#fee2e2", "Succeed": "#dcfce7",
            "Pass": "#f3f4f6", "Parallel": "#ede9fe", "Map": "#ede9fe"}


def _edges(states: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(from, to, kind) with kind 'next', 'catch' or a Choice label."""
    edges = []
    for name, state in states.items():
        if "Next" in state:
            edges.append((name, state["Next"], "next"))
        for choice in state.get("Choices", []):
            label = next((f"{k} {v}" for k, v in choice.items() if k not in ("Variable", "Next")), "")
            edges.append((name, choice["Next"], label[:28]))
        if "Default" in state:
            edges.append((name, state["Default"], "default"))
        for catch in state.get("Catch", []):
            edges.append((name, catch["Next"], "catch"))
    return edges


def _layout(definition: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """(column, row): the main path in column 0, states reached only by Catch to the right."""
    states, edges = definition["States"], _edges(definition["States"])
    position: dict[str, tuple[int, int]] = {}
    row = 0
    queue = [definition["StartAt"]]
    while queue:  # breadth-first over non-catch edges
        name = queue.pop(0)
        if name in position:
            continue
        position[name] = (0, row)
        row += 1
        queue += [to for frm, to, kind in edges if frm == name and kind != "catch"]
    for name in states:  # catch targets: beside the first state that catches into them
        if name not in position:
            sources = [position[frm][1] for frm, to, kind in edges if to == name and frm in position]
            rows_taken = {r for c, r in position.values() if c == 1}
            target_row = min(sources) if sources else row
            while target_row in rows_taken:
                target_row += 1
            position[name] = (1, target_row)
    return position


def state_machine_svg(definition: dict[str, Any], title: str = "") -> str:
    """The SVG text of a state machine picture."""
    states = definition["States"]
    position = _layout(definition)
    rows = max(r for _, r in position.values()) + 1
    columns = max(c for c, _ in position.values()) + 1
    top = 70 if title else 50
    width = columns * (_WIDTH + _GAP_X) + _GAP_X
    height = top + rows * (_HEIGHT + _GAP_Y) + 40

    def box(name: str) -> tuple[float, float]:
        column, row = position[name]
        return _GAP_X + column * (_WIDTH + _GAP_X), top + row * (_HEIGHT + _GAP_Y)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="13">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#374151"/></marker></defs>']
    if title:
        parts.append(f'<text x="{_GAP_X}" y="28" font-size="16" font-weight="bold">{escape(title)}</text>')
    start_x, start_y = box(definition["StartAt"])
    parts.append(f'<circle cx="{start_x + _WIDTH / 2}" cy="{start_y - 22}" r="7" fill="#374151"/>'
                 f'<line x1="{start_x + _WIDTH / 2}" y1="{start_y - 15}" x2="{start_x + _WIDTH / 2}" y2="{start_y}" '
                 'stroke="#374151" marker-end="url(#arrow)"/>')
    for frm, to, kind in _edges(states):
        (x1, y1), (x2, y2) = box(frm), box(to)
        dashed = ' stroke-dasharray="5,4" stroke="#dc2626"' if kind == "catch" else ' stroke="#374151"'
        if position[frm][0] == position[to][0] and position[to][1] == position[frm][1] + 1:
            path = f"M {x1 + _WIDTH / 2} {y1 + _HEIGHT} L {x2 + _WIDTH / 2} {y2}"
        elif position[to][0] > position[frm][0]:
            path = f"M {x1 + _WIDTH} {y1 + _HEIGHT / 2} L {x2} {y2 + _HEIGHT / 2}"
        else:  # a jump over other states: loop around the right-hand side
            bend = x1 + _WIDTH + _GAP_X / 2
            path = (f"M {x1 + _WIDTH} {y1 + _HEIGHT / 2 + 8} C {bend} {y1 + _HEIGHT / 2 + 8} {bend} {y2 + _HEIGHT / 2 - 8} "
                    f"{x2 + _WIDTH} {y2 + _HEIGHT / 2 - 8}")
        parts.append(f'<path d="{path}" fill="none"{dashed} marker-end="url(#arrow)"/>')
        if kind not in ("next", "catch"):
            parts.append(f'<text x="{(x1 + x2) / 2 + _WIDTH / 2 + 6}" y="{(y1 + y2) / 2 + _HEIGHT}" '
                         f'font-size="11" fill="#92400e">{escape(kind)}</text>')
    for name, state in states.items():
        x, y = box(name)
        kind = state["Type"]
        detail = state.get("Resource", "").split(":::")[-1].split(":")[-1] if kind == "Task" else kind
        parts.append(f'<rect x="{x}" y="{y}" width="{_WIDTH}" height="{_HEIGHT}" rx="8" '
                     f'fill="{_COLOURS.get(kind, "#f3f4f6")}" stroke="#374151"/>'
                     f'<text x="{x + _WIDTH / 2}" y="{y + 19}" text-anchor="middle" font-weight="bold">{escape(name)}</text>'
                     f'<text x="{x + _WIDTH / 2}" y="{y + 36}" text-anchor="middle" font-size="11" '
                     f'fill="#4b5563">{escape(detail[:36])}</text>')
        if state.get("End") or kind in ("Succeed", "Fail"):
            parts.append(f'<circle cx="{x + _WIDTH / 2}" cy="{y + _HEIGHT + 16}" r="7" fill="none" stroke="#374151" '
                         f'stroke-width="3"/><line x1="{x + _WIDTH / 2}" y1="{y + _HEIGHT}" x2="{x + _WIDTH / 2}" '
                         f'y2="{y + _HEIGHT + 9}" stroke="#374151"/>')
    parts.append("</svg>")
    return "".join(parts)


def state_machine_png(definition: dict[str, Any], title: str = "") -> bytes:
    """The same picture as :func:`state_machine_svg`, drawn with matplotlib as PNG bytes."""
    import io

    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    states = definition["States"]
    position = _layout(definition)
    rows = max(r for _, r in position.values()) + 1
    columns = max(c for c, _ in position.values()) + 1
    top = 70 if title else 50
    width = columns * (_WIDTH + _GAP_X) + _GAP_X
    height = top + rows * (_HEIGHT + _GAP_Y) + 40

    def box(name: str) -> tuple[float, float]:
        column, row = position[name]
        return _GAP_X + column * (_WIDTH + _GAP_X), top + row * (_HEIGHT + _GAP_Y)

    dpi = 100
    with matplotlib.rc_context({"font.family": "DejaVu Sans"}):
        figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
        axes = figure.add_axes((0, 0, 1, 1))
        axes.set_xlim(0, width)
        axes.set_ylim(height, 0)  # SVG's y grows downwards
        axes.axis("off")
        if title:
            axes.text(_GAP_X, 28, title, fontsize=12, fontweight="bold", va="baseline")
        for frm, to, kind in _edges(states):
            (x1, y1), (x2, y2) = box(frm), box(to)
            style = {"color": "#dc2626", "linestyle": "--"} if kind == "catch" else {"color": "#374151"}
            if position[frm][0] == position[to][0] and position[to][1] == position[frm][1] + 1:
                ends, bend = ((x1 + _WIDTH / 2, y1 + _HEIGHT), (x2 + _WIDTH / 2, y2)), "arc3"
            elif position[to][0] > position[frm][0]:
                ends, bend = ((x1 + _WIDTH, y1 + _HEIGHT / 2), (x2, y2 + _HEIGHT / 2)), "arc3"
            else:  # a jump over other states: loop around the right-hand side
                ends = ((x1 + _WIDTH, y1 + _HEIGHT / 2 + 8), (x2 + _WIDTH, y2 + _HEIGHT / 2 - 8))
                bend = f"arc,angleA=0,angleB=0,armA={_GAP_X / 2},armB={_GAP_X / 2},rad=8"
            axes.add_patch(FancyArrowPatch(*ends, connectionstyle=bend, arrowstyle="-|>", mutation_scale=10,
                                           linewidth=1, **style))
            if kind not in ("next", "catch"):
                axes.text((x1 + x2) / 2 + _WIDTH / 2 + 6, (y1 + y2) / 2 + _HEIGHT, kind, fontsize=8,
                          color="#92400e")
        for name, state in states.items():
            x, y = box(name)
            kind = state["Type"]
            detail = state.get("Resource", "").split(":::")[-1].split(":")[-1] if kind == "Task" else kind
            axes.add_patch(FancyBboxPatch((x, y), _WIDTH, _HEIGHT, boxstyle="round,pad=0,rounding_size=8",
                                          facecolor=_COLOURS.get(kind, "#f3f4f6"), edgecolor="#374151"))
            axes.text(x + _WIDTH / 2, y + 19, name, ha="center", va="baseline", fontsize=9.5, fontweight="bold")
            axes.text(x + _WIDTH / 2, y + 36, detail[:36], ha="center", va="baseline", fontsize=8, color="#4b5563")
        start_x, start_y = box(definition["StartAt"])
        axes.plot([start_x + _WIDTH / 2], [start_y - 22], "o", color="#374151", markersize=8)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


class StateMachinePicture:
    """A state machine picture for a notebook: SVG where the notebook is trusted, PNG where it is not."""

    def __init__(self, definition: dict[str, Any], title: str = "") -> None:
        self.definition, self.title = definition, title

    @property
    def svg(self) -> str:
        return state_machine_svg(self.definition, self.title)

    @property
    def png(self) -> bytes:
        return state_machine_png(self.definition, self.title)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        import base64

        return {"image/svg+xml": self.svg, "image/png": base64.b64encode(self.png).decode(),
                "text/plain": f"<state machine: {self.title or self.definition.get('StartAt')}>"}


def show_state_machine(definition: dict[str, Any], title: str = "") -> StateMachinePicture:
    """Display the state machine picture in a notebook (SVG, with a PNG for untrusted notebooks)."""
    return StateMachinePicture(definition, title)
