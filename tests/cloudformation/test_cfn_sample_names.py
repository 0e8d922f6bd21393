"""GUARDS OF THE SAMPLE'S OWN NAMES: the sample workflow's jobs, tables, states, activities and outputs as
the 2018 sample and docs/DESIGN.md name them.

These are the only template tests that name the sample's parts. Adding a job, a state, a table or a query
step keeps them green (they check that the sample's parts are still there and wired as designed, not that
nothing else is); renaming or removing one of the sample's own parts is what they are here to catch:
update them, and docs/DESIGN.md "Names", when you do that on purpose. What must hold for any workflow is in
test_cfn_workflow_invariants.py.
"""

from __future__ import annotations

import json

import pytest
from cfn_test_helpers import (
    Resolver,
    activity_arn,
    declared_activity_arns,
    glue_resolver,
    load_template,
    resources_of_type,
    state_machine_definition,
)

MAIN = "MarketingAndSalesETLOrchestrator"
ATHENA = "AthenaRunnerTestETLOrchestrator"
FALLBACK = "ETL Job Failed Fallback"
FAILED = "ETL Job Failed"
GLUE_PATHS = {
    "S3ETLScriptPath": "s3://script-bucket/glue/scripts",
    "S3ETLOutputPath": "s3://output-bucket/etl/out",
    "SourceDataBucketName": "data-bucket",
}
GLUE_ERRORS = [
    "GlueJobFailedError",
    "GlueRunner.InvalidInput",
    "GlueRunner.StartFailed",
    "GlueRunner.AccessDenied",
    "States.Timeout",
    "States.HeartbeatTimeout",
]
ATHENA_ERRORS = [
    "AthenaQueryFailedError",
    "AthenaRunner.InvalidInput",
    "AthenaRunner.StartFailed",
    "AthenaRunner.AccessDenied",
    "States.Timeout",
    "States.HeartbeatTimeout",
]


def definition(logical_id: str, params: dict[str, str] | None = None) -> dict:
    return json.loads(state_machine_definition(logical_id, params))


# ----------------------------------------------------------------------------------------------------------
# The catalog and the three jobs
# ----------------------------------------------------------------------------------------------------------
SALES_COLUMNS = [
    ("date", "string"),
    ("salesperson", "string"),
    ("lead_name", "string"),
    ("segment", "string"),
    ("region", "string"),
    ("target_close", "string"),
    ("forecasted_monthly_revenue", "bigint"),
    ("opportunity_stage", "string"),
    ("weighted_revenue", "bigint"),
    ("closed_opportunity", "boolean"),
    ("active_opportunity", "boolean"),
    ("latest_status_entry", "boolean"),
]
MARKETING_BIGINT_COLUMNS = [
    "new_visitors_seo",
    "new_visitors_cpc",
    "new_visitors_social_media",
    "return_visitors",
    "twitter_mentions",
    "twitter_follower_adds",
    "twitter_followers_cumulative",
    "mailing_list_adds",
    "mailing_list_cumulative",
    "website_pageviews",
    "website_visits",
    "website_unique_visits",
    "mobile_uniques",
    "tablet_uniques",
    "desktop_uniques",
    "free_sign_up",
    "paid_conversion",
]
MARKETING_COLUMNS = [
    ("date", "string"),
    *((name, "bigint") for name in MARKETING_BIGINT_COLUMNS),
    ("events", "string"),
]


def test_glue_database():
    (db,) = resources_of_type(load_template("glue-resources"), "AWS::Glue::Database").values()
    assert db["Properties"]["DatabaseInput"]["Name"] == "marketingandsales_qs"


@pytest.mark.parametrize(
    ("logical_id", "table", "prefix", "columns"),
    [
        ("SalesTable", "sales_qs", "sales", SALES_COLUMNS),
        ("MarketingTable", "marketing_qs", "marketing", MARKETING_COLUMNS),
    ],
)
def test_glue_tables_match_the_catalog_contract(logical_id, table, prefix, columns):
    resolver = glue_resolver(GLUE_PATHS)
    props = resolver.resolve(resolver.template["Resources"][logical_id]["Properties"])
    assert props["DatabaseName"] == "marketingandsales_qs"
    table_input = props["TableInput"]
    assert table_input["Name"] == table
    assert table_input["TableType"] == "EXTERNAL_TABLE"
    assert table_input["Parameters"]["classification"] == "csv"
    assert table_input["Parameters"]["skip.header.line.count"] == "1"
    sd = table_input["StorageDescriptor"]
    assert sd["Location"] == f"s3://data-bucket/{prefix}/"
    assert sd["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"
    assert sd["OutputFormat"] == "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
    assert sd["SerdeInfo"]["SerializationLibrary"] == "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
    assert sd["SerdeInfo"]["Parameters"] == {"field.delim": ","}
    assert [(c["Name"], c["Type"]) for c in sd["Columns"]] == columns


JOBS = {
    "ProcessSalesData": (
        "process_sales_data.py",
        {
            "--database_name": "marketingandsales_qs",
            "--table_name": "sales_qs",
            "--s3_output_path": "s3://output-bucket/etl/out/sales/",
        },
    ),
    "ProcessMarketingData": (
        "process_marketing_data.py",
        {
            "--database_name": "marketingandsales_qs",
            "--table_name": "marketing_qs",
            "--s3_output_path": "s3://output-bucket/etl/out/marketing/",
        },
    ),
    "JoinMarketingAndSalesData": (
        "join_marketing_and_sales_data.py",
        {
            "--database_name": "marketingandsales_qs",
            "--s3_sales_data_path": "s3://output-bucket/etl/out/sales/",
            "--s3_marketing_data_path": "s3://output-bucket/etl/out/marketing/",
            "--s3_output_path": "s3://output-bucket/etl/out/marketing-and-sales/",
        },
    ),
}


def test_the_sample_jobs_are_there_as_designed():
    """Jobs you add are checked by the invariants; these three must stay as the sample defines them."""
    resolver = glue_resolver(GLUE_PATHS)
    jobs = resources_of_type(resolver.template, "AWS::Glue::Job")
    by_name = {job["Properties"]["Name"]: job for job in jobs.values()}
    assert set(JOBS) <= set(by_name), f"missing: {set(JOBS) - set(by_name)}"
    for name, (script, arguments) in JOBS.items():
        raw = by_name[name]["Properties"]
        assert raw["WorkerType"] == {"Ref": "GlueWorkerType"}
        assert raw["NumberOfWorkers"] == {"Ref": "GlueNumberOfWorkers"}
        assert "AllocatedCapacity" not in raw and "MaxCapacity" not in raw
        props = resolver.resolve(raw)
        assert props["GlueVersion"] == "5.0"
        assert props["Command"] == {
            "Name": "glueetl",
            "PythonVersion": "3",
            "ScriptLocation": f"s3://script-bucket/glue/scripts/{script}",
        }
        assert props["DefaultArguments"] == {
            "--job-language": "python",
            "--extra-py-files": "s3://script-bucket/glue/scripts/glue_etl_common.py",
            **arguments,
        }
        assert props["Role"] == "<GlueJobRole.Arn>"


# ----------------------------------------------------------------------------------------------------------
# The state machines, their activities and the wait keys
# ----------------------------------------------------------------------------------------------------------
def test_activities_and_their_names():
    params = {
        "SourceDataBucketName": "some-bucket",
        "GlueRunnerActivityName": "GRA",
        "AthenaRunnerActivityName": "ARA",
    }
    arns = declared_activity_arns(params)
    assert {
        "GlueRunnerActivity": activity_arn("GRA"),
        "AthenaRunnerActivity": activity_arn("ARA"),
        "SalesDataWaitActivity": activity_arn("some-bucket-SalesPipeline_QuickSightSample.csv"),
        "MarketingDataWaitActivity": activity_arn("some-bucket-MarketingData_QuickSightSample.csv"),
    }.items() <= arns.items()


# A runner killed between GetActivityTask and recording the task leaves no one to answer it: the heartbeat
# timeout queues it again (twice at most), and the runner stops any job whose task is gone.
RUNNER_RETRY = [{"ErrorEquals": ["States.HeartbeatTimeout"], "IntervalSeconds": 1, "MaxAttempts": 2}]


def test_main_flow_matches_the_seed():
    machine = definition(MAIN, {"SourceDataBucketName": "bkt"})
    arns = declared_activity_arns({"SourceDataBucketName": "bkt"})
    states = machine["States"]
    assert machine["StartAt"] == "Pre-process"
    assert {
        "Pre-process",
        "Process Sales And Marketing Data",
        "Prep For Joining Marketing And Sales Data",
        "Join Marketing And Sales Data",
        FALLBACK,
        FAILED,
    } <= set(states)
    assert states["Pre-process"]["Type"] == "Pass"
    assert states["Pre-process"]["Next"] == "Process Sales And Marketing Data"

    parallel = states["Process Sales And Marketing Data"]
    assert parallel["Type"] == "Parallel"
    assert parallel["Next"] == "Prep For Joining Marketing And Sales Data"
    # A mis-wired wait (its activity released by another key), or one given back 100 times, ends in the
    # fallback like a failed job.
    assert parallel["Catch"] == [
        {
            "ErrorEquals": [
                *GLUE_ERRORS[:4],
                "WaitForData.MisWired",
                "WaitForData.Requeued",
                *GLUE_ERRORS[4:],
            ],
            "Next": FALLBACK,
        }
    ]

    expected_branches = [
        ("Sales", "SalesDataWaitActivity", "ProcessSalesData", "sales/SalesPipeline_QuickSightSample.csv"),
        (
            "Marketing",
            "MarketingDataWaitActivity",
            "ProcessMarketingData",
            "marketing/MarketingData_QuickSightSample.csv",
        ),
    ]
    branches = {branch["StartAt"]: branch for branch in parallel["Branches"]}
    for what, wait_activity, job, key in expected_branches:
        wait, prep, process = f"Wait For {what} Data", f"Prep For Process {what} Data", f"Process {what} Data"
        assert wait in branches, f"no branch starts with {wait}"
        branch = branches[wait]
        assert {wait, prep, process} <= set(branch["States"])
        s = branch["States"]
        assert s[wait]["Type"] == "Task"
        assert s[wait]["Resource"] == arns[wait_activity]
        assert s[wait]["TimeoutSeconds"] == 604800
        # The task names the one object that may release it (checked by ons3objectcreated).
        assert s[wait]["Parameters"] == {
            "ExpectedS3Bucket": "bkt",
            "ExpectedS3Key": key,
            "ExecutionArn.$": "$$.Execution.Id",
        }
        # A task claimed by a worker that died is queued again instead of hanging for a week.
        assert s[wait]["HeartbeatSeconds"] == 120
        assert s[wait]["Retry"] == [
            {
                "ErrorEquals": ["States.HeartbeatTimeout"],
                "IntervalSeconds": 1,
                "MaxAttempts": 20,
                "BackoffRate": 1,
            },
            # A task polled without an upload for it is given back and waits again within a second.
            {
                "ErrorEquals": ["WaitForData.Requeued"],
                "IntervalSeconds": 1,
                "MaxAttempts": 100,
                "BackoffRate": 1,
            },
        ]
        assert s[wait]["Next"] == prep
        assert s[prep]["Type"] == "Pass"
        assert isinstance(s[prep]["Result"], str), "the seed passes a JSON string"
        assert json.loads(s[prep]["Result"]) == {"GlueJobName": job}
        assert s[prep]["Next"] == process
        assert s[process]["Type"] == "Task"
        assert s[process]["Resource"] == arns["GlueRunnerActivity"]
        assert (s[process]["HeartbeatSeconds"], s[process]["TimeoutSeconds"]) == (240, 172800)
        assert s[process]["Retry"] == RUNNER_RETRY
        assert s[process].get("End") is True or s[process].get("Next") in s  # a job may follow it
        for state in s.values():
            assert "Catch" not in state, "a Catch inside a branch cannot reach the fallback"

    prep_join = states["Prep For Joining Marketing And Sales Data"]
    assert prep_join["Type"] == "Pass"
    assert isinstance(prep_join["Result"], str)
    assert json.loads(prep_join["Result"]) == {"GlueJobName": "JoinMarketingAndSalesData"}
    assert prep_join["Next"] == "Join Marketing And Sales Data"

    join = states["Join Marketing And Sales Data"]
    assert join["Type"] == "Task"
    assert join["Resource"] == arns["GlueRunnerActivity"]
    assert (join["HeartbeatSeconds"], join["TimeoutSeconds"]) == (240, 172800)
    assert join["Retry"] == RUNNER_RETRY
    assert join["Catch"] == [{"ErrorEquals": GLUE_ERRORS, "Next": FALLBACK}]
    # The sample ends with the join; a job added after it (README) takes the join's End.
    assert join.get("End") is True or join.get("Next") in states

    check_failure_tail(states)


def check_failure_tail(states: dict) -> None:
    fallback, failed = states[FALLBACK], states[FAILED]
    assert fallback["Type"] == "Pass"
    assert fallback["Next"] == FAILED
    # Do-nothing: it must pass the caught {"Error", "Cause"} through untouched.
    for key in ("Result", "ResultPath", "Parameters", "InputPath", "OutputPath"):
        assert key not in fallback
    assert failed == {"Type": "Fail", "ErrorPath": "$.Error", "CausePath": "$.Cause"}


def test_athena_flow():
    machine = definition(ATHENA, {"SourceDataBucketName": "bkt"})
    arns = declared_activity_arns({"SourceDataBucketName": "bkt"})
    states = machine["States"]
    assert machine["StartAt"] == "Configure Athena Query"
    assert {"Configure Athena Query", "Execute Athena Query", FALLBACK, FAILED} <= set(states)

    configure = states["Configure Athena Query"]
    assert configure["Type"] == "Pass"
    assert configure["Next"] == "Execute Athena Query"
    assert isinstance(configure["Result"], str)
    query = json.loads(configure["Result"])
    assert query["AthenaDatabase"] == "marketingandsales_qs"
    assert query["AthenaResultOutputLocation"] == "s3://bkt/athena-results/"
    assert query["AthenaResultEncryptionOption"] == "SSE_S3"
    assert "FROM marketing_qs" in query["AthenaQueryString"]

    execute = states["Execute Athena Query"]
    assert execute["Type"] == "Task"
    assert execute["Resource"] == arns["AthenaRunnerActivity"]
    assert (execute["HeartbeatSeconds"], execute["TimeoutSeconds"]) == (240, 172800)
    assert execute["Retry"] == RUNNER_RETRY
    assert execute["Catch"] == [{"ErrorEquals": ATHENA_ERRORS, "Next": FALLBACK}]
    assert execute.get("End") is True or execute.get("Next") in states

    check_failure_tail(states)


def test_athena_query_uses_only_marketing_table_columns():
    query = json.loads(definition(ATHENA)["States"]["Configure Athena Query"]["Result"])["AthenaQueryString"]
    glue = load_template("glue-resources")
    columns = {
        c["Name"]
        for c in glue["Resources"]["MarketingTable"]["Properties"]["TableInput"]["StorageDescriptor"][
            "Columns"
        ]
    }
    select_list = query.split("SELECT", 1)[1].split("FROM", 1)[0]
    selected = {c.strip() for c in select_list.split(",")}
    assert selected == {"date", "website_visits", "mobile_uniques", "desktop_uniques"}
    assert selected <= columns
    # Portable between Athena (Trino) and Spark SQL: no quoting, which differs between the two.
    assert '"' not in query and "`" not in query


def test_ons3objectcreated_environment_names_exactly_the_wait_keys():
    """WAIT_ACTIVITIES maps each wait state's ExpectedS3Key to that state's activity (valid JSON)."""
    template = load_template("step-functions-resources")
    resolver = Resolver(template, {"SourceDataBucketName": "bkt"})
    env = template["Resources"]["OnS3ObjectCreatedFunction"]["Properties"]["Environment"]["Variables"]
    assert {
        "s3://bkt/sales/SalesPipeline_QuickSightSample.csv": "<SalesDataWaitActivity>",
        "s3://bkt/marketing/MarketingData_QuickSightSample.csv": "<MarketingDataWaitActivity>",
    }.items() <= json.loads(resolver.resolve(env["WAIT_ACTIVITIES"])).items()
    assert env["ARRIVALS_TABLE"] == {"Ref": "ArrivalsTable"}
    assert env["WAIT_HEARTBEAT_SECONDS"] == "120"


def test_step_functions_outputs():
    outputs = load_template("step-functions-resources")["Outputs"]
    assert {
        "MarketingAndSalesETLOrchestratorArn": {"Ref": "MarketingAndSalesETLOrchestrator"},
        "AthenaRunnerTestETLOrchestratorArn": {"Ref": "AthenaRunnerTestETLOrchestrator"},
        "GlueRunnerActivityArn": {"Ref": "GlueRunnerActivity"},
        "AthenaRunnerActivityArn": {"Ref": "AthenaRunnerActivity"},
        "SalesDataWaitActivityArn": {"Ref": "SalesDataWaitActivity"},
        "MarketingDataWaitActivityArn": {"Ref": "MarketingDataWaitActivity"},
        "SourceDataBucketName": {"Ref": "SourceDataBucket"},
    }.items() <= {name: out["Value"] for name, out in outputs.items()}.items()
