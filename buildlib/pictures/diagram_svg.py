"""The architecture diagram as SVG: grandalf's layered (Sugiyama) layout, left to right, drawn by hand.

grandalf lays layers out top to bottom; the diagram reads left to right (triggers, then the workers and state
machines, then what they call), so each box enters the layout turned a quarter (its height as the layout's
width) and the positions are transposed back. Arrows leave a box on its right side and enter the next on its
left, through the layout's dummy points, as curves that stay horizontal at every point.
"""

from __future__ import annotations

from dataclasses import dataclass

from grandalf.graphs import Edge as GEdge
from grandalf.graphs import Graph as GGraph
from grandalf.graphs import Vertex
from grandalf.layouts import SugiyamaLayout

from buildlib.pictures.architecture import Diagram, Edge, Node
from buildlib.pictures.svgkit import document, esc, num, text_width

# Sizes in px.
KIND_SIZE, TITLE_SIZE, LINE_SIZE, LABEL_SIZE = 10.5, 13.0, 11.0, 10.0
PAD_X, PAD_Y = 10.0, 8.0
KIND_H, TITLE_H, LINE_H = 13.0, 17.0, 14.0
MIN_W = 150.0
NODE_GAP = 16.0  # between two boxes of a column
COLUMN_GAP = 88.0  # between columns: room for the arrows' labels
MARGIN = 20.0
HEADER_H = 44.0
PORT_GAP = 9.0
DUMMY_SIZE = 12.0  # between two arrows' ends on one side of a box

# palette -> (fill, stroke): the AWS Architecture Icons' category colours, lightened for the fill.
PALETTE = {
    "integration": ("#fde8f2", "#e7157b"),
    "compute": ("#fdeedd", "#ed7100"),
    "database": ("#e8e9fb", "#3334b9"),
    "storage": ("#ecf4df", "#5f8c19"),
    "analytics": ("#f1eaff", "#8c4fff"),
    "person": ("#f2f3f3", "#545b64"),
}
# style -> (colour, dash, what the legend says)
EDGE_LOOK = {
    "event": ("#e7157b", "", "an event or notification invokes"),
    "call": ("#232f3e", "", "API calls at run time"),
    "data": ("#687078", "5 4", "reads or writes data"),
}


@dataclass
class Box:
    x: float
    y: float
    w: float
    h: float


def node_size(node: Node) -> tuple[float, float]:
    widths = [text_width(node.kind, KIND_SIZE), text_width(node.title, TITLE_SIZE, bold=True)]
    widths += [text_width(line, LINE_SIZE) for line in node.lines]
    width = max(MIN_W, max(widths) + 2 * PAD_X)
    return round(width), round(2 * PAD_Y + KIND_H + TITLE_H + LINE_H * len(node.lines))


class _View:
    """What grandalf reads (w, h) and writes (xy, the centre) for a vertex."""

    def __init__(self, w: float, h: float) -> None:
        self.w, self.h = w, h
        self.xy = (0.0, 0.0)


class _EdgeView:
    def setpath(self, points: list[tuple[float, float]]) -> None:
        self.points = points


def layout(diagram: Diagram) -> tuple[dict[str, Box], dict[tuple[str, str], list[tuple[float, float]]]]:
    """Each node's box and each arrow's points (from the source's side to the target's), left to right."""
    sizes = {node.id: node_size(node) for node in diagram.nodes}
    vertices = {node.id: Vertex(node.id) for node in diagram.nodes}
    for node_id, vertex in vertices.items():
        w, h = sizes[node_id]
        vertex.view = _View(h, w)  # turned: the layout's layers are the diagram's columns
    g_edges = []
    for edge in diagram.edges:
        g_edge = GEdge(vertices[edge.source], vertices[edge.target], data=edge)
        g_edge.view = _EdgeView()
        g_edges.append(g_edge)
    graph = GGraph(list(vertices.values()), g_edges)
    boxes: dict[str, Box] = {}
    routes: dict[tuple[str, str], list[tuple[float, float]]] = {}
    offset_y = 0.0
    for component in graph.C:
        sugiyama = SugiyamaLayout(component)
        sugiyama.xspace, sugiyama.yspace = NODE_GAP, COLUMN_GAP
        # The points a long arrow passes (dummy vertices) take little room: by default they are as large as
        # the median box, which widened every column they cross.
        sugiyama.dw, sugiyama.dh = DUMMY_SIZE, DUMMY_SIZE
        sugiyama.init_all(roots=[v for v in component.sV if not v.e_in()] or None, optimize=True)
        sugiyama.draw(6)
        top = min(v.view.xy[0] - v.view.w / 2 for v in component.sV)
        left = min(v.view.xy[1] - v.view.h / 2 for v in component.sV)
        bottom = offset_y
        for vertex in component.sV:
            w, h = sizes[vertex.data]
            cx, cy = vertex.view.xy[1] - left, vertex.view.xy[0] - top + offset_y
            boxes[vertex.data] = Box(cx - w / 2, cy - h / 2, w, h)
            bottom = max(bottom, cy + h / 2)
        for g_edge in component.sE:
            points = [(y - left, x - top + offset_y) for x, y in getattr(g_edge.view, "points", [])]
            routes[(g_edge.data.source, g_edge.data.target)] = points[1:-1]  # the dummies only
        offset_y = bottom + COLUMN_GAP
    return boxes, routes


def _sides(source: Box, target: Box) -> tuple[str, str]:
    """An arrow leaves the source on the side facing the target and enters the target facing the source."""
    return ("right", "left") if target.x >= source.x + source.w else ("left", "right")


def _ports(
    diagram: Diagram, boxes: dict[str, Box], routes: dict[tuple[str, str], list[tuple[float, float]]]
) -> dict[tuple[str, str], tuple[tuple[float, float], tuple[float, float]]]:
    """Each arrow's start and end point. Arrows sharing a side of a box are spread along it in the order of
    where they come from or go to, so that they neither cross at the box nor end on one point."""
    at_side: dict[tuple[str, str], list[tuple[float, tuple[str, str], int]]] = {}
    for edge in diagram.edges:
        key = (edge.source, edge.target)
        source, target = boxes[edge.source], boxes[edge.target]
        out_side, in_side = _sides(source, target)
        route = routes.get(key, [])
        toward = route[0][1] if route else target.y + target.h / 2
        back = route[-1][1] if route else source.y + source.h / 2
        at_side.setdefault((edge.source, out_side), []).append((toward, key, 0))
        at_side.setdefault((edge.target, in_side), []).append((back, key, 1))
    ends: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for (node_id, side), arrows in at_side.items():
        box = boxes[node_id]
        x = box.x + box.w if side == "right" else box.x
        arrows.sort(key=lambda a: (a[0], a[1]))
        spread = min(box.h * 0.6, PORT_GAP * (len(arrows) - 1))
        for i, (_, key, which) in enumerate(arrows):
            offset = spread * (i / (len(arrows) - 1) - 0.5) if len(arrows) > 1 else 0.0
            ends.setdefault(key, [(0.0, 0.0), (0.0, 0.0)])[which] = (x, box.y + box.h / 2 + offset)
    return {key: (pair[0], pair[1]) for key, pair in ends.items()}


def _curve(points: list[tuple[float, float]]) -> str:
    """A path through the points whose every piece leaves and arrives horizontally."""
    parts = [f"M{num(points[0][0])},{num(points[0][1])}"]
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        dx = (x1 - x0) / 2
        parts.append(f"C{num(x0 + dx)},{num(y0)} {num(x1 - dx)},{num(y1)} {num(x1)},{num(y1)}")
    return " ".join(parts)


def _label_at(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Where an arrow's label goes: above the middle of its last piece (the curve's middle is the chord's)."""
    (x0, y0), (x1, y1) = points[-2], points[-1]
    return (x0 + x1) / 2, (y0 + y1) / 2 - 4


def _node_svg(node: Node, box: Box) -> list[str]:
    fill, stroke = PALETTE[node.palette]
    x = box.x + PAD_X
    out = [
        f'<g class="node" data-node="{esc(node.id)}">',
        f'<rect x="{num(box.x)}" y="{num(box.y)}" width="{num(box.w)}" height="{num(box.h)}" rx="6" '
        f'fill="{fill}" stroke="{stroke}" stroke-width="1.4"/>',
        f'<text x="{num(x)}" y="{num(box.y + PAD_Y + KIND_H - 3)}" class="kind" '
        f'style="fill:{stroke}">{esc(node.kind)}</text>',
        f'<text x="{num(x)}" y="{num(box.y + PAD_Y + KIND_H + TITLE_H - 4)}" class="title">'
        f"{esc(node.title)}</text>",
    ]
    for i, line in enumerate(node.lines):
        y = box.y + PAD_Y + KIND_H + TITLE_H + LINE_H * (i + 1) - 3
        text = line.lstrip(" ")
        indent = text_width(" " * (len(line) - len(text)), LINE_SIZE)  # SVG collapses leading spaces
        out.append(f'<text x="{num(x + indent)}" y="{num(y)}" class="line">{esc(text)}</text>')
    out.append("</g>")
    return out


def _edge_svg(edge: Edge, points: list[tuple[float, float]]) -> list[str]:
    colour, dash, _ = EDGE_LOOK[edge.style]
    dashes = f' stroke-dasharray="{dash}"' if dash else ""
    start = f' marker-start="url(#arrow-{edge.style})"' if edge.both else ""
    out = [
        f'<path class="edge {edge.style}" data-edge="{esc(edge.source)}&gt;{esc(edge.target)}" '
        f'd="{_curve(points)}" fill="none" stroke="{colour}" stroke-width="1.3"{dashes} '
        f'marker-end="url(#arrow-{edge.style})"{start}/>'
    ]
    if edge.label:
        x, y = _label_at(points)
        lines = edge.label.split("\n")
        for i, line in enumerate(lines):  # stacked upward from just above the curve
            line_y = y - (len(lines) - 1 - i) * (LABEL_SIZE + 1)
            out.append(
                f'<text x="{num(x)}" y="{num(line_y)}" class="label" text-anchor="middle">{esc(line)}</text>'
            )
    return out


def _legend(diagram: Diagram, y: float, width: float) -> tuple[list[str], float]:
    out: list[str] = []
    x = MARGIN
    for style, (colour, dash, meaning) in EDGE_LOOK.items():
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<path d="M{num(x)},{num(y)} H{num(x + 34)}" stroke="{colour}" stroke-width="1.3"{dashes} '
            f'marker-end="url(#arrow-{style})"/>'
        )
        out.append(f'<text x="{num(x + 42)}" y="{num(y + 4)}" class="line">{esc(meaning)}</text>')
        x += 42 + text_width(meaning, LINE_SIZE) + 28
    y += 20
    for type_, why in diagram.folded.items():
        out.append(
            f'<text x="{num(MARGIN)}" y="{num(y + 4)}" class="line">{esc(type_)}: drawn as {esc(why)}</text>'
        )
        y += LINE_H
    return out, y


def _markers() -> str:
    markers = "".join(
        f'<marker id="arrow-{style}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
        for style, (colour, _, _) in EDGE_LOOK.items()
    )
    return f"<defs>{markers}</defs>"


def render(diagram: Diagram, title: str, subtitle: str) -> str:
    """The diagram as a standalone SVG document."""
    boxes, routes = layout(diagram)
    width = max(b.x + b.w for b in boxes.values()) + 2 * MARGIN
    height = max(b.y + b.h for b in boxes.values())
    dx, dy = MARGIN, MARGIN + HEADER_H
    shifted = {k: Box(b.x + dx, b.y + dy, b.w, b.h) for k, b in boxes.items()}
    body = [
        _markers(),
        f'<text x="{num(MARGIN)}" y="{num(MARGIN + 14)}" class="heading">{esc(title)}</text>',
        f'<text x="{num(MARGIN)}" y="{num(MARGIN + 32)}" class="line">{esc(subtitle)}</text>',
    ]
    shifted_routes = {key: [(x + dx, y + dy) for x, y in points] for key, points in routes.items()}
    ports = _ports(diagram, shifted, shifted_routes)
    for edge in diagram.edges:
        key = (edge.source, edge.target)
        start, end = ports[key]
        body += _edge_svg(edge, [start, *shifted_routes.get(key, []), end])
    for node in diagram.nodes:
        body += _node_svg(node, shifted[node.id])
    legend, bottom = _legend(diagram, dy + height + 28, width)
    body += legend
    style = (
        f".kind{{font-size:{KIND_SIZE}px}}.title{{font-size:{TITLE_SIZE}px;font-weight:600}}"
        f".line{{font-size:{LINE_SIZE}px;fill:#414d5c}}.heading{{font-size:16px;font-weight:600}}"
        f".label{{font-size:{LABEL_SIZE}px;fill:#414d5c;paint-order:stroke;stroke:#ffffff;stroke-width:3px}}"
    )
    return document(width, bottom + MARGIN, body, title, style)
