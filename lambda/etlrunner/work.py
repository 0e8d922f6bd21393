"""What one run does with a task and its item: claim, start, track, check, report.

Every step that could lose a task or answer it twice is a conditional write of store.py: a claimed task is
recorded before its job starts, a started job is tracked exactly once, and only the run whose write enters
`reporting` answers the task.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from etlrunner.clients import Clients
from etlrunner.config import RunnerConfig
from etlrunner.inputs import parse_task_input
from etlrunner.interface import Failed, InvalidInput, Runner, Running, StartFailed, Succeeded
from etlrunner.items import STARTING_PREFIX, TaskItem
from etlrunner.nudge import send_nudge
from etlrunner.settings import RunSettings, load_settings
from etlrunner.sfn import (
    call_with_token,
    encode_cause,
    error_code,
    error_name,
    error_text,
    is_access_denied,
    is_transient,
    send_failure,
    task_ref,
    to_json,
)
from etlrunner.store import ItemStore
from etlrunner.summary import RunSummary
from etlrunner.timing import has_time, lease_until

logger = logging.getLogger("etlrunner")

# A write that a throttle or a 5xx refused (after botocore's own retries) is tried this many more times, this
# long apart, before the run gives up on it: the task's record must not be lost to a passing throttle.
WRITE_RETRY_DELAYS_S = (1.0, 2.0, 4.0, 8.0)
# A start refused for now (a throttle, a 5xx) is tried again by a later run after this long (the recovery
# tick, every minute), up to MAX_START_ATTEMPTS times in all (settings.py) before the task fails.
START_RETRY_SECONDS = 20


@dataclass
class TaskWork:
    """What one run does with tasks and items; every step that can lose a task is a conditional write."""

    runner: Runner
    config: RunnerConfig
    clients: Clients
    context: Any
    summary: RunSummary
    settings: RunSettings = field(default_factory=load_settings)
    started: list[TaskItem] = field(default_factory=list)  # items of the jobs this run started
    held: list[TaskItem] = field(default_factory=list)  # items another run held when visited (tick)

    @property
    def store(self) -> ItemStore:
        return ItemStore(self.clients, self.config, self.runner.id_attribute)

    def lease(self) -> float:
        """Until when this run may hold an item: never past its own end (a Lambda cannot outlive it)."""
        return lease_until(self.context, self.settings.lease_seconds)

    # -- a task just claimed ---------------------------------------------------------------------------------
    def claimed(self, token: str, raw_input: str | None) -> None:
        """Record the claimed task first, then start its job: a crash from here on loses nothing."""
        ref = task_ref(token)
        now = dt.datetime.now(dt.UTC).isoformat()
        try:
            item = self._retried(
                lambda: self.store.put_starting(ref, token, raw_input, now, self.lease()), token
            )
        except (ClientError, BotoCoreError) as exc:
            # Nothing was started; without a record no later run could answer the task, so answer it now.
            cause = {
                "ErrorMessage": f"could not record the task in DynamoDB table {self.config.ddb_table} before "
                f"starting its job, so nothing was started: {error_text(exc)}",
                "ErrorType": error_name(exc),
            }
            self._fail_unrecorded(token, "StartFailed", cause)
            return
        self.start(item, raw_input)

    def start(self, item: TaskItem, raw_input: str | None) -> None:
        """Start the job of a `starting` item and track it; any refusal answers the task at once."""
        token = item.token
        runner = self.runner
        try:
            fields = runner.start(parse_task_input(raw_input), token)
        except (InvalidInput, StartFailed, ClientError, Exception) as exc:
            if not isinstance(exc, InvalidInput) and is_transient(exc) and self._start_later(item, exc):
                return
            kind, cause = _start_refusal(runner, token, exc)
            self.report(item, _failure(f"{runner.name}.{kind}", cause), rejected=True)
            return
        self.record_started(item, fields)

    def _start_later(self, item: TaskItem, exc: BaseException) -> bool:
        """Leave a start that a throttle or a 5xx refused to a later run (find_started first, so a start that
        went through after all is not repeated); False once it has been tried MAX_START_ATTEMPTS times."""
        attempts = item.start_attempts + 1
        if attempts >= self.settings.max_start_attempts:
            return False
        try:
            if self.store.retry_start_later(item, time.time() + START_RETRY_SECONDS) is None:
                return True  # no longer this run's item: another run took it over
        except (ClientError, BotoCoreError) as write_error:
            logger.warning("%s: could not note the retry: %s", self.runner.name, error_text(write_error))
            return True  # the item keeps its lease and is taken over when it runs out
        self.summary.add("start_retries")
        logger.warning(
            "%s: the start of %s was refused for now (%s); a later run tries again in %s s (try %s of %s)",
            self.runner.name,
            task_ref(item.token),
            error_text(exc),
            START_RETRY_SECONDS,
            attempts,
            self.settings.max_start_attempts,
        )
        return True

    def _retried(self, write: Callable[[], Any], token: str) -> Any:
        """A DynamoDB write that must not be lost to a passing throttle: botocore's retries, then ours. The
        task of `token` gets a heartbeat before each of ours: the retries of one write can outlast the task's
        HeartbeatSeconds on a slow day (each try is botocore's six attempts, up to 31 s of backoff)."""
        for delay in WRITE_RETRY_DELAYS_S:
            try:
                return write()
            except (ClientError, BotoCoreError) as exc:
                if not is_transient(exc) or not has_time(self.context, int(delay * 1000) + 30_000):
                    raise
                logger.warning("%s: %s; trying again in %.0f s", self.runner.name, error_text(exc), delay)
                self._heartbeat_while_retrying(token)
                time.sleep(delay)
        return write()

    def _heartbeat_while_retrying(self, token: str) -> None:
        """Best effort: a refused heartbeat must not end the retries (a later step finds a task gone)."""
        try:
            call_with_token(self.clients.sfn.send_task_heartbeat, task_ref(token), taskToken=token)
        except (ClientError, BotoCoreError) as exc:
            logger.warning("%s: heartbeat while retrying failed: %s", self.runner.name, error_text(exc))

    def record_started(self, item: TaskItem, fields: Any, recovered: bool = False) -> None:
        runner = self.runner
        token = item.token
        job_id = fields.get(runner.id_attribute) if isinstance(fields, Mapping) else None
        try:
            if not isinstance(job_id, str) or not job_id or job_id.startswith(STARTING_PREFIX):
                raise ValueError(f"runner returned no usable {runner.id_attribute}: {job_id!r}")
            tracked = self._retried(
                lambda: self.store.track(item, fields, dt.datetime.now(dt.UTC).isoformat()), token
            )
        except Exception as exc:  # the job would run untracked: stop it and say so, with its id
            if is_transient(exc) and self._start_later(item, exc):
                # The `starting` item stays: a later run finds the job (find_started) and tracks it.
                logger.warning(
                    "%s: started %s=%s; tracking it is left to a later run",
                    runner.name,
                    runner.id_attribute,
                    job_id,
                )
                return
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
            describe_fields({k: v for k, v in fields.items() if k != runner.id_attribute}),
        )
        if recovered:
            self.check(tracked)  # in this pass: the job may have ended while nobody tracked it
        else:
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
        if send_failure(self.clients.sfn, token, error, cause):
            self.nudge()  # best effort: no record is left to send it again from

    # -- an item found by the check pass ---------------------------------------------------------------------
    def visit(self, item: TaskItem, heartbeat_only: bool = False) -> None:
        """One item of the check pass; `heartbeat_only` (the recovery tick): a tracked job is only kept alive,
        not checked with its service (its end event answers it; the schedule checks it)."""
        if item.starting:
            self.resume_start(item, heartbeat_only)
        elif item.reporting:
            if heartbeat_only and not item.lease_expired():
                self.held.append(item)
            self.resume_report(item)
        elif heartbeat_only:
            self.heartbeat(item)
        else:
            self.check(item)

    def resume_start(self, item: TaskItem, heartbeat_only: bool = False) -> None:
        """Finish the start of a task whose run died (or could not record the job): never start it twice."""
        if not item.lease_expired():
            self.summary.add("starting")  # its run is alive and starting it now (or retries it later)
            if heartbeat_only:
                self._keep_alive(item)
                self.held.append(item)
            return
        lease = self.lease()
        if not self.store.take_over(item, lease):
            return
        token = item.token
        if not call_with_token(self.clients.sfn.send_task_heartbeat, task_ref(token), taskToken=token):
            logger.warning("%s: %s is gone; dropping its unfinished start", self.runner.name, task_ref(token))
            self.summary.add("expired")
            self.store.delete(item)
            return
        raw_input = item.task_input or None
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

    def resume_report(self, item: TaskItem) -> None:
        """Send an outcome a dead or failed run could not deliver."""
        if not item.lease_expired():
            return
        if not self.store.take_over(item, self.lease()):
            return
        self.deliver(item, dict(item.outcome or {}))

    def heartbeat(self, item: TaskItem) -> None:
        """Keep a tracked job's task alive without asking its service (the recovery tick)."""
        self.summary.add("running")
        self._keep_alive(item, stop_if_gone=True)

    def _keep_alive(self, item: TaskItem, stop_if_gone: bool = False) -> None:
        token = item.token
        if call_with_token(self.clients.sfn.send_task_heartbeat, task_ref(token), taskToken=token):
            return
        if stop_if_gone:
            self._forget_unwanted(item, self._job_text(item))

    def _job_text(self, item: TaskItem) -> str:
        runner = self.runner
        return f"{runner.id_attribute}={item.key} ({describe_fields(item.fields)})"

    def _forget_unwanted(self, item: TaskItem, job: str) -> None:
        """The execution was stopped or the task timed out (a retry may already run the job again): nobody
        wants this result, so stop the job as Step Functions' own .sync integrations do."""
        self.summary.add("expired")
        logger.warning(
            "%s: %s no longer awaited by Step Functions (%s); %s and forgetting it",
            self.runner.name,
            job,
            task_ref(item.token),
            self._stop(item.for_runner(self.runner.id_attribute)),
        )
        self.store.delete(item)

    def check(self, item: TaskItem, just_started: bool = False) -> None:
        """Check one tracked job: heartbeat while it runs, report it once when it ended. `just_started`: the
        look right after tracking, where only an ended job matters (no heartbeat, errors left to later)."""
        runner = self.runner
        token = item.token
        ref = task_ref(token)
        job = self._job_text(item)
        try:
            result = runner.check(item.for_runner(runner.id_attribute))
            if not isinstance(result, Running | Succeeded | Failed):
                raise TypeError(f"{runner.name}.check returned {result!r}, not Running/Succeeded/Failed")
        except Exception as exc:
            if just_started:
                logger.info(
                    "%s: first look at %s failed (checked later): %s", runner.name, job, error_text(exc)
                )
                return
            self.check_failed(item, job, exc)
            return
        if just_started and isinstance(result, Running):
            return
        if item.check_failures:
            self.store.reset_check_failures(item)
        if isinstance(result, Running):
            self.summary.add("running")
            logger.info("%s %s is %s: heartbeat %s", runner.name, job, result.state, ref)
            if not call_with_token(self.clients.sfn.send_task_heartbeat, ref, taskToken=token):
                self._forget_unwanted(item, job)
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

    def check_failed(self, item: TaskItem, job: str, exc: Exception) -> None:
        """A check that raised: keep the task alive a few times, then fail it rather than keep it forever."""
        self.summary.add("check_errors")
        logger.error("%s: error checking %s: %s", self.runner.name, job, error_text(exc), exc_info=exc)
        if is_access_denied(exc):
            # The runner's role may not describe the job: no later check can do better, so say so now.
            cause = {
                **item.fields,
                "ErrorMessage": f"could not check {job}: {error_text(exc)}",
                "ErrorType": "AccessDenied",
            }
            self.report(item, _failure(self.runner.failure_error, cause))
            return
        failures = self.store.count_check_failure(item)
        limit = self.settings.max_check_failures
        if failures < limit:
            token = item.token
            if not call_with_token(self.clients.sfn.send_task_heartbeat, task_ref(token), taskToken=token):
                self.summary.add("expired")
                self.store.delete(item)
            return
        cause = {
            **item.fields,
            "ErrorMessage": f"could not check {job} {failures} times in a row (limit {limit}); last error: "
            f"{error_text(exc)}",
            "ErrorType": type(exc).__name__,
        }
        self.report(item, _failure(self.runner.failure_error, cause))

    # -- answering a task ------------------------------------------------------------------------------------
    def report(self, item: TaskItem, outcome: dict[str, Any], rejected: bool = False) -> None:
        """Answer the task of an item exactly once, even with another run checking the same item."""
        try:
            claimed = self.store.claim_report(item, outcome, self.lease())
        except (ClientError, BotoCoreError) as exc:
            # Without the claim another run may be reporting; the item stays and is reported by a later run.
            self.summary.add("report_errors")
            logger.error(
                "%s: cannot claim the report of %s: %s",
                self.runner.name,
                task_ref(item.token),
                error_text(exc),
            )
            return
        if not claimed:
            logger.info("%s: %s is reported by another run", self.runner.name, task_ref(item.token))
            return
        self.deliver(item, outcome, rejected=rejected)

    def deliver(self, item: TaskItem, outcome: Mapping[str, Any], rejected: bool = False) -> None:
        """Send the outcome, then the nudge, then forget the item: a run that dies between them leaves the
        item in `reporting`, and the run that takes it over sends both again (an answer Step Functions
        already has comes back "gone"), so no answer and no nudge is lost."""
        token = item.token
        ref = task_ref(token)
        try:
            delivered = self._send(token, ref, outcome)
        except (ClientError, BotoCoreError) as exc:
            if not (outcome.get("status") == "success" and is_access_denied(exc)):
                # Kept in `reporting`: when the lease runs out a later run sends it again.
                self.summary.add("report_errors")
                logger.error(
                    "%s: could not answer %s (a later run retries): %s",
                    self.runner.name,
                    ref,
                    error_text(exc),
                )
                return
            # The role may not report success: the workflow must learn it from a failure naming the call.
            logger.error("%s: SendTaskSuccess for %s was refused: %s", self.runner.name, ref, error_text(exc))
            refusal = {"ErrorMessage": f"could not report the job's success: {error_text(exc)}"}
            self.deliver(item, _failure(f"{self.runner.name}.AccessDenied", refusal))
            return
        counter = "rejected" if rejected else "failed"
        if outcome.get("status") == "success":
            counter = "succeeded"
        # A rejected task counts as rejected even when nobody waits for it any more: the start did not happen.
        self.summary.add(counter if delivered or rejected else "expired")
        if not self.nudge():
            return  # kept in `reporting`: the run that takes it over nudges
        self.store.delete(item)

    def _send(self, token: str, ref: str, outcome: Mapping[str, Any]) -> bool:
        sfn = self.clients.sfn
        if outcome.get("status") == "success":
            return call_with_token(sfn.send_task_success, ref, taskToken=token, output=outcome["output"])
        return call_with_token(
            sfn.send_task_failure, ref, taskToken=token, error=outcome["error"], cause=outcome["cause"]
        )

    def nudge(self) -> bool:
        """Tell the runners and ons3objectcreated that a task may be ready (nudge.py). True when sent, or
        when nudges are off (no events client: tests that drive one runner alone)."""
        if self.clients.events is None:
            return True
        if send_nudge(self.clients.events, self.runner.name, self.config.sfn_activity_arn, 1):
            self.summary.add("nudged")
            return True
        return False


def _failure(error: str, cause: Mapping[str, Any]) -> dict[str, Any]:
    return {"status": "failure", "error": error, "cause": encode_cause(cause)}


def _start_refusal(runner: Runner, token: str, exc: BaseException) -> tuple[str, dict[str, Any]]:
    """The error kind and cause for a start that did not happen."""
    if isinstance(exc, InvalidInput):
        return "InvalidInput", {"ErrorMessage": str(exc)}
    if isinstance(exc, StartFailed):
        return "StartFailed", {"ErrorMessage": str(exc)}
    if isinstance(exc, ClientError):
        return "StartFailed", {"ErrorMessage": error_text(exc), "ErrorType": error_code(exc)}
    logger.error("%s: unexpected error starting %s", runner.name, task_ref(token), exc_info=exc)
    return "StartFailed", {
        "ErrorMessage": f"unexpected {type(exc).__name__} while starting: {exc}",
        "ErrorType": type(exc).__name__,
    }


def describe_fields(fields: Mapping[str, Any]) -> str:
    """A runner's fields of an item (job name, database...) for log lines; never the token."""
    return ", ".join(f"{key}={value}" for key, value in fields.items()) or "-"
