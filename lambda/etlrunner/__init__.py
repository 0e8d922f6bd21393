"""etlrunner: the core shared by every ETL runner Lambda (poll → start → track → check → report).

A runner Lambda is one small module plus this package, both at the root of the function's zip. Each
scheduled run of a runner:

1. calls ``GetActivityTask(activityArn, workerName)`` until no task comes back (empty token), stopping early
   when the Lambda has too little time left for another 60 s long poll;
2. for each task: FIRST records it in DynamoDB (a ``starting`` item: the token and the raw input), THEN parses
   the input and asks the runner to start the job, then swaps the ``starting`` item for the tracked job
   ``{sfn_activity_arn, <id attribute>, sfn_task_token, started_at, + the runner's fields}`` in one
   transaction. Bad input → ``SendTaskFailure(<Runner>.InvalidInput)``; a refused or crashed start →
   ``SendTaskFailure(<Runner>.StartFailed)``; a task that cannot be recorded is failed before anything starts,
   and a job whose record cannot be written is stopped and its task failed. A claimed task is always answered;
3. visits every item of the activity (paginated Query, ``ddb_query_limit`` per page, ``CHECK_CONCURRENCY``
   items at once, resuming after the last item a run that ran out of time reached):
   - a tracked job: the runner checks it; running → ``SendTaskHeartbeat``; ended → the item enters
     ``reporting`` by a conditional write (so of two overlapping runs only one answers), the outcome is
     sent (``SendTaskSuccess(output)`` / ``SendTaskFailure(<failure_error>, cause)``) and the item deleted.
     An outcome that cannot be sent stays in the item and a later run sends it;
   - a ``starting`` item whose run died (its lease ran out): ``find_started`` tells whether the job was
     started after all (Glue: the run's ``--etlrunner-task-ref`` argument; Athena: the query's
     ClientRequestToken); the job is tracked, or started now. Never started twice;
   - a token Step Functions no longer knows (``TaskTimedOut``, ``InvalidToken``, ``TaskDoesNotExist``): the
     job is stopped (nobody wants its result) and the item deleted. A check that raises is retried by later
     runs, with heartbeats, and after ``MAX_CHECK_FAILURES`` (5) in a row the task is failed.

How to add a runner (e.g. EMR steps or DMS tasks)
--------------------------------------------------
Write ``lambda/<runner>/<runner>.py`` with a class satisfying :class:`etlrunner.Runner`::

    class EmrRunner:
        name = "EmrRunner"                  # errors: EmrRunner.InvalidInput / EmrRunner.StartFailed
        id_attribute = "emr_step_id"        # the DynamoDB table's range key
        failure_error = "EmrStepFailedError"

        def __init__(self, emr_client): ...

        def start(self, task_input, task_token) -> dict:
            # validate with etlrunner.require_str / optional_str / optional_int (they raise InvalidInput),
            # call the service (a botocore ClientError becomes StartFailed), and return the fields to store:
            return {"emr_step_id": step_id, "emr_cluster_id": cluster_id}

        def check(self, item) -> Running | Succeeded | Failed:
            # describe item["emr_step_id"] and map the service's state:
            return Succeeded(state, output={...})   # or Running(state) / Failed(state, cause={...})

and a handler::

    def handler(event, context):
        config = etlrunner.load_config(Path(__file__).with_name("emrrunner-config.json"))
        return etlrunner.run(EmrRunner(boto3.client("emr")), config, etlrunner.default_clients(), context)

and, optionally, ``find_started(task_input, task_token)`` and ``stop(fields)`` (see
:class:`etlrunner.interface.Recoverable`) so that a run that died mid-start is recovered without a second job,
plus ``emrrunner-config.json`` with the common keys (``sfn_activity_arn``, ``sfn_worker_name``, ``ddb_table``,
``ddb_query_limit``; the env vars ``SFN_ACTIVITY_ARN``, ``SFN_WORKER_NAME``, ``DDB_TABLE`` and
``DDB_QUERY_LIMIT`` win over the file).
Runner-specific keys are declared with ``load_config(..., extra_keys={"key": "ENV_VAR"})`` and read with
``RunnerConfig.int_setting``. Output values must be JSON-serialisable (use :func:`iso8601` for times).
"""

from __future__ import annotations

import logging
import os

from etlrunner.clients import (
    MAX_POOL_CONNECTIONS,
    SFN_CLIENT_CONFIG,
    Clients,
    default_clients,
    reused_client,
    sfn_client,
)
from etlrunner.config import NO_DEFAULT, ConfigError, RunnerConfig, load_config
from etlrunner.engine import run
from etlrunner.inputs import optional_int, optional_str, parse_task_input, require_str
from etlrunner.interface import CheckResult, Failed, InvalidInput, Runner, Running, StartFailed, Succeeded
from etlrunner.sfn import client_error_message, iso8601, task_ref
from etlrunner.summary import RunSummary

__all__ = [
    "MAX_POOL_CONNECTIONS",
    "NO_DEFAULT",
    "SFN_CLIENT_CONFIG",
    "CheckResult",
    "Clients",
    "ConfigError",
    "Failed",
    "InvalidInput",
    "RunSummary",
    "Runner",
    "RunnerConfig",
    "Running",
    "StartFailed",
    "Succeeded",
    "client_error_message",
    "configure_logging",
    "default_clients",
    "iso8601",
    "load_config",
    "optional_int",
    "optional_str",
    "parse_task_input",
    "require_str",
    "reused_client",
    "run",
    "sfn_client",
    "task_ref",
]


def configure_logging(*names: str) -> None:
    """Let INFO lines through: the Lambda runtime leaves the root logger at WARNING.

    `LOG_LEVEL` (e.g. DEBUG, WARNING) changes the level without a code change.
    """
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    for name in ("etlrunner", *names):
        logging.getLogger(name).setLevel(level)
    if not logging.getLogger().handlers:
        # Outside Lambda (local runs, the demo) nothing prints otherwise.
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s %(message)s")
