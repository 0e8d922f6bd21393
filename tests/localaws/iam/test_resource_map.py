"""Each request is authorised for the action(s) and ARN(s) AWS documents (localaws/iam: requests, resources).

The requests are the SDK's own (botocore serialises them: tests/localaws/iam/request_support.py)."""

from __future__ import annotations

import pytest

from localaws.iam import requests
from localaws.iam.resources import Need, ResourceGap, Where, needs_of
from tests.localaws.iam.request_support import environ_of

A = "123456789012"
R = "us-east-1"
TABLE = f"arn:aws:dynamodb:{R}:{A}:table/Jobs"
ACTIVITY = f"arn:aws:states:{R}:{A}:activity:GlueRunnerActivity"
MACHINE = f"arn:aws:states:{R}:{A}:stateMachine:M"
EXECUTION = f"arn:aws:states:{R}:{A}:execution:M:run-1"
CATALOG = f"arn:aws:glue:{R}:{A}:catalog"
DATABASE = f"arn:aws:glue:{R}:{A}:database/marketingandsales_qs"
GLUE_TABLE = f"arn:aws:glue:{R}:{A}:table/marketingandsales_qs/sales_qs"
GROUP = "/aws/lambda/gluerunner"


def where() -> Where:
    return Where(
        A,
        R,
        athena_workgroup_of_execution=lambda query_id: "analysts" if query_id == "q-1" else None,
        athena_workgroup_of_named_query=lambda query_id: "analysts",
    )


def needs(service: str, operation: str, **params) -> list[tuple[str, str]]:
    request = requests.parse(environ_of(service, operation, **params))
    assert request is not None
    return [(need.action, need.resource) for need in needs_of(request, where())]


def need_objects(service: str, operation: str, **params) -> list[Need]:
    request = requests.parse(environ_of(service, operation, **params))
    return needs_of(request, where())


KEY = {"k": {"S": "v"}}


@pytest.mark.parametrize(
    ("service", "operation", "params", "expected"),
    [
        # DynamoDB: the runners' table calls; an index; a transaction authorised per item.
        ("dynamodb", "get_item", {"TableName": "Jobs", "Key": KEY}, [("dynamodb:GetItem", TABLE)]),
        ("dynamodb", "put_item", {"TableName": "Jobs", "Item": KEY}, [("dynamodb:PutItem", TABLE)]),
        ("dynamodb", "update_item", {"TableName": "Jobs", "Key": KEY}, [("dynamodb:UpdateItem", TABLE)]),
        ("dynamodb", "delete_item", {"TableName": "Jobs", "Key": KEY}, [("dynamodb:DeleteItem", TABLE)]),
        ("dynamodb", "query", {"TableName": "Jobs"}, [("dynamodb:Query", TABLE)]),
        (
            "dynamodb",
            "query",
            {"TableName": "Jobs", "IndexName": "byday"},
            [("dynamodb:Query", f"{TABLE}/index/byday")],
        ),
        (
            "dynamodb",
            "transact_write_items",
            {
                "TransactItems": [
                    {"Put": {"TableName": "Jobs", "Item": KEY}},
                    {"Delete": {"TableName": "Jobs", "Key": KEY}},
                    {"Put": {"TableName": "Jobs", "Item": KEY}},
                ]
            },
            [("dynamodb:PutItem", TABLE), ("dynamodb:DeleteItem", TABLE)],
        ),
        (
            "dynamodb",
            "batch_write_item",
            {"RequestItems": {"Jobs": [{"PutRequest": {"Item": KEY}}]}},
            [("dynamodb:BatchWriteItem", TABLE)],
        ),
        # Step Functions: activities by ARN; token calls have no resource type.
        (
            "stepfunctions",
            "get_activity_task",
            {"activityArn": ACTIVITY},
            [("states:GetActivityTask", ACTIVITY)],
        ),
        (
            "stepfunctions",
            "send_task_success",
            {"taskToken": "t", "output": "{}"},
            [("states:SendTaskSuccess", "*")],
        ),
        ("stepfunctions", "send_task_failure", {"taskToken": "t"}, [("states:SendTaskFailure", "*")]),
        ("stepfunctions", "send_task_heartbeat", {"taskToken": "t"}, [("states:SendTaskHeartbeat", "*")]),
        (
            "stepfunctions",
            "start_execution",
            {"stateMachineArn": MACHINE},
            [("states:StartExecution", MACHINE)],
        ),
        (
            "stepfunctions",
            "describe_execution",
            {"executionArn": EXECUTION},
            [("states:DescribeExecution", EXECUTION)],
        ),
        (
            "stepfunctions",
            "create_activity",
            {"name": "X"},
            [("states:CreateActivity", f"arn:aws:states:{R}:{A}:activity:X")],
        ),
        # Glue: jobs by name; a catalog read needs the catalog, the database and the table.
        (
            "glue",
            "start_job_run",
            {"JobName": "ProcessSalesData"},
            [("glue:StartJobRun", f"arn:aws:glue:{R}:{A}:job/ProcessSalesData")],
        ),
        ("glue", "get_job_runs", {"JobName": "J"}, [("glue:GetJobRuns", f"arn:aws:glue:{R}:{A}:job/J")]),
        (
            "glue",
            "batch_stop_job_run",
            {"JobName": "J", "JobRunIds": ["r"]},
            [("glue:BatchStopJobRun", f"arn:aws:glue:{R}:{A}:job/J")],
        ),
        (
            "glue",
            "get_table",
            {"DatabaseName": "marketingandsales_qs", "Name": "sales_qs"},
            [("glue:GetTable", CATALOG), ("glue:GetTable", DATABASE), ("glue:GetTable", GLUE_TABLE)],
        ),
        (
            "glue",
            "get_database",
            {"Name": "marketingandsales_qs"},
            [("glue:GetDatabase", CATALOG), ("glue:GetDatabase", DATABASE)],
        ),
        # Athena: the workgroup named, or the one the execution or named query belongs to.
        (
            "athena",
            "start_query_execution",
            {"QueryString": "SELECT 1"},
            [("athena:StartQueryExecution", f"arn:aws:athena:{R}:{A}:workgroup/primary")],
        ),
        (
            "athena",
            "start_query_execution",
            {"QueryString": "SELECT 1", "WorkGroup": "wg"},
            [("athena:StartQueryExecution", f"arn:aws:athena:{R}:{A}:workgroup/wg")],
        ),
        (
            "athena",
            "get_query_execution",
            {"QueryExecutionId": "q-1"},
            [("athena:GetQueryExecution", f"arn:aws:athena:{R}:{A}:workgroup/analysts")],
        ),
        (
            "athena",
            "stop_query_execution",
            {"QueryExecutionId": "q-1"},
            [("athena:StopQueryExecution", f"arn:aws:athena:{R}:{A}:workgroup/analysts")],
        ),
        (
            "athena",
            "get_named_query",
            {"NamedQueryId": "n"},
            [("athena:GetNamedQuery", f"arn:aws:athena:{R}:{A}:workgroup/analysts")],
        ),
        # CloudWatch Logs: a stream's actions on the stream, a group's on the group.
        (
            "logs",
            "put_log_events",
            {"logGroupName": GROUP, "logStreamName": "s", "logEvents": [{"timestamp": 1, "message": "m"}]},
            [("logs:PutLogEvents", f"arn:aws:logs:{R}:{A}:log-group:{GROUP}:log-stream:s")],
        ),
        (
            "logs",
            "create_log_stream",
            {"logGroupName": GROUP, "logStreamName": "s"},
            [("logs:CreateLogStream", f"arn:aws:logs:{R}:{A}:log-group:{GROUP}:log-stream:s")],
        ),
        (
            "logs",
            "create_log_group",
            {"logGroupName": GROUP},
            [("logs:CreateLogGroup", f"arn:aws:logs:{R}:{A}:log-group:{GROUP}:log-stream:")],
        ),
        # EventBridge: the bus of each entry; rules on their bus.
        (
            "events",
            "put_events",
            {"Entries": [{"Source": "s", "DetailType": "d", "Detail": "{}"}]},
            [("events:PutEvents", f"arn:aws:events:{R}:{A}:event-bus/default")],
        ),
        ("events", "disable_rule", {"Name": "r"}, [("events:DisableRule", f"arn:aws:events:{R}:{A}:rule/r")]),
        (
            "events",
            "disable_rule",
            {"Name": "r", "EventBusName": "bus"},
            [("events:DisableRule", f"arn:aws:events:{R}:{A}:rule/bus/r")],
        ),
        # Lambda: Invoke is lambda:InvokeFunction; a qualifier is part of the ARN.
        (
            "lambda",
            "invoke",
            {"FunctionName": "fn"},
            [("lambda:InvokeFunction", f"arn:aws:lambda:{R}:{A}:function:fn")],
        ),
        (
            "lambda",
            "invoke",
            {"FunctionName": "fn", "Qualifier": "3"},
            [("lambda:InvokeFunction", f"arn:aws:lambda:{R}:{A}:function:fn:3")],
        ),
        (
            "lambda",
            "get_function",
            {"FunctionName": f"arn:aws:lambda:{R}:{A}:function:fn"},
            [("lambda:GetFunction", f"arn:aws:lambda:{R}:{A}:function:fn")],
        ),
        # SQS (JSON protocol): the queue of the URL; a batch as its single action.
        (
            "sqs",
            "send_message",
            {"QueueUrl": f"http://127.0.0.1:1/{A}/q", "MessageBody": "m"},
            [("sqs:SendMessage", f"arn:aws:sqs:{R}:{A}:q")],
        ),
        (
            "sqs",
            "send_message_batch",
            {"QueueUrl": f"http://127.0.0.1:1/{A}/q", "Entries": [{"Id": "1", "MessageBody": "m"}]},
            [("sqs:SendMessage", f"arn:aws:sqs:{R}:{A}:q")],
        ),
        # STS: GetCallerIdentity needs nothing.
        ("sts", "get_caller_identity", {}, []),
        (
            "sts",
            "assume_role",
            {"RoleArn": f"arn:aws:iam::{A}:role/r", "RoleSessionName": "session"},
            [("sts:AssumeRole", f"arn:aws:iam::{A}:role/r")],
        ),
    ],
)
def test_needs_of_json_query_and_rest_json_requests(service, operation, params, expected) -> None:
    assert needs(service, operation, **params) == expected


@pytest.mark.parametrize(
    ("operation", "params", "expected"),
    [
        (
            "get_object",
            {"Bucket": "data", "Key": "sales/a b.csv"},
            [("s3:GetObject", "arn:aws:s3:::data/sales/a b.csv")],
        ),
        (
            "get_object",
            {"Bucket": "data", "Key": "k", "VersionId": "v"},
            [("s3:GetObjectVersion", "arn:aws:s3:::data/k")],
        ),
        ("head_object", {"Bucket": "data", "Key": "k"}, [("s3:GetObject", "arn:aws:s3:::data/k")]),
        (
            "put_object",
            {"Bucket": "data", "Key": "athena-results/x.csv", "Body": b"1"},
            [("s3:PutObject", "arn:aws:s3:::data/athena-results/x.csv")],
        ),
        ("delete_object", {"Bucket": "data", "Key": "k"}, [("s3:DeleteObject", "arn:aws:s3:::data/k")]),
        (
            "copy_object",
            {"Bucket": "out", "Key": "b", "CopySource": "data/a"},
            [("s3:PutObject", "arn:aws:s3:::out/b"), ("s3:GetObject", "arn:aws:s3:::data/a")],
        ),
        ("list_objects_v2", {"Bucket": "data", "Prefix": "sales/"}, [("s3:ListBucket", "arn:aws:s3:::data")]),
        ("get_bucket_location", {"Bucket": "data"}, [("s3:GetBucketLocation", "arn:aws:s3:::data")]),
        (
            "create_multipart_upload",
            {"Bucket": "data", "Key": "k"},
            [("s3:PutObject", "arn:aws:s3:::data/k")],
        ),
        (
            "abort_multipart_upload",
            {"Bucket": "data", "Key": "k", "UploadId": "u"},
            [("s3:AbortMultipartUpload", "arn:aws:s3:::data/k")],
        ),
        (
            "list_parts",
            {"Bucket": "data", "Key": "k", "UploadId": "u"},
            [("s3:ListMultipartUploadParts", "arn:aws:s3:::data/k")],
        ),
        (
            "list_multipart_uploads",
            {"Bucket": "data"},
            [("s3:ListBucketMultipartUploads", "arn:aws:s3:::data")],
        ),
        (
            "put_bucket_policy",
            {"Bucket": "data", "Policy": "{}"},
            [("s3:PutBucketPolicy", "arn:aws:s3:::data")],
        ),
        (
            "delete_objects",
            {"Bucket": "out", "Delete": {"Objects": [{"Key": "a&b"}, {"Key": "c"}]}},
            [("s3:DeleteObject", "arn:aws:s3:::out/a&b"), ("s3:DeleteObject", "arn:aws:s3:::out/c")],
        ),
    ],
)
def test_needs_of_s3_requests(operation, params, expected) -> None:
    assert needs("s3", operation, **params) == expected


def test_list_bucket_carries_its_prefix_for_conditions() -> None:
    (need,) = need_objects("s3", "list_objects_v2", Bucket="data", Prefix="sales/", Delimiter="/")
    assert need.context_dict() == {"s3:prefix": "sales/", "s3:delimiter": "/"}


def test_the_request_names_its_key_region_and_token() -> None:
    request = requests.parse(environ_of("dynamodb", "get_item", TableName="Jobs", Key=KEY))
    assert (request.access_key, request.region, request.session_token) == ("ASIATESTKEY", R, "token")
    assert (request.service, request.operation, request.protocol) == ("dynamodb", "GetItem", "json")


def test_a_body_read_is_put_back_for_the_service() -> None:
    environ = environ_of("dynamodb", "get_item", TableName="Jobs", Key=KEY)
    length = int(environ["CONTENT_LENGTH"])
    requests.parse(environ)
    assert b"Jobs" in environ["wsgi.input"].read(length)


def test_an_unsigned_request_is_not_a_client_call() -> None:
    environ = environ_of("dynamodb", "get_item", TableName="Jobs", Key=KEY)
    del environ["HTTP_AUTHORIZATION"]
    assert requests.parse(environ) is None


@pytest.mark.parametrize(
    ("service", "operation", "params", "gap"),
    [
        (
            "dynamodb",
            "export_table_to_point_in_time",
            {"TableArn": TABLE, "S3Bucket": "b"},
            "dynamodb:ExportTableToPointInTime",
        ),
        ("glue", "get_crawler", {"Name": "c"}, "glue:GetCrawler"),
        ("kinesis", "list_streams", {}, "'kinesis'"),
    ],
)
def test_an_operation_without_a_resource_map_is_a_named_gap(service, operation, params, gap) -> None:
    with pytest.raises(ResourceGap, match=gap):
        needs(service, operation, **params)
