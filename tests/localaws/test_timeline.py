"""The demo's timeline (localaws/demo/timeline.py), drawn from recorded execution histories."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from localaws.demo.timeline import (
    FAILED,
    HOP,
    RUN,
    STATE,
    WAIT,
    execution_timeline,
    moment,
    timeline_svg,
    write_timeline,
)

DATA = Path(__file__).resolve().parents[1] / "console" / "data"
MAIN = "MarketingAndSalesETLOrchestrator"
SVG = "{http://www.w3.org/2000/svg}"


def recorded(name: str) -> list[dict]:
    return json.loads((DATA / f"{name}.json").read_text())["events"]


def seconds(bar) -> float:
    return round((bar.end - bar.start).total_seconds(), 3)


def kinds(row) -> list[tuple[str, float]]:
    return [(bar.kind, seconds(bar)) for bar in row.bars]


def test_a_succeeded_run_each_states_wait_hops_and_run() -> None:
    timeline = execution_timeline(MAIN, recorded("main-success"))
    assert (timeline.status, round((timeline.end - timeline.start).total_seconds(), 3)) == (
        "SUCCEEDED",
        41.493,
    )
    rows = {row.label: row for row in timeline.rows}
    # Task and Parallel states only, in the order they began; the branches' states one level in.
    assert [(row.label, row.depth) for row in timeline.rows] == [
        ("Process Sales And Marketing Data", 0),
        ("Wait For Sales Data", 1),
        ("Wait For Marketing Data", 1),
        ("Process Marketing Data", 1),
        ("Process Sales Data", 1),
        ("Join Marketing And Sales Data", 0),
    ]
    # ActivityScheduled 13.838 -> ActivityStarted 14.056 -> job 14.136..48.836 -> ActivitySucceeded 48.964
    assert kinds(rows["Process Marketing Data"]) == [(WAIT, 0.218), (HOP, 0.08), (RUN, 34.7), (HOP, 0.128)]
    # A wait for data has no job: taken by ons3objectcreated, then answered.
    assert kinds(rows["Wait For Sales Data"]) == [(WAIT, 0.417), (HOP, 0.192)]
    assert kinds(rows["Process Sales And Marketing Data"]) == [(STATE, 35.926)]


def test_a_failed_run_shows_the_failed_task_and_ends_failed() -> None:
    timeline = execution_timeline(MAIN, recorded("main-failure"))
    assert timeline.status == "FAILED"
    rows = {row.label: row for row in timeline.rows}
    assert kinds(rows["Process Sales Data"]) == [(WAIT, 0.0), (FAILED, 6.704)]
    assert kinds(rows["Process Marketing Data"])[2] == (RUN, 5.989)
    assert kinds(rows["Process Sales And Marketing Data"]) == [(STATE, 6.866)]  # ended by ParallelStateFailed
    assert "Join Marketing And Sales Data" not in rows


def _at(second: float) -> str:
    return (dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=second)).isoformat()


def test_a_retried_task_shows_every_attempt() -> None:
    """A task whose worker died comes back after its heartbeat timeout: both attempts are drawn."""
    output = {"GlueJobStartedOn": _at(40), "GlueJobCompletedOn": _at(50)}
    events = [
        {"id": 1, "previousEventId": 0, "type": "ExecutionStarted", "timestamp": _at(0)},
        {"id": 2, "previousEventId": 1, "type": "TaskStateEntered", "timestamp": _at(0),
         "stateEnteredEventDetails": {"name": "Run"}},
        {"id": 3, "previousEventId": 2, "type": "ActivityScheduled", "timestamp": _at(0)},
        {"id": 4, "previousEventId": 3, "type": "ActivityStarted", "timestamp": _at(1)},
        {"id": 5, "previousEventId": 4, "type": "ActivityTimedOut", "timestamp": _at(31)},
        {"id": 6, "previousEventId": 5, "type": "ActivityScheduled", "timestamp": _at(32)},
        {"id": 7, "previousEventId": 6, "type": "ActivityStarted", "timestamp": _at(39)},
        {"id": 8, "previousEventId": 7, "type": "ActivitySucceeded", "timestamp": _at(51),
         "activitySucceededEventDetails": {"output": json.dumps(output)}},
        {"id": 9, "previousEventId": 8, "type": "TaskStateExited", "timestamp": _at(51)},
        {"id": 10, "previousEventId": 9, "type": "ExecutionSucceeded", "timestamp": _at(51)},
    ]  # fmt: skip
    (row,) = execution_timeline("M", events).rows
    assert kinds(row) == [(WAIT, 1), (FAILED, 30), (WAIT, 7), (HOP, 1), (RUN, 10), (HOP, 1)]


def test_the_svg_draws_each_bar_to_scale_and_prints_the_figures() -> None:
    timelines = [execution_timeline(MAIN, recorded("main-success"))]
    svg = timeline_svg(timelines)
    root = ET.fromstring(svg)  # well-formed
    rows = {g.get("data-state"): g for g in root.iter(f"{SVG}g") if g.get("class") == "row"}
    assert list(rows) == [row.label for row in timelines[0].rows]  # no Pass state
    runs = {name: g.find(f"{SVG}rect[@class='bar run']") for name, g in rows.items()}
    # Bars share one scale: the marketing job (34.7 s) is 34.7 / 5.149 times the join's width.
    ratio = float(runs["Process Marketing Data"].get("width")) / float(
        runs["Join Marketing And Sales Data"].get("width")
    )
    assert ratio == pytest.approx(34.7 / 5.149, rel=0.01)
    notes = {name: g.find(f"{SVG}text[@class='note']").text for name, g in rows.items()}
    assert notes["Process Marketing Data"] == "wait 0.22 s, hops 0.08 + 0.13 s, run 34.7 s"
    assert notes["Wait For Sales Data"] == "wait 0.42 s, hop 0.19 s"
    assert f"{MAIN}: SUCCEEDED in 41.5 s" in svg


def test_boto3_datetimes_draw_the_same_as_saved_text() -> None:
    events = recorded("main-success")
    live = [{**event, "timestamp": moment(event["timestamp"])} for event in events]
    assert timeline_svg([execution_timeline(MAIN, live)]) == timeline_svg([execution_timeline(MAIN, events)])


class FakeSfn:
    """GetExecutionHistory's paginator over recorded events, two pages."""

    def __init__(self, histories: dict[str, list[dict]]) -> None:
        self.histories = histories

    def get_paginator(self, name: str):
        assert name == "get_execution_history"
        histories = self.histories

        class Pages:
            def paginate(self, executionArn: str):  # noqa: N803 - boto3's parameter name
                events = histories[executionArn]
                return [{"events": events[:10]}, {"events": events[10:]}]

        return Pages()


def test_write_timeline_draws_every_execution_into_the_output_folder(tmp_path: Path) -> None:
    arns = [
        f"arn:aws:states:us-east-1:123456789012:execution:{MAIN}:first",
        "arn:aws:states:us-east-1:123456789012:execution:OtherMachine:second",
    ]
    sfn = FakeSfn({arns[0]: recorded("main-success"), arns[1]: recorded("main-failure")})
    path = write_timeline(sfn, arns, tmp_path)
    assert path == tmp_path / "timeline.svg"
    svg = path.read_text()
    assert f"{MAIN}: SUCCEEDED in 41.5 s" in svg and "OtherMachine: FAILED in 6.9 s" in svg
    assert svg.count('class="bar failed"') == 1
