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


@dataclass(frozen=True)
class Transition:
    status: str
    at: dt.datetime
    event_id: int  # the history event that moved the state: orders failures by when they happened


@dataclass
class StateProgress:
    """Where one state of an execution stands, and every status it went through to get there."""

    name: str
    state_type: str  # "Task", "Pass", "Parallel", ... as its *StateEntered event names it
    transitions: list[Transition]  # oldest first; the first is the state being entered
    detail: str = ""
    # A Task state's result as its worker sent it (a runner's JSON: GlueJobName, AthenaQueryExecutionId, …).
    output: str | None = None

    @property
    def status(self) -> str:
        return self.transitions[-1].status

    @property
    def entered_at(self) -> dt.datetime:
        return self.transitions[0].at

    @property
    def changed_at(self) -> dt.datetime:
        return self.transitions[-1].at

    @property
    def event_id(self) -> int:
        return self.transitions[-1].event_id

    @property
    def elapsed_s(self) -> float:
        return (self.changed_at - self.entered_at).total_seconds()

    def move(self, status: str, event: dict[str, Any]) -> None:
        if status != self.status:
            self.transitions.append(Transition(status, _timestamp(event), event["id"]))


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


def _work_output(event: dict[str, Any]) -> str | None:
    for key, value in event.items():
        if key.endswith("SucceededEventDetails") and isinstance(value, dict):
            return value.get("output")
    return None


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
        if kind.endswith("StateEntered"):
            status = {"TaskStateEntered": WAITING, "FailStateEntered": FAILED}.get(kind, RUNNING)
            transition = Transition(status, _timestamp(event), event["id"])
            states[name] = StateProgress(name, kind.removesuffix("StateEntered"), [transition])
            continue
        progress = states.get(name)
        if progress is None:
            continue
        if kind.endswith("StateExited"):
            if progress.status != FAILED:
                progress.move(SUCCEEDED, event)
            continue
        status = _ACTIVITY_STATUS.get(kind) or (FAILED if kind.endswith("StateFailed") else None)
        if status is None:
            continue
        progress.move(status, event)
        if status == SUCCEEDED:
            progress.output = _work_output(event)
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


class HistoryFollower:
    """An execution's history kept up to date by asking only for what is new.

    Each ``refresh()`` reads the history newest first (``reverseOrder``) in small pages and stops at the first
    event it already has, so following an execution costs a page per poll instead of its whole history, which
    Step Functions (or the local endpoint) would otherwise serialize again every time.
    """

    def __init__(self, sfn: Any, execution_arn: str, page_size: int = 25) -> None:
        self._sfn = sfn
        self._arn = execution_arn
        self._page_size = page_size
        self.events: list[dict[str, Any]] = []

    def refresh(self) -> list[dict[str, Any]]:
        """All events so far, oldest first."""
        last_id = self.events[-1]["id"] if self.events else 0
        newer: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "executionArn": self._arn,
            "maxResults": self._page_size,
            "reverseOrder": True,
        }
        while True:
            page = self._sfn.get_execution_history(**kwargs)
            fresh = [event for event in page["events"] if event["id"] > last_id]
            newer += fresh
            token = page.get("nextToken")
            if len(fresh) < len(page["events"]) or not token:
                break
            kwargs["nextToken"] = token
        self.events += sorted(newer, key=lambda event: event["id"])
        return self.events


class ProgressPrinter:
    """Prints a line for each status a state goes through, with the time since the printer started.

    A Task state's every transition is printed, also those that came and went between two updates (a task
    the runner picked up at once was still "waiting" first); other states show their latest status at each
    update (a Pass state entered and left at once is just "succeeded").
    """

    def __init__(self, out: TextIO, started_at: dt.datetime, labels: dict[str, str] | None = None) -> None:
        self._out = out
        self._started_at = started_at
        self._printed: dict[tuple[str, int], int] = {}  # (state, id of its entry event) → transitions printed
        # A friendlier word for some (state, status) pairs, e.g. waiting → "waiting for data".
        self._labels = labels or {}

    def update(self, states: dict[str, StateProgress]) -> None:
        lines: list[tuple[Transition, StateProgress]] = []
        for name, progress in states.items():
            entry = (name, progress.transitions[0].event_id)  # a state entered again prints afresh
            new = progress.transitions[self._printed.get(entry, 0) :]
            lines += [(t, progress) for t in (new if progress.state_type == "Task" else new[-1:])]
            self._printed[entry] = len(progress.transitions)
        for transition, progress in sorted(lines, key=lambda line: line[0].event_id):  # in history order
            self._print(progress, transition)

    def _print(self, progress: StateProgress, transition: Transition) -> None:
        elapsed = (transition.at - self._started_at).total_seconds()
        label = self._labels.get(f"{progress.name}:{transition.status}", transition.status)
        line = f"  [{elapsed:6.1f}s] {progress.name:<45} {label}"
        if transition.status in (SUCCEEDED, FAILED):
            line += f" ({(transition.at - progress.entered_at).total_seconds():.1f}s)"
        if transition.status == FAILED and progress.detail:
            line += f" — {progress.detail}"
        print(line, file=self._out, flush=True)
