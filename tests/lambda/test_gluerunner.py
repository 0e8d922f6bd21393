"""Glue Runner: poll → start → track → check → report; moto Glue/DynamoDB, stubbed Step Functions."""

from __future__ import annotations

import json
from typing import Any

import boto3
import etlrunner
import gluerunner
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import ANY, Stubber
from lambda_support import (
    ACCOUNT,
    GLUE_ACTIVITY_ARN,
    REGION,
    Capture,
    FakeContext,
    JsonMatching,
    contains,
    create_table,
    make_config,
    table_items,
    task_input,
)
from moto.glue.models import glue_backends

TABLE = "GlueRunnerActiveJobs"
JOB = "ProcessSalesData"
GAT = {"activityArn": GLUE_ACTIVITY_ARN, "workerName": "gluerunner"}
NUDGE = {"source": "etl-orchestrator", "detail-type": "ETL Task Answered", "detail": {"answered": 1}}


@pytest.fixture
def glue(sfn: tuple[Any, Stubber]) -> Any:
    client = boto3.client("glue", region_name=REGION)
    for name in (JOB, "ProcessMarketingData"):
        client.create_job(
            Name=name,
            Role="arn:aws:iam::123456789012:role/glue",
            Command={"Name": "glueetl", "ScriptLocation": "s3://b/s.py"},
            ExecutionProperty={"MaxConcurrentRuns": 100},
        )
    create_table(TABLE, "glue_job_run_id")
    return client


@pytest.fixture
def stub(sfn: tuple[Any, Stubber]) -> Stubber:
    return sfn[1]


def make_runner(glue: Any, capacity: int | None = 10) -> gluerunner.GlueRunner:
    return gluerunner.GlueRunner(glue, capacity)


def clients(sfn: tuple[Any, Stubber]) -> etlrunner.Clients:
    return etlrunner.Clients(sfn=sfn[0], dynamodb=boto3.client("dynamodb", region_name=REGION))


def run(
    sfn: tuple[Any, Stubber],
    glue: Any,
    limit: int = 50,
    context: Any = None,
    capacity: int | None = 10,
    nudge: bool = False,
) -> dict[str, Any]:
    """A scheduled run (checks, then polls), or with `nudge` a run woken by a nudge (polls only)."""
    config = make_config(GLUE_ACTIVITY_ARN, TABLE, "gluerunner", limit=limit)
    event = NUDGE if nudge else None
    return etlrunner.run(make_runner(glue, capacity), config, clients(sfn), context, event)


def job_runs(name: str = JOB) -> list[Any]:
    return glue_backends[ACCOUNT][REGION].jobs[name].job_runs


def track(glue: Any, token: str, job: str = JOB) -> str:
    """Start a run directly and record it as the runner would, to test the check pass on its own."""
    run_id = glue.start_job_run(JobName=job)["JobRunId"]
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName=TABLE,
        Item={
            "sfn_activity_arn": {"S": GLUE_ACTIVITY_ARN},
            "glue_job_run_id": {"S": run_id},
            "glue_job_name": {"S": job},
            "sfn_task_token": {"S": token},
            "started_at": {"S": "2025-01-01T00:00:00+00:00"},
        },
    )
    return run_id


# --- start ------------------------------------------------------------------------------------------------


def test_start_tracks_the_run_and_reports_success_with_exact_output(sfn, glue, stub):
    stub.add_response(
        "get_activity_task", {"taskToken": "T1", "input": task_input({"GlueJobName": JOB})}, GAT
    )
    stub.add_response("get_activity_task", {}, GAT)
    output = JsonMatching(
        {
            "GlueJobName": JOB,
            "GlueJobRunId": ANY,
            "GlueJobRunState": "SUCCEEDED",
            "GlueJobStartedOn": ANY,
            "GlueJobCompletedOn": ANY,
            "GlueJobLastModifiedOn": ANY,
        }
    )
    stub.add_response("send_task_success", {}, {"taskToken": "T1", "output": output})

    summary = run(sfn, glue)

    (job_run,) = job_runs()
    assert summary["started"] == 1 and summary["succeeded"] == 1
    sent = output.seen[-1]
    assert sent["GlueJobRunId"] == job_run.job_run_id
    described = glue.get_job_run(JobName=JOB, RunId=job_run.job_run_id)["JobRun"]
    assert sent["GlueJobStartedOn"] == etlrunner.iso8601(described["StartedOn"])
    assert sent["GlueJobCompletedOn"] == etlrunner.iso8601(described["CompletedOn"])
    assert sent["GlueJobLastModifiedOn"] == etlrunner.iso8601(described["LastModifiedOn"])
    assert sent["GlueJobStartedOn"].endswith("+00:00")
    assert table_items(TABLE) == []


def test_start_stores_item_and_heartbeats_while_running(sfn, glue, stub, manual_states):
    stub.add_response(
        "get_activity_task", {"taskToken": "T1", "input": task_input({"GlueJobName": JOB})}, GAT
    )
    stub.add_response("get_activity_task", {}, GAT)
    # A scheduled run checks before it polls: the job it starts gets its first heartbeat from the next run.
    assert run(sfn, glue)["started"] == 1
    stub.add_response("send_task_heartbeat", {}, {"taskToken": "T1"})
    stub.add_response("get_activity_task", {}, GAT)

    summary = run(sfn, glue)

    (job_run,) = job_runs()
    (item,) = table_items(TABLE)
    assert item["sfn_activity_arn"] == GLUE_ACTIVITY_ARN
    assert item["glue_job_run_id"] == job_run.job_run_id
    assert item["glue_job_name"] == JOB
    assert item["sfn_task_token"] == "T1"
    assert item["started_at"]
    assert summary["running"] == 1


def test_plain_object_input_and_job_arguments(sfn, glue, stub, manual_states):
    payload = {"GlueJobName": JOB, "--already": "x", "day": "2025-01-01", "count": 3, "flags": {"a": True}}
    stub.add_response("get_activity_task", {"taskToken": "T1", "input": json.dumps(payload)}, GAT)
    stub.add_response("get_activity_task", {}, GAT)

    run(sfn, glue)

    (job_run,) = job_runs()
    assert job_run.arguments == {
        "--already": "x",
        "--day": "2025-01-01",
        "--count": "3",
        "--flags": '{"a": true}',
        # The marker a recovering run finds the run by (a digest of the token, never the token).
        "--etlrunner-task-ref": etlrunner.task_ref("T1"),
    }


@pytest.mark.parametrize(
    ("extra", "capacity", "worker_type", "workers"),
    [
        ({}, 10, "G.1X", 10),  # config default applies as G.1X workers
        ({"GlueJobCapacity": 4}, 10, "G.1X", 4),
        ({"GlueWorkerType": "G.2X", "GlueNumberOfWorkers": 3}, 10, "G.2X", 3),
        ({}, None, None, None),  # null config: no worker parameters, the job keeps its own settings
    ],
)
def test_worker_settings(sfn, glue, stub, manual_states, extra, capacity, worker_type, workers):
    stub.add_response(
        "get_activity_task", {"taskToken": "T1", "input": task_input({"GlueJobName": JOB, **extra})}, GAT
    )
    stub.add_response("get_activity_task", {}, GAT)

    run(sfn, glue, capacity=capacity)

    (job_run,) = job_runs()
    assert (job_run.worker_type, job_run.number_of_workers) == (worker_type, workers)
    assert job_run.arguments == {"--etlrunner-task-ref": etlrunner.task_ref("T1")}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("not json", "task input is not valid JSON"),
        (json.dumps("{broken"), "its content is not valid JSON"),
        (json.dumps([1, 2]), "must be a JSON object"),
        (task_input(["x"]), "must be a JSON object"),
        ("", "task input is empty"),
        (task_input({"Other": "x"}), "required key GlueJobName is missing"),
        (task_input({"GlueJobName": 7}), "GlueJobName must be a string"),
        (task_input({"GlueJobName": " "}), "GlueJobName must not be empty"),
        (
            task_input({"GlueJobName": JOB, "GlueJobCapacity": 1}),
            "GlueJobCapacity must be an integer >= 2, got 1",
        ),
        (
            task_input({"GlueJobName": JOB, "GlueJobCapacity": "ten"}),
            "GlueJobCapacity must be an integer >= 2",
        ),
        (task_input({"GlueJobName": JOB, "GlueJobCapacity": 2.5}), "GlueJobCapacity must be an integer"),
        (task_input({"GlueJobName": JOB, "GlueJobCapacity": True}), "GlueJobCapacity must be an integer"),
        (task_input({"GlueJobName": JOB, "GlueJobCapacity": 4, "GlueNumberOfWorkers": 4}), "not both"),
        (
            task_input({"GlueJobName": JOB, "GlueWorkerType": "G.2X"}),
            "GlueWorkerType needs GlueNumberOfWorkers",
        ),
        (task_input({"GlueJobName": JOB, "--": "x"}), "job argument name"),
        (task_input({"GlueJobName": JOB, "GlueJobCapcity": 4}), "unknown key GlueJobCapcity"),
    ],
)
def test_invalid_input_fails_the_task_at_once(sfn, glue, stub, raw, message):
    cause = JsonMatching({"ErrorMessage": contains(message)})
    stub.add_response("get_activity_task", {"taskToken": "T1", "input": raw}, GAT)
    stub.add_response(
        "send_task_failure", {}, {"taskToken": "T1", "error": "GlueRunner.InvalidInput", "cause": cause}
    )
    stub.add_response("get_activity_task", {}, GAT)

    summary = run(sfn, glue)

    assert summary["rejected"] == 1 and summary["started"] == 0
    assert job_runs() == [] and table_items(TABLE) == []


def test_unknown_job_is_start_failed(sfn, glue, stub):
    cause = JsonMatching(
        {"ErrorMessage": contains("StartJobRun for Glue job NoSuchJob was refused: EntityNotFound")}
    )
    stub.add_response(
        "get_activity_task", {"taskToken": "T1", "input": task_input({"GlueJobName": "NoSuchJob"})}, GAT
    )
    stub.add_response(
        "send_task_failure", {}, {"taskToken": "T1", "error": "GlueRunner.StartFailed", "cause": cause}
    )
    stub.add_response("get_activity_task", {}, GAT)

    assert run(sfn, glue)["rejected"] == 1
    assert table_items(TABLE) == []


def test_unexpected_exception_while_starting_is_start_failed(sfn, glue, stub, monkeypatch):
    def boom(self, task_input, task_token):
        raise KeyError("surprise")

    monkeypatch.setattr(gluerunner.GlueRunner, "start", boom)
    cause = JsonMatching(
        {"ErrorMessage": contains("unexpected KeyError while starting"), "ErrorType": "KeyError"}
    )
    stub.add_response(
        "get_activity_task", {"taskToken": "T1", "input": task_input({"GlueJobName": JOB})}, GAT
    )
    stub.add_response(
        "send_task_failure", {}, {"taskToken": "T1", "error": "GlueRunner.StartFailed", "cause": cause}
    )
    stub.add_response("get_activity_task", {}, GAT)

    assert run(sfn, glue)["rejected"] == 1


def test_failure_report_for_a_vanished_token_does_not_stop_polling(sfn, glue, stub, manual_states):
    stub.add_response("get_activity_task", {"taskToken": "T1", "input": "nope"}, GAT)
    stub.add_client_error(
        "send_task_failure",
        "TaskTimedOut",
        "gone",
        expected_params={"taskToken": "T1", "error": "GlueRunner.InvalidInput", "cause": ANY},
    )
    stub.add_response(
        "get_activity_task", {"taskToken": "T2", "input": task_input({"GlueJobName": JOB})}, GAT
    )
    stub.add_response("get_activity_task", {}, GAT)

    summary = run(sfn, glue)

    assert summary["rejected"] == 1 and summary["started"] == 1


def test_a_task_that_cannot_be_recorded_is_failed_before_anything_starts(sfn, glue, stub):
    cause = JsonMatching(
        {
            "ErrorMessage": contains("could not record the task in DynamoDB table NoSuchTable before"),
            "ErrorType": "ResourceNotFoundException",
        }
    )
    stub.add_response(
        "get_activity_task", {"taskToken": "T1", "input": task_input({"GlueJobName": JOB})}, GAT
    )
    stub.add_response(
        "send_task_failure", {}, {"taskToken": "T1", "error": "GlueRunner.StartFailed", "cause": cause}
    )
    stub.add_response("get_activity_task", {}, GAT)
    config = make_config(GLUE_ACTIVITY_ARN, "NoSuchTable", "gluerunner")

    summary = etlrunner.run(make_runner(glue), config, clients(sfn))

    # Recorded first, started second: a job nobody could track is never started.
    assert job_runs() == []
    assert "nothing was started" in cause.seen[-1]["ErrorMessage"]
    assert summary["rejected"] == 1 and summary["started"] == 0


def test_network_error_while_polling_still_checks(sfn, glue, stub, monkeypatch):
    track(glue, "T1")

    def unreachable(**kwargs):
        raise EndpointConnectionError(endpoint_url="https://states.us-east-1.amazonaws.com")

    monkeypatch.setattr(sfn[0], "get_activity_task", unreachable)
    stub.add_response("send_task_success", {}, {"taskToken": "T1", "output": ANY})

    summary = run(sfn, glue)

    assert summary["poll_error"].startswith("EndpointConnectionError") and summary["succeeded"] == 1


def test_several_tasks_in_one_run(sfn, glue, stub):
    stub.add_response(
        "get_activity_task", {"taskToken": "T1", "input": task_input({"GlueJobName": JOB})}, GAT
    )
    stub.add_response("get_activity_task", {"taskToken": "T2", "input": task_input({"GlueJobName": 1})}, GAT)
    stub.add_response(
        "send_task_failure", {}, {"taskToken": "T2", "error": "GlueRunner.InvalidInput", "cause": ANY}
    )
    stub.add_response(
        "get_activity_task",
        {"taskToken": "T3", "input": task_input({"GlueJobName": "ProcessMarketingData"})},
        GAT,
    )
    stub.add_response("get_activity_task", {}, GAT)
    tokens = Capture()
    outputs = JsonMatching({"GlueJobName": ANY}, exact_keys=False)
    for _ in range(2):
        stub.add_response("send_task_success", {}, {"taskToken": tokens, "output": outputs})

    summary = run(sfn, glue)

    assert summary["started"] == 2 and summary["rejected"] == 1 and summary["succeeded"] == 2
    assert sorted(tokens.values) == ["T1", "T3"]
    assert sorted(o["GlueJobName"] for o in outputs.seen) == ["ProcessMarketingData", JOB]
    assert table_items(TABLE) == []


def test_stops_polling_when_time_runs_out(sfn, glue, stub, manual_states):
    # 200 s left until the first task is claimed (the poll lease, the poll and the task's lease each read the
    # time left), then 50 s: no second long poll. The check pass ran before the poll (nothing tracked yet).
    context = FakeContext(remaining=[200_000] * 4 + [50_000])
    stub.add_response(
        "get_activity_task", {"taskToken": "T1", "input": task_input({"GlueJobName": JOB})}, GAT
    )

    summary = run(sfn, glue, context=context, nudge=True)

    assert summary["out_of_time"] is True and summary["started"] == 1 and len(table_items(TABLE)) == 2


def test_poll_reserve_can_be_lowered_for_a_local_endpoint(sfn, glue, stub, monkeypatch):
    monkeypatch.setenv("SFN_POLL_RESERVE_MS", "20000")
    stub.add_response("get_activity_task", {}, GAT)

    assert run(sfn, glue, context=FakeContext(remaining=[30_000]))["out_of_time"] is False


def test_no_time_at_all_leaves_items_for_the_next_run(sfn, glue, stub):
    track(glue, "T1")
    summary = run(sfn, glue, context=FakeContext(remaining=[5_000]))
    assert summary["out_of_time"] is True and summary["polled"] is False
    tracked, lease = sorted(table_items(TABLE), key=lambda item: item["sfn_activity_arn"])
    assert tracked["sfn_task_token"] == "T1"
    # The poll it had no time for is owed: its lease is expired, for the recovery tick to take (poller.py).
    assert lease["glue_job_run_id"] == "poller" and lease["lease_until"] == "0" and "holder" not in lease


def test_poll_error_still_checks_tracked_jobs(sfn, glue, stub):
    track(glue, "T1")
    stub.add_response("send_task_success", {}, {"taskToken": "T1", "output": ANY})
    stub.add_client_error("get_activity_task", "ActivityDoesNotExist", "no activity", expected_params=GAT)

    summary = run(sfn, glue)

    assert summary["poll_error"].startswith("GetActivityTask failed: ActivityDoesNotExist")
    assert summary["succeeded"] == 1


# --- check ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["STARTING", "RUNNING", "STOPPING", "WAITING"])
def test_running_states_heartbeat(sfn, glue, stub, manual_states, state):
    track(glue, "T1")
    job_runs()[0].status = state
    stub.add_response("send_task_heartbeat", {}, {"taskToken": "T1"})
    stub.add_response("get_activity_task", {}, GAT)

    assert run(sfn, glue)["running"] == 1
    assert len(table_items(TABLE)) == 1


@pytest.mark.parametrize("state", ["FAILED", "STOPPED", "TIMEOUT", "ERROR"])
def test_failed_states_report_failure_and_forget(sfn, glue, stub, manual_states, state):
    run_id = track(glue, "T1")
    job_runs()[0].status = state
    cause = JsonMatching(
        {
            "GlueJobName": JOB,
            "GlueJobRunId": run_id,
            "GlueJobRunState": state,
            "ErrorMessage": f"Glue job run ended in state {state}",
        }
    )
    stub.add_response(
        "send_task_failure", {}, {"taskToken": "T1", "error": "GlueJobFailedError", "cause": cause}
    )
    stub.add_response("get_activity_task", {}, GAT)

    assert run(sfn, glue)["failed"] == 1
    assert table_items(TABLE) == []


def test_failure_cause_carries_glue_error_message(glue):
    runner = make_runner(glue)
    run_id = glue.start_job_run(JobName=JOB)["JobRunId"]
    fake = {"JobRun": {"JobRunState": "FAILED", "ErrorMessage": "ZeroDivisionError in script"}}
    with Stubber(glue) as glue_stub:
        glue_stub.add_response(
            "get_job_run", fake, {"JobName": JOB, "RunId": run_id, "PredecessorsIncluded": False}
        )
        result = runner.check({"glue_job_name": JOB, "glue_job_run_id": run_id})
    assert result == etlrunner.Failed(
        "FAILED",
        {
            "GlueJobName": JOB,
            "GlueJobRunId": run_id,
            "GlueJobRunState": "FAILED",
            "ErrorMessage": "ZeroDivisionError in script",
        },
    )


def test_vanished_run_fails_the_task(sfn, glue, stub):
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName=TABLE,
        Item={
            "sfn_activity_arn": {"S": GLUE_ACTIVITY_ARN},
            "glue_job_run_id": {"S": "jr_gone"},
            "glue_job_name": {"S": JOB},
            "sfn_task_token": {"S": "T1"},
        },
    )
    cause = JsonMatching(
        {
            "GlueJobName": JOB,
            "GlueJobRunId": "jr_gone",
            "GlueJobRunState": "NOT_FOUND",
            "ErrorMessage": contains("EntityNotFoundException"),
        }
    )
    stub.add_response(
        "send_task_failure", {}, {"taskToken": "T1", "error": "GlueJobFailedError", "cause": cause}
    )
    stub.add_response("get_activity_task", {}, GAT)

    assert run(sfn, glue)["failed"] == 1


@pytest.mark.parametrize(
    ("state", "operation", "code"),
    [
        ("RUNNING", "send_task_heartbeat", "TaskTimedOut"),
        ("SUCCEEDED", "send_task_success", "InvalidToken"),
        ("FAILED", "send_task_failure", "TaskDoesNotExist"),
    ],
)
def test_expired_token_deletes_the_item(sfn, glue, stub, manual_states, state, operation, code):
    track(glue, "T1")
    job_runs()[0].status = state
    params: dict[str, Any] = {"taskToken": "T1"}
    if operation == "send_task_success":
        params["output"] = ANY
    if operation == "send_task_failure":
        params.update(error="GlueJobFailedError", cause=ANY)
    stub.add_client_error(operation, code, "token gone", expected_params=params)
    stub.add_response("get_activity_task", {}, GAT)

    summary = run(sfn, glue)

    assert summary["expired"] == 1
    assert table_items(TABLE) == []


def test_other_report_errors_keep_the_item_and_do_not_stop_the_others(sfn, glue, stub):
    ids = sorted([track(glue, "T1"), track(glue, "T2")])
    tokens = {item["glue_job_run_id"]: item["sfn_task_token"] for item in table_items(TABLE)}
    stub.add_client_error(
        "send_task_success",
        "ThrottlingException",
        "slow down",
        expected_params={"taskToken": tokens[ids[0]], "output": ANY},
    )
    stub.add_response("send_task_success", {}, {"taskToken": tokens[ids[1]], "output": ANY})
    stub.add_response("get_activity_task", {}, GAT)

    summary = run(sfn, glue)

    assert summary["report_errors"] == 1 and summary["succeeded"] == 1
    # The undelivered outcome is kept, held for the lease, for a later run to send again.
    (kept,) = table_items(TABLE)
    assert kept["glue_job_run_id"] == ids[0] and kept["phase"] == "reporting"


def test_every_item_is_checked_beyond_the_query_limit(sfn, glue, stub):
    for n in range(7):
        track(glue, f"T{n}")
    in_key_order = [
        item["sfn_task_token"] for item in sorted(table_items(TABLE), key=lambda i: i["glue_job_run_id"])
    ]
    for token in in_key_order:
        stub.add_response("send_task_success", {}, {"taskToken": token, "output": ANY})
    stub.add_response("get_activity_task", {}, GAT)

    summary = run(sfn, glue, limit=2)

    assert summary["succeeded"] == 7
    assert table_items(TABLE) == []


def test_items_of_other_activities_are_left_alone(sfn, glue, stub):
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName=TABLE,
        Item={
            "sfn_activity_arn": {"S": GLUE_ACTIVITY_ARN + "Other"},
            "glue_job_run_id": {"S": "jr_x"},
            "glue_job_name": {"S": JOB},
            "sfn_task_token": {"S": "TX"},
        },
    )
    stub.add_response("get_activity_task", {}, GAT)

    assert run(sfn, glue)["succeeded"] == 0
    assert len(table_items(TABLE)) == 1


# --- handler ------------------------------------------------------------------------------------------------


def test_handler_uses_config_file_env_and_default_clients(sfn, glue, stub, monkeypatch):
    monkeypatch.setenv("SFN_ACTIVITY_ARN", GLUE_ACTIVITY_ARN)
    monkeypatch.setenv("GLUE_JOB_CAPACITY", "3")
    monkeypatch.setattr(etlrunner, "default_clients", lambda: clients(sfn))
    stub.add_response(
        "get_activity_task", {"taskToken": "T1", "input": task_input({"GlueJobName": JOB})}, GAT
    )
    stub.add_response("get_activity_task", {}, GAT)
    stub.add_response("send_task_success", {}, {"taskToken": "T1", "output": ANY})

    summary = gluerunner.handler({}, FakeContext())

    assert summary["succeeded"] == 1
    assert job_runs()[0].number_of_workers == 3


def test_handler_config_error_names_key_file_and_env(aws):
    with pytest.raises(etlrunner.ConfigError) as raised:
        gluerunner.handler({}, FakeContext())
    message = str(raised.value)
    assert (
        "sfn_activity_arn" in message
        and "gluerunner-config.json" in message
        and "SFN_ACTIVITY_ARN" in message
    )


# --- allow-lists, recovery markers -------------------------------------------------------------------------


def allowed_runner(glue: Any, jobs: str | None, arguments: str | None) -> gluerunner.GlueRunner:
    env = {}
    if jobs is not None:
        env["ALLOWED_GLUE_JOBS"] = jobs
    if arguments is not None:
        env["ALLOWED_GLUE_JOB_ARGUMENTS"] = arguments
    config = make_config(GLUE_ACTIVITY_ARN, TABLE, "gluerunner", settings={"glue_job_capacity": None})
    return gluerunner.build_runner(config, glue=glue, environ=env)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"GlueJobName": "ProcessMarketingData"}, "Glue job ProcessMarketingData not allowed"),
        ({"GlueJobName": JOB, "--extra-py-files": "s3://evil/x.py"}, "--extra-py-files not allowed"),
        ({"GlueJobName": JOB, "scriptLocation": "s3://evil/x.py"}, "--scriptLocation not allowed"),
        ({"GlueJobName": JOB, "--etlrunner-task-ref": "x"}, "set by the Glue Runner itself"),
    ],
)
def test_jobs_and_arguments_outside_the_allow_lists_are_refused(glue, payload, message):
    runner = allowed_runner(glue, f" {JOB} ,", "--day, region")
    with pytest.raises(etlrunner.InvalidInput, match=message):
        runner.start(payload, "T1")
    assert job_runs() == []


def test_allowed_jobs_and_arguments_start(glue):
    runner = allowed_runner(glue, JOB, "--day,region")
    fields = runner.start({"GlueJobName": JOB, "day": "d", "--region": "r"}, "T1")
    (job_run,) = job_runs()
    assert fields == {"glue_job_run_id": job_run.job_run_id, "glue_job_name": JOB}
    assert job_run.arguments == {
        "--day": "d",
        "--region": "r",
        "--etlrunner-task-ref": etlrunner.task_ref("T1"),
    }


def test_an_empty_argument_allow_list_allows_no_argument_and_unset_allows_all(glue):
    with pytest.raises(etlrunner.InvalidInput, match="allowed: none"):
        allowed_runner(glue, None, "").start({"GlueJobName": JOB, "day": "d"}, "T1")
    allowed_runner(glue, None, None).start({"GlueJobName": "ProcessMarketingData", "day": "d"}, "T1")
    assert len(job_runs("ProcessMarketingData")) == 1


def test_find_started_finds_the_run_of_the_task_by_its_marker(glue):
    runner = make_runner(glue)
    for token in ("T0", "T1", "T2"):
        runner.start({"GlueJobName": JOB}, token)
    wanted = next(r for r in job_runs() if r.arguments["--etlrunner-task-ref"] == etlrunner.task_ref("T1"))
    assert runner.find_started({"GlueJobName": JOB}, "T1") == {
        "glue_job_run_id": wanted.job_run_id,
        "glue_job_name": JOB,
    }
    assert runner.find_started({"GlueJobName": JOB}, "T9") is None
