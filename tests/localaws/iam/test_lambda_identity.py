"""Every Lambda invocation runs with its execution role's credentials (localaws/bridges/awslambda/ with
localaws/iam/service_access.py): assumed by lambda.amazonaws.com through the trust policy, renewed by
retiring a warm environment before they end, and Lambda's own log writes are the role's."""

from __future__ import annotations

import io
import json
import uuid
import zipfile

import pytest

from localaws.bridges import awslambda
from tests.localaws.iam.iam_support import make_role, trust

A = "123456789012"

HANDLER = """
import json, os
import boto3

def whoami(event, context):
    return {
        "arn": boto3.client("sts").get_caller_identity()["Arn"],
        "key": os.environ["AWS_ACCESS_KEY_ID"],
        "pid": os.getpid(),
    }

def write(event, context):
    try:
        boto3.client("dynamodb").put_item(TableName=event["table"], Item={"k": {"S": "v"}})
        return "written"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
"""

LOGS = {
    "Effect": "Allow",
    "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
    "Resource": "arn:aws:logs:*:*:log-group:/aws/lambda/*",
}


def package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", HANDLER)
    return buffer.getvalue()


def create_function(aws_client, role_arn: str, handler: str) -> str:
    name = f"iam-fn-{uuid.uuid4().hex[:8]}"
    aws_client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role_arn,
        Handler=f"handler.{handler}",
        Code={"ZipFile": package()},
        Timeout=30,
    )
    return name


def invoke(aws_client, name: str, event: dict | None = None) -> tuple[dict, object]:
    response = aws_client("lambda").invoke(FunctionName=name, Payload=json.dumps(event or {}).encode())
    return response, json.loads(response["Payload"].read())


def test_the_function_runs_as_a_session_of_its_role_named_after_it(aws_client) -> None:
    role = make_role(aws_client, [LOGS], trust())
    name = create_function(aws_client, role, "whoami")
    response, payload = invoke(aws_client, name)
    assert "FunctionError" not in response, payload
    assert payload["arn"] == f"arn:aws:sts::{A}:assumed-role/{role.rsplit('/', 1)[1]}/{name}"
    assert payload["key"].startswith("ASIA")


def test_the_role_decides_what_the_function_may_call(aws_client, unique_name) -> None:
    table = unique_name("IamLambdaTable")
    aws_client("dynamodb").create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    reader = create_function(aws_client, make_role(aws_client, [LOGS], trust()), "write")
    _, payload = invoke(aws_client, reader, {"table": table})
    assert payload.startswith("ClientError: An error occurred (AccessDeniedException)"), payload
    assert "dynamodb:PutItem" in payload
    writer_role = make_role(
        aws_client,
        [
            LOGS,
            {
                "Effect": "Allow",
                "Action": "dynamodb:PutItem",
                "Resource": f"arn:aws:dynamodb:*:*:table/{table}",
            },
        ],
        trust(),
    )
    _, payload = invoke(aws_client, create_function(aws_client, writer_role, "write"), {"table": table})
    assert payload == "written"


def test_a_role_lambda_may_not_assume_fails_the_invocation(aws_client) -> None:
    role = make_role(aws_client, [LOGS], trust("glue.amazonaws.com"))
    name = create_function(aws_client, role, "whoami")
    response, payload = invoke(aws_client, name)
    assert response.get("FunctionError") == "Unhandled"
    assert payload["errorType"] == "AccessDeniedException"
    assert "cannot be assumed by Lambda" in payload["errorMessage"]


def test_lambda_writes_the_functions_logs_only_if_its_role_may(aws_client) -> None:
    silent = create_function(aws_client, make_role(aws_client, [], trust()), "whoami")
    response, _ = invoke(aws_client, silent)
    assert "FunctionError" not in response  # the function runs; its logs are lost, as on AWS
    logs = aws_client("logs")
    assert not logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{silent}")["logGroups"]
    logged = create_function(aws_client, make_role(aws_client, [LOGS], trust()), "whoami")
    invoke(aws_client, logged)
    streams = logs.describe_log_streams(logGroupName=f"/aws/lambda/{logged}")["logStreams"]
    events = logs.get_log_events(
        logGroupName=f"/aws/lambda/{logged}", logStreamName=streams[0]["logStreamName"]
    )
    assert any(e["message"].startswith("START RequestId") for e in events["events"])


@pytest.fixture
def renewal_window():
    """The runtime's credential lifetime and renewal margin, put back after the test."""
    runtime = awslambda.runtime()
    saved = (runtime.credentials_lifetime_s, runtime.renew_credentials_before_s)
    yield runtime
    runtime.credentials_lifetime_s, runtime.renew_credentials_before_s = saved


def test_a_warm_environment_keeps_its_credentials_until_they_near_their_end(
    aws_client, renewal_window
) -> None:
    name = create_function(aws_client, make_role(aws_client, [LOGS], trust()), "whoami")
    _, first = invoke(aws_client, name)
    _, second = invoke(aws_client, name)
    assert (second["pid"], second["key"]) == (first["pid"], first["key"])  # warm, same credentials
    # Credentials within the renewal margin: the warm environment is retired, the next one gets new ones.
    renewal_window.renew_credentials_before_s = renewal_window.credentials_lifetime_s + 60
    _, third = invoke(aws_client, name)
    assert third["pid"] != second["pid"] and third["key"] != second["key"]
    assert third["arn"] == first["arn"]  # the same role, a new session of it
