"""A state machine's ASL definition as a graph: states as nodes, transitions as edges, and the branches of a
Parallel (or the item processor of a Map) as sub-graphs nested in their state's node.

The top-level graph gets a Start node (to ``StartAt``) and an End node (from every state that ends the
execution: ``End: true``, ``Succeed``, ``Fail``), as the Step Functions console draws them; a branch has
neither, its states simply begin at ``StartAt`` and stop where they end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

START = "__start__"
END = "__end__"

NEXT = "next"
CATCH = "catch"
CHOICE = "choice"
DEFAULT = "default"


@dataclass
class Edge:
    source: str
    target: str
    kind: str  # NEXT, CATCH, CHOICE or DEFAULT
    label: str = ""  # short text drawn on the edge (a Choice rule's number, "Default")
    title: str = ""  # longer text shown on hover (a Catch's error names)


@dataclass
class Node:
    id: str  # the state's name (unique in the whole state machine, as ASL requires), or START / END
    kind: str  # the ASL Type ("Task", "Parallel", ...), or "Start" / "End"
    branches: list[Graph] = field(default_factory=list)  # Parallel branches; a Map's item processor
    definition: dict[str, Any] = field(default_factory=dict)  # the state's own ASL

    @property
    def label(self) -> str:
        return {"Start": "Start", "End": "End"}.get(self.kind, self.id)

    @property
    def is_marker(self) -> bool:
        return self.kind in ("Start", "End")


@dataclass
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)  # in definition order
    edges: list[Edge] = field(default_factory=list)

    def walk(self, parent: str | None = None) -> list[tuple[Node, str | None]]:
        """Every node of this graph and of its nested branches, with the id of the state it is nested in."""
        found: list[tuple[Node, str | None]] = []
        for node in self.nodes.values():
            found.append((node, parent))
            for branch in node.branches:
                found += branch.walk(node.id)
        return found


class DefinitionError(ValueError):
    """The definition is not an ASL state machine this module can draw."""


def parse_definition(definition: str | dict[str, Any]) -> Graph:
    """The graph of a state machine definition (the JSON string DescribeStateMachine returns, or its dict)."""
    import json

    if isinstance(definition, str):
        try:
            definition = json.loads(definition)
        except ValueError as exc:
            raise DefinitionError(f"the definition is not JSON: {exc}") from exc
    if not isinstance(definition, dict):
        raise DefinitionError("the definition is not a JSON object")
    graph = _states_graph(definition, "the state machine")
    graph.nodes = {START: Node(START, "Start"), **graph.nodes, END: Node(END, "End")}
    graph.edges.insert(0, Edge(START, definition["StartAt"], NEXT))
    for node in list(graph.nodes.values()):
        if not node.is_marker and _ends_execution(node.definition):
            graph.edges.append(Edge(node.id, END, NEXT))
    return graph


def _ends_execution(state: dict[str, Any]) -> bool:
    return state.get("End") is True or state.get("Type") in ("Succeed", "Fail")


def _states_graph(block: dict[str, Any], where: str) -> Graph:
    """The graph of one ``{"StartAt", "States"}`` block (the machine, a branch, a Map's item processor)."""
    states = block.get("States")
    if not isinstance(states, dict) or not states or block.get("StartAt") not in states:
        raise DefinitionError(f"{where} has no States or its StartAt names no state")
    graph = Graph()
    for name, state in states.items():
        if not isinstance(state, dict):
            raise DefinitionError(f"state {name!r} is not a JSON object")
        graph.nodes[name] = Node(name, str(state.get("Type", "?")), _branches(name, state), state)
    for name, state in states.items():
        for edge in _transitions(name, state):
            if edge.target not in states:
                raise DefinitionError(f"state {name!r} goes to {edge.target!r}, which {where} does not have")
            _add_edge(graph, edge)
    return graph


def _branches(name: str, state: dict[str, Any]) -> list[Graph]:
    if state.get("Type") == "Parallel":
        return [
            _states_graph(b, f"branch {i + 1} of {name!r}") for i, b in enumerate(state.get("Branches", []))
        ]
    if state.get("Type") == "Map":
        processor = state.get("ItemProcessor") or state.get("Iterator")  # Iterator: the older name
        if isinstance(processor, dict):
            return [_states_graph(processor, f"the item processor of {name!r}")]
    return []


def _transitions(name: str, state: dict[str, Any]) -> list[Edge]:
    edges: list[Edge] = []
    if "Next" in state:
        edges.append(Edge(name, state["Next"], NEXT))
    for number, rule in enumerate(state.get("Choices", []), start=1):
        if isinstance(rule, dict) and "Next" in rule:
            edges.append(Edge(name, rule["Next"], CHOICE, label=f"rule {number}"))
    if "Default" in state:
        edges.append(Edge(name, state["Default"], DEFAULT, label="Default"))
    for catcher in state.get("Catch", []):
        if isinstance(catcher, dict) and "Next" in catcher:
            errors = ", ".join(str(e) for e in catcher.get("ErrorEquals", []))
            edges.append(Edge(name, catcher["Next"], CATCH, title=f"Catch: {errors}"))
    return edges


def _add_edge(graph: Graph, edge: Edge) -> None:
    """Add an edge, merging it into an earlier one of the same kind between the same states (two Catch
    entries to the same handler are one arrow, with both lists of errors)."""
    for existing in graph.edges:
        if (existing.source, existing.target, existing.kind) == (edge.source, edge.target, edge.kind):
            existing.title = "\n".join(t for t in (existing.title, edge.title) if t)
            existing.label = ", ".join(t for t in (existing.label, edge.label) if t)
            return
    graph.edges.append(edge)


def catch_targets(graph: Graph) -> dict[str, set[str]]:
    """State name → the states its Catch entries lead to."""
    targets: dict[str, set[str]] = {}
    stack = [graph]
    while stack:
        current = stack.pop()
        for edge in current.edges:
            if edge.kind == CATCH:
                targets.setdefault(edge.source, set()).add(edge.target)
        for node in current.nodes.values():
            stack += node.branches
    return targets


def parents(graph: Graph) -> dict[str, str | None]:
    """State name → the Parallel or Map state it is nested in (None at the top level)."""
    return {node.id: parent for node, parent in graph.walk() if not node.is_marker}
