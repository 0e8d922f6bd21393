"""The runner Lambdas against REAL Step Functions executions on the local AWS endpoint (no Stubber).

The Stubber tests next to this file pin the exact calls and parameters; these prove the same code against
real activity semantics: the handlers run in-process with plain boto3 clients that reach the session's local
endpoint through ``AWS_ENDPOINT_URL`` (set with monkeypatch for each test only), executions of small state
machines shaped like the project's (Pass with a JSON-string Result -> activity Task with HeartbeatSeconds and
TimeoutSeconds -> Catch -> fallback Pass -> Fail with ErrorPath/CausePath) wait on the activity, and every
assertion is on what the EXECUTION did: status, output, error and cause, history, and the DynamoDB items.

Glue runs go through the local Glue bridge, which executes the job's script (with the shared SparkSession)
and Athena queries through the Athena bridge (Spark SQL over the Glue catalog): those tests are ``spark``.
The tests share one xdist group so that one worker's endpoint and SparkSession serve all of them.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import athenarunner
import etlrunner
import gluerunner
import ons3objectcreated
import pytest
from lambda_support import FakeContext, create_table

from localaws.bridges.stepfunctions import GET_ACTIVITY_TASK_LONG_POLL_SECONDS
from localaws.context import LocalAwsContext

pytestmark = [pytest.mark.xdist_group("localaws"), pytest.mark.usefixtures("service_roles")]

ROLE_ARN = "arn:aws:iam::123456789012:role/local-runner-tests"
JOB_WORKERS = 3  # the test jobs' own NumberOfWorkers (G.1X), other than any size a task or config names
# Every error the project's state machines catch into "ETL Job Failed Fallback" (docs/DESIGN.md).
CAUGHT_ERRORS = [
    "GlueJobFailedError",
    "GlueRunner.InvalidInput",
    "GlueRunner.StartFailed",
    "AthenaQueryFailedError",
    "AthenaRunner.InvalidInput",
    "AthenaRunner.StartFailed",
    "States.Timeout",
]
GLUE_OUTPUT_KEYS = {
    "GlueJobName",
    "GlueJobRunId",
    "GlueJobRunState",
    "GlueJobStartedOn",
    "GlueJobCompletedOn",
    "GlueJobLastModifiedOn",
}
ATHENA_OUTPUT_KEYS = {
    "AthenaQueryString",
    "AthenaQueryExecutionId",
    "AthenaQueryExecutionState",
    "AthenaQueryExecutionStateChangeReason",
    "AthenaQuerySubmissionDateTime",
    "AthenaQueryCompletionDateTime",
    "AthenaQueryEngineExecutionTimeInMillis",
    "AthenaQueryDataScannedInBytes",
}
# The session scale makes the 60 s GetActivityTask long poll last 3 s; every runner run ends with one empty
# poll, so these tests shorten it further (0.6 s). Only the long poll reads ctx.time_scale after start-up.
RUNNER_TEST_TIME_SCALE = 0.01
# First Glue run of a process starts the shared SparkSession (tens of seconds on a cold JVM).
SPARK_DEADLINE_S = 240.0

GLUE_SCRIPTS = {
    # Touches nothing: the bridge still stages it and runs it as __main__ (the run really executes).
    "succeed.py": 'print("nothing to do")\n',
    "fail.py": 'raise ValueError("bad row 42 in s3://data/sales.csv")\n',
    # Stays RUNNING until the test creates --release_file (read as a real Glue job argument).
    "wait.py": (
        "import os, sys, time\n"
        "from awsglue.utils import getResolvedOptions\n"
        "args = getResolvedOptions(sys.argv, ['release_file'])\n"
        "deadline = time.monotonic() + 300\n"
        "while not os.path.exists(args['release_file']):\n"
        "    if time.monotonic() > deadline:\n"
        "        raise TimeoutError('never released')\n"
        "    time.sleep(0.05)\n"
        "print('released')\n"
    ),
}


# --- the world: endpoint clients, resources and executions ------------------------------------------------


def runner_machine(
    activity_arn: str, result: Any, heartbeat_seconds: int = 900, timeout_seconds: int = 172800
) -> str:
    """Pass (Result: a JSON string, as the project's machines) -> activity Task -> Catch -> Fail."""
    return json.dumps(
        {
            "StartAt": "Prepare",
            "States": {
                "Prepare": {
                    "Type": "Pass",
                    "Result": result if isinstance(result, str) else json.dumps(result),
                    "ResultPath": "$",
                    "Next": "Run",
                },
                "Run": {
                    "Type": "Task",
                    "Resource": activity_arn,
                    "HeartbeatSeconds": heartbeat_seconds,
                    "TimeoutSeconds": timeout_seconds,
                    "Catch": [
                        {"ErrorEquals": CAUGHT_ERRORS, "ResultPath": "$", "Next": "ETL Job Failed Fallback"}
                    ],
                    "End": True,
                },
                "ETL Job Failed Fallback": {"Type": "Pass", "Next": "ETL Job Failed"},
                "ETL Job Failed": {"Type": "Fail", "ErrorPath": "$.Error", "CausePath": "$.Cause"},
            },
        }
    )


def wait_for_data_machine(activity_arn: str, bucket: str, key: str) -> str:
    """The wait-for-data shape: an activity Task naming the object it waits for (one week, heartbeat 300 s)
    whose output ends the execution."""
    return json.dumps(
        {
            "StartAt": "Wait For Data",
            "States": {
                "Wait For Data": {
                    "Type": "Task",
                    "Resource": activity_arn,
                    "Parameters": {"ExpectedS3Bucket": bucket, "ExpectedS3Key": key},
                    "TimeoutSeconds": 604800,
                    "HeartbeatSeconds": 300,
                    "End": True,
                }
            },
        }
    )


@dataclass
class World:
    """Clients of the session's endpoint and the few resources one test makes (names unique per test)."""

    ctx: LocalAwsContext
    client: Callable[..., Any]
    name: Callable[[str], str]
    tmp_path: Path
    monkeypatch: pytest.MonkeyPatch
    executions: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sfn = self.client("stepfunctions")
        self.ddb = self.client("dynamodb")
        self.glue = self.client("glue")
        self.s3 = self.client("s3")
        self.athena = self.client("athena")

    # resources
    def activity(self, name: str | None = None) -> str:
        return self.sfn.create_activity(name=name or self.name("RunnerActivity"))["activityArn"]

    def table(self, range_key: str) -> str:
        name = self.name("ActiveJobs")
        create_table(name, range_key, self.ddb)
        return name

    def items(self, table: str) -> list[dict[str, Any]]:
        raw = self.ddb.scan(TableName=table, ConsistentRead=True)["Items"]
        return [{key: next(iter(value.values())) for key, value in item.items()} for item in raw]

    def bucket(self) -> str:
        name = self.name("runner-tests").lower()
        self.s3.create_bucket(Bucket=name)
        return name

    def glue_job(self, script: str) -> str:
        """A Glue job whose script (one of GLUE_SCRIPTS) is in the endpoint's S3, sized as glue-resources.yaml
        sizes the project's jobs, with a worker count of its own (JOB_WORKERS) that a run's size can be told
        from."""
        bucket = self.bucket()
        self.s3.put_object(Bucket=bucket, Key=f"scripts/{script}", Body=GLUE_SCRIPTS[script].encode())
        name = self.name("Job")
        self.glue.create_job(
            Name=name,
            Role="arn:aws:iam::123456789012:role/glue",
            Command={
                "Name": "glueetl",
                "ScriptLocation": f"s3://{bucket}/scripts/{script}",
                "PythonVersion": "3",
            },
            GlueVersion="5.0",
            WorkerType="G.1X",
            NumberOfWorkers=JOB_WORKERS,
            ExecutionProperty={"MaxConcurrentRuns": 20},
        )
        return name

    # executions
    def start(self, activity_arn: str, result: Any, **machine_options: Any) -> str:
        machine = self.sfn.create_state_machine(
            name=self.name("RunnerMachine"),
            definition=runner_machine(activity_arn, result, **machine_options),
            roleArn=ROLE_ARN,
        )["stateMachineArn"]
        return self._start(machine)

    def start_waiting_for_data(self, activity_arn: str, bucket: str, key: str) -> str:
        machine = self.sfn.create_state_machine(
            name=self.name("WaitForData"),
            definition=wait_for_data_machine(activity_arn, bucket, key),
            roleArn=ROLE_ARN,
        )["stateMachineArn"]
        return self._start(machine)

    def _start(self, machine_arn: str) -> str:
        arn = self.sfn.start_execution(stateMachineArn=machine_arn, input="{}")["executionArn"]
        self.executions.append(arn)
        self.wait_for_event(arn, "ActivityScheduled")
        return arn

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        return self.sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]

    def wait_for_event(self, execution_arn: str, event_type: str, timeout_s: float = 20.0) -> None:
        """The task is queued on its activity once the execution scheduled it (no race with the poll)."""
        deadline = time.monotonic() + timeout_s
        while event_type not in [event["type"] for event in self.history(execution_arn)]:
            assert time.monotonic() < deadline, f"no {event_type} in {execution_arn} after {timeout_s} s"
            time.sleep(0.02)

    def describe(self, execution_arn: str) -> dict[str, Any]:
        return self.sfn.describe_execution(executionArn=execution_arn)

    def wait_for_end(self, execution_arn: str, timeout_s: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while (described := self.describe(execution_arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline, f"{execution_arn} still RUNNING after {timeout_s} s"
            time.sleep(0.05)
        return described

    def states_entered(self, execution_arn: str) -> list[str]:
        return [
            e["stateEnteredEventDetails"]["name"]
            for e in self.history(execution_arn)
            if "stateEnteredEventDetails" in e
        ]

    def worker_names(self, execution_arn: str) -> list[str]:
        return [
            e["activityStartedEventDetails"].get("workerName")
            for e in self.history(execution_arn)
            if e["type"] == "ActivityStarted"
        ]

    # runner environment, as the templates set it
    def runner_env(self, activity_arn: str, table: str, **extra: str) -> None:
        self.monkeypatch.setenv("SFN_ACTIVITY_ARN", activity_arn)
        self.monkeypatch.setenv("DDB_TABLE", table)
        for key, value in extra.items():
            self.monkeypatch.setenv(key, value)

    def lambda_context(self, function: str) -> FakeContext:
        return FakeContext(
            invoked_function_arn=f"arn:aws:lambda:{self.ctx.region}:{self.ctx.account_id}:function:{function}"
        )


@pytest.fixture
def world(
    local_aws: LocalAwsContext,
    aws_client: Callable[..., Any],
    unique_name: Callable[[str], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[World]:
    """The endpoint for this test only: AWS_ENDPOINT_URL and fake credentials (tests/lambda's autouse
    ``aws_env`` removed them), a shorter long poll; running executions are stopped afterwards."""
    for name, value in local_aws.client_environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setattr(local_aws, "time_scale", RUNNER_TEST_TIME_SCALE)
    env = World(local_aws, aws_client, unique_name, tmp_path, monkeypatch)
    yield env
    for arn in env.executions:
        if env.describe(arn)["status"] == "RUNNING":
            env.sfn.stop_execution(executionArn=arn)


# --- running the real handlers ----------------------------------------------------------------------------


def run_glue(world: World) -> dict[str, Any]:
    return gluerunner.handler({}, world.lambda_context("gluerunner"))


def run_athena(world: World) -> dict[str, Any]:
    return athenarunner.handler({}, world.lambda_context("athenarunner"))


def total(summaries: list[dict[str, Any]], key: str) -> int:
    return sum(summary[key] for summary in summaries)


def run_until_ended(
    world: World,
    run: Callable[[World], dict[str, Any]],
    executions: list[str],
    timeout_s: float = SPARK_DEADLINE_S,
) -> list[dict[str, Any]]:
    """Scheduled runs of a runner (back to back) until none of `executions` is RUNNING any more."""
    summaries = []
    deadline = time.monotonic() + timeout_s
    while any(world.describe(arn)["status"] == "RUNNING" for arn in executions):
        assert time.monotonic() < deadline, f"executions still RUNNING after {timeout_s} s: {summaries}"
        summaries.append(run(world))
        assert not summaries[-1]["poll_error"] and not summaries[-1]["check_errors"], summaries[-1]
    return summaries


def failure(described: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    assert described["status"] == "FAILED", described
    return described["error"], json.loads(described["cause"])


# --- Glue Runner ------------------------------------------------------------------------------------------


@pytest.mark.spark
def test_glue_success_ends_the_execution_with_the_run_output(world):
    job = world.glue_job("succeed.py")
    activity, table = world.activity(), world.table("glue_job_run_id")
    world.runner_env(activity, table)
    execution = world.start(activity, {"GlueJobName": job, "day": "2024-01-31"})

    summaries = run_until_ended(world, run_glue, [execution])

    described = world.describe(execution)
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert set(output) == GLUE_OUTPUT_KEYS
    (job_run,) = world.glue.get_job_runs(JobName=job)["JobRuns"]
    assert output["GlueJobName"] == job and output["GlueJobRunId"] == job_run["Id"]
    assert output["GlueJobRunState"] == job_run["JobRunState"] == "SUCCEEDED"
    assert output["GlueJobStartedOn"] == etlrunner.iso8601(job_run["StartedOn"])
    assert output["GlueJobCompletedOn"] == etlrunner.iso8601(job_run["CompletedOn"])
    assert output["GlueJobLastModifiedOn"] == etlrunner.iso8601(job_run["LastModifiedOn"])
    # What the runner started: the job's own size (the shipped config names none) and the input's argument.
    assert (job_run["WorkerType"], job_run["NumberOfWorkers"]) == ("G.1X", JOB_WORKERS)
    marker = job_run["Arguments"].pop("--etlrunner-task-ref")  # the digest a recovering run finds it by
    assert marker.startswith("task-") and job_run["Arguments"] == {"--day": "2024-01-31"}
    assert total(summaries, "started") == 1 and total(summaries, "succeeded") == 1
    assert world.worker_names(execution) == ["gluerunner"]  # the config file's sfn_worker_name
    assert world.states_entered(execution) == ["Prepare", "Run"]
    assert world.items(table) == []


@pytest.mark.spark
def test_glue_script_failure_reaches_the_catch_and_the_fail_state(world):
    job = world.glue_job("fail.py")
    activity, table = world.activity(), world.table("glue_job_run_id")
    world.runner_env(activity, table)
    execution = world.start(activity, {"GlueJobName": job})

    summaries = run_until_ended(world, run_glue, [execution])

    error, cause = failure(world.describe(execution))
    (job_run,) = world.glue.get_job_runs(JobName=job)["JobRuns"]
    assert error == "GlueJobFailedError"
    assert cause == {
        "GlueJobName": job,
        "GlueJobRunId": job_run["Id"],
        "GlueJobRunState": "FAILED",
        # The bridge names where the script failed, as Glue's error log does.
        "ErrorMessage": "ValueError: bad row 42 in s3://data/sales.csv (at fail.py line 1)",
    }
    assert world.states_entered(execution) == ["Prepare", "Run", "ETL Job Failed Fallback", "ETL Job Failed"]
    assert total(summaries, "failed") == 1 and world.items(table) == []


@pytest.mark.parametrize(
    ("result", "message"),
    [
        ("GlueJobName=ProcessSalesData", "task input is a JSON string but its content is not valid JSON"),
        (
            '["ProcessSalesData"]',
            "task input must be a JSON object (or a JSON string holding one), got an array",
        ),
        ({"--day": "1"}, "required key GlueJobName is missing from the task input"),
        ({"GlueJobName": "X", "GlueJobCapcity": 5}, "unknown key GlueJobCapcity"),
    ],
    ids=["not-json", "not-an-object", "no-job-name", "misspelt-key"],
)
def test_glue_invalid_input_fails_the_execution_at_once(world, result, message):
    activity, table = world.activity(), world.table("glue_job_run_id")
    world.runner_env(activity, table)
    execution = world.start(activity, result)

    summary = run_glue(world)

    assert summary["rejected"] == 1 and summary["started"] == 0, summary
    error, cause = failure(world.wait_for_end(execution))
    assert error == "GlueRunner.InvalidInput"
    assert set(cause) == {"ErrorMessage"} and message in cause["ErrorMessage"], cause
    assert world.states_entered(execution) == ["Prepare", "Run", "ETL Job Failed Fallback", "ETL Job Failed"]
    assert world.items(table) == []


def test_glue_unknown_job_is_start_failed(world):
    activity, table = world.activity(), world.table("glue_job_run_id")
    world.runner_env(activity, table)
    job = world.name("NoSuchJob")
    execution = world.start(activity, {"GlueJobName": job})

    summary = run_glue(world)

    assert summary["rejected"] == 1, summary
    error, cause = failure(world.wait_for_end(execution))
    assert error == "GlueRunner.StartFailed"
    assert cause["ErrorMessage"].startswith(
        f"StartJobRun for Glue job {job} was refused: EntityNotFoundException:"
    ), cause
    assert world.items(table) == []


@pytest.mark.spark
def test_glue_running_job_heartbeats_keep_a_short_heartbeat_task_alive_until_success(world):
    """HeartbeatSeconds 4: the execution outlives several heartbeat windows only because every scheduled
    run heartbeats the tracked task; the item stays in DynamoDB until the run ends, then success. (The run
    that starts the job checks before it polls, so the first heartbeat comes from the next run: the window
    must hold one run on a loaded machine.)"""
    job = world.glue_job("wait.py")
    release = world.tmp_path / "release"
    activity, table = world.activity(), world.table("glue_job_run_id")
    world.runner_env(activity, table)
    execution = world.start(activity, {"GlueJobName": job, "release_file": str(release)}, heartbeat_seconds=4)

    first = run_glue(world)
    assert first["started"] == 1, first  # a scheduled run checks before it polls: the heartbeats come next
    (item,) = world.items(table)
    (job_run,) = world.glue.get_job_runs(JobName=job)["JobRuns"]
    assert item["glue_job_run_id"] == job_run["Id"] and item["glue_job_name"] == job
    assert item["sfn_activity_arn"] == activity and item["sfn_task_token"]

    heartbeats_until = time.monotonic() + 10  # 2.5 heartbeat windows
    while time.monotonic() < heartbeats_until:
        summary = run_glue(world)  # an empty long poll (0.6 s), then a heartbeat
        assert summary["running"] == 1 and summary["expired"] == 0, summary
        assert world.describe(execution)["status"] == "RUNNING"
    assert [i["glue_job_run_id"] for i in world.items(table)] == [job_run["Id"]]
    assert not [e for e in world.history(execution) if e["type"] in ("ActivityTimedOut", "ActivityFailed")]

    release.touch()
    run_until_ended(world, run_glue, [execution])
    described = world.describe(execution)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"])["GlueJobRunId"] == job_run["Id"]
    assert world.items(table) == []


@pytest.mark.spark
def test_glue_without_heartbeats_the_task_times_out_and_the_runner_forgets_it(world):
    """The counterpart: no runner run within HeartbeatSeconds -> States.Timeout is caught into the Fail
    state; the next run finds the token gone (TaskTimedOut) and deletes the item, not retrying forever."""
    job = world.glue_job("wait.py")
    release = world.tmp_path / "release"
    activity, table = world.activity(), world.table("glue_job_run_id")
    world.runner_env(activity, table)
    execution = world.start(activity, {"GlueJobName": job, "release_file": str(release)}, heartbeat_seconds=1)

    first = run_glue(world)
    assert first["started"] == 1, first

    described = world.wait_for_end(execution, timeout_s=30)
    assert described["status"] == "FAILED", described
    timed_out = [e for e in world.history(execution) if e["type"] == "ActivityTimedOut"]
    assert [e["activityTimedOutEventDetails"]["error"] for e in timed_out] == ["States.Timeout"]
    # Caught into the fallback and the Fail state (the Fail state's own error: see the next test).
    assert world.states_entered(execution) == ["Prepare", "Run", "ETL Job Failed Fallback", "ETL Job Failed"]

    release.touch()  # whether the run is still RUNNING (heartbeat) or SUCCEEDED (success), the token is gone
    second = run_glue(world)
    # The task timed out after the first run's heartbeat (the next run finds the token gone), or, on a loaded
    # machine, already before it (the first run finds it gone): either way it is forgotten exactly once.
    assert first["expired"] + second["expired"] == 1, (first, second)
    assert second["succeeded"] == 0 and second["check_errors"] == 0, second
    assert world.items(table) == []


def test_caught_task_timeout_ends_the_execution_as_states_timeout(world):
    activity = world.activity()
    execution = world.start(
        activity, {"GlueJobName": "NoWorkerTakesThis"}, heartbeat_seconds=1, timeout_seconds=2
    )

    described = world.wait_for_end(execution, timeout_s=30)

    assert world.states_entered(execution) == ["Prepare", "Run", "ETL Job Failed Fallback", "ETL Job Failed"]
    assert (described["status"], described.get("error")) == ("FAILED", "States.Timeout"), described


@pytest.mark.spark
def test_glue_several_tasks_in_one_run_each_execution_gets_its_own_outcome(world):
    ok_job, failing_job = world.glue_job("succeed.py"), world.glue_job("fail.py")
    activity, table = world.activity(), world.table("glue_job_run_id")
    world.runner_env(activity, table)
    succeeding = world.start(activity, {"GlueJobName": ok_job})
    failing = world.start(activity, {"GlueJobName": failing_job})
    invalid = world.start(activity, {"GlueJobCapacity": 2})
    also_succeeding = world.start(activity, {"GlueJobName": ok_job, "GlueJobCapacity": 2})

    first = run_glue(world)
    assert first["started"] == 3 and first["rejected"] == 1, first
    summaries = [first, *run_until_ended(world, run_glue, [succeeding, failing, also_succeeding])]

    runs = {r["Id"]: r for r in world.glue.get_job_runs(JobName=ok_job)["JobRuns"]}
    outputs = [json.loads(world.describe(arn)["output"]) for arn in (succeeding, also_succeeding)]
    assert {o["GlueJobRunId"] for o in outputs} == set(runs), (
        "each execution must get the output of its own run"
    )
    assert sorted(runs[o["GlueJobRunId"]]["NumberOfWorkers"] for o in outputs) == [2, JOB_WORKERS]
    error, cause = failure(world.describe(failing))
    assert error == "GlueJobFailedError" and cause["GlueJobName"] == failing_job
    assert failure(world.describe(invalid))[0] == "GlueRunner.InvalidInput"
    assert total(summaries, "succeeded") == 2 and total(summaries, "failed") == 1
    assert world.items(table) == []


@pytest.mark.spark
def test_glue_more_tracked_runs_than_ddb_query_limit_are_all_checked(world):
    job = world.glue_job("wait.py")
    release = world.tmp_path / "release"
    activity, table = world.activity(), world.table("glue_job_run_id")
    world.runner_env(activity, table, DDB_QUERY_LIMIT="2")
    executions = [world.start(activity, {"GlueJobName": job, "release_file": str(release)}) for _ in range(5)]

    first = run_glue(world)
    assert first["started"] == 5, first
    assert len(world.items(table)) == 5
    second = run_glue(world)
    assert second["running"] == 5, second  # 3 Query pages, every item heartbeated

    release.touch()
    summaries = run_until_ended(world, run_glue, executions)

    assert total(summaries, "succeeded") == 5
    statuses = {world.describe(arn)["status"] for arn in executions}
    assert statuses == {"SUCCEEDED"}
    run_ids = {json.loads(world.describe(arn)["output"])["GlueJobRunId"] for arn in executions}
    assert run_ids == {r["Id"] for r in world.glue.get_job_runs(JobName=job)["JobRuns"]}
    assert world.items(table) == []


def test_runner_on_an_unknown_activity_reports_the_poll_error_and_still_checks(world):
    table = world.table("glue_job_run_id")
    arn = f"arn:aws:states:{world.ctx.region}:{world.ctx.account_id}:activity:{world.name('Missing')}"
    world.runner_env(arn, table)

    summary = gluerunner.handler({}, world.lambda_context("gluerunner"))

    assert summary["poll_error"].startswith("GetActivityTask failed: ActivityDoesNotExist"), summary
    assert summary["check_errors"] == 0


# --- Athena Runner ----------------------------------------------------------------------------------------

PEOPLE_CSV = "id,name,amount\n1,Ann,2.5\n2,Bo,30\n3,Cy,7.5\n"


@pytest.fixture
def people(world) -> dict[str, str]:
    """A catalog table ``<db>.people`` over one tiny CSV, and a result location."""
    bucket = world.bucket()
    world.s3.put_object(Bucket=bucket, Key="people/people.csv", Body=PEOPLE_CSV.encode())
    database = world.name("runnerdb").replace("-", "_")
    world.glue.create_database(DatabaseInput={"Name": database})
    world.glue.create_table(
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
                ],
                "Location": f"s3://{bucket}/people/",
                "SerdeInfo": {
                    "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                    "Parameters": {"field.delim": ","},
                },
            },
        },
    )
    return {"bucket": bucket, "database": database, "results": f"s3://{bucket}/athena-results/"}


@pytest.mark.spark
def test_athena_success_ends_the_execution_with_the_query_output(world, people):
    activity, table = world.activity(), world.table("athena_query_execution_id")
    world.runner_env(activity, table)
    query = "SELECT count(*) AS n, sum(amount) AS total FROM people"
    execution = world.start(
        activity,
        {
            "AthenaQueryString": query,
            "AthenaDatabase": people["database"],
            "AthenaResultOutputLocation": people["results"],
        },
    )

    summaries = run_until_ended(world, run_athena, [execution])

    described = world.describe(execution)
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert set(output) == ATHENA_OUTPUT_KEYS
    assert output["AthenaQueryString"] == query and output["AthenaQueryExecutionState"] == "SUCCEEDED"
    assert output["AthenaQueryDataScannedInBytes"] == len(PEOPLE_CSV.encode())
    assert isinstance(output["AthenaQueryEngineExecutionTimeInMillis"], int)
    assert output["AthenaQuerySubmissionDateTime"] <= output["AthenaQueryCompletionDateTime"]
    qid = output["AthenaQueryExecutionId"]
    result = world.s3.get_object(Bucket=people["bucket"], Key=f"athena-results/{qid}.csv")["Body"].read()
    assert result.decode() == '"n","total"\n"3","40.0"\n'
    assert world.worker_names(execution) == ["athenarunner"]
    assert total(summaries, "succeeded") == 1 and world.items(table) == []


@pytest.mark.spark
def test_athena_query_failure_reaches_the_catch_and_the_fail_state(world, people):
    activity, table = world.activity(), world.table("athena_query_execution_id")
    world.runner_env(activity, table)
    query = "SELECT no_such_column FROM people"
    execution = world.start(
        activity,
        {
            "AthenaQueryString": query,
            "AthenaDatabase": people["database"],
            "AthenaResultOutputLocation": people["results"],
        },
    )

    summaries = run_until_ended(world, run_athena, [execution])

    error, cause = failure(world.describe(execution))
    assert error == "AthenaQueryFailedError"
    assert cause["AthenaQueryString"] == query and cause["AthenaQueryExecutionState"] == "FAILED"
    assert cause["ErrorMessage"].startswith("COLUMN_NOT_FOUND"), cause
    assert "AthenaErrorType" in cause
    assert world.states_entered(execution) == ["Prepare", "Run", "ETL Job Failed Fallback", "ETL Job Failed"]
    assert total(summaries, "failed") == 1 and world.items(table) == []


def test_athena_invalid_input_fails_the_execution_at_once(world):
    activity, table = world.activity(), world.table("athena_query_execution_id")
    world.runner_env(activity, table)
    execution = world.start(activity, {"AthenaQueryString": "SELECT 1", "AthenaDatabase": "default"})

    summary = run_athena(world)

    assert summary["rejected"] == 1, summary
    error, cause = failure(world.wait_for_end(execution))
    assert error == "AthenaRunner.InvalidInput"
    assert cause == {"ErrorMessage": "required key AthenaResultOutputLocation is missing from the task input"}


# --- ons3objectcreated ------------------------------------------------------------------------------------


def s3_event(*objects: tuple[str, str]) -> dict[str, Any]:
    """An S3 ObjectCreated notification as S3 sends it (keys URL-encoded, a sequencer per upload)."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": bucket},
                    "object": {"key": key, "size": 10, "eTag": "e1", "sequencer": f"{time.time_ns():X}"},
                },
            }
            for bucket, key in objects
        ]
    }


def ons3_env(world: World, bucket: str, activities: dict[str, str]) -> None:
    """The function's environment as the template sets it, with its arrivals table on the endpoint."""
    table = world.name("Arrivals")
    world.ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "s3_object", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "s3_object", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    world.monkeypatch.setenv("ARRIVALS_TABLE", table)
    mapping = {f"s3://{bucket}/{key}": arn for key, arn in activities.items()}
    world.monkeypatch.setenv("WAIT_ACTIVITIES", json.dumps(mapping))


def test_ons3objectcreated_releases_every_waiting_task_and_the_executions_move_on(world):
    bucket = world.bucket()
    keys = ("sales/SalesPipeline_QuickSightSample.csv", "marketing/MarketingData_QuickSightSample.csv")
    sales = world.activity(f"{bucket}-SalesPipeline_QuickSightSample.csv")
    marketing = world.activity(f"{bucket}-MarketingData_QuickSightSample.csv")
    ons3_env(world, bucket, {keys[0]: sales, keys[1]: marketing})
    waiting_sales, waiting_marketing = (
        world.start_waiting_for_data(sales, bucket, keys[0]),
        world.start_waiting_for_data(marketing, bucket, keys[1]),
    )

    result = ons3objectcreated.handler(
        s3_event((bucket, keys[0]), (bucket, keys[1])), world.lambda_context("ons3objectcreated")
    )

    assert [r["status"] for r in result["releases"]] == ["released", "released"], result
    for execution, key, activity in (
        (waiting_sales, keys[0], sales),
        (waiting_marketing, keys[1], marketing),
    ):
        described = world.wait_for_end(execution)
        assert described["status"] == "SUCCEEDED", described
        output = json.loads(described["output"])
        assert {"S3BucketName": bucket, "S3Key": key, "SFNActivityArn": activity}.items() <= output.items()
        assert world.worker_names(execution) == ["ons3objectcreated"]


def test_ons3objectcreated_without_a_waiting_task_logs_and_returns(world, caplog):
    bucket = world.bucket()
    key = "sales/SalesPipeline_QuickSightSample.csv"
    activity = world.activity(f"{bucket}-SalesPipeline_QuickSightSample.csv")
    ons3_env(world, bucket, {key: activity})

    began = time.monotonic()
    with caplog.at_level(logging.INFO, logger="ons3objectcreated"):
        result = ons3objectcreated.handler(
            s3_event((bucket, key), (bucket, "sales/unrelated.csv")),
            world.lambda_context("ons3objectcreated"),
        )
    waited = time.monotonic() - began

    assert [r["status"] for r in result["records"]] == ["recorded", "unexpected-key"], result
    assert [r["status"] for r in result["releases"]] == ["no-waiting-task"], result
    assert f"s3://{bucket}/{key}: no task waiting on {activity}" in caplog.text
    long_poll = world.ctx.scaled(GET_ACTIVITY_TASK_LONG_POLL_SECONDS)
    assert long_poll * 0.9 <= waited <= long_poll + 5, (waited, long_poll)
