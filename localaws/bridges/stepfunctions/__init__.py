"""Step Functions bridge: moto's executing engine (``execute_state_machine``) runs activity tasks as AWS does.

moto 5.2.5 parses and runs state machines (``moto.stepfunctions.parser``) but its HTTP front end lacks what an
activity worker needs. Each patch is small, named ``_patch_<gap>`` and says which moto gap it fills; each
module's docstring describes its gaps in full. The gaps, by module:

- ``activities``: 1. one activity store per account/region, shared by every execution; 2. GetActivityTask
  over HTTP, as a long poll; 3. SendTaskHeartbeat for tasks without HeartbeatSeconds; 5. activity input is
  the JSON text of the effective task input; 6. a task nobody picks up times out as States.Timeout;
  8. a task token -> task index (O(1) token calls; InvalidToken / TaskTimedOut as on AWS).
- ``errors``: 7. errors named ``States.*`` keep their name when re-thrown or propagated; 10. a heartbeat
  timeout matches ``States.HeartbeatTimeout`` as well as ``States.Timeout``.
- ``executions``: the execution that uses the shared store (1); 9. StopExecution ends an execution waiting on
  a task; 16. one thread per waiting execution (``Deadlines``).
- ``shapes``: 4. SendTaskFailure keeps its cause; 11. SendTaskSuccess/SendTaskFailure refuse what AWS
  refuses; 12. GetExecutionHistory pages as AWS does; 13. DescribeExecution/ListExecutions/ListStateMachines
  shapes; 15. an execution started without a name gets a UUID.
- ``status_events``: 14. "Step Functions Execution Status Change" events to EventBridge.
- ``history``: a stopped execution records nothing after its ExecutionAborted; 17. (not a gap: a local
  convenience) every history event is also told to the endpoint's in-process listeners
  (``ctx.emit("stepfunctions.history")``).
- ``request_rules``: execution input that is not JSON, AWS's name rules for activities, state machines and
  executions, CreateActivity's idempotency.

The patches are process-wide (moto's backends are too); the context of the last installed ``LocalAws``
(``context``) is the one whose time scale the long poll uses.
"""

from __future__ import annotations

from localaws.bridges.stepfunctions import (
    activities,
    errors,
    executions,
    history,
    request_rules,
    shapes,
)
from localaws.bridges.stepfunctions.activities import (
    GET_ACTIVITY_TASK_LONG_POLL_SECONDS,
    PolledActivity,
    SharedActivityStore,
    TaskRecord,
    activity_store,
    end_open_polls,
    get_activity_task,
)
from localaws.bridges.stepfunctions.context import _state
from localaws.bridges.stepfunctions.executions import (
    STOP_WAIT_SECONDS,
    Deadlines,
    ExecutionActivityStore,
    SharedActivityStoreExecution,
)
from localaws.bridges.stepfunctions.shapes import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    MAX_TASK_CAUSE_CHARS,
    MAX_TASK_ERROR_CHARS,
    MAX_TASK_OUTPUT_BYTES,
    check_task_failure,
    check_task_output,
    describe_execution_shape,
    execution_history_page,
)
from localaws.bridges.stepfunctions.status_events import (
    STATUS_CHANGE_DETAIL_TYPE,
    STATUS_CHANGE_SOURCE,
    emit_status_change,
    status_change_detail,
)
from localaws.context import LocalAwsContext

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "GET_ACTIVITY_TASK_LONG_POLL_SECONDS",
    "MAX_PAGE_SIZE",
    "MAX_TASK_CAUSE_CHARS",
    "MAX_TASK_ERROR_CHARS",
    "MAX_TASK_OUTPUT_BYTES",
    "STATUS_CHANGE_DETAIL_TYPE",
    "STATUS_CHANGE_SOURCE",
    "STOP_WAIT_SECONDS",
    "Deadlines",
    "ExecutionActivityStore",
    "PolledActivity",
    "SharedActivityStore",
    "SharedActivityStoreExecution",
    "TaskRecord",
    "activity_store",
    "check_task_failure",
    "check_task_output",
    "describe_execution_shape",
    "emit_status_change",
    "end_open_polls",
    "execution_history_page",
    "get_activity_task",
    "install",
    "status_change_detail",
]


def install(ctx: LocalAwsContext) -> None:
    """Patch moto's Step Functions in-process; safe to call again (only the context is replaced)."""
    _state["ctx"] = ctx
    # Patches of one attribute keep their order (each module installs its own in order): SendTaskFailure's
    # cause (4) before its checks (11); history notifications (17) before the seal of a stopped history.
    executions.install()
    activities.install()
    shapes.install()
    errors.install()
    request_rules.install()  # names, execution input and CreateActivity as AWS treats them
    history.install()  # listeners hear every event; a stopped execution's history ends with ExecutionAborted
