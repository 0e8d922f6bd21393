"""The local ``awsglue`` runtime (localaws/runtime/glue_runtime/awsglue): the subset of docs/DESIGN.md, over
S3 of the local endpoint. Gap bridged: Spark has no S3 filesystem here, and AWS's awsglue library is not
installable."""

from __future__ import annotations

import contextlib
import threading

import pytest

from localaws.context import LocalAwsContext

GAP = "awsglue runtime gap"

SALES_COLUMNS = [
    {"Name": "id", "Type": "bigint"},
    {"Name": "day", "Type": "date"},
    {"Name": "name", "Type": "string"},
    {"Name": "qty", "Type": "int"},
    {"Name": "price", "Type": "double"},
    {"Name": "closed", "Type": "boolean"},
]


def create_csv_table(
    aws_client, bucket: str, database: str, table: str, body: str, columns, delimiter=",", skip=1
) -> str:
    """A CSV catalog table (LazySimpleSerDe) over ``s3://bucket/table/`` holding ``body`` as one file."""
    s3, glue = aws_client("s3"), aws_client("glue")
    s3.put_object(Bucket=bucket, Key=f"{table}/part-1.csv", Body=body.encode())
    with contextlib.suppress(glue.exceptions.AlreadyExistsException):
        glue.create_database(DatabaseInput={"Name": database})
    glue.create_table(
        DatabaseName=database,
        TableInput={
            "Name": table,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": "csv", "skip.header.line.count": str(skip)},
            "StorageDescriptor": {
                "Columns": columns,
                "Location": f"s3://{bucket}/{table}/",
                "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                "SerdeInfo": {
                    "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                    "Parameters": {"field.delim": delimiter},
                },
            },
        },
    )
    return f"s3://{bucket}/{table}/"


@pytest.fixture
def bucket(aws_client, unique_name) -> str:
    name = unique_name("awsglue-rt")
    aws_client("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture
def glue_context(local_aws: LocalAwsContext):
    """A GlueContext used outside a bridge run: it finds the endpoint through AWS_ENDPOINT_URL."""
    from localaws.runtime.spark import get_spark

    spark = get_spark()
    from awsglue.context import GlueContext  # importable: the glue bridge put the runtime on sys.path

    return GlueContext(spark.sparkContext)


def test_get_resolved_options_outside_a_run_reads_the_given_argv(local_aws):
    from awsglue.utils import GlueArgumentError, getResolvedOptions

    argv = ["script.py", "--JOB_NAME", "J", "--out", "s3://b/o", "--unused", "x"]
    args = getResolvedOptions(argv, ["JOB_NAME", "out"])
    assert args["JOB_NAME"] == "J" and args["out"] == "s3://b/o"
    assert args["job_bookmark_option"] == "job-bookmark-disable"
    with pytest.raises(GlueArgumentError, match="--missing"):
        getResolvedOptions(argv, ["missing"])


def test_get_resolved_options_reads_each_threads_own_run_argv(local_aws):
    """sys.argv is one per process; parallel bridge runs each set their argv in a thread-local run context."""
    from awsglue import _localrun
    from awsglue.utils import getResolvedOptions

    seen: dict[str, str] = {}
    barrier = threading.Barrier(2)

    def run(tag: str) -> None:
        context = _localrun.RunContext(argv=["s.py", "--JOB_NAME", f"job-{tag}", "--tag", tag])
        with _localrun.activate(context):
            barrier.wait()
            seen[tag] = getResolvedOptions(["ignored.py"], ["JOB_NAME", "tag"])["tag"]

    threads = [threading.Thread(target=run, args=(tag,)) for tag in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"a": "a", "b": "b"}, f"{GAP}: a run must see its own argv, saw {seen}"
    assert _localrun.current() is None


@pytest.mark.spark
def test_from_catalog_reads_a_csv_table_with_header_skip_delimiter_and_types(
    local_aws, aws_client, bucket, unique_name, glue_context
):
    database = unique_name("rtdb").replace("-", "_")
    body = (
        "ID|Day|Name|Qty|Price|Closed\n"
        "(second header line)\n"
        "1|2024-01-31|Ann|3|2.5|true\n"
        "2|2024-02-01|Bob, Jr.|x|10|FALSE\n"
        '3||"quoted"|7||\n'
    )
    create_csv_table(aws_client, bucket, database, "sales", body, SALES_COLUMNS, delimiter="|", skip=2)

    df = glue_context.create_dynamic_frame.from_catalog(
        database=database, table_name="sales", transformation_ctx="sales"
    ).toDF()

    assert df.columns == ["id", "day", "name", "qty", "price", "closed"], f"{GAP}: catalog column order"
    assert [f.dataType.simpleString() for f in df.schema.fields] == [
        "bigint",
        "date",
        "string",
        "int",
        "double",
        "boolean",
    ], f"{GAP}: catalog types"
    rows = [r.asDict() for r in df.orderBy("id").collect()]
    assert [r["id"] for r in rows] == [1, 2, 3], f"{GAP}: both header lines must be skipped, got {rows}"
    assert str(rows[0]["day"]) == "2024-01-31" and rows[0]["price"] == 2.5 and rows[0]["closed"] is True
    assert rows[1]["name"] == "Bob, Jr." and rows[1]["qty"] is None and rows[1]["closed"] is False
    # LazySimpleSerDe does not unquote: the quotes are data, as on Athena/Glue.
    assert rows[2]["name"] == '"quoted"' and rows[2]["day"] is None and rows[2]["price"] is None


@pytest.mark.spark
def test_write_parquet_to_s3_read_it_back_and_purge(local_aws, aws_client, bucket, glue_context):
    from awsglue.dynamicframe import DynamicFrame

    s3 = aws_client("s3")
    spark = glue_context.spark_session
    df = spark.createDataFrame([(1, "a"), (2, "b"), (3, None)], "n bigint, s string")
    s3.put_object(Bucket=bucket, Key="out-sibling/keep.txt", Body=b"keep")

    glue_context.write_dynamic_frame.from_options(
        frame=DynamicFrame.fromDF(df, glue_context, "df"),
        connection_type="s3",
        connection_options={"path": f"s3://{bucket}/out"},
        format="parquet",
        format_options={"compression": "snappy"},
    )
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="out/").get("Contents", [])]
    assert keys, f"{GAP}: write_dynamic_frame.from_options uploaded nothing"
    assert all(k.endswith(".snappy.parquet") for k in keys), f"{GAP}: only data files are uploaded: {keys}"

    back = glue_context.create_dynamic_frame.from_options(
        connection_type="s3", connection_options={"paths": [f"s3://{bucket}/out/"]}, format="parquet"
    )
    assert back.count() == 3
    assert sorted(map(tuple, back.toDF().collect()), key=lambda r: r[0]) == [(1, "a"), (2, "b"), (3, None)]

    # The same files as a Parquet catalog table: from_catalog reads the catalog's columns, in its order.
    database = f"pq_{bucket.replace('-', '_')}"
    glue = aws_client("glue")
    glue.create_database(DatabaseInput={"Name": database})
    glue.create_table(
        DatabaseName=database,
        TableInput={
            "Name": "numbers",
            "StorageDescriptor": {
                "Columns": [{"Name": "s", "Type": "string"}, {"Name": "n", "Type": "bigint"}],
                "Location": f"s3://{bucket}/out/",
                "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "SerdeInfo": {
                    "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
                },
            },
        },
    )
    table = glue_context.create_dynamic_frame.from_catalog(database=database, table_name="numbers").toDF()
    assert table.columns == ["s", "n"] and table.count() == 3

    glue_context.purge_s3_path(f"s3://{bucket}/out", options={"retentionPeriod": 0})
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="out/"), f"{GAP}: purge left objects"
    assert s3.list_objects_v2(Bucket=bucket, Prefix="out-sibling/")["KeyCount"] == 1, "purge went too far"


@pytest.mark.spark
def test_job_init_and_commit(local_aws, glue_context):
    from awsglue.job import Job

    job = Job(glue_context)
    with pytest.raises(RuntimeError):
        job.commit()
    job.init("J", {"JOB_NAME": "J"})
    job.commit()
    import awsglue.transforms  # noqa: F401 - importable, as scripts do `from awsglue.transforms import *`
