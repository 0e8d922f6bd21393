"""Events put on an EventBridge bus reach rules' targets; Glue and Athena emit their state-change events.

Gaps guarded (localaws/bridges/events/, glue/, athena/): moto's PutEvents raised NotImplementedError for
Lambda and Step Functions targets, sent events to DISABLED and schedule-only rules, leaked its own
``ingestion-time`` into what an SQS target got; Glue and Athena never emitted their service events.

Each service event is read back whole (through a rule with an SQS target) and compared with the shape AWS
documents, so that a drift in any envelope field or detail key fails here.
"""

from __future__ import annotations

import io
import json
import re
import textwrap
import threading
import time
import uuid
import zipfile
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from moto.events.models import EventPattern

from localaws.bridges import events as events_bridge
from localaws.bridges.glue import job_state_change_detail
from tests.iam_roles import authorized_targets

pytestmark = pytest.mark.usefixtures("service_roles")  # roles the tests name exist (tests/iam_roles.py)

GAP = "EventBridge delivery gap (events put on a bus never reach Lambda / Step Functions targets)"
ENVELOPE_KEYS = ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"]
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


# -- helpers and fixtures ----------------------------------------------------------------------------------
@pytest.fixture
def pattern_rules(aws_client):
    """``put(name, pattern, targets, state)``: a rule on the default bus, deleted after the test."""
    client = aws_client("events")
    created: list[str] = []

    def put(name: str, pattern: dict, targets: list[dict], state: str = "ENABLED") -> str:
        arn = client.put_rule(Name=name, EventPattern=json.dumps(pattern), State=state)["RuleArn"]
        created.append(name)
        client.put_targets(Rule=name, Targets=authorized_targets(aws_client, arn, targets))
        return arn

    yield put
    for name in created:
        ids = [t["Id"] for t in client.list_targets_by_rule(Rule=name)["Targets"]]
        if ids:
            client.remove_targets(Rule=name, Ids=ids)
        client.delete_rule(Name=name)


@pytest.fixture
def queue(aws_client, unique_name) -> SimpleNamespace:
    sqs = aws_client("sqs")
    url = sqs.create_queue(QueueName=unique_name("events-target"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return SimpleNamespace(url=url, arn=arn, sqs=sqs)


def receive(queue: SimpleNamespace, count: int, timeout_s: float = 30, raw: bool = False) -> list:
    """Wait until ``count`` messages came (or the timeout); return their bodies (parsed unless ``raw``)."""
    bodies: list = []
    give_up = time.monotonic() + timeout_s
    while len(bodies) < count and time.monotonic() < give_up:
        answer = queue.sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in answer.get("Messages", []):
            bodies.append(message["Body"] if raw else json.loads(message["Body"]))
            queue.sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def assert_envelope(
    event: dict, *, source: str, detail_type: str, ctx, resources: list, started: float
) -> None:
    """The envelope EventBridge documents, field by field (``detail`` is compared by the caller)."""
    assert sorted(event) == sorted(ENVELOPE_KEYS), f"envelope keys drifted: {sorted(event)}"
    assert event["version"] == "0"
    assert str(uuid.UUID(event["id"])) == event["id"]
    assert event["detail-type"] == detail_type
    assert event["source"] == source
    assert event["account"] == ctx.account_id
    assert event["region"] == ctx.region
    assert event["resources"] == resources
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"]), event["time"]
    at = datetime.strptime(event["time"], TIME_FORMAT).replace(tzinfo=UTC).timestamp()
    assert started - 1 <= at <= time.time() + 1, f"time {event['time']} is not the real UTC time of the event"


def wait_for(predicate, timeout_s: float):
    give_up = time.monotonic() + timeout_s
    while time.monotonic() < give_up:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


# -- pattern matching (no endpoint) ------------------------------------------------------------------------
def _rule(pattern: dict | None, state: str = "ENABLED") -> SimpleNamespace:
    return SimpleNamespace(
        name="r", state=state, event_pattern=EventPattern.load(json.dumps(pattern) if pattern else None)
    )


GLUE_EVENT = {
    "version": "0",
    "id": "1",
    "detail-type": "Glue Job State Change",
    "source": "aws.glue",
    "account": "123456789012",
    "time": 0,
    "region": "us-east-1",
    "resources": [],
    "detail": {"jobName": "etl-sales", "state": "FAILED", "severity": "ERROR"},
}


@pytest.mark.parametrize(
    ("pattern", "matches"),
    [
        ({"source": ["aws.glue"], "detail-type": ["Glue Job State Change"]}, True),
        ({"source": ["aws.athena", "aws.glue"]}, True),  # a list of exact values
        ({"source": ["aws.athena"]}, False),
        ({"detail": {"state": ["FAILED", "TIMEOUT"]}}, True),  # a nested detail field
        ({"detail": {"state": ["SUCCEEDED"]}}, False),
        ({"detail": {"jobName": [{"prefix": "etl-"}]}}, True),
        ({"detail": {"jobName": [{"prefix": "other-"}]}}, False),
        ({"detail": {"state": [{"anything-but": ["SUCCEEDED", "STOPPED"]}]}}, True),
        ({"detail": {"state": [{"anything-but": "FAILED"}]}}, False),
        ({"detail": {"missing": [{"exists": False}]}}, True),
        ({"detail": {"jobName": ["etl-sales"], "state": ["SUCCEEDED"]}}, False),  # every field must match
    ],
)
def test_patterns_match_as_on_aws(pattern, matches):
    assert events_bridge.rule_matches(_rule(pattern), GLUE_EVENT) is matches


def test_disabled_and_schedule_only_rules_match_no_event():
    assert not events_bridge.rule_matches(_rule({"source": ["aws.glue"]}, state="DISABLED"), GLUE_EVENT)
    assert not events_bridge.rule_matches(_rule(None), GLUE_EVENT), "a schedule-only rule got an event"


def test_glue_job_state_change_detail_per_state():
    """Severity and message per state, as Glue's documented events give them."""
    run = "jr_" + "0" * 64
    assert job_state_change_detail("j", run, "SUCCEEDED", None) == {
        "jobName": "j",
        "severity": "INFO",
        "state": "SUCCEEDED",
        "jobRunId": run,
        "message": "Job run succeeded",
    }
    assert job_state_change_detail("j", run, "TIMEOUT", None)["severity"] == "WARN"
    assert job_state_change_detail("j", run, "TIMEOUT", None)["message"] == "Job run timed out"
    assert job_state_change_detail("j", run, "STOPPED", None)["severity"] == "INFO"
    assert job_state_change_detail("j", run, "STOPPED", None)["message"] == "Job run stopped"
    failed = job_state_change_detail("j", run, "FAILED", "ValueError: boom")
    assert failed["severity"] == "ERROR"
    assert (
        failed["message"] == f"JobName:j and JobRunId:{run} failed to execute with exception ValueError: boom"
    )


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("<job> is in state <state>", "etl-sales is in state FAILED"),
        ('"<job> is in state \\"<state>\\""', '"etl-sales is in state \\"FAILED\\""'),
        (
            '{"job": <job>, "text": "<job> ended <state>"}',
            '{"job": "etl-sales", "text": "etl-sales ended FAILED"}',
        ),
        (
            '{"detail": <detail>, "none": <nothing>}',
            json.dumps({"detail": GLUE_EVENT["detail"], "none": None}),
        ),
    ],
)
def test_input_transformer_fills_placeholders_as_eventbridge_does(template, expected):
    transformer = {
        "InputPathsMap": {
            "job": "$.detail.jobName",
            "state": "$.detail.state",
            "detail": "$.detail",
            "nothing": "$.detail.nothing",
        },
        "InputTemplate": template,
    }
    assert events_bridge.transform_input(transformer, GLUE_EVENT) == expected


# -- delivery through the endpoint --------------------------------------------------------------------------
def test_emit_delivers_one_aws_shaped_event_to_a_matching_sqs_target(
    local_aws, pattern_rules, queue, unique_name
):
    job = unique_name("emit-job")
    pattern = {"source": ["aws.glue"], "detail": {"jobName": [job], "state": ["FAILED"]}}
    pattern_rules(unique_name("emit-rule"), pattern, [{"Id": "q", "Arn": queue.arn}])
    pattern_rules(unique_name("disabled"), pattern, [{"Id": "q", "Arn": queue.arn}], state="DISABLED")
    started = time.time()

    # Not matching (another state), then matching: only the second arrives, once (not via the disabled rule).
    account, region = local_aws.account_id, local_aws.region
    change = "Glue Job State Change"
    events_bridge.emit(account, region, "aws.glue", change, {"jobName": job, "state": "SUCCEEDED"}, [])
    events_bridge.emit(
        account, region, "aws.glue", change, {"jobName": job, "state": "FAILED"}, ["arn:aws:glue:x"]
    )

    bodies = receive(queue, 2, timeout_s=3)
    assert len(bodies) == 1, f"{GAP}: expected only the matching event once, got {bodies}"
    assert_envelope(
        bodies[0],
        source="aws.glue",
        detail_type="Glue Job State Change",
        ctx=local_aws,
        resources=["arn:aws:glue:x"],
        started=started,
    )
    assert bodies[0]["detail"] == {"jobName": job, "state": "FAILED"}


def test_put_events_delivers_to_sqs_without_moto_fields(
    local_aws, aws_client, pattern_rules, queue, unique_name
):
    source = unique_name("etl-orchestrator")
    pattern_rules(unique_name("custom"), {"source": [source]}, [{"Id": "q", "Arn": queue.arn}])
    started = time.time()
    answer = aws_client("events").put_events(
        Entries=[{"Source": source, "DetailType": "Task Done", "Detail": json.dumps({"task": {"id": 7}})}]
    )
    assert answer["FailedEntryCount"] == 0
    (event,) = receive(queue, 1)
    assert_envelope(
        event, source=source, detail_type="Task Done", ctx=local_aws, resources=[], started=started
    )
    assert event["id"] == answer["Entries"][0]["EventId"]
    assert event["detail"] == {"task": {"id": 7}}


HANDLER = """
import json

def handler(event, context):
    print("EVENT " + json.dumps(event))
    return "ok"
"""


@pytest.fixture
def function(aws_client, unique_name) -> str:
    trust = {
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ]
    }
    role = aws_client("iam").create_role(
        RoleName=unique_name("events-target-role"), AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("target.py", HANDLER)
    return aws_client("lambda").create_function(
        FunctionName=unique_name("events-target-fn"),
        Runtime="python3.13",
        Role=role,
        Handler="target.handler",
        Code={"ZipFile": buffer.getvalue()},
        Timeout=10,
    )["FunctionArn"]


@pytest.fixture
def lambda_lines(local_aws):
    """What Lambda functions print, as (function name, line), from the endpoint's listeners."""
    lines: list[tuple[str, str]] = []
    lock = threading.Lock()

    def listen(kind: str, fields: dict) -> None:
        if kind == "lambda.log":
            with lock:
                lines.append((fields["function"], fields["line"]))

    local_aws.subscribe(listen)
    return lines


def test_put_events_invokes_a_lambda_target_asynchronously_with_the_event(
    local_aws, aws_client, pattern_rules, function, lambda_lines, unique_name
):
    source = unique_name("etl-orchestrator")
    pattern_rules(unique_name("to-lambda"), {"source": [source]}, [{"Id": "fn", "Arn": function}])
    started = time.time()
    answer = aws_client("events").put_events(
        Entries=[{"Source": source, "DetailType": "Run Ended", "Detail": json.dumps({"run": "r-1"})}]
    )
    put_took = time.time() - started
    assert answer["FailedEntryCount"] == 0, answer

    name = function.rsplit(":", 1)[-1]

    def payloads() -> list[dict]:
        return [
            json.loads(line[len("EVENT ") :])
            for fn, line in list(lambda_lines)
            if fn == name and line.startswith("EVENT ")
        ]

    assert wait_for(payloads, timeout_s=60), f"{GAP}: the Lambda target was never invoked"
    event = payloads()[0]
    assert_envelope(
        event, source=source, detail_type="Run Ended", ctx=local_aws, resources=[], started=started
    )
    assert event["detail"] == {"run": "r-1"}
    assert put_took < 5, f"PutEvents waited for the target ({put_took:.1f} s)"


def test_a_state_machine_target_is_started_with_the_transformed_input(
    local_aws, aws_client, pattern_rules, unique_name
):
    sfn = aws_client("stepfunctions")
    machine = sfn.create_state_machine(
        name=unique_name("events-target-machine"),
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
        roleArn="arn:aws:iam::123456789012:role/sfn-role",
    )["stateMachineArn"]
    job = unique_name("sm-job")
    target = {
        "Id": "sm",
        "Arn": machine,
        "InputTransformer": {
            "InputPathsMap": {"job": "$.detail.jobName", "state": "$.detail.state"},
            "InputTemplate": (
                '{"job": <job>, "summary": "<job> ended <state>", "rule": "<aws.events.rule-name>"}'
            ),
        },
    }
    rule_name = unique_name("to-machine")
    pattern_rules(rule_name, {"source": ["aws.glue"], "detail": {"jobName": [job]}}, [target])

    detail = {"jobName": job, "state": "FAILED"}
    events_bridge.emit(
        local_aws.account_id, local_aws.region, "aws.glue", "Glue Job State Change", detail, []
    )

    def executions():
        return sfn.list_executions(stateMachineArn=machine)["executions"]

    assert wait_for(executions, timeout_s=30), f"{GAP}: no execution was started"
    assert len(executions()) == 1
    described = sfn.describe_execution(executionArn=executions()[0]["executionArn"])
    assert json.loads(described["input"]) == {"job": job, "summary": f"{job} ended FAILED", "rule": rule_name}


def test_failing_targets_neither_break_the_emitter_nor_the_other_targets(
    local_aws, aws_client, pattern_rules, queue, unique_name
):
    account, region = local_aws.account_id, local_aws.region
    source = unique_name("etl-orchestrator")
    targets = [
        {"Id": "gone-fn", "Arn": f"arn:aws:lambda:{region}:{account}:function:{unique_name('no-such-fn')}"},
        {
            "Id": "gone-sm",
            "Arn": f"arn:aws:states:{region}:{account}:stateMachine:{unique_name('no-such-sm')}",
        },
        {"Id": "bad-path", "Arn": queue.arn, "InputPath": "$..[bad"},
        {"Id": "q", "Arn": queue.arn},
    ]
    pattern_rules(unique_name("half-broken"), {"source": [source]}, targets)

    events_bridge.emit(account, region, source, "Emitted", {"n": 1}, [])  # must not raise
    answer = aws_client("events").put_events(
        Entries=[{"Source": source, "DetailType": "Put", "Detail": json.dumps({"n": 2})}]
    )
    assert answer["FailedEntryCount"] == 0, answer

    bodies = receive(queue, 2)
    assert sorted(b["detail"]["n"] for b in bodies) == [1, 2], bodies


# -- Glue Job State Change ----------------------------------------------------------------------------------
def _glue_job(aws_client, bucket: str, script: str, name: str) -> str:
    key = f"scripts/{name}.py"
    aws_client("s3").put_object(Bucket=bucket, Key=key, Body=textwrap.dedent(script).encode())
    aws_client("glue").create_job(
        Name=name,
        Role="arn:aws:iam::123456789012:role/glue",
        Command={"Name": "glueetl", "ScriptLocation": f"s3://{bucket}/{key}", "PythonVersion": "3"},
        GlueVersion="5.0",
        WorkerType="G.1X",
        NumberOfWorkers=2,
    )
    return name


SLOW_SCRIPT = """
import time
from pyspark.context import SparkContext

# A Spark job that runs until it is cancelled (or 5 minutes pass).
SparkContext.getOrCreate().parallelize(range(4), 2).map(lambda x: time.sleep(300) or x).collect()
"""


@pytest.mark.spark
def test_glue_job_state_change_events(local_aws, aws_client, pattern_rules, queue, unique_name):
    bucket = unique_name("glue-events")
    aws_client("s3").create_bucket(Bucket=bucket)
    good = _glue_job(aws_client, bucket, "print('fine')\n", unique_name("glue-ok"))
    bad = _glue_job(aws_client, bucket, "raise ValueError('boom')\n", unique_name("glue-bad"))
    slow = _glue_job(aws_client, bucket, SLOW_SCRIPT, unique_name("glue-stopped"))
    pattern = {
        "source": ["aws.glue"],
        "detail-type": ["Glue Job State Change"],
        "detail": {"jobName": [good, bad, slow]},
    }
    pattern_rules(unique_name("glue-rule"), pattern, [{"Id": "q", "Arn": queue.arn}])
    glue = aws_client("glue")
    started = time.time()
    good_run = glue.start_job_run(JobName=good)["JobRunId"]
    bad_run = glue.start_job_run(JobName=bad)["JobRunId"]
    slow_run = glue.start_job_run(JobName=slow)["JobRunId"]
    running = wait_for(
        lambda: glue.get_job_run(JobName=slow, RunId=slow_run)["JobRun"]["JobRunState"] == "RUNNING", 120
    )
    assert running, "the slow run never started"
    stopping = glue.batch_stop_job_run(JobName=slow, JobRunIds=[slow_run])
    assert stopping["SuccessfulSubmissions"], stopping
    stopped = wait_for(
        lambda: glue.get_job_run(JobName=slow, RunId=slow_run)["JobRun"]["JobRunState"] == "STOPPED", 120
    )
    assert stopped, glue.get_job_run(JobName=slow, RunId=slow_run)["JobRun"]

    bodies = receive(queue, 3, timeout_s=60)
    assert len(bodies) == 3, f"expected one event per run, got {bodies}"
    by_job = {b["detail"]["jobName"]: b for b in bodies}
    for event in bodies:
        assert_envelope(
            event,
            source="aws.glue",
            detail_type="Glue Job State Change",
            ctx=local_aws,
            resources=[],
            started=started,
        )
    error = glue.get_job_run(JobName=bad, RunId=bad_run)["JobRun"]["ErrorMessage"]
    assert by_job[good]["detail"] == {
        "jobName": good,
        "severity": "INFO",
        "state": "SUCCEEDED",
        "jobRunId": good_run,
        "message": "Job run succeeded",
    }
    assert by_job[bad]["detail"] == {
        "jobName": bad,
        "severity": "ERROR",
        "state": "FAILED",
        "jobRunId": bad_run,
        "message": f"JobName:{bad} and JobRunId:{bad_run} failed to execute with exception {error}",
    }
    assert by_job[slow]["detail"] == {
        "jobName": slow,
        "severity": "INFO",
        "state": "STOPPED",
        "jobRunId": slow_run,
        "message": "Job run stopped",
    }
    # The event comes once the run has ended: GetJobRun already says so.
    assert glue.get_job_run(JobName=good, RunId=good_run)["JobRun"]["JobRunState"] == "SUCCEEDED"


# -- Athena Query State Change -------------------------------------------------------------------------------
@pytest.mark.spark
def test_athena_query_state_change_events(local_aws, aws_client, pattern_rules, queue, unique_name):
    bucket = unique_name("athena-events")
    aws_client("s3").create_bucket(Bucket=bucket)
    athena = aws_client("athena")
    pattern = {"source": ["aws.athena"], "detail-type": ["Athena Query State Change"]}
    pattern_rules(unique_name("athena-rule"), pattern, [{"Id": "q", "Arn": queue.arn}])
    started = time.time()

    def start(sql: str) -> str:
        return athena.start_query_execution(
            QueryString=sql, ResultConfiguration={"OutputLocation": f"s3://{bucket}/results/"}
        )["QueryExecutionId"]

    ok = start("SELECT 1 AS one")
    bad = start("SELECT nosuchcolumn FROM nosuchtable_for_events")
    bodies = [b for b in receive(queue, 6, timeout_s=300) if b["detail"]["queryExecutionId"] in (ok, bad)]
    assert len(bodies) == 6, f"expected QUEUED, RUNNING and an end per query, got {bodies}"
    for event in bodies:
        change = "Athena Query State Change"
        assert_envelope(
            event, source="aws.athena", detail_type=change, ctx=local_aws, resources=[], started=started
        )

    def details(qid: str) -> list[dict]:
        mine = [b["detail"] for b in bodies if b["detail"]["queryExecutionId"] == qid]
        return sorted(mine, key=lambda d: int(d["sequenceNumber"]))

    common = {"versionId": "0", "statementType": "DML", "workgroupName": "primary"}
    ok_common = {**common, "queryExecutionId": ok}
    assert details(ok) == [
        {**ok_common, "currentState": "QUEUED", "sequenceNumber": "1"},  # the first has no previousState
        {**ok_common, "currentState": "RUNNING", "previousState": "QUEUED", "sequenceNumber": "2"},
        {**ok_common, "currentState": "SUCCEEDED", "previousState": "RUNNING", "sequenceNumber": "3"},
    ]
    failed = details(bad)[-1]
    status = athena.get_query_execution(QueryExecutionId=bad)["QueryExecution"]["Status"]
    api_error = status["AthenaError"]
    assert failed == {
        **common,
        "athenaError": {
            "errorCategory": float(api_error["ErrorCategory"]),
            "errorType": float(api_error["ErrorType"]),
            "errorMessage": api_error["ErrorMessage"],
            "retryable": api_error["Retryable"],
        },
        "currentState": "FAILED",
        "previousState": "RUNNING",
        "queryExecutionId": bad,
        "sequenceNumber": "3",
    }
