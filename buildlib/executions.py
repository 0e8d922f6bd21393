"""Step Functions executions: start one, and show where the latest (or a given) one stands."""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from buildlib.aws import aws_errors, error_code
from buildlib.errors import BuildError
from buildlib.execution_progress import attribute_events
from buildlib.project import DEFAULT_STATE_MACHINE, Project
from buildlib.stacks import print_table

# `pynt executionstatus` exits with this code for an execution that ended without succeeding (1 stays "the
# command itself failed"), so a script can wait on it: 0 for SUCCEEDED and RUNNING.
ENDED_UNSUCCESSFULLY = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})
UNSUCCESSFUL_EXIT_CODE = 3


def status_exit_code(status: str) -> int:
    return UNSUCCESSFUL_EXIT_CODE if status in ENDED_UNSUCCESSFULLY else 0


def state_machine_arn(project: Project, machine: str = DEFAULT_STATE_MACHINE) -> str:
    """The ARN of the state machine named `machine`; BuildError listing the existing ones when absent."""
    names = []
    with aws_errors("listing state machines"):
        for page in project.aws.client("stepfunctions").get_paginator("list_state_machines").paginate():
            for item in page["stateMachines"]:
                if item["name"] == machine:
                    return item["stateMachineArn"]
                names.append(item["name"])
    existing = f"existing: {', '.join(sorted(names))}" if names else "none exist yet"
    raise BuildError(
        f"state machine {machine} not found ({existing}): "
        "create it with pynt createstack[step-functions-resources]"
    )


def start_execution(
    project: Project,
    machine: str = DEFAULT_STATE_MACHINE,
    input: dict | str | None = None,
    name: str | None = None,
) -> str:
    """Start an execution of `machine`; prints and returns its ARN."""
    arn = state_machine_arn(project, machine or DEFAULT_STATE_MACHINE)
    payload = input if isinstance(input, str) else json.dumps(input or {})
    kwargs = {"stateMachineArn": arn, "input": payload}
    if name:
        kwargs["name"] = name
    with aws_errors(f"starting an execution of {machine}"):
        execution_arn = project.aws.client("stepfunctions").start_execution(**kwargs)["executionArn"]
    project.out(execution_arn)
    return execution_arn


def latest_execution(project: Project, machine: str = DEFAULT_STATE_MACHINE) -> str:
    arn = state_machine_arn(project, machine)
    with aws_errors(f"listing executions of {machine}"):
        sfn = project.aws.client("stepfunctions")
        items = sfn.list_executions(stateMachineArn=arn, maxResults=100)["executions"]
    if not items:
        raise BuildError(f"{machine} has no executions yet: start one with pynt startexecution[{machine}]")
    return max(items, key=lambda e: e["startDate"])["executionArn"]


def _details(event: dict) -> dict:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            return value
    return {}


def _detail_text(event: dict) -> str:
    details = _details(event)
    if "error" in details or "cause" in details:
        cause = str(details.get("cause", ""))
        return f"{details.get('error', '')}: {cause[:200]}".strip(": ")
    if "resource" in details:
        return str(details["resource"])
    return ""


def state_events(history: list[dict]) -> list[dict]:
    """Each state's last event, in the order the states were entered: {State, Event, Time, Detail}."""
    last: dict[str, dict] = {}  # insertion order = the order the states were first entered
    for event, state in attribute_events(history):
        if state is not None:  # None: the execution's own events belong to no state
            last[state] = event
    rows = []
    for state, event in last.items():
        stamp = event.get("timestamp")
        rows.append(
            {
                "State": state,
                "Event": event["type"],
                "Time": stamp.strftime("%Y-%m-%d %H:%M:%S") if hasattr(stamp, "strftime") else "",
                "Detail": _detail_text(event),
            }
        )
    return rows


def execution_status(project: Project, arn: str | None = None, machine: str = DEFAULT_STATE_MACHINE) -> dict:
    """Print the execution's status and each state's last event (no ARN: the latest of `machine`)."""
    arn = arn or latest_execution(project, machine)
    sfn = project.aws.client("stepfunctions")
    with aws_errors("describing the execution"):
        try:
            execution = sfn.describe_execution(executionArn=arn)
        except ClientError as exc:
            if error_code(exc) in {"ExecutionDoesNotExist", "InvalidArn"}:
                raise BuildError(
                    f"execution {arn} not found ({error_code(exc)}): pass an execution ARN printed by "
                    "pynt startexecution, or none for the latest"
                ) from exc
            raise
    history: list[dict] = []
    with aws_errors("reading the execution history"):
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
            history.extend(page["events"])
    rows = state_events(history)
    project.out(f"execution {arn}")
    project.out(f"status    {execution['status']}")
    if execution.get("error") or execution.get("cause"):
        project.out(f"error     {execution.get('error', '')}: {str(execution.get('cause', ''))[:300]}")
    if rows:
        print_table(project, rows, ["State", "Event", "Time", "Detail"])
    else:
        project.out("no state has been entered yet")
    return {"executionArn": arn, "status": execution["status"], "states": rows}
