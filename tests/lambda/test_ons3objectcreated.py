"""ons3objectcreated: releases the wait-for-data task of every uploaded file; stubbed Step Functions."""

from __future__ import annotations

import json
from typing import Any

import ons3objectcreated
import pytest
from botocore.stub import Stubber
from lambda_support import ACCOUNT, REGION, FakeContext

FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:ons3objectcreated"
BUCKET = "etl-data"


def activity(name: str, partition: str = "aws", region: str = REGION) -> str:
    return f"arn:{partition}:states:{region}:{ACCOUNT}:activity:{name}"


def record(key: str, bucket: str = BUCKET) -> dict[str, Any]:
    return {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 10}},
    }


def gat(arn: str) -> dict[str, str]:
    return {"activityArn": arn, "workerName": "ons3objectcreated"}


def success(arn: str, key: str, token: str = "T1", bucket: str = BUCKET) -> dict[str, str]:
    return {
        "taskToken": token,
        "output": json.dumps({"S3BucketName": bucket, "S3Key": key, "SFNActivityArn": arn}),
    }


@pytest.fixture
def stub(sfn: tuple[Any, Stubber]) -> Stubber:
    return sfn[1]


def handle(sfn: tuple[Any, Stubber], records: list[dict[str, Any]], context: Any = None) -> dict[str, Any]:
    ctx = context or FakeContext(invoked_function_arn=FUNCTION_ARN)
    return ons3objectcreated.handler({"Records": records}, ctx, sfn=sfn[0])


def test_releases_the_waiting_task(sfn, stub):
    arn = activity(f"{BUCKET}-SalesPipeline_QuickSightSample.csv")
    stub.add_response("get_activity_task", {"taskToken": "T1", "input": "{}"}, gat(arn))
    stub.add_response("send_task_success", {}, success(arn, "SalesPipeline_QuickSightSample.csv"))

    result = handle(sfn, [record("SalesPipeline_QuickSightSample.csv")])

    assert result["records"][0]["status"] == "released"


@pytest.mark.parametrize(
    ("encoded", "decoded", "name"),
    [
        ("incoming+folder/Sales.csv", "incoming folder/Sales.csv", "Sales.csv"),
        ("in/Sales%2B2025.csv", "in/Sales+2025.csv", "Sales+2025.csv"),
        ("in/caf%C3%A9.csv", "in/café.csv", "café.csv"),
    ],
)
def test_keys_are_url_decoded(sfn, stub, encoded, decoded, name):
    arn = activity(f"{BUCKET}-{name}")
    stub.add_response("get_activity_task", {"taskToken": "T1"}, gat(arn))
    stub.add_response("send_task_success", {}, success(arn, decoded))

    (summary,) = handle(sfn, [record(encoded)])["records"]

    assert summary["key"] == decoded and summary["status"] == "released"


@pytest.mark.parametrize(
    ("encoded", "problem"),
    [
        ("data/Sales+Q1.csv", "not allowed"),
        ("data/100%25.csv", "not allowed"),
        ("x" * 90 + ".csv", "at most 80"),
    ],
)
def test_names_that_cannot_be_activities_are_only_logged(sfn, stub, encoded, problem):
    (summary,) = handle(sfn, [record(encoded)])["records"]
    assert summary["status"] == "invalid-activity-name" and problem in summary["detail"]


def test_every_record_is_handled(sfn, stub):
    sales, marketing = activity(f"{BUCKET}-Sales.csv"), activity(f"{BUCKET}-Marketing.csv")
    other = activity(f"{BUCKET}-notes.txt")
    stub.add_response("get_activity_task", {"taskToken": "T1"}, gat(sales))
    stub.add_response("send_task_success", {}, success(sales, "Sales.csv", "T1"))
    stub.add_client_error(
        "get_activity_task", "ActivityDoesNotExist", "no activity", expected_params=gat(other)
    )
    stub.add_response("get_activity_task", {}, gat(marketing))
    stub.add_response("get_activity_task", {"taskToken": "T2"}, gat(activity("other-bucket-Marketing.csv")))
    stub.add_response(
        "send_task_success",
        {},
        success(activity("other-bucket-Marketing.csv"), "m/Marketing.csv", "T2", bucket="other-bucket"),
    )

    result = handle(
        sfn,
        [
            record("Sales.csv"),
            record("notes.txt"),
            record("Marketing.csv"),
            record("m/Marketing.csv", bucket="other-bucket"),
        ],
    )

    assert [r["status"] for r in result["records"]] == [
        "released",
        "no-such-activity",
        "no-waiting-task",
        "released",
    ]


def test_expired_token_is_logged_not_raised(sfn, stub):
    arn = activity(f"{BUCKET}-Sales.csv")
    stub.add_response("get_activity_task", {"taskToken": "T1"}, gat(arn))
    stub.add_client_error(
        "send_task_success", "TaskTimedOut", "late", expected_params=success(arn, "Sales.csv")
    )

    assert handle(sfn, [record("Sales.csv")])["records"][0]["status"] == "task-gone"


def test_partition_and_region_come_from_the_function_arn(sfn, stub):
    arn = activity(f"{BUCKET}-Sales.csv", partition="aws-cn", region="cn-north-1")
    stub.add_response("get_activity_task", {}, gat(arn))
    context = FakeContext(invoked_function_arn=f"arn:aws-cn:lambda:cn-north-1:{ACCOUNT}:function:f")

    assert handle(sfn, [record("Sales.csv")], context)["records"][0]["status"] == "no-waiting-task"


def test_other_errors_are_raised_after_all_records(sfn, stub):
    first, second = activity(f"{BUCKET}-a.csv"), activity(f"{BUCKET}-b.csv")
    stub.add_client_error("get_activity_task", "AccessDeniedException", "no", expected_params=gat(first))
    stub.add_response("get_activity_task", {"taskToken": "T2"}, gat(second))
    stub.add_response("send_task_success", {}, success(second, "b.csv", "T2"))

    with pytest.raises(RuntimeError, match="1 of 2 records not handled"):
        handle(sfn, [record("a.csv"), record("b.csv")])


def test_no_records_and_odd_records(sfn, stub):
    assert handle(sfn, []) == {"records": []}
    assert handle(sfn, [{"eventSource": "aws:sqs"}])["records"][0]["status"] == "not-an-s3-object-record"


def test_default_client_reads_past_the_long_poll(aws):
    client = ons3objectcreated.sfn_client()
    assert client.meta.config.read_timeout > 60
    assert client.meta.config.retries["mode"] == "standard"


def test_too_little_time_for_a_long_poll_is_raised_for_a_retry(sfn, stub):
    context = FakeContext(remaining=[30_000], invoked_function_arn=FUNCTION_ARN)
    with pytest.raises(RuntimeError, match="out-of-time"):
        handle(sfn, [record("Sales.csv")], context)
