"""Per-state progress of a Step Functions execution, read from its event history.

Works the same against AWS and the local endpoint: each history event names its predecessor
(``previousEventId``), and within a Parallel branch that chain stays inside the branch, so walking back from
an event to the ``*StateEntered`` event of a state of the right type names the state it belongs to
(``attribute_events``; ``pynt executionstatus`` and the demo's progress view both read histories through it).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

WAITING = "waiting"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"

# Event types that move a state to a status. State-entered/exited events are matched by suffix below.
_ACTIVITY_STATUS = {
    "ActivityScheduled": WAITING,
    "ActivityStarted": RUNNING,
    "ActivitySucceeded": SUCCEEDED,
    "ActivityFailed": FAILED,
    "ActivityTimedOut": FAILED,
    "ActivityScheduleFailed": FAILED,
}


@dataclass
class StateProgress:
    """Where one state of an execution stands."""

    name: str
    status: str
    entered_at: dt.datetime
    changed_at: dt.datetime
    detail: str = ""
    event_id: int = 0  # the history event behind `status`: orders failures by when they happened

    @property
    def elapsed_s(self) -> float:
        return (self.changed_at - self.entered_at).total_seconds()


@dataclass
class ExecutionFailure:
    error: str
    cause: str


def _timestamp(event: dict[str, Any]) -> dt.datetime:
    stamp = event["timestamp"]
    if isinstance(stamp, str):
        stamp = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return stamp


def _failure_detail(event: dict[str, Any]) -> str:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict) and "error" in value:
            cause = value.get("cause") or ""
            return f"{value['error']}: {cause}" if cause else str(value["error"])
    return ""


# `<Type>State<Verb>` events, e.g. ParallelStateFailed: they belong to the open state of that type.
_STATE_EVENT = re.compile(
    r"^(?P<type>[A-Za-z]+?)State(?P<verb>Entered|Exited|Started|Succeeded|Failed|Aborted)$"
)
# Events a Task state's work produces (activity, service integration, Lambda): they belong to a Task state.
_TASK_WORK_PREFIXES = ("Activity", "Task", "Lambda")
# A state ends with these; a Fail state has no exit event: it ends on entry.
_ENDING_VERBS = ("Exited", "Failed", "Aborted")


def attribute_events(events: Iterable[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], str | None]]:
    """Each event, oldest first, with the name of the state it belongs to (None: the execution's own).

    An event's predecessor chain leads back to the ``*StateEntered`` event of its state, but not always
    directly: a ``ParallelStateFailed`` follows the failing branch's last event, so the walk skips states of
    another type and states that already ended (a nested Parallel that failed first).
    """
    by_id: dict[int, dict[str, Any]] = {}
    entered_type: dict[int, str] = {}  # id of a *StateEntered event → the state's type
    ended: set[int] = set()  # ids of the *StateEntered events of states that ended
    latest_entry: dict[str, int] = {}  # state name → id of its latest *StateEntered event

    def owner(event: dict[str, Any], wanted_type: str | None) -> int | None:
        seen: set[int] = set()
        current = by_id.get(event.get("previousEventId", 0))
        while current is not None and current["id"] not in seen:
            seen.add(current["id"])
            state_type = entered_type.get(current["id"])
            if state_type and current["id"] not in ended and wanted_type in (None, state_type):
                return current["id"]
            current = by_id.get(current.get("previousEventId", 0))
        return None

    for event in sorted(events, key=lambda e: e["id"]):
        by_id[event["id"]] = event
        kind: str = event["type"]
        if kind.startswith("Execution"):
            yield event, None
            continue
        match = _STATE_EVENT.match(kind)
        if match and match["verb"] == "Entered":
            name = event["stateEnteredEventDetails"]["name"]
            entered_type[event["id"]] = match["type"]
            latest_entry[name] = event["id"]
            if match["type"] == "Fail":
                ended.add(event["id"])
            yield event, name
            continue
        if match and match["verb"] == "Exited":
            name = event["stateExitedEventDetails"]["name"]
            entry = latest_entry.get(name)
        else:
            wanted = match["type"] if match else ("Task" if kind.startswith(_TASK_WORK_PREFIXES) else None)
            entry = owner(event, wanted)
            name = by_id[entry]["stateEnteredEventDetails"]["name"] if entry is not None else None
        if entry is not None and match and match["verb"] in _ENDING_VERBS:
            ended.add(entry)
        yield event, name


def state_progress(events: Iterable[dict[str, Any]]) -> dict[str, StateProgress]:
    """Map state name → its latest progress, in the order the states were first entered."""
    states: dict[str, StateProgress] = {}
    for event, name in attribute_events(events):
        if name is None:
            continue
        kind: str = event["type"]
        when = _timestamp(event)
        if kind.endswith("StateEntered"):
            status = {"TaskStateEntered": WAITING, "FailStateEntered": FAILED}.get(kind, RUNNING)
            states[name] = StateProgress(name, status, when, when, event_id=event["id"])
            continue
        progress = states.get(name)
        if progress is None:
            continue
        if kind.endswith("StateExited"):
            if progress.status != FAILED:
                progress.status, progress.changed_at, progress.event_id = SUCCEEDED, when, event["id"]
            continue
        status = _ACTIVITY_STATUS.get(kind) or (FAILED if kind.endswith("StateFailed") else None)
        if status is None:
            continue
        progress.status, progress.changed_at, progress.event_id = status, when, event["id"]
        if status == FAILED:
            progress.detail = _failure_detail(event)
    return states


def first_failure(states: dict[str, StateProgress]) -> StateProgress | None:
    """The state where the execution's failure began: the earliest to fail (a failed task before the
    Parallel state it ran in, both before the Fail state a Catch led to)."""
    failed = [progress for progress in states.values() if progress.status == FAILED]
    return min(failed, key=lambda progress: progress.event_id, default=None)


def execution_failure(events: Iterable[dict[str, Any]]) -> ExecutionFailure | None:
    """The error and cause an execution failed with, if it failed."""
    for event in events:
        if event["type"] in ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"):
            details = (
                event.get("executionFailedEventDetails") or event.get("executionTimedOutEventDetails") or {}
            )
            return ExecutionFailure(details.get("error", event["type"]), details.get("cause", ""))
    return None


def execution_events(sfn: Any, execution_arn: str) -> Iterator[dict[str, Any]]:
    """Every history event of an execution, oldest first (paginated)."""
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        yield from page["events"]
        token = page.get("nextToken")
        if not token:
            return
        kwargs["nextToken"] = token


class ProgressPrinter:
    """Prints a line each time a state changes status, with the time since the printer started."""

    def __init__(self, out: TextIO, started_at: dt.datetime, labels: dict[str, str] | None = None) -> None:
        self._out = out
        self._started_at = started_at
        self._seen: dict[str, str] = {}
        # A friendlier word for some (state, status) pairs, e.g. waiting → "waiting for data".
        self._labels = labels or {}

    def update(self, states: dict[str, StateProgress]) -> None:
        for name, progress in states.items():
            if self._seen.get(name) == progress.status:
                continue
            self._seen[name] = progress.status
            elapsed = (progress.changed_at - self._started_at).total_seconds()
            label = self._labels.get(f"{name}:{progress.status}", progress.status)
            took = f" ({progress.elapsed_s:.1f}s)" if progress.status in (SUCCEEDED, FAILED) else ""
            line = f"  [{elapsed:6.1f}s] {name:<45} {label}{took}"
            if progress.detail:
                line += f" — {progress.detail}"
            print(line, file=self._out, flush=True)
