"""Fixtures shared by every test folder that talks to the embedded local AWS endpoint (LocalAws).

They live here, at the root of ``tests/``, so that ``tests/localaws`` (the bridges) and ``tests/lambda`` (the
runners on real activity semantics) share ONE endpoint per session (one per xdist worker): a session fixture
defined in two conftest files would start two endpoints whose bridges (process-wide moto patches) fight over
the context.

``local_aws`` starts one endpoint per test session, with fake credentials and ``AWS_ENDPOINT_URL`` in the
environment so that nothing can reach real AWS, and yields its ``LocalAwsContext``. moto's state is shared by
the whole session: tests use unique resource names (``unique_name``).

The session's time scale is ``LOCALAWS_TIME_SCALE`` when set, else ``TEST_TIME_SCALE`` (waits such as the
GetActivityTask long poll last ``ctx.scaled(seconds)``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import boto3
import pytest
from botocore.config import Config

from localaws.context import LocalAwsContext
from localaws.server import LocalAws

TEST_TIME_SCALE = 0.05  # the 60 s GetActivityTask long poll lasts 3 s

# Variables that could point boto3 at a real account; removed for the session.
_REAL_AWS_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
)


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAwsContext]:
    """A running local AWS endpoint for the session; the environment points every boto3 client at it."""
    time_scale = float(os.environ.get("LOCALAWS_TIME_SCALE", TEST_TIME_SCALE))
    with pytest.MonkeyPatch.context() as env:
        for name in _REAL_AWS_VARIABLES:
            env.delenv(name, raising=False)
        env.delenv("LOCALAWS_FAULTS", raising=False)  # a user's fault mode must not change the tests
        env.setenv("AWS_CONFIG_FILE", os.devnull)
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        with LocalAws(time_scale=time_scale) as ctx:
            for name, value in ctx.client_environment().items():
                env.setenv(name, value)
            yield ctx


@pytest.fixture(scope="session")
def aws_client(local_aws: LocalAwsContext) -> Callable[..., object]:
    """``aws_client("stepfunctions")``: a boto3 client of the local endpoint (read timeout above 60 s)."""

    def make(service: str, **config: object):
        settings = {"read_timeout": 90, "retries": {"max_attempts": 1}, **config}
        return boto3.client(
            service,
            endpoint_url=local_aws.endpoint_url,
            region_name=local_aws.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            aws_session_token="testing",
            config=Config(**settings),
        )

    return make


@pytest.fixture
def unique_name() -> Callable[[str], str]:
    """``unique_name("Activity")`` -> ``Activity-1a2b3c4d``: names that no other test of the session uses."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:8]}"
