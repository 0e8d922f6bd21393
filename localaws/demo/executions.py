"""Running the two workflows on a deployed environment: start an execution, upload the data when it waits,
follow its history to the end, and name the state where a failure began (``DemoFailed``).

What each workflow holds (its Task states, who works each, what each wait state waits for) is read from the
deployment (localaws/demo/workflow.py), never from lists in the code.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

import boto3

from buildlib.aws import retry_config
from buildlib.execution_progress import (
    WAITING,
    HistoryFollower,
    ProgressPrinter,
    execution_events,
    execution_failure,
    first_failure,
    state_progress,
)
from localaws.demo.hops import history, runner_hops
from localaws.demo.inputs import DatasetFile
from localaws.demo.report import DemoReport, say
from localaws.demo.workflow import DeployedWorkflow, read_workflow, split_s3_url, state_machine_arn

# The two workflows the demo runs (the sample's state machines). Their states, what works each one and where
# each Glue job writes are read from the deployment (localaws/demo/workflow.py).
MAIN_MACHINE = "MarketingAndSalesETLOrchestrator"
ATHENA_MACHINE = "AthenaRunnerTestETLOrchestrator"
# Not used by the demo (it finds the wait states in the deployed definition); kept for
# tests/e2e/test_e2e_faults.py, which uploads when these wait.
WAIT_STATES = ("Wait For Sales Data", "Wait For Marketing Data")
# A real run takes about a minute; this only stops a demo that would otherwise never end.
WORKFLOW_DEADLINE_S = 15 * 60


class DemoFailed(RuntimeError):
    """The workflow did not succeed; the message names the failed state and its cause."""

    def __init__(self, message: str, state: str | None = None) -> None:
        super().__init__(message)
        self.state = state  # the state where the failure began, when a workflow failed


def _state_machine_arn(sfn: Any, name: str) -> str:
    arn = state_machine_arn(sfn, name)
    if arn is None:
        raise DemoFailed(f"state machine {name} was not created; see the stack events above")
    return arn


def _client_like(client: Any, service: str) -> Any:
    """A client of ``service`` on the endpoint and region of ``client``, retrying as the demo's do."""
    session = boto3.session.Session()
    return session.client(
        service,
        endpoint_url=client.meta.endpoint_url,
        region_name=client.meta.region_name,
        config=retry_config(session),
    )


def deployed_workflow(sfn: Any, machine_arn: str) -> DeployedWorkflow:
    """The state machine as deployed: its Task states and who works each (workflow.py)."""
    return read_workflow(sfn, _client_like(sfn, "lambda"), machine_arn)


def watch_execution(
    sfn: Any,
    execution_arn: str,
    out: TextIO,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    deadline_s: float = WORKFLOW_DEADLINE_S,
    changes: threading.Event | None = None,
    workflow: DeployedWorkflow | None = None,
    stop_check: Callable[[dict[str, Any]], tuple[str, str | None] | None] | None = None,
) -> str:
    """Print each state's progress until the execution ends; return its final status.

    Each Task state is labelled by what works it (``workflow``, read from the deployment when not given). It
    looks every 0.2 s, or, given ``changes`` (set by the endpoint of this process at every history event:
    ``history_changes``), each time that is set, and at least every second. ``stop_check(states)`` returning
    (text, state) ends the watch at once with DemoFailed (an enforced IAM denial: localaws/iam/denials.py)."""
    described = sfn.describe_execution(executionArn=execution_arn)
    started = described["startDate"]
    workflow = workflow or deployed_workflow(sfn, described["stateMachineArn"])
    printer = ProgressPrinter(out, started, workflow.labels())
    follower = HistoryFollower(sfn, execution_arn)
    give_up = time.monotonic() + deadline_s
    while True:
        status = sfn.describe_execution(executionArn=execution_arn)["status"]
        states = state_progress(follower.refresh())
        printer.update(states)
        if on_progress is not None:
            on_progress(states)
        stop = stop_check(states) if stop_check is not None else None
        if stop is not None:
            raise DemoFailed(stop[0], state=stop[1])
        if status != "RUNNING":
            return status
        if time.monotonic() > give_up:
            sfn.stop_execution(
                executionArn=execution_arn, error="Demo.Deadline", cause="the demo gave up waiting"
            )
            raise DemoFailed(f"{execution_arn} was still running after {deadline_s:.0f} s; stopped it")
        if changes is None:
            time.sleep(0.2)
        else:
            changes.wait(1.0)
            changes.clear()  # what changed until now is in the next look


def history_changes(ctx: Any) -> threading.Event:
    """An event the endpoint ``ctx`` sets at every Step Functions history event of any execution."""
    changed = threading.Event()

    def listener(kind: str, fields: dict) -> None:
        if kind == "stepfunctions.history":
            changed.set()

    ctx.subscribe(listener)
    return changed


def _workflow_failed(sfn: Any, execution_arn: str, machine: str, status: str) -> DemoFailed:
    """DemoFailed naming the state where the failure began and the execution's error and cause."""
    events = list(execution_events(sfn, execution_arn))
    failed = first_failure(state_progress(events))
    failure = execution_failure(events)
    state = failed.name if failed else machine
    cause = failed.detail if failed else ""
    if failure is not None:
        cause = f"{failure.error}: {failure.cause}" if failure.cause else failure.error
    return DemoFailed(f"{machine} ended {status} in state '{state}': {cause}", state=state)


def uploads_for(workflow: DeployedWorkflow, datasets: list[DatasetFile]) -> list[tuple[DatasetFile, str]]:
    """(file, s3://bucket/key) for each wait state of the workflow, matched by key; DemoFailed naming the
    state when the demo has no file for what it waits for."""
    by_key = {dataset.key: dataset for dataset in datasets}
    uploads = []
    for state, s3_object in workflow.wait_states.items():
        dataset = by_key.get(split_s3_url(s3_object)[1])
        if dataset is None:
            known = ", ".join(sorted(by_key))
            raise DemoFailed(f"state '{state}' waits for {s3_object}; the demo uploads only {known}", state)
        uploads.append((dataset, s3_object))
    return uploads


def run_main_workflow(
    sfn: Any,
    s3: Any,
    datasets: list[DatasetFile],
    out: TextIO,
    on_uploaded: Callable[[], None] | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    changes: threading.Event | None = None,
    stop_check: Callable[[dict[str, Any]], tuple[str, str | None] | None] | None = None,
) -> str:
    """Start the ETL workflow, upload the data once every wait state waits for it, follow it to the end.

    The wait states and the object each waits for come from the deployment. ``on_uploaded()`` is called once
    the files are in S3, ``on_progress(states)`` at every look at the execution's history."""
    arn = _state_machine_arn(sfn, MAIN_MACHINE)
    workflow = deployed_workflow(sfn, arn)
    uploads = uploads_for(workflow, datasets)
    execution_arn = sfn.start_execution(stateMachineArn=arn, name=f"demo-{int(time.time())}")["executionArn"]
    say(out, f"\n▶ {MAIN_MACHINE}: started {execution_arn.rsplit(':', 1)[-1]}")
    uploaded = False

    def upload_when_waiting(states: dict[str, Any]) -> None:
        nonlocal uploaded
        if on_progress is not None:
            on_progress(states)
        waiting = all(s in states and states[s].status == WAITING for s in workflow.wait_states)
        if uploaded or not waiting:
            return
        uploaded = True
        for dataset, s3_object in uploads:
            bucket, key = split_s3_url(s3_object)
            s3.upload_file(str(dataset.path), bucket, key)
            say(out, f"  uploaded {dataset.path.name} → {s3_object}")
        if on_uploaded is not None:
            on_uploaded()

    status = watch_execution(
        sfn,
        execution_arn,
        out,
        on_progress=upload_when_waiting,
        changes=changes,
        workflow=workflow,
        stop_check=stop_check,
    )
    if status != "SUCCEEDED":
        raise _workflow_failed(sfn, execution_arn, MAIN_MACHINE, status)
    return execution_arn


def start_athena_workflow(sfn: Any, out: TextIO) -> str:
    """Start the sample Athena workflow; return its execution ARN."""
    arn = _state_machine_arn(sfn, ATHENA_MACHINE)
    execution_arn = sfn.start_execution(stateMachineArn=arn, name=f"demo-athena-{int(time.time())}")[
        "executionArn"
    ]
    say(out, f"\n▶ {ATHENA_MACHINE}: started {execution_arn.rsplit(':', 1)[-1]}")
    return execution_arn


def run_athena_workflow(
    sfn: Any,
    out: TextIO,
    report: DemoReport | None = None,
    execution_arn: str | None = None,
    changes: threading.Event | None = None,
    stop_check: Callable[[dict[str, Any]], tuple[str, str | None] | None] | None = None,
) -> dict[str, Any]:
    """Run the sample Athena workflow (or follow ``execution_arn``, one already started) to its end; return
    the Athena runner's task output."""
    if execution_arn is None:
        execution_arn = start_athena_workflow(sfn, out)
    else:
        say(out, f"\n▶ {ATHENA_MACHINE}: {execution_arn.rsplit(':', 1)[-1]}")
    status = watch_execution(sfn, execution_arn, out, changes=changes, stop_check=stop_check)
    if status != "SUCCEEDED":
        raise _workflow_failed(sfn, execution_arn, ATHENA_MACHINE, status)
    if report is not None:
        report.hops += [hop.as_dict() for hop in runner_hops(history(sfn, execution_arn))]
    return json.loads(sfn.describe_execution(executionArn=execution_arn)["output"])
