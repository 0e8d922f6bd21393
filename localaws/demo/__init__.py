"""The one-command demo: deploy the unchanged project on the local endpoint, run both workflows for real.

The room holds, one concern a module:

- ``run``: ``run_demo`` (what `pynt demo` runs), from the input check to summary.json;
- ``environment``: ``deployed_environment``, a local endpoint in this process with the project deployed on it;
- ``executions``: starting and following the two workflows, ``DemoFailed`` naming where a failure began;
- ``report``: ``DemoReport`` (summary.json) and the printed summary;
- ``clocks``: the wall-clock time inside Glue jobs and Athena queries, from the endpoint's events;
- ``inputs`` / ``outputs``: the user's CSV files checked before anything deploys; the datasets and query
  results copied out after;
- ``workflow``: a workflow as deployed (its Task states, who works each, where each Glue job writes);
- ``hops`` / ``timeline``: each runner hop's latency, and the run drawn as timeline.svg, from the histories;
- ``fault_matrix``: the main workflow once per fault point (``python -m localaws.demo.fault_matrix``).

The names callers use are kept here. ``run_demo`` finds ``deployed_environment`` on this package when it
runs, so a caller may stand in for it here.
"""

from buildlib.execution_progress import WAITING
from buildlib.local_params import ARTIFACT_BUCKET, DATA_BUCKET, LOCAL_VALUES
from localaws.demo.clocks import IntervalClock
from localaws.demo.environment import (
    DEFAULT_TIME_SCALE,
    DEMO_PARAMETERS,
    IAM_AUDIT_FILE,
    ROOT,
    DemoEnvironment,
    _client,
    _fake_aws_environment,
    deploy_project,
    deployed_environment,
    require_java,
)
from localaws.demo.executions import (
    ATHENA_MACHINE,
    MAIN_MACHINE,
    WAIT_STATES,
    WORKFLOW_DEADLINE_S,
    DemoFailed,
    _state_machine_arn,
    deployed_workflow,
    history_changes,
    run_athena_workflow,
    run_main_workflow,
    start_athena_workflow,
    uploads_for,
    watch_execution,
)
from localaws.demo.outputs import collect_datasets
from localaws.demo.report import DemoReport, print_summary, unfired_kills
from localaws.demo.run import DEFAULT_OUTPUT_DIR, check_kills_name_deployed_functions, run_demo

__all__ = [
    "ARTIFACT_BUCKET",
    "ATHENA_MACHINE",
    "DATA_BUCKET",
    "DEFAULT_OUTPUT_DIR",
    "DEFAULT_TIME_SCALE",
    "DEMO_PARAMETERS",
    "IAM_AUDIT_FILE",
    "LOCAL_VALUES",
    "MAIN_MACHINE",
    "ROOT",
    "WAITING",
    "WAIT_STATES",
    "WORKFLOW_DEADLINE_S",
    "DemoEnvironment",
    "DemoFailed",
    "DemoReport",
    "IntervalClock",
    "_client",
    "_fake_aws_environment",
    "_state_machine_arn",
    "check_kills_name_deployed_functions",
    "collect_datasets",
    "deploy_project",
    "deployed_environment",
    "deployed_workflow",
    "history_changes",
    "print_summary",
    "require_java",
    "run_athena_workflow",
    "run_demo",
    "run_main_workflow",
    "start_athena_workflow",
    "unfired_kills",
    "uploads_for",
    "watch_execution",
]
