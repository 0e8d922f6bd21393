"""Step Functions requests answered as AWS answers them (localaws/bridges/stepfunctions/request_rules.py and
history.py), with plain boto3 calls as the AWS CLI makes them.

Each test names the difference it guards: execution input that is not JSON, the documented name rules,
CreateActivity's idempotency, and what the history of an execution stopped mid-Parallel records.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from botocore.exceptions import ClientError

from tests.localaws.sfn_support import ROLE_ARN, create_machine

PASS_MACHINE = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


@pytest.fixture
def sfn_unchecked(aws_client):
    """A client that sends what it is given (botocore would refuse an empty name itself), as raw HTTP does."""
    return aws_client("stepfunctions", parameter_validation=False)


def error_of(call) -> tuple[str, str]:
    with pytest.raises(ClientError) as refused:
        call()
    error = refused.value.response["Error"]
    return error["Code"], error["Message"]


# --- StartExecution input ----------------------------------------------------------------------------------


def test_start_execution_with_input_that_is_not_json_is_invalid_execution_input(sfn, unique_name):
    """AWS: InvalidExecutionInput (local before: {"__type": null}, which botocore read as an empty code)."""
    machine = create_machine(sfn, unique_name, PASS_MACHINE)
    code, message = error_of(lambda: sfn.start_execution(stateMachineArn=machine, input="{not json"))
    assert code == "InvalidExecutionInput"
    assert message.startswith("Invalid State Machine Execution Input: '")
    assert sfn.list_executions(stateMachineArn=machine)["executions"] == []  # nothing was started


# --- names --------------------------------------------------------------------------------------------------

FORBIDDEN = [" ", "\t", "\u00a0", "<", ">", "{", "}", "[", "]", "?", "*"]
FORBIDDEN += list('"#%\\^|~`$&,;:/') + ["\u0000", "\u001f", "\u007f", "\u009f"]


@pytest.mark.parametrize("character", FORBIDDEN, ids=[f"U+{ord(c):04X}" for c in FORBIDDEN])
def test_an_execution_name_with_a_forbidden_character_is_invalid_name(sfn, unique_name, character):
    """API reference, StartExecution name: no whitespace, brackets, wildcards, special or control
    characters (local before: every one accepted, and the execution ran)."""
    machine = create_machine(sfn, unique_name, PASS_MACHINE)
    name = f"run{character}1"
    assert error_of(lambda: sfn.start_execution(stateMachineArn=machine, name=name)) == (
        "InvalidName",
        f"Invalid Name: '{name}'",
    )


def test_execution_name_length_is_one_to_eighty_as_the_model_says(sfn, sfn_unchecked, unique_name):
    """81 characters (or none) break the model's length constraint, which AWS answers ValidationException
    (its own wording, as quoted in getmoto/moto#6438); 80 are accepted."""
    machine = create_machine(sfn, unique_name, PASS_MACHINE)
    code, message = error_of(lambda: sfn.start_execution(stateMachineArn=machine, name="n" * 81))
    assert code == "ValidationException"
    assert message == (
        f"1 validation error detected: Value '{'n' * 81}' at 'name' failed to satisfy constraint: "
        "Member must have length less than or equal to 80"
    )
    code, message = error_of(lambda: sfn_unchecked.start_execution(stateMachineArn=machine, name=""))
    assert code == "ValidationException" and "greater than or equal to 1" in message
    assert sfn.start_execution(stateMachineArn=machine, name="n" * 80)["executionArn"].endswith("n" * 80)


def test_state_machine_and_activity_names_follow_the_same_rules(sfn, unique_name):
    for create in (
        lambda name: sfn.create_activity(name=name),
        lambda name: sfn.create_state_machine(
            name=name, definition=json.dumps(PASS_MACHINE), roleArn=ROLE_ARN
        ),
    ):
        assert error_of(lambda create=create: create("has\u2003space"))[0] == "InvalidName"
        assert error_of(lambda create=create: create("a" * 81))[0] == "ValidationException"


# --- CreateActivity -----------------------------------------------------------------------------------------


def test_create_activity_is_idempotent_on_the_name_and_ignores_different_tags(sfn, unique_name):
    """API reference: "CreateActivity is an idempotent API ... If a following request has different tags
    values, Step Functions will ignore these differences" (local before: ActivityAlreadyExists)."""
    name = unique_name("Idempotent")
    first = sfn.create_activity(name=name, tags=[{"key": "team", "value": "a"}])
    try:
        again = sfn.create_activity(name=name, tags=[{"key": "team", "value": "b"}])
        assert again["activityArn"] == first["activityArn"]
        assert again["creationDate"] == first["creationDate"]
        tags = sfn.list_tags_for_resource(resourceArn=first["activityArn"])["tags"]
        assert tags == [{"key": "team", "value": "a"}]
        assert [a["name"] for a in sfn.list_activities()["activities"]].count(name) == 1
    finally:
        sfn.delete_activity(activityArn=first["activityArn"])


# --- StopExecution while a Parallel state runs --------------------------------------------------------------


def take_task(sfn, activity_arn: str) -> str:
    answer: dict = {}
    thread = threading.Thread(
        target=lambda: answer.update(sfn.get_activity_task(activityArn=activity_arn, workerName="w")),
        daemon=True,
    )
    thread.start()
    thread.join(timeout=30)
    assert "taskToken" in answer, answer
    return answer["taskToken"]


def history(sfn, execution_arn: str) -> list[dict]:
    return sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]


def wait_for(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.mark.parametrize("reason", [{"error": "Operator", "cause": "stopped by hand"}, {}])
def test_stop_execution_during_a_parallel_state_records_only_execution_aborted(sfn, unique_name, reason):
    """One branch done, the other waiting on its worker: AWS's history then ends with ExecutionAborted, with
    nothing about the states in flight (local before: ParallelStateSucceeded first). ExecutionAborted's
    previousEventId is 0 on AWS (localstack's test_stop_execution snapshot, recorded against AWS), and a
    stop without error/cause has empty details (no nulls)."""
    first = sfn.create_activity(name=unique_name("Branch1"))["activityArn"]
    second = sfn.create_activity(name=unique_name("Branch2"))["activityArn"]
    branches = [
        {"StartAt": "T1", "States": {"T1": {"Type": "Task", "Resource": first, "End": True}}},
        {"StartAt": "T2", "States": {"T2": {"Type": "Task", "Resource": second, "End": True}}},
    ]
    definition = {
        "StartAt": "Both",
        "States": {
            "Both": {"Type": "Parallel", "Branches": branches, "Next": "After"},
            "After": {"Type": "Pass", "End": True},
        },
    }
    try:
        machine = create_machine(sfn, unique_name, definition)
        execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
        sfn.send_task_success(taskToken=take_task(sfn, first), output="{}")
        wait_for(lambda: any(e["type"] == "TaskStateExited" for e in history(sfn, execution)))
        wait_for(lambda: sum(e["type"] == "ActivityScheduled" for e in history(sfn, execution)) == 2)
        before = history(sfn, execution)

        sfn.stop_execution(executionArn=execution, **reason)
        # StopExecution answers once the execution is ABORTED, which it becomes after recording its last
        # event: anything about the states in flight would already be in the history.
        assert sfn.describe_execution(executionArn=execution)["status"] == "ABORTED"
        events = history(sfn, execution)

        assert events[: len(before)] == before
        added = events[len(before) :]
        assert [e["type"] for e in added] == ["ExecutionAborted"], [e["type"] for e in added]
        aborted = added[0]
        assert aborted["id"] == before[-1]["id"] + 1 and aborted["previousEventId"] == 0
        assert aborted["executionAbortedEventDetails"] == reason
    finally:
        sfn.delete_activity(activityArn=first)
        sfn.delete_activity(activityArn=second)
