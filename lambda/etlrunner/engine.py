"""Poll → start → track → check → report: one run of a runner, as its trigger asks (see triggers.py).

The steps live in their own modules: work.py (one task and its item), checks.py (the check pass), poller.py
(one poller per activity), store.py (the table's conditional writes), sfn.py (Step Functions calls).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from etlrunner.checks import check_active, check_job, look_at_started
from etlrunner.clients import Clients
from etlrunner.config import RunnerConfig
from etlrunner.interface import Runner
from etlrunner.nudge import send_nudge
from etlrunner.poller import PollerLease
from etlrunner.settings import load_settings
from etlrunner.sfn import error_text, poll_reserve_ms
from etlrunner.summary import RunSummary
from etlrunner.timing import has_time, hold_until, remaining_ms
from etlrunner.triggers import classify
from etlrunner.work import TaskWork

logger = logging.getLogger("etlrunner")


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
        logger.warning("%s: poll lease unavailable (%s); polling anyway", runner.name, error_text(exc))
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
) -> list[dict[str, Any]]:
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
