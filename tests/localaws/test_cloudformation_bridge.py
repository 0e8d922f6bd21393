"""The CloudFormation bridge (localaws/bridges/cloudformation/), over HTTP with boto3.

The project's own templates (cloudformation/*.yaml) are created, checked resource by resource, executed where
it matters, and deleted. Each test names the moto gap it guards.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
import zipfile
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.usefixtures("service_roles")  # roles the tests name exist (tests/iam_roles.py)

TEMPLATES = Path(__file__).resolve().parents[2] / "cloudformation"
ROLE_ARN = "arn:aws:iam::123456789012:role/cfn-test"


def template(name: str) -> str:
    path = TEMPLATES / f"{name}.yaml"
    if not path.exists():
        pytest.skip(f"{path} not written yet")
    return path.read_text()


def params(**values: str) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in values.items()]


@pytest.fixture(scope="module")
def clients(aws_client):
    return {name: aws_client(name) for name in ("cloudformation", "s3", "stepfunctions", "glue", "lambda")}


@pytest.fixture
def code_bucket(clients, unique_name):
    """A bucket holding a tiny Lambda package for each function of the templates."""
    s3 = clients["s3"]
    bucket = unique_name("code").lower()
    s3.create_bucket(Bucket=bucket)
    for function in ("ons3objectcreated", "gluerunner", "athenarunner"):
        package = io.BytesIO()
        with zipfile.ZipFile(package, "w") as archive:
            archive.writestr(f"{function}.py", "def handler(event, context):\n    return {}\n")
        s3.put_object(Bucket=bucket, Key=f"src/{function}.zip", Body=package.getvalue())
    yield bucket
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=item["Key"])
    s3.delete_bucket(Bucket=bucket)


class Stack:
    """Create a stack on enter, delete it (checked) on exit."""

    def __init__(self, cfn, name: str, body: str, parameters: list[dict[str, str]]) -> None:
        self.cfn, self.name, self.body, self.parameters = cfn, name, body, parameters

    def __enter__(self) -> dict:
        self.cfn.create_stack(
            StackName=self.name,
            TemplateBody=self.body,
            Parameters=self.parameters,
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        )
        stack = self.cfn.describe_stacks(StackName=self.name)["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_COMPLETE", stack
        self.outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        return self.outputs

    def __exit__(self, *exc_info: object) -> None:
        self.cfn.delete_stack(StackName=self.name)


def machine_arns(sfn) -> dict[str, str]:
    pages = sfn.get_paginator("list_state_machines").paginate()
    return {m["name"]: m["stateMachineArn"] for page in pages for m in page["stateMachines"]}


def activity_arns_by_name(sfn) -> dict[str, str]:
    pages = sfn.get_paginator("list_activities").paginate()
    return {a["name"]: a["activityArn"] for page in pages for a in page["activities"]}


def resources_of(cfn, stack_name: str) -> dict[str, dict]:
    summaries = cfn.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    return {r["LogicalResourceId"]: r for r in summaries}


def test_gaps_step_functions_resources_template(clients, code_bucket, unique_name, monkeypatch):
    """Gaps: Activity (Ref -> ARN) created where executions find it; StateMachine created in the executing
    backend from a Definition object with DefinitionSubstitutions; bucket NotificationConfiguration,
    PublicAccessBlockConfiguration and BucketPolicy applied (and the TLS-only policy does not deny local
    requests); everything deleted with the stack."""
    cfn, s3, sfn = clients["cloudformation"], clients["s3"], clients["stepfunctions"]
    data_bucket = unique_name("data").lower()
    stack_name = unique_name("step-functions-resources")
    parameters = params(SourceS3BucketName=code_bucket, SourceDataBucketName=data_bucket)

    with Stack(cfn, stack_name, template("step-functions-resources"), parameters) as outputs:
        # Activities: Ref -> ARN, visible to the API.
        activity_arns = activity_arns_by_name(sfn)
        for name in (
            "GlueRunnerActivity",
            "AthenaRunnerActivity",
            f"{data_bucket}-SalesPipeline_QuickSightSample.csv",
            f"{data_bucket}-MarketingData_QuickSightSample.csv",
        ):
            assert name in activity_arns, f"activity {name} not created: {sorted(activity_arns)}"
        assert outputs["GlueRunnerActivityArn"] == activity_arns["GlueRunnerActivity"]
        assert outputs["SalesDataWaitActivityArn"].endswith(
            f":activity:{data_bucket}-SalesPipeline_QuickSightSample.csv"
        )

        # State machines: in the executing backend, definition substituted.
        machines = machine_arns(sfn)
        assert (
            machines.get("MarketingAndSalesETLOrchestrator") == outputs["MarketingAndSalesETLOrchestratorArn"]
        )
        assert (
            machines.get("AthenaRunnerTestETLOrchestrator") == outputs["AthenaRunnerTestETLOrchestratorArn"]
        )
        definition = json.loads(
            sfn.describe_state_machine(stateMachineArn=machines["MarketingAndSalesETLOrchestrator"])[
                "definition"
            ]
        )
        assert "${" not in json.dumps(definition), "DefinitionSubstitutions not applied"
        branch = definition["States"]["Process Sales And Marketing Data"]["Branches"][0]["States"]
        assert branch["Wait For Sales Data"]["Resource"] == outputs["SalesDataWaitActivityArn"]
        assert branch["Process Sales Data"]["Resource"] == activity_arns["GlueRunnerActivity"]

        # ...and executable: the Athena test machine hands its runner the substituted, JSON-encoded input.
        execution_arn = sfn.start_execution(stateMachineArn=machines["AthenaRunnerTestETLOrchestrator"])[
            "executionArn"
        ]
        task = sfn.get_activity_task(activityArn=activity_arns["AthenaRunnerActivity"], workerName="cfn-test")
        assert "taskToken" in task, task
        task_input = json.loads(json.loads(task["input"]))
        assert task_input["AthenaResultOutputLocation"] == f"s3://{data_bucket}/athena-results/"
        sfn.send_task_failure(
            taskToken=task["taskToken"], error="AthenaQueryFailedError", cause='{"why": "test"}'
        )
        deadline = time.monotonic() + 10
        while (described := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert (described["status"], described.get("error"), described.get("cause")) == (
            "FAILED",
            "AthenaQueryFailedError",
            '{"why": "test"}',
        )

        # Source data bucket: Ref -> name, notification of every .csv to the Lambda (suffix filter only).
        assert outputs["SourceDataBucketName"] == data_bucket
        notification = s3.get_bucket_notification_configuration(Bucket=data_bucket)
        lambda_configs = notification.get("LambdaFunctionConfigurations", [])
        assert len(lambda_configs) == 1, f"gap: bucket NotificationConfiguration ignored: {notification}"
        assert lambda_configs[0]["LambdaFunctionArn"] == outputs["OnS3ObjectCreatedFunctionArn"]
        assert lambda_configs[0]["Events"] == ["s3:ObjectCreated:*"]
        assert lambda_configs[0]["Filter"]["Key"]["FilterRules"] == [{"Name": "suffix", "Value": ".csv"}]

        # EventInvokeConfig (moto skips the type): ons3objectcreated's failed events go to the failure queue.
        invoke_config = clients["lambda"].get_function_event_invoke_config(
            FunctionName=outputs["OnS3ObjectCreatedFunctionArn"], Qualifier="$LATEST"
        )
        assert invoke_config["MaximumRetryAttempts"] == 2
        queue_url = resources_of(cfn, stack_name)["OnS3ObjectCreatedFailureQueue"]["PhysicalResourceId"]
        failure_queue = invoke_config["DestinationConfig"]["OnFailure"]["Destination"]
        assert failure_queue.startswith("arn:aws:sqs:") and failure_queue.endswith(
            ":" + queue_url.split("/")[-1]
        )
        block = s3.get_public_access_block(Bucket=data_bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values()), block
        policy = json.loads(s3.get_bucket_policy(Bucket=data_bucket)["Policy"])
        assert policy["Statement"][0]["Sid"] == "DenyInsecureTransport"

        # A .csv PutObject reaches moto's Lambda notification path (the awslambda bridge runs it); the
        # TLS-only bucket policy does not deny local (stand-in for HTTPS) requests.
        import moto.s3.notifications as s3_notifications

        invoked: list[str] = []
        monkeypatch.setattr(
            s3_notifications, "_invoke_awslambda", lambda _a, _e, arn, _r: invoked.append(arn)
        )
        s3.put_object(Bucket=data_bucket, Key="sales/ignored.txt", Body=b"x")
        s3.put_object(Bucket=data_bucket, Key="athena-results/ignored.csv", Body=b"x")
        s3.put_object(Bucket=data_bucket, Key="sales/SalesPipeline_QuickSightSample.csv", Body=b"a,b\n")
        # Both .csv keys notify (the function itself ignores QUIET_PREFIXES such as athena-results/).
        assert invoked == [outputs["OnS3ObjectCreatedFunctionArn"]] * 2
        assert s3.get_object(Bucket=data_bucket, Key="sales/ignored.txt")["Body"].read() == b"x"
        for key in (
            "sales/ignored.txt",
            "athena-results/ignored.csv",
            "sales/SalesPipeline_QuickSightSample.csv",
        ):
            s3.delete_object(Bucket=data_bucket, Key=key)
        resources = resources_of(cfn, stack_name)
        assert "WeeklyScheduleRule" not in resources  # Condition false

    # Deleted with the stack.
    remaining = set(activity_arns_by_name(sfn))
    assert "GlueRunnerActivity" not in remaining and "AthenaRunnerActivity" not in remaining
    machines = set(machine_arns(sfn))
    assert "MarketingAndSalesETLOrchestrator" not in machines
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=data_bucket)


def test_gaps_glue_resources_template(clients, unique_name):
    """Gaps: AWS::Glue::Database/Table/Job created in moto's Glue backend with Ref -> name, the full
    TableInput and the job's Command/DefaultArguments/GlueVersion/WorkerType/NumberOfWorkers/Role; deleted
    with the stack."""
    cfn, glue = clients["cloudformation"], clients["glue"]
    data_bucket = unique_name("data").lower()
    parameters = params(
        S3ETLScriptPath="s3://scripts-bucket/glue-scripts",
        S3ETLOutputPath="s3://output-bucket/etl",
        SourceDataBucketName=data_bucket,
    )
    stack_name = unique_name("glue-resources")
    with Stack(cfn, stack_name, template("glue-resources"), parameters):
        glue.get_database(Name="marketingandsales_qs")
        table = glue.get_table(DatabaseName="marketingandsales_qs", Name="sales_qs")["Table"]
        descriptor = table["StorageDescriptor"]
        assert descriptor["Location"] == f"s3://{data_bucket}/sales/"
        assert descriptor["SerdeInfo"]["SerializationLibrary"].endswith("LazySimpleSerDe")
        assert descriptor["SerdeInfo"]["Parameters"] == {"field.delim": ","}
        assert table["Parameters"]["skip.header.line.count"] == "1"
        assert [c["Name"] for c in descriptor["Columns"]][:3] == ["date", "salesperson", "lead_name"]
        assert {c["Name"]: c["Type"] for c in descriptor["Columns"]}["forecasted_monthly_revenue"] == "bigint"
        marketing = glue.get_table(DatabaseName="marketingandsales_qs", Name="marketing_qs")["Table"]
        assert marketing["StorageDescriptor"]["Location"] == f"s3://{data_bucket}/marketing/"

        job = glue.get_job(JobName="ProcessSalesData")["Job"]
        assert job["Command"]["ScriptLocation"] == "s3://scripts-bucket/glue-scripts/process_sales_data.py"
        assert job["Command"]["Name"] == "glueetl"
        assert (
            job["DefaultArguments"]["--extra-py-files"]
            == "s3://scripts-bucket/glue-scripts/glue_etl_common.py"
        )
        assert job["DefaultArguments"]["--database_name"] == "marketingandsales_qs"  # Ref -> database name
        assert job["DefaultArguments"]["--table_name"] == "sales_qs"  # Ref -> table name
        assert (job["GlueVersion"], job["WorkerType"], job["NumberOfWorkers"]) == ("5.0", "G.1X", 2)
        assert job["Role"].startswith("arn:aws:iam::123456789012:role/")
        names = set(glue.list_jobs()["JobNames"])
        assert {"ProcessSalesData", "ProcessMarketingData", "JoinMarketingAndSalesData"} <= names

    assert "ProcessSalesData" not in glue.list_jobs()["JobNames"]
    with pytest.raises(ClientError):
        glue.get_database(Name="marketingandsales_qs")


@pytest.mark.parametrize("runner", ["gluerunner", "athenarunner"])
def test_runner_lambda_templates(clients, aws_client, code_bucket, unique_name, runner):
    """Verified (moto supports them): DynamoDB table, LogGroup, IAM role, Lambda function from S3 code with
    its environment, schedule rule targeting it and its invoke permission; deleted with the stack."""
    cfn = clients["cloudformation"]
    ddb, lam, events, logs = (aws_client(s) for s in ("dynamodb", "lambda", "events", "logs"))
    prefix = "GlueRunner" if runner == "gluerunner" else "AthenaRunner"
    function_name = unique_name(runner)
    table_name = unique_name(f"{prefix}ActiveJobs")
    values = {
        "SourceS3BucketName": code_bucket,
        "SourceS3Key": f"src/{runner}.zip",
        "DDBTableName": table_name,
        f"{prefix}LambdaFunctionName": function_name,
        f"{prefix}ActivityName": f"{prefix}Activity",
        "ScheduleExpression": "rate(3 minutes)",
    }
    if runner == "athenarunner":
        values["SourceDataBucketName"] = unique_name("data").lower()
    stack_name = unique_name(f"{runner}-lambda")
    with Stack(cfn, stack_name, template(f"{runner}-lambda"), params(**values)):
        keys = ddb.describe_table(TableName=table_name)["Table"]["KeySchema"]
        assert keys[0] == {"AttributeName": "sfn_activity_arn", "KeyType": "HASH"}
        config = lam.get_function(FunctionName=function_name)["Configuration"]
        assert config["Handler"] == f"{runner}.handler"
        env = config["Environment"]["Variables"]
        assert env["DDB_TABLE"] == table_name
        assert env["SFN_ACTIVITY_ARN"] == f"arn:aws:states:us-east-1:123456789012:activity:{prefix}Activity"
        # A Number parameter reaches the environment as text, as CloudFormation passes it (moto kept an int).
        assert env["TASK_HEARTBEAT_SECONDS"] == "240"
        rules = [r for r in events.list_rules()["Rules"] if r.get("ScheduleExpression") == "rate(3 minutes)"]
        targets = [t["Arn"] for r in rules for t in events.list_targets_by_rule(Rule=r["Name"])["Targets"]]
        assert config["FunctionArn"] in targets
        policy = json.loads(lam.get_policy(FunctionName=function_name)["Policy"])
        assert policy["Statement"][0]["Principal"] == {"Service": "events.amazonaws.com"}
        groups = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{function_name}")["logGroups"]
        assert [g["logGroupName"] for g in groups] == [f"/aws/lambda/{function_name}"]

    with pytest.raises(ClientError):
        lam.get_function(FunctionName=function_name)
    with pytest.raises(ClientError):
        ddb.describe_table(TableName=table_name)


SMALL_TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Flag: {Type: String, Default: "true"}
Conditions:
  On: !Equals [!Ref Flag, "true"]
Resources:
  Worker:
    Type: AWS::StepFunctions::Activity
    Properties: {Name: %(activity)s}
  Machine:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      StateMachineName: %(machine)s
      RoleArn: %(role)s
      DefinitionString: !Sub
        - '{"StartAt": "Run", "States": {"Run": {"Type": "Task", "Resource": "${Arn}", "End": true}}}'
        - Arn: !Ref Worker
  Schedule:
    Type: AWS::Events::Rule
    Condition: On
    Properties:
      ScheduleExpression: rate(7 days)
      Targets:
        - {Id: machine, Arn: !Ref Machine, RoleArn: %(role)s, Input: "{}"}
Outputs:
  WorkerName: {Value: !GetAtt Worker.Name}
  WorkerArn: {Value: !Ref Worker}
  MachineName: {Value: !GetAtt Machine.Name}
"""


def test_gaps_activity_getatt_name_definition_string_and_state_machine_rule_target(
    clients, aws_client, unique_name
):
    """Gaps: Activity GetAtt Name; StateMachine from DefinitionString (Fn::Sub with a Ref to the activity) in
    the executing backend; a true Condition creates an Events rule whose target is the state machine."""
    cfn, sfn, events = clients["cloudformation"], clients["stepfunctions"], aws_client("events")
    names = {"activity": unique_name("Worker"), "machine": unique_name("Machine"), "role": ROLE_ARN}
    with Stack(cfn, unique_name("small"), SMALL_TEMPLATE % names, []) as outputs:
        assert outputs["WorkerName"] == names["activity"]
        assert outputs["WorkerArn"].endswith(f":activity:{names['activity']}")
        assert outputs["MachineName"] == names["machine"]
        machine_arn = machine_arns(sfn)[names["machine"]]
        execution_arn = sfn.start_execution(stateMachineArn=machine_arn, input='{"a": 1}')["executionArn"]
        task = sfn.get_activity_task(activityArn=outputs["WorkerArn"])
        assert json.loads(task["input"]) == {"a": 1}
        sfn.send_task_success(taskToken=task["taskToken"], output='{"done": true}')
        deadline = time.monotonic() + 10
        while sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert sfn.describe_execution(executionArn=execution_arn)["status"] == "SUCCEEDED"
        targets = [
            t["Arn"]
            for r in events.list_rules()["Rules"]
            if r.get("ScheduleExpression") == "rate(7 days)"
            for t in events.list_targets_by_rule(Rule=r["Name"])["Targets"]
        ]
        assert machine_arn in targets
    assert names["machine"] not in set(machine_arns(sfn))


NULL_TEMPLATE = """
Resources:
  Machine:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      StateMachineName: %(machine)s
      RoleArn: %(role)s
      DefinitionSubstitutions:
        Greeting: !Sub "hello ${AWS::Region}"
      Definition:
        StartAt: Discard
        States:
          Discard:
            Type: Pass
            Result: ignored
            ResultPath: null
            Next: Greet
          Greet:
            Type: Pass
            Result: "${Greeting}"
            ResultPath: $.greeting
            End: true
"""


def test_gap_definition_object_keeps_null_result_path(clients, unique_name):
    """Gap: moto's clean_json drops nulls, so "ResultPath: null" in a Definition object was lost; and
    DefinitionSubstitutions values (Fn::Sub resolved by moto) are substituted into the definition."""
    cfn, sfn = clients["cloudformation"], clients["stepfunctions"]
    names = {"machine": unique_name("Nulls"), "role": ROLE_ARN}
    with Stack(cfn, unique_name("nulls"), NULL_TEMPLATE % names, []):
        machine_arn = machine_arns(sfn)[names["machine"]]
        execution_arn = sfn.start_execution(stateMachineArn=machine_arn, input='{"a": 1}')["executionArn"]
        deadline = time.monotonic() + 10
        while (described := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert described["status"] == "SUCCEEDED", described
        assert json.loads(described["output"]) == {"a": 1, "greeting": "hello us-east-1"}


# --- stack resources: their own status, time and events -------------------------------------------------


def small_template(queue_name: str, kept_name: str, visibility: int = 30) -> str:
    """A queue, a retained queue, an activity, and a queue whose Condition is false by default."""
    return json.dumps(
        {
            "Parameters": {"MakeExtra": {"Type": "String", "Default": "no"}},
            "Conditions": {"Extra": {"Fn::Equals": [{"Ref": "MakeExtra"}, "yes"]}},
            "Resources": {
                "Queue": {
                    "Type": "AWS::SQS::Queue",
                    "Properties": {"QueueName": queue_name, "VisibilityTimeout": visibility},
                },
                "Kept": {
                    "Type": "AWS::SQS::Queue",
                    "DeletionPolicy": "Retain",
                    "Properties": {"QueueName": kept_name},
                },
                "Worker": {
                    "Type": "AWS::StepFunctions::Activity",
                    "Properties": {"Name": f"{queue_name}-activity"},
                },
                "ExtraQueue": {"Type": "AWS::SQS::Queue", "Condition": "Extra"},
            },
        }
    )


@pytest.fixture
def small_stack(clients, aws_client, unique_name):
    """A created small_template stack: (cfn, stack name, template args); deleted (and its retained queue)."""
    cfn, sqs = clients["cloudformation"], aws_client("sqs")
    name = unique_name("small")
    args = (unique_name("q"), unique_name("kept"))
    cfn.create_stack(StackName=name, TemplateBody=small_template(*args))
    yield cfn, name, args
    cfn.delete_stack(StackName=name)
    for queue in args:
        with contextlib.suppress(ClientError):  # the stack deleted the one it did not retain
            sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=queue)["QueueUrl"])


def test_describe_stack_resource_of_a_logical_id_the_stack_lacks_is_a_validation_error(small_stack):
    """AWS: ValidationError "Resource <id> does not exist for stack <name>" (local before: HTTP 500 and an
    HTML page), also for a resource whose Condition is false."""
    cfn, name, _ = small_stack
    for logical_id in ("NoSuchResource", "ExtraQueue"):
        with pytest.raises(ClientError) as refused:
            cfn.describe_stack_resource(StackName=name, LogicalResourceId=logical_id)
        error = refused.value.response["Error"]
        assert error["Code"] == "ValidationError", error
        assert error["Message"] == f"Resource {logical_id} does not exist for stack {name}"
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    detail = cfn.describe_stack_resource(StackName=name, LogicalResourceId="Queue")["StackResourceDetail"]
    assert detail["ResourceStatus"] == "CREATE_COMPLETE" and detail["LastUpdatedTimestamp"].year > 2010


def test_list_stack_resources_omits_resources_whose_condition_is_false(small_stack):
    """Local before: one blank entry (no logical id, type or physical id) per false-Condition resource."""
    cfn, name, _ = small_stack
    summaries = cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
    assert sorted(s["LogicalResourceId"] for s in summaries) == ["Kept", "Queue", "Worker"]
    for summary in summaries:
        assert summary["ResourceType"] and summary["PhysicalResourceId"], summary
        assert summary["ResourceStatus"] == "CREATE_COMPLETE"
        assert summary["DriftInformation"] == {"StackResourceDriftStatus": "NOT_CHECKED"}
    described = cfn.describe_stack_resources(StackName=name)["StackResources"]
    assert sorted(r["LogicalResourceId"] for r in described) == ["Kept", "Queue", "Worker"]


def test_describe_stack_resources_dates_each_resource_when_it_was_created(small_stack):
    """Local before: every resource dated 2010-07-27T22:27:28Z."""
    cfn, name, _ = small_stack
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    completed = {
        e["LogicalResourceId"]: e["Timestamp"]
        for e in events
        if e["ResourceStatus"] == "CREATE_COMPLETE" and e["ResourceType"] != "AWS::CloudFormation::Stack"
    }
    for resource in cfn.describe_stack_resources(StackName=name)["StackResources"]:
        assert resource["Timestamp"] >= stack["CreationTime"], resource
        assert resource["Timestamp"] == completed[resource["LogicalResourceId"]], (resource, completed)
    summaries = cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
    assert all(s["LastUpdatedTimestamp"] == completed[s["LogicalResourceId"]] for s in summaries)


def test_describe_stack_events_has_each_resource_s_events_newest_first(small_stack):
    """Create, update and delete: per-resource *_IN_PROGRESS then *_COMPLETE (DELETE_SKIPPED for a retained
    resource) between the stack's own events, newest first (local before: the stack's events only)."""
    cfn, name, (queue, kept) = small_stack
    stack_id = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackId"]

    def history() -> list[tuple[str, str]]:
        events = cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
        times = [e["Timestamp"] for e in events]
        assert times == sorted(times, reverse=True), "newest first"
        assert all(e["StackId"] == stack_id and e["StackName"] == name and e["EventId"] for e in events)
        return [(e["LogicalResourceId"], e["ResourceStatus"]) for e in reversed(events)]

    created = history()
    assert created[0] == (name, "CREATE_IN_PROGRESS") and created[-1] == (name, "CREATE_COMPLETE")
    for logical_id in ("Queue", "Kept", "Worker"):
        mine = [status for resource, status in created if resource == logical_id]
        assert mine == ["CREATE_IN_PROGRESS", "CREATE_COMPLETE"], (logical_id, created)
    assert not any(resource == "ExtraQueue" for resource, _ in created)

    cfn.update_stack(StackName=name, TemplateBody=small_template(queue, kept, visibility=60))
    updated = history()[len(created) :]
    assert updated == [
        (name, "UPDATE_IN_PROGRESS"),
        ("Queue", "UPDATE_IN_PROGRESS"),
        ("Queue", "UPDATE_COMPLETE"),
        (name, "UPDATE_COMPLETE"),
    ], updated
    queue_now = cfn.describe_stack_resource(StackName=name, LogicalResourceId="Queue")["StackResourceDetail"]
    assert queue_now["ResourceStatus"] == "UPDATE_COMPLETE"

    cfn.delete_stack(StackName=name)
    deleted = history()[len(created) + len(updated) :]
    assert deleted[0] == (name, "DELETE_IN_PROGRESS") and deleted[-1] == (name, "DELETE_COMPLETE"), deleted
    assert ("Kept", "DELETE_SKIPPED") in deleted
    for logical_id in ("Queue", "Worker"):
        mine = [status for resource, status in deleted if resource == logical_id]
        assert mine == ["DELETE_IN_PROGRESS", "DELETE_COMPLETE"], (logical_id, deleted)
