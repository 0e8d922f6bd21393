"""Stopping job runs: BatchStopJobRun as Glue answers it (STOPPING, then STOPPED once the script ends, its
Spark jobs cancelled meanwhile)."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from moto.core.responses import ActionResult
from moto.glue.models import GlueBackend
from moto.glue.responses import GlueResponse

from localaws.bridges import patching
from localaws.bridges.glue.runs import BridgedRun, bridged_run


def install() -> None:
    """Patch moto's Glue responses with BatchStopJobRun; idempotent."""
    _patch_batch_stop_job_run()


_STOPPABLE = frozenset({"STARTING", "RUNNING", "WAITING"})


def stop_job_run(backend: GlueBackend, job_name: str, run_id: str) -> dict[str, Any] | None:
    """Stop one run; None when it was submitted for stopping, else its BatchStopJobRunError."""

    def refused(code: str, message: str) -> dict[str, Any]:
        return {
            "JobName": job_name,
            "JobRunId": run_id,
            "ErrorDetail": {"ErrorCode": code, "ErrorMessage": message},
        }

    job = backend.jobs.get(job_name)
    if job is None:
        return refused("EntityNotFoundException", f"Job {job_name} not found")
    try:
        job_run = job.get_job_run(run_id)
    except Exception:  # moto's JobRunNotFoundException
        return refused("EntityNotFoundException", f"Job run {run_id} not found")
    record = bridged_run(job_run)
    state = record.state if record is not None else job_run.status
    if state not in _STOPPABLE:
        return refused("InvalidInputException", f"Job run {run_id} is {state} and cannot be stopped")
    if record is None:
        job_run.status = "STOPPED"
        return None
    record.stop_requested = True
    record.set_state("STOPPING")
    threading.Thread(
        target=_cancel_until_done, args=(record,), name=f"glue-stop-{run_id[:11]}", daemon=True
    ).start()
    return None


def _cancel_until_done(record: BridgedRun) -> None:
    """Cancel the run's Spark jobs until its script ends: cancelJobGroup only reaches jobs already submitted,
    and a script keeps submitting new ones."""
    from localaws.runtime import spark as shared

    while not record.done.is_set():
        if shared.is_started():
            with contextlib.suppress(Exception):  # best effort, tried again
                shared.get_spark().sparkContext.cancelJobGroup(record.run_id)
        record.done.wait(0.5)


def _patch_batch_stop_job_run() -> None:
    """GlueResponse.batch_stop_job_run: stop runs as Glue does (STOPPING, then STOPPED once the script ends).

    WHY: moto has no BatchStopJobRun (it answered 500); the runner stops a run whose task is gone.
    """
    patching.replace(GlueResponse, "batch_stop_job_run", _batch_stop_job_run_action)


def _batch_stop_job_run_action(self: GlueResponse) -> ActionResult:
    job_name = self._get_param("JobName")
    submitted, errors = [], []
    for run_id in self._get_param("JobRunIds") or []:
        error = stop_job_run(self.glue_backend, job_name, run_id)
        if error is None:
            submitted.append({"JobName": job_name, "JobRunId": run_id})
        else:
            errors.append(error)
    return ActionResult({"SuccessfulSubmissions": submitted, "Errors": errors})
