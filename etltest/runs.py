"""One execution run to its end through the deployed workflow, and what it produced (``Run``)."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from buildlib.execution_progress import (
    SUCCEEDED,
    WAITING,
    ExecutionFailure,
    HistoryFollower,
    execution_failure,
    first_failure,
    state_progress,
)
from etltest.environment import EtlEnvironment, KitError, wait_until
from localaws.demo.workflow import (
    glue_output_path,
    read_workflow,
    split_s3_url,
    state_machine_arn,
    task_output,
)

POLL_S = 0.25
# After an execution ends, a Glue run its failure left going (the other branch of a Parallel) must end
# before the next execution starts that job again (MaxConcurrentRuns 1).
SETTLE_TIMEOUT_S = 300
_BUSY = {"STARTING", "RUNNING", "STOPPING", "WAITING"}


@dataclass
class Failure:
    """Why an execution did not succeed: its error and cause, and the state where the failure began."""

    error: str
    cause: str
    state: str | None

    def __str__(self) -> str:
        where = f" in state '{self.state}'" if self.state else ""
        return f"{self.error}{where}: {self.cause}"


@dataclass
class Run:
    """An execution that ended: its status, history, failure and each Task state's output."""

    environment: EtlEnvironment = field(repr=False)
    execution_arn: str
    status: str
    history: list[dict[str, Any]] = field(repr=False)
    failure: Failure | None
    # Task state name -> what its worker sent (a Glue task: GlueJobName, GlueJobRunId, …).
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    _rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict, repr=False)

    def rows(self, name: str) -> list[dict[str, Any]]:
        """The output of a Glue job (by its name) or of a Task state (by its name) of this run, as rows:
        a Glue job's dataset (its ``--s3_output_path``), an Athena query's result (values as text)."""
        if name not in self._rows:
            self._rows[name] = self._read(name)
        return self._rows[name]

    def _read(self, name: str) -> list[dict[str, Any]]:
        output = self.outputs.get(name)
        if output is None:
            output = next((o for o in self.outputs.values() if o.get("GlueJobName") == name), None)
        if output is None:
            ran = sorted(
                {*self.outputs, *(o["GlueJobName"] for o in self.outputs.values() if "GlueJobName" in o)}
            )
            raise KitError(
                f"{name!r} is neither a Glue job nor a Task state that succeeded in this run: {ran}"
            )
        if "GlueJobName" in output:
            path = glue_output_path(self.environment.client("glue"), output["GlueJobName"])
            if path is None:
                raise KitError(
                    f"the Glue job {output['GlueJobName']} has no --s3_output_path default argument"
                )
            return self.environment.read_rows(path)
        if "AthenaQueryExecutionId" in output:
            return _query_result(self.environment, output["AthenaQueryExecutionId"])
        raise KitError(f"{name!r} ran neither a Glue job nor an Athena query: {output}")


def _query_result(environment: EtlEnvironment, query_id: str) -> list[dict[str, Any]]:
    athena = environment.client("athena")
    location = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["ResultConfiguration"]
    bucket, key = split_s3_url(location["OutputLocation"])
    body = environment.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    return list(csv.DictReader(io.StringIO(body)))


def _uploads(
    environment: EtlEnvironment, wait_states: dict[str, str], files: Mapping[str, str | Path]
) -> dict[str, tuple[str, Path]]:
    """Wait state -> (s3://bucket/key, local file), from ``files`` keyed by key or s3:// URL."""
    by_key = {split_s3_url(s3_object)[1]: (state, s3_object) for state, s3_object in wait_states.items()}
    uploads: dict[str, tuple[str, Path]] = {}
    for where, local in files.items():
        key = split_s3_url(where)[1] if where.startswith("s3://") else where.lstrip("/")
        if key not in by_key:
            expected = ", ".join(sorted(by_key)) or "none"
            raise KitError(
                f"no wait state waits for {where!r}; the workflow's wait states wait for: {expected}"
            )
        path = Path(local) if Path(local).is_absolute() else environment.root / local
        if not path.is_file():
            raise KitError(f"{where}: no file {path}")
        state, s3_object = by_key[key]
        uploads[state] = (s3_object, path)
    return uploads


def run_execution(
    environment: EtlEnvironment,
    machine: str,
    files: Mapping[str, str | Path],
    execution_input: dict[str, Any],
    timeout_s: float,
) -> Run:
    sfn = environment.client("stepfunctions")
    arn = state_machine_arn(sfn, machine)
    if arn is None:
        raise KitError(f"no state machine {machine} is deployed")
    workflow = read_workflow(sfn, environment.client("lambda"), arn)
    uploads = _uploads(environment, workflow.wait_states, files)
    # A job still running (a run a test left, or its own) would refuse this execution's start of it.
    _wait_for_glue_runs(environment)
    execution_arn = sfn.start_execution(stateMachineArn=arn, input=json.dumps(execution_input))[
        "executionArn"
    ]
    follower = HistoryFollower(sfn, execution_arn)
    try:
        status = _follow(
            environment, workflow, execution_arn, follower, uploads, time.monotonic() + timeout_s
        )
    finally:
        # Also after a KitError: a stopped execution's job runs on until its script ends.
        _wait_for_glue_runs(environment)
    events = follower.refresh()
    states = state_progress(events)
    return Run(
        environment=environment,
        execution_arn=execution_arn,
        status=status,
        history=events,
        failure=_failure(events, states),
        outputs={
            name: task_output(progress.output)
            for name, progress in states.items()
            if progress.state_type == "Task" and progress.status == SUCCEEDED
        },
    )


def _follow(
    environment: EtlEnvironment,
    workflow: Any,
    execution_arn: str,
    follower: HistoryFollower,
    uploads: dict[str, tuple[str, Path]],
    give_up: float,
) -> str:
    """Upload each file once its wait state waits; return the execution's final status."""
    sfn, s3 = environment.client("stepfunctions"), environment.client("s3")
    uploaded: set[str] = set()
    while True:
        status = sfn.describe_execution(executionArn=execution_arn)["status"]
        states = state_progress(follower.refresh())
        waiting = [
            state
            for state, progress in states.items()
            if state in workflow.wait_states and progress.status == WAITING and state not in uploaded
        ]
        # Checked before any upload: an upload no wait takes stays pending and would feed the next run.
        for state in waiting:
            if state not in uploads:
                sfn.stop_execution(
                    executionArn=execution_arn, error="Kit.NoFile", cause=f"nothing for {state}"
                )
                raise KitError(
                    f"state '{state}' waits for {workflow.wait_states[state]}: give run(files=) a file for "
                    f"{split_s3_url(workflow.wait_states[state])[1]!r}"
                )
        for state in waiting:
            bucket, key = split_s3_url(uploads[state][0])
            s3.upload_file(str(uploads[state][1]), bucket, key)
            uploaded.add(state)
        if status != "RUNNING":
            return status
        if time.monotonic() > give_up:
            sfn.stop_execution(executionArn=execution_arn, error="Kit.Timeout", cause="the test gave up")
            raise KitError(
                f"{workflow.name} was still running at the timeout; stopped it (log: {environment.log})"
            )
        time.sleep(POLL_S)


def _failure(events: list[dict[str, Any]], states: dict[str, Any]) -> Failure | None:
    ended: ExecutionFailure | None = execution_failure(events)
    if ended is None:
        return None
    failed = first_failure(states)
    return Failure(ended.error, ended.cause, failed.name if failed else None)


def _wait_for_glue_runs(environment: EtlEnvironment) -> None:
    glue = environment.client("glue")

    def settled() -> bool:
        for page in glue.get_paginator("get_jobs").paginate():
            for job in page["Jobs"]:
                runs = glue.get_job_runs(JobName=job["Name"])["JobRuns"]
                if any(run["JobRunState"] in _BUSY for run in runs):
                    return False
        return True

    wait_until("the Glue runs of the execution ending", settled, SETTLE_TIMEOUT_S)
