"""Positions for a state machine graph, from grandalf's Sugiyama (layered, top to bottom) layout.

Nested graphs are laid out inside out: each branch of a Parallel (or a Map's item processor) is laid out on
its own first, and the state then enters its parent's layout as one node as large as its branches side by
side. So a branch's states always stay inside their state's box, which grandalf (no clusters) could not
promise for one flat layout.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from grandalf.graphs import Edge as GEdge
from grandalf.graphs import Graph as GGraph
from grandalf.graphs import Vertex
from grandalf.layouts import SugiyamaLayout
from grandalf.routing import EdgeViewer, route_with_lines

from localaws.console.asl_graph import Edge, Graph, Node

# Sizes in SVG user units (px at 100 %).
CHAR_W = 7.2  # average width of a character of the 13 px sans-serif font the SVG uses
STATE_H = 36
STATE_MIN_W = 110
STATE_PAD_X = 16
MARKER_W, MARKER_H = 64, 28  # the Start and End pills
HEADER_H = 30  # a Parallel's name above its branches
BRANCH_GAP = 24
GROUP_PAD = 14
X_SPACE = 36  # between two nodes of a layer
Y_SPACE = 36  # between layers (room for edge labels)
COMPONENT_GAP = 40


@dataclass
class Box:
    x: float  # top-left corner
    y: float
    w: float
    h: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    def moved(self, dx: float, dy: float) -> Box:
        return Box(self.x + dx, self.y + dy, self.w, self.h)


@dataclass
class PlacedEdge:
    edge: Edge
    points: list[tuple[float, float]]  # from the source's border to the target's border


@dataclass
class PlacedNode:
    node: Node
    box: Box
    branches: list[tuple[Box, Placed]] = field(default_factory=list)  # each branch's frame and its layout


@dataclass
class Placed:
    width: float
    height: float
    nodes: list[PlacedNode] = field(default_factory=list)
    edges: list[PlacedEdge] = field(default_factory=list)

    def moved(self, dx: float, dy: float) -> Placed:
        return Placed(
            self.width,
            self.height,
            [
                PlacedNode(
                    p.node, p.box.moved(dx, dy), [(b.moved(dx, dy), g.moved(dx, dy)) for b, g in p.branches]
                )
                for p in self.nodes
            ],
            [PlacedEdge(e.edge, [(x + dx, y + dy) for x, y in e.points]) for e in self.edges],
        )

    def all_nodes(self) -> list[PlacedNode]:
        found: list[PlacedNode] = []
        for placed in self.nodes:
            found.append(placed)
            for _, branch in placed.branches:
                found += branch.all_nodes()
        return found


class _View:
    """What grandalf reads (w, h) and writes (xy: the centre) for a vertex."""

    def __init__(self, w: float, h: float) -> None:
        self.w, self.h = w, h
        self.xy = (0.0, 0.0)


def state_width(label: str) -> float:
    return max(STATE_MIN_W, len(label) * CHAR_W + 2 * STATE_PAD_X)


def layout(graph: Graph) -> Placed:
    """Lay out a graph and its nested branches; coordinates start at (0, 0)."""
    sized: dict[str, tuple[float, float, list[Placed]]] = {}
    for node in graph.nodes.values():
        if node.branches:
            inner = [layout(branch) for branch in node.branches]
            w = sum(p.width + 2 * GROUP_PAD for p in inner) + BRANCH_GAP * (len(inner) - 1) + 2 * GROUP_PAD
            w = max(w, state_width(node.label) + 2 * GROUP_PAD)
            h = max(p.height for p in inner) + 2 * GROUP_PAD + HEADER_H + GROUP_PAD
            sized[node.id] = (w, h, inner)
        elif node.is_marker:
            sized[node.id] = (MARKER_W, MARKER_H, [])
        else:
            sized[node.id] = (state_width(node.label), STATE_H, [])

    vertices = {node_id: Vertex(node_id) for node_id in graph.nodes}
    for node_id, vertex in vertices.items():
        vertex.view = _View(*sized[node_id][:2])
    g_edges = []
    for edge in graph.edges:
        g_edge = GEdge(vertices[edge.source], vertices[edge.target], data=edge)
        g_edge.view = EdgeViewer()
        g_edges.append(g_edge)
    g = GGraph(list(vertices.values()), g_edges)

    placed = Placed(0, 0)
    offset_x = 0.0
    for component in g.C:  # states nothing leads to form their own components: side by side
        sugiyama = SugiyamaLayout(component)
        sugiyama.xspace, sugiyama.yspace = X_SPACE, Y_SPACE
        roots = [v for v in component.sV if not v.e_in()] or None
        sugiyama.init_all(roots=roots)
        sugiyama.route_edge = _route
        sugiyama.draw(3)
        left = min(v.view.xy[0] - v.view.w / 2 for v in component.sV)
        top = min(v.view.xy[1] - v.view.h / 2 for v in component.sV)
        right = max(v.view.xy[0] + v.view.w / 2 for v in component.sV)
        bottom = max(v.view.xy[1] + v.view.h / 2 for v in component.sV)
        dx, dy = offset_x - left, -top
        for vertex in component.sV:
            node = graph.nodes[vertex.data]
            w, h, inner = sized[node.id]
            box = Box(vertex.view.xy[0] - w / 2 + dx, vertex.view.xy[1] - h / 2 + dy, w, h)
            placed.nodes.append(PlacedNode(node, box, _frames(box, inner)))
        for g_edge in component.sE:
            points = [(x + dx, y + dy) for x, y in getattr(g_edge.view, "_pts", [])]
            placed.edges.append(PlacedEdge(g_edge.data, points))
        offset_x += right - left + COMPONENT_GAP
        placed.height = max(placed.height, bottom - top)
    placed.width = offset_x - COMPONENT_GAP
    order = list(graph.nodes)  # keep the definition's order: SVG and tests read them in that order
    placed.nodes.sort(key=lambda p: order.index(p.node.id))
    return placed


def _frames(box: Box, inner: list[Placed]) -> list[tuple[Box, Placed]]:
    """Each branch's frame inside its state's box, and its layout moved into the frame (centred)."""
    frames = []
    x = box.x + GROUP_PAD
    frame_h = box.h - HEADER_H - 2 * GROUP_PAD
    used = sum(p.width + 2 * GROUP_PAD for p in inner) + BRANCH_GAP * (len(inner) - 1)
    x += (box.w - 2 * GROUP_PAD - used) / 2
    for branch in inner:
        frame = Box(x, box.y + HEADER_H + GROUP_PAD, branch.width + 2 * GROUP_PAD, frame_h)
        frames.append((frame, branch.moved(frame.x + GROUP_PAD, frame.y + GROUP_PAD)))
        x += frame.w + BRANCH_GAP
    return frames


def _route(edge: GEdge, points: list[tuple[float, float]]) -> None:
    """grandalf's straight-line routing: the ends move from the boxes' centres to their borders."""
    with contextlib.suppress(ValueError, ZeroDivisionError):  # overlapping boxes (never seen): keep centres
        route_with_lines(edge, points)
