"""The Glue bridge (localaws/bridges/glue/).

Gap bridged: moto's job runs never run their script; their state moves to SUCCEEDED by itself. Here
StartJobRun runs the unchanged script and the run reports what really happened.
"""

from __future__ import annotations

import json
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from localaws.context import LocalAwsContext

GAP = "Glue bridge gap (job runs never run their script)"
FINAL = ("SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT", "ERROR")
REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.spark, pytest.mark.usefixtures("service_roles")]


@pytest.fixture
def bucket(aws_client, unique_name) -> str:
    name = unique_name("glue-bridge")
    aws_client("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture
def events(local_aws: LocalAwsContext) -> list[tuple[str, dict]]:
    seen: list[tuple[str, dict]] = []
    local_aws.subscribe(lambda kind, fields: seen.append((kind, fields)))
    return seen


def make_job(aws_client, bucket: str, script: str, default_arguments=None, max_concurrent=1) -> str:
    """Upload ``script`` and create a Glue 5.0 job running it; return the job name."""
    name = f"job-{uuid.uuid4().hex[:8]}"
    key = f"scripts/{name}.py"
    aws_client("s3").put_object(Bucket=bucket, Key=key, Body=textwrap.dedent(script).encode())
    aws_client("glue").create_job(
        Name=name,
        Role="arn:aws:iam::123456789012:role/glue",
        Command={"Name": "glueetl", "ScriptLocation": f"s3://{bucket}/{key}", "PythonVersion": "3"},
        DefaultArguments=default_arguments or {},
        ExecutionProperty={"MaxConcurrentRuns": max_concurrent},
        GlueVersion="5.0",
        WorkerType="G.1X",
        NumberOfWorkers=2,
    )
    return name


def wait_for_run(glue, job: str, run_id: str, timeout_s: float = 300) -> tuple[dict, list[str]]:
    """Poll GetJobRun until the run ends; return the final run and every state seen."""
    states: list[str] = []
    give_up = time.monotonic() + timeout_s
    while True:
        run = glue.get_job_run(JobName=job, RunId=run_id)["JobRun"]
        if not states or states[-1] != run["JobRunState"]:
            states.append(run["JobRunState"])
        if run["JobRunState"] in FINAL:
            return run, states
        assert time.monotonic() < give_up, f"run {run_id} still {run['JobRunState']} after {timeout_s} s"
        time.sleep(0.2)


def read_json(aws_client, bucket: str, key: str) -> dict:
    return json.loads(aws_client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


CATALOG_TO_PARQUET = """
    import sys
    from awsglue.context import GlueContext
    from awsglue.dynamicframe import DynamicFrame
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    def main():
        args = getResolvedOptions(sys.argv, ["JOB_NAME", "database", "table", "out"])
        sc = SparkContext.getOrCreate()
        glue_context = GlueContext(sc)
        job = Job(glue_context)
        job.init(args["JOB_NAME"], args)
        df = glue_context.create_dynamic_frame.from_catalog(
            database=args["database"], table_name=args["table"], transformation_ctx="src"
        ).toDF()
        print("rows read:", df.count())
        glue_context.purge_s3_path(args["out"], options={"retentionPeriod": 0})
        glue_context.write_dynamic_frame.from_options(
            frame=DynamicFrame.fromDF(df.where("n > 1"), glue_context, "out"),
            connection_type="s3",
            connection_options={"path": args["out"]},
            format="parquet",
            format_options={"compression": "snappy"},
        )
        job.commit()

    if __name__ == "__main__":
        main()
"""


def test_run_reads_a_catalog_table_and_writes_parquet(local_aws, aws_client, bucket, unique_name, events):
    s3, glue = aws_client("s3"), aws_client("glue")
    database = unique_name("gbdb").replace("-", "_")
    s3.put_object(Bucket=bucket, Key="src/data.csv", Body=b"n,s\n1,a\n2,b\n3,c\n")
    s3.put_object(Bucket=bucket, Key="out/stale.snappy.parquet", Body=b"old output, purged by the job")
    glue.create_database(DatabaseInput={"Name": database})
    glue.create_table(
        DatabaseName=database,
        TableInput={
            "Name": "src",
            "Parameters": {"skip.header.line.count": "1"},
            "StorageDescriptor": {
                "Columns": [{"Name": "n", "Type": "bigint"}, {"Name": "s", "Type": "string"}],
                "Location": f"s3://{bucket}/src/",
                "SerdeInfo": {
                    "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                    "Parameters": {"field.delim": ","},
                },
            },
        },
    )
    job = make_job(
        aws_client,
        bucket,
        CATALOG_TO_PARQUET,
        {"--database": database, "--table": "src", "--out": f"s3://{bucket}/out/"},
    )
    run_id = glue.start_job_run(JobName=job)["JobRunId"]
    run, states = wait_for_run(glue, job, run_id)

    assert run["JobRunState"] == "SUCCEEDED", f"{GAP}: {run.get('ErrorMessage')}"
    assert "RUNNING" in states or "STARTING" in states, f"{GAP}: moto advanced the state by itself: {states}"
    assert run["StartedOn"] <= run["CompletedOn"] and run["LastModifiedOn"] >= run["StartedOn"]
    assert isinstance(run["ExecutionTime"], int) and run["GlueVersion"] == "5.0"
    assert "ErrorMessage" not in run
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="out/")["Contents"]]
    assert keys and all(k.endswith(".snappy.parquet") and "stale" not in k for k in keys), keys

    listed = {r["Id"]: r for r in glue.get_job_runs(JobName=job)["JobRuns"]}
    assert (
        listed[run_id]["JobRunState"] == "SUCCEEDED" and listed[run_id]["CompletedOn"] == run["CompletedOn"]
    )

    ends = [f for kind, f in events if kind == "glue.run.end" and f["run_id"] == run_id]
    assert ends and ends[0]["state"] == "SUCCEEDED" and ends[0]["job"] == job and ends[0]["duration_s"] > 0
    assert any(kind == "glue.run.start" and f["run_id"] == run_id for kind, f in events)

    assert wait_for_log_line(aws_client("logs"), "/aws-glue/jobs/output", run_id, "rows read: 3"), (
        "script output not in CloudWatch"
    )


def wait_for_log_line(logs, group: str, stream: str, text: str, timeout_s: float = 60) -> bool:
    """True once a CloudWatch Logs event of ``group``/``stream`` contains ``text``; False after the deadline.
    Under load the group or stream may not exist yet when the run is seen ended: that is waited for too."""
    give_up = time.monotonic() + timeout_s
    while time.monotonic() < give_up:
        try:
            events = logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]
        except logs.exceptions.ResourceNotFoundException:
            events = []
        if any(text in event["message"] for event in events):
            return True
        time.sleep(0.2)
    return False


def test_failing_script_fails_the_run_with_glue_error_message(local_aws, aws_client, bucket, events):
    glue = aws_client("glue")
    job = make_job(
        aws_client,
        bucket,
        """
        import sys
        from awsglue.utils import getResolvedOptions
        args = getResolvedOptions(sys.argv, ["JOB_NAME"])
        raise ValueError("boom")
        """,
    )
    run_id = glue.start_job_run(JobName=job)["JobRunId"]
    run, _ = wait_for_run(glue, job, run_id)

    assert run["JobRunState"] == "FAILED", f"{GAP}: a raising script must fail the run, got {run}"
    assert "ValueError" in run["ErrorMessage"] and "boom" in run["ErrorMessage"], run["ErrorMessage"]
    assert "CompletedOn" in run
    ends = [f for kind, f in events if kind == "glue.run.end" and f["run_id"] == run_id]
    assert ends[0]["state"] == "FAILED" and "boom" in ends[0]["error"]
    errors = aws_client("logs").get_log_events(logGroupName="/aws-glue/jobs/error", logStreamName=run_id)
    assert any("ValueError: boom" in e["message"] for e in errors["events"]), "traceback not in CloudWatch"


WRITE_ARGS = """
    import json, sys, time
    import boto3
    from awsglue.utils import getResolvedOptions
    from awsglue import _localrun

    args = getResolvedOptions(sys.argv, ["JOB_NAME", "a", "b", "bucket", "key"])  # JOB_RUN_ID comes anyway
    run = _localrun.current()
    time.sleep(1.5)  # overlap with a parallel run, then resolve again: still this run's own arguments
    again = getResolvedOptions(sys.argv, ["a"])
    assert again["a"] == args["a"], (again, args)
    s3 = boto3.client("s3", endpoint_url=run.endpoint_url, region_name=run.region,
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.put_object(Bucket=args["bucket"], Key=args["key"], Body=json.dumps(args).encode())
"""


def test_default_arguments_are_merged_with_run_arguments(local_aws, aws_client, bucket):
    glue = aws_client("glue")
    job = make_job(
        aws_client,
        bucket,
        WRITE_ARGS,
        {"--a": "default-a", "--b": "default-b", "--bucket": bucket, "--key": "args/default.json"},
    )
    run_id = glue.start_job_run(JobName=job, Arguments={"--a": "run-a", "--key": "args/merged.json"})[
        "JobRunId"
    ]
    run, _ = wait_for_run(glue, job, run_id)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    args = read_json(aws_client, bucket, "args/merged.json")
    assert args["a"] == "run-a" and args["b"] == "default-b", f"{GAP}: run arguments win: {args}"
    assert args["JOB_NAME"] == job and args["JOB_RUN_ID"] == run_id, f"{GAP}: Glue's own arguments: {args}"


def test_parallel_runs_each_see_their_own_arguments(local_aws, aws_client, bucket):
    glue = aws_client("glue")
    job = make_job(aws_client, bucket, WRITE_ARGS, {"--b": "b", "--bucket": bucket}, max_concurrent=2)
    run_ids = {
        tag: glue.start_job_run(JobName=job, Arguments={"--a": tag, "--key": f"args/{tag}.json"})["JobRunId"]
        for tag in ("first", "second")
    }
    runs = {tag: wait_for_run(glue, job, run_id)[0] for tag, run_id in run_ids.items()}
    for tag, run in runs.items():
        assert run["JobRunState"] == "SUCCEEDED", f"{GAP}: {tag}: {run.get('ErrorMessage')}"
        args = read_json(aws_client, bucket, f"args/{tag}.json")
        assert args["a"] == tag and args["JOB_RUN_ID"] == run_ids[tag], f"{GAP}: {tag} saw {args}"
    first, second = runs["first"], runs["second"]
    assert first["StartedOn"] < second["CompletedOn"] and second["StartedOn"] < first["CompletedOn"], (
        "the two runs did not overlap"
    )


def test_extra_py_files_are_importable(local_aws, aws_client, bucket):
    glue, s3 = aws_client("glue"), aws_client("s3")
    module = f"helper_{uuid.uuid4().hex[:8]}"
    s3.put_object(
        Bucket=bucket, Key=f"lib/{module}.py", Body=b"def greet(name):\n    return 'hello ' + name\n"
    )
    job = make_job(
        aws_client,
        bucket,
        f"""
        import sys
        import {module}
        from awsglue.utils import getResolvedOptions
        args = getResolvedOptions(sys.argv, ["JOB_NAME"])
        assert {module}.greet("glue") == "hello glue"
        """,
        {"--extra-py-files": f"s3://{bucket}/lib/{module}.py"},
    )
    run_id = glue.start_job_run(JobName=job)["JobRunId"]
    run, _ = wait_for_run(glue, job, run_id)
    assert run["JobRunState"] == "SUCCEEDED", f"{GAP}: --extra-py-files: {run.get('ErrorMessage')}"


def test_moto_still_has_what_the_bridge_patches(local_aws):
    from moto.glue.models import GlueBackend

    from localaws.bridges import glue as bridge
    from localaws.bridges import patching

    bridge._check_moto_shape()  # raises GlueBridgeError naming the gap when a moto upgrade moved things
    moto_start = patching.original(GlueBackend, "start_job_run")
    assert GlueBackend.start_job_run is not moto_start, f"{GAP}: StartJobRun is not bridged"


def test_unknown_job_is_entity_not_found(local_aws, aws_client):
    with pytest.raises(ClientError) as error:
        aws_client("glue").start_job_run(JobName="no-such-job")
    assert error.value.response["Error"]["Code"] == "EntityNotFoundException"


def test_missing_script_fails_the_run(local_aws, aws_client, bucket):
    glue = aws_client("glue")
    name = f"job-{uuid.uuid4().hex[:8]}"
    glue.create_job(
        Name=name,
        Role="arn:aws:iam::123456789012:role/glue",
        Command={"Name": "glueetl", "ScriptLocation": f"s3://{bucket}/nope.py"},
        GlueVersion="5.0",
    )
    run, _ = wait_for_run(glue, name, glue.start_job_run(JobName=name)["JobRunId"])
    assert run["JobRunState"] == "FAILED" and "nope.py" in run["ErrorMessage"]


SALES_COLUMNS = (
    "date string, salesperson string, lead_name string, segment string, region string, target_close string, "
    "forecasted_monthly_revenue bigint, opportunity_stage string, weighted_revenue bigint, "
    "closed_opportunity boolean, active_opportunity boolean, latest_status_entry boolean"
)


@pytest.mark.skipif(
    not (REPO / "glue-scripts" / "process_sales_data.py").exists(), reason="glue-scripts not written yet"
)
def test_process_sales_data_script_runs_through_the_bridge(local_aws, aws_client, bucket, unique_name):
    """The project's own PSD script, unchanged, with glue_etl_common through --extra-py-files."""
    s3, glue = aws_client("s3"), aws_client("glue")
    for name in ("process_sales_data.py", "glue_etl_common.py"):
        s3.put_object(Bucket=bucket, Key=f"scripts/{name}", Body=(REPO / "glue-scripts" / name).read_bytes())
    header = (
        "Date,Salesperson,Lead Name,Segment,Region,Target Close,Forecasted Monthly Revenue,Opportunity Stage,"
        "Weighted Revenue,Closed Opportunity,Active Opportunity,Latest Status Entry\n"
    )
    rows = (
        "1/2/2024,Ann,L1,SMB,East,2/1/2024,100,Lead,10,FALSE,TRUE,TRUE\n"
        "1/2/2024,Bob,L2,SMB,West,2/1/2024,50,Lead,5,FALSE,TRUE,TRUE\n"
        "1/3/2024,Ann,L3,SMB,East,2/1/2024,70,Qualify,7,FALSE,TRUE,TRUE\n"
        "1/3/2024,Cy,L4,SMB,East,2/1/2024,30,Lead,3,FALSE,TRUE,TRUE\n"
    )
    s3.put_object(Bucket=bucket, Key="sales/sales.csv", Body=(header + rows).encode())
    database = unique_name("psd").replace("-", "_")
    glue.create_database(DatabaseInput={"Name": database})
    glue.create_table(
        DatabaseName=database,
        TableInput={
            "Name": "sales_qs",
            "Parameters": {"skip.header.line.count": "1", "classification": "csv"},
            "StorageDescriptor": {
                "Columns": [{"Name": c.split()[0], "Type": c.split()[1]} for c in SALES_COLUMNS.split(", ")],
                "Location": f"s3://{bucket}/sales/",
                "SerdeInfo": {
                    "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                    "Parameters": {"field.delim": ","},
                },
            },
        },
    )
    glue.create_job(
        Name=(job := f"ProcessSalesData-{uuid.uuid4().hex[:6]}"),
        Role="arn:aws:iam::123456789012:role/glue",
        Command={"Name": "glueetl", "ScriptLocation": f"s3://{bucket}/scripts/process_sales_data.py"},
        DefaultArguments={
            "--extra-py-files": f"s3://{bucket}/scripts/glue_etl_common.py",
            "--database_name": database,
            "--table_name": "sales_qs",
            "--s3_output_path": f"s3://{bucket}/output/sales/",
        },
        GlueVersion="5.0",
    )
    run, _ = wait_for_run(glue, job, glue.start_job_run(JobName=job)["JobRunId"])
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")

    from localaws.runtime.catalog_staging import Stager
    from localaws.runtime.spark import get_spark

    stager = Stager(local_aws.endpoint_url, local_aws.region, local_aws.work_dir)
    try:
        out = stager.read_paths(get_spark(), [f"s3://{bucket}/output/sales/"], "parquet")
        result = {str(r["date"]): (r["forecasted_lead_revenue"], r["leads_generated"]) for r in out.collect()}
    finally:
        stager.cleanup()
    assert result == {"2024-01-02": (150, 2), "2024-01-03": (30, 1)}


def test_parallel_runs_with_the_same_extra_module_name_each_import_their_own(local_aws, aws_client, bucket):
    """Two jobs whose ``--extra-py-files`` provide a module of the same name (as every script here imports
    ``glue_etl_common``) run in parallel, many times: no run fails (it used to fail with KeyError: the other
    run forgot the module while this run's import was in flight) and each gets its own copy."""
    glue, s3 = aws_client("glue"), aws_client("s3")
    module = f"common_{uuid.uuid4().hex[:8]}"
    jobs = []
    for flavour in ("a", "b"):
        # A slow import widens the window in which the other run used to drop the module.
        body = f"import time\ntime.sleep(0.05)\nFLAVOUR = {flavour!r}\n"
        s3.put_object(Bucket=bucket, Key=f"lib-{flavour}/{module}.py", Body=body.encode())
        script = f"""
        import {module}
        assert {module}.FLAVOUR == {flavour!r}, {module}.FLAVOUR
        """
        jobs.append(
            make_job(
                aws_client, bucket, script, {"--extra-py-files": f"s3://{bucket}/lib-{flavour}/{module}.py"}
            )
        )

    for _ in range(8):
        run_ids = [(job, glue.start_job_run(JobName=job)["JobRunId"]) for job in jobs]
        for job, run_id in run_ids:
            run, _ = wait_for_run(glue, job, run_id)
            assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")


SLOW_SCRIPT = """
    import time
    from pyspark.context import SparkContext

    sc = SparkContext.getOrCreate()
    # A Spark job that runs until it is cancelled (or 5 minutes pass): stopping must cancel it.
    sc.parallelize(range(4), 2).map(lambda x: time.sleep(300) or x).collect()
"""


def test_batch_stop_job_run_stops_a_running_run_and_refuses_an_ended_one(local_aws, aws_client, bucket):
    """moto has no BatchStopJobRun (500); the runner stops a run whose task is gone. As on Glue: STOPPING,
    then STOPPED; a run that already ended is an error entry, the call itself succeeds."""
    glue = aws_client("glue")
    job = make_job(aws_client, bucket, SLOW_SCRIPT)
    run_id = glue.start_job_run(JobName=job)["JobRunId"]
    give_up = time.monotonic() + 120
    while glue.get_job_run(JobName=job, RunId=run_id)["JobRun"]["JobRunState"] != "RUNNING":
        assert time.monotonic() < give_up, "the run never started"
        time.sleep(0.1)

    answer = glue.batch_stop_job_run(JobName=job, JobRunIds=[run_id, "jr_unknown"])

    assert answer["SuccessfulSubmissions"] == [{"JobName": job, "JobRunId": run_id}]
    assert [e["ErrorDetail"]["ErrorCode"] for e in answer["Errors"]] == ["EntityNotFoundException"]
    run, states = wait_for_run(glue, job, run_id, timeout_s=120)
    assert run["JobRunState"] == "STOPPED" and "ErrorMessage" not in run, states
    again = glue.batch_stop_job_run(JobName=job, JobRunIds=[run_id])
    assert again["SuccessfulSubmissions"] == []
    assert again["Errors"][0]["ErrorDetail"]["ErrorCode"] == "InvalidInputException"
