"""How long each runner hop of an execution took, read from its history as any client could.

Two hops per runner task state:

- **ready → started**: the task was scheduled (``ActivityScheduled``) until its job started (the runner's
  output: ``GlueJobStartedOn`` / ``AthenaQuerySubmissionDateTime``);
- **ended → answered**: the job ended (``GlueJobCompletedOn`` / ``AthenaQueryCompletionDateTime``) until the
  task's ``ActivitySucceeded``.

On the schedule alone each took up to a schedule period; with the runners' events, seconds.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from typing import Any

# The runner outputs' job start and end fields (lambda/*runner: Succeeded outputs).
JOB_TIMES = (
    ("GlueJobStartedOn", "GlueJobCompletedOn"),
    ("AthenaQuerySubmissionDateTime", "AthenaQueryCompletionDateTime"),
)


@dataclass(frozen=True)
class Hop:
    state: str
    ready_to_started_s: float
    ended_to_answered_s: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _time(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str) and value:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events += page["events"]
    return events


def runner_hops(events: list[dict[str, Any]]) -> list[Hop]:
    """The hops of every runner task that succeeded, in history order."""
    by_id = {event["id"]: event for event in events}
    entered: dict[int, str] = {}  # TaskStateEntered id -> state name
    for event in events:
        if event["type"] == "TaskStateEntered":
            entered[event["id"]] = event["stateEnteredEventDetails"]["name"]
    hops = []
    for event in events:
        if event["type"] != "ActivitySucceeded":
            continue
        started_event = by_id.get(event.get("previousEventId"))
        scheduled = by_id.get(started_event.get("previousEventId")) if started_event else None
        if not scheduled or scheduled["type"] != "ActivityScheduled":
            continue
        output = json.loads(event["activitySucceededEventDetails"].get("output") or "{}")
        if not isinstance(output, dict):
            continue
        for start_field, end_field in JOB_TIMES:
            job_started, job_ended = _time(output.get(start_field)), _time(output.get(end_field))
            if job_started and job_ended:
                break
        else:
            continue  # a wait-for-data task: no job
        state = entered.get(scheduled.get("previousEventId"), "?")
        hops.append(
            Hop(
                state=state,
                ready_to_started_s=(job_started - _time(scheduled["timestamp"])).total_seconds(),
                ended_to_answered_s=(_time(event["timestamp"]) - job_ended).total_seconds(),
            )
        )
    return hops
