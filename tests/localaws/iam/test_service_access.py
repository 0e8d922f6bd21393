"""What services do for a principal is authorised as on AWS (localaws/iam/service_access.py, states_role.py):
resource-based policies decide S3's and EventBridge's invocations, a target's role its StartExecution, a
state machine's role is checked when it is created, an Athena query reads and writes as its caller."""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile

import pytest
from botocore.exceptions import ClientError

from tests.iam_roles import service_role
from tests.localaws.iam.iam_support import Events, make_role, session_client, trust

A = "123456789012"
HANDLER = "def handler(event, context):\n    return 'ok'\n"


@pytest.fixture(scope="module")
def events(local_aws) -> Events:
    return Events(local_aws)


def wait_for(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


@pytest.fixture
def function_arn(aws_client) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("fn.py", HANDLER)
    return aws_client("lambda").create_function(
        FunctionName=f"iam-target-{uuid.uuid4().hex[:8]}",
        Runtime="python3.13",
        Role=make_role(aws_client, [], trust()),
        Handler="fn.handler",
        Code={"ZipFile": buffer.getvalue()},
    )["FunctionArn"]


def invocations(local_aws, function_arn: str) -> list:
    name = function_arn.rsplit(":", 1)[1]
    return [f for k, f in local_aws._seen if k == "lambda.invoke.start" and f.get("function") == name]


@pytest.fixture(scope="module", autouse=True)
def seen(local_aws):
    local_aws._seen = []
    local_aws.subscribe(lambda kind, fields: local_aws._seen.append((kind, fields)))


def test_s3_invokes_a_function_only_with_its_permission_for_that_bucket(
    aws_client, local_aws, function_arn, events
):
    s3 = aws_client("s3")
    bucket = f"iam-notify-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {"LambdaFunctionArn": function_arn, "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )
    lam = aws_client("lambda")
    # A permission for another bucket does not do.
    lam.add_permission(
        FunctionName=function_arn,
        StatementId="other",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::another-bucket",
        SourceAccount=A,
    )
    s3.put_object(Bucket=bucket, Key="a.csv", Body=b"1")
    denial = wait_for(
        lambda: [e for e in events.denied("lambda:InvokeFunction") if e["resource"] == function_arn]
    )
    assert (
        denial
        and denial[0]["service_principal"] == "s3.amazonaws.com"
        and denial[0]["via"] == "s3-notification"
    )
    assert not invocations(local_aws, function_arn)
    lam.add_permission(
        FunctionName=function_arn,
        StatementId="this",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn=f"arn:aws:s3:::{bucket}",
        SourceAccount=A,
    )
    s3.put_object(Bucket=bucket, Key="b.csv", Body=b"2")
    assert wait_for(lambda: invocations(local_aws, function_arn))


def test_eventbridge_invokes_a_function_only_with_its_permission_for_that_rule(
    aws_client, local_aws, function_arn, events
):
    client = aws_client("events")
    source = f"iam.test.{uuid.uuid4().hex[:6]}"
    rule = client.put_rule(Name=f"iam-{uuid.uuid4().hex[:8]}", EventPattern=json.dumps({"source": [source]}))
    client.put_targets(Rule=rule["RuleArn"].rsplit("/", 1)[1], Targets=[{"Id": "fn", "Arn": function_arn}])
    client.put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": "{}"}])
    denial = wait_for(
        lambda: [e for e in events.denied("lambda:InvokeFunction") if e["resource"] == function_arn]
    )
    assert denial[0]["service_principal"] == "events.amazonaws.com"
    assert denial[0]["context"]["aws:SourceArn"] == rule["RuleArn"]
    assert not invocations(local_aws, function_arn)
    aws_client("lambda").add_permission(
        FunctionName=function_arn,
        StatementId="events",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule["RuleArn"],
    )
    client.put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": "{}"}])
    assert wait_for(lambda: invocations(local_aws, function_arn))


def machine(aws_client, role_arn: str, **extra) -> str:
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    return aws_client("stepfunctions").create_state_machine(
        name=f"iam-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn=role_arn, **extra
    )["stateMachineArn"]


def test_a_state_machines_role_must_trust_step_functions(aws_client) -> None:
    with pytest.raises(ClientError) as raised:
        machine(aws_client, make_role(aws_client, [], trust("lambda.amazonaws.com")))
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "states.amazonaws.com" in raised.value.response["Error"]["Message"]
    machine(aws_client, make_role(aws_client, [], trust("states.amazonaws.com")))


def test_a_logging_state_machines_role_must_allow_log_delivery(aws_client) -> None:
    logging = {
        "level": "ERROR",
        "includeExecutionData": False,
        "destinations": [
            {"cloudWatchLogsLogGroup": {"logGroupArn": f"arn:aws:logs:us-east-1:{A}:log-group:x:*"}}
        ],
    }
    with pytest.raises(ClientError) as raised:
        machine(
            aws_client, make_role(aws_client, [], trust("states.amazonaws.com")), loggingConfiguration=logging
        )
    assert raised.value.response["Error"]["Message"] == (
        "The state machine IAM Role is not authorized to access the Log Destination"
    )
    delivery = {
        "Effect": "Allow",
        "Action": ["logs:*LogDeliver*", "logs:*ResourcePolic*", "logs:DescribeLogGroups"],
    }
    role = make_role(aws_client, [{**delivery, "Resource": "*"}], trust("states.amazonaws.com"))
    machine(aws_client, role, loggingConfiguration=logging)


def test_an_eventbridge_target_starts_an_execution_only_as_its_role(aws_client, local_aws, events) -> None:
    sfn = aws_client("stepfunctions")
    machine_arn = machine(aws_client, service_role(aws_client("iam"), "sfn-role", "states.amazonaws.com"))
    client = aws_client("events")
    source = f"iam.test.{uuid.uuid4().hex[:6]}"
    name = f"iam-{uuid.uuid4().hex[:8]}"
    client.put_rule(Name=name, EventPattern=json.dumps({"source": [source]}))
    weak = make_role(aws_client, [], trust("events.amazonaws.com"))
    client.put_targets(Rule=name, Targets=[{"Id": "m", "Arn": machine_arn, "RoleArn": weak}])
    client.put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": "{}"}])
    assert wait_for(
        lambda: [e for e in events.denied("states:StartExecution") if e["resource"] == machine_arn]
    )
    assert sfn.list_executions(stateMachineArn=machine_arn)["executions"] == []
    able = make_role(
        aws_client,
        [{"Effect": "Allow", "Action": "states:StartExecution", "Resource": machine_arn}],
        trust("events.amazonaws.com"),
    )
    client.put_targets(Rule=name, Targets=[{"Id": "m", "Arn": machine_arn, "RoleArn": able}])
    client.put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": "{}"}])
    assert wait_for(lambda: sfn.list_executions(stateMachineArn=machine_arn)["executions"])


@pytest.mark.spark
def test_an_athena_query_reads_and_writes_with_its_callers_permissions(
    aws_client, local_aws, unique_name
) -> None:
    bucket = unique_name("iam-athena").lower()
    s3, glue = aws_client("s3"), aws_client("glue")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="data/t.csv", Body=b"1,a\n2,b\n")
    database = f"iam_{uuid.uuid4().hex[:8]}"
    glue.create_database(DatabaseInput={"Name": database})
    glue.create_table(
        DatabaseName=database,
        TableInput={
            "Name": "t",
            "StorageDescriptor": {
                "Location": f"s3://{bucket}/data/",
                "Columns": [{"Name": "n", "Type": "bigint"}, {"Name": "s", "Type": "string"}],
                "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"},
            },
        },
    )
    can_query = {
        "Effect": "Allow",
        "Action": ["athena:StartQueryExecution", "athena:GetQueryExecution"],
        "Resource": "*",
    }
    catalog = {
        "Effect": "Allow",
        "Action": ["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"],
        "Resource": "*",
    }
    data = {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"], "Resource": "*"}
    results = {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:PutObject"], "Resource": "*"}

    def run(statements: list[dict]) -> dict:
        athena = session_client(aws_client, local_aws, make_role(aws_client, statements, trust()))("athena")
        query_id = athena.start_query_execution(
            QueryString="SELECT n FROM t",
            QueryExecutionContext={"Database": database},
            ResultConfiguration={"OutputLocation": f"s3://{bucket}/results/"},
        )["QueryExecutionId"]

        def ended():
            status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
            return status if status["State"] in ("SUCCEEDED", "FAILED", "CANCELLED") else None

        return wait_for(ended, 120)

    assert run([can_query, catalog, data, results])["State"] == "SUCCEEDED"
    no_catalog = run([can_query, data, results])
    assert no_catalog["State"] == "FAILED"
    assert no_catalog["StateChangeReason"].startswith("Insufficient permissions to execute the query.")
    assert "glue:GetDatabase" in no_catalog["StateChangeReason"]
    no_data = run([can_query, catalog, results])
    assert no_data["StateChangeReason"].startswith(f"Permission denied on S3 path: s3://{bucket}")
    no_results = run([can_query, catalog, data])
    assert no_results["StateChangeReason"].startswith("Access denied when writing output to url:")
