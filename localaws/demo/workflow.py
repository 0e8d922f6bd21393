"""A workflow as it is deployed: its Task states, what works each one, and where each Glue job writes.

The demo and the test kit (``etltest``) read the workflow from the deployment, never from lists in the code,
so a job a user adds is labelled, followed, uploaded for, copied and counted without a code change:

- the state machine's definition (``DescribeStateMachine``): every Task state, inside Parallel branches and
  Map iterators too, and the activity it names;
- who polls that activity, from the deployed functions' environment (``ListFunctions``): a runner names its
  activity in ``SFN_ACTIVITY_ARN``, ``ons3objectcreated`` maps each expected object to its wait activity in
  ``WAIT_ACTIVITIES`` (``{"s3://bucket/key": "<activity ARN>"}``);
- a Glue job's output: the ``--s3_output_path`` of its ``DefaultArguments`` (``GetJob``);
- which job or query a runner task ran: its output (``GlueJobName``, ``AthenaQueryExecutionId``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

RUNNER_ACTIVITY_VARIABLE = "SFN_ACTIVITY_ARN"
WAIT_ACTIVITIES_VARIABLE = "WAIT_ACTIVITIES"
# The Glue jobs' contract with the demo and the test kit: where a job writes its dataset.
OUTPUT_PATH_ARGUMENT = "--s3_output_path"
WAITING_FOR_DATA = "waiting for data"
DATA_ARRIVED = "data arrived"


@dataclass(frozen=True)
class TaskState:
    """One Task state and what works it: a runner function, or the upload of one S3 object."""

    name: str
    resource: str  # the activity ARN (or another Task resource)
    runner: str | None = None  # the Lambda function that polls the activity
    waits_for: str | None = None  # s3://bucket/key: its upload releases the task

    def label(self, status: str) -> str | None:
        """A word for the progress view (None: the status itself says it)."""
        if self.waits_for is not None:  # started: ons3objectcreated took the task for an upload
            return {"waiting": WAITING_FOR_DATA, "running": DATA_ARRIVED}.get(status)
        if self.runner is not None:
            return {"waiting": f"waiting for {self.runner}", "running": f"running ({self.runner})"}.get(
                status
            )
        return None


@dataclass
class DeployedWorkflow:
    """A deployed state machine: its definition and its Task states by name."""

    name: str
    arn: str
    definition: dict[str, Any]
    tasks: dict[str, TaskState] = field(default_factory=dict)

    @property
    def wait_states(self) -> dict[str, str]:
        """Task states released by an upload: state name -> s3://bucket/key."""
        return {name: task.waits_for for name, task in self.tasks.items() if task.waits_for is not None}

    def labels(self) -> dict[str, str]:
        """``"<state>:<status>" -> label`` for buildlib.execution_progress.ProgressPrinter."""
        labels = {}
        for name, task in self.tasks.items():
            for status in ("waiting", "running"):
                label = task.label(status)
                if label is not None:
                    labels[f"{name}:{status}"] = label
        return labels


def states_of(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state of an ASL definition, those inside Parallel branches and Map iterators included."""
    for name, state in (definition.get("States") or {}).items():
        yield name, state
        for branch in state.get("Branches") or []:
            yield from states_of(branch)
        for inner in (state.get("ItemProcessor"), state.get("Iterator")):
            if isinstance(inner, dict):
                yield from states_of(inner)


def activity_workers(lambda_client: Any) -> tuple[dict[str, str], dict[str, str]]:
    """(activity ARN -> runner function, activity ARN -> s3://bucket/key it waits for), from the deployed
    functions' environment variables."""
    runners: dict[str, str] = {}
    waits: dict[str, str] = {}
    for page in lambda_client.get_paginator("list_functions").paginate():
        for function in page["Functions"]:
            variables = (function.get("Environment") or {}).get("Variables") or {}
            if variables.get(RUNNER_ACTIVITY_VARIABLE):
                runners[variables[RUNNER_ACTIVITY_VARIABLE]] = function["FunctionName"]
            try:
                expected = json.loads(variables.get(WAIT_ACTIVITIES_VARIABLE) or "{}")
            except ValueError:
                continue
            if isinstance(expected, dict):
                waits.update({str(arn): str(s3_object) for s3_object, arn in expected.items()})
    return runners, waits


def state_machine_arn(sfn: Any, name: str) -> str | None:
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                return machine["stateMachineArn"]
    return None


def read_workflow(sfn: Any, lambda_client: Any, machine_arn: str) -> DeployedWorkflow:
    """The deployed state machine ``machine_arn``, each Task state with what works it."""
    described = sfn.describe_state_machine(stateMachineArn=machine_arn)
    definition = json.loads(described["definition"])
    runners, waits = activity_workers(lambda_client)
    tasks = {
        name: TaskState(
            name,
            state.get("Resource", ""),
            runners.get(state.get("Resource", "")),
            waits.get(state.get("Resource", "")),
        )
        for name, state in states_of(definition)
        if state.get("Type") == "Task"
    }
    return DeployedWorkflow(described["name"], machine_arn, definition, tasks)


def glue_output_path(glue: Any, job_name: str) -> str | None:
    """Where the Glue job writes: its ``--s3_output_path`` default argument (None: it names none)."""
    job = glue.get_job(JobName=job_name)["Job"]
    path = (job.get("DefaultArguments") or {}).get(OUTPUT_PATH_ARGUMENT)
    return path or None


def dataset_name(output_path: str) -> str:
    """The dataset's name: the last folder of its output path (``s3://b/etl-output/sales/`` -> ``sales``)."""
    return output_path.rstrip("/").rsplit("/", 1)[-1]


def split_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix/`` -> ("bucket", "prefix/")."""
    bucket, _, key = url.removeprefix("s3://").partition("/")
    return bucket, key


def task_output(raw: str | None) -> dict[str, Any]:
    """A runner task's output as an object ({} when it is none or not an object)."""
    try:
        output = json.loads(raw or "{}")
    except ValueError:
        return {}
    return output if isinstance(output, dict) else {}
