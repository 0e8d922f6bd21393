"""The AWS clients the core uses, injectable so tests can stub Step Functions and mock the rest."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from etlrunner.sfn import MAX_POOL_CONNECTIONS, SFN_CLIENT_CONFIG

# total_max_attempts counts the first try (botocore's "max_attempts" key counts only the retries).
DYNAMODB_CLIENT_CONFIG = Config(
    connect_timeout=5,
    read_timeout=20,
    retries={"mode": "standard", "total_max_attempts": 6},
    max_pool_connections=MAX_POOL_CONNECTIONS,
)

# A nudge is best effort and must not hold a run up: few retries, short timeouts.
EVENTS_CLIENT_CONFIG = Config(
    connect_timeout=5, read_timeout=10, retries={"mode": "standard", "total_max_attempts": 4}
)


@dataclass(frozen=True)
class Clients:
    """Step Functions, DynamoDB and EventBridge clients (botocore low-level clients). `events` None: no
    nudge events are sent (tests that drive one runner alone)."""

    sfn: Any
    dynamodb: Any
    events: Any = None


_reused: dict[tuple[str, int, str | None, str | None], Any] = {}
_reused_lock = threading.Lock()


def reused_client(service: str, config: Config) -> Any:
    """A client kept for the next invocations of this warm environment, as AWS advises: building one costs
    tens of milliseconds each run. Keyed by its settings, endpoint and region, so a changed environment gets a
    new one (the configs are module constants, so their identity names them)."""
    key = (service, id(config), os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_REGION"))
    with _reused_lock:
        client = _reused.get(key)
        if client is None:
            client = _reused[key] = boto3.client(service, config=config)
        return client


def sfn_client() -> Any:
    """A Step Functions client fit for long polling; plain boto3 so `AWS_ENDPOINT_URL` applies unchanged."""
    return reused_client("stepfunctions", SFN_CLIENT_CONFIG)


def default_clients() -> Clients:
    """The clients a deployed runner uses."""
    return Clients(
        sfn=sfn_client(),
        dynamodb=reused_client("dynamodb", DYNAMODB_CLIENT_CONFIG),
        events=reused_client("events", EVENTS_CLIENT_CONFIG),
    )
