"""The progress model reads any execution history, parallel branches included."""

import datetime as dt
import io

from buildlib.execution_progress import (
    FAILED,
    RUNNING,
    SUCCEEDED,
    WAITING,
    ProgressPrinter,
    execution_failure,
    state_progress,
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _event(event_id: int, previous: int, kind: str, seconds: float, **details: object) -> dict:
    stamp = T0 + dt.timedelta(seconds=seconds)
    return {"id": event_id, "previousEventId": previous, "type": kind, "timestamp": stamp, **details}


def _entered(name: str) -> dict:
    return {"stateEnteredEventDetails": {"name": name}}


def _exited(name: str) -> dict:
    return {"stateExitedEventDetails": {"name": name}}


# Two parallel branches whose events interleave: each activity event must land on its own branch's state.
PARALLEL_HISTORY = [
    _event(1, 0, "ExecutionStarted", 0),
    _event(2, 1, "ParallelStateEntered", 0.1, **_entered("Parallel")),
    _event(3, 2, "TaskStateEntered", 0.2, **_entered("Wait For Sales Data")),
    _event(4, 2, "TaskStateEntered", 0.2, **_entered("Wait For Marketing Data")),
    _event(5, 3, "ActivityScheduled", 0.3),
    _event(6, 4, "ActivityScheduled", 0.3),
    _event(7, 6, "ActivityStarted", 2.0),
    _event(8, 7, "ActivitySucceeded", 2.1),
    _event(9, 8, "TaskStateExited", 2.1, **_exited("Wait For Marketing Data")),
]


def test_activity_events_are_attributed_to_their_own_branch():
    states = state_progress(PARALLEL_HISTORY)
    assert states["Wait For Sales Data"].status == WAITING
    assert states["Wait For Marketing Data"].status == SUCCEEDED
    assert states["Wait For Marketing Data"].elapsed_s == 1.9
    assert states["Parallel"].status == RUNNING
    assert list(states) == ["Parallel", "Wait For Sales Data", "Wait For Marketing Data"]


def test_a_started_activity_is_running_and_a_failed_one_keeps_its_cause():
    history = [
        *PARALLEL_HISTORY,
        _event(10, 5, "ActivityStarted", 3.0),
        _event(
            11,
            10,
            "ActivityFailed",
            4.0,
            activityFailedEventDetails={"error": "GlueJobFailedError", "cause": '{"GlueJobName": "X"}'},
        ),
    ]
    running = state_progress(history[:-1])["Wait For Sales Data"]
    assert running.status == RUNNING
    failed = state_progress(history)["Wait For Sales Data"]
    assert failed.status == FAILED
    assert failed.detail == 'GlueJobFailedError: {"GlueJobName": "X"}'


def test_execution_failure_gives_error_and_cause():
    history = [_event(1, 0, "ExecutionFailed", 1, executionFailedEventDetails={"error": "E", "cause": "C"})]
    failure = execution_failure(history)
    assert (failure.error, failure.cause) == ("E", "C")
    assert execution_failure(PARALLEL_HISTORY) is None


def test_printer_prints_each_change_once():
    out = io.StringIO()
    printer = ProgressPrinter(out, T0, labels={"Wait For Sales Data:waiting": "waiting for data"})
    printer.update(state_progress(PARALLEL_HISTORY))
    printer.update(state_progress(PARALLEL_HISTORY))
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert "Wait For Sales Data" in lines[1] and "waiting for data" in lines[1]
    assert lines[2].strip().startswith("[   2.1s] Wait For Marketing Data") and "succeeded (1.9s)" in lines[2]
