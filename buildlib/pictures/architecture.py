"""The architecture diagram's content: nodes and arrows from the templates and resources/architecture.toml.

`build_diagram(templates, description)` makes the `Diagram` that `diagram_svg.render` draws; `undrawn(...)`
lists what a template holds that the description neither draws nor folds (the test and `pynt pictures`
refuse to draw an incomplete picture).
"""

from __future__ import annotations

import os
import textwrap
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from buildlib.errors import BuildError
from buildlib.pictures.templates import (
    Display,
    Resource,
    Template,
    all_resources,
    at_path,
    read_templates,
    references,
)

EDGE_STYLES = ("event", "call", "data")
LINE_CHARS = 36  # a box's text lines are wrapped to this many characters

# What a node of each type is called above its title, and which palette it takes (diagram_svg.PALETTE).
SERVICES: dict[str, tuple[str, str]] = {
    "AWS::Events::Rule": ("EventBridge rule", "integration"),
    "AWS::StepFunctions::StateMachine": ("Step Functions state machine", "integration"),
    "AWS::StepFunctions::Activity": ("Step Functions activity", "integration"),
    "AWS::SQS::Queue": ("Amazon SQS queue", "integration"),
    "AWS::Lambda::Function": ("Lambda function", "compute"),
    "AWS::DynamoDB::Table": ("DynamoDB table", "database"),
    "AWS::S3::Bucket": ("Amazon S3 bucket", "storage"),
    "AWS::Glue::Job": ("AWS Glue 5.0", "analytics"),
    "AWS::Glue::Database": ("AWS Glue", "analytics"),
}
# Nodes that stand for no resource (a person, a service used at run time), by their `kind`.
EXTERNAL_PALETTES = {"You": "person", "Amazon Athena": "analytics"}


class DescriptionError(BuildError):
    """resources/architecture.toml does not fit the templates (a node names a missing resource, ...)."""


@dataclass
class Node:
    id: str
    kind: str  # the small line above the title: the service
    title: str
    lines: list[str]  # read from the templates, then the description's notes
    palette: str
    resources: list[str] = field(default_factory=list)  # `<stack>/<logical id>`


@dataclass
class Edge:
    source: str
    target: str
    label: str
    style: str
    from_templates: bool
    both: bool = False  # an arrowhead at each end: a worker and its activity (task one way, answer back)


@dataclass
class Diagram:
    nodes: list[Node]
    edges: list[Edge]
    folded: dict[str, str]  # resource type -> what it is drawn as


def read_description(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text())


def undrawn(templates: Mapping[str, Template], description: Mapping[str, Any]) -> list[str]:
    """Every resource of the templates that no node draws and whose type is not folded, as
    `<stack>/<logical id> (<type>)`; empty when the picture shows the whole templates."""
    drawn = {key for node in description.get("node", []) for key in node.get("resources", [])}
    folded = set(description.get("folded", {}))
    return [
        f"{r.key} ({r.type})" for r in all_resources(templates) if r.key not in drawn and r.type not in folded
    ]


def _check(templates: Mapping[str, Template], description: Mapping[str, Any]) -> None:
    """Refuse a description that names what the templates do not hold, or draws a resource twice."""
    problems: list[str] = []
    known = {r.key: r for r in all_resources(templates)}
    types = {r.type for r in known.values()}
    owner: dict[str, str] = {}
    ids: set[str] = set()
    for node in description.get("node", []):
        if node["id"] in ids:
            problems.append(f"node {node['id']} is declared twice")
        ids.add(node["id"])
        for key in node.get("resources", []):
            if key not in known:
                problems.append(f"node {node['id']} names {key}, which no template declares")
            elif key in owner:
                problems.append(f"{key} is drawn by both {owner[key]} and {node['id']}")
            elif known[key].type in description.get("folded", {}):
                problems.append(f"node {node['id']} draws {key}, whose type is folded")
            owner[key] = node["id"]
        if not node.get("resources") and node.get("kind") not in EXTERNAL_PALETTES:
            problems.append(
                f"node {node['id']} draws no resource: give it a kind of {sorted(EXTERNAL_PALETTES)}"
            )
    for type_, fold in description.get("folded", {}).items():
        if type_ not in types:
            problems.append(f"folded type {type_} is in no template")
        if not fold.get("why"):
            problems.append(f"folded type {type_}: say `why` (where it is drawn)")
    folded_edges = [fold["edge"] for fold in description.get("folded", {}).values() if "edge" in fold]
    for entry in description.get("edge", []) + description.get("link", []) + folded_edges:
        if entry.get("style") not in EDGE_STYLES:
            problems.append(f"{entry}: style must be one of {EDGE_STYLES}")
    for edge in description.get("edge", []):
        for end in (edge["from"], edge["to"]):
            if end not in ids:
                problems.append(f"edge {edge['from']} -> {edge['to']} names no node {end}")
    missing = undrawn(templates, description)
    if missing:
        problems.append("not drawn and not folded: " + ", ".join(missing))
    if problems:
        raise DescriptionError("resources/architecture.toml: " + "; ".join(problems))


def _rule_line(display: Display, rule: Resource) -> str:
    """What starts a rule: its schedule, or the detail-type (and status) of the events it matches."""
    props = rule.properties
    if "ScheduleExpression" in props:
        line = display.text(props["ScheduleExpression"])
    else:
        pattern = props.get("EventPattern") or {}
        line = ", ".join(display.text(t) for t in pattern.get("detail-type", [])) or "event pattern"
        status = (pattern.get("detail") or {}).get("status")
        if status:
            line += " " + "/".join(display.text(s) for s in status)
    if rule.condition:
        line += f" (if {rule.condition})"
    return line


def _names(names: list[str]) -> list[str]:
    """Member names, one a line; a prefix they all share up to a `-` gets a line of its own."""
    prefix = os.path.commonprefix(names) if len(names) > 1 else ""
    prefix = prefix[: prefix.rfind("-") + 1]
    if len(prefix) < 4:
        return names
    return [prefix] + ["  " + name[len(prefix) :] for name in names]


def wrap(line: str, width: int = LINE_CHARS) -> list[str]:
    """A line longer than `width` characters broken at spaces (a long word stays whole)."""
    if len(line) <= width:
        return [line]  # as it is: textwrap would drop an indent
    return textwrap.wrap(line, width, break_long_words=False, break_on_hyphens=False)


def _resource_lines(displays: Mapping[str, Display], resources: list[Resource], titled: bool) -> list[str]:
    """Lines read from the templates: what starts each rule (counted), a titled node's member names."""
    rule_lines = [_rule_line(displays[r.stack], r) for r in resources if r.type == "AWS::Events::Rule"]
    lines = []
    for line in dict.fromkeys(rule_lines):  # first-seen order, each once
        count = rule_lines.count(line)
        lines.append(f"{line} ×{count}" if count > 1 else line)
    if titled:
        others = [r for r in resources if r.type != "AWS::Events::Rule"]
        lines += _names([displays[r.stack].name_of(r) for r in others])
    return lines


def _nodes(templates: Mapping[str, Template], description: Mapping[str, Any]) -> list[Node]:
    resources = {r.key: r for r in all_resources(templates)}
    displays = {stack: Display(t, description.get("placeholders")) for stack, t in templates.items()}
    nodes = []
    for spec in description.get("node", []):
        members = [resources[key] for key in spec.get("resources", [])]
        if members:
            kind, palette = SERVICES.get(members[0].type, (members[0].type.split("::")[1], "integration"))
            title = spec.get("title") or displays[members[0].stack].name_of(members[0])
        else:
            kind, palette, title = spec["kind"], EXTERNAL_PALETTES[spec["kind"]], spec["title"]
        kind = spec.get("kind", kind)
        lines = _resource_lines(displays, members, titled="title" in spec) + list(spec.get("notes", []))
        lines = [part for line in lines for part in wrap(line)]
        nodes.append(Node(spec["id"], kind, title, lines, palette, [r.key for r in members]))
    return nodes


def _resolve(template: Template, value: Any) -> list[str]:
    return [f"{template.stack}/{name}" for name in references(value) if name in template.resources]


def _template_edges(templates: Mapping[str, Template], description: Mapping[str, Any]) -> list[Edge]:
    """Arrows the templates show: each `link`'s references, and each folded type's `edge`."""
    node_of = {key: node["id"] for node in description.get("node", []) for key in node.get("resources", [])}
    edges: list[Edge] = []

    def add(sources: Iterable[str], targets: Iterable[str], spec: Mapping[str, Any]) -> None:
        for source in sources:
            for target in targets:
                a, b = node_of.get(source), node_of.get(target)
                if a and b and a != b:  # references to folded resources and within a node draw nothing
                    edges.append(Edge(a, b, spec.get("label", ""), spec["style"], from_templates=True))

    for resource in all_resources(templates):
        template = templates[resource.stack]
        for link in description.get("link", []):
            if resource.type == link["type"]:
                for value in at_path(resource.properties, link["path"]):
                    found = _resolve(template, value)
                    if link.get("reverse"):  # drawn the way data flows: from what is named to the namer
                        add(found, [resource.key], link)
                    else:
                        add([resource.key], found, link)
        fold = description.get("folded", {}).get(resource.type, {})
        if "edge" in fold:
            spec = fold["edge"]
            sources = [k for v in at_path(resource.properties, spec["from"]) for k in _resolve(template, v)]
            targets = [k for v in at_path(resource.properties, spec["to"]) for k in _resolve(template, v)]
            add(sources, targets, spec)
    return edges


def build_diagram(templates: Mapping[str, Template], description: Mapping[str, Any]) -> Diagram:
    """The nodes and arrows to draw; DescriptionError when the description does not fit the templates."""
    _check(templates, description)
    nodes = _nodes(templates, description)
    merged: dict[tuple[str, str], Edge] = {}
    for edge in _template_edges(templates, description):
        merged.setdefault((edge.source, edge.target), edge)
    for spec in description.get("edge", []):
        key, both = (spec["from"], spec["to"]), bool(spec.get("both"))
        # Over an arrow the templates show (either way for a two-way one), a hand-kept arrow names it.
        known = merged.pop(key, None) or (merged.pop(key[::-1], None) if both else None)
        from_templates = known is not None and known.from_templates
        merged[key] = Edge(*key, spec.get("label", ""), spec["style"], from_templates, both)
    folded = {type_: fold["why"] for type_, fold in description.get("folded", {}).items()}
    return Diagram(nodes, list(merged.values()), folded)


def load_diagram(root: Path) -> Diagram:
    """The diagram of the repository at `root` (its cloudformation/ and resources/architecture.toml)."""
    return build_diagram(
        read_templates(root / "cloudformation"), read_description(root / "resources" / "architecture.toml")
    )
