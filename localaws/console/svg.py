"""A laid-out state machine graph as SVG.

Each state is a ``<g class="state st-<status>" data-state="<name>">``: the page's script recolours a running
execution by changing that class (the graph's shape never changes while it runs), and the colours live in
the CSS of :data:`STATUS_STYLES`, which the page's legend shows too.
"""

from __future__ import annotations

from markupsafe import escape

from localaws.console.asl_graph import CATCH, CHOICE, DEFAULT
from localaws.console.layout import HEADER_H, Placed, PlacedNode, layout
from localaws.console.status import (
    CANCELLED,
    CAUGHT,
    FAILED,
    NOT_REACHED,
    RUNNING,
    STATUS_LABELS,
    SUCCEEDED,
    WAITING,
)

MARGIN = 12

# status → (fill, stroke, dashed): blue in progress, green succeeded, red failed, orange caught error and
# grey cancelled follow the Step Functions console; purple "waiting for a worker" is ours (an activity task
# scheduled that no worker has picked up yet).
STATUS_STYLES: dict[str, tuple[str, str, bool]] = {
    NOT_REACHED: ("#ffffff", "#8d99a8", False),
    WAITING: ("#eee5fb", "#7d3fd1", True),
    RUNNING: ("#d6e8ff", "#0972d3", False),
    SUCCEEDED: ("#d8f2dc", "#1d8102", False),
    FAILED: ("#fde0dd", "#d13212", False),
    CAUGHT: ("#ffe6c7", "#dd6b10", False),
    CANCELLED: ("#ececec", "#687078", True),
}


def status_css() -> str:
    """CSS that colours states (and legend swatches) by their ``st-<status>`` class."""
    rules = []
    for status, (fill, stroke, dashed) in STATUS_STYLES.items():
        dash = "stroke-dasharray:5 3;" if dashed else ""
        rules.append(
            f".st-{status} > rect.shape, .swatch.st-{status} {{fill:{fill};background:{fill};"
            f"stroke:{stroke};border-color:{stroke};{dash}}}"
        )
    # A Parallel keeps a pale frame whatever its status: its branches are coloured inside it.
    rules.append(".state.group > rect.shape {fill-opacity:0.35}")
    return "\n".join(rules)


def legend_html() -> str:
    items = "".join(
        f'<span class="legend-item"><span class="swatch st-{status}"></span>'
        f"{escape(STATUS_LABELS[status])}</span>"
        for status in STATUS_STYLES
    )
    return f'<div class="legend">{items}</div>'


def render(graph_layout: Placed, statuses: dict[str, str] | None = None) -> str:
    """The SVG of a laid-out graph; ``statuses`` (state name → status) colours it, the rest not reached."""
    statuses = statuses or {}
    width, height = graph_layout.width + 2 * MARGIN, graph_layout.height + 2 * MARGIN
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="{-MARGIN} {-MARGIN} {width:.0f} {height:.0f}" font-family="sans-serif" font-size="13">',
        "<defs>",
        '<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#5f6b7a"/></marker>',
        '<marker id="arrow-catch" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#dd6b10"/></marker>',
        "</defs>",
    ]
    _render_nodes(graph_layout, statuses, parts)
    _render_edges(graph_layout, parts)
    parts.append("</svg>")
    return "\n".join(parts)


def render_definition(graph: object, statuses: dict[str, str] | None = None) -> str:
    """Lay out and draw an :class:`~localaws.console.asl_graph.Graph` in one call."""
    return render(layout(graph), statuses)  # type: ignore[arg-type]


def _render_nodes(placed: Placed, statuses: dict[str, str], parts: list[str]) -> None:
    for item in placed.nodes:
        if item.node.is_marker:
            parts.append(_marker(item))
        elif item.branches:
            parts.append(_group(item, statuses.get(item.node.id, NOT_REACHED)))
            for frame, branch in item.branches:
                parts.append(
                    f'<rect class="branch" x="{frame.x:.1f}" y="{frame.y:.1f}" width="{frame.w:.1f}" '
                    f'height="{frame.h:.1f}" rx="6" fill="#f8f9fa" stroke="#c6ccd3" stroke-dasharray="4 3"/>'
                )
                _render_nodes(branch, statuses, parts)
                _render_edges(branch, parts)
        else:
            parts.append(_state(item, statuses.get(item.node.id, NOT_REACHED)))


def _state(item: PlacedNode, status: str) -> str:
    box, name = item.box, escape(item.node.id)
    rx = 18 if item.node.kind in ("Succeed", "Fail") else 6  # end states are rounder, as in the console
    return (
        f'<g class="state st-{status}" data-state="{name}" data-kind="{escape(item.node.kind)}" tabindex="0">'
        f"<title>{name} ({escape(item.node.kind)})</title>"
        f'<rect class="shape" x="{box.x:.1f}" y="{box.y:.1f}" width="{box.w:.1f}" height="{box.h:.1f}" '
        f'rx="{rx}" stroke-width="2"/>'
        f'<text x="{box.cx:.1f}" y="{box.y + box.h / 2:.1f}" text-anchor="middle" '
        f'dominant-baseline="central" fill="#16191f">{name}</text></g>'
    )


def _group(item: PlacedNode, status: str) -> str:
    box, name = item.box, escape(item.node.id)
    return (
        f'<g class="state group st-{status}" data-state="{name}" data-kind="{escape(item.node.kind)}" '
        f'tabindex="0"><title>{name} ({escape(item.node.kind)})</title>'
        f'<rect class="shape" x="{box.x:.1f}" y="{box.y:.1f}" width="{box.w:.1f}" height="{box.h:.1f}" '
        f'rx="8" stroke-width="2"/>'
        f'<text x="{box.x + 12:.1f}" y="{box.y + HEADER_H / 2 + 4:.1f}" dominant-baseline="central" '
        f'font-weight="bold" fill="#16191f">{name}</text></g>'
    )


def _marker(item: PlacedNode) -> str:
    box = item.box
    return (
        f'<g class="marker" data-marker="{escape(item.node.kind)}">'
        f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.w:.1f}" height="{box.h:.1f}" '
        f'rx="{box.h / 2:.1f}" fill="#414d5c"/>'
        f'<text x="{box.cx:.1f}" y="{box.y + box.h / 2:.1f}" text-anchor="middle" '
        f'dominant-baseline="central" fill="#ffffff">{escape(item.node.label)}</text></g>'
    )


def _render_edges(placed: Placed, parts: list[str]) -> None:
    for placed_edge in placed.edges:
        points = placed_edge.points
        if len(points) < 2:
            continue
        edge = placed_edge.edge
        path = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points)
        catch = edge.kind == CATCH
        style = (
            'stroke="#dd6b10" stroke-dasharray="6 4" marker-end="url(#arrow-catch)"'
            if catch
            else 'stroke="#5f6b7a" marker-end="url(#arrow)"'
        )
        title = f"<title>{escape(edge.title)}</title>" if edge.title else ""
        parts.append(
            f'<g class="edge edge-{edge.kind}" data-source="{escape(edge.source)}" '
            f'data-target="{escape(edge.target)}">{title}'
            f'<path d="{path}" fill="none" stroke-width="1.6" {style}/>'
        )
        if edge.label and edge.kind in (CHOICE, DEFAULT):
            (x0, y0), (x1, y1) = points[0], points[1]
            parts.append(
                f'<text x="{(x0 + x1) / 2 + 4:.1f}" y="{(y0 + y1) / 2:.1f}" font-size="11" '
                f'fill="#5f6b7a">{escape(edge.label)}</text>'
            )
        if catch:
            (x0, y0), (x1, y1) = points[0], points[1]
            parts.append(
                f'<text x="{(x0 + x1) / 2 + 4:.1f}" y="{(y0 + y1) / 2:.1f}" font-size="11" '
                f'fill="#dd6b10">Catch</text>'
            )
        parts.append("</g>")
