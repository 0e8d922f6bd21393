"""Hop latencies read from an execution's history (localaws/demo/hops.py)."""

from __future__ import annotations

import datetime as dt
import json

from localaws.demo.hops import Hop, runner_hops

T0 = dt.datetime(2026, 11, 30, 12, 0, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def task(first_id: int, state: str, scheduled: float, answered: float, output: dict) -> list[dict]:
    entered, scheduled_id, started, succeeded = first_id, first_id + 1, first_id + 2, first_id + 3
    return [
        {
            "id": entered,
            "type": "TaskStateEntered",
            "timestamp": at(scheduled),
            "stateEnteredEventDetails": {"name": state},
        },
        {
            "id": scheduled_id,
            "previousEventId": entered,
            "type": "ActivityScheduled",
            "timestamp": at(scheduled),
        },
        {
            "id": started,
            "previousEventId": scheduled_id,
            "type": "ActivityStarted",
            "timestamp": at(scheduled),
        },
        {
            "id": succeeded,
            "previousEventId": started,
            "type": "ActivitySucceeded",
            "timestamp": at(answered),
            "activitySucceededEventDetails": {"output": json.dumps(output)},
        },
    ]


def test_glue_and_athena_hops_and_no_hop_for_a_wait_task():
    events = (
        task(1, "Wait For Sales Data", 0, 5, {"S3Key": "sales/x.csv"})
        + task(
            5,
            "Process Sales Data",
            5,
            40,
            {"GlueJobStartedOn": at(5.5).isoformat(), "GlueJobCompletedOn": at(39.75).isoformat()},
        )
        + task(
            9,
            "Execute Athena Query",
            41,
            44,
            {
                "AthenaQuerySubmissionDateTime": at(41.25).isoformat().replace("+00:00", "Z"),
                "AthenaQueryCompletionDateTime": at(43.0).isoformat(),
            },
        )
    )
    assert runner_hops(events) == [
        Hop("Process Sales Data", 0.5, 0.25),
        Hop("Execute Athena Query", 0.25, 1.0),
    ]


def test_a_failed_task_has_no_hop():
    events = task(1, "Process Sales Data", 0, 9, {})
    events[-1] = {**events[-1], "type": "ActivityFailed"}
    assert runner_hops(events) == []
