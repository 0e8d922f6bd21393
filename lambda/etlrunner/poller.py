"""At most one run of a runner polls its activity at a time; a nudge to a busy runner is never lost.

Every nudge (and every scheduled run) invokes the runner, and an activity poll that finds nothing holds a
Lambda for a full 60 s long poll. Without this, a burst of answers (thousands of jobs ending) would start as
many 60 s polls. Instead one item per activity (hash ``<activity ARN>#poller``, range ``poller``) holds:

- ``wakeups``: a counter every run that wants a poll increments first;
- ``holder`` / ``lease_until``: the run that polls now, and until when (renewed before each long poll).

A run increments ``wakeups``, then takes the lease if it is free or expired. If another run holds it, this
run ends at once: the holder sees the new count when it tries to leave and polls again. The holder polls
until the activity is empty, then releases the lease only if ``wakeups`` is still what it saw before that
poll (a conditional delete of the item); otherwise it polls once more. So a task made ready at any moment
is either handed to a poll in progress (a long poll returns as soon as a task is there) or polled for by
the holder's next round or by the next run.

A holder that dies keeps the lease until ``lease_until`` and leaves the item behind; a holder whose poll
failed gives the lease up by expiring it, and leaves the item too. An item whose lease has run out therefore
means "a poll is owed": the recovery tick (every minute, see engine.py) polls for it, so the nudges a dead
holder missed wait for its lease plus at most a minute, not for the schedule. The holder records when each
poll begins (``polled_at``): a holder that died may have died holding a task it had just been handed, whose
token only it knew. That task comes back by itself once the state's ``HeartbeatSeconds`` run out (the state's
Retry on ``States.HeartbeatTimeout`` schedules it again), so the run that takes over a dead holder's lease
also leaves a ``repoll`` item (range ``repoll``, attribute ``at`` = ``polled_at`` + heartbeat + margin), and
the tick polls again at that time.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from etlrunner.clients import Clients
from etlrunner.config import RunnerConfig
from etlrunner.store import ACTIVITY, is_condition_failure

POLLER_SUFFIX = "#poller"
POLLER_RANGE = "poller"
REPOLL_RANGE = "repoll"
WAITER_RANGE = "tick-waiter"
WAKEUPS = "wakeups"
HOLDER = "holder"
LEASE_UNTIL = "lease_until"
POLLED_AT = "polled_at"
REPOLL_AT = "at"
# After a lost task's heartbeat timeout, Step Functions times the task out and the state's Retry (1 s)
# schedules it again; a few seconds more cover the timer's own slack.
REPOLL_MARGIN_SECONDS = 5


@dataclass(frozen=True)
class PollState:
    """What the poll items of an activity say now (see the module docstring)."""

    lease_until: float | None  # None: no lease item (nobody polls, nothing owed)
    holder: str | None
    repoll_at: float | None
    polled_at: float | None = None  # when the holder's last poll began

    def poll_owed(self, now: float) -> bool:
        """A holder died or gave up (its lease ran out and it left the item): a poll is owed. Whole seconds,
        as `acquire` compares them."""
        return self.lease_until is not None and self.lease_until < math.floor(now)

    def repoll_due(self, now: float) -> bool:
        return self.repoll_at is not None and self.repoll_at <= now

    def held(self, now: float) -> bool:
        return self.lease_until is not None and self.lease_until >= now and self.holder is not None


@dataclass
class PollerLease:
    """The poll lease of one runner's activity, for one run."""

    clients: Clients
    config: RunnerConfig
    id_attribute: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    seen: int = 0  # the wakeups count this run last polled for
    # When the poll of the holder this run took the lease from began, if that holder died holding it.
    dead_holder_polled_at: float | None = None

    @property
    def _key(self) -> dict[str, Any]:
        return self._key_of(POLLER_RANGE)

    def _key_of(self, range_value: str) -> dict[str, Any]:
        return {
            ACTIVITY: {"S": self.config.sfn_activity_arn + POLLER_SUFFIX},
            self.id_attribute: {"S": range_value},
        }

    def state(self) -> PollState:
        """The lease and repoll items, in one consistent read of their hash key."""
        response = self.clients.dynamodb.query(
            TableName=self.config.ddb_table,
            KeyConditionExpression="#activity = :key",
            ExpressionAttributeNames={"#activity": ACTIVITY},
            ExpressionAttributeValues={":key": self._key[ACTIVITY]},
            ConsistentRead=True,
        )
        items = {item[self.id_attribute]["S"]: item for item in response.get("Items", [])}
        lease_item, repoll_item = items.get(POLLER_RANGE), items.get(REPOLL_RANGE)
        return PollState(
            lease_until=_number(lease_item, LEASE_UNTIL, default=0.0) if lease_item is not None else None,
            holder=(lease_item or {}).get(HOLDER, {}).get("S"),
            repoll_at=_number(repoll_item, REPOLL_AT),
            polled_at=_number(lease_item, POLLED_AT),
        )

    def wake(self) -> None:
        """Count one more reason to poll (before trying for the lease, so a holder can see it)."""
        self.clients.dynamodb.update_item(
            TableName=self.config.ddb_table,
            Key=self._key,
            UpdateExpression="ADD #wakeups :one",
            ExpressionAttributeNames={"#wakeups": WAKEUPS},
            ExpressionAttributeValues={":one": {"N": "1"}},
        )

    def acquire(self, until: float) -> bool:
        """Take the lease if nobody holds it (or its holder's lease ran out); False if another run polls.

        The count starts at 0 when the item is gone: a holder's forced release may delete it between this
        run's wake and this acquire, and a lease without a count could never be released (``release``
        compares the count), so the run would poll until its Lambda ran out of time.

        Taking the lease from a holder that left it behind (``holder`` still set: it died) notes when that
        holder's last poll began, in ``dead_holder_polled_at`` (see ``schedule_repoll``)."""
        old = self._hold(
            until,
            "SET #holder = :me, #lease = :until, #wakeups = if_not_exists(#wakeups, :zero)",
            "attribute_not_exists(#lease) OR #lease < :now",
            {":now": {"N": str(math.floor(time.time()))}, ":zero": {"N": "0"}},
            {"#wakeups": WAKEUPS},
            returned="ALL_OLD",
        )
        if old is None:
            return False
        if HOLDER in old and POLLED_AT in old:
            self.dead_holder_polled_at = float(old[POLLED_AT]["N"])
        return True

    def renew(self, until: float) -> bool:
        """Extend the lease before another long poll, noting when the poll begins; False if it was lost
        (this run took too long)."""
        return (
            self._hold(
                until,
                "SET #lease = :until, #polled = :now",
                "#holder = :me",
                {":now": {"N": str(math.floor(time.time()))}},
                {"#polled": POLLED_AT},
            )
            is not None
        )

    def _hold(
        self,
        until: float,
        update: str,
        condition: str,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
        returned: str = "ALL_NEW",
    ) -> dict[str, Any] | None:
        """A conditional update of the lease; on success, remember the wakeups count it saw and return the
        item as `returned` asks (ALL_OLD: as it was; the count is the same, as the update keeps it), else
        None."""
        try:
            response = self.clients.dynamodb.update_item(
                TableName=self.config.ddb_table,
                Key=self._key,
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#holder": HOLDER, "#lease": LEASE_UNTIL, **(names or {})},
                ExpressionAttributeValues={
                    ":me": {"S": self.run_id},
                    ":until": {"N": str(math.ceil(until))},
                    **values,
                },
                ReturnValues=returned,
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return None
            raise
        attributes = response.get("Attributes") or {}
        self.seen = int(attributes.get(WAKEUPS, {}).get("N", "0"))
        return attributes

    def release(self, force: bool = False) -> bool:
        """Give the lease up. Unless forced, only if no run asked for a poll since `seen`: False means
        poll again (or, when this run holds the lease no more, stop). The item is deleted, so that an idle
        activity leaves nothing in the table; the next wake starts a new count, and no run holds the lease.

        Forced (this run's poll failed, or it ran out of time), the lease is expired instead and the item
        kept: the polls this run owes are then the recovery tick's (``PollState.poll_owed``)."""
        names = {"#holder": HOLDER}
        values: dict[str, Any] = {":me": {"S": self.run_id}}
        try:
            if force:
                self.clients.dynamodb.update_item(
                    TableName=self.config.ddb_table,
                    Key=self._key,
                    UpdateExpression="SET #lease = :zero REMOVE #holder, #polled",
                    ConditionExpression="#holder = :me",
                    ExpressionAttributeNames={**names, "#lease": LEASE_UNTIL, "#polled": POLLED_AT},
                    ExpressionAttributeValues={**values, ":zero": {"N": "0"}},
                )
                return True
            self.clients.dynamodb.delete_item(
                TableName=self.config.ddb_table,
                Key=self._key,
                ConditionExpression="#holder = :me AND #wakeups = :seen",
                ExpressionAttributeNames={**names, "#wakeups": WAKEUPS},
                ExpressionAttributeValues={**values, ":seen": {"N": str(self.seen)}},
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    # -- the task a dead holder may have taken with it -----------------------------------------------------
    def schedule_repoll(self, at: float) -> None:
        """Ask for a poll at `at` (epoch seconds), keeping the later of two asks: a poll then also finds
        every task that came back before it."""
        try:
            self.clients.dynamodb.update_item(
                TableName=self.config.ddb_table,
                Key=self._key_of(REPOLL_RANGE),
                UpdateExpression="SET #at = :at",
                ConditionExpression="attribute_not_exists(#at) OR #at < :at",
                ExpressionAttributeNames={"#at": REPOLL_AT},
                ExpressionAttributeValues={":at": {"N": str(math.ceil(at))}},
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise

    # -- one waiting tick at a time -------------------------------------------------------------------------
    def claim_waiter(self, until: float) -> bool:
        """Become the one tick that waits for what falls due (until `until`): a waiting tick holds a Lambda,
        and overlapping ticks must not all wait and take the runner's reserved concurrency from its events."""
        try:
            self.clients.dynamodb.update_item(
                TableName=self.config.ddb_table,
                Key=self._key_of(WAITER_RANGE),
                UpdateExpression="SET #holder = :me, #lease = :until",
                ConditionExpression="attribute_not_exists(#lease) OR #lease < :now OR #holder = :me",
                ExpressionAttributeNames={"#holder": HOLDER, "#lease": LEASE_UNTIL},
                ExpressionAttributeValues={
                    ":me": {"S": self.run_id},
                    ":until": {"N": str(math.ceil(until))},
                    ":now": {"N": str(math.floor(time.time()))},
                },
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def release_waiter(self) -> None:
        try:
            self.clients.dynamodb.delete_item(
                TableName=self.config.ddb_table,
                Key=self._key_of(WAITER_RANGE),
                ConditionExpression="#holder = :me",
                ExpressionAttributeNames={"#holder": HOLDER},
                ExpressionAttributeValues={":me": {"S": self.run_id}},
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise

    def repoll_done(self, polled_from: float) -> None:
        """Forget a repoll whose time had come when a complete poll began at `polled_from`."""
        try:
            self.clients.dynamodb.delete_item(
                TableName=self.config.ddb_table,
                Key=self._key_of(REPOLL_RANGE),
                ConditionExpression="#at <= :from",
                ExpressionAttributeNames={"#at": REPOLL_AT},
                ExpressionAttributeValues={":from": {"N": str(math.floor(polled_from))}},
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise


def _number(item: dict[str, Any] | None, name: str, default: float | None = None) -> float | None:
    value = (item or {}).get(name, {}).get("N")
    return float(value) if value is not None else default
