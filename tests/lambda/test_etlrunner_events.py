"""Event-driven runs: a job's end event answers its task at once, nudges poll, one poller at a time.

Glue and DynamoDB are moto; Step Functions is the fake with real token semantics (fake_sfn.py).
"""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import etlrunner
import gluerunner
import pytest
from athenarunner import AthenaRunner
from botocore.exceptions import ClientError
from etlrunner.nudge import nudge_entry
from etlrunner.poller import PollerLease
from etlrunner.triggers import TICK_EVENT, classify
from fake_sfn import FakeStepFunctions
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
SCHEDULED = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
TICK = TICK_EVENT
NUDGE = {"source": "etl-orchestrator", "detail-type": "ETL Task Answered", "detail": {"answered": 1}}


def glue_event(run_id: str, state: str = "SUCCEEDED") -> dict[str, Any]:
    return {
        "source": "aws.glue",
        "detail-type": "Glue Job State Change",
        "detail": {"jobName": JOB, "jobRunId": run_id, "state": state, "severity": "INFO"},
    }


class CountingSfn:
    """Wraps the fake: counts calls per operation, and can run a hook when a poll comes back empty."""

    def __init__(self, sfn: FakeStepFunctions, on_empty_poll: Any = None) -> None:
        self.sfn, self.on_empty_poll, self.calls = sfn, on_empty_poll, {}

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.sfn, name)

        def call(**params: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            result = method(**params)
            if name == "get_activity_task" and not result and self.on_empty_poll is not None:
                hook, self.on_empty_poll = self.on_empty_poll, None
                hook()
            return result

        return call


@pytest.fixture
def world(aws: None) -> dict[str, Any]:
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
        "config": make_config(GLUE_ACTIVITY_ARN, TABLE, "gluerunner"),
    }


def one_run(world: dict[str, Any], event: Any = None, sfn: Any = None) -> dict[str, Any]:
    clients = etlrunner.Clients(sfn=sfn or world["sfn"], dynamodb=world["dynamodb"], events=world["events"])
    return etlrunner.run(gluerunner.GlueRunner(world["glue"], None), world["config"], clients, None, event)


def set_state(run_id: str, state: str) -> None:
    for run in glue_backends[ACCOUNT][REGION].jobs[JOB].job_runs:
        if run.job_run_id == run_id:
            run.status = state  # held there by manual_states; GetJobRun answers it


def expire_leases() -> None:
    """Time passes beyond every lease of the table: the runs that held them are known to be dead."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for item in table_items(TABLE):
        if "lease_until" in item:
            dynamodb.update_item(
                TableName=TABLE,
                Key={
                    "sfn_activity_arn": {"S": item["sfn_activity_arn"]},
                    "glue_job_run_id": {"S": item["glue_job_run_id"]},
                },
                UpdateExpression="SET lease_until = :past",
                ExpressionAttributeValues={":past": {"N": "0"}},
            )


def started_run_id() -> str:
    (run,) = glue_backends[ACCOUNT][REGION].jobs[JOB].job_runs
    return run.job_run_id


def test_triggers_are_read_from_the_event():
    glue = gluerunner.GlueRunner(None, None)
    athena = AthenaRunner(None)
    query_event = {
        "source": "aws.athena",
        "detail-type": "Athena Query State Change",
        "detail": {"queryExecutionId": "q-1", "currentState": "SUCCEEDED"},
    }
    started = {
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "detail": {"status": "RUNNING"},
    }
    ended = {**started, "detail": {"status": "SUCCEEDED"}}
    assert classify(glue, glue_event("jr_1")).kind == "job-ended"
    assert classify(glue, glue_event("jr_1")).job_id == "jr_1"
    assert classify(athena, query_event).job_id == "q-1"
    assert classify(athena, glue_event("jr_1")).kind == "schedule"  # another service's event: a full run
    assert classify(glue, NUDGE).kind == "nudge"
    assert classify(glue, started).kind == "nudge"
    assert classify(glue, ended).kind == "schedule"
    assert classify(glue, SCHEDULED).kind == "schedule"
    assert classify(glue, TICK).kind == "tick"
    assert classify(glue, {**TICK, "extra": 1}).kind == "schedule"  # only the tick rule's exact input
    assert classify(glue, None).kind == "schedule"
    assert classify(glue, {**glue_event("jr_1"), "detail": {"jobName": JOB}}).kind == "schedule"


def test_a_job_end_event_answers_its_task_at_once_without_polling(world, manual_states):
    world["sfn"].add_task("T1", {"GlueJobName": JOB})
    assert one_run(world, NUDGE)["started"] == 1
    run_id = started_run_id()
    set_state(run_id, "SUCCEEDED")
    counting = CountingSfn(world["sfn"])

    summary = one_run(world, glue_event(run_id), sfn=counting)

    assert summary["trigger"] == "job-ended" and summary["succeeded"] == 1
    assert counting.calls == {"send_task_success": 1}  # no poll, no heartbeat of other jobs
    assert [kind for kind, _ in world["sfn"].answers["T1"]] == ["success"]
    assert table_items(TABLE) == []
    (entry,) = world["events"].entries
    assert entry == nudge_entry("GlueRunner", GLUE_ACTIVITY_ARN, 1)
    assert json.loads(entry["Detail"]) == {
        "sender": "GlueRunner",
        "activityArn": GLUE_ACTIVITY_ARN,
        "answered": 1,
    }


def test_an_event_about_a_job_nobody_tracks_changes_nothing(world):
    counting = CountingSfn(world["sfn"])
    summary = one_run(world, glue_event("jr_not_ours", "FAILED"), sfn=counting)
    assert summary["not_tracked"] == 1 and counting.calls == {}
    assert world["events"].entries == [] and table_items(TABLE) == []


def test_a_duplicate_end_event_answers_once(world, manual_states):
    world["sfn"].add_task("T1", {"GlueJobName": JOB})
    one_run(world, NUDGE)
    run_id = started_run_id()
    set_state(run_id, "FAILED")
    one_run(world, glue_event(run_id, "FAILED"))
    second = one_run(world, glue_event(run_id, "FAILED"))
    assert second["not_tracked"] == 1
    assert [kind for kind, _ in world["sfn"].answers["T1"]] == ["failure"]


def test_a_nudge_polls_but_does_not_check_other_jobs(world, manual_states):
    world["sfn"].add_task("T1", {"GlueJobName": JOB})
    one_run(world, NUDGE)
    world["sfn"].add_task("T2", {"GlueJobName": JOB})
    counting = CountingSfn(world["sfn"])

    summary = one_run(world, NUDGE, sfn=counting)

    assert summary["trigger"] == "nudge" and summary["started"] == 1
    assert counting.calls == {"get_activity_task": 2}  # T2, then empty; T1 gets no heartbeat from a nudge


def test_a_job_that_ended_before_its_item_existed_is_answered_by_the_run_that_started_it(world, monkeypatch):
    """Its end event came before the item was written and found nothing: the starting run looks once."""
    real_start = gluerunner.GlueRunner.start

    def start_and_fail_at_once(self, task_input, task_token):
        fields = real_start(self, task_input, task_token)
        set_state(fields["glue_job_run_id"], "FAILED")
        assert one_run(world, glue_event(fields["glue_job_run_id"], "FAILED"))["not_tracked"] == 1
        return fields

    monkeypatch.setattr(gluerunner.GlueRunner, "start", start_and_fail_at_once)
    world["sfn"].add_task("T1", {"GlueJobName": JOB})

    summary = one_run(world, NUDGE)

    assert summary["failed"] == 1
    assert [kind for kind, _ in world["sfn"].answers["T1"]] == ["failure"]
    assert table_items(TABLE) == []


def test_a_nudge_that_cannot_be_sent_is_sent_by_a_later_run(world, manual_states):
    """The answer went out but its nudge did not (PutEvents throttled past its retries): the item stays in
    `reporting`, and the run that takes it over when its lease runs out finds the answer delivered (the
    token is gone) and sends the nudge, so the next state's runner is not left to the schedule."""
    world["events"].fail = True
    world["sfn"].add_task("T1", {"GlueJobName": JOB})
    one_run(world, NUDGE)
    run_id = started_run_id()
    set_state(run_id, "SUCCEEDED")
    summary = one_run(world, glue_event(run_id))
    assert summary["succeeded"] == 1 and summary["nudged"] == 0
    (item,) = [item for item in table_items(TABLE) if item["glue_job_run_id"] == run_id]
    assert item["phase"] == "reporting"

    world["events"].fail = False
    expire_leases()
    summary = one_run(world, TICK)

    assert summary["nudged"] == 1 and summary["expired"] == 1  # answered before: the token is gone
    assert [kind for kind, _ in world["sfn"].answers["T1"]] == ["success"]
    assert world["events"].entries == [nudge_entry("GlueRunner", GLUE_ACTIVITY_ARN, 1)]
    assert table_items(TABLE) == []


def lease(world: dict[str, Any]) -> PollerLease:
    return PollerLease(
        world["dynamodb"] and etlrunner.Clients(None, world["dynamodb"]), world["config"], "glue_job_run_id"
    )


def test_one_poller_at_a_time_and_a_woken_holder_polls_again(world):
    holder, other = lease(world), lease(world)
    holder.wake()
    assert holder.acquire(9e9)
    other.wake()
    assert not other.acquire(9e9)  # the holder polls for it
    assert not holder.release()  # woken since it last looked: poll again
    assert holder.renew(9e9)
    assert holder.release()
    assert table_items(TABLE) == []  # an idle activity leaves nothing behind


def test_an_expired_lease_is_taken_over(world):
    dead, alive = lease(world), lease(world)
    dead.wake()
    assert dead.acquire(0)  # its lease ran out long ago: the run died
    alive.wake()
    assert alive.acquire(9e9)
    assert not dead.renew(9e9)  # the dead run, had it lived on, would learn it lost the lease
    assert alive.release()


def test_a_nudge_while_another_run_polls_is_served_by_that_run(world, manual_states):
    """The task becomes ready just after the holder's poll came back empty; the nudge for it finds the lease
    taken and ends at once; the holder sees the wakeup when it tries to leave, polls again and starts it."""

    def task_ready_and_a_nudge_arrives() -> None:
        world["sfn"].add_task("T2", {"GlueJobName": JOB})
        nudged = one_run(world, NUDGE)
        assert nudged["polled"] is False and nudged["started"] == 0

    counting = CountingSfn(world["sfn"], on_empty_poll=task_ready_and_a_nudge_arrives)
    summary = one_run(world, NUDGE, sfn=counting)

    assert summary["started"] == 1
    assert counting.calls["get_activity_task"] == 3  # empty, T2, empty
    assert [item["glue_job_run_id"] for item in table_items(TABLE)] == [started_run_id()]


def test_a_lease_taken_after_a_forced_release_can_be_released(world):
    """A run wakes, the holder gives the lease up by force (its poll failed) and deletes the item with that
    wakeup, then the woken run takes the lease of an item that has no count: its empty poll must let it go,
    not poll again and again (it saw no wakeups, and none came)."""
    holder, woken = lease(world), lease(world)
    holder.wake()
    assert holder.acquire(9e9)
    woken.wake()
    assert holder.release(force=True)
    assert woken.acquire(9e9)
    assert woken.release()
    assert table_items(TABLE) == []


class ReleasedRightAfterTheWake:
    """DynamoDB whose poller item disappears right after this run's wake: the holder gave the lease up by
    force (its poll failed) and deleted the item, wakeup and all, before this run tried for the lease."""

    def __init__(self, dynamodb: Any) -> None:
        self.dynamodb = dynamodb

    def __getattr__(self, name: str) -> Any:
        return getattr(self.dynamodb, name)

    def update_item(self, **params: Any) -> Any:
        result = self.dynamodb.update_item(**params)
        if params["UpdateExpression"].startswith("ADD"):
            self.dynamodb.delete_item(TableName=params["TableName"], Key=params["Key"])
        return result


def test_a_run_whose_wake_was_deleted_polls_once_and_leaves(world):
    """Before the fix, such a run polled again and again (it could never release a lease with no count)
    until its Lambda ran out of time; in the tests, without a Lambda context, for ever."""

    class PollLimit(CountingSfn):
        def __getattr__(self, name: str) -> Any:
            if name == "get_activity_task" and self.calls.get(name, 0) >= 5:
                raise AssertionError("still polling an empty activity after 5 polls")
            return super().__getattr__(name)

    counting = PollLimit(world["sfn"])
    clients = etlrunner.Clients(
        sfn=counting, dynamodb=ReleasedRightAfterTheWake(world["dynamodb"]), events=world["events"]
    )
    summary = etlrunner.run(gluerunner.GlueRunner(world["glue"], None), world["config"], clients, None, NUDGE)
    assert summary["polled"] is True and counting.calls["get_activity_task"] == 1
    assert table_items(TABLE) == []


# --- the recovery tick --------------------------------------------------------------------------------------


def test_a_tick_with_nothing_owed_heartbeats_without_asking_glue_or_polling(world, manual_states):
    world["sfn"].add_task("T1", {"GlueJobName": JOB})
    one_run(world, NUDGE)
    glue_calls: list[str] = []
    world["glue"].meta.events.register("before-call.glue.*", lambda model, **_: glue_calls.append(model.name))
    counting = CountingSfn(world["sfn"])

    summary = one_run(world, TICK, sfn=counting)

    assert summary["trigger"] == "tick" and summary["running"] == 1 and summary["polled"] is False
    assert counting.calls == {"send_task_heartbeat": 1} and glue_calls == []


def test_a_tick_polls_for_a_dead_poller_and_asks_for_a_repoll_after_the_heartbeat(world, monkeypatch):
    """A run died holding the poll lease: the nudges it would have served are owed. The tick takes the
    lease over, polls now (a task made ready meanwhile is started), and, because the dead run may have died
    holding a task it had just been handed, asks for another poll when that task's heartbeat has run out."""
    monkeypatch.setenv("TASK_HEARTBEAT_SECONDS", "240")
    dead = lease(world)
    dead.wake()
    assert dead.acquire(9e9)
    assert dead.renew(9e9)  # its poll began: it notes when
    world["sfn"].add_task("T1", {"GlueJobName": JOB})  # ready while nobody polls
    assert one_run(world, TICK)["polled"] is False  # its lease has not run out yet: nothing owed
    expire_leases()
    before = time.time()

    summary = one_run(world, TICK)

    assert summary["polled"] is True and summary["started"] == 1
    repoll = next(i for i in table_items(TABLE) if i["glue_job_run_id"] == "repoll")
    assert before + 240 < float(repoll["at"]) <= time.time() + 240 + 10


def test_a_tick_waits_for_a_repoll_due_within_the_minute_then_polls_and_forgets_it(world, manual_states):
    lease(world).schedule_repoll(time.time() + 1)
    world["sfn"].add_task("T1", {"GlueJobName": JOB})  # the task a dead poller took, back after its heartbeat
    began = time.monotonic()

    summary = one_run(world, TICK)

    assert time.monotonic() - began >= 0.9 and summary["started"] == 1
    assert [i for i in table_items(TABLE) if "poller" in i["sfn_activity_arn"]] == []


def test_a_poll_that_failed_is_owed_and_the_next_tick_makes_it(world, manual_states):
    class PollFails(CountingSfn):
        def get_activity_task(self, **params: Any) -> Any:
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "GetActivityTask"
            )

    assert one_run(world, NUDGE, sfn=PollFails(world["sfn"]))["poll_error"]
    world["sfn"].add_task("T1", {"GlueJobName": JOB})

    summary = one_run(world, TICK)

    assert summary["polled"] is True and summary["started"] == 1


def test_an_end_event_that_finds_only_a_dead_start_is_answered_by_the_tick_after_the_lease(
    world, monkeypatch
):
    """The run that started the job died before recording it; the job's end event finds no tracked item.
    Once the start's lease has run out, the tick finds the job by its marker, tracks it and, in the same
    pass, sees it ended and answers the task: no wait for the schedule."""

    def start_and_die(self, task_input, task_token):
        fields = real_start(self, task_input, task_token)
        raise SystemExit(f"killed after StartJobRun of {fields['glue_job_run_id']}")

    real_start = gluerunner.GlueRunner.start
    monkeypatch.setattr(gluerunner.GlueRunner, "start", start_and_die)
    world["sfn"].add_task("T1", {"GlueJobName": JOB})
    with pytest.raises(SystemExit):
        one_run(world, NUDGE)
    monkeypatch.setattr(gluerunner.GlueRunner, "start", real_start)
    run_id = started_run_id()  # moto's runs end at once: SUCCEEDED
    assert one_run(world, glue_event(run_id))["not_tracked"] == 1
    expire_leases()

    summary = one_run(world, TICK)

    assert summary["recovered"] == 1 and summary["succeeded"] == 1
    assert [kind for kind, _ in world["sfn"].answers["T1"]] == ["success"]
    assert len(glue_backends[ACCOUNT][REGION].jobs[JOB].job_runs) == 1


# --- refused by IAM -----------------------------------------------------------------------------------------


def test_a_check_refused_by_iam_fails_the_task_at_once_naming_the_call(world, manual_states):
    world["sfn"].add_task("T1", {"GlueJobName": JOB})
    one_run(world, NUDGE)
    message = "User: arn:aws:sts::123456789012:assumed-role/r/s is not authorized to perform: glue:GetJobRun"

    def denied(**params: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": message}}, "GetJobRun")

    world["glue"].get_job_run = denied
    summary = one_run(world, SCHEDULED)

    assert summary["failed"] == 1
    ((kind, (error, cause)),) = world["sfn"].answers["T1"]
    assert (kind, error) == ("failure", "GlueJobFailedError")
    assert "glue:GetJobRun" in json.loads(cause)["ErrorMessage"]


def test_a_success_report_refused_by_iam_is_sent_as_a_failure_naming_the_call(world, manual_states):
    world["sfn"].add_task("T1", {"GlueJobName": JOB})
    one_run(world, NUDGE)
    set_state(started_run_id(), "SUCCEEDED")
    message = "User: arn:aws:sts::1:assumed-role/r/s is not authorized to perform: states:SendTaskSuccess"

    class SuccessDenied(CountingSfn):
        def send_task_success(self, **params: Any) -> Any:
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": message}}, "SendTaskSuccess"
            )

    summary = one_run(world, glue_event(started_run_id()), sfn=SuccessDenied(world["sfn"]))

    assert summary["failed"] == 1
    ((kind, (error, cause)),) = world["sfn"].answers["T1"]
    assert (kind, error) == ("failure", "GlueRunner.AccessDenied")
    assert "states:SendTaskSuccess" in json.loads(cause)["ErrorMessage"]
    assert table_items(TABLE) == []


def test_a_tick_waits_for_a_dead_start_whose_lease_runs_out_within_the_minute(world, monkeypatch):
    """The start's lease runs out 2 s after the tick began: the tick waits for it and finishes the start, so
    the recovery takes the lease, not the lease plus the next tick."""

    def start_and_die(self, task_input, task_token):
        real_start(self, task_input, task_token)
        raise SystemExit("killed after StartJobRun")

    real_start = gluerunner.GlueRunner.start
    monkeypatch.setattr(gluerunner.GlueRunner, "start", start_and_die)
    world["sfn"].add_task("T1", {"GlueJobName": JOB})
    with pytest.raises(SystemExit):
        one_run(world, NUDGE)
    monkeypatch.setattr(gluerunner.GlueRunner, "start", real_start)
    (starting,) = [item for item in table_items(TABLE) if item.get("phase") == "starting"]
    boto3.client("dynamodb", region_name=REGION).update_item(
        TableName=TABLE,
        Key={
            "sfn_activity_arn": {"S": GLUE_ACTIVITY_ARN},
            "glue_job_run_id": {"S": starting["glue_job_run_id"]},
        },
        UpdateExpression="SET lease_until = :soon",
        ExpressionAttributeValues={":soon": {"N": str(int(time.time()) + 2)}},
    )
    began = time.monotonic()

    summary = one_run(world, TICK)

    assert time.monotonic() - began >= 1 and summary["recovered"] == 1 and summary["succeeded"] == 1
    assert [kind for kind, _ in world["sfn"].answers["T1"]] == ["success"]


def test_a_tick_waits_for_the_lease_of_a_poller_gone_silent(world, manual_states):
    """The holder's poll began 100 s ago (a long poll lasts 70 s at most) and its lease runs out in 2 s:
    it died. The tick waits for the lease and polls, instead of leaving the owed poll to the next tick."""
    dead = lease(world)
    dead.wake()
    assert dead.acquire(time.time() + 2)
    boto3.client("dynamodb", region_name=REGION).update_item(
        TableName=TABLE,
        Key={"sfn_activity_arn": {"S": GLUE_ACTIVITY_ARN + "#poller"}, "glue_job_run_id": {"S": "poller"}},
        UpdateExpression="SET polled_at = :long_ago",
        ExpressionAttributeValues={":long_ago": {"N": str(int(time.time()) - 100)}},
    )
    world["sfn"].add_task("T1", {"GlueJobName": JOB})

    summary = one_run(world, TICK)

    assert summary["polled"] is True and summary["started"] == 1


def test_a_tick_does_not_wait_for_a_poller_that_is_polling(world):
    holder = lease(world)
    holder.wake()
    assert holder.acquire(time.time() + 2)
    assert holder.renew(time.time() + 2)  # its poll began just now: it is alive, and will renew
    began = time.monotonic()
    assert one_run(world, TICK)["polled"] is False
    assert time.monotonic() - began < 1


def test_only_one_tick_at_a_time_waits(world, manual_states):
    """A second tick, while one waits, does its heartbeats and leaves: overlapping ticks must not hold the
    runner's reserved concurrency away from its events."""
    first, second = lease(world), lease(world)
    assert first.claim_waiter(time.time() + 60)
    assert not second.claim_waiter(time.time() + 60)
    dead = lease(world)
    dead.wake()
    assert dead.acquire(time.time() + 2)
    boto3.client("dynamodb", region_name=REGION).update_item(
        TableName=TABLE,
        Key={"sfn_activity_arn": {"S": GLUE_ACTIVITY_ARN + "#poller"}, "glue_job_run_id": {"S": "poller"}},
        UpdateExpression="SET polled_at = :long_ago",
        ExpressionAttributeValues={":long_ago": {"N": str(int(time.time()) - 100)}},
    )
    began = time.monotonic()
    assert one_run(world, TICK)["polled"] is False  # it would have waited 2 s for the dead poller
    assert time.monotonic() - began < 1.5
    first.release_waiter()
    assert second.claim_waiter(time.time() + 60)
