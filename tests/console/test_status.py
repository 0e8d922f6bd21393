"""Status from history: each state's colour at points of a recorded run, and the event table."""

from __future__ import annotations

import datetime as dt

from console_fixtures import cut, first_id, recorded

from localaws.console.asl_graph import parents, parse_definition
from localaws.console.status import (
    CANCELLED,
    CAUGHT,
    FAILED,
    RUNNING,
    SUCCEEDED,
    WAITING,
    execution_view,
)

PARALLEL = "Process Sales And Marketing Data"


def _view(name: str, last_id: int | None = None):
    record = recorded(name)
    events = record["events"] if last_id is None else cut(record["events"], last_id)
    return execution_view(events, parents(parse_definition(record["definition"])))


def test_wait_states_wait_for_a_worker_before_the_upload() -> None:
    events = recorded("main-success")["events"]
    view = _view("main-success", first_id(events, "ActivityStarted") - 1)
    statuses = view.statuses()
    assert statuses == {
        "Pre-process": SUCCEEDED,
        PARALLEL: RUNNING,
        "Wait For Sales Data": WAITING,
        "Wait For Marketing Data": WAITING,
    }
    assert not view.ended


def test_a_task_a_worker_took_is_in_progress_and_names_the_worker() -> None:
    events = recorded("main-success")["events"]
    view = _view("main-success", first_id(events, "ActivityStarted"))
    running = [run for run in view.states.values() if run.status == RUNNING and run.type == "Task"]
    assert len(running) == 1 and running[0].worker == "ons3objectcreated"
    assert running[0].resource.endswith("_QuickSightSample.csv")
    assert running[0].attempts == 1


def test_succeeded_run_colours_every_reached_state_green() -> None:
    view = _view("main-success")
    statuses = view.statuses()
    assert set(statuses.values()) == {SUCCEEDED}
    assert "ETL Job Failed Fallback" not in statuses and "ETL Job Failed" not in statuses
    assert len(statuses) == 10
    assert view.ended and view.error is None


def test_state_input_and_output_come_from_its_entered_and_exited_events() -> None:
    run = _view("main-success").states["Process Sales Data"]
    assert run.input == '"{\\"GlueJobName\\": \\"ProcessSalesData\\"}"'
    assert '"GlueJobRunState":"SUCCEEDED"' in run.output
    assert run.worker == "gluerunner" and run.entered_at < run.ended_at


def test_failed_task_failed_parallel_caught_fallback_succeeded_fail_state_failed() -> None:
    view = _view("main-failure")
    statuses = view.statuses()
    assert statuses["Process Sales Data"] == FAILED
    assert statuses[PARALLEL] == CAUGHT
    assert statuses["ETL Job Failed Fallback"] == SUCCEEDED
    assert statuses["ETL Job Failed"] == FAILED
    assert statuses["Process Marketing Data"] == SUCCEEDED  # it finished before the sales job failed
    assert "Join Marketing And Sales Data" not in statuses


def test_failed_states_carry_error_and_cause() -> None:
    view = _view("main-failure")
    task = view.states["Process Sales Data"]
    assert task.error == "GlueJobFailedError" and "13/45/2013" in task.cause
    caught = view.states[PARALLEL]
    assert caught.error == "GlueJobFailedError" and "13/45/2013" in caught.cause  # from the Catch output
    fail = view.states["ETL Job Failed"]
    assert fail.error == "GlueJobFailedError" and "M/D/YYYY" in fail.cause  # the execution's
    assert view.error == "GlueJobFailedError"


def test_a_branch_still_going_when_its_parallel_fails_is_cancelled() -> None:
    """Drop the marketing branch's end from the failed run: that branch was still running when the sales
    job failed, so its task shows cancelled, not running forever."""
    record = recorded("main-failure")
    marketing_end = first_id(record["events"], "TaskStateEntered", "Process Marketing Data")
    events = [e for e in record["events"] if not (marketing_end < e["id"] <= marketing_end + 4)]
    view = execution_view(events, parents(parse_definition(record["definition"])))
    assert view.states["Process Marketing Data"].status == CANCELLED
    assert view.states["Process Sales Data"].status == FAILED


def test_states_going_when_the_execution_ends_are_cancelled() -> None:
    record = recorded("main-success")
    events = cut(record["events"], first_id(record["events"], "ActivityStarted") - 1)
    last = events[-1]
    events.append(
        {
            "id": last["id"] + 1,
            "previousEventId": last["id"],
            "type": "ExecutionAborted",
            "timestamp": last["timestamp"] + dt.timedelta(seconds=1),
            "executionAbortedEventDetails": {"error": "Stopped", "cause": "by hand"},
        }
    )
    statuses = execution_view(events, parents(parse_definition(record["definition"]))).statuses()
    assert statuses["Wait For Sales Data"] == CANCELLED and statuses[PARALLEL] == CANCELLED


def test_retry_after_a_timeout_waits_again() -> None:
    record = recorded("main-success")
    events = cut(record["events"], first_id(record["events"], "ActivityScheduled"))
    scheduled = events[-1]
    stamp = scheduled["timestamp"]
    events += [
        {
            "id": scheduled["id"] + 1,
            "previousEventId": scheduled["id"],
            "type": "ActivityTimedOut",
            "timestamp": stamp,
            "activityTimedOutEventDetails": {"error": "States.HeartbeatTimeout"},
        },
        {
            "id": scheduled["id"] + 2,
            "previousEventId": scheduled["id"] + 1,
            "type": "ActivityScheduled",
            "timestamp": stamp,
            "activityScheduledEventDetails": {"resource": "arn:aws:states:::activity:x"},
        },
    ]
    run = execution_view(events).states["Wait For Sales Data"]
    assert run.status == WAITING and run.attempts == 2 and run.error == "States.HeartbeatTimeout"


def test_event_table_rows_name_state_elapsed_and_detail() -> None:
    view = _view("main-failure")
    assert [row["id"] for row in view.events] == list(range(1, len(view.events) + 1))
    assert view.events[0] == {
        "id": 1,
        "time": view.events[0]["time"],
        "elapsed_ms": 0,
        "type": "ExecutionStarted",
        "state": None,
        "detail": "",
    }
    failed = next(row for row in view.events if row["type"] == "ActivityFailed")
    assert failed["state"] == "Process Sales Data" and failed["detail"].startswith("GlueJobFailedError: ")
    started = next(row for row in view.events if row["type"] == "ActivityStarted")
    assert started["detail"] == "worker ons3objectcreated"
    assert all(row["elapsed_ms"] >= 0 for row in view.events)
