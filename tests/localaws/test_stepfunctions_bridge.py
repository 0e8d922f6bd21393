"""The Step Functions bridge (localaws/bridges/stepfunctions/), over HTTP with boto3.

Each test names the moto gap it guards; if a moto upgrade changes the behaviour, the test says which gap.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from botocore.exceptions import ClientError

from localaws.bridges.stepfunctions import GET_ACTIVITY_TASK_LONG_POLL_SECONDS, end_open_polls
from tests.localaws.sfn_support import ROLE_ARN, create_machine

pytestmark = pytest.mark.usefixtures("service_roles")  # roles the tests name exist (tests/iam_roles.py)

TASK_INPUT = {"GlueJobName": "ProcessSalesData", "--day": "1"}


def seed_like_definition(activity_arn: str, heartbeat_seconds: int | None = None) -> str:
    """Pass (string Result) -> activity task -> Catch -> fallback Pass -> Fail with ErrorPath/CausePath."""
    task = {
        "Type": "Task",
        "Resource": activity_arn,
        "TimeoutSeconds": 172800,
        "Catch": [
            {
                "ErrorEquals": ["GlueJobFailedError", "States.Timeout"],
                "ResultPath": "$",
                "Next": "ETL Job Failed Fallback",
            }
        ],
        "End": True,
    }
    if heartbeat_seconds is not None:
        task["HeartbeatSeconds"] = heartbeat_seconds
    return json.dumps(
        {
            "StartAt": "Prepare",
            "States": {
                "Prepare": {
                    "Type": "Pass",
                    "Result": json.dumps(TASK_INPUT),
                    "ResultPath": "$",
                    "Next": "Run",
                },
                "Run": task,
                "ETL Job Failed Fallback": {"Type": "Pass", "Next": "ETL Job Failed"},
                "ETL Job Failed": {"Type": "Fail", "ErrorPath": "$.Error", "CausePath": "$.Cause"},
            },
        }
    )


def start(sfn, unique_name, activity_arn, **definition_options) -> str:
    machine_arn = sfn.create_state_machine(
        name=unique_name("Machine"),
        definition=seed_like_definition(activity_arn, **definition_options),
        roleArn=ROLE_ARN,
    )["stateMachineArn"]
    return sfn.start_execution(stateMachineArn=machine_arn, input="{}")["executionArn"]


def wait_for_end(sfn, execution_arn: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    raise AssertionError(f"execution still RUNNING after {timeout} s: {execution_arn}")


def poll_in_thread(sfn, activity_arn: str, worker_name: str = "test-worker") -> tuple[threading.Thread, dict]:
    answer: dict = {}

    def poll() -> None:
        answer.update(sfn.get_activity_task(activityArn=activity_arn, workerName=worker_name))

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    return thread, answer


def state_names_entered(sfn, execution_arn: str) -> list[str]:
    events = sfn.get_execution_history(executionArn=execution_arn)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def test_gaps_shared_activity_store_get_activity_task_json_input_heartbeat_then_success(
    sfn, unique_name, activity_arn
):
    """Gaps 1, 2, 3, 5: the task reaches a polling worker (shared activity store + GetActivityTask routed),
    its input is the JSON encoding of the Pass state's string Result, a heartbeat without HeartbeatSeconds is
    accepted, and SendTaskSuccess ends the execution SUCCEEDED with the worker's output."""
    thread, answer = poll_in_thread(sfn, activity_arn)
    execution_arn = start(sfn, unique_name, activity_arn)
    thread.join(timeout=30)

    assert "taskToken" in answer, f"gap 1/2: no activity task handed to the worker: {answer}"
    assert answer["input"] == json.dumps(json.dumps(TASK_INPUT), separators=(",", ":")), (
        "gap 5: activity input must be the JSON encoding of the string state input"
    )
    assert json.loads(json.loads(answer["input"])) == TASK_INPUT

    sfn.send_task_heartbeat(taskToken=answer["taskToken"])  # gap 3: no HeartbeatSeconds, still accepted
    sfn.send_task_success(taskToken=answer["taskToken"], output=json.dumps({"GlueJobRunState": "SUCCEEDED"}))

    described = wait_for_end(sfn, execution_arn)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"GlueJobRunState": "SUCCEEDED"}

    events = sfn.get_execution_history(executionArn=execution_arn)["events"]
    started = [e for e in events if e["type"] == "ActivityStarted"]
    assert started and started[0]["activityStartedEventDetails"]["workerName"] == "test-worker"


def test_gap_send_task_failure_keeps_cause_through_catch_fallback_and_fail_state(
    sfn, unique_name, activity_arn
):
    """Gap 4: SendTaskFailure's cause is kept, a custom error name is caught, and the Fail state's
    ErrorPath/CausePath end the execution FAILED with that error and cause (seen by DescribeExecution)."""
    thread, answer = poll_in_thread(sfn, activity_arn)
    execution_arn = start(sfn, unique_name, activity_arn)
    thread.join(timeout=30)
    assert "taskToken" in answer, answer

    cause = json.dumps({"GlueJobName": "ProcessSalesData", "ErrorMessage": "boom"})
    sfn.send_task_failure(taskToken=answer["taskToken"], error="GlueJobFailedError", cause=cause)

    described = wait_for_end(sfn, execution_arn)
    assert described["status"] == "FAILED", described
    assert described.get("error") == "GlueJobFailedError", described
    assert described.get("cause") == cause, f"gap 4: SendTaskFailure cause lost: {described}"
    assert state_names_entered(sfn, execution_arn) == [
        "Prepare",
        "Run",
        "ETL Job Failed Fallback",
        "ETL Job Failed",
    ]


def test_gap_immediate_outcome_with_heartbeat_seconds_is_not_lost(sfn, unique_name, activity_arn):
    """Gap 3 (second half): with HeartbeatSeconds, an outcome sent right after GetActivityTask, before the
    engine armed its heartbeat watch, ends the task at once (not after HeartbeatSeconds as a timeout)."""
    thread, answer = poll_in_thread(sfn, activity_arn)
    execution_arn = start(sfn, unique_name, activity_arn, heartbeat_seconds=900)
    thread.join(timeout=30)
    assert "taskToken" in answer, answer
    sfn.send_task_success(taskToken=answer["taskToken"], output="{}")
    assert wait_for_end(sfn, execution_arn, timeout=10)["status"] == "SUCCEEDED"


def test_get_execution_history_of_running_execution_shows_active_state(sfn, unique_name, activity_arn):
    """Verified (no gap in moto 5.2.5): GetExecutionHistory answers while the execution runs, so a progress
    view sees the activity task scheduled and not yet finished."""
    execution_arn = start(sfn, unique_name, activity_arn)
    deadline = time.monotonic() + 10
    types: list[str] = []
    while "ActivityScheduled" not in types and time.monotonic() < deadline:
        types = [e["type"] for e in sfn.get_execution_history(executionArn=execution_arn)["events"]]
        time.sleep(0.05)
    assert "ActivityScheduled" in types, types
    assert sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING"
    assert state_names_entered(sfn, execution_arn) == ["Prepare", "Run"]
    sfn.stop_execution(executionArn=execution_arn)


def test_gap_get_activity_task_long_poll_ends_empty_after_scaled_60_seconds(sfn, local_aws, activity_arn):
    """Gap 2: with no task, GetActivityTask holds for ctx.scaled(60) s, then answers without a token."""
    expected = local_aws.scaled(GET_ACTIVITY_TASK_LONG_POLL_SECONDS)
    began = time.monotonic()
    answer = sfn.get_activity_task(activityArn=activity_arn, workerName="idle-worker")
    waited = time.monotonic() - began
    assert "taskToken" not in answer and "input" not in answer, answer
    assert expected * 0.9 <= waited <= expected + 2.0, (waited, expected)


def test_gap_get_activity_task_wakes_as_soon_as_a_task_is_queued(sfn, local_aws, unique_name, activity_arn):
    """Gap 2: a waiting GetActivityTask answers as soon as a task is queued, not at the poll's end."""
    thread, answer = poll_in_thread(sfn, activity_arn)
    time.sleep(0.3)  # the poll is now waiting
    queued_at = time.monotonic()
    execution_arn = start(sfn, unique_name, activity_arn)
    thread.join(timeout=30)
    took = time.monotonic() - queued_at
    assert "taskToken" in answer, answer
    assert took < local_aws.scaled(GET_ACTIVITY_TASK_LONG_POLL_SECONDS) / 2, took
    sfn.stop_execution(executionArn=execution_arn)


def test_end_open_polls_answers_waiting_polls_empty_and_the_next_task_goes_to_the_next_poll(
    sfn, local_aws, unique_name, activity_arn
):
    """A harness that killed every worker ends their polls (localaws/demo/fault_matrix.py): they answer empty
    at once, so no task is handed to a worker that is gone; a task queued afterwards goes to the next poll."""
    thread, answer = poll_in_thread(sfn, activity_arn)
    deadline = time.monotonic() + 10
    ended = 0
    while not ended and time.monotonic() < deadline:  # until the poll has reached the endpoint
        ended = end_open_polls()
        time.sleep(0.02)
    assert ended >= 1
    thread.join(timeout=local_aws.scaled(GET_ACTIVITY_TASK_LONG_POLL_SECONDS) / 2)
    assert not thread.is_alive() and "taskToken" not in answer, answer

    execution_arn = start(sfn, unique_name, activity_arn)
    task = sfn.get_activity_task(activityArn=activity_arn, workerName="next-worker")
    assert "taskToken" in task, task
    sfn.stop_execution(executionArn=execution_arn)


def test_gap_get_activity_task_unknown_activity_is_activity_does_not_exist(sfn):
    """Gap 2: an unknown activity ARN answers ActivityDoesNotExist, as AWS does."""
    with pytest.raises(ClientError) as raised:
        sfn.get_activity_task(activityArn="arn:aws:states:us-east-1:123456789012:activity:NoSuchActivity")
    assert raised.value.response["Error"]["Code"] == "ActivityDoesNotExist"


def test_gap_fail_state_rethrows_a_reserved_error_name(sfn, unique_name):
    """Gap 7: States.Timeout re-thrown by a Fail state's ErrorPath leaves the Parallel branch as
    States.Timeout (a Catch of States.TaskFailed does not match it, one of States.Timeout does), and a Fail
    state re-throwing it again ends the execution with that error and cause."""
    timeout = {"Error": "States.Timeout", "Cause": "no worker took the task"}
    definition = {
        "StartAt": "Branches",
        "States": {
            "Branches": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "Timed out",
                        "States": {
                            "Timed out": {"Type": "Pass", "Result": timeout, "Next": "Rethrow in branch"},
                            "Rethrow in branch": {
                                "Type": "Fail",
                                "ErrorPath": "$.Error",
                                "CausePath": "$.Cause",
                            },
                        },
                    }
                ],
                "Catch": [
                    {"ErrorEquals": ["States.TaskFailed"], "Next": "Wrong catcher"},
                    {"ErrorEquals": ["States.Timeout"], "Next": "Rethrow"},
                ],
                "End": True,
            },
            "Wrong catcher": {"Type": "Succeed"},
            "Rethrow": {"Type": "Fail", "ErrorPath": "$.Error", "CausePath": "$.Cause"},
        },
    }
    machine = sfn.create_state_machine(
        name=unique_name("rethrow"), definition=json.dumps(definition), roleArn=ROLE_ARN
    )["stateMachineArn"]
    execution_arn = sfn.start_execution(stateMachineArn=machine)["executionArn"]

    described = wait_for_end(sfn, execution_arn)

    assert (described["status"], described.get("error"), described.get("cause")) == (
        "FAILED",
        "States.Timeout",
        "no worker took the task",
    ), described
    assert state_names_entered(sfn, execution_arn)[-1] == "Rethrow"


def wait_for_event(sfn, execution_arn: str, event_type: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = sfn.get_execution_history(executionArn=execution_arn)["events"]
        if any(e["type"] == event_type for e in events):
            return
        time.sleep(0.05)
    raise AssertionError(f"no {event_type} in the history of {execution_arn} after {timeout} s")


def test_gap_stop_execution_waiting_for_a_worker_aborts_it_and_its_task_is_never_handed_out(
    sfn, unique_name, activity_arn
):
    """Gap 9: StopExecution on an execution whose activity task is queued (no worker took it) ends it ABORTED
    with the request's error and cause, and GetActivityTask never hands its task out afterwards."""
    execution_arn = start(sfn, unique_name, activity_arn)
    wait_for_event(sfn, execution_arn, "ActivityScheduled")

    stopped = sfn.stop_execution(executionArn=execution_arn, error="Operator.Stop", cause="by hand")

    assert "stopDate" in stopped, stopped
    described = sfn.describe_execution(executionArn=execution_arn)
    assert described["status"] == "ABORTED", described
    events = sfn.get_execution_history(executionArn=execution_arn)["events"]
    assert [e["type"] for e in events] == [
        "ExecutionStarted",
        "PassStateEntered",
        "PassStateExited",
        "TaskStateEntered",
        "ActivityScheduled",
        "ExecutionAborted",
    ]
    assert events[-1]["executionAbortedEventDetails"] == {"error": "Operator.Stop", "cause": "by hand"}
    answer = sfn.get_activity_task(activityArn=activity_arn, workerName="late-worker")
    assert "taskToken" not in answer, f"the stopped execution's task was handed out: {answer}"


def test_gap_stop_execution_of_a_started_task_then_outcome_and_heartbeat_are_task_timed_out(
    sfn, unique_name, activity_arn
):
    """Gaps 8, 9: a worker holds the task when the execution is stopped; the execution ends ABORTED at once,
    and the worker's heartbeat or outcome on that token answers TaskTimedOut (task closed), as on AWS."""
    thread, answer = poll_in_thread(sfn, activity_arn)
    execution_arn = start(sfn, unique_name, activity_arn, heartbeat_seconds=900)
    thread.join(timeout=30)
    assert "taskToken" in answer, answer
    sfn.send_task_heartbeat(taskToken=answer["taskToken"])

    sfn.stop_execution(executionArn=execution_arn)

    assert sfn.describe_execution(executionArn=execution_arn)["status"] == "ABORTED"
    assert [e["type"] for e in sfn.get_execution_history(executionArn=execution_arn)["events"]][-2:] == [
        "ActivityStarted",
        "ExecutionAborted",
    ]
    for send in (
        lambda: sfn.send_task_heartbeat(taskToken=answer["taskToken"]),
        lambda: sfn.send_task_success(taskToken=answer["taskToken"], output="{}"),
        lambda: sfn.send_task_failure(taskToken=answer["taskToken"], error="E"),
    ):
        with pytest.raises(ClientError) as raised:
            send()
        assert raised.value.response["Error"]["Code"] == "TaskTimedOut"


def test_gap_token_index_unknown_token_is_invalid_and_a_finished_task_is_timed_out(
    sfn, unique_name, activity_arn
):
    """Gap 8: a token no task was given answers InvalidToken; one whose task already ended answers
    TaskTimedOut ("the task associated with the token has already been closed")."""
    with pytest.raises(ClientError) as raised:
        sfn.send_task_heartbeat(taskToken="no-such-token")
    assert raised.value.response["Error"]["Code"] == "InvalidToken"

    thread, answer = poll_in_thread(sfn, activity_arn)
    execution_arn = start(sfn, unique_name, activity_arn)
    thread.join(timeout=30)
    sfn.send_task_success(taskToken=answer["taskToken"], output="{}")
    assert wait_for_end(sfn, execution_arn)["status"] == "SUCCEEDED"
    with pytest.raises(ClientError) as raised:
        sfn.send_task_success(taskToken=answer["taskToken"], output="{}")
    assert raised.value.response["Error"]["Code"] == "TaskTimedOut"


def test_gap_token_index_many_running_executions_each_get_their_own_outcome(sfn, unique_name, activity_arn):
    """Gap 8: with many executions waiting at once, every token reaches its own execution (the index maps
    each token to its execution; none is lost between queueing and the worker taking it)."""
    machine_arn = sfn.create_state_machine(
        name=unique_name("Machine"), definition=seed_like_definition(activity_arn), roleArn=ROLE_ARN
    )["stateMachineArn"]
    executions = [
        sfn.start_execution(stateMachineArn=machine_arn, name=f"run-{n}", input="{}")["executionArn"]
        for n in range(20)
    ]
    tokens = []
    while len(tokens) < len(executions):
        answer = sfn.get_activity_task(activityArn=activity_arn, workerName="w")
        assert "taskToken" in answer, f"only {len(tokens)} of {len(executions)} tasks handed out"
        tokens.append(answer["taskToken"])
    for index, token in enumerate(tokens):
        sfn.send_task_heartbeat(taskToken=token)
        sfn.send_task_success(taskToken=token, output=json.dumps({"n": index}))
    outputs = sorted(json.loads(wait_for_end(sfn, arn)["output"])["n"] for arn in executions)
    assert outputs == list(range(len(executions)))


def test_gap_token_index_task_token_calls_do_not_walk_the_executions(
    sfn, unique_name, activity_arn, monkeypatch
):
    """Gap 8: GetActivityTask, SendTaskHeartbeat and SendTaskSuccess find the token's execution in the index;
    none lists the running executions (moto walked all of them, so each call grew with N)."""
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    walks = []
    original = StepFunctionsParserBackend._get_executions
    monkeypatch.setattr(
        StepFunctionsParserBackend, "_get_executions", lambda self, *a: walks.append(a) or original(self, *a)
    )
    thread, answer = poll_in_thread(sfn, activity_arn)
    execution_arn = start(sfn, unique_name, activity_arn)
    thread.join(timeout=30)
    sfn.send_task_heartbeat(taskToken=answer["taskToken"])
    sfn.send_task_success(taskToken=answer["taskToken"], output="{}")
    assert wait_for_end(sfn, execution_arn)["status"] == "SUCCEEDED"
    assert walks == []


def test_gap_heartbeat_timeout_is_retried_by_a_retry_on_states_heartbeat_timeout(
    sfn, unique_name, activity_arn
):
    """A worker claims the task and dies: AWS's heartbeat timeout matches a Retry on States.HeartbeatTimeout
    (moto raised a plain States.Timeout, so the wait states' Retry never fired locally) and queues the task
    again; a Catch on States.Timeout still sees the error as States.Timeout."""
    definition = {
        "StartAt": "Wait",
        "States": {
            "Wait": {
                "Type": "Task",
                "Resource": activity_arn,
                "HeartbeatSeconds": 1,
                "Retry": [
                    {"ErrorEquals": ["States.HeartbeatTimeout"], "IntervalSeconds": 1, "MaxAttempts": 1}
                ],
                "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    machine = create_machine(sfn, unique_name, definition)
    execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    first = sfn.get_activity_task(activityArn=activity_arn, workerName="dies")["taskToken"]  # never answered
    second = sfn.get_activity_task(activityArn=activity_arn, workerName="lives")["taskToken"]  # the retry's
    assert second != first
    # The retried task times out too: the retrier is spent, and the Catch sees States.Timeout.
    ended = wait_for_end(sfn, execution, timeout=30)
    assert ended["status"] == "SUCCEEDED"
    assert json.loads(ended["output"])["Error"] == "States.Timeout"
    events = sfn.get_execution_history(executionArn=execution)["events"]
    timed_out = [e["activityTimedOutEventDetails"] for e in events if e["type"] == "ActivityTimedOut"]
    assert [d["error"] for d in timed_out] == ["States.Timeout", "States.Timeout"]
