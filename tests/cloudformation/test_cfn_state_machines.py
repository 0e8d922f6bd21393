"""The two state machines: valid ASL, the seed's flow, and every Task bound to a declared activity."""

from __future__ import annotations

import json

import pytest
from cfn_test_helpers import (
    LOG_DELIVERY_ACTIONS,
    Resolver,
    activity_arn,
    declared_activity_arns,
    load_template,
    resources_of_type,
    state_machine_definition,
)
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

MAIN = "MarketingAndSalesETLOrchestrator"
ATHENA = "AthenaRunnerTestETLOrchestrator"
FALLBACK = "ETL Job Failed Fallback"
FAILED = "ETL Job Failed"

GLUE_ERRORS = [
    "GlueJobFailedError",
    "GlueRunner.InvalidInput",
    "GlueRunner.StartFailed",
    "States.Timeout",
    "States.HeartbeatTimeout",
]
ATHENA_ERRORS = [
    "AthenaQueryFailedError",
    "AthenaRunner.InvalidInput",
    "AthenaRunner.StartFailed",
    "States.Timeout",
    "States.HeartbeatTimeout",
]


def definition(logical_id: str, params: dict[str, str] | None = None) -> dict:
    return json.loads(state_machine_definition(logical_id, params))


def all_states(states: dict) -> dict[str, dict]:
    """Every state, including those inside Parallel branches (names are unique in our machines)."""
    found: dict[str, dict] = {}
    for name, state in states.items():
        assert name not in found, f"duplicate state name {name}"
        found[name] = state
        for branch in state.get("Branches", []):
            for inner_name, inner in all_states(branch["States"]).items():
                assert inner_name not in found, f"duplicate state name {inner_name}"
                found[inner_name] = inner
    return found


def check_graph(machine: dict) -> None:
    """Next/Catch targets exist in the same scope, every state is reachable, every path ends."""
    states = machine["States"]
    assert machine["StartAt"] in states
    reachable, todo = set(), [machine["StartAt"]]
    while todo:
        name = todo.pop()
        if name in reachable:
            continue
        reachable.add(name)
        state = states[name]
        targets = [c["Next"] for c in state.get("Catch", [])]
        if "Next" in state:
            targets.append(state["Next"])
        else:
            assert state.get("End") is True or state["Type"] in ("Fail", "Succeed"), name
        for target in targets:
            assert target in states, f"{name} -> unknown state {target}"
            todo.append(target)
        for branch in state.get("Branches", []):
            check_graph(branch)
    assert reachable == set(states), f"unreachable: {set(states) - reachable}"


@pytest.mark.parametrize("logical_id", [MAIN, ATHENA])
def test_definition_is_an_object_with_substitutions(logical_id):
    props = load_template("step-functions-resources")["Resources"][logical_id]["Properties"]
    assert props["StateMachineName"] == logical_id
    assert isinstance(props["Definition"], dict), "use Definition (object) so that cfn-lint checks the ASL"
    assert "DefinitionString" not in props
    assert props["DefinitionSubstitutions"]


@pytest.mark.parametrize("logical_id", [MAIN, ATHENA])
def test_definition_parses_as_asl(logical_id):
    text = state_machine_definition(logical_id)
    assert "${" not in text, "a DefinitionSubstitutions key is missing"
    AmazonStateLanguageParser.parse(text)


@pytest.mark.parametrize("logical_id", [MAIN, ATHENA])
def test_graph_is_closed_and_reachable(logical_id):
    check_graph(definition(logical_id))


@pytest.mark.parametrize("logical_id", [MAIN, ATHENA])
def test_every_task_runs_on_a_declared_activity(logical_id):
    declared = set(declared_activity_arns().values())
    tasks = [s for s in all_states(definition(logical_id)["States"]).values() if s["Type"] == "Task"]
    assert tasks
    for task in tasks:
        assert task["Resource"] in declared


def test_activities_and_their_names():
    params = {
        "SourceDataBucketName": "some-bucket",
        "GlueRunnerActivityName": "GRA",
        "AthenaRunnerActivityName": "ARA",
    }
    arns = declared_activity_arns(params)
    assert arns == {
        "GlueRunnerActivity": activity_arn("GRA"),
        "AthenaRunnerActivity": activity_arn("ARA"),
        "SalesDataWaitActivity": activity_arn("some-bucket-SalesPipeline_QuickSightSample.csv"),
        "MarketingDataWaitActivity": activity_arn("some-bucket-MarketingData_QuickSightSample.csv"),
    }


# A runner killed between GetActivityTask and recording the task leaves no one to answer it: the heartbeat
# timeout queues it again (twice at most), and the runner stops any job whose task is gone.
RUNNER_RETRY = [{"ErrorEquals": ["States.HeartbeatTimeout"], "IntervalSeconds": 1, "MaxAttempts": 2}]


def test_main_flow_matches_the_seed():
    machine = definition(MAIN, {"SourceDataBucketName": "bkt"})
    arns = declared_activity_arns({"SourceDataBucketName": "bkt"})
    states = machine["States"]
    assert machine["StartAt"] == "Pre-process"
    assert set(states) == {
        "Pre-process",
        "Process Sales And Marketing Data",
        "Prep For Joining Marketing And Sales Data",
        "Join Marketing And Sales Data",
        FALLBACK,
        FAILED,
    }
    assert states["Pre-process"]["Type"] == "Pass"
    assert states["Pre-process"]["Next"] == "Process Sales And Marketing Data"

    parallel = states["Process Sales And Marketing Data"]
    assert parallel["Type"] == "Parallel"
    assert parallel["Next"] == "Prep For Joining Marketing And Sales Data"
    # A mis-wired wait (its activity released by another key), or one given back 100 times, ends in the
    # fallback like a failed job.
    assert parallel["Catch"] == [
        {
            "ErrorEquals": [
                *GLUE_ERRORS[:3],
                "WaitForData.MisWired",
                "WaitForData.Requeued",
                *GLUE_ERRORS[3:],
            ],
            "Next": FALLBACK,
        }
    ]

    expected_branches = [
        ("Sales", "SalesDataWaitActivity", "ProcessSalesData", "sales/SalesPipeline_QuickSightSample.csv"),
        (
            "Marketing",
            "MarketingDataWaitActivity",
            "ProcessMarketingData",
            "marketing/MarketingData_QuickSightSample.csv",
        ),
    ]
    assert len(parallel["Branches"]) == len(expected_branches)
    for branch, (what, wait_activity, job, key) in zip(parallel["Branches"], expected_branches, strict=True):
        wait, prep, process = f"Wait For {what} Data", f"Prep For Process {what} Data", f"Process {what} Data"
        assert branch["StartAt"] == wait
        assert set(branch["States"]) == {wait, prep, process}
        s = branch["States"]
        assert s[wait]["Type"] == "Task"
        assert s[wait]["Resource"] == arns[wait_activity]
        assert s[wait]["TimeoutSeconds"] == 604800
        # The task names the one object that may release it (checked by ons3objectcreated).
        assert s[wait]["Parameters"] == {
            "ExpectedS3Bucket": "bkt",
            "ExpectedS3Key": key,
            "ExecutionArn.$": "$$.Execution.Id",
        }
        # A task claimed by a worker that died is queued again instead of hanging for a week.
        assert s[wait]["HeartbeatSeconds"] == 120
        assert s[wait]["Retry"] == [
            {
                "ErrorEquals": ["States.HeartbeatTimeout"],
                "IntervalSeconds": 1,
                "MaxAttempts": 20,
                "BackoffRate": 1,
            },
            # A task polled without an upload for it is given back and waits again within a second.
            {
                "ErrorEquals": ["WaitForData.Requeued"],
                "IntervalSeconds": 1,
                "MaxAttempts": 100,
                "BackoffRate": 1,
            },
        ]
        assert s[wait]["Next"] == prep
        assert s[prep]["Type"] == "Pass"
        assert isinstance(s[prep]["Result"], str), "the seed passes a JSON string"
        assert json.loads(s[prep]["Result"]) == {"GlueJobName": job}
        assert s[prep]["Next"] == process
        assert s[process]["Type"] == "Task"
        assert s[process]["Resource"] == arns["GlueRunnerActivity"]
        assert (s[process]["HeartbeatSeconds"], s[process]["TimeoutSeconds"]) == (240, 172800)
        assert s[process]["Retry"] == RUNNER_RETRY
        assert s[process]["End"] is True
        for state in s.values():
            assert "Catch" not in state, "a Catch inside a branch cannot reach the fallback"

    prep_join = states["Prep For Joining Marketing And Sales Data"]
    assert prep_join["Type"] == "Pass"
    assert isinstance(prep_join["Result"], str)
    assert json.loads(prep_join["Result"]) == {"GlueJobName": "JoinMarketingAndSalesData"}
    assert prep_join["Next"] == "Join Marketing And Sales Data"

    join = states["Join Marketing And Sales Data"]
    assert join["Type"] == "Task"
    assert join["Resource"] == arns["GlueRunnerActivity"]
    assert (join["HeartbeatSeconds"], join["TimeoutSeconds"]) == (240, 172800)
    assert join["Retry"] == RUNNER_RETRY
    assert join["Catch"] == [{"ErrorEquals": GLUE_ERRORS, "Next": FALLBACK}]
    assert join["End"] is True

    check_failure_tail(states)


def check_failure_tail(states: dict) -> None:
    fallback, failed = states[FALLBACK], states[FAILED]
    assert fallback["Type"] == "Pass"
    assert fallback["Next"] == FAILED
    # Do-nothing: it must pass the caught {"Error", "Cause"} through untouched.
    for key in ("Result", "ResultPath", "Parameters", "InputPath", "OutputPath"):
        assert key not in fallback
    assert failed == {"Type": "Fail", "ErrorPath": "$.Error", "CausePath": "$.Cause"}


def test_athena_flow():
    machine = definition(ATHENA, {"SourceDataBucketName": "bkt"})
    arns = declared_activity_arns({"SourceDataBucketName": "bkt"})
    states = machine["States"]
    assert machine["StartAt"] == "Configure Athena Query"
    assert set(states) == {"Configure Athena Query", "Execute Athena Query", FALLBACK, FAILED}

    configure = states["Configure Athena Query"]
    assert configure["Type"] == "Pass"
    assert configure["Next"] == "Execute Athena Query"
    assert isinstance(configure["Result"], str)
    query = json.loads(configure["Result"])
    assert query["AthenaDatabase"] == "marketingandsales_qs"
    assert query["AthenaResultOutputLocation"] == "s3://bkt/athena-results/"
    assert query["AthenaResultEncryptionOption"] == "SSE_S3"
    assert "FROM marketing_qs" in query["AthenaQueryString"]

    execute = states["Execute Athena Query"]
    assert execute["Type"] == "Task"
    assert execute["Resource"] == arns["AthenaRunnerActivity"]
    assert (execute["HeartbeatSeconds"], execute["TimeoutSeconds"]) == (240, 172800)
    assert execute["Retry"] == RUNNER_RETRY
    assert execute["Catch"] == [{"ErrorEquals": ATHENA_ERRORS, "Next": FALLBACK}]
    assert execute["End"] is True

    check_failure_tail(states)


def test_athena_query_uses_only_marketing_table_columns():
    query = json.loads(definition(ATHENA)["States"]["Configure Athena Query"]["Result"])["AthenaQueryString"]
    glue = load_template("glue-resources")
    columns = {
        c["Name"]
        for c in glue["Resources"]["MarketingTable"]["Properties"]["TableInput"]["StorageDescriptor"][
            "Columns"
        ]
    }
    select_list = query.split("SELECT", 1)[1].split("FROM", 1)[0]
    selected = {c.strip() for c in select_list.split(",")}
    assert selected == {"date", "website_visits", "mobile_uniques", "desktop_uniques"}
    assert selected <= columns
    # Portable between Athena (Trino) and Spark SQL: no quoting, which differs between the two.
    assert '"' not in query and "`" not in query


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


@pytest.mark.parametrize("logical_id", [MAIN, ATHENA])
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


def test_wait_heartbeat_agrees_with_the_function_setting():
    """ons3objectcreated's rule for an ambiguous release reads the wait states' HeartbeatSeconds."""
    template = load_template("step-functions-resources")
    env = template["Resources"]["OnS3ObjectCreatedFunction"]["Properties"]["Environment"]["Variables"]
    branches = definition(MAIN)["States"]["Process Sales And Marketing Data"]["Branches"]
    for branch in branches:
        wait = branch["States"][branch["StartAt"]]
        assert wait["HeartbeatSeconds"] == int(env["WAIT_HEARTBEAT_SECONDS"])
