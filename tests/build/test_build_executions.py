"""startexecution / executionstatus on moto, with a tiny Pass-only state machine that moto really executes."""

from __future__ import annotations

import importlib.util
import json
import time

import boto3
import pytest
from build_support import REPO
from moto import mock_aws

from buildlib import BuildError, load_project
from buildlib.executions import execution_status, start_execution, state_events, status_exit_code

DEFINITION = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Result": {"x": 1}, "Next": "Finish"},
        "Finish": {"Type": "Pass", "End": True},
    },
}


@pytest.fixture
def sfn_project(repo, aws_env, lines):
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = boto3.client("stepfunctions")
        sfn.create_state_machine(
            name="MarketingAndSalesETLOrchestrator",
            definition=json.dumps(DEFINITION),
            roleArn="arn:aws:iam::123456789012:role/sfn",
        )
        yield load_project(repo, out=lines.append)


def _wait_done(project, arn):
    for _ in range(100):
        result = execution_status(project, arn)
        if result["status"] != "RUNNING":
            return result
        time.sleep(0.05)
    raise AssertionError("execution did not finish")


def test_start_and_status_of_the_latest(sfn_project, lines):
    arn = start_execution(sfn_project)
    assert arn.startswith("arn:aws:states:us-east-1:") and ":MarketingAndSalesETLOrchestrator:" in arn
    assert lines[-1] == arn
    _wait_done(sfn_project, arn)
    lines.clear()
    result = execution_status(sfn_project)  # no ARN: the latest execution
    assert result["executionArn"] == arn
    assert result["status"] == "SUCCEEDED"
    assert [(s["State"], s["Event"]) for s in result["states"]] == [
        ("Prepare", "PassStateExited"),
        ("Finish", "PassStateExited"),
    ]
    assert lines[0] == f"execution {arn}"
    assert lines[1] == "status    SUCCEEDED"
    assert lines[2].split() == ["State", "Event", "Time", "Detail"]


@pytest.mark.parametrize(
    ("status", "code"),
    [("SUCCEEDED", 0), ("RUNNING", 0), ("FAILED", 3), ("TIMED_OUT", 3), ("ABORTED", 3)],
)
def test_status_exit_code(status, code):
    assert status_exit_code(status) == code


@pytest.fixture
def build_module(sfn_project, monkeypatch):
    """build.py as pynt loads it, its tasks working on the moto project."""
    spec = importlib.util.spec_from_file_location("build_under_test", REPO / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "_project", lambda: sfn_project)
    return module


def _finished(machine: str, definition: dict) -> str:
    sfn = boto3.client("stepfunctions")
    arn = sfn.create_state_machine(
        name=machine, definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/sfn"
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    for _ in range(100):
        if sfn.describe_execution(executionArn=execution)["status"] != "RUNNING":
            return execution
        time.sleep(0.05)
    raise AssertionError("execution did not finish")


def test_executionstatus_exits_3_for_a_failed_execution_and_still_prints_it(build_module, lines):
    failing = {"StartAt": "Broken", "States": {"Broken": {"Type": "Fail", "Error": "Boom", "Cause": "why"}}}
    arn = _finished("Failing", failing)
    with pytest.raises(SystemExit) as exited:
        build_module.executionstatus.func(arn)
    assert exited.value.code == 3
    assert lines[:2] == [f"execution {arn}", "status    FAILED"]
    assert lines[2] == "error     Boom: why"


def test_executionstatus_exits_3_for_an_aborted_execution(build_module, lines):
    wait = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 600, "End": True}}}
    sfn = boto3.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="Waiting", definition=json.dumps(wait), roleArn="arn:aws:iam::123456789012:role/sfn"
    )["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    sfn.stop_execution(executionArn=arn)
    # moto's own engine (unless an endpoint's bridges were installed in this process) ends a stopped Wait
    # state a moment after StopExecution answers: under load the status read first was still RUNNING.
    for _ in range(100):
        if sfn.describe_execution(executionArn=arn)["status"] != "RUNNING":
            break
        time.sleep(0.05)
    with pytest.raises(SystemExit) as exited:
        build_module.executionstatus.func("Waiting")  # a machine name: its latest execution
    assert exited.value.code == 3
    assert lines[1] == "status    ABORTED"


def test_executionstatus_returns_normally_for_a_succeeded_execution(build_module, lines):
    arn = _finished("Passing", DEFINITION)
    build_module.executionstatus.func(arn)
    assert lines[1] == "status    SUCCEEDED"


def test_unknown_state_machine_lists_existing(sfn_project):
    with pytest.raises(BuildError) as err:
        start_execution(sfn_project, "Nope")
    assert str(err.value) == (
        "state machine Nope not found (existing: MarketingAndSalesETLOrchestrator): "
        "create it with pynt createstack[step-functions-resources]"
    )


def test_no_executions_yet(sfn_project):
    with pytest.raises(
        BuildError,
        match=r"MarketingAndSalesETLOrchestrator has no executions yet: start one with "
        r"pynt startexecution\[MarketingAndSalesETLOrchestrator\]",
    ):
        execution_status(sfn_project)


def test_unknown_execution_arn(sfn_project):
    arn = "arn:aws:states:us-east-1:123456789012:execution:MarketingAndSalesETLOrchestrator:nope"
    with pytest.raises(BuildError, match=f"execution {arn} not found"):
        execution_status(sfn_project, arn)


def test_state_events_attribute_activity_events_to_their_state():
    history = [
        {"id": 1, "previousEventId": 0, "type": "ExecutionStarted"},
        {
            "id": 2,
            "previousEventId": 1,
            "type": "ParallelStateEntered",
            "stateEnteredEventDetails": {"name": "P"},
        },
        {
            "id": 3,
            "previousEventId": 2,
            "type": "TaskStateEntered",
            "stateEnteredEventDetails": {"name": "A"},
        },
        {
            "id": 4,
            "previousEventId": 2,
            "type": "TaskStateEntered",
            "stateEnteredEventDetails": {"name": "B"},
        },
        {
            "id": 5,
            "previousEventId": 3,
            "type": "ActivityScheduled",
            "activityScheduledEventDetails": {"resource": "arn:act"},
        },
        {
            "id": 6,
            "previousEventId": 4,
            "type": "ActivityScheduled",
            "activityScheduledEventDetails": {"resource": "arn:act"},
        },
        {
            "id": 7,
            "previousEventId": 6,
            "type": "ActivityFailed",
            "activityFailedEventDetails": {"error": "GlueJobFailedError", "cause": "{}"},
        },
    ]
    rows = state_events(history)
    assert [(r["State"], r["Event"], r["Detail"]) for r in rows] == [
        ("P", "ParallelStateEntered", ""),
        ("A", "ActivityScheduled", "arn:act"),
        ("B", "ActivityFailed", "GlueJobFailedError: {}"),
    ]


def test_state_events_put_a_parallel_failure_on_the_parallel_state_not_the_failing_branch():
    # ParallelStateFailed names the failing branch's last event as its predecessor (here the Fail state B).
    history = [
        {"id": 1, "previousEventId": 0, "type": "ExecutionStarted"},
        {
            "id": 2,
            "previousEventId": 1,
            "type": "ParallelStateEntered",
            "stateEnteredEventDetails": {"name": "P"},
        },
        {"id": 3, "previousEventId": 2, "type": "ParallelStateStarted"},
        {
            "id": 4,
            "previousEventId": 3,
            "type": "FailStateEntered",
            "stateEnteredEventDetails": {"name": "B"},
        },
        {"id": 5, "previousEventId": 4, "type": "ParallelStateFailed"},
        {
            "id": 6,
            "previousEventId": 5,
            "type": "ExecutionFailed",
            "executionFailedEventDetails": {"error": "E"},
        },
    ]
    rows = state_events(history)
    assert [(r["State"], r["Event"]) for r in rows] == [
        ("P", "ParallelStateFailed"),
        ("B", "FailStateEntered"),
    ]
