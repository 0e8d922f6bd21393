"""Resource-level contracts from DESIGN.md: roles, runners, notifications, schedules (the sample's own names:
test_cfn_sample_names.py)."""

from __future__ import annotations

import pytest
from cfn_test_helpers import (
    Resolver,
    activity_arn,
    allow_statements,
    as_list,
    glue_resolver,
    load_template,
    resources_of_type,
)

GLUE_PATHS = {
    "S3ETLScriptPath": "s3://script-bucket/glue/scripts",
    "S3ETLOutputPath": "s3://output-bucket/etl/out",
    "SourceDataBucketName": "data-bucket",
}


# ----------------------------------------------------------------------------------------------------------
# glue-resources
# ----------------------------------------------------------------------------------------------------------
def test_glue_worker_parameters():
    params = load_template("glue-resources")["Parameters"]
    assert params["GlueWorkerType"]["Default"] == "G.1X"
    assert int(params["GlueNumberOfWorkers"]["Default"]) == 2


def test_glue_role_is_scoped_to_the_script_data_and_output_locations():
    resolver = glue_resolver(GLUE_PATHS)
    granted: dict[str, set[str]] = {}
    for _, statement in allow_statements(resolver.template):
        for action in as_list(statement["Action"]):
            granted.setdefault(action, set()).update(as_list(resolver.resolve(statement["Resource"])))
    assert granted["s3:GetObject"] == {
        "arn:aws:s3:::script-bucket/glue/scripts/*",
        "arn:aws:s3:::data-bucket/*",
        "arn:aws:s3:::output-bucket/etl/out/*",
    }
    assert granted["s3:PutObject"] == {"arn:aws:s3:::output-bucket/etl/out/*"}
    assert granted["s3:DeleteObject"] == {"arn:aws:s3:::output-bucket/etl/out/*"}
    assert granted["s3:ListBucket"] == {"arn:aws:s3:::data-bucket", "arn:aws:s3:::output-bucket"}
    assert granted["glue:GetTable"] == {
        "arn:aws:glue:us-east-1:123456789012:catalog",
        "arn:aws:glue:us-east-1:123456789012:database/marketingandsales_qs",
        "arn:aws:glue:us-east-1:123456789012:table/marketingandsales_qs/*",
    }
    (role,) = resources_of_type(resolver.template, "AWS::IAM::Role").values()
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "glue.amazonaws.com"
    }


def test_bucket_only_script_path_resolves():
    resolver = Resolver(
        load_template("glue-resources"), {**GLUE_PATHS, "S3ETLScriptPath": "s3://just-a-bucket"}
    )
    expr = {
        "Fn::Sub": [
            "arn:${AWS::Partition}:s3:::${P}/*",
            {"P": {"Fn::Select": [1, {"Fn::Split": ["s3://", {"Ref": "S3ETLScriptPath"}]}]}},
        ]
    }
    assert resolver.resolve(expr) == "arn:aws:s3:::just-a-bucket/*"


# ----------------------------------------------------------------------------------------------------------
# runner stacks
# ----------------------------------------------------------------------------------------------------------
RUNNERS = {
    "gluerunner-lambda": {
        "function": "GlueRunnerFunction",
        "handler": "gluerunner.handler",
        "name_param": "GlueRunnerLambdaFunctionName",
        "activity_param": "GlueRunnerActivityName",
        "range_key": "glue_job_run_id",
    },
    "athenarunner-lambda": {
        "function": "AthenaRunnerFunction",
        "handler": "athenarunner.handler",
        "name_param": "AthenaRunnerLambdaFunctionName",
        "activity_param": "AthenaRunnerActivityName",
        "range_key": "athena_query_execution_id",
    },
}


@pytest.mark.parametrize("stack", RUNNERS)
def test_runner_function(stack):
    spec = RUNNERS[stack]
    template = load_template(stack)
    (function_id,) = resources_of_type(template, "AWS::Lambda::Function")
    assert function_id == spec["function"]
    props = template["Resources"][function_id]["Properties"]
    assert props["FunctionName"] == {"Ref": spec["name_param"]}
    assert props["Runtime"] == "python3.13"
    assert props["Handler"] == spec["handler"]
    assert props["Timeout"] == 300
    assert props["Code"] == {"S3Bucket": {"Ref": "SourceS3BucketName"}, "S3Key": {"Ref": "SourceS3Key"}}
    env = Resolver(template).resolve(props["Environment"]["Variables"])
    (table_id,) = resources_of_type(template, "AWS::DynamoDB::Table")
    # Both empty by default: deployed without build.py's allow list, the runner starts nothing.
    allow_lists = {"ALLOWED_GLUE_JOBS": "", "ALLOWED_GLUE_JOB_ARGUMENTS": ""}
    assert env == {
        "SFN_ACTIVITY_ARN": activity_arn(template["Parameters"][spec["activity_param"]]["Default"]),
        "DDB_TABLE": f"<{table_id}>",
        "TASK_HEARTBEAT_SECONDS": "240",
        **(allow_lists if stack == "gluerunner-lambda" else {}),
    }


@pytest.mark.parametrize("stack", RUNNERS)
def test_runner_table(stack):
    template = load_template(stack)
    (table,) = resources_of_type(template, "AWS::DynamoDB::Table").values()
    props = table["Properties"]
    assert props["TableName"] == {"Ref": "DDBTableName"}
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["KeySchema"] == [
        {"AttributeName": "sfn_activity_arn", "KeyType": "HASH"},
        {"AttributeName": RUNNERS[stack]["range_key"], "KeyType": "RANGE"},
    ]
    assert {(a["AttributeName"], a["AttributeType"]) for a in props["AttributeDefinitions"]} == {
        ("sfn_activity_arn", "S"),
        (RUNNERS[stack]["range_key"], "S"),
    }


@pytest.mark.parametrize("stack", RUNNERS)
def test_runner_schedule_invokes_the_function(stack):
    template = load_template(stack)
    function_id = RUNNERS[stack]["function"]
    assert template["Parameters"]["ScheduleExpression"]["Default"] == "rate(10 minutes)"
    (rule_id,) = [
        name
        for name, rule in resources_of_type(template, "AWS::Events::Rule").items()
        if rule["Properties"].get("ScheduleExpression") == {"Ref": "ScheduleExpression"}
    ]
    rule = template["Resources"][rule_id]
    assert rule["Properties"]["ScheduleExpression"] == {"Ref": "ScheduleExpression"}
    assert rule["Properties"]["State"] == "ENABLED"
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert_invoke_permission(template, function_id, rule_id)


def assert_invoke_permission(template: dict, function_id: str, rule_id: str) -> None:
    """Exactly one permission lets exactly this rule invoke the function."""
    matching = [
        permission["Properties"]
        for permission in resources_of_type(template, "AWS::Lambda::Permission").values()
        if permission["Properties"].get("SourceArn") == {"Fn::GetAtt": [rule_id, "Arn"]}
    ]
    assert matching == [
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": [function_id, "Arn"]},
            "Principal": "events.amazonaws.com",
            "SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]},
        }
    ]


def event_rules(template: dict) -> dict[str, dict]:
    """Event-pattern rules by logical id: their pattern and target."""
    rules = {}
    for name, rule in resources_of_type(template, "AWS::Events::Rule").items():
        if "EventPattern" in rule["Properties"]:
            (target,) = rule["Properties"]["Targets"]
            assert rule["Properties"]["State"] == "ENABLED"
            rules[name] = {"pattern": rule["Properties"]["EventPattern"], "target": target["Arn"]}
    return rules


NUDGE_PATTERN = {"source": ["etl-orchestrator"], "detail-type": ["ETL Task Answered"]}
EXECUTION_STARTED_PATTERN = {
    "source": ["aws.states"],
    "detail-type": ["Step Functions Execution Status Change"],
    "detail": {"status": ["RUNNING"]},
}


@pytest.mark.parametrize("stack", ["gluerunner-lambda", "athenarunner-lambda"])
def test_runners_are_woken_by_their_jobs_end_by_answers_and_by_starts(stack):
    """Seconds, not schedule periods: the job's end event, a nudge and an execution's start invoke it."""
    template = load_template(stack)
    function_id = RUNNERS[stack]["function"]
    rules = event_rules(template)
    job_ended = {
        "gluerunner-lambda": {
            "source": ["aws.glue"],
            "detail-type": ["Glue Job State Change"],
            "detail": {
                "jobName": {"Fn::Split": [",", {"Ref": "AllowedGlueJobNames"}]},
                "state": ["SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED"],
            },
        },
        "athenarunner-lambda": {
            "source": ["aws.athena"],
            "detail-type": ["Athena Query State Change"],
            "detail": {"currentState": ["SUCCEEDED", "FAILED", "CANCELLED"]},
        },
    }[stack]
    assert sorted(map(str, (r["pattern"] for r in rules.values()))) == sorted(
        map(str, [job_ended, NUDGE_PATTERN, EXECUTION_STARTED_PATTERN])
    )
    for rule_id, rule in rules.items():
        assert rule["target"] == {"Fn::GetAtt": [function_id, "Arn"]}
        assert_invoke_permission(template, function_id, rule_id)


def granted_actions(template: dict, params: dict[str, str] | None = None) -> dict[str, list]:
    """action -> resolved resources it is allowed on, over every policy of the template."""
    resolver = Resolver(template, params)
    granted: dict[str, list] = {}
    for _, statement in allow_statements(template):
        for action in as_list(statement["Action"]):
            granted.setdefault(action, []).extend(as_list(resolver.resolve(statement["Resource"])))
    return granted


COMMON_RUNNER_GRANTS = {
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:Query",
    "dynamodb:DeleteItem",
    "states:GetActivityTask",
    "states:SendTaskSuccess",
    "states:SendTaskFailure",
    "states:SendTaskHeartbeat",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "events:PutEvents",
}


def test_glue_runner_permissions():
    """IAM grants exactly the jobs of AllowedGlueJobNames (build.py sends glue-resources.yaml's jobs)."""
    granted = granted_actions(load_template("gluerunner-lambda"), {"AllowedGlueJobNames": "JobA,Job.B,Job_C"})
    glue = {"glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"}
    assert set(granted) == COMMON_RUNNER_GRANTS | glue
    for action in COMMON_RUNNER_GRANTS:
        if action.startswith("dynamodb:"):
            assert granted[action] == ["<ActiveJobsTable.Arn>"]
    assert granted["states:GetActivityTask"] == [activity_arn("GlueRunnerActivity")]
    # Only the allowed jobs (not job/*): a task cannot start a job of its choosing.
    for action in glue:
        assert granted[action] == [f"arn:*:glue:*:*:job/{name}" for name in ("JobA", "Job.B", "Job_C")]
    one = granted_actions(load_template("gluerunner-lambda"), {"AllowedGlueJobNames": "OnlyThis"})
    assert one["glue:StartJobRun"] == ["arn:*:glue:*:*:job/OnlyThis"]


@pytest.mark.parametrize("stack", ["gluerunner-lambda", "athenarunner-lambda"])
def test_runners_have_bounded_concurrency_and_get_their_allow_lists(stack):
    """Overlapping runs are correct (conditional writes, one poller); reserved concurrency bounds a burst."""
    template = load_template(stack)
    (function_id,) = resources_of_type(template, "AWS::Lambda::Function")
    props = template["Resources"][function_id]["Properties"]
    assert props["ReservedConcurrentExecutions"] == {"Ref": "ReservedConcurrency"}
    parameter = template["Parameters"]["ReservedConcurrency"]
    assert (parameter["Default"], parameter["MinValue"]) == (5, 2)
    if stack == "gluerunner-lambda":
        env = props["Environment"]["Variables"]
        assert env["ALLOWED_GLUE_JOBS"] == {"Ref": "AllowedGlueJobNames"}
        assert env["ALLOWED_GLUE_JOB_ARGUMENTS"] == {"Ref": "AllowedGlueJobArguments"}


def test_athena_runner_permissions():
    granted = granted_actions(load_template("athenarunner-lambda"), {"SourceDataBucketName": "data-bucket"})
    athena = {
        "athena:StartQueryExecution",
        "athena:GetQueryExecution",
        "athena:GetNamedQuery",
        "athena:StopQueryExecution",
    }
    for action in athena:
        assert granted[action] == ["arn:aws:athena:us-east-1:123456789012:workgroup/*"]
    assert granted["states:GetActivityTask"] == [activity_arn("AthenaRunnerActivity")]
    assert set(granted["glue:GetTable"]) == {
        "arn:aws:glue:us-east-1:123456789012:catalog",
        "arn:aws:glue:us-east-1:123456789012:database/marketingandsales_qs",
        "arn:aws:glue:us-east-1:123456789012:table/marketingandsales_qs/*",
    }
    assert granted["s3:GetObject"] == ["arn:aws:s3:::data-bucket/*"]
    assert granted["s3:PutObject"] == ["arn:aws:s3:::data-bucket/athena-results/*"]
    assert "s3:DeleteObject" not in granted
    assert set(granted) >= COMMON_RUNNER_GRANTS


# ----------------------------------------------------------------------------------------------------------
# step-functions-resources: ons3objectcreated, data bucket, weekly schedule
# ----------------------------------------------------------------------------------------------------------
def test_ons3objectcreated_function():
    template = load_template("step-functions-resources")
    (function_id,) = resources_of_type(template, "AWS::Lambda::Function")
    props = template["Resources"][function_id]["Properties"]
    assert props["FunctionName"] == "ons3objectcreated"
    assert props["Runtime"] == "python3.13"
    assert props["Handler"] == "ons3objectcreated.handler"
    assert props["Timeout"] == 90, "GetActivityTask long-polls up to 60 s"
    assert props["Code"] == {"S3Bucket": {"Ref": "SourceS3BucketName"}, "S3Key": {"Ref": "SourceS3Key"}}


def test_ons3objectcreated_may_only_release_the_wait_activities():
    template = load_template("step-functions-resources")
    role_id = template["Resources"]["OnS3ObjectCreatedFunction"]["Properties"]["Role"]["Fn::GetAtt"][0]
    grants: dict[str, list] = {}
    for where, statement in allow_statements(template):
        if where.startswith(f"{role_id}/"):
            for action in as_list(statement["Action"]):
                grants.setdefault(action, []).extend(as_list(statement["Resource"]))
    assert grants == {
        "states:GetActivityTask": [{"Ref": "SalesDataWaitActivity"}, {"Ref": "MarketingDataWaitActivity"}],
        "states:SendTaskSuccess": ["*"],
        "states:SendTaskFailure": ["*"],
        "dynamodb:GetItem": [{"Fn::GetAtt": ["ArrivalsTable", "Arn"]}],
        "dynamodb:UpdateItem": [{"Fn::GetAtt": ["ArrivalsTable", "Arn"]}],
        "sqs:SendMessage": [{"Fn::GetAtt": ["OnS3ObjectCreatedFailureQueue", "Arn"]}],
        "logs:CreateLogStream": [{"Fn::GetAtt": ["OnS3ObjectCreatedLogGroup", "Arn"]}],
        "logs:PutLogEvents": [{"Fn::GetAtt": ["OnS3ObjectCreatedLogGroup", "Arn"]}],
        "events:PutEvents": [
            {"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"}
        ],
    }


def test_ons3objectcreated_sweeps_when_a_wait_may_have_begun():
    """An execution of the main state machine started, or a task was answered: pending uploads go at once."""
    template = load_template("step-functions-resources")
    started = {
        **EXECUTION_STARTED_PATTERN,
        "detail": {"status": ["RUNNING"], "stateMachineArn": [{"Ref": "MarketingAndSalesETLOrchestrator"}]},
    }
    rules = event_rules(template)
    assert sorted(map(str, (r["pattern"] for r in rules.values()))) == sorted(
        map(str, [started, NUDGE_PATTERN])
    )
    for rule_id, rule in rules.items():
        assert rule["target"] == {"Fn::GetAtt": ["OnS3ObjectCreatedFunction", "Arn"]}
        assert_invoke_permission(template, "OnS3ObjectCreatedFunction", rule_id)


def test_arrivals_table():
    template = load_template("step-functions-resources")
    assert template["Parameters"]["ArrivalsTableName"]["Default"] == "WaitForDataArrivals"
    props = template["Resources"]["ArrivalsTable"]["Properties"]
    assert props["TableName"] == {"Ref": "ArrivalsTableName"}
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["KeySchema"] == [{"AttributeName": "s3_object", "KeyType": "HASH"}]
    assert props["AttributeDefinitions"] == [{"AttributeName": "s3_object", "AttributeType": "S"}]
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_failed_asynchronous_invocations_go_to_an_encrypted_queue():
    template = load_template("step-functions-resources")
    ((_, config),) = resources_of_type(template, "AWS::Lambda::EventInvokeConfig").items()
    props = config["Properties"]
    assert props["FunctionName"] == {"Ref": "OnS3ObjectCreatedFunction"}
    assert props["MaximumRetryAttempts"] == 2
    destination = props["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == {"Fn::GetAtt": ["OnS3ObjectCreatedFailureQueue", "Arn"]}
    queue = template["Resources"]["OnS3ObjectCreatedFailureQueue"]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["SqsManagedSseEnabled"] is True


def test_sweep_schedule_invokes_ons3objectcreated():
    template = load_template("step-functions-resources")
    assert template["Parameters"]["ArrivalSweepSchedule"]["Default"] == "rate(10 minutes)"
    rule = template["Resources"]["ArrivalSweepRule"]
    assert "Condition" not in rule
    assert rule["Properties"]["ScheduleExpression"] == {"Ref": "ArrivalSweepSchedule"}
    assert rule["Properties"]["State"] == "ENABLED"
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["OnS3ObjectCreatedFunction", "Arn"]}
    assert "Input" not in target, "the function recognises AWS's scheduled-event payload"
    assert template["Resources"]["ArrivalSweepInvokePermission"]["Properties"] == {
        "Action": "lambda:InvokeFunction",
        "FunctionName": {"Fn::GetAtt": ["OnS3ObjectCreatedFunction", "Arn"]},
        "Principal": "events.amazonaws.com",
        "SourceArn": {"Fn::GetAtt": ["ArrivalSweepRule", "Arn"]},
    }


def test_data_bucket_notifies_ons3objectcreated_of_csv_files_without_a_cycle():
    template = load_template("step-functions-resources")
    bucket = template["Resources"]["SourceDataBucket"]
    assert bucket["Properties"]["BucketName"] == {"Ref": "SourceDataBucketName"}
    configs = bucket["Properties"]["NotificationConfiguration"]["LambdaConfigurations"]
    # Every CSV, so that one uploaded elsewhere (the bucket's root) is logged with where it should go; the
    # function skips Athena's results quietly.
    assert [c["Filter"] for c in configs] == [{"S3Key": {"Rules": [{"Name": "suffix", "Value": ".csv"}]}}]
    env = template["Resources"]["OnS3ObjectCreatedFunction"]["Properties"]["Environment"]["Variables"]
    assert env["QUIET_PREFIXES"] == "athena-results/"
    for config in configs:
        assert config["Event"] == "s3:ObjectCreated:*"
        assert config["Function"] == {"Fn::GetAtt": ["OnS3ObjectCreatedFunction", "Arn"]}
    ((permission_id, permission),) = [
        (name, res)
        for name, res in resources_of_type(template, "AWS::Lambda::Permission").items()
        if res["Properties"]["Principal"] == "s3.amazonaws.com"
    ]
    assert permission_id in as_list(bucket["DependsOn"])
    props = permission["Properties"]
    assert props["Principal"] == "s3.amazonaws.com"
    assert props["SourceAccount"] == {"Ref": "AWS::AccountId"}
    # Built from the parameter, not a Ref to the bucket (that would be a cycle).
    assert (
        Resolver(template, {"SourceDataBucketName": "bkt"}).resolve(props["SourceArn"]) == "arn:aws:s3:::bkt"
    )


def test_weekly_schedule_is_optional_and_scoped():
    template = load_template("step-functions-resources")
    param = template["Parameters"]["WeeklyScheduleEnabled"]
    assert param["Default"] == "false"
    assert sorted(param["AllowedValues"]) == ["false", "true"]
    assert template["Conditions"]["WeeklySchedule"] == {
        "Fn::Equals": [{"Ref": "WeeklyScheduleEnabled"}, "true"]
    }
    rule = template["Resources"]["WeeklyScheduleRule"]
    assert rule["Condition"] == "WeeklySchedule"
    assert rule["Properties"]["ScheduleExpression"] == "rate(7 days)"
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Ref": "MarketingAndSalesETLOrchestrator"}
    role_id = target["RoleArn"]["Fn::GetAtt"][0]
    role = template["Resources"][role_id]
    assert role["Condition"] == "WeeklySchedule"
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "events.amazonaws.com"
    }
    (policy,) = role["Properties"]["Policies"]
    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Effect": "Allow",
            "Action": "states:StartExecution",
            "Resource": {"Ref": "MarketingAndSalesETLOrchestrator"},
        }
    ]
