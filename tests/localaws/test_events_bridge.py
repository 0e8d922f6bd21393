"""The EventBridge schedule bridge (localaws/bridges/events/): cron/rate parsing and rules firing.

Gap guarded: moto stores a rule's ScheduleExpression but never fires it.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import json
import threading
import time
import zipfile
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from localaws.bridges import events as events_bridge
from localaws.bridges.events import CronSchedule, RateSchedule, UnsupportedScheduleError, parse_schedule
from tests.iam_roles import authorized_targets

pytestmark = pytest.mark.usefixtures("service_roles")  # roles the tests name exist (tests/iam_roles.py)

GAP = "moto gap 'scheduled EventBridge rules never fire' is no longer bridged"
FAST_SCALE = 0.01  # rate(1 minute) fires every 0.6 s


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- schedule expressions (no endpoint) --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("cron(0 12 * * ? *)", "2024-01-01T11:59:30", "2024-01-01T12:00"),
        ("cron(0 12 * * ? *)", "2024-01-01T12:00:00", "2024-01-02T12:00"),
        ("cron(0/15 * * * ? *)", "2024-01-01T10:07:00", "2024-01-01T10:15"),
        ("cron(*/20 * * * ? *)", "2024-01-01T10:40:00", "2024-01-01T11:00"),
        ("cron(5,35 14 * * ? *)", "2024-01-01T14:06:00", "2024-01-01T14:35"),
        ("cron(0 9-17/4 * * ? *)", "2024-01-01T13:00:00", "2024-01-01T17:00"),
        ("cron(0 18 ? * MON-FRI *)", "2024-01-05T19:00:00", "2024-01-08T18:00"),  # Fri evening -> Mon
        ("cron(0 0 ? * 1 *)", "2024-01-01T00:00:00", "2024-01-07T00:00"),  # 1 = SUN
        ("cron(0 0 ? * 7 *)", "2024-01-01T00:00:00", "2024-01-06T00:00"),  # 7 = SAT
        ("cron(0 8 1 * ? *)", "2024-01-15T00:00:00", "2024-02-01T08:00"),
        ("cron(30 6 29 FEB ? *)", "2024-03-01T00:00:00", "2028-02-29T06:30"),
        ("cron(0 0 1 JAN,JUL ? 2025-2026)", "2025-02-01T00:00:00", "2025-07-01T00:00"),
    ],
)
def test_cron_next_fire_time(expression, after, expected):
    assert parse_schedule(expression).next_after(at(after)) == at(expected)


@pytest.mark.parametrize(
    "expression",
    [
        "cron(15 10 ? * 6L 2024)",  # L
        "cron(0 10 15W * ? *)",  # W
        "cron(0 10 ? * 6#3 *)",  # #
        "cron(0 12 * * *)",  # 5 fields
        "cron(0 12 * * * *)",  # neither day field is ?
        "cron(61 12 * * ? *)",
        "rate(0 minutes)",
        "rate(5 weeks)",
        "every 5 minutes",
    ],
)
def test_unsupported_or_invalid_expressions_are_reported(expression):
    with pytest.raises(UnsupportedScheduleError):
        parse_schedule(expression)


def test_cron_that_never_fires_again():
    with pytest.raises(UnsupportedScheduleError):
        CronSchedule("cron(0 0 1 1 ? 2020)").next_after(at("2021-01-01T00:00:00"))


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(1 minute)", 60), ("rate(3 minutes)", 180), ("rate(2 hours)", 7200), ("rate(1 day)", 86400)],
)
def test_rate_interval(expression, seconds):
    schedule = parse_schedule(expression)
    assert isinstance(schedule, RateSchedule)
    assert schedule.interval.total_seconds() == seconds
    assert schedule.next_after(at("2024-01-01T00:00:00")) == at("2024-01-01T00:00:00") + schedule.interval


def test_a_rule_fires_at_most_once_a_real_second_however_the_clock_is_scaled(monkeypatch):
    """At time scale 0.001 a rate(1 minute) rule would fire every 0.06 s; it fires once a second."""
    rule = SimpleNamespace(
        arn="arn:aws:events:us-east-1:1:rule/tick",
        state="ENABLED",
        scheduled_expression="rate(1 minute)",
        targets=[],
    )
    ctx = SimpleNamespace(time_scale=0.001)
    scheduler = events_bridge.Scheduler(ctx)
    fired: list[float] = []
    monkeypatch.setattr(scheduler, "_scheduled_rules", lambda: [rule])
    monkeypatch.setattr(scheduler, "_fire", lambda fired_rule: fired.append(time.monotonic()))
    end = time.monotonic() + 2.5
    while time.monotonic() < end:
        scheduler.tick()
        time.sleep(0.01)
    assert 1 <= len(fired) <= 3, fired
    gaps = [later - earlier for earlier, later in itertools.pairwise(fired)]
    assert all(gap >= events_bridge.MIN_REAL_GAP_S - 0.05 for gap in gaps), gaps


# -- rules firing on the endpoint --------------------------------------------------------------------------
HANDLER = """
import json, time

def handler(event, context):
    print("EVENT " + json.dumps(event))
    time.sleep(float(event.get("sleep", 0)) if isinstance(event, dict) else 0)
    return "ok"
"""


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[float, str, dict]] = []
        self._lock = threading.Lock()

    def __call__(self, kind: str, fields: dict) -> None:
        with self._lock:
            self.events.append((time.monotonic(), kind, fields))

    def of(self, kind: str, **match: object) -> list[tuple[float, dict]]:
        with self._lock:
            return [
                (t, f)
                for t, k, f in self.events
                if k == kind and all(f.get(n) == v for n, v in match.items())
            ]

    def payloads(self, function: str) -> list[object]:
        prefix = "EVENT "
        return [
            json.loads(f["line"][len(prefix) :])
            for _, f in self.of("lambda.log", function=function)
            if f["line"].startswith(prefix)
        ]

    def wait(self, predicate, timeout: float):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return bool(predicate())


@pytest.fixture(scope="module")
def recorder(local_aws) -> Recorder:
    rec = Recorder()
    local_aws.subscribe(rec)
    return rec


@pytest.fixture(scope="module")
def fast_schedules(local_aws):
    """The session's scheduler on a 100x clock for this module (the listeners are shared)."""
    scheduler = events_bridge.scheduler()
    assert scheduler is not None, f"{GAP}: install() started no scheduler"
    scheduler.set_context(dataclasses.replace(local_aws, time_scale=FAST_SCALE))
    yield scheduler
    scheduler.set_context(local_aws)


@pytest.fixture(scope="module")
def role_arn(aws_client) -> str:
    trust = {
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ]
    }
    return aws_client("iam").create_role(
        RoleName=f"events-bridge-test-{time.time_ns()}", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]


@pytest.fixture
def function(aws_client, role_arn, unique_name):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("scheduled.py", HANDLER)
    return aws_client("lambda").create_function(
        FunctionName=unique_name("scheduled-fn"),
        Runtime="python3.13",
        Role=role_arn,
        Handler="scheduled.handler",
        Code={"ZipFile": buffer.getvalue()},
        Timeout=10,
    )["FunctionArn"]


@pytest.fixture
def rules(aws_client):
    """Creates rules and deletes them afterwards: moto's state outlives the test, the scheduler would not."""
    client = aws_client("events")
    created: list[str] = []

    def put(name: str, expression: str, targets: list[dict], state: str = "ENABLED") -> str:
        arn = client.put_rule(Name=name, ScheduleExpression=expression, State=state)["RuleArn"]
        created.append(name)
        client.put_targets(Rule=name, Targets=authorized_targets(aws_client, arn, targets))
        return arn

    yield put
    for name in created:
        ids = [t["Id"] for t in client.list_targets_by_rule(Rule=name)["Targets"]]
        if ids:
            client.remove_targets(Rule=name, Ids=ids)
        client.delete_rule(Name=name)


def name_of(function_arn: str) -> str:
    return function_arn.rsplit(":", 1)[-1]


def test_rate_rule_invokes_its_lambda_target_with_the_scheduled_event(
    fast_schedules, recorder, rules, function, local_aws, unique_name
):
    created = time.monotonic()
    rule_arn = rules(unique_name("every-minute"), "rate(1 minute)", [{"Id": "fn", "Arn": function}])
    fn_name = name_of(function)

    assert recorder.wait(lambda: recorder.payloads(fn_name), timeout=5), f"{GAP}: no invocation in 5 s"
    first_start = recorder.of("lambda.invoke.start", function=fn_name)[0][0]
    assert first_start - created >= 0.6 * 0.8, "the first firing comes one (scaled) interval after creation"
    event = recorder.payloads(fn_name)[0]
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["version"] == "0"
    assert event["account"] == local_aws.account_id
    assert event["region"] == local_aws.region
    assert event["resources"] == [rule_arn]
    assert event["detail"] == {}
    assert datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ")
    assert event["id"]
    fires = [f for _, f in recorder.of("events.fire", target=function)]
    assert fires and fires[0]["rule"] == rule_arn.rsplit("/", 1)[-1]

    assert recorder.wait(lambda: len(recorder.payloads(fn_name)) >= 2, timeout=3), "the rule fired only once"


def test_target_input_replaces_the_event(fast_schedules, recorder, rules, function, unique_name):
    target = {"Id": "fn", "Arn": function, "Input": '{"custom": 7}'}
    rules(unique_name("with-input"), "rate(1 minute)", [target])
    fn_name = name_of(function)
    assert recorder.wait(lambda: recorder.payloads(fn_name), timeout=5), GAP
    assert recorder.payloads(fn_name)[0] == {"custom": 7}


def test_disabled_rule_never_fires(fast_schedules, recorder, rules, function, unique_name):
    rules(unique_name("disabled"), "rate(1 minute)", [{"Id": "fn", "Arn": function}], state="DISABLED")
    time.sleep(1.5)  # 2.5 scaled intervals
    assert not recorder.of("lambda.invoke.start", function=name_of(function))


def spans(recorder, fn_name: str) -> list[tuple[float, float]]:
    """(start, end) of every ended invocation of the function, by request id."""
    starts = {f["request_id"]: t for t, f in recorder.of("lambda.invoke.start", function=fn_name)}
    ends = {f["request_id"]: t for t, f in recorder.of("lambda.invoke.end", function=fn_name)}
    return sorted((starts[r], ends[r]) for r in ends if r in starts)


def overlapping(pairs: list[tuple[float, float]]) -> bool:
    return any(later[0] < earlier[1] for earlier, later in zip(pairs, pairs[1:], strict=False))


def test_overlapping_firings_run_side_by_side_without_reserved_concurrency(
    fast_schedules, recorder, rules, function, unique_name
):
    """As on AWS, a firing invokes its target even while the previous invocation still runs."""
    rules(unique_name("slow"), "rate(1 minute)", [{"Id": "fn", "Arn": function, "Input": '{"sleep": 1.5}'}])
    fn_name = name_of(function)
    assert recorder.wait(lambda: overlapping(spans(recorder, fn_name)), timeout=20), (
        f"no two scheduled invocations overlapped: {spans(recorder, fn_name)}"
    )


def test_reserved_concurrency_1_never_overlaps_and_loses_no_firing(
    fast_schedules, recorder, rules, function, unique_name, aws_client
):
    """With ReservedConcurrentExecutions 1 the invocations run one at a time; the throttled ones wait and run
    later (Lambda retries throttled async events), so every firing gets its invocation."""
    aws_client("lambda").put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=1)
    name = unique_name("one-at-a-time")
    rules(name, "rate(1 minute)", [{"Id": "fn", "Arn": function, "Input": '{"sleep": 1.0}'}])
    fn_name = name_of(function)
    assert recorder.wait(lambda: len(recorder.of("events.fire", target=function)) >= 4, timeout=20), GAP
    aws_client("events").disable_rule(Name=name)
    fired = len(recorder.of("events.fire", target=function))

    assert recorder.wait(lambda: len(spans(recorder, fn_name)) >= fired, timeout=60), (
        f"{fired} firings, {len(spans(recorder, fn_name))} invocations ended"
    )
    assert not overlapping(spans(recorder, fn_name)), spans(recorder, fn_name)


def test_reserved_concurrency_0_throttles_sync_invoke_and_holds_async_until_allowed(
    recorder, function, aws_client
):
    """0 = always throttled: a synchronous Invoke fails TooManyRequestsException (429); an Event invocation is
    accepted and runs once the limit is lifted, as Lambda retries a throttled async event."""
    from botocore.exceptions import ClientError

    client = aws_client("lambda")
    client.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as raised:
        client.invoke(FunctionName=function, Payload=b"{}")
    assert raised.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429

    assert client.invoke(FunctionName=function, InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    fn_name = name_of(function)
    assert not recorder.wait(lambda: recorder.of("lambda.invoke.start", function=fn_name), timeout=1.0)
    client.delete_function_concurrency(FunctionName=function)
    assert recorder.wait(lambda: recorder.of("lambda.invoke.end", function=fn_name), timeout=20), (
        "the throttled async invocation never ran"
    )


def test_rule_starts_a_state_machine_execution(fast_schedules, aws_client, rules, unique_name):
    sfn = aws_client("stepfunctions")
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
    machine = sfn.create_state_machine(
        name=unique_name("scheduled-machine"),
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/sfn-role",
    )["stateMachineArn"]
    rule_arn = rules(unique_name("weekly-ish"), "rate(1 minute)", [{"Id": "sm", "Arn": machine}])

    def executions():
        return sfn.list_executions(stateMachineArn=machine)["executions"]

    assert recorder_wait(executions, timeout=5), f"{GAP}: no execution started"
    described = sfn.describe_execution(executionArn=executions()[0]["executionArn"])
    execution_input = json.loads(described["input"])
    assert execution_input["detail-type"] == "Scheduled Event"
    assert execution_input["resources"] == [rule_arn]


def recorder_wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def test_scheduler_can_be_stopped_and_restarted(local_aws):
    scheduler = events_bridge.scheduler()
    events_bridge.stop()
    assert scheduler._thread is None
    events_bridge.install(local_aws)
    assert events_bridge.scheduler() is scheduler and scheduler._thread.is_alive()


def test_a_scheduled_rule_sends_its_event_to_an_sqs_target(fast_schedules, aws_client, rules, unique_name):
    sqs = aws_client("sqs")
    url = sqs.create_queue(QueueName=unique_name("scheduled-queue"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule_arn = rules(unique_name("to-queue"), "rate(1 minute)", [{"Id": "q", "Arn": queue_arn}])

    def messages():
        return sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])

    received = []
    assert recorder_wait(lambda: received.extend(messages()) or received, timeout=10), f"{GAP}: nothing sent"
    event = json.loads(received[0]["Body"])
    assert event["detail-type"] == "Scheduled Event" and event["resources"] == [rule_arn]
