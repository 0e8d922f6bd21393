"""Fixtures for the Lambda tests: fake credentials, moto, and a botocore Stubber on Step Functions.

moto does not serve GetActivityTask, so Step Functions calls are stubbed (exact calls and parameters are
asserted); DynamoDB, Glue, Athena and S3 stay on moto. Helpers shared by the tests are in lambda_support.py.

test_runners_on_local_sfn.py runs the same runners against real executions on the local AWS endpoint instead
(the session fixture ``local_aws`` of tests/conftest.py); its fixtures are in that module.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import etlrunner.work
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from moto.athena.models import AthenaBackend
from moto.glue.models import GlueBackend
from moto.moto_api import state_manager

from localaws.bridges import dynamodb as dynamodb_bridge
from localaws.bridges import patching
from tests.iam_roles import service_roles  # noqa: F401 - the roles the tests name exist

LAMBDA_DIR = Path(__file__).resolve().parents[2] / "lambda"
# Each function's module sits at its zip root; mirror that so `import gluerunner` finds the module, not the
# folder of the same name (which would otherwise import as a namespace package).
for _function in ("gluerunner", "athenarunner", "ons3objectcreated"):
    if str(LAMBDA_DIR / _function) not in sys.path:
        sys.path.insert(0, str(LAMBDA_DIR / _function))

REGION = "us-east-1"

# The local endpoint's Glue and Athena bridges patch moto process-wide (once a session test has started the
# endpoint): a started run/query then executes for real in a thread and reports its own state, which breaks
# the moto-state tests here (e.g. a run of a job whose script does not exist FAILS instead of succeeding).
# Runs and queries started without the bridges' entry points carry no bridge record, and every other patch
# falls back to moto's behaviour for them, so restoring these two entry points inside `aws` is enough.
# moto's own, under the bridges' patches should they be installed already (localaws/bridges/patching.py).
_MOTO_ENTRY_POINTS = [
    (GlueBackend, "start_job_run", patching.original(GlueBackend, "start_job_run")),
    (AthenaBackend, "start_query_execution", patching.original(AthenaBackend, "start_query_execution")),
]


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a fixed region; nothing can reach real AWS or a developer's profile."""
    for name in (
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "SFN_ACTIVITY_ARN",
        "SFN_WORKER_NAME",
        "DDB_TABLE",
        "DDB_QUERY_LIMIT",
        "GLUE_JOB_CAPACITY",
        "SFN_POLL_RESERVE_MS",
        "LOG_LEVEL",
        "MAX_CHECK_FAILURES",
        "TASK_LEASE_SECONDS",
        "POLL_LEASE_SECONDS",
        "TASK_HEARTBEAT_SECONDS",
        "MAX_START_ATTEMPTS",
    ):
        monkeypatch.delenv(name, raising=False)
    # The core's own retries of a throttled write wait 1 to 8 s each on AWS; the tests count them, not wait.
    monkeypatch.setattr(etlrunner.work, "WRITE_RETRY_DELAYS_S", (0.0, 0.0, 0.0, 0.0))
    # A Stubber answers calls in the order queued: check one item at a time (concurrency has its own tests).
    monkeypatch.setenv("CHECK_CONCURRENCY", "1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)


_SHARED_SESSION: list[boto3.session.Session] = []


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto for every client made with boto3 (the code under test uses plain `boto3.client`).

    moto's own Glue/Athena behaviour even when the local endpoint's bridges were installed earlier in this
    process (see `_MOTO_ENTRY_POINTS`).
    """
    for owner, name, original in _MOTO_ENTRY_POINTS:
        monkeypatch.setattr(owner, name, original)
    # DynamoDB's conditional writes are atomic, moto's are not across threads; the tests of overlapping
    # runs would otherwise see two winners of one claim now and then (the local endpoint makes the same fix).
    dynamodb_bridge.make_requests_atomic()
    with mock_aws():
        # mock_aws resets boto3's default session, which makes every test reload the service models (slow);
        # one shared session (fake credentials, same region) is equivalent and much faster.
        if not _SHARED_SESSION:
            _SHARED_SESSION.append(boto3.session.Session(region_name=REGION))
        boto3.DEFAULT_SESSION = _SHARED_SESSION[0]
        yield


@pytest.fixture
def sfn(aws: None) -> Iterator[tuple[Any, Stubber]]:
    """A Step Functions client with a Stubber; every queued response must be used by the test."""
    client = boto3.client("stepfunctions", region_name=REGION)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def manual_states() -> Iterator[None]:
    """Freeze moto's Glue job runs and Athena queries in the state a test sets (default: instantly done)."""
    for model in ("glue::job_run", "athena::execution"):
        state_manager.set_transition(model, {"progression": "manual", "times": 10**9})
    yield
    for model in ("glue::job_run", "athena::execution"):
        state_manager.unset_transition(model)
