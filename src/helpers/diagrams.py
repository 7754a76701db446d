"""Draw a state machine from its Amazon States Language definition, as an SVG.

The picture needs no Graphviz or JavaScript, so it renders in JupyterLab, in the
static handout and offline. States are laid out top to bottom in the order the
execution can reach them; ``Catch`` edges are dashed, ``Choice`` edges labelled.
"""

from __future__ import annotations

from html import escape
from typing import Any

from IPython.display import SVG

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


def show_state_machine(definition: dict[str, Any], title: str = "") -> SVG:
    """Display the state machine picture in a notebook."""
    return SVG(state_machine_svg(definition, title))
