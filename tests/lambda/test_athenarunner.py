"""Athena Runner against moto Athena/DynamoDB and stubbed Step Functions."""

from __future__ import annotations

import hashlib
from typing import Any

import athenarunner
import boto3
import etlrunner
import pytest
from botocore.stub import ANY, Stubber
from lambda_support import (
    ACCOUNT,
    ATHENA_ACTIVITY_ARN,
    REGION,
    FakeContext,
    JsonMatching,
    contains,
    create_table,
    make_config,
    table_items,
    task_input,
)
from moto.athena.models import athena_backends

TABLE = "AthenaRunnerActiveJobs"
GAT = {"activityArn": ATHENA_ACTIVITY_ARN, "workerName": "athenarunner"}
LOCATION = "s3://data-bucket/athena-results/"
QUERY = {
    "AthenaQueryString": "SELECT 1",
    "AthenaDatabase": "marketingandsales_qs",
    "AthenaResultOutputLocation": LOCATION,
}


@pytest.fixture
def athena(sfn: tuple[Any, Stubber]) -> Any:
    create_table(TABLE, "athena_query_execution_id")
    return boto3.client("athena", region_name=REGION)


@pytest.fixture
def stub(sfn: tuple[Any, Stubber]) -> Stubber:
    return sfn[1]


def run(sfn: tuple[Any, Stubber], athena: Any, context: Any = None) -> dict[str, Any]:
    config = make_config(ATHENA_ACTIVITY_ARN, TABLE, "athenarunner")
    clients = etlrunner.Clients(sfn=sfn[0], dynamodb=boto3.client("dynamodb", region_name=REGION))
    return etlrunner.run(athenarunner.AthenaRunner(athena), config, clients, context)


def executions() -> list[Any]:
    return list(athena_backends[ACCOUNT][REGION].executions.values())


def track(athena: Any, token: str) -> str:
    execution_id = athena.start_query_execution(
        QueryString="SELECT 1",
        QueryExecutionContext={"Database": "db"},
        ResultConfiguration={"OutputLocation": LOCATION},
    )["QueryExecutionId"]
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName=TABLE,
        Item={
            "sfn_activity_arn": {"S": ATHENA_ACTIVITY_ARN},
            "athena_query_execution_id": {"S": execution_id},
            "sfn_task_token": {"S": token},
        },
    )
    return execution_id


def test_query_string_success_with_exact_output(sfn, athena, stub):
    output = JsonMatching(
        {
            "AthenaQueryString": "SELECT 1",
            "AthenaQueryExecutionId": ANY,
            "AthenaQueryExecutionState": "SUCCEEDED",
            "AthenaQueryExecutionStateChangeReason": None,
            "AthenaQuerySubmissionDateTime": ANY,
            "AthenaQueryCompletionDateTime": ANY,
            "AthenaQueryEngineExecutionTimeInMillis": 0,
            "AthenaQueryDataScannedInBytes": 0,
        }
    )
    stub.add_response("get_activity_task", {"taskToken": "T1", "input": task_input(QUERY)}, GAT)
    stub.add_response("get_activity_task", {}, GAT)
    stub.add_response("send_task_success", {}, {"taskToken": "T1", "output": output})

    summary = run(sfn, athena)

    (execution,) = executions()
    sent = output.seen[-1]
    assert summary["started"] == 1 and summary["succeeded"] == 1
    assert sent["AthenaQueryExecutionId"] == execution.id
    status = athena.get_query_execution(QueryExecutionId=execution.id)["QueryExecution"]["Status"]
    assert sent["AthenaQuerySubmissionDateTime"] == etlrunner.iso8601(status["SubmissionDateTime"])
    assert sent["AthenaQueryCompletionDateTime"] == etlrunner.iso8601(status["CompletionDateTime"])
    assert execution.context == {"Database": "marketingandsales_qs"}
    assert execution.config["OutputLocation"].startswith(LOCATION)
    assert table_items(TABLE) == []


def test_named_query_encryption_and_workgroup_are_passed(sfn, athena, stub, manual_states):
    athena.create_work_group(Name="etl", Configuration={})
    named = athena.create_named_query(Name="q", Database="sales_db", QueryString="SELECT 2", WorkGroup="etl")
    payload = {
        "AthenaNamedQuery": named["NamedQueryId"],
        "AthenaResultOutputLocation": LOCATION,
        "AthenaResultEncryptionOption": "SSE_KMS",
        "AthenaResultKmsKey": "arn:aws:kms:us-east-1:1:key/k",
    }
    stub.add_response("get_activity_task", {"taskToken": "T1", "input": task_input(payload)}, GAT)
    stub.add_response("get_activity_task", {}, GAT)

    assert run(sfn, athena)["started"] == 1

    (execution,) = executions()
    assert execution.query == "SELECT 2"
    assert execution.context == {"Database": "sales_db"}
    assert execution.workgroup.name == "etl"
    assert execution.config["EncryptionConfiguration"] == {
        "EncryptionOption": "SSE_KMS",
        "KmsKey": "arn:aws:kms:us-east-1:1:key/k",
    }
    (item,) = table_items(TABLE)
    assert item["athena_query_execution_id"] == execution.id and item["athena_database"] == "sales_db"


def test_start_request_is_exact_and_idempotent(athena):
    runner = athenarunner.AthenaRunner(athena)
    expected = {
        "QueryString": "SELECT 1",
        "QueryExecutionContext": {"Database": "marketingandsales_qs"},
        "ResultConfiguration": {
            "OutputLocation": LOCATION,
            "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
        },
        "ClientRequestToken": hashlib.sha256(b"T1").hexdigest(),
        "WorkGroup": "primary",
    }
    with Stubber(athena) as athena_stub:
        athena_stub.add_response("start_query_execution", {"QueryExecutionId": "q-1"}, expected)
        fields = runner.start(
            {**QUERY, "AthenaResultEncryptionOption": "SSE_S3", "AthenaWorkGroup": "primary"}, "T1"
        )
    assert fields == {"athena_query_execution_id": "q-1", "athena_database": "marketingandsales_qs"}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            {"AthenaResultOutputLocation": LOCATION},
            "give AthenaQueryString + AthenaDatabase, or AthenaNamedQuery",
        ),
        (
            {"AthenaQueryString": "SELECT 1", "AthenaResultOutputLocation": LOCATION},
            "required key AthenaDatabase is missing",
        ),
        (
            {"AthenaDatabase": "db", "AthenaResultOutputLocation": LOCATION},
            "required key AthenaQueryString is missing",
        ),
        ({**QUERY, "AthenaNamedQuery": "abc"}, "not both"),
        (
            {"AthenaQueryString": "SELECT 1", "AthenaDatabase": "db"},
            "required key AthenaResultOutputLocation",
        ),
        (
            {**QUERY, "AthenaResultOutputLocation": "data-bucket/results/"},
            "must be an s3://bucket/prefix/ URI",
        ),
        ({**QUERY, "AthenaResultOutputLocation": "s3://"}, "must be an s3://bucket/prefix/ URI"),
        ({**QUERY, "AthenaResultEncryptionOption": "AES"}, "must be one of SSE_S3, SSE_KMS, CSE_KMS"),
        ({**QUERY, "AthenaResultEncryptionOption": "CSE_KMS"}, "AthenaResultKmsKey is required"),
        ({**QUERY, "AthenaResultEncryptionOption": "SSE_S3", "AthenaResultKmsKey": "k"}, "must not be given"),
        ({**QUERY, "AthenaResultKmsKey": "k"}, "given without AthenaResultEncryptionOption"),
        ({**QUERY, "AthenaWorkgroup": "etl"}, "unknown key(s) AthenaWorkgroup"),
        ({**QUERY, "AthenaQueryString": ["SELECT 1"]}, "AthenaQueryString must be a string"),
    ],
)
def test_invalid_input_fails_the_task_at_once(sfn, athena, stub, payload, message):
    cause = JsonMatching({"ErrorMessage": contains(message)})
    stub.add_response("get_activity_task", {"taskToken": "T1", "input": task_input(payload)}, GAT)
    stub.add_response(
        "send_task_failure", {}, {"taskToken": "T1", "error": "AthenaRunner.InvalidInput", "cause": cause}
    )
    stub.add_response("get_activity_task", {}, GAT)

    assert run(sfn, athena)["rejected"] == 1
    assert executions() == [] and table_items(TABLE) == []


def test_unknown_named_query_is_invalid_input(sfn, athena, stub):
    # moto crashes on an unknown id; real Athena answers InvalidRequestException, which is stubbed here.
    cause = JsonMatching(
        {"ErrorMessage": contains("AthenaNamedQuery nq-404 not found: InvalidRequestException")}
    )
    stub.add_response(
        "get_activity_task",
        {
            "taskToken": "T1",
            "input": task_input({"AthenaNamedQuery": "nq-404", "AthenaResultOutputLocation": LOCATION}),
        },
        GAT,
    )
    stub.add_response(
        "send_task_failure", {}, {"taskToken": "T1", "error": "AthenaRunner.InvalidInput", "cause": cause}
    )
    stub.add_response("get_activity_task", {}, GAT)
    with Stubber(athena) as athena_stub:
        athena_stub.add_client_error(
            "get_named_query",
            "InvalidRequestException",
            "NamedQuery nq-404 was not found",
            expected_params={"NamedQueryId": "nq-404"},
        )
        assert run(sfn, athena)["rejected"] == 1


def test_refused_start_is_start_failed(sfn, athena, stub):
    cause = JsonMatching(
        {
            "ErrorMessage": contains(
                "StartQueryExecution on database marketingandsales_qs was "
                "refused: InvalidRequestException: bad workgroup"
            )
        }
    )
    stub.add_response("get_activity_task", {"taskToken": "T1", "input": task_input(QUERY)}, GAT)
    stub.add_response(
        "send_task_failure", {}, {"taskToken": "T1", "error": "AthenaRunner.StartFailed", "cause": cause}
    )
    stub.add_response("get_activity_task", {}, GAT)
    with Stubber(athena) as athena_stub:
        athena_stub.add_client_error("start_query_execution", "InvalidRequestException", "bad workgroup")
        assert run(sfn, athena)["rejected"] == 1
    assert table_items(TABLE) == []


@pytest.mark.parametrize("state", ["QUEUED", "RUNNING"])
def test_running_states_heartbeat(sfn, athena, stub, manual_states, state):
    track(athena, "T1")
    executions()[0].status = state
    stub.add_response("send_task_heartbeat", {}, {"taskToken": "T1"})
    stub.add_response("get_activity_task", {}, GAT)

    assert run(sfn, athena)["running"] == 1
    assert len(table_items(TABLE)) == 1


@pytest.mark.parametrize("state", ["FAILED", "CANCELLED"])
def test_failed_states_report_failure(sfn, athena, stub, state):
    execution_id = track(athena, "T1")
    executions()[0].status = state
    cause = JsonMatching(
        {
            "AthenaQueryString": "SELECT 1",
            "AthenaQueryExecutionId": execution_id,
            "AthenaQueryExecutionState": state,
            "ErrorMessage": f"Athena query ended in state {state}",
        }
    )
    stub.add_response(
        "send_task_failure", {}, {"taskToken": "T1", "error": "AthenaQueryFailedError", "cause": cause}
    )
    stub.add_response("get_activity_task", {}, GAT)

    assert run(sfn, athena)["failed"] == 1
    assert table_items(TABLE) == []


def test_failure_cause_carries_athena_error(athena):
    runner = athenarunner.AthenaRunner(athena)
    response = {
        "QueryExecution": {
            "Query": "SELEC 1",
            "Status": {
                "State": "FAILED",
                "StateChangeReason": "line 1:1: mismatched input",
                "AthenaError": {
                    "ErrorCategory": 2,
                    "ErrorType": 1006,
                    "ErrorMessage": "SYNTAX_ERROR: mismatched input",
                },
            },
        }
    }
    with Stubber(athena) as athena_stub:
        athena_stub.add_response("get_query_execution", response, {"QueryExecutionId": "q-1"})
        result = runner.check({"athena_query_execution_id": "q-1"})
    assert result == etlrunner.Failed(
        "FAILED",
        {
            "AthenaQueryString": "SELEC 1",
            "AthenaQueryExecutionId": "q-1",
            "AthenaQueryExecutionState": "FAILED",
            "ErrorMessage": "SYNTAX_ERROR: mismatched input",
            "AthenaErrorType": 1006,
        },
    )


@pytest.mark.parametrize(
    ("state", "operation", "code"),
    [
        ("RUNNING", "send_task_heartbeat", "TaskTimedOut"),
        ("SUCCEEDED", "send_task_success", "TaskDoesNotExist"),
        ("CANCELLED", "send_task_failure", "InvalidToken"),
    ],
)
def test_expired_token_deletes_the_item(sfn, athena, stub, manual_states, state, operation, code):
    track(athena, "T1")
    executions()[0].status = state
    params: dict[str, Any] = {"taskToken": "T1"}
    if operation == "send_task_success":
        params["output"] = ANY
    if operation == "send_task_failure":
        params.update(error="AthenaQueryFailedError", cause=ANY)
    stub.add_client_error(operation, code, "token gone", expected_params=params)
    stub.add_response("get_activity_task", {}, GAT)

    assert run(sfn, athena, context=FakeContext())["expired"] == 1
    assert table_items(TABLE) == []


def test_handler_reads_env_over_config(sfn, athena, stub, monkeypatch):
    monkeypatch.setenv("SFN_ACTIVITY_ARN", ATHENA_ACTIVITY_ARN)
    monkeypatch.setenv("DDB_TABLE", TABLE)
    monkeypatch.setattr(
        etlrunner,
        "default_clients",
        lambda: etlrunner.Clients(sfn=sfn[0], dynamodb=boto3.client("dynamodb", region_name=REGION)),
    )
    stub.add_response("get_activity_task", {}, GAT)

    assert athenarunner.handler({}, FakeContext())["started"] == 0
