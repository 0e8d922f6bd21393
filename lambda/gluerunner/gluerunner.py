"""Glue Runner: starts AWS Glue job runs for Step Functions activity tasks and reports their outcome.

Task input (a JSON object, or a JSON string holding one):

- ``GlueJobName`` (required): the Glue job to run.
- ``GlueJobCapacity`` (optional, integer >= 2): DPUs, run as that many ``G.1X`` workers (1 DPU each).
- ``GlueWorkerType`` + ``GlueNumberOfWorkers`` (optional): explicit worker settings instead of a capacity.
- neither: the config's ``glue_job_capacity`` (or ``GLUE_JOB_CAPACITY``) applies as a capacity; ``null`` or
  absent there, the shipped value, leaves the run the job's own settings (glue-resources.yaml's
  ``GlueWorkerType``/``GlueNumberOfWorkers``), so the template is the one place a run's size is read from.
- every other key is passed as a job argument (``--`` added when missing; non-string values JSON-encoded).

Least privilege: ``ALLOWED_GLUE_JOBS`` and ``ALLOWED_GLUE_JOB_ARGUMENTS`` (comma-separated; the template sets
both from its parameters) limit which jobs a task may start and which arguments it may pass; anything else is
refused with ``GlueRunner.InvalidInput``. Unset, any job and argument is allowed (tests, local use).

Every run it starts carries the argument ``--etlrunner-task-ref`` (a digest of the task token), so that a run
that died between StartJobRun and recording it can be found again instead of started twice.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import etlrunner
from botocore.config import Config
from botocore.exceptions import ClientError
from etlrunner import CheckResult, Failed, InvalidInput, Running, Succeeded, iso8601, task_ref
from etlrunner.triggers import job_id_in_event

CONFIG_FILE = Path(__file__).with_name("gluerunner-config.json")
CONFIG_EXTRA_KEYS = {"glue_job_capacity": "GLUE_JOB_CAPACITY"}

# G.1X is 1 DPU per worker, so a DPU count maps to the same number of G.1X workers.
CAPACITY_WORKER_TYPE = "G.1X"
MIN_CAPACITY = 2
RESERVED_KEYS = frozenset({"GlueJobName", "GlueJobCapacity", "GlueWorkerType", "GlueNumberOfWorkers"})
MARKER_ARGUMENT = "--etlrunner-task-ref"
ALLOWED_JOBS_ENV = "ALLOWED_GLUE_JOBS"
ALLOWED_ARGUMENTS_ENV = "ALLOWED_GLUE_JOB_ARGUMENTS"
# How far back (newest first) a recovering run looks for the run of a task; a task is recovered within
# minutes of its claim, long before this many newer runs of the same job exist.
FIND_STARTED_MAX_RUNS = 500
# A start with its retries must end well within the core's task lease (TASK_LEASE_SECONDS, 120 s).
GLUE_CLIENT_CONFIG = Config(
    connect_timeout=5,
    read_timeout=20,
    retries={"mode": "standard", "total_max_attempts": 4},
    max_pool_connections=etlrunner.MAX_POOL_CONNECTIONS,
)
RUNNING_STATES = frozenset({"STARTING", "RUNNING", "STOPPING", "WAITING"})
FAILED_STATES = frozenset({"FAILED", "STOPPED", "TIMEOUT", "ERROR", "EXPIRED"})

etlrunner.configure_logging(__name__)


def worker_settings(task_input: Mapping[str, Any], default_capacity: int | None) -> dict[str, Any]:
    """The StartJobRun worker parameters for this task (empty: use the job's own settings)."""
    capacity = etlrunner.optional_int(task_input, "GlueJobCapacity", MIN_CAPACITY)
    worker_type = etlrunner.optional_str(task_input, "GlueWorkerType")
    workers = etlrunner.optional_int(task_input, "GlueNumberOfWorkers", 1)
    if capacity is not None and (worker_type is not None or workers is not None):
        raise InvalidInput("give either GlueJobCapacity or GlueWorkerType/GlueNumberOfWorkers, not both")
    if worker_type is not None and workers is None:
        raise InvalidInput("GlueWorkerType needs GlueNumberOfWorkers as well")
    if capacity is None and worker_type is None and workers is None:
        capacity = default_capacity
    if capacity is not None:
        return {"WorkerType": CAPACITY_WORKER_TYPE, "NumberOfWorkers": capacity}
    settings: dict[str, Any] = {}
    if worker_type is not None:
        settings["WorkerType"] = worker_type
    if workers is not None:
        settings["NumberOfWorkers"] = workers
    return settings


def allow_list(raw: str | None, prefix: str = "") -> frozenset[str] | None:
    """A comma-separated allow-list from the environment; None (unset) allows everything."""
    if raw is None:
        return None
    names = (name.strip() for name in raw.split(","))
    return frozenset(name if name.startswith(prefix) else prefix + name for name in names if name)


def job_arguments(task_input: Mapping[str, Any]) -> dict[str, str]:
    """Every non-reserved input key as a Glue job argument: Glue wants `--name` keys and string values."""
    arguments: dict[str, str] = {}
    for key, value in task_input.items():
        if key in RESERVED_KEYS:
            continue
        if key.startswith("Glue"):
            # Most likely a misspelt setting (GlueJobCapcity): passing it as an argument would hide it.
            raise InvalidInput(
                f"unknown key {key}; Glue Runner keys are {', '.join(sorted(RESERVED_KEYS))} "
                f"(write --{key} to pass it as a job argument)"
            )
        if not key or not key.lstrip("-"):
            raise InvalidInput(f"job argument name {json.dumps(key)} is empty")
        name = key if key.startswith("--") else f"--{key}"
        if name == MARKER_ARGUMENT:
            raise InvalidInput(f"{MARKER_ARGUMENT} is set by the Glue Runner itself and cannot be given")
        arguments[name] = value if isinstance(value, str) else json.dumps(value)
    return arguments


def _refuse_unlisted(kind: str, names: Iterable[str], allowed: frozenset[str] | None, env: str) -> None:
    if allowed is None:
        return
    refused = sorted(name for name in names if name not in allowed)
    if refused:
        listed = ", ".join(sorted(allowed)) or "none"
        raise InvalidInput(
            f"{kind} {', '.join(refused)} not allowed for this Glue Runner (allowed: {listed}; "
            f"set by the template parameter behind {env})"
        )


class GlueRunner:
    """The Glue mapping of the runner interface (see `etlrunner.Runner`)."""

    name = "GlueRunner"
    id_attribute = "glue_job_run_id"
    failure_error = "GlueJobFailedError"

    def __init__(
        self,
        glue: Any,
        default_capacity: int | None,
        allowed_jobs: frozenset[str] | None = None,
        allowed_arguments: frozenset[str] | None = None,
    ) -> None:
        self.glue = glue
        self.default_capacity = default_capacity
        self.allowed_jobs = allowed_jobs
        self.allowed_arguments = allowed_arguments

    def _job_name(self, task_input: Mapping[str, Any]) -> str:
        job_name = etlrunner.require_str(task_input, "GlueJobName")
        _refuse_unlisted("Glue job", [job_name], self.allowed_jobs, ALLOWED_JOBS_ENV)
        return job_name

    def start(self, task_input: Mapping[str, Any], task_token: str) -> dict[str, Any]:
        job_name = self._job_name(task_input)
        request: dict[str, Any] = {"JobName": job_name, **worker_settings(task_input, self.default_capacity)}
        arguments = job_arguments(task_input)
        _refuse_unlisted("job argument(s)", arguments, self.allowed_arguments, ALLOWED_ARGUMENTS_ENV)
        request["Arguments"] = {**arguments, MARKER_ARGUMENT: task_ref(task_token)}
        try:
            run_id = self.glue.start_job_run(**request)["JobRunId"]
        except ClientError as exc:
            message = etlrunner.client_error_message(exc)
            raise etlrunner.StartFailed(
                f"StartJobRun for Glue job {job_name} was refused: {message}"
            ) from exc
        return {"glue_job_run_id": run_id, "glue_job_name": job_name}

    def find_started(self, task_input: Mapping[str, Any], task_token: str) -> dict[str, Any] | None:
        """The run this task started, found by its marker argument among the job's newest runs."""
        job_name = self._job_name(task_input)
        marker = task_ref(task_token)
        seen = 0
        request: dict[str, Any] = {"JobName": job_name, "MaxResults": 50}
        while seen < FIND_STARTED_MAX_RUNS:
            page = self.glue.get_job_runs(**request)
            for job_run in page.get("JobRuns", []):
                seen += 1
                if (job_run.get("Arguments") or {}).get(MARKER_ARGUMENT) == marker:
                    return {"glue_job_run_id": job_run["Id"], "glue_job_name": job_name}
            if not page.get("NextToken"):
                break
            request["NextToken"] = page["NextToken"]
        return None

    def stop(self, fields: Mapping[str, Any]) -> None:
        """Stop a run the core could not record (BatchStopJobRun reports per-run errors in its answer)."""
        response = self.glue.batch_stop_job_run(
            JobName=str(fields["glue_job_name"]), JobRunIds=[str(fields["glue_job_run_id"])]
        )
        errors = response.get("Errors") or []
        if errors:
            detail = errors[0].get("ErrorDetail", {})
            raise RuntimeError(f"BatchStopJobRun: {detail.get('ErrorCode')}: {detail.get('ErrorMessage')}")

    @staticmethod
    def job_id_from_event(event: Mapping[str, Any]) -> str | None:
        """The run id of a "Glue Job State Change" event (the runner stack's rule sends the end states)."""
        return job_id_in_event(event, "aws.glue", "Glue Job State Change", "jobRunId")

    def check(self, item: Mapping[str, Any]) -> CheckResult:
        job_name = str(item["glue_job_name"])
        run_id = str(item["glue_job_run_id"])
        try:
            job_run = self.glue.get_job_run(JobName=job_name, RunId=run_id, PredecessorsIncluded=False)[
                "JobRun"
            ]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "EntityNotFoundException":
                raise
            # The job or run was deleted: it will never finish, so end the task instead of waiting forever.
            return Failed("NOT_FOUND", self._cause(job_name, run_id, "NOT_FOUND", str(exc)))
        state = str(job_run.get("JobRunState", "UNKNOWN"))
        if state == "SUCCEEDED":
            return Succeeded(
                state,
                {
                    "GlueJobName": job_name,
                    "GlueJobRunId": run_id,
                    "GlueJobRunState": state,
                    "GlueJobStartedOn": iso8601(job_run.get("StartedOn")),
                    "GlueJobCompletedOn": iso8601(job_run.get("CompletedOn")),
                    "GlueJobLastModifiedOn": iso8601(job_run.get("LastModifiedOn")),
                },
            )
        if state in FAILED_STATES:
            message = job_run.get("ErrorMessage") or f"Glue job run ended in state {state}"
            return Failed(state, self._cause(job_name, run_id, state, message))
        # RUNNING_STATES, and any state Glue adds later: keep the task alive rather than guess an outcome.
        return Running(state)

    @staticmethod
    def _cause(job_name: str, run_id: str, state: str, message: str) -> dict[str, Any]:
        return {
            "GlueJobName": job_name,
            "GlueJobRunId": run_id,
            "GlueJobRunState": state,
            "ErrorMessage": message,
        }


def build_runner(
    config: etlrunner.RunnerConfig, glue: Any | None = None, environ: Mapping[str, str] | None = None
) -> GlueRunner:
    env = os.environ if environ is None else environ
    capacity = config.int_setting("glue_job_capacity", MIN_CAPACITY, allow_null=True)
    return GlueRunner(
        glue if glue is not None else etlrunner.reused_client("glue", GLUE_CLIENT_CONFIG),
        capacity,
        allowed_jobs=allow_list(env.get(ALLOWED_JOBS_ENV)),
        allowed_arguments=allow_list(env.get(ALLOWED_ARGUMENTS_ENV), prefix="--"),
    )


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Entry point for the schedule, a job's state-change event and nudges (etlrunner/triggers.py)."""
    config = etlrunner.load_config(CONFIG_FILE, extra_keys=CONFIG_EXTRA_KEYS)
    return etlrunner.run(build_runner(config), config, etlrunner.default_clients(), context, event)
