"""ASL → graph: states, transitions, Catch edges and Parallel branches of the deployed definitions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from console_fixtures import recorded

from localaws.console.asl_graph import (
    CATCH,
    CHOICE,
    DEFAULT,
    END,
    NEXT,
    START,
    DefinitionError,
    parents,
    parse_definition,
)

ROOT = Path(__file__).resolve().parents[2]
MAIN = "MarketingAndSalesETLOrchestrator"
PARALLEL = "Process Sales And Marketing Data"


def _edges(graph):
    return {(e.source, e.target, e.kind) for e in graph.edges}


def test_main_definition_top_level_states_and_edges() -> None:
    graph = parse_definition(recorded("main-success")["definition"])
    assert list(graph.nodes) == [
        START,
        "Pre-process",
        PARALLEL,
        "Prep For Joining Marketing And Sales Data",
        "Join Marketing And Sales Data",
        "ETL Job Failed Fallback",
        "ETL Job Failed",
        END,
    ]
    assert _edges(graph) == {
        (START, "Pre-process", NEXT),
        ("Pre-process", PARALLEL, NEXT),
        (PARALLEL, "Prep For Joining Marketing And Sales Data", NEXT),
        (PARALLEL, "ETL Job Failed Fallback", CATCH),
        ("Prep For Joining Marketing And Sales Data", "Join Marketing And Sales Data", NEXT),
        ("Join Marketing And Sales Data", END, NEXT),
        ("Join Marketing And Sales Data", "ETL Job Failed Fallback", CATCH),
        ("ETL Job Failed Fallback", "ETL Job Failed", NEXT),
        ("ETL Job Failed", END, NEXT),
    }


def test_catch_edges_name_the_errors_they_catch() -> None:
    graph = parse_definition(recorded("main-success")["definition"])
    catch = next(e for e in graph.edges if e.kind == CATCH and e.source == PARALLEL)
    assert "GlueJobFailedError" in catch.title and "States.Timeout" in catch.title


def test_parallel_branches_are_nested_graphs_without_markers() -> None:
    graph = parse_definition(recorded("main-success")["definition"])
    branches = graph.nodes[PARALLEL].branches
    assert [list(b.nodes) for b in branches] == [
        ["Wait For Sales Data", "Prep For Process Sales Data", "Process Sales Data"],
        ["Wait For Marketing Data", "Prep For Process Marketing Data", "Process Marketing Data"],
    ]
    assert _edges(branches[0]) == {
        ("Wait For Sales Data", "Prep For Process Sales Data", NEXT),
        ("Prep For Process Sales Data", "Process Sales Data", NEXT),
    }
    nesting = parents(graph)
    assert nesting["Process Sales Data"] == PARALLEL and nesting["Pre-process"] is None


def test_the_template_definitions_parse() -> None:
    """Both state machines of the template (with their ${…} substitutions still in) make graphs."""

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)  # !Ref, !Sub, !GetAtt
    template = yaml.load((ROOT / "cloudformation/step-functions-resources.yaml").read_text(), Loader=Loader)
    for name in (MAIN, "AthenaRunnerTestETLOrchestrator"):
        definition = template["Resources"][name]["Properties"]["Definition"]
        graph = parse_definition(json.dumps(definition))
        assert graph.nodes[START].kind == "Start" and graph.nodes[END].kind == "End"


def test_choice_rules_default_and_two_catches_to_one_handler() -> None:
    definition = {
        "StartAt": "Pick",
        "States": {
            "Pick": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.x", "NumericEquals": 1, "Next": "Work"}],
                "Default": "Done",
            },
            "Work": {
                "Type": "Task",
                "Resource": "arn:aws:states:::activity:x",
                "Catch": [
                    {"ErrorEquals": ["A"], "Next": "Done"},
                    {"ErrorEquals": ["States.ALL"], "Next": "Done"},
                ],
                "Next": "Pick",
            },
            "Done": {"Type": "Succeed"},
        },
    }
    graph = parse_definition(definition)
    assert ("Pick", "Work", CHOICE) in _edges(graph)
    assert ("Pick", "Done", DEFAULT) in _edges(graph)
    catches = [e for e in graph.edges if e.kind == CATCH]
    assert len(catches) == 1 and "A" in catches[0].title and "States.ALL" in catches[0].title
    assert ("Done", END, NEXT) in _edges(graph)


def test_map_item_processor_is_a_branch() -> None:
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemProcessor": {"StartAt": "One", "States": {"One": {"Type": "Pass", "End": True}}},
                "End": True,
            }
        },
    }
    graph = parse_definition(definition)
    assert [list(b.nodes) for b in graph.nodes["Each"].branches] == [["One"]]


@pytest.mark.parametrize(
    "definition",
    [
        "not json",
        "[]",
        {"StartAt": "Nowhere", "States": {"A": {"Type": "Pass", "End": True}}},
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Missing"}}},
    ],
)
def test_unusable_definitions_raise_definition_error(definition) -> None:
    with pytest.raises(DefinitionError):
        parse_definition(definition)
