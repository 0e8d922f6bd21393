"""The runner core under crashes, throttles and overlapping runs: nothing started or answered twice, or lost.

A run is killed at every AWS-call boundary it crosses (before and after each call, as a Lambda timeout would:
no code of that run goes on), then the runs that follow on AWS go on from what the table holds: the
recovery tick (every minute) and Lambda's retry of the killed invocation (a function error is retried after
a minute), with every lease run out in between. Glue and DynamoDB are moto; Step Functions is a small fake
with real activity-token semantics (a task is answered at most once; a token that was answered or timed out
is gone), so that double answers and lost tasks are counted, not assumed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import etlrunner
import gluerunner
import pytest
from etlrunner.triggers import TICK_EVENT
from fake_sfn import FakeStepFunctions, client_error
from lambda_support import (
    ACCOUNT,
    GLUE_ACTIVITY_ARN,
    REGION,
    FakeEvents,
    create_table,
    make_config,
    table_items,
)
from moto.glue.models import glue_backends

TABLE = "GlueRunnerActiveJobs"
JOB = "ProcessSalesData"


class Killed(BaseException):  # noqa: N818 - not an error the code under test may catch: the process is gone
    """The Lambda died here (a timeout or a crash): no line of the run goes on."""


@dataclass(frozen=True)
class Point:
    """`when` ("before"/"after") the `nth` call of `operation` on client `service`."""

    service: str
    operation: str
    nth: int
    when: str

    def __str__(self) -> str:
        return f"{self.when}:{self.service}.{self.operation}#{self.nth}"


class Calls:
    """Wraps a client: records every call and kills the run at one point, or throttles some calls."""

    def __init__(
        self,
        service: str,
        client: Any,
        journal: list[Point],
        kill: Point | None = None,
        throttle: Callable[[str], bool] | None = None,
    ) -> None:
        self._service, self._client, self._journal, self._kill = service, client, journal, kill
        self._throttle = throttle
        self._counts: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if name.startswith("_") or not callable(method) or name in ("exceptions", "meta"):
            return method

        def call(**params: Any) -> Any:
            nth = self._counts[name] = self._counts.get(name, 0) + 1
            self._journal.append(Point(self._service, name, nth, "before"))
            if self._kill == Point(self._service, name, nth, "before"):
                raise Killed(str(self._kill))
            if self._throttle is not None and self._throttle(name):
                raise client_error("ThrottlingException", name)
            try:
                return method(**params)
            finally:  # the call reached the service, whatever it answered: the run dies with the answer
                if self._kill == Point(self._service, name, nth, "after"):
                    raise Killed(str(self._kill))  # noqa: B012

        return call


@pytest.fixture
def world(aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    glue = boto3.client("glue", region_name=REGION)
    glue.create_job(
        Name=JOB,
        Role=f"arn:aws:iam::{ACCOUNT}:role/glue",
        Command={"Name": "glueetl", "ScriptLocation": "s3://b/s.py"},
        ExecutionProperty={"MaxConcurrentRuns": 100},
    )
    create_table(TABLE, "glue_job_run_id")
    return {
        "glue": glue,
        "dynamodb": boto3.client("dynamodb", region_name=REGION),
        "sfn": FakeStepFunctions(),
        "events": FakeEvents(),
    }


def one_run(
    world: dict[str, Any], journal: list[Point], kill: Point | None = None, event: Any = None, **wrap: Any
) -> dict:
    """One run (event None: the schedule's) with every client call journaled, killed at `kill`."""
    glue = Calls("glue", world["glue"], journal, kill, **wrap)
    clients = etlrunner.Clients(
        sfn=Calls("states", world["sfn"], journal, kill, **wrap),
        dynamodb=Calls("dynamodb", world["dynamodb"], journal, kill, **wrap),
        events=Calls("events", world["events"], journal, kill, **wrap),
    )
    config = make_config(GLUE_ACTIVITY_ARN, TABLE, "gluerunner")
    return etlrunner.run(gluerunner.GlueRunner(glue, None), config, clients, None, event)


def tick(world: dict[str, Any]) -> dict:
    return one_run(world, [], event=TICK_EVENT)


def leases_run_out(world: dict[str, Any]) -> None:
    """Time passes beyond every lease: the killed run is known to be dead."""
    for item in table_items(TABLE):
        if "lease_until" in item:
            world["dynamodb"].update_item(
                TableName=TABLE,
                Key={
                    "sfn_activity_arn": {"S": item["sfn_activity_arn"]},
                    "glue_job_run_id": {"S": item["glue_job_run_id"]},
                },
                UpdateExpression="SET lease_until = :past",
                ExpressionAttributeValues={":past": {"N": "0"}},
            )


def repolls_come_due(world: dict[str, Any]) -> bool:
    """Time passes beyond the repoll a run asked for (poller.py); False when none was asked for."""
    key = {
        "sfn_activity_arn": {"S": GLUE_ACTIVITY_ARN + "#poller"},
        "glue_job_run_id": {"S": "repoll"},
    }
    if "Item" not in world["dynamodb"].get_item(TableName=TABLE, Key=key):
        return False
    world["dynamodb"].update_item(
        TableName=TABLE,
        Key=key,
        UpdateExpression="SET #at = :past",
        ExpressionAttributeNames={"#at": "at"},
        ExpressionAttributeValues={":past": {"N": "0"}},
    )
    return True


def glue_runs() -> list[Any]:
    return glue_backends[ACCOUNT][REGION].jobs[JOB].job_runs


def crash_points() -> list[Point]:
    """Every boundary a start-to-success pass crosses (found by one clean pass, so none is forgotten)."""
    with_moto = pytest.MonkeyPatch()
    try:
        from moto import mock_aws

        with mock_aws():
            world = {
                "glue": boto3.client("glue", region_name=REGION),
                "dynamodb": boto3.client("dynamodb", region_name=REGION),
                "sfn": FakeStepFunctions(),
                "events": FakeEvents(),
            }
            world["glue"].create_job(
                Name=JOB, Role=f"arn:aws:iam::{ACCOUNT}:role/glue", Command={"Name": "glueetl"}
            )
            create_table(TABLE, "glue_job_run_id")
            world["sfn"].add_task("T1", {"GlueJobName": JOB})
            journal: list[Point] = []
            with_moto.setenv("CHECK_CONCURRENCY", "1")
            one_run(world, journal)
    finally:
        with_moto.undo()
    points = []
    for call in journal:
        points += [call, Point(call.service, call.operation, call.nth, "after")]
    return points


CRASH_POINTS = crash_points()
# Between GetActivityTask's answer and the first write, the token exists only in the dying run's memory.
UNRECORDED = {Point("states", "get_activity_task", 1, "after"), Point("dynamodb", "put_item", 1, "before")}


def test_the_clean_pass_crosses_every_kind_of_boundary():
    names = {f"{p.service}.{p.operation}" for p in CRASH_POINTS}
    assert {
        "states.get_activity_task",
        "dynamodb.put_item",
        "glue.start_job_run",
        "dynamodb.transact_write_items",
        "dynamodb.query",
        "glue.get_job_run",
        "dynamodb.update_item",
        "states.send_task_success",
        "events.put_events",
        "dynamodb.delete_item",
    } <= names


@pytest.mark.parametrize("point", CRASH_POINTS, ids=str)
def test_a_run_killed_at_any_boundary_loses_nothing_and_starts_nothing_twice(world, point):
    world["sfn"].add_task("T1", {"GlueJobName": JOB})
    journal: list[Point] = []
    with pytest.raises(Killed):
        one_run(world, journal, kill=point)
    leases_run_out(world)

    tick(world)  # the recovery tick: finishes what the killed run held, polls when a poll is owed
    if point in UNRECORDED:
        # The token died with the run before anything was recorded: no run can know it, and nothing started.
        # The run that took over the dead poller's lease asked for a poll once the task's heartbeat has run
        # out; then Step Functions times the task out, the state's Retry schedules it again, and the tick
        # that finds the repoll due polls it.
        assert world["sfn"].answers.get("T1") is None and glue_runs() == []
        world["sfn"].heartbeat_timeout("T1", retry_token="T1-retry")
        assert repolls_come_due(world), "no poll was asked for after the task's heartbeat timeout"
        tick(world)
        token = "T1-retry"
    else:
        token = "T1"
        one_run(world, [])  # Lambda's retry of the killed invocation, a minute later
        leases_run_out(world)
        tick(world)
    repolls_come_due(world)
    tick(world)  # a repoll asked for by a takeover finds nothing more, and is forgotten

    answers = world["sfn"].answers.get(token, [])
    assert [kind for kind, _ in answers] == ["success"], answers
    assert len(glue_runs()) == 1
    assert table_items(TABLE) == []
    # The answer's nudge was sent, by the killed run or by the run that finished its report.
    assert world["events"].entries, "the answer was never announced"


def test_a_start_whose_record_is_throttled_is_tracked_by_a_later_run(world):
    """The job started but the table refuses its record (throttled past every retry): the `starting` item
    stays, with its lease shortened, and the next run finds the job by its marker and tracks it. Nothing is
    stopped, nothing started twice, and the workflow is not failed over a passing throttle."""
    world["sfn"].add_task("T1", {"GlueJobName": JOB})
    summary = one_run(world, [], throttle=lambda operation: operation == "transact_write_items")
    assert summary["start_retries"] == 1 and "T1" not in world["sfn"].answers
    (item,) = table_items(TABLE)
    assert item["phase"] == "starting" and item["start_attempts"] == "1"
    leases_run_out(world)

    summary = tick(world)

    assert summary["recovered"] == 1 and summary["succeeded"] == 1  # found, tracked and checked in one pass
    assert [kind for kind, _ in world["sfn"].answers["T1"]] == ["success"]
    assert len(glue_runs()) == 1 and table_items(TABLE) == []


def test_a_write_being_retried_keeps_its_task_alive(world):
    """Each of the core's retries of a refused write is preceded by a heartbeat: on a slow day the retries of
    one write (each try botocore's six attempts) outlasted the task's HeartbeatSeconds, and the task ended in
    States.Timeout instead of the run's own answer (the CI's untracked-query scenario)."""
    world["sfn"].add_task("T1", {"GlueJobName": JOB})
    one_run(world, [], throttle=lambda operation: operation == "transact_write_items")
    assert world["sfn"].heartbeats["T1"] == len(etlrunner.work.WRITE_RETRY_DELAYS_S)


def test_a_start_throttled_again_and_again_fails_its_task_at_last(world, monkeypatch):
    """StartJobRun throttled past botocore's retries on every try: each run leaves the start to a later one,
    and after MAX_START_ATTEMPTS the task fails with StartFailed, naming the throttle."""
    world["sfn"].add_task("T1", {"GlueJobName": JOB})
    throttle = lambda operation: operation == "start_job_run"  # noqa: E731
    one_run(world, [], throttle=throttle)
    for _ in range(etlrunner.settings.DEFAULT_MAX_START_ATTEMPTS):
        if "T1" in world["sfn"].answers:
            break
        leases_run_out(world)
        one_run(world, [], event=TICK_EVENT, throttle=throttle)

    ((kind, (error, cause)),) = world["sfn"].answers["T1"]
    assert (kind, error) == ("failure", "GlueRunner.StartFailed")
    assert "ThrottlingException" in cause
    assert glue_runs() == [] and table_items(TABLE) == []


def test_a_start_that_cannot_be_recorded_for_good_is_stopped_and_failed(world, monkeypatch):
    """The job started but the table refuses its record for a reason no retry mends (a validation error):
    the job is stopped and the task failed with a cause naming the run, so nothing runs that nobody
    tracks."""
    world["sfn"].add_task("T1", {"GlueJobName": JOB})
    stopped: list[dict] = []
    monkeypatch.setattr(gluerunner.GlueRunner, "stop", lambda self, fields: stopped.append(dict(fields)))
    dynamodb = world["dynamodb"]

    class Refusing:
        def __getattr__(self, name: str) -> Any:
            if name == "transact_write_items":

                def refuse(**params: Any) -> Any:
                    raise client_error("ValidationException", "TransactWriteItems")

                return refuse
            return getattr(dynamodb, name)

    world["dynamodb"] = Refusing()
    try:
        one_run(world, [])
    finally:
        world["dynamodb"] = dynamodb

    (run,) = glue_runs()
    assert stopped == [{"glue_job_run_id": run.job_run_id, "glue_job_name": JOB}]
    ((kind, (error, cause)),) = world["sfn"].answers["T1"]
    assert (kind, error) == ("failure", "GlueRunner.StartFailed")
    assert run.job_run_id in cause and "it was stopped" in cause
    assert table_items(TABLE) == []


def test_an_undelivered_outcome_is_sent_by_a_later_run(world):
    world["sfn"].add_task("T1", {"GlueJobName": JOB})
    summary = one_run(world, [], throttle=lambda operation: operation == "send_task_success")
    assert summary["report_errors"] == 1 and "T1" not in world["sfn"].answers
    leases_run_out(world)

    summary = one_run(world, [])

    assert summary["succeeded"] == 1
    assert [kind for kind, _ in world["sfn"].answers["T1"]] == ["success"]
    assert table_items(TABLE) == []


def test_a_job_that_can_never_be_checked_fails_its_task_after_the_limit(world, monkeypatch):
    monkeypatch.setenv("MAX_CHECK_FAILURES", "3")
    world["sfn"].add_task("T1", {"GlueJobName": JOB})
    throttle = lambda operation: operation == "get_job_run"  # noqa: E731
    assert one_run(world, [], throttle=throttle)["started"] == 1  # its first look fails quietly
    for _ in range(2):
        summary = one_run(world, [], throttle=throttle)
        assert summary["check_errors"] == 1
    assert "T1" not in world["sfn"].answers and world["sfn"].heartbeats["T1"] == 2

    one_run(world, [], throttle=throttle)

    ((kind, (error, cause)),) = world["sfn"].answers["T1"]
    assert (kind, error) == ("failure", "GlueJobFailedError")
    assert "3 times in a row" in cause and "ThrottlingException" in cause
    assert table_items(TABLE) == []


def test_overlapping_runs_answer_every_task_once(world, monkeypatch):
    """Two runs at once over the same 20 finished jobs: 20 answers, and their summaries add up to 20."""
    monkeypatch.setenv("CHECK_CONCURRENCY", "4")
    for n in range(20):
        run_id = world["glue"].start_job_run(JobName=JOB)["JobRunId"]  # moto's runs finish at once
        world["sfn"].open_tokens.add(f"T{n}")
        world["dynamodb"].put_item(
            TableName=TABLE,
            Item={
                "sfn_activity_arn": {"S": GLUE_ACTIVITY_ARN},
                "glue_job_run_id": {"S": run_id},
                "glue_job_name": {"S": JOB},
                "sfn_task_token": {"S": f"T{n}"},
            },
        )
    barrier = threading.Barrier(2)
    results: list[dict] = []

    def racing_run() -> None:
        barrier.wait()
        results.append(one_run(world, []))

    # Daemons: a run that never ends (a poll loop that cannot leave) must not keep the test process alive.
    threads = [threading.Thread(target=racing_run, daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(results) == 2
    assert {token: len(answers) for token, answers in world["sfn"].answers.items()} == {
        f"T{n}": 1 for n in range(20)
    }
    assert sum(result["succeeded"] for result in results) == 20
    assert table_items(TABLE) == []


def test_a_failing_lookup_of_an_interrupted_start_is_retried_not_failed(world):
    """A run died after StartJobRun; the next run's GetJobRuns is throttled: the task must not be failed
    (the job runs), and a later run finds and tracks the job."""
    world["sfn"].add_task("T1", {"GlueJobName": JOB})
    with pytest.raises(Killed):
        one_run(world, [], kill=Point("glue", "start_job_run", 1, "after"))
    leases_run_out(world)

    summary = one_run(world, [], throttle=lambda operation: operation == "get_job_runs")

    assert summary["check_errors"] == 1 and "T1" not in world["sfn"].answers
    leases_run_out(world)
    for _ in range(2):
        one_run(world, [])
    assert [kind for kind, _ in world["sfn"].answers["T1"]] == ["success"]
    assert len(glue_runs()) == 1
