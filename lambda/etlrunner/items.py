"""One claimed task as the runner's table keeps it: a typed record instead of a dict of ten attribute names.

The attribute names below are the wire format and stay the seed's where the seed had them
(`sfn_activity_arn`, `sfn_task_token`, the runner's id attribute). Everything else the core keeps about a task
lives in :class:`TaskItem`; the runner's own fields (job name, database...) ride along in `fields` and are all
a runner ever sees (`for_runner`): never the token.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ACTIVITY = "sfn_activity_arn"
TOKEN = "sfn_task_token"
PHASE = "phase"
STARTING = "starting"
REPORTING = "reporting"
STARTING_PREFIX = "starting#"
LEASE_UNTIL = "lease_until"
TASK_INPUT = "task_input"
OUTCOME = "outcome"
CHECK_FAILURES = "check_failures"
START_ATTEMPTS = "start_attempts"
CLAIMED_AT = "claimed_at"
STARTED_AT = "started_at"
# The core's own attributes: whatever else an item holds is the runner's (TaskItem.fields).
CORE_ATTRIBUTES = frozenset(
    {
        ACTIVITY,
        TOKEN,
        PHASE,
        LEASE_UNTIL,
        TASK_INPUT,
        OUTCOME,
        CHECK_FAILURES,
        START_ATTEMPTS,
        CLAIMED_AT,
        STARTED_AT,
    }
)


@dataclass
class TaskItem:
    """A claimed task: `starting` (recorded, its job not started yet), tracked (phase None: its job runs) or
    `reporting` (its outcome decided and being sent); see store.py for how each phase is entered."""

    activity: str
    key: str  # the range key: the job's id, or starting#<task ref> before the job exists
    token: str
    phase: str | None = None
    lease_until: float | None = None
    task_input: str = ""
    outcome: dict[str, Any] | None = None
    check_failures: int = 0
    start_attempts: int = 0
    claimed_at: str | None = None
    started_at: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_record(cls, record: Mapping[str, Any], id_attribute: str) -> TaskItem:
        """From a DynamoDB item already decoded to Python values."""
        lease = record.get(LEASE_UNTIL)
        return cls(
            activity=str(record[ACTIVITY]),
            key=str(record[id_attribute]),
            token=str(record[TOKEN]),
            phase=record.get(PHASE),
            lease_until=float(lease) if lease is not None else None,
            task_input=str(record.get(TASK_INPUT) or ""),
            outcome=dict(record[OUTCOME]) if record.get(OUTCOME) else None,
            check_failures=int(record.get(CHECK_FAILURES) or 0),
            start_attempts=int(record.get(START_ATTEMPTS) or 0),
            claimed_at=record.get(CLAIMED_AT),
            started_at=record.get(STARTED_AT),
            fields={k: v for k, v in record.items() if k not in CORE_ATTRIBUTES and k != id_attribute},
        )

    def to_record(self, id_attribute: str) -> dict[str, Any]:
        """The DynamoDB item, as Python values (None attributes are left out)."""
        record: dict[str, Any] = {
            **self.fields,
            ACTIVITY: self.activity,
            id_attribute: self.key,
            TOKEN: self.token,
            PHASE: self.phase,
            LEASE_UNTIL: self.lease_until,
            TASK_INPUT: self.task_input if self.phase == STARTING else None,
            OUTCOME: self.outcome,
            CHECK_FAILURES: self.check_failures or None,
            START_ATTEMPTS: self.start_attempts or None,
            CLAIMED_AT: self.claimed_at,
            STARTED_AT: self.started_at,
        }
        return {name: value for name, value in record.items() if value is not None}

    def for_runner(self, id_attribute: str) -> dict[str, Any]:
        """What a runner's check/stop is given: the job's id and the runner's own fields, never the token."""
        return {**self.fields, id_attribute: self.key}

    @property
    def starting(self) -> bool:
        return self.phase == STARTING

    @property
    def reporting(self) -> bool:
        return self.phase == REPORTING

    def lease_expired(self, now: float | None = None) -> bool:
        return self.lease_until is None or self.lease_until <= (time.time() if now is None else now)
