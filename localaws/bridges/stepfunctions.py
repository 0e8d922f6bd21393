"""Step Functions bridge: moto's executing engine (``execute_state_machine``) runs activity tasks as AWS does.

moto 5.2.5 parses and runs state machines (``moto.stepfunctions.parser``) but its HTTP front end lacks what an
activity worker needs. Each patch below is small, named ``_patch_<gap>`` and says which moto gap it fills:

1. ``_patch_shared_activity_store``: executions get ``activity_store={}``, so every activity task fails with
   States.Runtime ("activity does not exist"). Executions now share one store per account/region that mirrors
   the backend's activities (created by CreateActivity or CloudFormation, gone after DeleteActivity).
2. ``_patch_get_activity_task``: GetActivityTask is not routed over HTTP. Implemented with an AWS-like long
   poll (60 s, scaled by ``ctx.scaled``) that wakes as soon as a task is queued, and that tells the execution
   the task started (ActivityStarted + worker name) before answering, since an outcome only counts after that.
3. ``_patch_heartbeat_without_heartbeat_seconds``: SendTaskHeartbeat answers InvalidToken for a task without
   HeartbeatSeconds; AWS accepts it. (Also: an outcome sent before the engine armed its heartbeat watch was
   only seen after HeartbeatSeconds, and then as a heartbeat timeout.)
4. ``_patch_send_task_failure_cause``: SendTaskFailure dropped ``cause``.
5. ``_patch_activity_input_json``: a string state input reached the worker raw; AWS hands the worker the JSON
   text of the effective task input, so a string arrives JSON-encoded (``"\\"{...}\\""``).
6. ``_patch_activity_start_timeout``: the engine's wait for a worker to pick the task up read an unset
   attribute when it timed out (AttributeError -> States.Runtime instead of States.Timeout).
7. ``_patch_reserved_error_names``: an error named ``States.*`` that a Fail state re-throws (a caught
   ``States.Timeout`` through ``ErrorPath``, as the "ETL Job Failed" state does) or that leaves a Parallel
   branch or Map iteration (a task in a branch timed out) raised ValueError, so the execution ended
   States.Runtime and no Catch saw the real error; AWS keeps the error.

The patches are process-wide (moto's backends are too); the context of the last installed ``LocalAws`` is the
one whose time scale the long poll uses.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping

from moto.core.responses import ActionResult, EmptyResult
from moto.stepfunctions import responses as sfn_responses
from moto.stepfunctions.models import StepFunctionBackend
from moto.stepfunctions.parser import models as parser_models
from moto.stepfunctions.parser.api import ExecutionStatus
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
    iteration_worker as sfn_iteration_worker,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import (
    branches_decl as sfn_branches_decl,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_activitiy import (
    StateTaskActivity,
)
from moto.stepfunctions.parser.asl.component.state.fail import state_fail as sfn_state_fail
from moto.stepfunctions.parser.asl.eval.callback import callback as sfn_callback
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str
from moto.stepfunctions.parser.backend.activity import Activity, ActivityTask
from moto.stepfunctions.parser.backend.execution import Execution

from localaws.context import LocalAwsContext

# AWS holds a GetActivityTask call open for up to 60 seconds when no task is waiting.
GET_ACTIVITY_TASK_LONG_POLL_SECONDS = 60.0

_PATCH_MARK = "_localaws_stepfunctions_patch"
_state: dict[str, LocalAwsContext] = {}


def install(ctx: LocalAwsContext) -> None:
    """Patch moto's Step Functions in-process; safe to call again (only the context is replaced)."""
    _state["ctx"] = ctx
    _patch_shared_activity_store()
    _patch_get_activity_task()
    _patch_heartbeat_without_heartbeat_seconds()
    _patch_send_task_failure_cause()
    _patch_activity_input_json()
    _patch_activity_start_timeout()
    _patch_reserved_error_names()


def _long_poll_seconds() -> float:
    ctx = _state.get("ctx")
    return ctx.scaled(GET_ACTIVITY_TASK_LONG_POLL_SECONDS) if ctx else GET_ACTIVITY_TASK_LONG_POLL_SECONDS


def _already_patched(owner: object, name: str) -> bool:
    return getattr(getattr(owner, name, None), _PATCH_MARK, False)


def _mark(func):
    setattr(func, _PATCH_MARK, True)
    return func


# --- 1. one activity store per account/region, shared by every execution -------------------------------


class PolledActivity(Activity):
    """moto's parser Activity with a Condition, so a GetActivityTask long poll wakes when a task is queued."""

    def __init__(self, arn: str, name: str) -> None:
        super().__init__(arn=arn, name=name)
        self._condition = threading.Condition()

    def add_task(self, task: ActivityTask) -> None:
        with self._condition:
            super().add_task(task)
            self._condition.notify()

    def get_task(self) -> ActivityTask | None:
        """The next queued task, or None (moto's raises IndexError on an empty queue)."""
        with self._condition:
            return self._tasks.popleft() if self._tasks else None

    def poll(self, deadline: float) -> ActivityTask | None:
        """The next task, waiting until ``deadline`` (time.monotonic()) for one to be queued."""
        with self._condition:
            while not self._tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._condition.wait(remaining)
            return self._tasks.popleft()


class SharedActivityStore(Mapping):
    """Activity ARN -> PolledActivity, following the backend's activities (CreateActivity/DeleteActivity).

    The engine only asks ``store.get(arn)`` when it schedules a task, so a live view needs no hook on
    create/delete: an activity is known exactly while the backend knows it.
    """

    def __init__(self, backend: StepFunctionBackend) -> None:
        self._backend = backend
        self._activities: dict[str, PolledActivity] = {}
        self._lock = threading.Lock()

    def __getitem__(self, arn: str) -> PolledActivity:
        with self._lock:
            known = self._backend.activities.get(arn)
            if known is None:
                self._activities.pop(arn, None)  # deleted: its queued tasks go with it
                raise KeyError(arn)
            activity = self._activities.get(arn)
            if activity is None:
                activity = self._activities[arn] = PolledActivity(arn=arn, name=known.name)
            return activity

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._backend.activities))

    def __len__(self) -> int:
        return len(self._backend.activities)


def activity_store(backend: StepFunctionBackend) -> SharedActivityStore:
    """The activity store of one Step Functions backend (one account/region), created on first use."""
    store = backend.__dict__.get("_localaws_activity_store")
    if store is None:
        store = backend.__dict__.setdefault("_localaws_activity_store", SharedActivityStore(backend))
    return store


class SharedActivityStoreExecution(Execution):
    """An Execution that ignores the empty ``activity_store`` moto's parser backend gives it."""

    def __init__(self, *args, **kwargs) -> None:
        backend = parser_models.stepfunctions_parser_backends[kwargs["account_id"]][kwargs["region_name"]]
        kwargs["activity_store"] = activity_store(backend)
        super().__init__(*args, **kwargs)


def _patch_shared_activity_store() -> None:
    # moto gap: StepFunctionsParserBackend.start_execution builds Execution(..., activity_store={}).
    # start_execution looks the name up in its module, so swapping the module's Execution is enough.
    if parser_models.Execution is not SharedActivityStoreExecution:
        parser_models.Execution = SharedActivityStoreExecution


# --- 2. GetActivityTask over HTTP ----------------------------------------------------------------------


def _notify_task_started(backend: StepFunctionBackend, task_token: str, worker_name: str | None) -> bool:
    """Tell the running execution that owns ``task_token`` a worker took it; False if no execution runs it."""
    for execution in backend._get_executions(ExecutionStatus.RUNNING):
        env = getattr(execution.exec_worker, "env", None)
        if env is None:
            continue
        endpoint = env.callback_pool_manager.get(callback_id=task_token)
        if isinstance(endpoint, sfn_callback.ActivityCallbackEndpoint):
            endpoint.notify_activity_task_start(worker_name=worker_name)
            return True
    return False


def get_activity_task(backend: StepFunctionBackend, activity_arn: str, worker_name: str | None) -> dict:
    """AWS GetActivityTask: ``{"taskToken", "input"}``, or ``{}`` when the long poll ends without a task."""
    backend.describe_activity(activity_arn)  # InvalidArn / ActivityDoesNotExist, shaped as AWS does
    activity = activity_store(backend)[activity_arn]
    deadline = time.monotonic() + _long_poll_seconds()
    while True:
        task = activity.poll(deadline)
        if task is None:
            return {}
        # A task whose execution ended (stopped, failed elsewhere) while queued is never handed out on AWS.
        if _notify_task_started(backend, task.task_token, worker_name):
            return {"taskToken": task.task_token, "input": task.task_input}


def _get_activity_task_action(self: sfn_responses.StepFunctionResponse) -> ActionResult:
    result = get_activity_task(
        self.stepfunction_backend, self._get_param("activityArn"), self._get_param("workerName")
    )
    return ActionResult(result)


def _patch_get_activity_task() -> None:
    # moto gap: StepFunctionResponse has no get_activity_task, so the action answers "not implemented".
    if not _already_patched(sfn_responses.StepFunctionResponse, "get_activity_task"):
        sfn_responses.StepFunctionResponse.get_activity_task = _mark(_get_activity_task_action)


# --- 3. SendTaskHeartbeat for tasks without HeartbeatSeconds -------------------------------------------


def _notify_heartbeat(self: sfn_callback.CallbackEndpoint) -> bool:
    # The token is valid (its endpoint is in the pool); without HeartbeatSeconds there is nothing to reset.
    if self._heartbeat_endpoint is not None:
        self._heartbeat_endpoint.notify()
    return True


def _patch_heartbeat_without_heartbeat_seconds() -> None:
    endpoint_cls = sfn_callback.CallbackEndpoint
    # moto gap: notify_heartbeat returns False when no heartbeat endpoint exists -> InvalidToken.
    if not _already_patched(endpoint_cls, "notify_heartbeat"):
        endpoint_cls.notify_heartbeat = _mark(_notify_heartbeat)

    # moto gap: with HeartbeatSeconds, the engine arms its heartbeat watch only after ActivityStarted. A
    # worker that answers at once (success/failure) notifies before the watch exists; the engine then waited
    # HeartbeatSeconds and failed with States.Timeout. Arm the watch already "notified" if an outcome is in.
    if not _already_patched(endpoint_cls, "setup_heartbeat_endpoint"):
        original_setup = endpoint_cls.setup_heartbeat_endpoint

        def setup_heartbeat_endpoint(self, heartbeat_seconds: int):
            heartbeat_endpoint = original_setup(self, heartbeat_seconds)
            if self._outcome is not None:
                heartbeat_endpoint.notify()
            return heartbeat_endpoint

        endpoint_cls.setup_heartbeat_endpoint = _mark(setup_heartbeat_endpoint)


# --- 4. SendTaskFailure keeps its cause ----------------------------------------------------------------


def _send_task_failure_action(self: sfn_responses.StepFunctionResponse) -> EmptyResult:
    self.stepfunction_backend.send_task_failure(
        self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
    )
    return EmptyResult()


def _patch_send_task_failure_cause() -> None:
    # moto gap: StepFunctionResponse.send_task_failure reads "error" only, so Catch output/DescribeExecution
    # lost the Cause the worker sent.
    if not _already_patched(sfn_responses.StepFunctionResponse, "send_task_failure"):
        sfn_responses.StepFunctionResponse.send_task_failure = _mark(_send_task_failure_action)


# --- 5. activity input is the JSON text of the effective task input ------------------------------------


def _patch_activity_input_json() -> None:
    # moto gap: StateTaskActivity._eval_execution JSON-encodes the task input only when it is not a str, so a
    # Pass state's string Result reached the worker undecoded-once. AWS always sends the JSON text.
    if _already_patched(StateTaskActivity, "_eval_parameters"):
        return
    original_eval_parameters = StateTaskActivity._eval_parameters

    def _eval_parameters(self, env):
        return to_json_str(original_eval_parameters(self, env), separators=(",", ":"))

    StateTaskActivity._eval_parameters = _mark(_eval_parameters)


# --- 6. a task nobody picks up times out as States.Timeout ---------------------------------------------


def _patch_activity_start_timeout() -> None:
    # moto gap: ActivityTaskStartEndpoint.wait returns self._outcome, never set unless a worker took the task.
    start_endpoint_cls = sfn_callback.ActivityTaskStartEndpoint
    if "_outcome" not in start_endpoint_cls.__dict__:
        start_endpoint_cls._outcome = None


# --- 7. errors named States.* keep their name when re-thrown or propagated ------------------------------


class _ReservedErrorName(ErrorName):
    """A `States.*` name the engine has no type for, reported as it was resolved."""


def _propagated_error_name(error_name: str | None) -> ErrorName:
    if error_name is None or not error_name.startswith("States."):
        return CustomErrorName(error_name)
    try:
        # A known name keeps its type, so that a later Catch treats it as AWS does (States.TaskFailed does not
        # match States.Timeout).
        return StatesErrorName.from_name(error_name)
    except ValueError:
        return _ReservedErrorName(error_name)


def _patch_reserved_error_names() -> None:
    # moto gap: these modules wrap an error that already has a name (resolved by a Fail state, or the error a
    # branch/iteration ended with) in CustomErrorName, which refuses the "States." prefix; that ASL rule is
    # for names a state invents, not for ones it passes on.
    for module in (sfn_state_fail, sfn_branches_decl, sfn_iteration_worker):
        if not _already_patched(module, "CustomErrorName"):
            module.CustomErrorName = _mark(_propagated_error_name)
