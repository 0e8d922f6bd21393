"""Per-state progress of a Step Functions execution, read from its event history.

Works the same against AWS and the local endpoint: each history event names its predecessor
(``previousEventId``), and within a Parallel branch that chain stays inside the branch, so walking back from
an activity event to the nearest ``*StateEntered`` event names the state it belongs to.
"""

from __future__ import annotations

import datetime as dt
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


def state_progress(events: Iterable[dict[str, Any]]) -> dict[str, StateProgress]:
    """Map state name → its latest progress, in the order the states were first entered."""
    by_id: dict[int, dict[str, Any]] = {}
    states: dict[str, StateProgress] = {}

    def owning_state(event: dict[str, Any]) -> str | None:
        seen = 0
        current: dict[str, Any] | None = event
        while current is not None and seen < 10_000:
            details = current.get("stateEnteredEventDetails")
            if details:
                return details["name"]
            current = by_id.get(current.get("previousEventId", 0))
            seen += 1
        return None

    for event in sorted(events, key=lambda e: e["id"]):
        by_id[event["id"]] = event
        kind: str = event["type"]
        when = _timestamp(event)
        if kind.endswith("StateEntered"):
            name = event["stateEnteredEventDetails"]["name"]
            status = WAITING if kind == "TaskStateEntered" else RUNNING
            states[name] = StateProgress(name, status, when, when)
            continue
        if kind.endswith("StateExited"):
            name = event["stateExitedEventDetails"]["name"]
            progress = states.get(name)
            if progress and progress.status != FAILED:
                progress.status, progress.changed_at = SUCCEEDED, when
            continue
        status = _ACTIVITY_STATUS.get(kind) or (FAILED if kind.endswith("StateFailed") else None)
        if status is None:
            continue
        name = owning_state(event)
        if name is None or name not in states:
            continue
        progress = states[name]
        progress.status, progress.changed_at = status, when
        if status == FAILED:
            progress.detail = _failure_detail(event)
    return states


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
