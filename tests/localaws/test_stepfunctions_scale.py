"""Step Functions bridge, gap 16: a waiting execution holds one thread, and task timeouts still hold.

moto ran each execution waiting on an activity task on three threads (10,000 tracked jobs: 30,000 threads);
the bridge runs the program and the activity task state on the execution's own thread, with the task's
TimeoutSeconds kept by one shared deadline thread.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from localaws.bridges.stepfunctions import Deadlines
from tests.localaws.sfn_support import create_machine

pytestmark = pytest.mark.usefixtures("service_roles")  # roles the tests name exist (tests/iam_roles.py)


def task_state(activity_arn: str, **fields) -> dict:
    return {"Type": "Task", "Resource": activity_arn, "End": True, **fields}


def wait_until(condition, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(0.05)


def wait_for_end(sfn, execution_arn: str, timeout: float = 20.0) -> dict:
    described: dict = {}

    def ended() -> bool:
        described.update(sfn.describe_execution(executionArn=execution_arn))
        return described["status"] != "RUNNING"

    wait_until(ended, timeout, f"end of {execution_arn}")
    return described


def event_types(sfn, execution_arn: str) -> list[str]:
    return [e["type"] for e in sfn.get_execution_history(executionArn=execution_arn)["events"]]


def test_gap_threads_per_execution_one_thread_per_execution_waiting_on_a_taken_task(
    sfn, unique_name, activity_arn
):
    count = 20
    machine_arn = create_machine(
        sfn,
        unique_name,
        {
            "StartAt": "Run",
            "States": {"Run": task_state(activity_arn, HeartbeatSeconds=900, TimeoutSeconds=3600)},
        },
    )
    before = threading.active_count()
    executions, tokens = [], []
    for k in range(count):
        executions.append(sfn.start_execution(stateMachineArn=machine_arn, name=f"e{k}")["executionArn"])
        tokens.append(sfn.get_activity_task(activityArn=activity_arn, workerName="w")["taskToken"])
    try:
        # moto's engine held 3 threads each (60 here); request threads of the server may linger a moment.
        wait_until(lambda: threading.active_count() - before <= count + 2, what="one thread per execution")
        for token in tokens:
            sfn.send_task_heartbeat(taskToken=token)
    finally:
        for arn in executions:
            sfn.stop_execution(executionArn=arn)
    for arn in executions:
        assert wait_for_end(sfn, arn)["status"] == "ABORTED"
        assert event_types(sfn, arn)[-1] == "ExecutionAborted"


def test_gap_threads_per_execution_timeout_seconds_ends_a_task_despite_heartbeats(
    sfn, unique_name, activity_arn
):
    # The heartbeat loop alone never ends while heartbeats come: TimeoutSeconds must end it (moto's joined
    # thread did, the shared deadline does now).
    machine_arn = create_machine(
        sfn,
        unique_name,
        {"StartAt": "Run", "States": {"Run": task_state(activity_arn, HeartbeatSeconds=1, TimeoutSeconds=2)}},
    )
    execution_arn = sfn.start_execution(stateMachineArn=machine_arn)["executionArn"]
    token = sfn.get_activity_task(activityArn=activity_arn, workerName="w")["taskToken"]
    began = time.monotonic()
    while sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING":
        assert time.monotonic() - began < 20, "TimeoutSeconds did not end the task"
        try:
            sfn.send_task_heartbeat(taskToken=token)
        except sfn.exceptions.TaskTimedOut:
            break
        time.sleep(0.2)
    described = wait_for_end(sfn, execution_arn)
    assert described["status"] == "FAILED"
    assert described["error"] == "States.Timeout"
    types = event_types(sfn, execution_arn)
    assert "ActivityTimedOut" in types and types[-1] == "ExecutionFailed"
    with pytest.raises(sfn.exceptions.TaskTimedOut):
        sfn.send_task_success(taskToken=token, output="{}")


def test_gap_threads_per_execution_task_nobody_takes_times_out_and_is_caught(sfn, unique_name, activity_arn):
    run = task_state(activity_arn, TimeoutSeconds=1)
    del run["End"]
    run["Catch"] = [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.caught", "Next": "Caught"}]
    run["Next"] = "Done"
    definition = {
        "StartAt": "Run",
        "States": {
            "Run": run,
            "Caught": {"Type": "Pass", "End": True},
            "Done": {"Type": "Pass", "End": True},
        },
    }
    machine_arn = create_machine(sfn, unique_name, definition)
    execution_arn = sfn.start_execution(stateMachineArn=machine_arn)["executionArn"]
    described = wait_for_end(sfn, execution_arn)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["caught"]["Error"] == "States.Timeout"
    assert "ActivityTimedOut" in event_types(sfn, execution_arn)
    # The timed-out task is never handed out afterwards.
    assert "taskToken" not in sfn.get_activity_task(activityArn=activity_arn, workerName="late")


def test_gap_threads_per_execution_outcome_before_the_deadline_succeeds(sfn, unique_name, activity_arn):
    machine_arn = create_machine(
        sfn, unique_name, {"StartAt": "Run", "States": {"Run": task_state(activity_arn, TimeoutSeconds=30)}}
    )
    execution_arn = sfn.start_execution(stateMachineArn=machine_arn, input='{"a": 1}')["executionArn"]
    task = sfn.get_activity_task(activityArn=activity_arn, workerName="w")
    assert json.loads(task["input"]) == {"a": 1}
    sfn.send_task_success(taskToken=task["taskToken"], output='{"done": true}')
    described = wait_for_end(sfn, execution_arn)
    assert described["status"] == "SUCCEEDED" and json.loads(described["output"]) == {"done": True}
    assert event_types(sfn, execution_arn)[-3:] == [
        "ActivitySucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]


def test_gap_threads_per_execution_program_timeout_seconds_still_times_the_execution_out(
    sfn, unique_name, activity_arn
):
    definition = {"TimeoutSeconds": 1, "StartAt": "Run", "States": {"Run": task_state(activity_arn)}}
    machine_arn = create_machine(sfn, unique_name, definition)
    execution_arn = sfn.start_execution(stateMachineArn=machine_arn)["executionArn"]
    described = wait_for_end(sfn, execution_arn)
    assert described["status"] == "TIMED_OUT"
    # The task waiting inside is woken, so the history ends as on AWS.
    wait_until(lambda: event_types(sfn, execution_arn)[-1] == "ExecutionTimedOut", what="ExecutionTimedOut")


def test_deadlines_run_in_order_and_skip_cancelled_ones():
    deadlines = Deadlines()
    ran: list[str] = []
    done = threading.Event()
    now = time.monotonic()
    deadlines.schedule(now + 0.2, lambda: ran.append("second"))
    cancelled = deadlines.schedule(now + 0.1, lambda: ran.append("cancelled"))
    deadlines.schedule(now + 0.05, lambda: ran.append("first"))
    deadlines.schedule(now + 0.3, done.set)
    far = [deadlines.schedule(now + 10**8, lambda: ran.append("never")) for _ in range(10)]
    deadlines.cancel(cancelled)
    for entry in far:
        deadlines.cancel(entry)  # the heap is rebuilt once most of it is cancelled
    assert done.wait(10)
    assert ran == ["first", "second"]
    assert deadlines.pending() == 0
