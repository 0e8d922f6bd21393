"""Activity tasks: one activity store shared by every execution, GetActivityTask's long poll, task tokens.

moto 5.2.5's executing engine queues activity tasks, but its HTTP front end lacks what an activity worker
needs. The gaps filled here (numbers as in the package's docstring):

1. ``activity_store``: executions get ``activity_store={}``, so every activity task fails with
   States.Runtime ("activity does not exist"). Executions now share one store per account/region that mirrors
   the backend's activities (created by CreateActivity or CloudFormation, gone after DeleteActivity); the
   execution that uses it lives in ``executions``.
2. ``_patch_get_activity_task``: GetActivityTask is not routed over HTTP. Implemented with an AWS-like long
   poll (60 s, scaled by ``ctx.scaled``) that wakes as soon as a task is queued, and that tells the execution
   the task started (ActivityStarted + worker name) before answering, since an outcome only counts after that.
3. ``_patch_heartbeat_without_heartbeat_seconds``: SendTaskHeartbeat answers InvalidToken for a task without
   HeartbeatSeconds; AWS accepts it. (Also: an outcome sent before the engine armed its heartbeat watch was
   only seen after HeartbeatSeconds, and then as a heartbeat timeout.)
5. ``_patch_activity_input_json``: a string state input reached the worker raw; AWS hands the worker the JSON
   text of the effective task input, so a string arrives JSON-encoded (``"\\"{...}\\""``).
6. ``_patch_activity_start_timeout``: the engine's wait for a worker to pick the task up read an unset
   attribute when it timed out (AttributeError -> States.Runtime instead of States.Timeout).
8. ``_patch_task_token_index``: SendTaskHeartbeat/Success/Failure and GetActivityTask found a token's
   execution by walking every execution (cost grew with N running executions), and a task was queued before
   its token was known, so a worker that took it at once lost it. A token -> task index makes them O(1) and
   answers as AWS does: an unknown token is InvalidToken, one whose task or execution ended is TaskTimedOut.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from moto.core.responses import ActionResult
from moto.stepfunctions import responses as sfn_responses
from moto.stepfunctions.models import StepFunctionBackend
from moto.stepfunctions.parser import models as parser_models
from moto.stepfunctions.parser.api import (
    ActivityDoesNotExist,
    ExecutionStatus,
    InvalidToken,
    SendTaskFailureOutput,
    SendTaskHeartbeatOutput,
    SendTaskSuccessOutput,
    TaskDoesNotExist,
    TaskTimedOut,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_activitiy import (
    StateTaskActivity,
)
from moto.stepfunctions.parser.asl.eval.callback import callback as sfn_callback
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str
from moto.stepfunctions.parser.backend.activity import Activity, ActivityTask
from moto.stepfunctions.parser.backend.execution import Execution

from localaws.bridges import patching
from localaws.bridges.stepfunctions import context

# AWS holds a GetActivityTask call open for up to 60 seconds when no task is waiting.
GET_ACTIVITY_TASK_LONG_POLL_SECONDS = 60.0


def install() -> None:
    """Patch moto's activity tasks in-process; idempotent."""
    _patch_get_activity_task()
    _patch_heartbeat_without_heartbeat_seconds()
    _patch_activity_input_json()
    _patch_activity_start_timeout()
    _patch_task_token_index()


def _long_poll_seconds() -> float:
    ctx = context.current()
    return ctx.scaled(GET_ACTIVITY_TASK_LONG_POLL_SECONDS) if ctx else GET_ACTIVITY_TASK_LONG_POLL_SECONDS


# --- 1. one activity store per account/region, shared by every execution -------------------------------


class PolledActivity(Activity):
    """moto's parser Activity with a Condition, so a GetActivityTask long poll wakes when a task is queued."""

    def __init__(self, arn: str, name: str) -> None:
        super().__init__(arn=arn, name=name)
        self._condition = threading.Condition()
        self._polls_ended = 0  # end_polls() calls so far: a poll begun before the last one ends empty
        self.polling = 0  # polls waiting now

    def add_task(self, task: ActivityTask) -> None:
        with self._condition:
            super().add_task(task)
            self._condition.notify()

    def get_task(self) -> ActivityTask | None:
        """The next queued task, or None (moto's raises IndexError on an empty queue)."""
        with self._condition:
            return self._tasks.popleft() if self._tasks else None

    def poll(self, deadline: float) -> ActivityTask | None:
        """The next task, waiting until ``deadline`` (time.monotonic()) for one to be queued, or until
        ``end_polls``."""
        with self._condition:
            generation = self._polls_ended
            self.polling += 1
            try:
                while not self._tasks:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self._polls_ended != generation:
                        return None
                    self._condition.wait(remaining)
                return self._tasks.popleft()
            finally:
                self.polling -= 1

    def end_polls(self) -> int:
        """End every poll waiting now, empty-handed; how many there were."""
        with self._condition:
            waiting = self.polling
            self._polls_ended += 1
            self._condition.notify_all()
            return waiting

    def discard(self, task_token: str) -> None:
        """Drop the queued task of ``task_token`` (its execution stopped): no worker may get it any more."""
        with self._condition:
            for task in self._tasks:
                if task.task_token == task_token:
                    self._tasks.remove(task)
                    return


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

    def end_polls(self) -> int:
        with self._lock:
            activities = list(self._activities.values())
        return sum(activity.end_polls() for activity in activities)

    def __len__(self) -> int:
        return len(self._backend.activities)


def end_open_polls() -> int:
    """End every GetActivityTask long poll waiting now, in every account and region, with an empty answer;
    how many there were. For a harness that has just killed every worker (localaws/demo/fault_matrix.py): a
    killed worker's poll would otherwise go on waiting, take the next task and lose it with the connection,
    a lost task that no fault of the run caused. On AWS too a poll whose worker died may be handed a task."""
    ended = 0
    for regions in parser_models.stepfunctions_parser_backends.values():
        for backend in regions.values():
            store = backend.__dict__.get("_localaws_activity_store")
            if store is not None:
                ended += store.end_polls()
    return ended


def activity_store(backend: StepFunctionBackend) -> SharedActivityStore:
    """The activity store of one Step Functions backend (one account/region), created on first use."""
    store = backend.__dict__.get("_localaws_activity_store")
    if store is None:
        store = backend.__dict__.setdefault("_localaws_activity_store", SharedActivityStore(backend))
    return store


# --- 2. GetActivityTask over HTTP ----------------------------------------------------------------------


def _notify_task_started(task_token: str, worker_name: str | None) -> bool:
    """Tell the running execution that owns ``task_token`` a worker took it; False if no execution runs it."""
    task = open_task(task_token)
    if task is None:
        return False
    endpoint = task.pool.get(callback_id=task_token)
    if not isinstance(endpoint, sfn_callback.ActivityCallbackEndpoint):
        return False
    endpoint.notify_activity_task_start(worker_name=worker_name)
    return True


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
        if _notify_task_started(task.task_token, worker_name):
            return {"taskToken": task.task_token, "input": task.task_input}


def _get_activity_task_action(self: sfn_responses.StepFunctionResponse) -> ActionResult:
    result = get_activity_task(
        self.stepfunction_backend, self._get_param("activityArn"), self._get_param("workerName")
    )
    return ActionResult(result)


def _patch_get_activity_task() -> None:
    # moto gap: StepFunctionResponse has no get_activity_task, so the action answers "not implemented".
    patching.replace(sfn_responses.StepFunctionResponse, "get_activity_task", _get_activity_task_action)


# --- 3. SendTaskHeartbeat for tasks without HeartbeatSeconds -------------------------------------------


def _notify_heartbeat(self: sfn_callback.CallbackEndpoint) -> bool:
    # The token is valid (its endpoint is in the pool); without HeartbeatSeconds there is nothing to reset.
    if self._heartbeat_endpoint is not None:
        self._heartbeat_endpoint.notify()
    return True


def _patch_heartbeat_without_heartbeat_seconds() -> None:
    endpoint_cls = sfn_callback.CallbackEndpoint
    # moto gap: notify_heartbeat returns False when no heartbeat endpoint exists -> InvalidToken.
    patching.replace(endpoint_cls, "notify_heartbeat", _notify_heartbeat)

    # moto gap: with HeartbeatSeconds, the engine arms its heartbeat watch only after ActivityStarted. A
    # worker that answers at once (success/failure) notifies before the watch exists; the engine then waited
    # HeartbeatSeconds and failed with States.Timeout. Arm the watch already "notified" if an outcome is in.
    patching.wrap(endpoint_cls, "setup_heartbeat_endpoint", _heartbeat_watch_notified_if_answered)


def _heartbeat_watch_notified_if_answered(original_setup):
    def setup_heartbeat_endpoint(self, heartbeat_seconds: int):
        heartbeat_endpoint = original_setup(self, heartbeat_seconds)
        if self._outcome is not None:
            heartbeat_endpoint.notify()
        return heartbeat_endpoint

    return setup_heartbeat_endpoint


# --- 5. activity input is the JSON text of the effective task input ------------------------------------


def _patch_activity_input_json() -> None:
    # moto gap: StateTaskActivity._eval_execution JSON-encodes the task input only when it is not a str, so a
    # Pass state's string Result reached the worker undecoded-once. AWS always sends the JSON text.
    patching.wrap(StateTaskActivity, "_eval_parameters", _parameters_as_json_text)


def _parameters_as_json_text(original_eval_parameters):
    def _eval_parameters(self, env):
        return to_json_str(original_eval_parameters(self, env), separators=(",", ":"))

    return _eval_parameters


# --- 6. a task nobody picks up times out as States.Timeout ---------------------------------------------


def _patch_activity_start_timeout() -> None:
    # moto gap: ActivityTaskStartEndpoint.wait returns self._outcome, never set unless a worker took the task.
    patching.replace(
        sfn_callback.ActivityTaskStartEndpoint, "_outcome", None, key="activity start: no outcome"
    )


# --- 8. task token -> task index -----------------------------------------------------------------------


@dataclass
class TaskRecord:
    """What a task token leads to: the callback pool holding its endpoint, and the execution it belongs to."""

    pool: sfn_callback.CallbackPoolManager
    execution: Execution | None
    activity: PolledActivity | None = None
    closed: bool = False  # its task state ended, or its execution was stopped


_tasks: dict[str, TaskRecord] = {}
_tasks_lock = threading.Lock()


def _record_task(
    pool: sfn_callback.CallbackPoolManager, task_token: str, activity: PolledActivity | None = None
) -> None:
    execution = getattr(pool._activity_store, "execution", None)
    with _tasks_lock:
        _tasks[task_token] = TaskRecord(pool=pool, execution=execution, activity=activity)
    # Only executions.SharedActivityStoreExecution (whose store names it) keeps its tokens, closed on stop.
    task_tokens = getattr(execution, "task_tokens", None)
    if task_tokens is not None:
        task_tokens.append(task_token)


def _is_running(execution: Execution | None) -> bool:
    if execution is None:
        return True  # a pool not built by SharedActivityStoreExecution: moto's own rules apply
    env = getattr(execution.exec_worker, "env", None)
    return execution.exec_status == ExecutionStatus.RUNNING and env is not None and env.is_running()


def open_task(task_token: str) -> TaskRecord | None:
    """The record of a task still awaiting its outcome, or None (unknown token, task or execution ended)."""
    task = _tasks.get(task_token)
    if task is None or task.closed or not _is_running(task.execution):
        return None
    return task


def close_task(task_token: str, wake: bool = False) -> None:
    """Mark the task ended; ``wake`` (StopExecution) also dequeues it and wakes the engine waiting on it."""
    task = _tasks.get(task_token)
    if task is None:
        return
    task.closed = True
    if not wake:
        return
    if task.activity is not None:
        task.activity.discard(task_token)
    endpoint = task.pool.get(callback_id=task_token)
    if isinstance(endpoint, sfn_callback.ActivityCallbackEndpoint):
        # Wakes the wait for a worker without an outcome, as a start timeout would; gap 9 then ends quietly.
        endpoint.get_activity_task_start_endpoint()._next_activity_task_start_event.set()
    if endpoint is not None:
        endpoint.interrupt_all()


def _task_timed_out() -> TaskTimedOut:
    # moto's TaskTimedOut() lacks the message its base class requires (a 500 instead of the AWS error).
    return TaskTimedOut("Task Timed Out: the task has already been closed", "TaskTimedOut", 400)


def _task_pool(task_token: str) -> sfn_callback.CallbackPoolManager:
    """The pool to notify for ``task_token``; InvalidToken if unknown, TaskTimedOut if its task is closed."""
    task = _tasks.get(task_token)
    if task is None:
        raise InvalidToken()
    if task.closed or not _is_running(task.execution):
        raise _task_timed_out()
    return task.pool


def _deliver(task_token: str, send: Callable[[sfn_callback.CallbackPoolManager], bool]) -> None:
    try:
        delivered = send(_task_pool(task_token))
    except sfn_callback.CallbackNotifyConsumerError as consumer_error:
        # The engine gave up on the task (timeout, heartbeat timeout): as moto answers, as AWS does.
        if isinstance(consumer_error.callback_consumer_error, sfn_callback.CallbackConsumerTimeout):
            raise _task_timed_out() from None
        raise TaskDoesNotExist("Task Does Not Exist", "TaskDoesNotExist", 400) from None
    if not delivered:
        raise InvalidToken()


def _send_task_heartbeat(self: StepFunctionBackend, task_token: str) -> SendTaskHeartbeatOutput:
    _deliver(task_token, lambda pool: pool.heartbeat(callback_id=task_token))
    return SendTaskHeartbeatOutput()


def _send_task_success(self: StepFunctionBackend, task_token: str, outcome: str) -> SendTaskSuccessOutput:
    success = sfn_callback.CallbackOutcomeSuccess(callback_id=task_token, output=outcome)
    _deliver(task_token, lambda pool: pool.notify(callback_id=task_token, outcome=success))
    return SendTaskSuccessOutput()


def _send_task_failure(
    self: StepFunctionBackend, task_token: str, error: str | None = None, cause: str | None = None
) -> SendTaskFailureOutput:
    failure = sfn_callback.CallbackOutcomeFailure(callback_id=task_token, error=error, cause=cause)
    _deliver(task_token, lambda pool: pool.notify(callback_id=task_token, outcome=failure))
    return SendTaskFailureOutput()


def _add_callback(self: sfn_callback.CallbackPoolManager, callback_id: str) -> sfn_callback.CallbackEndpoint:
    if callback_id in self._pool:
        raise ValueError("Duplicate callback token id value.")
    endpoint = self._pool[callback_id] = sfn_callback.CallbackEndpoint(callback_id=callback_id)
    _record_task(self, callback_id)
    return endpoint


def _add_activity_task(
    self: sfn_callback.CallbackPoolManager, callback_id: str, activity_arn: str, activity_input: str
) -> sfn_callback.ActivityCallbackEndpoint:
    if callback_id in self._pool:
        raise ValueError("Duplicate callback token id value.")
    activity = self._activity_store.get(activity_arn)
    if activity is None:
        raise ActivityDoesNotExist()
    endpoint = sfn_callback.ActivityCallbackEndpoint(callback_id=callback_id, activity_input=activity_input)
    # Endpoint and index first, task last: a worker may take the task the moment it is queued.
    self._pool[callback_id] = endpoint
    _record_task(self, callback_id, activity if isinstance(activity, PolledActivity) else None)
    activity.add_task(ActivityTask(task_token=callback_id, task_input=activity_input))
    return endpoint


def _patch_task_token_index() -> None:
    pool_cls = sfn_callback.CallbackPoolManager
    # moto gap: CallbackPoolManager queues the activity task before its endpoint is in the pool, and keeps no
    # token -> execution map, so the backend's send_task_* walk every running execution's pool.
    patching.replace(pool_cls, "add", _add_callback)
    patching.replace(pool_cls, "add_activity_task", _add_activity_task)
    backend_cls = parser_models.StepFunctionsParserBackend
    for name, method in (
        ("send_task_heartbeat", _send_task_heartbeat),
        ("send_task_success", _send_task_success),
        ("send_task_failure", _send_task_failure),
    ):
        patching.replace(backend_cls, name, method)
    # The task state ended (outcome, timeout, stop): later calls on its token are TaskTimedOut, as on AWS.
    patching.wrap(StateTaskActivity, "_eval_execution", _closing_task_at_its_end)


def _closing_task_at_its_end(original_eval_execution):
    def _eval_execution(self, env) -> None:
        try:
            original_eval_execution(self, env)
        finally:
            token = env.states.context_object.context_object_data.get("Task", {}).get("Token")
            if token:
                close_task(token)

    return _eval_execution
