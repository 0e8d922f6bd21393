"""Every state machine: a Definition object cfn-lint can check, valid ASL, its role and its logs.

What its states must satisfy is in test_cfn_workflow_invariants.py; the sample's own flow (its state
names and wiring) in test_cfn_sample_names.py.
"""

from __future__ import annotations

import pytest
from cfn_test_helpers import (
    LOG_DELIVERY_ACTIONS,
    Resolver,
    declared_activity_arns,
    load_template,
    resources_of_type,
    state_machine_definition,
    state_machines,
)
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

MACHINES = state_machines()


@pytest.mark.parametrize("logical_id", MACHINES)
def test_definition_is_an_object_with_substitutions(logical_id):
    props = load_template("step-functions-resources")["Resources"][logical_id]["Properties"]
    assert props["StateMachineName"] == logical_id
    assert isinstance(props["Definition"], dict), "use Definition (object) so that cfn-lint checks the ASL"
    assert "DefinitionString" not in props
    assert props["DefinitionSubstitutions"]


@pytest.mark.parametrize("logical_id", MACHINES)
def test_definition_parses_as_asl(logical_id):
    text = state_machine_definition(logical_id)
    assert "${" not in text, "a DefinitionSubstitutions key is missing"
    AmazonStateLanguageParser.parse(text)


def test_runner_activity_arns_agree_between_stacks():
    """The runner stacks build the activity ARN from the same name parameter the activity is created with."""
    declared = declared_activity_arns({"GlueRunnerActivityName": "G1", "AthenaRunnerActivityName": "A1"})
    for stack, param, function, activity in [
        ("gluerunner-lambda", "GlueRunnerActivityName", "GlueRunnerFunction", "GlueRunnerActivity"),
        ("athenarunner-lambda", "AthenaRunnerActivityName", "AthenaRunnerFunction", "AthenaRunnerActivity"),
    ]:
        template = load_template(stack)
        value = "G1" if param.startswith("Glue") else "A1"
        env = template["Resources"][function]["Properties"]["Environment"]["Variables"]
        assert Resolver(template, {param: value}).resolve(env["SFN_ACTIVITY_ARN"]) == declared[activity]


def test_state_machine_role_is_assumable_by_step_functions_in_any_region():
    template = load_template("step-functions-resources")
    roles = {
        res["Properties"]["RoleArn"]["Fn::GetAtt"][0]
        for res in resources_of_type(template, "AWS::StepFunctions::StateMachine").values()
    }
    assert len(roles) == 1
    role = template["Resources"][roles.pop()]["Properties"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "states.amazonaws.com"}
    # Activity tasks need no permissions on the execution role: only the log delivery is granted.
    assert "ManagedPolicyArns" not in role
    (policy,) = role["Policies"]
    (grant,) = policy["PolicyDocument"]["Statement"]
    assert grant["Resource"] == "*"
    assert set(grant["Action"]) == LOG_DELIVERY_ACTIONS


@pytest.mark.parametrize("logical_id", MACHINES)
def test_state_machines_log_errors_without_execution_data(logical_id):
    template = load_template("step-functions-resources")
    logging = template["Resources"][logical_id]["Properties"]["LoggingConfiguration"]
    assert logging["Level"] in ("ERROR", "ALL")
    assert logging["IncludeExecutionData"] is False
    (destination,) = logging["Destinations"]
    group_id = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    group = template["Resources"][group_id]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] > 0
