"""Job runs in moto: the real state of each (``BridgedRun``) and the patches that make moto start, report
and find them as Glue does (StartJobRun runs the script on a worker thread, ``script``; the run's state and
times; "Glue Job State Change" events when it ends; GetJobRun in O(1))."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.core.utils import utcnow
from moto.glue.models import FakeJob, FakeJobRun, GlueBackend

from localaws.bridges import patching
from localaws.bridges.glue.script import MAX_ERROR_MESSAGE, ensure_runtime_importable, execute_run
from localaws.context import LocalAwsContext

log = logging.getLogger(__name__)


_state: dict[str, Any] = {"ctx": None}
_install_lock = threading.Lock()


class GlueBridgeError(RuntimeError):
    """moto no longer looks as this bridge expects (after an upgrade): the bridge cannot be installed."""


@dataclass
class BridgedRun:
    """The real state of a job run, kept on moto's FakeJobRun as ``_localaws_run``."""

    job_name: str
    run_id: str
    glue_version: str | None
    state: str = "STARTING"
    started_on: datetime = field(default_factory=utcnow)
    last_modified_on: datetime = field(default_factory=utcnow)
    completed_on: datetime | None = None
    error_message: str | None = None
    started_monotonic: float = field(default_factory=time.monotonic)
    finished_monotonic: float | None = None
    done: threading.Event = field(default_factory=threading.Event)
    stop_requested: bool = False
    account_id: str = ""  # where its "Glue Job State Change" event goes (none when empty)
    region: str = ""

    def set_state(self, state: str, error: str | None = None) -> None:
        if self.stop_requested and state == "RUNNING":
            return  # stopped while staging: it stays STOPPING until the run ends
        ended_now = state in _TERMINAL_STATES and not self.done.is_set()
        self.state = state
        self.last_modified_on = utcnow()
        if error is not None:
            self.error_message = error[:MAX_ERROR_MESSAGE]
        if state in _TERMINAL_STATES:
            self.completed_on = self.last_modified_on
            self.finished_monotonic = time.monotonic()
            self.done.set()
        if ended_now and state in _EVENT_STATES:
            # After the state is visible: a target that calls GetJobRun on the event sees the run ended.
            self.emit_state_change()

    def emit_state_change(self) -> None:
        """Glue's "Glue Job State Change" event for the run's terminal state, on the default bus."""
        if not self.account_id:
            return
        from localaws.bridges import events

        events.emit(
            self.account_id,
            self.region,
            "aws.glue",
            "Glue Job State Change",
            job_state_change_detail(self.job_name, self.run_id, self.state, self.error_message),
            [],
        )

    @property
    def execution_seconds(self) -> int:
        end = self.finished_monotonic if self.finished_monotonic is not None else time.monotonic()
        return int(round(end - self.started_monotonic))


_TERMINAL_STATES = ("SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT", "ERROR")
# Glue sends "Glue Job State Change" for these four only; severity and message as in Glue's documented events.
_EVENT_STATES = {
    "SUCCEEDED": ("INFO", "Job run succeeded"),
    "FAILED": ("ERROR", None),
    "TIMEOUT": ("WARN", "Job run timed out"),
    "STOPPED": ("INFO", "Job run stopped"),
}


def job_state_change_detail(job_name: str, run_id: str, state: str, error: str | None) -> dict[str, str]:
    """The ``detail`` of a "Glue Job State Change" event (field order as Glue sends it)."""
    severity, message = _EVENT_STATES[state]
    if message is None:
        message = f"JobName:{job_name} and JobRunId:{run_id} failed to execute with exception {error or ''}"
    return {"jobName": job_name, "severity": severity, "state": state, "jobRunId": run_id, "message": message}


def bridged_run(job_run: FakeJobRun) -> BridgedRun | None:
    return job_run.__dict__.get("_localaws_run")


# -- patches of moto --------------------------------------------------------------------------------------


def _check_moto_shape() -> None:
    """Fail loudly at install, naming the gap, if a moto upgrade moved what the patches replace."""
    problems = []
    if not callable(getattr(GlueBackend, "start_job_run", None)):
        problems.append("moto.glue.models.GlueBackend.start_job_run is gone")
    if not isinstance(getattr(FakeJobRun, "status", None), property):
        problems.append("moto.glue.models.FakeJobRun.status is no longer a property (ManagedState)")
    if not callable(getattr(FakeJobRun, "as_dict", None)):
        problems.append("moto.glue.models.FakeJobRun.as_dict is gone")
    if not hasattr(FakeJob, "__init__") or "job_runs" not in FakeJob.__init__.__code__.co_names:
        problems.append("moto.glue.models.FakeJob no longer keeps its runs in .job_runs")
    if problems:
        raise GlueBridgeError("Glue bridge (gap: job runs never run their script): " + "; ".join(problems))


def _patch_start_job_run() -> None:
    """GlueBackend.start_job_run: after moto has recorded the run, execute its script in a worker thread.

    WHY: moto only records the run; nothing runs the script.
    """
    patching.wrap(GlueBackend, "start_job_run", _start_job_run_executing)


def _start_job_run_executing(original: Any) -> Any:
    def start_job_run(self: GlueBackend, name: str, *args: Any, **kwargs: Any) -> str:
        run_id = original(self, name, *args, **kwargs)  # EntityNotFound, ConcurrentRunsExceeded, arg merge
        job = self.get_job(name)
        job_run = next(r for r in job.job_runs if r.job_run_id == run_id)
        record = BridgedRun(
            job_name=name,
            run_id=run_id,
            glue_version=job.glue_version,
            account_id=self.account_id,
            region=self.region_name,
        )
        job_run._localaws_run = record
        ctx = _state["ctx"]
        threading.Thread(
            target=execute_run,
            args=(ctx, job, job_run, record),
            name=f"glue-run-{name}-{run_id[:11]}",
            daemon=True,
        ).start()
        return run_id

    return start_job_run


def _patch_job_run_status() -> None:
    """FakeJobRun.status: a bridged run reports its real state.

    WHY: ManagedState.status advances STARTING -> RUNNING -> SUCCEEDED on its own (immediately by default);
    moto's own MaxConcurrentRuns check reads it too, so it now sees runs that are really still running.
    """
    patching.wrap(FakeJobRun, "status", _run_status_of_bridged_runs)


def _run_status_of_bridged_runs(original: property) -> property:
    def _get(self: FakeJobRun) -> str | None:
        record = bridged_run(self)
        return record.state if record is not None else original.fget(self)  # type: ignore[misc]

    return property(_get, original.fset)


def _patch_job_run_as_dict() -> None:
    """FakeJobRun.as_dict (GetJobRun, GetJobRuns): the run's real state, times, error and Glue version.

    WHY: moto reports fixed values (ExecutionTime 123, CompletedOn = StartedOn, GlueVersion "0.9", no
    ErrorMessage).
    """
    patching.wrap(FakeJobRun, "as_dict", _as_dict_of_bridged_runs)


def _as_dict_of_bridged_runs(original: Any) -> Any:
    def as_dict(self: FakeJobRun) -> dict[str, Any]:
        result = original(self)
        record = bridged_run(self)
        if record is None:
            return result
        result.update(
            JobRunState=record.state,
            StartedOn=record.started_on,
            LastModifiedOn=record.last_modified_on,
            ExecutionTime=record.execution_seconds,
            LogGroupName="/aws-glue/jobs",
        )
        if record.glue_version:
            result["GlueVersion"] = record.glue_version
        if record.completed_on is not None:
            result["CompletedOn"] = record.completed_on
        else:
            result.pop("CompletedOn", None)
        if record.error_message:
            result["ErrorMessage"] = record.error_message
        return result

    return as_dict


def _patch_get_job_run_index() -> None:
    """FakeJob.get_job_run: a dict lookup instead of a walk over every run of the job.

    WHY: a runner checks each tracked run with GetJobRun; with N runs of one job moto's walk made each call
    O(N) and a check cycle O(N²). The index is rebuilt when runs were added (runs are only ever appended).
    """
    patching.wrap(FakeJob, "get_job_run", _indexed_get_job_run)


def _indexed_get_job_run(original: Any) -> Any:
    def get_job_run(self: FakeJob, run_id: str) -> FakeJobRun:
        index = self.__dict__.get("_localaws_run_index")
        if index is None or index[0] != len(self.job_runs):
            index = (len(self.job_runs), {run.job_run_id: run for run in self.job_runs})
            self.__dict__["_localaws_run_index"] = index
        job_run = index[1].get(run_id)
        if job_run is None:
            return original(self, run_id)  # moto's own JobRunNotFound answer
        job_run.advance()
        return job_run

    return get_job_run


def install(ctx: LocalAwsContext) -> None:
    """Patch moto's Glue job runs (idempotent); the latest ``ctx`` is the one runs report to."""
    with _install_lock:
        _state["ctx"] = ctx
        _check_moto_shape()
        ensure_runtime_importable()
        _patch_start_job_run()
        _patch_job_run_status()
        _patch_job_run_as_dict()
        _patch_get_job_run_index()
