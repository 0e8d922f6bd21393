"""Polling an activity: at most one run at a time (poller.py's lease), until no task is waiting.

Each task a poll returns is handed to TaskWork.claimed (work.py): recorded first, then started.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from etlrunner.checks import look_at_started
from etlrunner.clients import Clients
from etlrunner.config import RunnerConfig
from etlrunner.interface import Runner
from etlrunner.items import TaskItem
from etlrunner.poller import REPOLL_MARGIN_SECONDS, PollerLease
from etlrunner.settings import load_settings
from etlrunner.sfn import error_text, poll_reserve_ms
from etlrunner.summary import RunSummary
from etlrunner.timing import has_time, hold_until, remaining_ms
from etlrunner.work import TaskWork

logger = logging.getLogger("etlrunner")


def iso_time(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="seconds")


def poll_and_look(
    runner: Runner,
    config: RunnerConfig,
    clients: Clients,
    context: Any,
    summary: RunSummary,
    clear_repoll: bool = False,
) -> None:
    started = poll_with_lease(runner, config, clients, context, summary, clear_repoll)
    look_at_started(runner, config, clients, context, summary, started)


def poll_with_lease(
    runner: Runner,
    config: RunnerConfig,
    clients: Clients,
    context: Any,
    summary: RunSummary,
    clear_repoll: bool = False,
) -> list[TaskItem]:
    """Poll the activity unless another run is polling it (see poller.py); poll again when woken. Returns
    the items of the jobs this run started. `clear_repoll`: the poll was owed to a due repoll, which a
    complete poll settles."""
    started: list[TaskItem] = []
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
        if lease.dead_holder_polled_at is not None:
            # The run that held the lease died; a task it was handed may come back after its heartbeat.
            again = (
                lease.dead_holder_polled_at + load_settings().task_heartbeat_seconds + REPOLL_MARGIN_SECONDS
            )
            lease.schedule_repoll(again)
            logger.warning(
                "%s: took over the poll lease of a run that died; polling now, and again at %s in case it "
                "died holding a task",
                runner.name,
                iso_time(again),
            )
    except (ClientError, BotoCoreError) as exc:
        # The lease only saves duplicate polls; correctness lies in the item writes. Poll without it.
        logger.warning("%s: poll lease unavailable (%s); polling anyway", runner.name, error_text(exc))
        return poll_and_start(runner, config, clients, context, summary)
    polled_from = time.time()
    try:
        while True:
            started += poll_and_start(
                runner, config, clients, context, summary, before_poll=lambda: _renew(lease, context)
            )
            if summary.out_of_time or summary.poll_error:
                lease.release(force=True)
                return started
            if lease.release():
                if clear_repoll:
                    lease.repoll_done(polled_from)
                return started
            # Woken while polling (or the lease was taken over): poll again if the lease is still ours.
            if not lease.renew(_poll_lease_until(context)):
                return started
    except (ClientError, BotoCoreError) as exc:
        # The lease runs out by itself, and the recovery tick then polls.
        logger.warning("%s: could not update the poll lease: %s", runner.name, error_text(exc))
    return started


def _renew(lease: PollerLease, context: Any) -> None:
    """Extend the lease before another long poll; a failure only risks a second poller, which is safe."""
    try:
        lease.renew(_poll_lease_until(context))
    except (ClientError, BotoCoreError) as exc:
        logger.warning("could not renew the poll lease: %s", error_text(exc))


def _poll_lease_until(context: Any) -> float:
    """A long poll and a start, never past the Lambda's own end (a dead run's lease must run out)."""
    return hold_until(context, load_settings().poll_lease_seconds)


# --- poll and start -------------------------------------------------------------------------------------


def poll_and_start(
    runner: Runner,
    config: RunnerConfig,
    clients: Clients,
    context: Any,
    summary: RunSummary,
    before_poll: Callable[[], Any] | None = None,
) -> list[TaskItem]:
    """Claim tasks until none is waiting or the Lambda is running out of time; returns the items of the
    jobs started."""
    work = TaskWork(runner, config, clients, context, summary)
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
            summary.poll_error = error_text(exc)
            logger.error("GetActivityTask on %s failed: %s", config.sfn_activity_arn, summary.poll_error)
            return work.started
        token = response.get("taskToken")
        if not token:
            logger.info("no waiting task on %s", config.sfn_activity_arn)
            return work.started
        work.claimed(token, response.get("input"))
