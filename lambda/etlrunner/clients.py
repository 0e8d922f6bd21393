"""The AWS clients the core uses, injectable so tests can stub Step Functions and mock the rest."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

# GetActivityTask long-polls for up to 60 s; a shorter read timeout would cut the poll, retry it and could
# lose a task that AWS handed to the dropped connection.
SFN_READ_TIMEOUT_S = 70
SFN_CLIENT_CONFIG = Config(
    read_timeout=SFN_READ_TIMEOUT_S,
    connect_timeout=10,
    retries={"mode": "standard", "max_attempts": 3},
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
    return Clients(sfn=sfn_client(), dynamodb=boto3.client("dynamodb"))
