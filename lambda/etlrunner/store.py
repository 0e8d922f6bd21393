"""The runner's DynamoDB table: one item per claimed task, and the conditional writes that keep runs honest.

Keys stay the seed's: hash `sfn_activity_arn`, range `<runner.id_attribute>` (e.g. `glue_job_run_id`). An item
goes through these phases (attribute `phase`; a tracked job has none):

- `starting`: written right after GetActivityTask, before the job is started, under the range key
  `starting#<task ref>` (the job id is not known yet). A run that dies from here on leaves this item, and a
  later run finishes the start from it: no claimed task is ever lost.
- tracked (no `phase`): the job's id is the range key. The `starting` item is swapped for it in one
  transaction, so the job is tracked exactly once.
- `reporting`: a run decided the outcome and holds the item (`lease_until`) while it sends it. The conditional
  write that enters this phase lets only one of two overlapping runs answer a task.

`lease_until` (epoch seconds) bounds how long a run may hold a `starting` or `reporting` item; after it, the
run is taken for dead and another run may take the item over.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from etlrunner.clients import Clients
from etlrunner.config import RunnerConfig
from etlrunner.items import (
    ACTIVITY,
    CHECK_FAILURES,
    LEASE_UNTIL,
    OUTCOME,
    PHASE,
    REPORTING,
    START_ATTEMPTS,
    STARTING,
    STARTING_PREFIX,
    TOKEN,
    TaskItem,
)

# The resume point of the check pass lives under its own hash key, so that it never shows up among the jobs.
CURSOR_SUFFIX = "#check-cursor"
CHECK_CURSOR = "cursor"  # the scheduled check's
HEARTBEAT_CURSOR = "heartbeat-cursor"  # the recovery tick's
CURSOR_AFTER = "after"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def encode(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in item.items() if value is not None}


def decode(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in raw.items()}


def is_condition_failure(exc: BaseException) -> bool:
    """True for a conditional write that lost (another run got there first), also inside a transaction."""
    if not isinstance(exc, ClientError):
        return False
    code = exc.response.get("Error", {}).get("Code")
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = exc.response.get("CancellationReasons") or []
        return any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons)
    return False


@dataclass(frozen=True)
class ItemStore:
    """The table of one runner and activity."""

    clients: Clients
    config: RunnerConfig
    id_attribute: str

    @property
    def table(self) -> str:
        return self.config.ddb_table

    def key(self, item: TaskItem) -> dict[str, Any]:
        return {ACTIVITY: {"S": item.activity}, self.id_attribute: {"S": item.key}}

    def item_of(self, record: Mapping[str, Any]) -> TaskItem:
        return TaskItem.from_record(record, self.id_attribute)

    # -- starting ------------------------------------------------------------------------------------------
    def put_starting(
        self, ref: str, token: str, raw_input: str | None, claimed_at: str, lease: float
    ) -> TaskItem:
        """Record a claimed task before its job exists; returns the item."""
        item = TaskItem(
            activity=self.config.sfn_activity_arn,
            key=STARTING_PREFIX + ref,
            token=token,
            phase=STARTING,
            lease_until=_lease_number(lease),
            task_input=raw_input if raw_input is not None else "",
            claimed_at=claimed_at,
        )
        self.clients.dynamodb.put_item(TableName=self.table, Item=encode(item.to_record(self.id_attribute)))
        return item

    def take_over(self, item: TaskItem, lease: float) -> bool:
        """Hold an item whose lease ran out (its run died); False when another run took it first. On success
        the item holds the new lease."""
        taken = self._update_if(
            item,
            UpdateExpression="SET #lease = :new",
            ConditionExpression="#lease = :old",
            ExpressionAttributeNames={"#lease": LEASE_UNTIL},
            ExpressionAttributeValues={
                ":new": {"N": str(_lease_number(lease))},
                ":old": {"N": str(_lease_number(item.lease_until or 0))},
            },
        )
        if taken:
            item.lease_until = _lease_number(lease)
        return taken

    def retry_start_later(self, item: TaskItem, at: float) -> int | None:
        """A start refused for now (a throttle, a 5xx): let the item's lease run out at `at`, so that a later
        run (the recovery tick) finishes the start, and count the attempt. Returns the attempts so far, or
        None when the item is no longer this task's `starting` item."""
        try:
            response = self.clients.dynamodb.update_item(
                TableName=self.table,
                Key=self.key(item),
                UpdateExpression="SET #lease = :at ADD #attempts :one",
                ConditionExpression="#token = :token AND #phase = :starting",
                ExpressionAttributeNames={
                    "#lease": LEASE_UNTIL,
                    "#attempts": START_ATTEMPTS,
                    "#token": TOKEN,
                    "#phase": PHASE,
                },
                ExpressionAttributeValues={
                    ":at": {"N": str(_lease_number(at))},
                    ":one": {"N": "1"},
                    ":token": {"S": item.token},
                    ":starting": {"S": STARTING},
                },
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return None
            raise
        return int(response["Attributes"][START_ATTEMPTS]["N"])

    def _update_if(self, item: TaskItem, **request: Any) -> bool:
        """A conditional UpdateItem; False when the condition did not hold (another run got there first)."""
        try:
            self.clients.dynamodb.update_item(TableName=self.table, Key=self.key(item), **request)
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def get(self, key: str) -> TaskItem | None:
        """The item of one job (by its id, e.g. from the service's state-change event) or of one start (its
        `starting#...` key), or None."""
        response = self.clients.dynamodb.get_item(
            TableName=self.table,
            Key={ACTIVITY: {"S": self.config.sfn_activity_arn}, self.id_attribute: {"S": key}},
            ConsistentRead=True,
        )
        raw = response.get("Item")
        return None if raw is None else self.item_of(decode(raw))

    def track(self, starting: TaskItem, fields: Mapping[str, Any], started_at: str) -> TaskItem | None:
        """Swap the `starting` item for the tracked job, atomically; returns it, or None if the job is tracked
        already. `fields` is what the runner's start returned (its id attribute and its own fields)."""
        tracked = TaskItem(
            activity=self.config.sfn_activity_arn,
            key=str(fields[self.id_attribute]),
            token=starting.token,
            started_at=started_at,
            fields={k: v for k, v in fields.items() if k != self.id_attribute},
        )
        try:
            self.clients.dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": encode(tracked.to_record(self.id_attribute)),
                            "ConditionExpression": "attribute_not_exists(#activity)",
                            "ExpressionAttributeNames": {"#activity": ACTIVITY},
                        }
                    },
                    {"Delete": {"TableName": self.table, "Key": self.key(starting)}},
                ]
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                self.delete(starting)  # another run tracked it: only the starting record is left to remove
                return None
            raise
        return tracked

    # -- reporting -----------------------------------------------------------------------------------------
    def claim_report(self, item: TaskItem, outcome: Mapping[str, Any], lease: float) -> bool:
        """Enter `reporting` with the outcome to send; False when another run reports it (or it is gone)."""
        return self._update_if(
            item,
            UpdateExpression="SET #phase = :reporting, #outcome = :outcome, #lease = :lease",
            ConditionExpression="#token = :token AND (attribute_not_exists(#phase) OR #phase = :starting)",
            ExpressionAttributeNames={
                "#phase": PHASE,
                "#outcome": OUTCOME,
                "#lease": LEASE_UNTIL,
                "#token": TOKEN,
            },
            ExpressionAttributeValues={
                ":reporting": {"S": REPORTING},
                ":starting": {"S": STARTING},
                ":outcome": _serializer.serialize(dict(outcome)),
                ":lease": {"N": str(_lease_number(lease))},
                ":token": {"S": item.token},
            },
        )

    def delete(self, item: TaskItem) -> None:
        """Forget an item, but only the one of this task (a reused id with a new token stays)."""
        try:
            self.clients.dynamodb.delete_item(
                TableName=self.table,
                Key=self.key(item),
                ConditionExpression="#token = :token",
                ExpressionAttributeNames={"#token": TOKEN},
                ExpressionAttributeValues={":token": {"S": item.token}},
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise

    # -- failed checks -------------------------------------------------------------------------------------
    def count_check_failure(self, item: TaskItem) -> int:
        """Add one to the item's consecutive failed checks; returns the new count."""
        response = self.clients.dynamodb.update_item(
            TableName=self.table,
            Key=self.key(item),
            UpdateExpression="ADD #failures :one",
            ConditionExpression="attribute_exists(#token)",
            ExpressionAttributeNames={"#failures": CHECK_FAILURES, "#token": TOKEN},
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"][CHECK_FAILURES]["N"])

    def reset_check_failures(self, item: TaskItem) -> None:
        self.clients.dynamodb.update_item(
            TableName=self.table,
            Key=self.key(item),
            UpdateExpression="REMOVE #failures",
            ConditionExpression="attribute_exists(#token)",
            ExpressionAttributeNames={"#failures": CHECK_FAILURES, "#token": TOKEN},
        )

    # -- reading, with a resume point ----------------------------------------------------------------------
    def pages(self, after: str | None, up_to: str | None) -> Iterator[list[TaskItem]]:
        """The activity's items in range-key order, strictly after `after` and up to `up_to` (inclusive)."""
        names = {"#activity": ACTIVITY}
        values: dict[str, Any] = {":arn": {"S": self.config.sfn_activity_arn}}
        condition = "#activity = :arn"
        if after is not None or up_to is not None:
            names["#id"] = self.id_attribute
        if after is not None:
            condition += " AND #id > :after"
            values[":after"] = {"S": after}
        elif up_to is not None:
            condition += " AND #id <= :up_to"
            values[":up_to"] = {"S": up_to}
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "Limit": self.config.ddb_query_limit,
            # Items written moments ago by this same run must be seen, so they get their first heartbeat now.
            "ConsistentRead": True,
        }
        while True:
            page = self.clients.dynamodb.query(**request)
            items = [self.item_of(decode(raw)) for raw in page.get("Items", [])]
            if items:
                yield items
            last_key = page.get("LastEvaluatedKey")
            if not last_key:
                return
            request["ExclusiveStartKey"] = last_key

    def _cursor_key(self, name: str) -> dict[str, Any]:
        return {
            ACTIVITY: {"S": self.config.sfn_activity_arn + CURSOR_SUFFIX},
            self.id_attribute: {"S": name},
        }

    def read_cursor(self, name: str = CHECK_CURSOR) -> str | None:
        """Where the last run that ran out of time stopped checking (None: from the start)."""
        response = self.clients.dynamodb.get_item(
            TableName=self.table, Key=self._cursor_key(name), ConsistentRead=True
        )
        value = response.get("Item", {}).get(CURSOR_AFTER, {}).get("S")
        return value or None

    def write_cursor(self, after: str | None, name: str = CHECK_CURSOR) -> None:
        if after is None:
            self.clients.dynamodb.delete_item(TableName=self.table, Key=self._cursor_key(name))
            return
        self.clients.dynamodb.put_item(
            TableName=self.table, Item={**self._cursor_key(name), CURSOR_AFTER: {"S": after}}
        )


def _lease_number(lease: float) -> int:
    return math.ceil(lease)
