"""Each state's status in one execution, read from the execution's event history (GetExecutionHistory).

Events are attributed to their states by ``buildlib.execution_progress.attribute_events`` (the same walk
``pynt executionstatus`` uses). A state's status follows its latest run:

- not reached: no event names it;
- waiting for a worker: an activity task was scheduled and no worker has taken it (``ActivityScheduled``);
- in progress: entered, or its task taken by a worker (``ActivityStarted``), a Lambda or service task going;
- succeeded: exited normally;
- failed: its task or the state failed (``*Failed``, ``*TimedOut``) and nothing caught it; a Fail state;
- caught: it failed and was exited all the same: a ``Catch`` took the error to another state;
- cancelled: still going when its Parallel or Map state, or the execution, ended (the Step Functions
  console greys these out too).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from buildlib.execution_progress import attribute_events

NOT_REACHED = "notreached"
WAITING = "waiting"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
CAUGHT = "caught"
CANCELLED = "cancelled"

STATUS_LABELS = {
    NOT_REACHED: "not reached",
    WAITING: "waiting for a worker",
    RUNNING: "in progress",
    SUCCEEDED: "succeeded",
    FAILED: "failed",
    CAUGHT: "caught error",
    CANCELLED: "cancelled",
}
_GOING = (WAITING, RUNNING)

# Task work events: event type → status (the type's own prefix says which kind of task it is).
_WORK_STATUS = {
    "ActivityScheduled": WAITING,  # the only "scheduled" that waits on someone: an activity worker
    "ActivityStarted": RUNNING,
    "ActivityFailed": FAILED,
    "ActivityTimedOut": FAILED,
    "ActivityScheduleFailed": FAILED,
    "TaskScheduled": RUNNING,
    "TaskStarted": RUNNING,
    "TaskFailed": FAILED,
    "TaskTimedOut": FAILED,
    "TaskStartFailed": FAILED,
    "TaskSubmitFailed": FAILED,
    "LambdaFunctionScheduled": RUNNING,
    "LambdaFunctionStarted": RUNNING,
    "LambdaFunctionFailed": FAILED,
    "LambdaFunctionTimedOut": FAILED,
    "LambdaFunctionScheduleFailed": FAILED,
    "LambdaFunctionStartFailed": FAILED,
}
_EXECUTION_ENDS = ("ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut")


@dataclass
class StateRun:
    """Where one state stands in an execution (its latest run), with what the console shows on click."""

    name: str
    type: str
    status: str = RUNNING
    entered_at: str | None = None  # ISO 8601
    ended_at: str | None = None
    input: str | None = None
    output: str | None = None
    error: str | None = None
    cause: str | None = None
    worker: str | None = None  # the activity worker that took the task (ActivityStarted's workerName)
    resource: str | None = None  # the activity, Lambda or service the task scheduled
    task_input: str | None = None  # what the task handed its worker
    attempts: int = 0  # tasks scheduled (retries included)
    event_ids: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "status_label": STATUS_LABELS[self.status]}


@dataclass
class ExecutionView:
    """An execution's history as the console shows it: per-state runs and one row per event."""

    states: dict[str, StateRun]
    events: list[dict[str, Any]]  # table rows: id, time, elapsed_ms, type, state, detail
    ended: bool
    error: str | None = None
    cause: str | None = None

    def statuses(self) -> dict[str, str]:
        return {name: run.status for name, run in self.states.items()}


def _iso(stamp: Any) -> str:
    if isinstance(stamp, dt.datetime):
        return stamp.isoformat()
    return str(stamp)


def _clock(stamp: Any) -> str:
    """``14:02:03.123 UTC``: the event table's time (the date is the execution's, in the page header)."""
    if isinstance(stamp, dt.datetime):
        return stamp.astimezone(dt.UTC).strftime("%H:%M:%S.%f")[:-3] + " UTC"
    return str(stamp)


def _details(event: dict[str, Any]) -> dict[str, Any]:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            return value
    return {}


def _error_from_output(output: str | None) -> tuple[str | None, str | None]:
    """A Catch hands on ``{"Error", "Cause"}``: the error and cause of a caught Parallel (whose Failed event
    has no details)."""
    try:
        value = json.loads(output or "")
    except ValueError:
        return None, None
    if isinstance(value, dict) and "Error" in value:
        return str(value["Error"]), (str(value["Cause"]) if value.get("Cause") is not None else None)
    return None, None


def execution_view(
    events: list[dict[str, Any]], parents: dict[str, str | None] | None = None
) -> ExecutionView:
    """Per-state status and the event table of an execution, from its history (any order, paginated or not).

    ``parents`` (state → the Parallel/Map state it is nested in, ``asl_graph.parents``) lets the states of a
    branch that was still going when its Parallel ended show as cancelled."""
    parents = parents or {}
    ordered = sorted(events, key=lambda e: e["id"])
    started = ordered[0]["timestamp"] if ordered else None
    states: dict[str, StateRun] = {}
    rows: list[dict[str, Any]] = []
    ended = False
    error = cause = None

    for event, name in attribute_events(ordered):
        kind: str = event["type"]
        details = _details(event)
        rows.append(_row(event, name, details, started))
        if kind in _EXECUTION_ENDS:
            ended = True
            error, cause = details.get("error"), details.get("cause")
            _end_going(states, CANCELLED, _iso(event["timestamp"]))
            for run in states.values():  # a Fail state's error and cause are the execution's
                if run.type == "Fail" and run.status == FAILED and run.error is None:
                    run.error, run.cause = error, cause
            continue
        if name is None:
            continue
        if kind.endswith("StateEntered"):
            state_type = kind.removesuffix("StateEntered")
            run = StateRun(name, state_type, entered_at=_iso(event["timestamp"]), input=details.get("input"))
            if state_type == "Fail":
                run.status, run.ended_at = FAILED, run.entered_at
            states[name] = run
        run = states.get(name)
        if run is None:
            continue
        run.event_ids.append(event["id"])
        _apply(run, kind, details, event, states, parents)

    return ExecutionView(states, rows, ended, error, cause)


def _apply(
    run: StateRun,
    kind: str,
    details: dict[str, Any],
    event: dict[str, Any],
    states: dict[str, StateRun],
    parents: dict[str, str | None],
) -> None:
    at = _iso(event["timestamp"])
    if kind in _WORK_STATUS:
        run.status = _WORK_STATUS[kind]
        if kind.endswith("Scheduled"):
            run.attempts += 1
            run.resource = details.get("resource", run.resource)
            run.task_input = details.get("input", run.task_input)
        if kind.endswith("Started"):
            run.worker = details.get("workerName", run.worker)
        if run.status == FAILED:
            run.error, run.cause = details.get("error"), details.get("cause")
        return
    if kind.endswith("StateExited"):
        run.output, run.ended_at = details.get("output"), at
        if run.status == FAILED:
            run.status = CAUGHT  # only a Catch lets a failed state exit
            if run.error is None:
                run.error, run.cause = _error_from_output(run.output)
        else:
            run.status = SUCCEEDED
        _end_children(run.name, states, parents, at)
        return
    if kind.endswith("StateFailed"):
        run.status, run.ended_at = FAILED, at
        if details.get("error"):
            run.error, run.cause = details.get("error"), details.get("cause")
        _end_children(run.name, states, parents, at)
        return
    if kind.endswith("StateAborted"):
        run.status, run.ended_at = CANCELLED, at
        _end_children(run.name, states, parents, at)


def _end_going(states: dict[str, StateRun], status: str, at: str) -> None:
    for run in states.values():
        if run.status in _GOING:
            run.status, run.ended_at = status, at


def _end_children(name: str, states: dict[str, StateRun], parents: dict[str, str | None], at: str) -> None:
    """A Parallel or Map state ended: whatever still runs inside it was cancelled."""
    for child in states.values():
        if child.status in _GOING and _is_inside(child.name, name, parents):
            child.status, child.ended_at = CANCELLED, at


def _is_inside(state: str, ancestor: str, parents: dict[str, str | None]) -> bool:
    current = parents.get(state)
    while current is not None:
        if current == ancestor:
            return True
        current = parents.get(current)
    return False


def _row(event: dict[str, Any], state: str | None, details: dict[str, Any], started: Any) -> dict[str, Any]:
    stamp = event["timestamp"]
    elapsed_ms = None
    if isinstance(stamp, dt.datetime) and isinstance(started, dt.datetime):
        elapsed_ms = round((stamp - started).total_seconds() * 1000)
    detail = ""
    if details.get("error"):
        detail = f"{details['error']}: {details.get('cause') or ''}".rstrip(": ")
    elif details.get("workerName"):
        detail = f"worker {details['workerName']}"
    elif details.get("resource"):
        detail = str(details["resource"])
    return {
        "id": event["id"],
        "time": _clock(stamp),
        "elapsed_ms": elapsed_ms,
        "type": event["type"],
        "state": state,
        "detail": detail,
    }
