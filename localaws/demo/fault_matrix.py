"""The fault matrix: the main workflow run once per fault, on one deployed environment, and what each run saw.

A **point** is a fault spec (localaws/faults.py): a kill of a runner or of ons3objectcreated right before or
after one AWS call it makes (``kill:gluerunner:after:glue.StartJobRun``), or a throttle of one service
(``throttle:dynamodb:0.6;seed:4``). Each point runs the main workflow from its start to its end (or to a
deadline), uploading the sample files when every wait state waits, and records:

- ``status`` and ``seconds`` (from StartExecution to the end), the failure if any;
- ``glue_runs``: the runs of every Glue job during the point (a job run twice, or not at all, is a bug);
- ``fired``: whether the fault happened at all (a kill whose call never came, a throttle that drew nothing);
- ``heartbeat_timeouts`` and ``timed_out_states``: tasks that came back only through their heartbeat timeout
  and the state's Retry, and their states;
- ``arrivals_left``: uploads still pending after the point (each upload must release exactly one wait);
- ``lambda_logs`` (a point that did not succeed): the functions' last log lines during it, for diagnosis.

Used by the end-to-end tests (tests/e2e/test_e2e_faults.py: every kill point, with the stacks tuned for quick
recovery; tests/e2e/test_e2e_recovery_defaults.py: a few points at the templates' own settings) and by
``bench/bench_recovery.py`` (every point at the templates' own settings, against a fault-free run). As a
script it is the child process that deploys once and runs its points in turn:

    python -m localaws.demo.fault_matrix RESULT.json WORK_DIR [--time-scale S] [--deadline S] [--tuned] \
        POINT...

(``POINT`` is a fault spec; ``none`` runs without faults.) The result file is rewritten after every point.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
import traceback
import uuid
from pathlib import Path
from typing import Any

# Every AWS call the Glue runner (with the etlrunner core) and ons3objectcreated make in a workflow that
# succeeds. GetJobRuns (finding the run of a dead start) and SendTaskFailure happen only after a crash or on a
# failure, so a kill there would never fire in a first run: the core's own crash tests cover them.
RUNNER_CALLS = {
    "gluerunner": (
        "states.GetActivityTask",
        "dynamodb.PutItem",
        "dynamodb.GetItem",
        "dynamodb.Query",
        "dynamodb.DeleteItem",
        "dynamodb.UpdateItem",
        "dynamodb.TransactWriteItems",
        "glue.StartJobRun",
        "glue.GetJobRun",
        "states.SendTaskHeartbeat",
        "states.SendTaskSuccess",
        "events.PutEvents",
    ),
    "ons3objectcreated": (
        "dynamodb.GetItem",
        "dynamodb.UpdateItem",
        "states.GetActivityTask",
        "states.SendTaskSuccess",
        "events.PutEvents",
    ),
}
KILL_POINTS = [
    f"kill:{function}:{when}:{call}"
    for function, calls in RUNNER_CALLS.items()
    for call in calls
    for when in ("before", "after")
]
# A throttle of every call of one service the workflow uses, at a rate botocore's retries alone do not absorb
# (0.6: three attempts all throttled 22 % of the time), seeded so that a run can be repeated.
THROTTLE_POINTS = [
    f"throttle:{service}:0.6;seed:4" for service in ("dynamodb", "states", "glue", "events", "s3")
]
NO_FAULTS = "none"
POLLER_SUFFIX = "#poller"  # the runners' coordination items (lambda/etlrunner/poller.py)
LOGGED_FUNCTIONS = ("ons3objectcreated", "gluerunner", "athenarunner")
LOG_LINES_KEPT = 200
# Tuned stacks (the fast CI matrix): what a recovery waits for takes seconds, not minutes. An operator may
# tune the same way; the recovery paths are the same as with the templates' values.
QUICK_RECOVERY = {"runner_task_heartbeat_s": 30, "wait_task_heartbeat_s": 10, "task_lease_s": 2}
TEMPLATE_HEARTBEATS = {"runner": 240, "wait": 120}  # the templates' HeartbeatSeconds (test_cfn_recovery.py)


def glue_runs(glue: Any) -> dict[str, dict[str, str]]:
    """Every run of every Glue job: job -> run id -> state."""
    runs: dict[str, dict[str, str]] = {}
    jobs = [job["Name"] for page in glue.get_paginator("get_jobs").paginate() for job in page["Jobs"]]
    for job in jobs:
        runs[job] = {}
        for page in glue.get_paginator("get_job_runs").paginate(JobName=job):
            runs[job].update({run["Id"]: run["JobRunState"] for run in page["JobRuns"]})
    return runs


def settled_glue_runs(glue: Any, timeout_s: float = 60) -> dict[str, dict[str, str]]:
    """Glue runs once none is still going (a duplicated run may outlive the workflow)."""
    give_up = time.monotonic() + timeout_s
    while True:
        runs = glue_runs(glue)
        going = [i for job in runs.values() for i, state in job.items() if state in ("STARTING", "RUNNING")]
        if not going or time.monotonic() > give_up:
            return runs
        time.sleep(0.5)


def fault_fired(spec: str, report: dict[str, Any] | None) -> bool:
    """Whether the point's fault happened: a kill that fired, a throttle that drew at least once."""
    if spec == NO_FAULTS:
        return True
    if report is None:
        return False
    if spec.startswith("kill:"):
        return bool(report["kills"]["fired"])
    return bool(report["injected"])


def run_point(env: Any, spec: str, folder: Path, deadline_s: float) -> dict[str, Any]:
    """Run the main workflow once under `spec`; what it saw (module docstring)."""
    import boto3

    from buildlib.execution_progress import execution_events, execution_failure
    from localaws import demo, faults
    from localaws.demo.inputs import demo_datasets

    # The harness's own calls are made with no fault in place: only the workflow's calls are the point's.
    faults.configure(env.ctx, "")
    stop_every_worker(env.ctx)  # warm workers hold the previous point's kills
    glue = boto3.client("glue", endpoint_url=env.ctx.endpoint_url, region_name=env.ctx.region)
    before = glue_runs(glue)
    machine = demo._state_machine_arn(env.sfn, demo.MAIN_MACHINE)
    workflow = demo.deployed_workflow(env.sfn, machine)
    uploads = demo.uploads_for(workflow, demo_datasets())
    faults.configure(env.ctx, "" if spec == NO_FAULTS else spec)  # new workers take its kills
    began = time.monotonic()
    began_ms = int(time.time() * 1000)
    name = f"fault-{uuid.uuid4().hex[:12]}"
    execution_arn = env.sfn.start_execution(stateMachineArn=machine, name=name)["executionArn"]
    uploaded = False

    def upload_when_waiting(states: dict[str, Any]) -> None:
        # Once every wait has begun (not "all wait at once": a wait released by an upload left over from an
        # earlier point would then never see this point's files; arrivals_left below reports such a one).
        nonlocal uploaded
        if not uploaded and all(s in states for s in workflow.wait_states):
            uploaded = True
            for dataset, s3_object in uploads:
                bucket, _, key = s3_object.removeprefix("s3://").partition("/")
                env.s3.upload_file(str(dataset.path), bucket, key)

    progress = io.StringIO()
    try:
        status = demo.watch_execution(
            env.sfn, execution_arn, progress, on_progress=upload_when_waiting, deadline_s=deadline_s
        )
    except demo.DemoFailed as exc:  # the deadline: the execution was stopped
        status = f"NOT DONE after {deadline_s:.0f} s ({exc})"
    seconds = round(time.monotonic() - began, 1)
    report = faults.report(env.ctx)
    faults.configure(env.ctx, "")
    events = list(execution_events(env.sfn, execution_arn))
    failure = execution_failure(events)
    after = settled_glue_runs(glue)
    observed: dict[str, Any] = {
        "ran": True,
        "spec": spec,
        "status": status,
        "seconds": seconds,
        "error": failure.error if failure else None,
        "cause": failure.cause if failure else None,
        "glue_runs": {
            job: [s for i, s in runs.items() if i not in before.get(job, {})] for job, runs in after.items()
        },
        "fired": fault_fired(spec, report),
        "kills": (report or {}).get("kills", {}).get("fired", []),
        "injected": (report or {}).get("injected", {}),
        "heartbeat_timeouts": sum(1 for event in events if event.get("type") == "ActivityTimedOut"),
        "timed_out_states": timed_out_states(events),
        "arrivals_left": arrivals_left(env),
        "progress": progress.getvalue() if status != "SUCCEEDED" else "",
    }
    if status != "SUCCEEDED":
        observed["lambda_logs"] = lambda_log_lines(env, began_ms)
    if status == "SUCCEEDED":
        folder.mkdir(parents=True, exist_ok=True)
        demo.collect_datasets(env.s3, folder, demo.DemoReport())
        observed["joined_csv"] = str(folder / "marketing-and-sales.csv")
    return observed


def stop_every_worker(ctx: Any) -> None:
    """Start the next point as a fresh environment would: stop every Lambda worker (the next point's kill
    must reach a new one), then undo what the stopped workers held, which no fault of the next point caused.
    The previous point has ended (its workflow done, nothing tracked), so only coordination is left: the
    GetActivityTask polls they were waiting in (ended: one would take the next point's first task and lose it,
    a 240 s heartbeat timeout), the runners' poll leases and tick items (deleted: a leftover lease stops every
    poll for 100 s) and ons3objectcreated's poll notes (removed: each would cost a needless poll later)."""
    import boto3

    from localaws.bridges import awslambda, stepfunctions

    awslambda.runtime().stop()
    stepfunctions.end_open_polls()
    lam = boto3.client("lambda", endpoint_url=ctx.endpoint_url, region_name=ctx.region)
    ddb = boto3.client("dynamodb", endpoint_url=ctx.endpoint_url, region_name=ctx.region)
    for function in ("gluerunner", "athenarunner"):
        table = lam.get_function_configuration(FunctionName=function)["Environment"]["Variables"]["DDB_TABLE"]
        keys = [k["AttributeName"] for k in ddb.describe_table(TableName=table)["Table"]["KeySchema"]]
        for item in _scan(ddb, table):
            if item[keys[0]]["S"].endswith(POLLER_SUFFIX):
                ddb.delete_item(TableName=table, Key={k: item[k] for k in keys})
    arrivals = _arrivals_table(lam)
    for item in _scan(ddb, arrivals):
        if "polls_started" in item:
            key = {"s3_object": item["s3_object"]}
            ddb.update_item(TableName=arrivals, Key=key, UpdateExpression="REMOVE polls_started")


def _scan(ddb: Any, table: str) -> Any:
    """Every item of `table`, read consistently."""
    for page in ddb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        yield from page["Items"]


def _arrivals_table(lam: Any) -> str:
    """ons3objectcreated's arrivals table, as deployed."""
    variables = lam.get_function_configuration(FunctionName="ons3objectcreated")["Environment"]["Variables"]
    return variables["ARRIVALS_TABLE"]


def arrivals_left(env: Any) -> dict[str, list[str]]:
    """Uploads still pending in ons3objectcreated's arrivals table after a point: none when every upload
    released exactly one wait (a left-over one would release the next execution's wait at once)."""
    import boto3

    lam = boto3.client("lambda", endpoint_url=env.ctx.endpoint_url, region_name=env.ctx.region)
    ddb = boto3.client("dynamodb", endpoint_url=env.ctx.endpoint_url, region_name=env.ctx.region)
    left: dict[str, list[str]] = {}
    for item in _scan(ddb, _arrivals_table(lam)):
        pending = sorted(item.get("pending_uploads", {}).get("M", {}))
        if pending:
            left[item["s3_object"]["S"]] = pending
    return left


def timed_out_states(events: list[dict[str, Any]]) -> list[str]:
    """The state of each ActivityTimedOut event, in order (the state entered last before it in its branch)."""
    by_id = {event["id"]: event for event in events}
    states = []
    for event in events:
        if event.get("type") != "ActivityTimedOut":
            continue
        previous = by_id.get(event.get("previousEventId"))
        while previous is not None and "stateEnteredEventDetails" not in previous:
            previous = by_id.get(previous.get("previousEventId"))
        states.append(previous["stateEnteredEventDetails"]["name"] if previous else "?")
    return states


def lambda_log_lines(env: Any, since_ms: int, keep: int = LOG_LINES_KEPT) -> list[str]:
    """The last `keep` lines the workflow's functions logged since `since_ms`, oldest first."""
    import boto3

    logs = boto3.client("logs", endpoint_url=env.ctx.endpoint_url, region_name=env.ctx.region)
    lines: list[tuple[int, str]] = []
    for function in LOGGED_FUNCTIONS:
        try:
            pages = logs.get_paginator("filter_log_events").paginate(
                logGroupName=f"/aws/lambda/{function}", startTime=since_ms
            )
            for page in pages:
                lines += [(e["timestamp"], f"{function}: {e['message'].rstrip()}") for e in page["events"]]
        except Exception as exc:  # noqa: BLE001 - a diagnosis must not hide the point's own result
            lines.append((since_ms, f"{function}: (logs unreadable: {exc})"))
    return [text for _, text in sorted(lines, key=lambda pair: pair[0])][-keep:]


def tune_for_quick_recovery(env: Any) -> None:
    """Shorter heartbeats and leases on the deployed stacks (QUICK_RECOVERY), as an operator may set them."""
    import boto3

    from localaws import demo

    lam = boto3.client("lambda", endpoint_url=env.ctx.endpoint_url, region_name=env.ctx.region)
    lease = str(QUICK_RECOVERY["task_lease_s"])
    runner = {
        "TASK_LEASE_SECONDS": lease,
        "POLL_LEASE_SECONDS": lease,
        "TASK_HEARTBEAT_SECONDS": str(QUICK_RECOVERY["runner_task_heartbeat_s"]),
    }
    settings = {
        "gluerunner": runner,
        "athenarunner": runner,
        "ons3objectcreated": {"WAIT_HEARTBEAT_SECONDS": str(QUICK_RECOVERY["wait_task_heartbeat_s"])},
    }
    for function, extra in settings.items():
        variables = lam.get_function_configuration(FunctionName=function)["Environment"]["Variables"]
        lam.update_function_configuration(
            FunctionName=function, Environment={"Variables": {**variables, **extra}}
        )
    shorter = {
        TEMPLATE_HEARTBEATS["wait"]: QUICK_RECOVERY["wait_task_heartbeat_s"],
        TEMPLATE_HEARTBEATS["runner"]: QUICK_RECOVERY["runner_task_heartbeat_s"],
    }

    def retune(states: dict[str, Any]) -> None:
        for state in states.values():
            if state.get("HeartbeatSeconds") in shorter:
                state["HeartbeatSeconds"] = shorter[state["HeartbeatSeconds"]]
            for branch in state.get("Branches", []):
                retune(branch["States"])

    machine = demo._state_machine_arn(env.sfn, demo.MAIN_MACHINE)
    definition = json.loads(env.sfn.describe_state_machine(stateMachineArn=machine)["definition"])
    retune(definition["States"])
    env.sfn.update_state_machine(stateMachineArn=machine, definition=json.dumps(definition))
    _wait_for_a_tuned_poll_lease(env)


def _wait_for_a_tuned_poll_lease(env: Any, timeout_s: float = 150.0) -> None:
    """Runs started before the tuning hold the Glue runner's poll lease for the untuned 100 s; each point
    kills every worker (see run_point), and a run killed holding that lease keeps every other run from polling
    until it runs out. So end the untuned runs now, and start the points once the lease is free or held by a
    tuned run, as an operator's change would have settled."""
    import boto3

    stop_every_worker(env.ctx)  # the untuned workers; the next invocations start tuned ones
    dynamodb = boto3.client("dynamodb", endpoint_url=env.ctx.endpoint_url, region_name=env.ctx.region)
    activity = next(
        a["activityArn"] for a in env.sfn.list_activities()["activities"] if a["name"] == "GlueRunnerActivity"
    )
    key = {"sfn_activity_arn": {"S": f"{activity}#poller"}, "glue_job_run_id": {"S": "poller"}}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        item = dynamodb.get_item(TableName="GlueRunnerActiveJobs", Key=key, ConsistentRead=True).get("Item")
        until = float(item["lease_until"]["N"]) if item and "lease_until" in item else 0.0
        if until <= time.time() + QUICK_RECOVERY["task_lease_s"] + 1:
            return
        time.sleep(0.5)
    raise AssertionError(f"the Glue runner's poll lease was still held after {timeout_s:.0f} s")


def run_points(
    result_path: Path,
    work: Path,
    points: list[str],
    time_scale: float,
    deadline_s: float,
    tuned: bool,
) -> int:
    """Deploy once, run each point in turn, rewrite `result_path` after each (the child's whole job)."""
    from localaws import demo

    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"deployed": False, "time_scale": time_scale, "tuned": tuned, "points": {}}

    def save() -> None:
        result_path.write_text(json.dumps(results, indent=1, default=str))

    save()
    with demo.deployed_environment(time_scale, sys.stdout, faults="") as env:
        if tuned:
            tune_for_quick_recovery(env)
        results["deployed"] = True
        for index, point in enumerate(points):
            print(f"\n===== fault point {point} =====", flush=True)
            try:
                results["points"][point] = run_point(env, point, work / f"point-{index}", deadline_s)
            except Exception:  # noqa: BLE001 - recorded for the caller to report
                results["points"][point] = {"ran": False, "error": traceback.format_exc()}
            summary = {k: v for k, v in results["points"][point].items() if k != "progress"}
            print(json.dumps(summary, default=str), flush=True)
            save()
    return 0


def main(argv: list[str]) -> int:
    """Deploy once and run each fault point (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m localaws.demo.fault_matrix", description=__doc__.split("\n")[0]
    )
    parser.add_argument("result", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("points", nargs="+", help=f"fault specs, or {NO_FAULTS}")
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--deadline", type=float, default=600.0, help="seconds a point may take")
    parser.add_argument("--tuned", action="store_true", help="shorten heartbeats and leases (QUICK_RECOVERY)")
    args = parser.parse_args(argv)
    return run_points(args.result, args.work, args.points, args.time_scale, args.deadline, args.tuned)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
