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
the holder's next round or by the next run. A holder that dies keeps the lease until ``lease_until``; the
nudges it missed are served by the next nudge or the schedule.
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
WAKEUPS = "wakeups"
HOLDER = "holder"
LEASE_UNTIL = "lease_until"


@dataclass
class PollerLease:
    """The poll lease of one runner's activity, for one run."""

    clients: Clients
    config: RunnerConfig
    id_attribute: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    seen: int = 0  # the wakeups count this run last polled for

    @property
    def _key(self) -> dict[str, Any]:
        return {
            ACTIVITY: {"S": self.config.sfn_activity_arn + POLLER_SUFFIX},
            self.id_attribute: {"S": POLLER_RANGE},
        }

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
        compares the count), so the run would poll until its Lambda ran out of time."""
        return self._hold(
            until,
            "SET #holder = :me, #lease = :until, #wakeups = if_not_exists(#wakeups, :zero)",
            "attribute_not_exists(#lease) OR #lease < :now",
            {":now": {"N": str(math.floor(time.time()))}, ":zero": {"N": "0"}},
            {"#wakeups": WAKEUPS},
        )

    def renew(self, until: float) -> bool:
        """Extend the lease before another long poll; False if it was lost (this run took too long)."""
        return self._hold(until, "SET #lease = :until", "#holder = :me", {})

    def _hold(
        self,
        until: float,
        update: str,
        condition: str,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
    ) -> bool:
        """A conditional update of the lease; on success, remember the wakeups count it saw."""
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
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        self.seen = int(response["Attributes"].get(WAKEUPS, {}).get("N", "0"))
        return True

    def release(self, force: bool = False) -> bool:
        """Give the lease up. Unless forced, only if no run asked for a poll since `seen`: False means
        poll again (or, when this run holds the lease no more, stop). The item is deleted, so that an idle
        activity leaves nothing in the table; the next wake starts a new count, and no run holds the lease."""
        condition = "#holder = :me" if force else "#holder = :me AND #wakeups = :seen"
        values: dict[str, Any] = {":me": {"S": self.run_id}}
        names = {"#holder": HOLDER}
        if not force:
            values[":seen"] = {"N": str(self.seen)}
            names["#wakeups"] = WAKEUPS
        try:
            self.clients.dynamodb.delete_item(
                TableName=self.config.ddb_table,
                Key=self._key,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True
