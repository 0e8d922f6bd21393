"""The recovery tick (triggers.py): what bounds every recovery to a lease plus about a minute.

Events move a workflow on; this finishes what a run that died or was refused left behind, every minute:

- every task the runner holds is heartbeated (no service call: its end event answers it, the schedule checks
  it), so that the tasks' HeartbeatSeconds can be short;
- a start or an answer whose run died is finished once its lease has run out (work.py); one whose lease runs
  out within the tick's period is waited for here, so that it does not wait for the next tick;
- a poll is made when one is owed: a poller died or gave up (its lease ran out and it left the item, see
  poller.py), or a task a dead poller had just been handed is due back after its heartbeat timeout.

Idle (nothing tracked, no lease), it is two DynamoDB reads.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from etlrunner.checks import check_active, visit_safely
from etlrunner.clients import Clients
from etlrunner.config import RunnerConfig
from etlrunner.interface import Runner
from etlrunner.items import TaskItem
from etlrunner.poller import PollerLease, PollState
from etlrunner.polling import poll_and_look
from etlrunner.sfn import SFN_READ_TIMEOUT_S, error_text, poll_reserve_ms
from etlrunner.summary import RunSummary
from etlrunner.timing import has_time
from etlrunner.work import TaskWork

logger = logging.getLogger("etlrunner")

# The tick waits for what falls due within this long (its rule fires every minute).
WAIT_MAX_S = 65
# How often a waiting tick looks again (a live run's start or poll ends, and the wait with it).
WAIT_STEP_S = 5.0


class Waiter:
    """Whether this tick may wait: only one tick of a runner waits at a time (poller.py's waiter item), so
    that overlapping ticks never hold the runner's reserved concurrency away from its events."""

    def __init__(self, lease: PollerLease, until: float) -> None:
        self.lease, self.until, self.held = lease, until, False

    def may_wait(self) -> bool:
        if not self.held:
            try:
                self.held = self.lease.claim_waiter(self.until)
            except (ClientError, BotoCoreError) as exc:
                logger.warning("cannot claim the tick's waiter item (not waiting): %s", error_text(exc))
        return self.held

    def done(self) -> None:
        if self.held:
            try:
                self.lease.release_waiter()
            except (ClientError, BotoCoreError) as exc:  # it runs out by itself
                logger.warning("cannot release the tick's waiter item: %s", error_text(exc))


def tick(runner: Runner, config: RunnerConfig, clients: Clients, context: Any, summary: RunSummary) -> None:
    until = time.time() + WAIT_MAX_S  # what falls due before this is waited for; the next tick does the rest
    held = check_active(runner, config, clients, context, summary, heartbeat_only=True)
    work = TaskWork(runner, config, clients, context, summary)
    waiter = Waiter(PollerLease(clients, config, runner.id_attribute), until)
    try:
        _finish_held(work, held, until, waiter)
        owed = _poll_owed(runner, config, clients, context, summary, until, waiter)
    finally:
        waiter.done()
    if owed:
        poll_and_look(runner, config, clients, context, summary, clear_repoll=owed == "repoll")


def _finish_held(work: TaskWork, held: list[TaskItem], until: float, waiter: Waiter) -> None:
    """Items another run holds (a start or an answer in flight): a live run lets go within seconds, a dead
    one's lease runs out. Those whose lease runs out before `until` are waited for and finished here."""
    due = [item for item in held if (item.lease_until or 0) <= until]
    while due and _can_wait(work.context, 0) and waiter.may_wait():
        time.sleep(WAIT_STEP_S if min(i.lease_until or 0 for i in due) > time.time() + WAIT_STEP_S else 0.5)
        still: list[TaskItem] = []
        for item in due:
            fresh = work.store.get(item.key)
            if fresh is None or fresh.token != item.token or (fresh.lease_until or 0) > until:
                continue  # done, or held by a run that is alive (it renewed): not the tick's
            if fresh.lease_expired():
                logger.info(
                    "%s: the run holding %s died; finishing it",
                    work.runner.name,
                    fresh.key,
                )
                visit_safely(work, fresh, heartbeat_only=True)
                continue
            still.append(fresh)
        due = still


def _can_wait(context: Any, wait_s: float) -> bool:
    """Room for the wait, a long poll and the work after it, in what the Lambda has left."""
    return has_time(context, int(wait_s * 1000) + poll_reserve_ms())


def _poll_owed(
    runner: Runner,
    config: RunnerConfig,
    clients: Clients,
    context: Any,
    summary: RunSummary,
    until: float,
    waiter: Waiter,
) -> str | None:
    """Why the tick must poll: "owed" (a poller died or gave up) or "repoll" (a task a dead poller took is
    due back); None: no poll. What falls due before `until` is waited for: a repoll, or the lease of a poller
    that looks dead (its poll should have returned, and it has not renewed since)."""
    lease = PollerLease(clients, config, runner.id_attribute)
    while True:
        try:
            state = lease.state()
        except (ClientError, BotoCoreError) as exc:
            summary.add("check_errors")
            logger.error("%s: cannot read the poll lease: %s", runner.name, error_text(exc))
            return None
        now = time.time()
        if state.repoll_due(now):
            return "repoll"
        if state.poll_owed(now):
            return "owed"
        due_at = _next_due(state, now)
        if due_at is None or due_at > until or not _can_wait(context, due_at - now) or not waiter.may_wait():
            return None
        logger.info(
            "%s: waiting %.0f s for a poll that falls due (a poller that died)", runner.name, due_at - now
        )
        time.sleep(min(max(due_at - now, 0.0) + 1.0, WAIT_STEP_S))


def _next_due(state: PollState, now: float) -> float | None:
    """When a poll falls due without any run asking: a repoll (unless a live poller will get the task), or
    the lease of a poller silent for longer than a long poll lasts."""
    if state.held(now):
        silent = state.polled_at is None or now - state.polled_at > SFN_READ_TIMEOUT_S + WAIT_STEP_S
        return state.lease_until if silent else None
    return state.repoll_at
