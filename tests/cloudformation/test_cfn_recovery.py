"""What bounds recovery at the templates' own settings: heartbeats the workers can keep, recovery ticks that
keep them, and one heartbeat value per worker, the same on both sides of a stack boundary.

Invariants over whatever states and runners the templates declare (a job added to a state machine is
covered without a change here).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from cfn_test_helpers import (
    load_template,
    parameter_values,
    resources_of_type,
    state_machine_definition,
    step_functions_resolver,
)

RUNNER_STACKS = {
    "gluerunner-lambda": "GlueRunnerActivityName",
    "athenarunner-lambda": "AthenaRunnerActivityName",
}
TICK_INPUT = {"etlrunner": "tick"}
# How often the recovery tick fires, and how many ticks in a row may be lost before a task times out.
TICK_SECONDS = 60
MISSED_TICKS_ALLOWED = 2


def _states(states: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name, state in states.items():
        found[name] = state
        for branch in state.get("Branches", []):
            found.update(_states(branch["States"]))
    return found


def task_states() -> list[dict[str, Any]]:
    """Every Task state of every state machine in step-functions-resources, substitutions applied."""
    template = load_template("step-functions-resources")
    found = []
    for logical_id in resources_of_type(template, "AWS::StepFunctions::StateMachine"):
        states = json.loads(state_machine_definition(logical_id))["States"]
        found += [state for state in _states(states).values() if state.get("Type") == "Task"]
    return found


def activity_arn_of_parameter(parameter: str) -> str:
    resolver = step_functions_resolver()
    template = resolver.template
    (logical_id,) = [
        name
        for name, res in resources_of_type(template, "AWS::StepFunctions::Activity").items()
        if res["Properties"]["Name"] == {"Ref": parameter}
    ]
    return resolver.resolve({"Ref": logical_id})


def tick_rules(stack: str) -> list[dict[str, Any]]:
    rules = resources_of_type(load_template(stack), "AWS::Events::Rule").values()
    return [
        rule
        for rule in rules
        if any(json.loads(t.get("Input", "null")) == TICK_INPUT for t in rule["Properties"]["Targets"])
    ]


@pytest.mark.parametrize("stack", sorted(RUNNER_STACKS))
def test_each_runner_has_a_one_minute_recovery_tick(stack):
    (rule,) = tick_rules(stack)
    assert rule["Properties"]["ScheduleExpression"] == f"rate({TICK_SECONDS // 60} minute)"
    assert rule["Properties"]["State"] == "ENABLED"


def test_ons3objectcreated_has_a_one_minute_recovery_tick():
    (rule,) = tick_rules("step-functions-resources")
    assert rule["Properties"]["ScheduleExpression"] == "rate(1 minute)"
    ((target),) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["OnS3ObjectCreatedFunction", "Arn"]}


@pytest.mark.parametrize(("stack", "activity_parameter"), sorted(RUNNER_STACKS.items()))
def test_a_runner_s_heartbeat_setting_is_its_task_states_heartbeat(stack, activity_parameter):
    """The runner asks for a poll when a task a dead run held comes back: after its HeartbeatSeconds."""
    arn = activity_arn_of_parameter(activity_parameter)
    runner_tasks = [state for state in task_states() if state["Resource"] == arn]
    assert runner_tasks, f"no Task state uses the activity of {stack}"
    template = load_template(stack)
    setting = int(parameter_values(template)["TaskHeartbeatSeconds"])
    env = resources_of_type(template, "AWS::Lambda::Function")
    (function,) = env.values()
    assert function["Properties"]["Environment"]["Variables"]["TASK_HEARTBEAT_SECONDS"] == {
        "Ref": "TaskHeartbeatSeconds"
    }
    assert {state["HeartbeatSeconds"] for state in runner_tasks} == {setting}


def test_every_task_s_heartbeat_bounds_recovery_to_five_minutes_and_runners_outlast_missed_ticks():
    runner_arns = {activity_arn_of_parameter(parameter) for parameter in RUNNER_STACKS.values()}
    for state in task_states():
        heartbeat = state["HeartbeatSeconds"]
        if state["Resource"] in runner_arns:  # kept alive by the ticks while its job runs
            assert heartbeat >= (MISSED_TICKS_ALLOWED + 1) * TICK_SECONDS, state
        # A task lost with a dead worker comes back after its heartbeat, and is polled within a tick.
        assert heartbeat + TICK_SECONDS <= 5 * 60, state
        retries = {tuple(r["ErrorEquals"]) for r in state.get("Retry", [])}
        assert ("States.HeartbeatTimeout",) in retries, f"a lost task must come back: {state}"


def test_the_wait_heartbeat_setting_is_the_wait_states_heartbeat():
    template = load_template("step-functions-resources")
    variables = template["Resources"]["OnS3ObjectCreatedFunction"]["Properties"]["Environment"]["Variables"]
    waits = [s for s in task_states() if "ExpectedS3Key" in s.get("Parameters", {})]
    assert waits
    assert {state["HeartbeatSeconds"] for state in waits} == {int(variables["WAIT_HEARTBEAT_SECONDS"])}


def test_the_safety_net_schedules_stay_ten_minutes():
    """Lost events only: everything a dead run leaves is the ticks' (a minute), not the schedules'."""
    for stack in RUNNER_STACKS:
        assert parameter_values(load_template(stack))["ScheduleExpression"] == "rate(10 minutes)"
    sweep = parameter_values(load_template("step-functions-resources"))["ArrivalSweepSchedule"]
    assert re.fullmatch(r"rate\(10 minutes\)", sweep)
