"""End to end under faults (localaws/faults.py): the demo with 20 % of all calls throttled, and the main
workflow with a runner or ons3objectcreated killed before or after each AWS call it makes.

A crash point ``<function>:<before|after>:<service.Operation>`` kills the first invocation of that function
to reach the call (once: later invocations run undisturbed). The workflow must still end SUCCEEDED, with
exactly one Glue run per job (no job run twice, none lost) and the joined dataset of a run without faults.

The child tunes the deployed stacks for quick recovery, as an operator may: the runners' task lease
(`TASK_LEASE_SECONDS`, 120 s on AWS) becomes 2 s and the state machine's HeartbeatSeconds 30 s (runner tasks)
and 10 s (wait tasks), so that a run killed mid-start is recovered, and a task claimed by a worker that died
queued again, within seconds rather than minutes. The recovery paths are the same as with AWS's values.

Each crash point is one workflow run; the points are shared out over ``CHILDREN`` child processes that each
deploy the project once and run their points one after the other (this file is also the children's driver:
``python tests/e2e/test_e2e_faults.py crashpoints <result.json> <work folder> <point>...``). A point whose
call never happened in a successful run (the kill did not fire) is skipped, saying so.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import threading
import time
import traceback
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if __name__ == "__main__" and str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the driver runs as a script from the repository root

import pytest  # noqa: E402
from e2e_support import PYNT, ChildRun, expected_join, run_child, typed_output_row  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

GLUE_JOBS = ("ProcessSalesData", "ProcessMarketingData", "JoinMarketingAndSalesData")
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
CRASH_POINTS = [
    f"{function}:{when}:{call}"
    for function, calls in RUNNER_CALLS.items()
    for call in calls
    for when in ("before", "after")
]
# Scaled waits: what recovers from a crash (leases, heartbeat timeouts, the safety-net schedules) takes
# seconds, not minutes.
TIME_SCALE = 0.002
CHILDREN = 2  # one per core: each child deploys once and runs its share of the points in turn
# A run takes 15-35 s on an idle 2-core machine and ~85 s when it is shared; a crash must not add minutes.
POINT_DEADLINE_S = 180
THROTTLE_SPEC = "throttle:0.2;seed:1"


# --- the tests ------------------------------------------------------------------------------------------


def _joined_dataset_problem(csv_path: Path) -> str | None:
    """None when the CSV holds exactly the plain-Python join of the samples, else what differs."""
    if not csv_path.is_file():
        return f"no joined dataset at {csv_path}"
    expected = expected_join()
    with csv_path.open(newline="") as handle:
        reader = csv.reader(handle)
        columns = next(reader)
        rows = [typed_output_row(columns, row) for row in reader]
    if columns != expected.columns:
        return f"columns {columns} != {expected.columns}"
    if rows != expected.rows:
        wrong = [got[0] for got, exp in zip(rows, expected.rows, strict=False) if got != exp]
        return f"{len(rows)} rows vs {len(expected.rows)} expected; first differing dates {wrong[:5]}"
    return None


@pytest.fixture(scope="module")
def throttled_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[ChildRun, Path]:
    output = tmp_path_factory.mktemp("e2e-faults-throttle") / "demo-output"
    return run_child([PYNT, f"demo[output={output},faults={THROTTLE_SPEC},time_scale={TIME_SCALE}]"]), output


def test_demo_succeeds_with_a_fifth_of_all_calls_throttled(throttled_demo: tuple[ChildRun, Path]) -> None:
    child, output = throttled_demo
    assert child.returncode == 0, child.tail()
    summary = json.loads((output / "summary.json").read_text())
    assert summary["status"] == "SUCCEEDED"
    report = summary["faults"]
    assert report["spec"] == THROTTLE_SPEC
    # About a fifth of the calls the clients made (retries included) were answered with a throttle.
    assert 0.1 < report["injected"]["throttle"] / report["calls_seen"] < 0.3, report["injected"]
    assert {call.split(".")[0] for call in report["by_call"]["throttle"]} >= {
        "s3",
        "states",
        "dynamodb",
        "glue",
    }
    assert f"Faults ({THROTTLE_SPEC}):" in child.stdout
    assert summary["glue_runs"] == len(GLUE_JOBS), "a throttle made a Glue job run twice (or not at all)"
    assert _joined_dataset_problem(output / "marketing-and-sales.csv") is None


@pytest.fixture(scope="module")
def crash_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run every crash point, CHILDREN child processes at a time; point -> what its run observed."""
    work = tmp_path_factory.mktemp("e2e-faults-crash")
    shares = [CRASH_POINTS[index::CHILDREN] for index in range(CHILDREN)]
    runs: dict[int, tuple[ChildRun, Path]] = {}

    def run(index: int) -> None:
        result = work / f"result-{index}.json"
        command = [
            sys.executable,
            Path(__file__),
            "crashpoints",
            result,
            work / f"child-{index}",
            *shares[index],
        ]
        runs[index] = (run_child(command, timeout_s=len(shares[index]) * POINT_DEADLINE_S + 120), result)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(CHILDREN)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    observed: dict[str, Any] = {}
    for index, (child, result) in runs.items():
        points = json.loads(result.read_text()).get("points", {}) if result.is_file() else {}
        for point in shares[index]:
            observed[point] = points.get(point) or {"ran": False, "child": child.tail()}
    return observed


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_workflow_recovers_from_a_crash_at(crash_results: dict[str, Any], point: str) -> None:
    observed = crash_results[point]
    assert observed.get("ran"), f"{point} did not run:\n{observed.get('error') or observed.get('child')}"
    if not observed["fired"]:
        pytest.skip(f"{point}: the function made no such call during a successful workflow (kill not fired)")
    details = json.dumps({k: v for k, v in observed.items() if k != "progress"}, indent=1, default=str)
    assert observed["status"] == "SUCCEEDED", f"{point}: {details}\n{observed.get('progress', '')[-3000:]}"
    assert observed["glue_runs"] == {job: ["SUCCEEDED"] for job in GLUE_JOBS}, f"{point}: {details}"
    problem = _joined_dataset_problem(Path(observed["joined_csv"]))
    assert problem is None, f"{point}: {problem}"


# --- the child: crash points in one deployed environment ------------------------------------------------


def _glue_runs(glue: Any) -> dict[str, dict[str, str]]:
    runs: dict[str, dict[str, str]] = {}
    for job in GLUE_JOBS:
        runs[job] = {}
        for page in glue.get_paginator("get_job_runs").paginate(JobName=job):
            runs[job].update({run["Id"]: run["JobRunState"] for run in page["JobRuns"]})
    return runs


def _settled_glue_runs(glue: Any, timeout_s: float = 60) -> dict[str, dict[str, str]]:
    """Glue runs once none is still going (a duplicated run may outlive the workflow)."""
    give_up = time.monotonic() + timeout_s
    while True:
        runs = _glue_runs(glue)
        going = [i for job in runs.values() for i, state in job.items() if state in ("STARTING", "RUNNING")]
        if not going or time.monotonic() > give_up:
            return runs
        time.sleep(0.5)


def _run_point(env: Any, point: str, folder: Path) -> dict[str, Any]:
    import boto3

    from buildlib.execution_progress import execution_events, execution_failure
    from localaws import demo, faults
    from localaws.bridges import awslambda
    from localaws.demo_inputs import demo_datasets

    faults.configure(env.ctx, f"kill:{point}")
    awslambda.runtime().stop()  # warm workers hold the previous point's kills
    glue = boto3.client("glue", endpoint_url=env.ctx.endpoint_url, region_name=env.ctx.region)
    before = _glue_runs(glue)
    began = time.monotonic()
    machine = demo._state_machine_arn(env.sfn, demo.MAIN_MACHINE)
    name = f"crash-{uuid.uuid4().hex[:12]}"
    execution_arn = env.sfn.start_execution(stateMachineArn=machine, name=name)["executionArn"]
    datasets = demo_datasets()
    uploaded = False

    def upload_when_waiting(states: dict[str, Any]) -> None:
        nonlocal uploaded
        if not uploaded and all(s in states and states[s].status == demo.WAITING for s in demo.WAIT_STATES):
            uploaded = True
            for dataset in datasets:
                env.s3.upload_file(str(dataset.path), demo.DATA_BUCKET, dataset.key)

    progress = io.StringIO()
    try:
        status = demo.watch_execution(
            env.sfn, execution_arn, progress, on_progress=upload_when_waiting, deadline_s=POINT_DEADLINE_S
        )
    except demo.DemoFailed as exc:  # the deadline: the execution was stopped
        status = f"NOT DONE after {POINT_DEADLINE_S} s ({exc})"
    events = list(execution_events(env.sfn, execution_arn))
    failure = execution_failure(events)
    after = _settled_glue_runs(glue)
    observed: dict[str, Any] = {
        "ran": True,
        "status": status,
        "seconds": round(time.monotonic() - began, 1),
        "error": failure.error if failure else None,
        "cause": failure.cause if failure else None,
        "glue_runs": {
            job: [s for i, s in runs.items() if i not in before[job]] for job, runs in after.items()
        },
        "fired": (faults.report(env.ctx) or {"kills": {"fired": []}})["kills"]["fired"],
        # Tasks that came back only through their heartbeat timeout and the state's Retry.
        "heartbeat_timeouts": sum(1 for event in events if event.get("type") == "ActivityTimedOut"),
        "progress": progress.getvalue() if status != "SUCCEEDED" else "",
    }
    if status == "SUCCEEDED":
        folder.mkdir(parents=True, exist_ok=True)
        demo.collect_datasets(env.s3, folder, demo.DemoReport())
        observed["joined_csv"] = str(folder / "marketing-and-sales.csv")
    faults.configure(env.ctx, "")
    return observed


QUICK_RECOVERY = {"runner_task_heartbeat_s": 30, "wait_task_heartbeat_s": 10, "task_lease_s": 2}


def _tune_for_quick_recovery(env: Any) -> None:
    """Shorter heartbeats and lease on the deployed stacks (see the module docstring)."""
    import boto3

    from localaws import demo

    lam = boto3.client("lambda", endpoint_url=env.ctx.endpoint_url, region_name=env.ctx.region)
    settings = {
        "gluerunner": {
            "TASK_LEASE_SECONDS": str(QUICK_RECOVERY["task_lease_s"]),
            "POLL_LEASE_SECONDS": str(QUICK_RECOVERY["task_lease_s"]),
        },
        "ons3objectcreated": {"WAIT_HEARTBEAT_SECONDS": str(QUICK_RECOVERY["wait_task_heartbeat_s"])},
    }
    for function, extra in settings.items():
        variables = lam.get_function_configuration(FunctionName=function)["Environment"]["Variables"]
        lam.update_function_configuration(
            FunctionName=function, Environment={"Variables": {**variables, **extra}}
        )
    shorter = {120: QUICK_RECOVERY["wait_task_heartbeat_s"], 240: QUICK_RECOVERY["runner_task_heartbeat_s"]}

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
    kills every worker (see _run_point), and a run killed holding that lease keeps every other run from
    polling until it runs out. So end the untuned runs now, and start the points once the lease is free or
    held by a tuned run, as an operator's change would have settled."""
    import boto3

    from localaws.bridges import awslambda

    awslambda.runtime().stop()  # the untuned workers; the next invocations start tuned ones

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


def run_crash_points(result_path: Path, work: Path, points: list[str]) -> int:
    from localaws import demo

    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"deployed": False, "points": {}}

    def save() -> None:
        result_path.write_text(json.dumps(results, indent=1, default=str))

    save()
    with demo.deployed_environment(TIME_SCALE, sys.stdout, faults="") as env:
        _tune_for_quick_recovery(env)
        results["deployed"] = True
        for index, point in enumerate(points):
            print(f"\n===== crash point {point} =====", flush=True)
            try:
                results["points"][point] = _run_point(env, point, work / f"point-{index}")
            except Exception:  # noqa: BLE001 - recorded for the test to report
                results["points"][point] = {"ran": False, "error": traceback.format_exc()}
            print(
                json.dumps({k: v for k, v in results["points"][point].items() if k != "progress"}), flush=True
            )
            save()
    return 0


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[0] != "crashpoints":
        print(
            f"usage: {Path(__file__).name} crashpoints <result.json> <work folder> <point>...",
            file=sys.stderr,
        )
        return 2
    return run_crash_points(Path(argv[1]), Path(argv[2]), argv[3:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
