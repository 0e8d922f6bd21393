"""The AWS clients the core uses, injectable so tests can stub Step Functions and mock the rest."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

# GetActivityTask long-polls for up to 60 s; a shorter read timeout would cut the poll, retry it and could
# lose a task that AWS handed to the dropped connection.
SFN_READ_TIMEOUT_S = 70
# The check pass calls from CHECK_CONCURRENCY threads at once (16 by default): botocore's pool of 10
# connections per client would make the rest wait or open throwaway connections.
MAX_POOL_CONNECTIONS = 32
SFN_CLIENT_CONFIG = Config(
    read_timeout=SFN_READ_TIMEOUT_S,
    connect_timeout=10,
    retries={"mode": "standard", "max_attempts": 3},
    max_pool_connections=MAX_POOL_CONNECTIONS,
)
DYNAMODB_CLIENT_CONFIG = Config(
    connect_timeout=5,
    read_timeout=20,
    retries={"mode": "standard", "max_attempts": 5},
    max_pool_connections=MAX_POOL_CONNECTIONS,
)


@dataclass(frozen=True)
class Clients:
    """Step Functions and DynamoDB clients (botocore low-level clients)."""

    sfn: Any
    dynamodb: Any


def sfn_client() -> Any:
    """A Step Functions client fit for long polling; plain boto3 so `AWS_ENDPOINT_URL` applies unchanged."""
    return boto3.client("stepfunctions", config=SFN_CLIENT_CONFIG)


def default_clients() -> Clients:
    """The clients a deployed runner uses."""
    return Clients(sfn=sfn_client(), dynamodb=boto3.client("dynamodb", config=DYNAMODB_CLIENT_CONFIG))
