"""Layout → SVG: branches inside their Parallel state, nothing overlapping, states coloured by status."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from console_fixtures import recorded

from localaws.console.asl_graph import parse_definition
from localaws.console.layout import Box, layout
from localaws.console.status import FAILED, NOT_REACHED, SUCCEEDED
from localaws.console.svg import STATUS_STYLES, legend_html, render, status_css

PARALLEL = "Process Sales And Marketing Data"
SVG = "{http://www.w3.org/2000/svg}"


def _inside(inner: Box, outer: Box) -> bool:
    return (
        outer.x <= inner.x
        and outer.y <= inner.y
        and inner.x + inner.w <= outer.x + outer.w
        and inner.y + inner.h <= outer.y + outer.h
    )


def _overlap(a: Box, b: Box) -> bool:
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h


def test_branch_states_lie_inside_their_branch_frame_inside_the_parallel() -> None:
    placed = layout(parse_definition(recorded("main-success")["definition"]))
    parallel = next(p for p in placed.nodes if p.node.id == PARALLEL)
    assert len(parallel.branches) == 2
    frames = [frame for frame, _ in parallel.branches]
    assert not _overlap(*frames)
    for frame, branch in parallel.branches:
        assert _inside(frame, parallel.box)
        for state in branch.nodes:
            assert _inside(state.box, frame), state.node.id


def test_no_two_top_level_boxes_overlap_and_the_flow_goes_down() -> None:
    placed = layout(parse_definition(recorded("main-success")["definition"]))
    boxes = {p.node.id: p.box for p in placed.nodes}
    names = list(boxes)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not _overlap(boxes[a], boxes[b]), (a, b)
    order = ["__start__", "Pre-process", PARALLEL, "Prep For Joining Marketing And Sales Data"]
    assert [boxes[n].y for n in order] == sorted(boxes[n].y for n in order)
    assert all(box.x >= 0 and box.x + box.w <= placed.width + 0.01 for box in boxes.values())


def test_every_edge_has_a_path_from_its_source_towards_its_target() -> None:
    placed = layout(parse_definition(recorded("main-success")["definition"]))
    for placed_edge in placed.edges:
        assert len(placed_edge.points) >= 2, placed_edge.edge


def test_svg_is_well_formed_with_one_group_per_state_coloured_by_status() -> None:
    definition = recorded("main-failure")["definition"]
    svg = render(
        layout(parse_definition(definition)), {"Process Sales Data": FAILED, "Pre-process": SUCCEEDED}
    )
    root = ET.fromstring(svg)
    groups = {g.get("data-state"): g.get("class") for g in root.iter(f"{SVG}g") if g.get("data-state")}
    assert len(groups) == 12  # 6 top-level states + 6 in the branches
    assert groups["Process Sales Data"] == "state st-failed"
    assert groups["Pre-process"] == "state st-succeeded"
    assert groups[PARALLEL] == f"state group st-{NOT_REACHED}"
    catch_edges = [g for g in root.iter(f"{SVG}g") if g.get("class") == "edge edge-catch"]
    assert {g.get("data-source") for g in catch_edges} == {PARALLEL, "Join Marketing And Sales Data"}


def test_state_names_are_escaped() -> None:
    definition = {"StartAt": "<b>&", "States": {"<b>&": {"Type": "Pass", "End": True}}}
    svg = render(layout(parse_definition(definition)))
    ET.fromstring(svg)
    assert "<b>&" not in svg and "&lt;b&gt;&amp;" in svg


def test_css_and_legend_cover_every_status() -> None:
    css, legend = status_css(), legend_html()
    for status in STATUS_STYLES:
        assert f".st-{status} > rect.shape" in css
        assert f"swatch st-{status}" in legend
    assert re.search(r"waiting for a worker", legend)
