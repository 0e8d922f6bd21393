"""Child-process driver of the e2e scenarios that need a deployed environment.

moto's state and the bridges' patches are process-wide, so the e2e tests never deploy inside the pytest
process: they run this file with the venv's Python (cwd = repository root) and read the JSON it writes.

    python tests/e2e/e2e_driver.py scenarios <result.json> <work folder>

deploys the project ONCE on a fresh local endpoint (``localaws.demo.deployed_environment``) and runs every
scenario of ``SCENARIOS`` in order in that one environment. Each scenario records what it observed under its
own name: ``{"ok": true, ...observations}`` or ``{"ok": false, "error": <traceback>}``; the result file is
rewritten after every scenario, so a crash later on still leaves the earlier observations. The driver does
not judge the observations (the tests do); it only fails a scenario when it cannot observe what it should.

Order matters: the failure scenario uploads the two sample CSVs (through ``run_main_workflow``), which the
Athena scenarios then query through the catalog table ``marketing_qs``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402

from buildlib.execution_progress import execution_events, execution_failure  # noqa: E402
from localaws import demo  # noqa: E402
from localaws.context import DEFAULT_REGION  # noqa: E402
from localaws.demo.inputs import demo_datasets  # noqa: E402

SYNTHETIC_MESSAGE = "synthetic failure for the e2e test"
BROKEN_JOB = "ProcessMarketingData"
FAILING_SCRIPT = f'raise RuntimeError("{SYNTHETIC_MESSAGE}")\n'
BAD_COLUMN = "no_such_column"
MISSING_JOB = "NoSuchJob"
# Scaled waits, as the demo had them before events drove the runners: the schedules (the safety net, which
# scenario events_lost relies on alone) fire every 1.2 s (rate(10 minutes)).
TIME_SCALE = 0.002
# The small state machines' runner tasks: the templates' HeartbeatSeconds (the runners heartbeat at the pace
# their TASK_HEARTBEAT_SECONDS, 240, sets; a start whose tracking write is retried for a minute or two on a
# loaded machine must not time out), and a timeout that fails a lost task's scenario within minutes.
TASK_HEARTBEAT_S = 240
TASK_TIMEOUT_S = 480
EXECUTION_DEADLINE_S = 540


def _say(text: str) -> None:
    print(text, flush=True)


def _client(env: demo.DemoEnvironment, service: str) -> Any:
    return boto3.client(service, endpoint_url=env.ctx.endpoint_url, region_name=DEFAULT_REGION)


class _Tee(io.StringIO):
    """Keeps what is written and passes it on to stdout (the driver's log)."""

    def write(self, text: str) -> int:
        sys.stdout.write(text)
        return super().write(text)

    def flush(self) -> None:
        sys.stdout.flush()


def _history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    return list(execution_events(sfn, execution_arn))


def _execution_facts(sfn: Any, execution_arn: str, started: float) -> dict[str, Any]:
    """Status, failure (from the ExecutionFailed event), entered states and event types of an execution."""
    described = sfn.describe_execution(executionArn=execution_arn)
    events = _history(sfn, execution_arn)
    failure = execution_failure(events)
    return {
        "execution_arn": execution_arn,
        "status": described["status"],
        "describe_error": described.get("error"),
        "describe_cause": described.get("cause"),
        "error": failure.error if failure else None,
        "cause": failure.cause if failure else None,
        "entered_states": [
            e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")
        ],
        "event_types": [e["type"] for e in events],
        "seconds": round(time.monotonic() - started, 2),
    }


def _activity_arn(env: demo.DemoEnvironment, name: str) -> str:
    for page in env.sfn.get_paginator("list_activities").paginate():
        for activity in page["activities"]:
            if activity["name"] == name:
                return activity["activityArn"]
    raise AssertionError(f"activity {name} was not deployed")


def _definition(env: demo.DemoEnvironment, machine: str) -> dict[str, Any]:
    arn = demo._state_machine_arn(env.sfn, machine)
    return json.loads(env.sfn.describe_state_machine(stateMachineArn=arn)["definition"])


def _run_small_machine(
    env: demo.DemoEnvironment, name: str, task_input: dict[str, Any], activity: str
) -> dict[str, Any]:
    """Create and run `Pass (JSON-string Result) → Task on <activity>`; return the execution's facts."""
    role_arn = env.sfn.describe_state_machine(
        stateMachineArn=demo._state_machine_arn(env.sfn, demo.MAIN_MACHINE)
    )["roleArn"]
    definition = {
        "StartAt": "Prepare",
        "States": {
            "Prepare": {"Type": "Pass", "Result": json.dumps(task_input), "Next": "Run"},
            "Run": {
                "Type": "Task",
                "Resource": _activity_arn(env, activity),
                "HeartbeatSeconds": TASK_HEARTBEAT_S,
                "TimeoutSeconds": TASK_TIMEOUT_S,
                "End": True,
            },
        },
    }
    machine_arn = env.sfn.create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=role_arn
    )["stateMachineArn"]
    started = time.monotonic()
    execution_arn = env.sfn.start_execution(stateMachineArn=machine_arn, name=f"{name}-run")["executionArn"]
    _say(f"\n▶ {name}: started")
    demo.watch_execution(env.sfn, execution_arn, sys.stdout, deadline_s=EXECUTION_DEADLINE_S)
    return _execution_facts(env.sfn, execution_arn, started)


def _latest_execution(env: demo.DemoEnvironment, machine: str) -> str:
    arn = demo._state_machine_arn(env.sfn, machine)
    executions = env.sfn.list_executions(stateMachineArn=arn)["executions"]
    return max(executions, key=lambda e: e["startDate"])["executionArn"]


def _wait_for_glue_runs_to_settle(env: demo.DemoEnvironment, timeout_s: float = 300) -> dict[str, list[str]]:
    """A failed Parallel state leaves its other branch's Glue run going: let it end before going on."""
    glue = _client(env, "glue")
    give_up = time.monotonic() + timeout_s
    while True:
        jobs = [job["Name"] for page in glue.get_paginator("get_jobs").paginate() for job in page["Jobs"]]
        states = {job: [r["JobRunState"] for r in glue.get_job_runs(JobName=job)["JobRuns"]] for job in jobs}
        busy = [job for job, runs in states.items() if {"STARTING", "RUNNING", "STOPPING"} & set(runs)]
        if not busy:
            return states
        if time.monotonic() > give_up:
            raise AssertionError(f"Glue runs still going after {timeout_s:.0f} s: {states}")
        time.sleep(0.5)


# --- scenarios --------------------------------------------------------------------------------------------


def scenario_glue_missing_job(env: demo.DemoEnvironment, work: Path) -> dict[str, Any]:
    """A Glue runner task naming a job that does not exist (so not among AllowedGlueJobNames either) must fail
    at once, not hang and not reach Glue."""
    return _run_small_machine(env, "E2eGlueMissingJob", {"GlueJobName": MISSING_JOB}, "GlueRunnerActivity")


def scenario_glue_job_fails(env: demo.DemoEnvironment, work: Path) -> dict[str, Any]:
    """ProcessMarketingData's script raises: the main workflow must end FAILED through the fallback."""
    glue = _client(env, "glue")
    script_uri = glue.get_job(JobName=BROKEN_JOB)["Job"]["Command"]["ScriptLocation"]
    bucket, key = script_uri.removeprefix("s3://").split("/", 1)
    env.s3.put_object(Bucket=bucket, Key=key, Body=FAILING_SCRIPT.encode())
    started = time.monotonic()
    demo_failed = None
    progress = _Tee()
    try:
        demo.run_main_workflow(env.sfn, env.s3, demo_datasets(), progress)
    except demo.DemoFailed as exc:
        demo_failed = str(exc)
    facts = _execution_facts(env.sfn, _latest_execution(env, demo.MAIN_MACHINE), started)
    facts.update(
        script_uri=script_uri,
        demo_failed=demo_failed,
        progress=progress.getvalue(),
        glue_runs=_wait_for_glue_runs_to_settle(env),
    )
    return facts


def scenario_demo_command_fails(env: demo.DemoEnvironment, work: Path) -> dict[str, Any]:
    """`demo_command` (what `pynt demo` runs) on the environment whose ProcessMarketingData is still broken.

    ``run_demo`` opens ``localaws.demo.deployed_environment``; here that yields the environment already
    deployed, so the real run_demo/demo_command path runs without a second deployment (the endpoint is
    process-wide and cannot be started twice in one process).
    """
    from localaws.cli import CommandError, demo_command

    @contextlib.contextmanager
    def reuse(time_scale: float = demo.DEFAULT_TIME_SCALE, out: Any = None) -> Iterator[Any]:
        yield env

    captured = io.StringIO()
    original = demo.deployed_environment
    demo.deployed_environment = reuse
    time.sleep(1.1)  # run_main_workflow names executions demo-<epoch second>
    try:
        demo_command(output=str(work / "demo-command-output"), out=captured)
        command_error = None
    except CommandError as exc:
        command_error = str(exc)
    finally:
        demo.deployed_environment = original
    _say(captured.getvalue())
    summary_file = work / "demo-command-output" / "summary.json"
    return {
        "command_error": command_error,
        "summary": json.loads(summary_file.read_text()) if summary_file.is_file() else None,
        "glue_runs": _wait_for_glue_runs_to_settle(env),
    }


def scenario_athena_sample_query(env: demo.DemoEnvironment, work: Path) -> dict[str, Any]:
    """The sample Athena workflow; return its query (from the deployed definition) and the result file."""
    query_input = json.loads(
        _definition(env, demo.ATHENA_MACHINE)["States"]["Configure Athena Query"]["Result"]
    )
    output = demo.run_athena_workflow(env.sfn, sys.stdout)
    athena = _client(env, "athena")
    execution = athena.get_query_execution(QueryExecutionId=output["AthenaQueryExecutionId"])[
        "QueryExecution"
    ]
    location = execution["ResultConfiguration"]["OutputLocation"]
    bucket, key = location.removeprefix("s3://").split("/", 1)
    result_file = work / "athena-sample-result.csv"
    env.s3.download_file(bucket, key, str(result_file))
    return {
        "query_input": query_input,
        "task_output": output,
        "result_location": location,
        "result_file": str(result_file),
        "result_text": result_file.read_text(encoding="utf-8"),
    }


def scenario_athena_bad_query(env: demo.DemoEnvironment, work: Path) -> dict[str, Any]:
    task_input = {
        "AthenaQueryString": f"SELECT {BAD_COLUMN} FROM marketing_qs",
        "AthenaDatabase": "marketingandsales_qs",
        "AthenaResultOutputLocation": f"s3://{demo.DATA_BUCKET}/athena-results/",
    }
    return _run_small_machine(env, "E2eAthenaBadQuery", task_input, "AthenaRunnerActivity")


def scenario_events_lost(env: demo.DemoEnvironment, work: Path) -> dict[str, Any]:
    """Every event-pattern rule disabled (as if EventBridge lost every job event, nudge and execution start):
    the runners' schedules alone still finish the sample Athena workflow."""
    events = _client(env, "events")
    disabled = [
        rule["Name"]
        for rule in events.list_rules()["Rules"]
        if rule.get("EventPattern") and rule.get("State") == "ENABLED"
    ]
    for name in disabled:
        events.disable_rule(Name=name)
    try:
        output = demo.run_athena_workflow(env.sfn, sys.stdout)
    finally:
        for name in disabled:
            events.enable_rule(Name=name)
    return {"disabled_rules": disabled, "task_output": output}


SCENARIOS: dict[str, Callable[[demo.DemoEnvironment, Path], dict[str, Any]]] = {
    "glue_missing_job": scenario_glue_missing_job,
    "glue_job_fails": scenario_glue_job_fails,
    "demo_command_fails": scenario_demo_command_fails,
    "athena_sample_query": scenario_athena_sample_query,
    "athena_bad_query": scenario_athena_bad_query,
    "events_lost": scenario_events_lost,
}


def run_scenarios(result_path: Path, work: Path) -> int:
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"deployed": False, "scenarios": {}}

    def save() -> None:
        result_path.write_text(json.dumps(results, indent=2, default=str))

    save()
    with demo.deployed_environment(TIME_SCALE, sys.stdout) as env:
        results["deployed"] = True
        results["deploy_s"] = env.deploy_s
        for name, scenario in SCENARIOS.items():
            _say(f"\n===== scenario {name} =====")
            # The endpoint's IAM decisions are recorded as this scenario's (localaws/iam/audit.py).
            os.environ["LOCALAWS_IAM_LABEL"] = f"tests/e2e/test_e2e_scenarios.py (scenario {name})"
            began = time.monotonic()
            try:
                results["scenarios"][name] = {"ok": True, **scenario(env, work)}
            except Exception:  # noqa: BLE001 - recorded for the test to report
                results["scenarios"][name] = {"ok": False, "error": traceback.format_exc()}
                _say(traceback.format_exc())
            results["scenarios"][name]["scenario_s"] = round(time.monotonic() - began, 2)
            save()
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] != "scenarios":
        print(f"usage: {Path(__file__).name} scenarios <result.json> <work folder>", file=sys.stderr)
        return 2
    return run_scenarios(Path(argv[1]), Path(argv[2]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
