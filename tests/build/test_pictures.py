"""resources/architecture.svg: drawn from the templates, showing every resource, committed as rendered."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest

from buildlib.pictures.architecture import (
    DescriptionError,
    build_diagram,
    read_description,
    undrawn,
)
from buildlib.pictures.render import ARCHITECTURE_SVG, architecture_svg, write_pictures
from buildlib.pictures.svgkit import log_ticks, nice_ticks, num
from buildlib.pictures.templates import Template, read_templates

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def templates() -> dict[str, Template]:
    return read_templates(REPO / "cloudformation")


@pytest.fixture
def description() -> dict:
    return read_description(REPO / "resources" / "architecture.toml")


def with_resource(
    templates: dict[str, Template], stack: str, logical_id: str, spec: dict
) -> dict[str, Template]:
    body = copy.deepcopy(dict(templates[stack].body))
    body["Resources"][logical_id] = spec
    return {**templates, stack: Template(stack, body)}


def test_every_resource_of_the_templates_is_drawn_or_folded(templates, description) -> None:
    assert list(templates) == [
        "step-functions-resources",
        "glue-resources",
        "gluerunner-lambda",
        "athenarunner-lambda",
    ]
    assert undrawn(templates, description) == []


def test_a_resource_type_the_picture_does_not_show_fails(templates, description) -> None:
    grown = with_resource(templates, "gluerunner-lambda", "AlarmTopic", {"Type": "AWS::SNS::Topic"})
    assert undrawn(grown, description) == ["gluerunner-lambda/AlarmTopic (AWS::SNS::Topic)"]
    with pytest.raises(DescriptionError, match=r"not drawn and not folded: gluerunner-lambda/AlarmTopic"):
        build_diagram(grown, description)


def test_a_new_resource_of_a_drawn_type_must_be_placed_too(templates, description) -> None:
    rule = {"Type": "AWS::Events::Rule", "Properties": {"ScheduleExpression": "rate(5 minutes)"}}
    grown = with_resource(templates, "athenarunner-lambda", "ExtraRule", rule)
    assert undrawn(grown, description) == ["athenarunner-lambda/ExtraRule (AWS::Events::Rule)"]


def test_a_template_outside_the_four_stacks_is_read_and_must_be_drawn(tmp_path, description) -> None:
    folder = tmp_path / "cloudformation"
    shutil.copytree(REPO / "cloudformation", folder)
    (folder / "extra.yaml").write_text("Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n")
    assert undrawn(read_templates(folder), description) == ["extra/Topic (AWS::SNS::Topic)"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda d: d["node"][1]["resources"].append("glue-resources/NoSuchJob"),
            "which no template declares",
        ),
        (lambda d: d["node"][2]["resources"].append(d["node"][1]["resources"][0]), "is drawn by both"),
        (lambda d: d["folded"].update({"AWS::SNS::Topic": {"why": "x"}}), "is in no template"),
        (
            lambda d: d["edge"].append({"from": "you", "to": "nowhere", "style": "call"}),
            "names no node nowhere",
        ),
        (
            lambda d: d["edge"].append({"from": "you", "to": "weekly", "style": "dotted"}),
            "style must be one of",
        ),
    ],
)
def test_a_description_that_does_not_fit_the_templates_is_refused(templates, description, change, problem):
    broken = copy.deepcopy(description)
    change(broken)
    with pytest.raises(DescriptionError, match=problem):
        build_diagram(templates, broken)


def _node(diagram, node_id: str):
    return next(node for node in diagram.nodes if node.id == node_id)


def test_the_picture_shows_the_triggers_tables_queue_and_services(templates, description) -> None:
    diagram = build_diagram(templates, description)
    lines = {node.id: node.lines for node in diagram.nodes}
    assert lines["recovery-ticks"][0] == "rate(1 minute) ×3"
    assert lines["safety-nets"][0] == "rate(10 minutes) ×3"
    assert lines["weekly"][0] == "rate(7 days) (if WeeklySchedule)"
    assert lines["nudge"][0] == "ETL Task Answered ×3"
    assert lines["job-ended"][:2] == ["Glue Job State Change", "Athena Query State Change"]
    assert "RUNNING ×3" in " ".join(lines["execution-started"])
    assert _node(diagram, "arrivals").title == "WaitForDataArrivals"
    assert _node(diagram, "failure-queue").title == "OnS3ObjectCreatedFailureQueue"
    assert {_node(diagram, n).title for n in ("gluerunner", "athenarunner", "ons3objectcreated")} == {
        "gluerunner",
        "athenarunner",
        "ons3objectcreated",
    }
    assert _node(diagram, "glue-jobs").lines[:3] == [
        "ProcessSalesData",
        "ProcessMarketingData",
        "JoinMarketingAndSalesData",
    ]
    svg = architecture_svg(REPO)
    assert "rate(3 minutes)" not in svg  # the 2018 sample's only trigger, long gone


def test_the_arrows_follow_the_templates(templates, description) -> None:
    edges = {(e.source, e.target): e for e in build_diagram(templates, description).edges}
    # Rule targets: the job-ended rules invoke the runners only; the other rule groups all three functions.
    assert ("job-ended", "gluerunner") in edges and ("job-ended", "athenarunner") in edges
    assert ("job-ended", "ons3objectcreated") not in edges
    for group in ("nudge", "execution-started", "recovery-ticks", "safety-nets"):
        for function in ("gluerunner", "athenarunner", "ons3objectcreated"):
            assert edges[(group, function)].from_templates
    assert edges[("weekly", "main-machine")].from_templates
    assert edges[("data-bucket", "ons3objectcreated")].style == "event"  # the bucket's notification
    assert edges[("ons3objectcreated", "failure-queue")].label == "failed events"  # the EventInvokeConfig
    assert edges[("ons3objectcreated", "arrivals")].from_templates  # ARRIVALS_TABLE
    assert edges[("main-machine", "wait-activities")].from_templates  # DefinitionSubstitutions
    assert edges[("catalog", "glue-jobs")].from_templates  # the jobs' --database_name, drawn as data flows
    # A hand-kept two-way arrow replaces the one the template shows (WAIT_ACTIVITIES), keeping its origin.
    two_way = edges[("wait-activities", "ons3objectcreated")]
    assert two_way.both and two_way.from_templates
    assert ("ons3objectcreated", "wait-activities") not in edges


def test_a_changed_template_changes_the_picture(templates, description) -> None:
    """Labels are read from the templates: a new schedule default shows without touching the description."""
    stack = "gluerunner-lambda"
    body = copy.deepcopy(dict(templates[stack].body))
    body["Parameters"]["ScheduleExpression"]["Default"] = "rate(15 minutes)"
    body["Resources"]["GlueJobEndedRule"]["Properties"]["Targets"] = []
    changed = build_diagram({**templates, stack: Template(stack, body)}, description)
    assert _node(changed, "safety-nets").lines[:2] == ["rate(15 minutes)", "rate(10 minutes) ×2"]
    assert ("job-ended", "gluerunner") not in {(e.source, e.target) for e in changed.edges}


def test_the_committed_picture_is_a_fresh_render() -> None:
    """Re-render with `.venv/bin/pynt pictures` after changing a template or resources/architecture.toml."""
    committed = (REPO / ARCHITECTURE_SVG).read_text()
    assert committed == architecture_svg(REPO), "resources/architecture.svg is stale: run `pynt pictures`"


def test_write_pictures_writes_the_render(tmp_path) -> None:
    shutil.copytree(REPO / "cloudformation", tmp_path / "cloudformation")
    (tmp_path / "resources").mkdir()
    shutil.copy(REPO / "resources" / "architecture.toml", tmp_path / "resources")
    assert write_pictures(tmp_path) == [tmp_path / ARCHITECTURE_SVG]
    text = (tmp_path / ARCHITECTURE_SVG).read_text()
    assert text == architecture_svg(tmp_path)
    assert text.startswith("<svg ") and 'data-node="arrivals"' in text and "<script" not in text


def test_svg_numbers_and_ticks() -> None:
    assert [num(v) for v in (0.04, -0.04, 12.0, 12.25, 3.14159)] == ["0", "0", "12", "12.2", "3.1"]
    assert nice_ticks(0, 17.3) == [0, 5, 10, 15, 20]
    assert nice_ticks(0.2, 1.9, 4) == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert log_ticks(3.0, 267.6) == [1.0, 10.0, 100.0, 1000.0]
