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

The conformance check (``localaws/conformance``) is on for the whole session: ``pytest_configure`` points
``LOCALAWS_CONFORMANCE`` at a folder of this process, so every endpoint it or its children start (the session
endpoint, the e2e demos, pynt) checks each answer against botocore's model and writes what differs there. A
test during whose setup, call or teardown a violation was written fails with the list (operation, problem,
where in the answer). ``LOCALAWS_CONFORMANCE=off`` turns the check off for a run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from localaws import conformance
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


# --- the conformance check --------------------------------------------------------------------------------

_CONFORMANCE = pytest.StashKey["ConformanceWatch"]()


class ConformanceWatch:
    """The violations folder of this test process, and how far it has been read."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.offsets: dict[str, int] = {}

    def new_violations(self) -> list[dict]:
        """Violations written since the last call, except those a test of the check asked for."""
        return [v for v in conformance.read_violations(self.folder, self.offsets) if not v.get("expected")]


def pytest_configure(config: pytest.Config) -> None:
    if conformance.folder_from_environment() is None and os.environ.get(conformance.ENV_VAR, "").strip():
        return  # turned off by the user (LOCALAWS_CONFORMANCE=off)
    # One folder per process (each xdist worker makes its own, over the one its controller set), so that a
    # violation is told to the test of the worker whose endpoint, or whose child's endpoint, answered.
    folder = Path(tempfile.mkdtemp(prefix="localaws-conformance-"))
    os.environ[conformance.ENV_VAR] = str(folder)
    config.stash[_CONFORMANCE] = ConformanceWatch(folder)


def _conformance_failure(violations: list[dict]) -> str:
    lines = [conformance.describe(v) for v in violations]
    return (
        f"{len(violations)} answer(s) of the local endpoint differ from botocore's model "
        "(localaws/conformance; allow-list: localaws/conformance/rules.py):\n  " + "\n  ".join(lines)
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    report = yield
    watch = item.config.stash.get(_CONFORMANCE, None)
    violations = watch.new_violations() if watch is not None else []
    if violations:
        text = _conformance_failure(violations)
        if report.passed or report.skipped:
            report.outcome = "failed"
            report.longrepr = text
        else:
            report.sections.append(("local endpoint conformance", text))
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    watch = session.config.stash.get(_CONFORMANCE, None)
    if watch is None:
        return
    late = watch.new_violations()  # written after the last test's teardown (a process left running)
    if late:
        print("\n" + _conformance_failure(late))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    shutil.rmtree(watch.folder, ignore_errors=True)
