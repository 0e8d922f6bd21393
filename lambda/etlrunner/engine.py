"""Poll → start → track → check → report: one run of a runner, as its trigger asks (see triggers.py)."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from etlrunner.clients import SFN_READ_TIMEOUT_S, Clients
from etlrunner.config import RunnerConfig
from etlrunner.inputs import parse_task_input
from etlrunner.interface import Failed, InvalidInput, Runner, Running, StartFailed, Succeeded
from etlrunner.nudge import send_nudge
from etlrunner.poller import PollerLease
from etlrunner.settings import RunSettings, load_settings
from etlrunner.store import (
    CHECK_FAILURES,
    LEASE_UNTIL,
    OUTCOME,
    PHASE,
    REPORTING,
    STARTING,
    STARTING_PREFIX,
    TASK_INPUT,
    TOKEN,
    ItemStore,
    lease_expired,
)
from etlrunner.triggers import classify

logger = logging.getLogger("etlrunner")

# Poll only while a whole long poll plus the check pass still fits in the Lambda's remaining time.
POLL_RESERVE_MS = SFN_READ_TIMEOUT_S * 1000 + 25_000
# A local endpoint with a shortened long poll (and Lambda timeout) sets a smaller reserve through this.
POLL_RESERVE_ENV = "SFN_POLL_RESERVE_MS"
# Leave a little time after the last check so the run ends cleanly; unchecked items wait for the next run.
CHECK_RESERVE_MS = 10_000
# Step Functions no longer knows the token: the execution ended, timed out or moved on.
TOKEN_GONE_ERRORS = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})
MAX_CAUSE_CHARS = 32_768
STARTED_AT_ATTRIBUTE = "started_at"
# Item attributes that are the core's bookkeeping, not the service's fields (never logged as such).
CORE_ATTRIBUTES = frozenset(
    {
        TOKEN,
        "sfn_activity_arn",
        STARTED_AT_ATTRIBUTE,
        "claimed_at",
        PHASE,
        LEASE_UNTIL,
        TASK_INPUT,
        OUTCOME,
        CHECK_FAILURES,
    }
)


@dataclass
class RunSummary:
    """What one run did; returned by the handler and logged so an operator can follow a run at a glance.

    started/recovered: jobs started (recovered: started by a run that died, tracked by this one);
    rejected: tasks failed before their job ran (bad input, refused start); succeeded/failed: outcomes
    reported; running: heartbeats; expired: tasks Step Functions no longer knew; starting: tasks another
    live run is starting; not_tracked: a job event about a job this runner does not track (any more);
    check_errors/report_errors: items left for a later run. trigger: what woke the run; polled: whether it
    polled the activity (False: another run was polling, and polls again for it); nudged: answers
    announced by a nudge event.
    """

    trigger: str = "schedule"

    started: int = 0
    recovered: int = 0
    rejected: int = 0
    succeeded: int = 0
    failed: int = 0
    running: int = 0
    expired: int = 0
    starting: int = 0
    check_errors: int = 0
    report_errors: int = 0
    not_tracked: int = 0
    nudged: int = 0
    polled: bool = False
    poll_error: str | None = None
    out_of_time: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, counter: str, count: int = 1) -> None:
        """Thread-safe increment: the check pass visits items concurrently."""
        with self._lock:
            setattr(self, counter, getattr(self, counter) + count)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}


def task_ref(task_token: str) -> str:
    """A short stable name for a task token: tokens are long and secret-ish, so logs carry a digest."""
    return "task-" + hashlib.sha256(task_token.encode("utf-8")).hexdigest()[:10]


def iso8601(value: Any) -> str | None:
    """ISO-8601 text in UTC of a botocore timestamp (None stays None, so absent times are JSON null)."""
    if isinstance(value, dt.datetime):
        # botocore parses some services' epoch times into local time; UTC keeps outputs comparable.
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(dt.UTC).isoformat()
    return None if value is None else str(value)


def remaining_ms(context: Any) -> int | None:
    """Milliseconds the Lambda has left, or None when run without a Lambda context (no limit)."""
    getter = getattr(context, "get_remaining_time_in_millis", None)
    return None if getter is None else int(getter())


def poll_reserve_ms() -> int:
    """Time a GetActivityTask long poll needs to be worth starting (`SFN_POLL_RESERVE_MS` overrides)."""
    value = os.environ.get(POLL_RESERVE_ENV, "").strip()
    return int(value) if value.isdigit() else POLL_RESERVE_MS


def has_time(context: Any, reserve_ms: int) -> bool:
    left = remaining_ms(context)
    return left is None or left >= reserve_ms


def run(
    runner: Runner, config: RunnerConfig, clients: Clients, context: Any = None, event: Any = None
) -> dict[str, Any]:
    """One run: a job event checks that job; a nudge polls; the schedule checks every job, then polls."""
    trigger = classify(runner, event)
    summary = RunSummary(trigger=trigger.kind)
    if trigger.kind == "job-ended":
        check_job(runner, config, clients, context, summary, str(trigger.job_id))
    else:
        started = poll_with_lease(runner, config, clients, context, summary)
        if trigger.kind == "schedule":
            check_active(runner, config, clients, context, summary)  # the jobs just started among them
        else:
            look_at_started(runner, config, clients, context, summary, started)
    _nudge(runner, config, clients, summary)
    logger.info("%s run finished: %s", runner.name, json.dumps(summary.as_dict()))
    return summary.as_dict()


def _nudge(runner: Runner, config: RunnerConfig, clients: Clients, summary: RunSummary) -> None:
    """Send one nudge for the answers of this run not yet announced."""
    answered = summary.succeeded + summary.failed + summary.rejected
    fresh = answered - summary.nudged
    if fresh > 0 and send_nudge(clients.events, runner.name, config.sfn_activity_arn, fresh):
        summary.nudged = answered


def check_job(
    runner: Runner, config: RunnerConfig, clients: Clients, context: Any, summary: RunSummary, job_id: str
) -> None:
    """The job an event named: check it now (and answer its task if it ended)."""
    work = _Work(runner, config, clients, context, summary)
    try:
        item = work.store.get(job_id)
    except (ClientError, BotoCoreError) as exc:  # the schedule checks it later
        summary.add("check_errors")
        logger.error("cannot read %s=%s from %s: %s", runner.id_attribute, job_id, config.ddb_table, exc)
        return
    if item is None:
        # Another runner's job, an already answered one, or one whose event came before its item was
        # written (the run that started it looks at it once right after tracking it).
        summary.add("not_tracked")
        logger.info("%s: no tracked item for %s=%s: nothing to do", runner.name, runner.id_attribute, job_id)
        return
    _visit_safely(work, item)


def poll_with_lease(
    runner: Runner, config: RunnerConfig, clients: Clients, context: Any, summary: RunSummary
) -> list[dict[str, Any]]:
    """Poll the activity unless another run is polling it (see poller.py); poll again when woken. Returns
    the items of the jobs this run started."""
    started: list[dict[str, Any]] = []
    lease = PollerLease(clients, config, runner.id_attribute)
    try:
        lease.wake()
        if not lease.acquire(_poll_lease_until(context)):
            logger.info(
                "%s: another run is polling %s; it polls again for this one",
                runner.name,
                config.sfn_activity_arn,
            )
            return started
    except (ClientError, BotoCoreError) as exc:
        # The lease only saves duplicate polls; correctness lies in the item writes. Poll without it.
        logger.warning("%s: poll lease unavailable (%s); polling anyway", runner.name, _error_text(exc))
        return poll_and_start(runner, config, clients, context, summary)
    try:
        while True:
            started += poll_and_start(
                runner, config, clients, context, summary, before_poll=lambda: _renew(lease, context)
            )
            if summary.out_of_time or summary.poll_error:
                lease.release(force=True)
                return started
            if lease.release():
                return started
            # Woken while polling (or the lease was taken over): poll again if the lease is still ours.
            if not lease.renew(_poll_lease_until(context)):
                return started
    except (ClientError, BotoCoreError) as exc:
        # The lease runs out by itself; the next nudge or scheduled run polls.
        logger.warning("%s: could not update the poll lease: %s", runner.name, _error_text(exc))
    return started


def look_at_started(
    runner: Runner,
    config: RunnerConfig,
    clients: Clients,
    context: Any,
    summary: RunSummary,
    started: list[dict[str, Any]],
) -> None:
    """One look at the jobs this run started: one that ended already (a query that failed at once) may have
    sent its end event before its item existed, and that event found nothing to answer."""
    work = _Work(runner, config, clients, context, summary)
    for item in started:
        try:
            work.check(item, just_started=True)
        except Exception as exc:  # the schedule checks it later
            summary.add("check_errors")
            logger.error("%s: error looking at %s: %s", runner.name, item.get(runner.id_attribute), exc)


def _renew(lease: PollerLease, context: Any) -> None:
    """Extend the lease before another long poll; a failure only risks a second poller, which is safe."""
    try:
        lease.renew(_poll_lease_until(context))
    except (ClientError, BotoCoreError) as exc:
        logger.warning("could not renew the poll lease: %s", _error_text(exc))


def _poll_lease_until(context: Any) -> float:
    """A long poll and a start, never past the Lambda's own end (a dead run's lease must run out)."""
    until = time.time() + load_settings().poll_lease_seconds
    left = remaining_ms(context)
    return until if left is None else min(until, time.time() + left / 1000)


# --- poll and start -------------------------------------------------------------------------------------


def poll_and_start(
    runner: Runner,
    config: RunnerConfig,
    clients: Clients,
    context: Any,
    summary: RunSummary,
    before_poll: Callable[[], Any] | None = None,
) -> list[dict[str, Any]]:
    """Claim tasks until none is waiting or the Lambda is running out of time; returns the items of the
    jobs started."""
    work = _Work(runner, config, clients, context, summary)
    while True:
        if not has_time(context, poll_reserve_ms()):
            summary.out_of_time = True
            logger.info("stop polling %s: %s ms left", config.sfn_activity_arn, remaining_ms(context))
            return work.started
        summary.polled = True
        if before_poll is not None:
            before_poll()
        try:
            response = clients.sfn.get_activity_task(
                activityArn=config.sfn_activity_arn, workerName=config.sfn_worker_name
            )
        except (ClientError, BotoCoreError) as exc:
            # A wrong ARN, a throttle or a network error must not stop the check pass: running jobs still
            # need their heartbeats and reports.
            summary.poll_error = _error_text(exc)
            logger.error("GetActivityTask on %s failed: %s", config.sfn_activity_arn, summary.poll_error)
            return work.started
        token = response.get("taskToken")
        if not token:
            logger.info("no waiting task on %s", config.sfn_activity_arn)
            return work.started
        work.claimed(token, response.get("input"))


@dataclass
class _Work:
    """What one run does with tasks and items; every step that can lose a task is a conditional write."""

    runner: Runner
    config: RunnerConfig
    clients: Clients
    context: Any
    summary: RunSummary
    settings: RunSettings = field(default_factory=load_settings)
    started: list[dict[str, Any]] = field(default_factory=list)  # items of the jobs this run started

    @property
    def store(self) -> ItemStore:
        return ItemStore(self.clients, self.config, self.runner.id_attribute)

    def lease(self) -> float:
        """Until when this run may hold an item: never past its own end (a Lambda cannot outlive it)."""
        until = time.time() + self.settings.lease_seconds
        left = remaining_ms(self.context)
        return math.ceil(until if left is None else min(until, time.time() + left / 1000))

    # -- a task just claimed ---------------------------------------------------------------------------------
    def claimed(self, token: str, raw_input: str | None) -> None:
        """Record the claimed task first, then start its job: a crash from here on loses nothing."""
        ref = task_ref(token)
        now = dt.datetime.now(dt.UTC).isoformat()
        try:
            item = self.store.put_starting(ref, token, raw_input, now, self.lease())
        except (ClientError, BotoCoreError) as exc:
            # Nothing was started; without a record no later run could answer the task, so answer it now.
            cause = {
                "ErrorMessage": f"could not record the task in DynamoDB table {self.config.ddb_table} before "
                f"starting its job, so nothing was started: {_error_text(exc)}",
                "ErrorType": _error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__,
            }
            self._fail_unrecorded(token, "StartFailed", cause)
            return
        self.start(item, raw_input)

    def start(self, item: Mapping[str, Any], raw_input: str | None) -> None:
        """Start the job of a `starting` item and track it; any refusal answers the task at once."""
        token = str(item[TOKEN])
        runner = self.runner
        try:
            fields = runner.start(parse_task_input(raw_input), token)
        except (InvalidInput, StartFailed, ClientError, Exception) as exc:
            kind, cause = _start_refusal(runner, token, exc)
            self.report(item, _failure(f"{runner.name}.{kind}", cause), rejected=True)
            return
        self.record_started(item, fields)

    def record_started(self, item: Mapping[str, Any], fields: Any, recovered: bool = False) -> None:
        runner = self.runner
        token = str(item[TOKEN])
        job_id = fields.get(runner.id_attribute) if isinstance(fields, Mapping) else None
        try:
            if not isinstance(job_id, str) or not job_id or job_id.startswith(STARTING_PREFIX):
                raise ValueError(f"runner returned no usable {runner.id_attribute}: {job_id!r}")
            tracked = self.store.track(item, fields, dt.datetime.now(dt.UTC).isoformat())
        except Exception as exc:  # the job would run untracked: stop it and say so, with its id
            logger.exception(
                "%s: started %s=%s but could not record it", runner.name, runner.id_attribute, job_id
            )
            stopped = self._stop(fields) if isinstance(job_id, str) and job_id else "nothing to stop"
            cause = {
                "ErrorMessage": f"started {runner.id_attribute}={job_id} but could not track it in DynamoDB "
                f"table {self.config.ddb_table} ({type(exc).__name__}: {exc}); {stopped}",
                "ErrorType": type(exc).__name__,
            }
            self.report(item, _failure(f"{runner.name}.StartFailed", cause), rejected=True)
            return
        if tracked is None:
            logger.info(
                "%s: %s=%s is tracked by another run already", runner.name, runner.id_attribute, job_id
            )
            return
        self.summary.add("recovered" if recovered else "started")
        logger.info(
            "%s %s %s=%s for %s (%s)",
            runner.name,
            "recovered" if recovered else "started",
            runner.id_attribute,
            job_id,
            task_ref(token),
            _describe_fields(runner, fields),
        )
        self.started.append(tracked)

    def _stop(self, fields: Mapping[str, Any]) -> str:
        stop = getattr(self.runner, "stop", None)
        if stop is None:
            return "this runner cannot stop jobs: it may still run"
        try:
            stop(fields)
        except Exception as exc:  # already failing: report what happened instead of raising
            logger.exception("%s: could not stop %s", self.runner.name, fields)
            return f"it could not be stopped ({type(exc).__name__}: {exc}) and may still run"
        return "it was stopped"

    def _fail_unrecorded(self, token: str, kind: str, cause: dict[str, Any]) -> None:
        """Answer a task that has no item: one direct attempt (the heartbeat timeout bounds a lost one)."""
        error = f"{self.runner.name}.{kind}"
        self.summary.add("rejected")
        logger.warning("%s: %s for %s: %s", self.runner.name, error, task_ref(token), cause["ErrorMessage"])
        send_failure(self.clients, token, error, cause)

    # -- an item found by the check pass ---------------------------------------------------------------------
    def visit(self, item: dict[str, Any]) -> None:
        phase = item.get(PHASE)
        if phase == STARTING:
            self.resume_start(item)
        elif phase == REPORTING:
            self.resume_report(item)
        else:
            self.check(item)

    def resume_start(self, item: dict[str, Any]) -> None:
        """Finish the start of a task whose run died (or could not record the job): never start it twice."""
        if not lease_expired(item):
            self.summary.add("starting")  # its run is alive and starting it now
            return
        lease = self.lease()
        if not self.store.take_over(item, lease):
            return
        item[LEASE_UNTIL] = lease
        token = str(item[TOKEN])
        if not _call_sfn(self.clients.sfn.send_task_heartbeat, task_ref(token), taskToken=token):
            logger.warning("%s: %s is gone; dropping its unfinished start", self.runner.name, task_ref(token))
            self.summary.add("expired")
            self.store.delete(item)
            return
        raw_input = item.get(TASK_INPUT) or None
        find_started = getattr(self.runner, "find_started", None)
        if find_started is not None:
            try:
                fields = find_started(parse_task_input(raw_input), token)
            except (InvalidInput, StartFailed) as exc:
                kind, cause = _start_refusal(self.runner, token, exc)
                self.report(item, _failure(f"{self.runner.name}.{kind}", cause), rejected=True)
                return
            # Any other error (a throttled lookup) propagates: the item stays, and once the lease runs out
            # a later run looks again; the task's heartbeat timeout bounds how long.
            if fields is not None:
                self.record_started(item, fields, recovered=True)
                return
        logger.info("%s: %s was claimed but never started; starting it", self.runner.name, task_ref(token))
        self.start(item, raw_input)

    def resume_report(self, item: dict[str, Any]) -> None:
        """Send an outcome a dead or failed run could not deliver."""
        if not lease_expired(item):
            return
        if not self.store.take_over(item, self.lease()):
            return
        self.deliver(item, dict(item.get(OUTCOME) or {}))

    def check(self, item: dict[str, Any], just_started: bool = False) -> None:
        """Check one tracked job: heartbeat while it runs, report it once when it ended. `just_started`: the
        look right after tracking, where only an ended job matters (no heartbeat, errors left to later)."""
        runner = self.runner
        token = str(item[TOKEN])
        ref = task_ref(token)
        job = f"{runner.id_attribute}={item.get(runner.id_attribute)} ({_describe_fields(runner, item)})"
        try:
            result = runner.check(item)
            if not isinstance(result, Running | Succeeded | Failed):
                raise TypeError(f"{runner.name}.check returned {result!r}, not Running/Succeeded/Failed")
        except Exception as exc:
            if just_started:
                logger.info(
                    "%s: first look at %s failed (checked later): %s", runner.name, job, _error_text(exc)
                )
                return
            self.check_failed(item, job, exc)
            return
        if just_started and isinstance(result, Running):
            return
        if item.get(CHECK_FAILURES):
            self.store.reset_check_failures(item)
        if isinstance(result, Running):
            self.summary.add("running")
            logger.info("%s %s is %s: heartbeat %s", runner.name, job, result.state, ref)
            if not _call_sfn(self.clients.sfn.send_task_heartbeat, ref, taskToken=token):
                # The execution was stopped or the task timed out (a retry may already run the job again):
                # nobody wants this result, so stop the job as Step Functions' own .sync integrations do.
                self.summary.add("expired")
                logger.warning(
                    "%s: %s no longer awaited by Step Functions (%s); %s and forgetting it",
                    runner.name,
                    job,
                    ref,
                    self._stop(item),
                )
                self.store.delete(item)
            return
        if isinstance(result, Succeeded):
            logger.info("%s %s %s: reporting success for %s", runner.name, job, result.state, ref)
            self.report(item, {"status": "success", "output": to_json(result.output)})
            return
        logger.warning(
            "%s %s %s: reporting %s for %s: %s",
            runner.name,
            job,
            result.state,
            runner.failure_error,
            ref,
            to_json(result.cause),
        )
        self.report(item, _failure(runner.failure_error, result.cause))

    def check_failed(self, item: dict[str, Any], job: str, exc: Exception) -> None:
        """A check that raised: keep the task alive a few times, then fail it rather than keep it forever."""
        self.summary.add("check_errors")
        logger.error("%s: error checking %s: %s", self.runner.name, job, _error_text(exc), exc_info=exc)
        failures = self.store.count_check_failure(item)
        limit = self.settings.max_check_failures
        if failures < limit:
            token = str(item[TOKEN])
            if not _call_sfn(self.clients.sfn.send_task_heartbeat, task_ref(token), taskToken=token):
                self.summary.add("expired")
                self.store.delete(item)
            return
        cause = {
            **{key: item.get(key) for key in _service_fields(self.runner, item)},
            "ErrorMessage": f"could not check {job} {failures} times in a row (limit {limit}); last error: "
            f"{_error_text(exc)}",
            "ErrorType": type(exc).__name__,
        }
        self.report(item, _failure(self.runner.failure_error, cause))

    # -- answering a task ------------------------------------------------------------------------------------
    def report(self, item: Mapping[str, Any], outcome: dict[str, Any], rejected: bool = False) -> None:
        """Answer the task of an item exactly once, even with another run checking the same item."""
        try:
            claimed = self.store.claim_report(item, outcome, self.lease())
        except (ClientError, BotoCoreError) as exc:
            # Without the claim another run may be reporting; the item stays and is reported by a later run.
            self.summary.add("report_errors")
            logger.error(
                "%s: cannot claim the report of %s: %s",
                self.runner.name,
                task_ref(str(item[TOKEN])),
                _error_text(exc),
            )
            return
        if not claimed:
            logger.info("%s: %s is reported by another run", self.runner.name, task_ref(str(item[TOKEN])))
            return
        self.deliver(item, outcome, rejected=rejected)

    def deliver(self, item: Mapping[str, Any], outcome: Mapping[str, Any], rejected: bool = False) -> None:
        token = str(item[TOKEN])
        ref = task_ref(token)
        sfn = self.clients.sfn
        try:
            if outcome.get("status") == "success":
                delivered = _call_sfn(sfn.send_task_success, ref, taskToken=token, output=outcome["output"])
                counter = "succeeded"
            else:
                delivered = _call_sfn(
                    sfn.send_task_failure,
                    ref,
                    taskToken=token,
                    error=outcome["error"],
                    cause=outcome["cause"],
                )
                counter = "rejected" if rejected else "failed"
        except (ClientError, BotoCoreError) as exc:
            # Kept in `reporting`: when the lease runs out a later run sends it again.
            self.summary.add("report_errors")
            logger.error(
                "%s: could not answer %s (a later run retries): %s", self.runner.name, ref, _error_text(exc)
            )
            return
        # A rejected task counts as rejected even when nobody waits for it any more: the start did not happen.
        self.summary.add(counter if delivered or rejected else "expired")
        self.store.delete(item)


def _failure(error: str, cause: Mapping[str, Any]) -> dict[str, Any]:
    return {"status": "failure", "error": error, "cause": encode_cause(cause)}


def _start_refusal(runner: Runner, token: str, exc: BaseException) -> tuple[str, dict[str, Any]]:
    """The error kind and cause for a start that did not happen."""
    if isinstance(exc, InvalidInput):
        return "InvalidInput", {"ErrorMessage": str(exc)}
    if isinstance(exc, StartFailed):
        return "StartFailed", {"ErrorMessage": str(exc)}
    if isinstance(exc, ClientError):
        return "StartFailed", {"ErrorMessage": _client_error_text(exc), "ErrorType": _error_code(exc)}
    logger.error("%s: unexpected error starting %s", runner.name, task_ref(token), exc_info=exc)
    return "StartFailed", {
        "ErrorMessage": f"unexpected {type(exc).__name__} while starting: {exc}",
        "ErrorType": type(exc).__name__,
    }


# --- check and report -----------------------------------------------------------------------------------


def check_active(
    runner: Runner, config: RunnerConfig, clients: Clients, context: Any, summary: RunSummary
) -> None:
    """Visit every item of the activity, resuming where the last run ran out of time; several at once."""
    work = _Work(runner, config, clients, context, summary)
    store = work.store
    try:
        cursor = store.read_cursor()
    except (ClientError, BotoCoreError) as exc:
        summary.add("check_errors")
        logger.error("cannot read the check cursor from %s: %s", config.ddb_table, _error_text(exc))
        cursor = None
    # From the resume point to the end, then from the start up to the resume point: every item once.
    segments = [(cursor, None), (None, cursor)] if cursor else [(None, None)]
    last_done: str | None = None
    with ThreadPoolExecutor(max_workers=work.settings.check_concurrency) as pool:
        try:
            for after, up_to in segments:
                for page in store.pages(after, up_to):
                    if not has_time(context, CHECK_RESERVE_MS):
                        summary.out_of_time = True
                        _save_cursor(store, last_done)
                        logger.warning(
                            "stop checking: %s ms left; the next run resumes after %s",
                            remaining_ms(context),
                            last_done,
                        )
                        return
                    for future in [pool.submit(_visit_safely, work, item) for item in page]:
                        future.result()
                    last_done = str(page[-1][runner.id_attribute])
        except (ClientError, BotoCoreError) as exc:
            summary.add("check_errors")
            logger.error("cannot read tracked jobs from %s: %s", config.ddb_table, _error_text(exc))
            _save_cursor(store, last_done)
            return
    if cursor:
        _save_cursor(store, None)


def _visit_safely(work: _Work, item: dict[str, Any]) -> None:
    """One item's error never stops the others; the item stays and is visited again next run."""
    try:
        work.visit(item)
    except Exception as exc:
        work.summary.add("check_errors")
        logger.error(
            "%s: error handling %s=%s: %s",
            work.runner.name,
            work.runner.id_attribute,
            item.get(work.runner.id_attribute),
            _error_text(exc),
            exc_info=exc,
        )


def _save_cursor(store: ItemStore, after: str | None) -> None:
    try:
        store.write_cursor(after)
    except (ClientError, BotoCoreError) as exc:  # the next run then starts from the beginning: nothing lost
        logger.error("cannot save the check cursor: %s", _error_text(exc))


def send_failure(clients: Clients, token: str, error: str, cause: Mapping[str, Any]) -> None:
    """SendTaskFailure that never raises: a task nobody waits for any more is only logged."""
    ref = task_ref(token)
    try:
        if not _call_sfn(
            clients.sfn.send_task_failure, ref, taskToken=token, error=error, cause=encode_cause(cause)
        ):
            logger.warning("failure %s for %s not delivered: the task is gone", error, ref)
    except (ClientError, BotoCoreError) as exc:
        logger.error("SendTaskFailure %s for %s failed: %s", error, ref, _error_text(exc))


def _call_sfn(method: Any, ref: str, **params: Any) -> bool:
    """Call a task-token API; False when the token is gone (other errors propagate)."""
    try:
        method(**params)
    except ClientError as exc:
        if _error_code(exc) in TOKEN_GONE_ERRORS:
            logger.warning("Step Functions says %s for %s", _error_code(exc), ref)
            return False
        raise
    return True


# --- encoding helpers -----------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return str(value)


def to_json(value: Any) -> str:
    return json.dumps(value, default=_json_default)


def encode_cause(cause: Mapping[str, Any]) -> str:
    """JSON cause within Step Functions' 32 768-character limit (long messages are cut, not dropped)."""
    text = to_json(cause)
    if len(text) <= MAX_CAUSE_CHARS:
        return text
    shortened = {
        key: (value[:2000] + "...(truncated)") if isinstance(value, str) and len(value) > 2000 else value
        for key, value in cause.items()
    }
    text = to_json(shortened)
    if len(text) <= MAX_CAUSE_CHARS:
        return text
    return to_json({"ErrorMessage": text[: MAX_CAUSE_CHARS - 100] + "...(truncated)"})


def client_error_message(exc: ClientError) -> str:
    """`Code: Message` of a botocore ClientError, the part of it an operator needs in a cause."""
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'Unknown')}: {error.get('Message', str(exc))}"


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def _client_error_text(exc: ClientError) -> str:
    operation = getattr(exc, "operation_name", "call")
    return f"{operation} failed: {client_error_message(exc)}"


def _error_text(exc: Exception) -> str:
    return _client_error_text(exc) if isinstance(exc, ClientError) else f"{type(exc).__name__}: {exc}"


def _describe_fields(runner: Runner, fields: Mapping[str, Any]) -> str:
    """The service fields of an item (job name, database...) for log lines; never the token."""
    return ", ".join(f"{key}={fields[key]}" for key in _service_fields(runner, fields)) or "-"


def _service_fields(runner: Runner, item: Mapping[str, Any]) -> list[str]:
    return [key for key in item if key != runner.id_attribute and key not in CORE_ATTRIBUTES]
