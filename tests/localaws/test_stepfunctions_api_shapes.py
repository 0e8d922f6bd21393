"""Step Functions answers as AWS gives them (localaws/bridges/stepfunctions/shapes.py, gaps 11-15), over HTTP.

Each test names the difference from AWS it guards: outcome validation, history paging, list paging, the
DescribeExecution shape, and the "Step Functions Execution Status Change" events an EventBridge rule receives.
"""

from __future__ import annotations

import json
import re
import threading
import time

import pytest
from botocore.exceptions import ClientError

from tests.localaws.sfn_support import create_machine

pytestmark = pytest.mark.usefixtures("service_roles")  # roles the tests name exist (tests/iam_roles.py)

PASS_MACHINE = {
    "StartAt": "A",
    "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "End": True}},
}


def activity_machine(activity_arn: str) -> dict:
    return {"StartAt": "Run", "States": {"Run": {"Type": "Task", "Resource": activity_arn, "End": True}}}


def wait_for_end(sfn, execution_arn: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    raise AssertionError(f"execution still RUNNING after {timeout} s: {execution_arn}")


def take_task(sfn, activity_arn: str) -> str:
    """The token of the next task of ``activity_arn`` (polled in a thread, so a test never hangs on it)."""
    answer: dict = {}
    thread = threading.Thread(
        target=lambda: answer.update(sfn.get_activity_task(activityArn=activity_arn, workerName="w")),
        daemon=True,
    )
    thread.start()
    thread.join(timeout=30)
    assert "taskToken" in answer, answer
    return answer["taskToken"]


def wait_for_history(sfn, execution_arn: str, event_type: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        if any(e["type"] == event_type for e in events):
            return
        time.sleep(0.05)
    raise AssertionError(f"no {event_type} in the history of {execution_arn}")


# --- gap 11: SendTaskSuccess / SendTaskFailure validation -------------------------------------------------


def test_send_task_success_with_output_that_is_not_json_is_refused_with_invalid_output(
    sfn, unique_name, activity_arn
):
    """AWS: InvalidOutput, and the task still waits (local before: accepted, then the execution FAILED with
    States.Runtime and a Python JSON error)."""
    execution_arn = sfn.start_execution(
        stateMachineArn=create_machine(sfn, unique_name, activity_machine(activity_arn))
    )["executionArn"]
    token = take_task(sfn, activity_arn)

    with pytest.raises(ClientError) as refused:
        sfn.send_task_success(taskToken=token, output="{not json")
    assert refused.value.response["Error"]["Code"] == "InvalidOutput"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING"

    sfn.send_task_success(taskToken=token, output='{"ok": true}')  # the same token still works
    described = wait_for_end(sfn, execution_arn)
    assert described["status"] == "SUCCEEDED" and json.loads(described["output"]) == {"ok": True}


def test_send_task_failure_over_the_documented_lengths_is_a_validation_exception(
    sfn, unique_name, activity_arn
):
    """API reference: SendTaskFailure error at most 256 characters, cause at most 32768 (botocore does not
    check maximum lengths, AWS does)."""
    execution_arn = sfn.start_execution(
        stateMachineArn=create_machine(sfn, unique_name, activity_machine(activity_arn))
    )["executionArn"]
    token = take_task(sfn, activity_arn)
    for arguments in ({"error": "E" * 257}, {"error": "E", "cause": "c" * 32769}):
        with pytest.raises(ClientError) as refused:
            sfn.send_task_failure(taskToken=token, **arguments)
        assert refused.value.response["Error"]["Code"] == "ValidationException", arguments
    sfn.send_task_failure(taskToken=token, error="E" * 256, cause="c" * 32768)  # at the limits: accepted
    described = wait_for_end(sfn, execution_arn)
    assert described["status"] == "FAILED" and described["error"] == "E" * 256


# --- gap 12: GetExecutionHistory paging ---------------------------------------------------------------


def test_get_execution_history_reverse_order_max_results_and_next_token_page_as_aws(sfn, unique_name):
    """`--reverse-order --max-items 1` is "the latest event"; pages follow each other without gaps or repeats,
    in both orders (local before: every event, oldest first, never a nextToken)."""
    machine = create_machine(sfn, unique_name, PASS_MACHINE)
    execution_arn = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    wait_for_end(sfn, execution_arn)
    everything = sfn.get_execution_history(executionArn=execution_arn)["events"]
    ids = [e["id"] for e in everything]
    assert ids == sorted(ids) and len(ids) >= 6, ids
    assert everything[-1]["type"] == "ExecutionSucceeded"

    latest = sfn.get_execution_history(executionArn=execution_arn, reverseOrder=True, maxResults=1)
    assert [e["type"] for e in latest["events"]] == ["ExecutionSucceeded"]
    assert latest.get("nextToken")

    for reverse in (False, True):
        seen, token = [], None
        while True:
            extra = {"nextToken": token} if token else {}
            page = sfn.get_execution_history(
                executionArn=execution_arn, reverseOrder=reverse, maxResults=2, **extra
            )
            assert len(page["events"]) <= 2
            seen += [e["id"] for e in page["events"]]
            token = page.get("nextToken")
            if not token:
                break
        assert seen == (ids[::-1] if reverse else ids), (reverse, seen)

    paginated = sfn.get_paginator("get_execution_history").paginate(
        executionArn=execution_arn, reverseOrder=True, PaginationConfig={"MaxItems": 1}
    )
    assert [e["type"] for e in paginated.build_full_result()["events"]] == ["ExecutionSucceeded"]


def test_get_execution_history_token_not_ours_or_of_other_arguments_is_invalid_token(sfn, unique_name):
    """AWS: HTTP 400 InvalidToken for a token it did not give, or reused with other arguments."""
    machine = create_machine(sfn, unique_name, PASS_MACHINE)
    execution_arn = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    wait_for_end(sfn, execution_arn)
    token = sfn.get_execution_history(executionArn=execution_arn, maxResults=1)["nextToken"]
    for arguments in ({"nextToken": "not-a-token"}, {"nextToken": token, "reverseOrder": True}):
        with pytest.raises(ClientError) as refused:
            sfn.get_execution_history(executionArn=execution_arn, **arguments)
        assert refused.value.response["Error"]["Code"] == "InvalidToken", arguments
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as refused:
        sfn.get_execution_history(executionArn=execution_arn, maxResults=1001)
    assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_get_execution_history_include_execution_data_false_leaves_out_input_and_output(sfn, unique_name):
    machine = create_machine(sfn, unique_name, PASS_MACHINE)
    execution_arn = sfn.start_execution(stateMachineArn=machine, input='{"secret": 1}')["executionArn"]
    wait_for_end(sfn, execution_arn)
    events = sfn.get_execution_history(executionArn=execution_arn, includeExecutionData=False)["events"]
    details = [v for e in events for k, v in e.items() if k.endswith("EventDetails")]
    assert details and all("input" not in d and "output" not in d for d in details), details
    started = sfn.get_execution_history(executionArn=execution_arn)["events"][0]
    assert json.loads(started["executionStartedEventDetails"]["input"]) == {"secret": 1}


# --- gap 13: ListExecutions / ListStateMachines / DescribeExecution ------------------------------------


def test_list_executions_newest_first_pages_filters_and_gives_every_ended_execution_a_stop_date(
    sfn, unique_name
):
    machine = create_machine(sfn, unique_name, PASS_MACHINE)
    names = [f"run-{i}" for i in range(5)]
    for name in names:
        wait_for_end(sfn, sfn.start_execution(stateMachineArn=machine, name=name)["executionArn"])

    listed, token = [], None
    while True:
        extra = {"nextToken": token} if token else {}
        page = sfn.list_executions(stateMachineArn=machine, maxResults=2, **extra)
        assert len(page["executions"]) <= 2
        listed += page["executions"]
        token = page.get("nextToken")
        if not token:
            break
    assert [e["name"] for e in listed] == names[::-1], "newest first, each once"
    assert all(e["status"] == "SUCCEEDED" and "stopDate" in e for e in listed)

    assert len(sfn.list_executions(stateMachineArn=machine, statusFilter="SUCCEEDED")["executions"]) == 5
    assert sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"] == []
    with pytest.raises(ClientError) as refused:
        sfn.list_executions(stateMachineArn=machine, nextToken="not-a-token")
    assert refused.value.response["Error"]["Code"] == "InvalidToken"
    with pytest.raises(ClientError) as refused:
        sfn.list_executions(stateMachineArn=machine, maxResults=1001)
    assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_list_state_machines_pages_with_max_results_and_next_token(sfn, unique_name):
    created = {create_machine(sfn, unique_name, PASS_MACHINE) for _ in range(3)}
    seen, token = [], None
    while True:
        extra = {"nextToken": token} if token else {}
        page = sfn.list_state_machines(maxResults=2, **extra)
        assert len(page["stateMachines"]) <= 2
        seen += [m["stateMachineArn"] for m in page["stateMachines"]]
        token = page.get("nextToken")
        if not token:
            break
    assert created <= set(seen) and len(seen) == len(set(seen)), "every machine once"
    for machine in created:
        sfn.delete_state_machine(stateMachineArn=machine)


def test_describe_execution_has_input_details_and_output_details(sfn, unique_name):
    machine = create_machine(sfn, unique_name, PASS_MACHINE)
    execution_arn = sfn.start_execution(stateMachineArn=machine, input='{"a": 1}')["executionArn"]
    described = wait_for_end(sfn, execution_arn)
    assert described["inputDetails"] == {"included": True}
    assert described["outputDetails"] == {"included": True}
    assert json.loads(described["input"]) == {"a": 1} and json.loads(described["output"]) == {"a": 1}


def test_describe_execution_of_a_timed_out_execution_has_its_stop_date(sfn, unique_name):
    machine = create_machine(
        sfn,
        unique_name,
        {"StartAt": "W", "TimeoutSeconds": 1, "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}}},
    )
    execution_arn = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    described = wait_for_end(sfn, execution_arn)
    assert described["status"] == "TIMED_OUT" and "stopDate" in described, described
    assert "output" not in described and "outputDetails" not in described
    listed = sfn.list_executions(stateMachineArn=machine)["executions"][0]
    assert listed["status"] == "TIMED_OUT" and "stopDate" in listed, listed


# --- gap 14: "Step Functions Execution Status Change" events ------------------------------------------

ISO_SECOND = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture
def status_events(aws_client, unique_name, local_aws):
    """A rule for every status change of the test's machines, delivering to an SQS queue; yields a
    ``(watch(machine_arn), received(count))`` pair."""
    sqs, events = aws_client("sqs"), aws_client("events")
    queue_url = sqs.create_queue(QueueName=unique_name("sfn-status"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    rule = unique_name("sfn-status-rule")
    machines: list[str] = []

    def watch(machine_arn: str) -> None:
        machines.append(machine_arn)
        pattern = {
            "source": ["aws.states"],
            "detail-type": ["Step Functions Execution Status Change"],
            "detail": {"stateMachineArn": machines},
        }
        events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
        events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": queue_arn}])

    def received(count: int, timeout: float = 20.0) -> list[dict]:
        messages: list[dict] = []
        deadline = time.monotonic() + timeout
        while len(messages) < count and time.monotonic() < deadline:
            answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for message in answer.get("Messages", []):
                messages.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        assert len(messages) == count, messages
        return messages

    yield watch, received
    events.remove_targets(Rule=rule, Ids=["queue"])
    events.delete_rule(Name=rule)
    sqs.delete_queue(QueueUrl=queue_url)


def epoch_ms(moment) -> int:
    return int(moment.timestamp() * 1000)


def expected_envelope(local_aws, described: dict, status: str, **detail: object) -> dict:
    """The documented event (developer guide, "Step Functions event examples") for ``described``."""
    running = status == "RUNNING"
    base = {
        "executionArn": described["executionArn"],
        "stateMachineArn": described["stateMachineArn"],
        "name": described["name"],
        "status": status,
        "startDate": epoch_ms(described["startDate"]),
        "stopDate": None if running else epoch_ms(described["stopDate"]),
        "input": described["input"],
        "inputDetails": {"included": True},
        "output": None,
        "outputDetails": None,
        "error": None,
        "cause": None,
    }
    base.update(detail)
    return {
        "version": "0",
        "id": "<uuid>",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": described["executionArn"].split(":")[4],
        "time": "<iso second>",
        "region": local_aws.region,
        "resources": [described["executionArn"]],
        "detail": base,
    }


def normalized(event: dict) -> dict:
    """The event with its id and time checked for shape and replaced by placeholders."""
    assert UUID.match(str(event.get("id"))), event
    assert ISO_SECOND.match(str(event.get("time"))), event
    return {**event, "id": "<uuid>", "time": "<iso second>"}


def by_status(events: list[dict]) -> dict[str, dict]:
    return {e["detail"]["status"]: e for e in events}


def test_status_change_events_running_then_succeeded(sfn, unique_name, local_aws, status_events):
    watch, received = status_events
    machine = create_machine(sfn, unique_name, PASS_MACHINE)
    watch(machine)
    execution_arn = sfn.start_execution(stateMachineArn=machine, input='{"day": 1}')["executionArn"]
    described = wait_for_end(sfn, execution_arn)
    got = by_status(received(2))
    assert normalized(got["RUNNING"]) == expected_envelope(local_aws, described, "RUNNING")
    assert normalized(got["SUCCEEDED"]) == expected_envelope(
        local_aws, described, "SUCCEEDED", output=described["output"], outputDetails={"included": True}
    )


def test_status_change_event_failed_carries_error_and_cause(sfn, unique_name, local_aws, status_events):
    watch, received = status_events
    machine = create_machine(
        sfn, unique_name, {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "why"}}}
    )
    watch(machine)
    described = wait_for_end(sfn, sfn.start_execution(stateMachineArn=machine)["executionArn"])
    got = by_status(received(2))
    assert set(got) == {"RUNNING", "FAILED"}
    assert normalized(got["FAILED"]) == expected_envelope(
        local_aws, described, "FAILED", error="Boom", cause="why"
    )


def test_status_change_event_timed_out(sfn, unique_name, local_aws, status_events):
    watch, received = status_events
    machine = create_machine(
        sfn,
        unique_name,
        {"StartAt": "W", "TimeoutSeconds": 1, "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}}},
    )
    watch(machine)
    described = wait_for_end(sfn, sfn.start_execution(stateMachineArn=machine)["executionArn"])
    got = by_status(received(2))
    assert set(got) == {"RUNNING", "TIMED_OUT"}
    assert normalized(got["TIMED_OUT"]) == expected_envelope(local_aws, described, "TIMED_OUT")


def test_status_change_event_aborted(sfn, unique_name, local_aws, status_events, activity_arn):
    watch, received = status_events
    machine = create_machine(sfn, unique_name, activity_machine(activity_arn))
    watch(machine)
    execution_arn = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    wait_for_history(sfn, execution_arn, "ActivityScheduled")
    sfn.stop_execution(executionArn=execution_arn)
    described = wait_for_end(sfn, execution_arn)
    got = by_status(received(2))
    assert set(got) == {"RUNNING", "ABORTED"}
    assert normalized(got["ABORTED"]) == expected_envelope(local_aws, described, "ABORTED")


# --- gap 15: an execution started without a name ------------------------------------------------------


def test_start_execution_without_a_name_names_it_with_a_uuid(sfn, unique_name):
    """Local before: the execution was named None (ARN ending ":None"), and a second one was refused."""
    machine = create_machine(sfn, unique_name, PASS_MACHINE)
    first = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    second = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    assert first != second
    for execution_arn in (first, second):
        name = wait_for_end(sfn, execution_arn)["name"]
        assert UUID.match(name) and execution_arn.endswith(":" + name), execution_arn


def test_every_history_event_is_told_to_in_process_listeners(sfn, unique_name, local_aws):
    """The demo's progress view waits on these instead of polling GetExecutionHistory."""
    told: list[int] = []
    local_aws.subscribe(
        lambda kind, fields: told.append(fields["event_id"]) if kind == "stepfunctions.history" else None
    )
    machine = create_machine(
        sfn,
        unique_name,
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}}},
    )
    arn = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    wait_for_end(sfn, arn)
    ids = [event["id"] for event in sfn.get_execution_history(executionArn=arn)["events"]]
    assert len(ids) == 6 and set(ids) <= set(told), (ids, told)
