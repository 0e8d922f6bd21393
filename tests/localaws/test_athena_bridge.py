"""The Athena bridge (localaws/bridges/athena/).

Gap bridged: moto's query executions never run; they move to SUCCEEDED by themselves with zero statistics and
no result file. Here the SQL runs with Spark over the Glue catalog and the result lands where Athena puts it.
"""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from localaws.bridges.athena import _java_double, athena_csv, format_value, referenced_tables

GAP = "Athena bridge gap (queries never execute)"
FINAL = ("SUCCEEDED", "FAILED", "CANCELLED")
CSV_BODY = (
    "id,name,amount,active,day\n"
    '1,Ann "A",2.5,true,2024-01-31\n'
    "2,,30000000,false,\n"
    "3,Cy,not-a-number,true,2024-02-01\n"
)


@pytest.fixture
def catalog(aws_client, unique_name) -> dict:
    """A bucket with one CSV file and a catalog table ``<db>.people`` over it."""
    s3, glue = aws_client("s3"), aws_client("glue")
    bucket = unique_name("athena-bridge")
    database = unique_name("athdb").replace("-", "_")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="people/people.csv", Body=CSV_BODY.encode())
    glue.create_database(DatabaseInput={"Name": database})
    glue.create_table(
        DatabaseName=database,
        TableInput={
            "Name": "people",
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": "csv", "skip.header.line.count": "1"},
            "StorageDescriptor": {
                "Columns": [
                    {"Name": "id", "Type": "bigint"},
                    {"Name": "name", "Type": "string"},
                    {"Name": "amount", "Type": "double"},
                    {"Name": "active", "Type": "boolean"},
                    {"Name": "day", "Type": "date"},
                ],
                "Location": f"s3://{bucket}/people/",
                "SerdeInfo": {
                    "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                    "Parameters": {"field.delim": ","},
                },
            },
        },
    )
    return {"bucket": bucket, "database": database, "size": len(CSV_BODY.encode())}


def run_query(athena, sql: str, database: str, output: str, timeout_s: float = 300) -> tuple[dict, list[str]]:
    qid = athena.start_query_execution(
        QueryString=sql,
        QueryExecutionContext={"Database": database},
        ResultConfiguration={"OutputLocation": output},
    )["QueryExecutionId"]
    states: list[str] = []
    give_up = time.monotonic() + timeout_s
    while True:
        execution = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
        state = execution["Status"]["State"]
        if not states or states[-1] != state:
            states.append(state)
        if state in FINAL:
            return execution, states
        assert time.monotonic() < give_up, f"query {qid} still {state} after {timeout_s} s"
        time.sleep(0.1)


def get_text(aws_client, bucket: str, key: str) -> str:
    return aws_client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()


@pytest.mark.spark
def test_query_over_a_catalog_csv_table_writes_athena_results(local_aws, aws_client, catalog):
    events: list[tuple[str, dict]] = []
    local_aws.subscribe(lambda kind, fields: events.append((kind, fields)))
    athena, bucket = aws_client("athena"), catalog["bucket"]
    execution, states = run_query(
        athena,
        "SELECT id, name, amount, active, day FROM people ORDER BY id",
        catalog["database"],
        f"s3://{bucket}/athena-results/",
    )
    qid = execution["QueryExecutionId"]
    status = execution["Status"]
    assert status["State"] == "SUCCEEDED", f"{GAP}: {status.get('StateChangeReason')}"
    assert states[0] in ("QUEUED", "RUNNING"), f"{GAP}: moto advanced the state by itself: {states}"
    assert execution["ResultConfiguration"]["OutputLocation"] == f"s3://{bucket}/athena-results/{qid}.csv"

    expected = (
        '"id","name","amount","active","day"\n'
        '"1","Ann ""A""","2.5","true","2024-01-31"\n'
        '"2",,"3.0E7","false",\n'
        '"3","Cy",,"true","2024-02-01"\n'
    )
    assert get_text(aws_client, bucket, f"athena-results/{qid}.csv") == expected, f"{GAP}: result CSV"
    metadata = json.loads(get_text(aws_client, bucket, f"athena-results/{qid}.csv.metadata"))
    assert [c["Type"] for c in metadata["ColumnInfo"]] == ["bigint", "varchar", "double", "boolean", "date"]
    assert metadata["RowCount"] == 3

    stats = execution["Statistics"]
    assert stats["DataScannedInBytes"] == catalog["size"], f"{GAP}: DataScannedInBytes = bytes of the input"
    assert stats["EngineExecutionTimeInMillis"] > 0 and stats["TotalExecutionTimeInMillis"] > 0
    assert stats["TotalExecutionTimeInMillis"] >= stats["EngineExecutionTimeInMillis"]
    assert "QueryQueueTimeInMillis" in stats
    assert status["CompletionDateTime"] >= status["SubmissionDateTime"]

    rows = athena.get_query_results(QueryExecutionId=qid)["ResultSet"]["Rows"]
    assert [d.get("VarCharValue") for d in rows[0]["Data"]] == ["id", "name", "amount", "active", "day"]
    assert [d.get("VarCharValue") for d in rows[2]["Data"]] == ["2", None, "3.0E7", "false", None]

    kinds = [(kind, f["state"]) for kind, f in events if f.get("query_execution_id") == qid]
    assert kinds[0][0] == "athena.query.start" and kinds[-1] == ("athena.query.end", "SUCCEEDED"), kinds


@pytest.mark.spark
def test_qualified_and_double_quoted_names_resolve(local_aws, aws_client, catalog):
    database, bucket = catalog["database"], catalog["bucket"]
    execution, _ = run_query(
        aws_client("athena"),
        f'SELECT count(*) AS n, sum("amount") AS total FROM "{database}"."people" WHERE id > 0',
        "default",
        f"s3://{bucket}/athena-results",
    )
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"].get("StateChangeReason")
    qid = execution["QueryExecutionId"]
    assert get_text(aws_client, bucket, f"athena-results/{qid}.csv") == '"n","total"\n"3","3.00000025E7"\n'


@pytest.mark.spark
def test_unknown_column_fails_the_query_with_an_athena_reason(local_aws, aws_client, catalog):
    execution, _ = run_query(
        aws_client("athena"),
        "SELECT nosuchcolumn FROM people",
        catalog["database"],
        f"s3://{catalog['bucket']}/athena-results/",
    )
    status = execution["Status"]
    assert status["State"] == "FAILED", f"{GAP}: a bad query must fail, got {status}"
    reason = status["StateChangeReason"]
    assert reason.startswith("COLUMN_NOT_FOUND: line 1:8: Column 'nosuchcolumn' cannot be resolved"), reason
    assert "UNRESOLVED_COLUMN" in reason, f"Spark's own message is kept: {reason}"
    assert status["AthenaError"]["ErrorCategory"] == 2


@pytest.mark.spark
def test_unknown_table_fails_the_query(local_aws, aws_client, catalog):
    execution, _ = run_query(
        aws_client("athena"),
        "SELECT * FROM nosuchtable",
        catalog["database"],
        f"s3://{catalog['bucket']}/athena-results/",
    )
    assert execution["Status"]["State"] == "FAILED"
    assert (
        f"Table 'awsdatacatalog.{catalog['database']}.nosuchtable' does not exist"
        in (execution["Status"]["StateChangeReason"])
    )


def test_moto_still_has_what_the_bridge_patches(local_aws):
    from localaws.bridges import athena as bridge

    bridge._check_moto_shape()  # raises AthenaBridgeError naming the gap when a moto upgrade moved things
    from moto.athena.models import AthenaBackend

    from localaws.bridges import patching

    assert AthenaBackend.start_query_execution.__name__ == "start_query_execution"
    moto_start = patching.original(AthenaBackend, "start_query_execution")
    assert AthenaBackend.start_query_execution is not moto_start, f"{GAP}: the bridge was not installed"


def test_named_queries_work_in_moto(local_aws, aws_client):
    athena = aws_client("athena")
    query_id = athena.create_named_query(
        Name="count people", Database="db", QueryString="SELECT count(*) FROM people"
    )["NamedQueryId"]
    named = athena.get_named_query(NamedQueryId=query_id)["NamedQuery"]
    assert named["QueryString"] == "SELECT count(*) FROM people" and named["Database"] == "db"


def test_athena_csv_format():
    assert athena_csv(["a", "b"], [["1", None], ['say "hi"', ""]]) == '"a","b"\n"1",\n"say ""hi""",""\n'


def test_values_are_rendered_as_athena_does():
    import datetime as dt
    from decimal import Decimal

    assert [_java_double(v) for v in (2.5, 100.0, 1e7, 12345678.9, 0.0001, -3e-5, 0.0)] == [
        "2.5",
        "100.0",
        "1.0E7",
        "1.23456789E7",
        "1.0E-4",
        "-3.0E-5",
        "0.0",
    ]
    assert format_value(True) == "true" and format_value(None) is None
    assert format_value(dt.date(2024, 1, 2)) == "2024-01-02"
    assert format_value(dt.datetime(2024, 1, 2, 3, 4, 5, 678000)) == "2024-01-02 03:04:05.678"
    assert format_value(Decimal("1.50")) == "1.50" and format_value([1, None]) == "[1, null]"


def test_referenced_tables_are_found():
    catalog = {"sales": ["orders", "people"], "other": ["people"]}
    sql = "SELECT * FROM orders o JOIN other.people p ON o.id = p.id WHERE o.note <> 'people'"
    assert referenced_tables(sql, "sales", catalog) == [("other", "people"), ("sales", "orders")]
    assert referenced_tables('SELECT * FROM "sales"."people"', "default", catalog) == [("sales", "people")]


def test_a_repeated_client_request_token_returns_the_first_query(local_aws, aws_client, catalog):
    """Athena answers a repeated ClientRequestToken with the first execution and starts nothing new (moto
    started a second query), so a runner recovering a task never runs its query twice."""
    athena = aws_client("athena")
    request = {
        "QueryString": "SELECT id FROM people",
        "QueryExecutionContext": {"Database": catalog["database"]},
        "ResultConfiguration": {"OutputLocation": f"s3://{catalog['bucket']}/results/"},
        "ClientRequestToken": "a" * 64,
    }
    first = athena.start_query_execution(**request)["QueryExecutionId"]
    again = athena.start_query_execution(**request)["QueryExecutionId"]
    assert again == first
    with pytest.raises(athena.exceptions.InvalidRequestException):
        athena.start_query_execution(**{**request, "QueryString": "SELECT name FROM people"})
    other = athena.start_query_execution(**{**request, "ClientRequestToken": "b" * 64})["QueryExecutionId"]
    assert other != first


@pytest.mark.parametrize(
    ("operation", "extra"),
    [("get_query_execution", {}), ("get_query_results", {}), ("stop_query_execution", {})],
)
def test_an_unknown_query_execution_id_is_invalid_request(local_aws, aws_client, operation, extra):
    """moto answered HTTP 500 with an HTML page (the AWS CLI: "invalid XML received"); Athena says
    InvalidRequestException, HTTP 400, in its JSON error shape."""
    unknown = "00000000-0000-0000-0000-000000000000"
    with pytest.raises(ClientError) as caught:
        getattr(aws_client("athena"), operation)(QueryExecutionId=unknown, **extra)
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400, error
    assert error["Error"]["Code"] == "InvalidRequestException", error
    assert error["Error"]["Message"] == f"QueryExecution {unknown} was not found"
    assert error.get("AthenaErrorCode") == "INVALID_INPUT", error


def values(rows: list[dict]) -> list[list[str | None]]:
    return [[d.get("VarCharValue") for d in row["Data"]] for row in rows]


@pytest.mark.spark
def test_get_query_results_pages_with_the_header_on_the_first_page_only(local_aws, aws_client, catalog):
    """Athena: MaxResults rows a page (the header row counts on the first page), a NextToken while rows are
    left, and no header on the later pages (local before: every row at once, MaxResults ignored)."""
    athena = aws_client("athena")
    execution, _ = run_query(
        athena, "SELECT id FROM people ORDER BY id", catalog["database"], f"s3://{catalog['bucket']}/paged/"
    )
    qid = execution["QueryExecutionId"]
    first = athena.get_query_results(QueryExecutionId=qid, MaxResults=2)
    assert values(first["ResultSet"]["Rows"]) == [["id"], ["1"]]
    assert first["ResultSet"]["ResultSetMetadata"]["ColumnInfo"][0]["Name"] == "id"
    second = athena.get_query_results(QueryExecutionId=qid, MaxResults=2, NextToken=first["NextToken"])
    assert values(second["ResultSet"]["Rows"]) == [["2"], ["3"]]
    assert "NextToken" not in second
    everything = athena.get_query_results(QueryExecutionId=qid)  # default: up to 1000 rows
    assert (
        values(everything["ResultSet"]["Rows"]) == [["id"], ["1"], ["2"], ["3"]]
        and "NextToken" not in everything
    )
    paged = [
        row
        for page in athena.get_paginator("get_query_results").paginate(
            QueryExecutionId=qid, PaginationConfig={"PageSize": 3}
        )
        for row in page["ResultSet"]["Rows"]
    ]
    assert values(paged) == values(everything["ResultSet"]["Rows"])

    for bad in ({"MaxResults": 1001}, {"NextToken": "not-a-token"}):
        with pytest.raises(ClientError) as refused:
            athena.get_query_results(QueryExecutionId=qid, **bad)
        assert refused.value.response["Error"]["Code"] == "InvalidRequestException", bad
