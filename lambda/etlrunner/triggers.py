"""What woke a run, read from its event: a job that ended, a nudge that a task may be ready, or the schedule.

- **Job ended**: the service's own state-change event (Glue "Glue Job State Change", Athena "Athena Query
  State Change"), delivered by an EventBridge rule of the runner's stack. The runner names the job it is about
  (``Runner.job_id_from_event``); the run checks that one job at once and answers its task.
- **Nudge**: a task of this runner's activity may have just become ready: a runner or ons3objectcreated
  answered a task (:data:`NUDGE_SOURCE` / :data:`NUDGE_DETAIL_TYPE`, see nudge.py), or an execution started
  ("Step Functions Execution Status Change", status RUNNING). The run polls the activity.
- **Tick** (the runner stack's one-minute rule, whose constant input is :data:`TICK_EVENT`): the recovery
  pass. The run heartbeats every task it holds, finishes what a dead or refused run left (a start or an
  answer whose lease ran out), and polls when a poll is owed (a poller died or gave up, or a task a dead
  poller took comes back after its heartbeat timeout; see poller.py). Idle, it is two DynamoDB reads.
- **Schedule** (anything else, e.g. the EventBridge "Scheduled Event" or a manual invoke): the safety net for
  lost events. The run checks every tracked job with its service (an end event may have been lost), then
  polls (a nudge may have been lost).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

# The custom event every answer puts on the default bus (no AWS service uses this source).
NUDGE_SOURCE = "etl-orchestrator"
NUDGE_DETAIL_TYPE = "ETL Task Answered"
EXECUTION_STATUS_SOURCE = "aws.states"
EXECUTION_STATUS_DETAIL_TYPE = "Step Functions Execution Status Change"

# The constant input of the recovery tick's rule (`Input` of the EventBridge target).
TICK_EVENT = {"etlrunner": "tick"}

Kind = Literal["job-ended", "nudge", "tick", "schedule"]


@dataclass(frozen=True)
class Trigger:
    kind: Kind
    job_id: str | None = None  # for "job-ended"
    description: str = ""


def is_nudge(event: Mapping[str, Any]) -> bool:
    """A runner's or ons3objectcreated's answer, or a started execution: a task may be ready now."""
    source, detail_type = event.get("source"), event.get("detail-type")
    if source == NUDGE_SOURCE and detail_type == NUDGE_DETAIL_TYPE:
        return True
    detail = event.get("detail")
    return (
        source == EXECUTION_STATUS_SOURCE
        and detail_type == EXECUTION_STATUS_DETAIL_TYPE
        and isinstance(detail, Mapping)
        and detail.get("status") == "RUNNING"
    )


def is_tick(event: Mapping[str, Any]) -> bool:
    """The recovery tick's rule input (the runners' and ons3objectcreated's)."""
    return dict(event) == TICK_EVENT


def classify(runner: Any, event: Any) -> Trigger:
    """The trigger of a run; a runner without ``job_id_from_event`` treats job events as the schedule."""
    if not isinstance(event, Mapping):
        return Trigger("schedule", description="no event")
    if is_tick(event):
        return Trigger("tick", description="recovery tick")
    if is_nudge(event):
        return Trigger("nudge", description=f"{event.get('source')}: {event.get('detail-type')}")
    job_id_from_event = getattr(runner, "job_id_from_event", None)
    if job_id_from_event is not None:
        job_id = job_id_from_event(event)
        if job_id:
            return Trigger("job-ended", job_id=job_id, description=str(event.get("detail-type")))
    return Trigger("schedule", description=str(event.get("detail-type") or "manual invoke"))


def job_id_in_event(event: Mapping[str, Any], source: str, detail_type: str, id_field: str) -> str | None:
    """The job id a service's state-change event carries in ``detail.<id_field>``, if it is that event."""
    if event.get("source") != source or event.get("detail-type") != detail_type:
        return None
    detail = event.get("detail")
    job_id = detail.get(id_field) if isinstance(detail, Mapping) else None
    return job_id if isinstance(job_id, str) and job_id else None
