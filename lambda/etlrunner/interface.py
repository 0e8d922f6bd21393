"""The contract between the shared runner core and one service's runner module."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


class InvalidInput(Exception):  # mirrors the Step Functions error name `<Runner>.InvalidInput`
    """The task input cannot be used: the message says exactly what is wrong (sent as the failure cause)."""


class StartFailed(Exception):  # mirrors the Step Functions error name `<Runner>.StartFailed`
    """The input looked fine but the service refused to start the job or query."""


@dataclass(frozen=True)
class Running:
    """The job is still going: the core heartbeats the task."""

    state: str


@dataclass(frozen=True)
class Succeeded:
    """The job finished well: `output` is sent with SendTaskSuccess (it must be JSON-serialisable)."""

    state: str
    output: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Failed:
    """The job ended badly: `cause` goes (as JSON) with SendTaskFailure under the runner's failure error."""

    state: str
    cause: Mapping[str, Any] = field(default_factory=dict)


CheckResult = Running | Succeeded | Failed


@runtime_checkable
class Runner(Protocol):
    """What a runner module provides; everything else (polling, DynamoDB, reporting) is the core's job.

    Attributes:
        name: prefix of the error names sent for bad input (`<name>.InvalidInput`, `<name>.StartFailed`).
        id_attribute: the DynamoDB range key holding the job's id (e.g. `glue_job_run_id`).
        failure_error: error name sent when a started job ends badly (e.g. `GlueJobFailedError`).
    """

    name: str
    id_attribute: str
    failure_error: str

    def start(self, task_input: Mapping[str, Any], task_token: str) -> dict[str, Any]:
        """Validate the input, start the job and return the item fields to store.

        The returned dict must hold `id_attribute`; any other keys (strings or numbers) are stored with it and
        handed back to `check`. Raise `InvalidInput` for input that cannot work and `StartFailed` when the
        service refuses; a botocore `ClientError` is reported as `StartFailed` too. `task_token` is only there
        for idempotency tokens: do not store or log it.
        """
        ...

    def check(self, item: Mapping[str, Any]) -> CheckResult:
        """Describe the job recorded in `item` and say whether it is running, succeeded or failed."""
        ...


class Recoverable(Protocol):
    """Optional runner methods with which the core recovers from a run that died while starting a job.

    The core records every claimed task before it asks the runner to start its job. When a later run finds
    such a record without a job id (the run that wrote it was killed, or could not record the id), it asks
    `find_started` whether the job was started after all, and only starts it when the answer is None. A runner
    without these methods gets its job started again, which can run it twice.
    """

    def find_started(self, task_input: Mapping[str, Any], task_token: str) -> dict[str, Any] | None:
        """The fields `start` returned for this task if its job was started (e.g. found by a marker argument
        or an idempotency token), else None. Raise like `start` for input that cannot work."""
        ...

    def stop(self, fields: Mapping[str, Any]) -> None:
        """Stop a job the core started but could not record, so that nothing runs that nobody tracks."""
        ...


class EventAware(Protocol):
    """Optional runner method with which a run woken by the service's own state-change event checks that one
    job at once (instead of waiting for the schedule). See triggers.py."""

    def job_id_from_event(self, event: Mapping[str, Any]) -> str | None:
        """The id (`id_attribute`) of the job a state-change event is about, or None if it is not one."""
        ...
