"""Helpers shared by the Lambda tests (constants, table helpers, Stubber parameter matchers)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import etlrunner
from botocore.exceptions import ClientError

REGION = "us-east-1"
ACCOUNT = "123456789012"
GLUE_ACTIVITY_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:activity:GlueRunnerActivity"
ATHENA_ACTIVITY_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:activity:AthenaRunnerActivity"


def create_table(name: str, range_key: str, dynamodb: Any = None) -> None:
    """A runner-shaped table (hash `sfn_activity_arn`, range `range_key`), on moto or on `dynamodb`."""
    (dynamodb or boto3.client("dynamodb", region_name=REGION)).create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "sfn_activity_arn", "KeyType": "HASH"},
            {"AttributeName": range_key, "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "sfn_activity_arn", "AttributeType": "S"},
            {"AttributeName": range_key, "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def table_items(name: str) -> list[dict[str, Any]]:
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=name)["Items"]
    return [{key: next(iter(value.values())) for key, value in item.items()} for item in items]


def make_config(
    activity_arn: str, table: str, worker: str, limit: int = 50, settings: dict[str, Any] | None = None
) -> etlrunner.RunnerConfig:
    return etlrunner.RunnerConfig(
        sfn_activity_arn=activity_arn,
        sfn_worker_name=worker,
        ddb_table=table,
        ddb_query_limit=limit,
        source="test-config.json",
        settings=settings or {},
        setting_env={},
    )


def task_input(payload: dict[str, Any]) -> str:
    """Activity input as the state machines produce it: a JSON string holding the object."""
    return json.dumps(json.dumps(payload))


@dataclass
class FakeContext:
    """A Lambda context whose remaining time follows `remaining` (the last value repeats)."""

    remaining: list[int] = field(default_factory=lambda: [300_000])
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:test"
    calls: int = 0

    def get_remaining_time_in_millis(self) -> int:
        value = self.remaining[min(self.calls, len(self.remaining) - 1)]
        self.calls += 1
        return value


class JsonMatching:
    """Stubber parameter matcher: equal to a JSON string whose object has `expected`'s keys and values.

    A value given as a callable is a predicate. Every compared value is recorded in `seen`.
    """

    def __init__(self, expected: dict[str, Any] | None = None, exact_keys: bool = True) -> None:
        self.expected = expected or {}
        self.exact_keys = exact_keys
        self.seen: list[dict[str, Any]] = []

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, str):
            return False
        value = json.loads(other)
        self.seen.append(value)
        if self.exact_keys and set(value) != set(self.expected):
            return False
        for key, want in self.expected.items():
            got = value.get(key)
            if callable(want) and not want(got):
                return False
            if not callable(want) and got != want:
                return False
        return True

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return f"JsonMatching({self.expected!r}, seen={self.seen!r})"


class Capture:
    """Stubber parameter matcher equal to any value; remembers what it saw."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __eq__(self, other: object) -> bool:
        self.values.append(other)
        return True

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return id(self)


def contains(text: str) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and text in value


class FakeEvents:
    """EventBridge PutEvents: records the entries, or fails when told to."""

    def __init__(self, fail: bool = False) -> None:
        self.entries: list[dict[str, Any]] = []
        self.fail = fail

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        if self.fail:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "PutEvents")
        self.entries += Entries
        return {"FailedEntryCount": 0, "Entries": [{"EventId": str(len(self.entries))}]}
