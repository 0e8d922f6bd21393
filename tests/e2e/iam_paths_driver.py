"""Child-process driver of the paths whose permissions neither the demo nor the other scenarios take.

    python tests/e2e/iam_paths_driver.py <result.json>

deploys the project once (with ``WeeklyScheduleEnabled=true``, so the weekly rule and its role exist) on a
fresh endpoint enforcing IAM, and runs, each recording what it observed:

- ``named_query``: an Athena runner task naming a named query (``athena:GetNamedQuery``);
- ``untracked_query`` / ``untracked_glue_run``: the runner's tracking write fails (the endpoint's fault mode
  answers every ``TransactWriteItems`` with a 5xx, and the runners are told to try a start once:
  ``MAX_START_ATTEMPTS`` 1, where the default leaves a passing 5xx to a later run), so it stops the job it
  started (``athena:StopQueryExecution``, ``glue:BatchStopJobRun``) and fails the task;
- ``mis_wired_wait``: a wait task naming another object than the upload its activity releases is failed by
  ons3objectcreated with ``WaitForData.MisWired`` (``states:SendTaskFailure``);
- ``failure_destination``: ons3objectcreated cannot store an upload (every DynamoDB ``UpdateItem`` fails), so
  after Lambda's retries its event goes to the failure queue, sent with the function's role
  (``sqs:SendMessage``);
- ``weekly_schedule``: the weekly rule fires (the scheduler is told to fire it now: its period is a week) and
  EventBridge starts an execution as ``WeeklyScheduleRole`` (``states:StartExecution``).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
import e2e_driver  # noqa: E402

from localaws import demo, faults  # noqa: E402
from localaws.context import DEFAULT_REGION  # noqa: E402
from localaws.server import LocalAws  # noqa: E402

TIME_SCALE = 0.002
DEADLINE_S = 540  # e2e_driver.EXECUTION_DEADLINE_S


def _wait(predicate: Callable[[], Any], what: str, timeout_s: float = DEADLINE_S) -> Any:
    give_up = time.monotonic() + timeout_s
    while time.monotonic() < give_up:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout_s:.0f} s")


def _client(ctx: Any, service: str) -> Any:
    return boto3.client(service, endpoint_url=ctx.endpoint_url, region_name=DEFAULT_REGION)


def _outputs(ctx: Any, stack: str) -> dict[str, str]:
    described = _client(ctx, "cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def scenario_named_query(env: demo.DemoEnvironment) -> dict[str, Any]:
    athena = _client(env.ctx, "athena")
    query_id = athena.create_named_query(
        Name="iam-paths", Database="marketingandsales_qs", QueryString="SELECT 1"
    )["NamedQueryId"]
    task = {
        "AthenaNamedQuery": query_id,
        "AthenaResultOutputLocation": f"s3://{demo.DATA_BUCKET}/athena-results/",
    }
    return e2e_driver._run_small_machine(env, "IamNamedQuery", task, "AthenaRunnerActivity")


def _runner_setting(env: demo.DemoEnvironment, name: str, value: str | None) -> None:
    """Set (or, None, remove) an environment variable of both runners; new workers take it."""
    from localaws.bridges import awslambda

    lam = _client(env.ctx, "lambda")
    for function in ("gluerunner", "athenarunner"):
        variables = lam.get_function_configuration(FunctionName=function)["Environment"]["Variables"]
        variables.pop(name, None)
        if value is not None:
            variables[name] = value
        lam.update_function_configuration(FunctionName=function, Environment={"Variables": variables})
    awslambda.runtime().stop()


def _untracked(env: demo.DemoEnvironment, name: str, task: dict[str, Any], activity: str) -> dict[str, Any]:
    _runner_setting(env, "MAX_START_ATTEMPTS", "1")
    faults.configure(env.ctx, "error5xx:dynamodb.TransactWriteItems:1.0")
    try:
        return e2e_driver._run_small_machine(env, name, task, activity)
    finally:
        faults.configure(env.ctx, "")
        _runner_setting(env, "MAX_START_ATTEMPTS", None)


def scenario_untracked_query(env: demo.DemoEnvironment) -> dict[str, Any]:
    task = {
        "AthenaQueryString": "SELECT 1",
        "AthenaDatabase": "marketingandsales_qs",
        "AthenaResultOutputLocation": f"s3://{demo.DATA_BUCKET}/athena-results/",
    }
    return _untracked(env, "IamUntrackedQuery", task, "AthenaRunnerActivity")


# A run that goes on until it is stopped: the stop must find it running, however slow the tracking's retries.
SLOW_SCRIPT = b"""
import time
from pyspark.context import SparkContext

SparkContext.getOrCreate().parallelize(range(2), 2).map(lambda x: time.sleep(300) or x).collect()
"""


def scenario_untracked_glue_run(env: demo.DemoEnvironment) -> dict[str, Any]:
    glue = _client(env.ctx, "glue")
    script = glue.get_job(JobName="ProcessSalesData")["Job"]["Command"]["ScriptLocation"]
    bucket, key = script.removeprefix("s3://").split("/", 1)
    original = env.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    env.s3.put_object(Bucket=bucket, Key=key, Body=SLOW_SCRIPT)
    try:
        facts = _untracked(
            env, "IamUntrackedGlueRun", {"GlueJobName": "ProcessSalesData"}, "GlueRunnerActivity"
        )
    finally:
        env.s3.put_object(Bucket=bucket, Key=key, Body=original)
    runs = _wait(
        lambda: [
            r["JobRunState"]
            for r in glue.get_job_runs(JobName="ProcessSalesData")["JobRuns"]
            if r["JobRunState"] not in ("STARTING", "RUNNING", "STOPPING")
        ],
        "the stopped run to end",
    )
    return {**facts, "job_run_states": runs}


def scenario_mis_wired_wait(env: demo.DemoEnvironment) -> dict[str, Any]:
    activity = _outputs(env.ctx, "step-functions-resources")["SalesDataWaitActivityArn"]
    role = env.sfn.describe_state_machine(
        stateMachineArn=demo._state_machine_arn(env.sfn, demo.MAIN_MACHINE)
    )["roleArn"]
    definition = {
        "StartAt": "Wait",
        "States": {
            "Wait": {
                "Type": "Task",
                "Resource": activity,
                "Parameters": {
                    "ExpectedS3Bucket": demo.DATA_BUCKET,
                    "ExpectedS3Key": "sales/another-file.csv",
                    "ExecutionArn.$": "$$.Execution.Id",
                },
                "TimeoutSeconds": 240,
                "End": True,
            }
        },
    }
    machine = env.sfn.create_state_machine(
        name="IamMisWired", definition=json.dumps(definition), roleArn=role
    )
    execution = env.sfn.start_execution(stateMachineArn=machine["stateMachineArn"])["executionArn"]
    _wait(
        lambda: any(e["type"] == "ActivityScheduled" for e in e2e_driver._history(env.sfn, execution)),
        "the wait scheduled",
    )
    env.s3.put_object(Bucket=demo.DATA_BUCKET, Key="sales/SalesPipeline_QuickSightSample.csv", Body=b"x\n")
    _wait(
        lambda: env.sfn.describe_execution(executionArn=execution)["status"] != "RUNNING", "the wait answered"
    )
    return e2e_driver._execution_facts(env.sfn, execution, time.monotonic())


def scenario_failure_destination(env: demo.DemoEnvironment) -> dict[str, Any]:
    url = _outputs(env.ctx, "step-functions-resources")["OnS3ObjectCreatedFailureQueueUrl"]
    sqs = _client(env.ctx, "sqs")
    faults.configure(env.ctx, "error5xx:dynamodb.UpdateItem:1.0")
    try:
        env.s3.put_object(
            Bucket=demo.DATA_BUCKET, Key="sales/SalesPipeline_QuickSightSample.csv", Body=b"x\n"
        )
        messages = _wait(
            lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages"), "a failure record"
        )
    finally:
        faults.configure(env.ctx, "")
    record = json.loads(messages[0]["Body"])
    return {
        "condition": record["requestContext"]["condition"],
        "function": record["requestContext"]["functionArn"],
    }


def scenario_weekly_schedule(env: demo.DemoEnvironment) -> dict[str, Any]:
    from moto.events.models import events_backends

    from localaws.bridges import events as events_bridge

    rules = events_backends[env.ctx.account_id][env.ctx.region].event_buses["default"].rules
    (rule,) = [r for r in rules.values() if "WeeklyScheduleRule" in r.name]
    machine = demo._state_machine_arn(env.sfn, demo.MAIN_MACHINE)
    before = {e["executionArn"] for e in env.sfn.list_executions(stateMachineArn=machine)["executions"]}
    events_bridge.scheduler()._fire(rule)  # its period is a week: fire it now, as its schedule would
    started = _wait(
        lambda: [
            e
            for e in env.sfn.list_executions(stateMachineArn=machine)["executions"]
            if e["executionArn"] not in before
        ],
        "an execution started by the weekly rule",
    )
    env.sfn.stop_execution(executionArn=started[0]["executionArn"])
    return {"started": len(started)}


SCENARIOS: dict[str, Callable[[demo.DemoEnvironment], dict[str, Any]]] = {
    "named_query": scenario_named_query,
    "untracked_query": scenario_untracked_query,
    "untracked_glue_run": scenario_untracked_glue_run,
    "mis_wired_wait": scenario_mis_wired_wait,
    "failure_destination": scenario_failure_destination,
    "weekly_schedule": scenario_weekly_schedule,
}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(f"usage: {Path(__file__).name} <result.json>", file=sys.stderr)
        return 2
    result_path = Path(argv[0])
    results: dict[str, Any] = {"deployed": False, "scenarios": {}}

    def save() -> None:
        result_path.write_text(json.dumps(results, indent=2, default=str))

    save()
    from buildlib import load_project
    from buildlib.deploy import deploy_all
    from localaws.runtime.spark import warm_up

    warm_up()
    with LocalAws(time_scale=TIME_SCALE, prewarm_lambdas=True) as ctx:
        demo._fake_aws_environment(ctx.endpoint_url)
        overrides = {**demo.DEMO_PARAMETERS, "WeeklyScheduleEnabled": "true"}
        deploy_all(load_project(ROOT, overrides=overrides, out=print))
        env = demo.DemoEnvironment(
            ctx=ctx,
            sfn=_client(ctx, "stepfunctions"),
            s3=_client(ctx, "s3"),
            glue_clock=demo.IntervalClock(),
            athena_clock=demo.IntervalClock(),
            deploy_s=0.0,
        )
        results["deployed"] = True
        for name, scenario in SCENARIOS.items():
            print(f"\n===== scenario {name} =====", flush=True)
            # The endpoint's IAM decisions are recorded as this scenario's (localaws/iam/audit.py).
            os.environ["LOCALAWS_IAM_LABEL"] = f"tests/e2e/test_e2e_iam_paths.py (scenario {name})"
            try:
                results["scenarios"][name] = {"ok": True, **scenario(env)}
            except Exception:  # noqa: BLE001 - recorded for the test to report
                results["scenarios"][name] = {"ok": False, "error": traceback.format_exc()}
                print(traceback.format_exc(), flush=True)
            save()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
