"""Bridge for Glue: StartJobRun really runs the job's unchanged PySpark script, in this process.

Modules: ``runs`` (moto's job runs patched: start, state, times, events, GetJobRun), ``script`` (one run's
script staged, run and logged), ``stop`` (BatchStopJobRun), ``size`` (GetJobRun's MaxCapacity).

moto records a job run and moves its state STARTING -> RUNNING -> SUCCEEDED by itself (a ``ManagedState``
advanced on every GetJobRun), never looking at the script. Here a StartJobRun:

1. still goes through moto (unknown job -> EntityNotFoundException, MaxConcurrentRuns, argument merging:
   DefaultArguments, then the run's Arguments, then NonOverridableArguments);
2. starts a worker thread that downloads ``Command.ScriptLocation`` and every ``--extra-py-files`` object
   from the endpoint's S3, and executes the script as ``__main__`` with the ``awsglue`` runtime of
   ``localaws/runtime/glue_runtime`` first on ``sys.path`` and the shared SparkSession
   (``localaws.runtime.spark``);
3. reports the real state: STARTING while staging, RUNNING while the script runs, then SUCCEEDED, or FAILED
   with ``ErrorMessage`` = ``"<ExceptionType>: <message> (at <script> line N[, <file> line M])"``: the
   script's line whose call failed and, when elsewhere, the innermost line of the run's own code (an
   ``--extra-py-files`` module); Spark's log of a failed run is kept (``localaws.runtime.spark.keep_log``)
   and its path written to the run's error log. StartedOn, LastModifiedOn, CompletedOn and ExecutionTime
   follow the run.

A run that ends SUCCEEDED, FAILED, TIMEOUT or STOPPED then (state first, so a target calling GetJobRun sees it
ended) puts Glue's "Glue Job State Change" event on the account's default EventBridge bus (events bridge):
source ``aws.glue``, resources ``[]``, detail ``{jobName, severity, state, jobRunId, message}`` with severity
INFO / ERROR / WARN / INFO and message "Job run succeeded", "JobName:<job> and JobRunId:<id> failed to execute
with exception <ErrorMessage>", "Job run timed out", "Job run stopped".

The script's argv is built like Glue's (``script.py --JOB_NAME <name> --JOB_RUN_ID <id> --k v ...``) and
handed to ``getResolvedOptions`` via a thread-local run context, because ``sys.argv`` is one per process and
runs execute in parallel. What the script prints goes to CloudWatch Logs (``/aws-glue/jobs/output`` and
``/aws-glue/jobs/error``, stream = run id) and to ``<work_dir>/glue-logs/<job>/<run id>.log``.
"""

from __future__ import annotations

from localaws.bridges.glue import runs, size, stop
from localaws.bridges.glue.runs import (
    BridgedRun,
    GlueBridgeError,
    _check_moto_shape,
    _state,
    bridged_run,
    job_state_change_detail,
)
from localaws.bridges.glue.script import ERROR_LOG_GROUP, GLUE_RUNTIME_DIR, OUTPUT_LOG_GROUP, build_argv
from localaws.bridges.glue.stop import stop_job_run
from localaws.context import LocalAwsContext

__all__ = [
    "ERROR_LOG_GROUP",
    "GLUE_RUNTIME_DIR",
    "OUTPUT_LOG_GROUP",
    "BridgedRun",
    "GlueBridgeError",
    "_check_moto_shape",
    "_state",
    "bridged_run",
    "build_argv",
    "install",
    "job_state_change_detail",
    "stop_job_run",
]


def install(ctx: LocalAwsContext) -> None:
    """Patch moto's Glue job runs (idempotent); the latest ``ctx`` is the one runs report to."""
    runs.install(ctx)
    stop.install()
    size.install()  # GetJobRun's MaxCapacity: the run's workers times their DPUs
