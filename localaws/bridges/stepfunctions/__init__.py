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
8. ``_patch_task_token_index``: SendTaskHeartbeat/Success/Failure and GetActivityTask found a token's
   execution by walking every execution (cost grew with N running executions), and a task was queued before
   its token was known, so a worker that took it at once lost it. A token -> task index makes them O(1) and
   answers as AWS does: an unknown token is InvalidToken, one whose task or execution ended is TaskTimedOut.
9. ``_patch_stop_waiting_execution``: StopExecution only flagged the program stopped, so an execution waiting
   on an activity stayed RUNNING and its queued task was still handed out. Now its task is dequeued, its
   waits are woken, the execution ends ABORTED (history ends with ExecutionAborted, carrying the request's
   error/cause) before StopExecution answers its stopDate.
10. ``_patch_heartbeat_timeout_name``: an activity task whose heartbeat timed out failed with a plain
   ``States.Timeout``, which a ``Retry``/``Catch`` on ``States.HeartbeatTimeout`` never matched. As on AWS,
   the error (``States.Timeout`` in the history and the caught ``Error``) now matches both names.

11. ``_patch_task_outcome_validation``: SendTaskSuccess took any ``output``; text that is not JSON then failed
   the execution with States.Runtime and a Python JSON error. AWS refuses the call (InvalidOutput), and
   refuses values over the documented lengths (output 262144, error 256, cause 32768): ValidationException.
12. ``_patch_execution_history_paging``: GetExecutionHistory ignored ``maxResults``, ``nextToken``,
   ``reverseOrder`` and ``includeExecutionData``. Now pages as AWS does (default 100, at most 1000, an unknown
   or mismatched token is InvalidToken).
13. ``_patch_list_and_describe_shapes``: DescribeExecution lacked ``inputDetails`` and gave no ``stopDate``
   to a TIMED_OUT execution (nor ListExecutions); ``maxResults`` over 1000 was accepted by the list calls.
14. Execution status events (``SharedActivityStoreExecution.start`` and its worker communication): no "Step
   Functions Execution Status Change" event reached EventBridge. Each execution now emits one when it starts
   (RUNNING) and one when it ends (SUCCEEDED, FAILED, TIMED_OUT, ABORTED), shaped as AWS documents.
15. ``_patch_execution_default_name``: StartExecution without ``name`` named the execution ``None`` (its ARN
   ended ``:None``, so a second one was refused as ExecutionAlreadyExists); AWS names it with a UUID.
16. ``_patch_threads_per_execution``: an execution waiting on an activity task held three threads (the
   execution's, one that ``Program.eval`` starts only to join it, one per task state that only carries its
   TimeoutSeconds), so 10,000 waiting executions meant 30,000 threads. A program without TimeoutSeconds now
   runs on the execution's thread, and an activity task state runs inline too, its TimeoutSeconds enforced by
   one shared deadline thread (``Deadlines``) that ends the state's frame and wakes its waits, as the
   joined thread's timeout did: one thread per waiting execution, same history events and errors. (Also:
   a program that timed out while a task waited never recorded ExecutionTimedOut; its task is woken now.)
17. ``_patch_history_notifications`` (not a gap: a local convenience): every history event is also told to
   the endpoint's in-process listeners (``ctx.emit("stepfunctions.history")``), so a progress view in the same
   process (the demo's) waits for a change instead of re-reading GetExecutionHistory five times a second.

Two concerns live in modules of their own, installed from here: ``stepfunctions_requests`` (execution input
that is not JSON, AWS's name rules for activities, state machines and executions, CreateActivity's
idempotency) and ``stepfunctions_history`` (a stopped execution records nothing after its ExecutionAborted).

The patches are process-wide (moto's backends are too); the context of the last installed ``LocalAws`` is the
one whose time scale the long poll uses.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime
import heapq
import itertools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from moto.core.exceptions import InvalidToken as PageTokenInvalid
from moto.core.responses import ActionResult, EmptyResult
from moto.stepfunctions import responses as sfn_responses
from moto.stepfunctions.models import StepFunctionBackend
from moto.stepfunctions.parser import models as parser_models
from moto.stepfunctions.parser.api import (
    ActivityDoesNotExist,
    ExecutionStatus,
    InvalidOutput,
    InvalidToken,
    SendTaskFailureOutput,
    SendTaskHeartbeatOutput,
    SendTaskSuccessOutput,
    TaskDoesNotExist,
    TaskTimedOut,
    ValidationException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import EvalTimeoutError
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.component.program.program import Program
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
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str
from moto.stepfunctions.parser.backend.activity import Activity, ActivityTask
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution

from localaws.bridges import patching
from localaws.bridges.stepfunctions import history as stepfunctions_history
from localaws.bridges.stepfunctions import request_rules as stepfunctions_requests
from localaws.context import LocalAwsContext

log = logging.getLogger(__name__)

# AWS holds a GetActivityTask call open for up to 60 seconds when no task is waiting.
GET_ACTIVITY_TASK_LONG_POLL_SECONDS = 60.0
# How long StopExecution waits for the stopped execution to record its end (it takes milliseconds).
STOP_WAIT_SECONDS = 10.0

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
    _patch_task_token_index()
    _patch_stop_waiting_execution()
    _patch_heartbeat_timeout_name()
    _patch_task_outcome_validation()
    _patch_execution_history_paging()
    _patch_list_and_describe_shapes()
    _patch_execution_default_name()
    _patch_threads_per_execution()
    _patch_history_notifications()
    stepfunctions_requests.install()  # names, execution input and CreateActivity as AWS treats them
    stepfunctions_history.install()  # a stopped execution's history ends with ExecutionAborted


def _long_poll_seconds() -> float:
    ctx = _state.get("ctx")
    return ctx.scaled(GET_ACTIVITY_TASK_LONG_POLL_SECONDS) if ctx else GET_ACTIVITY_TASK_LONG_POLL_SECONDS


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

    def __len__(self) -> int:
        return len(self._backend.activities)


def activity_store(backend: StepFunctionBackend) -> SharedActivityStore:
    """The activity store of one Step Functions backend (one account/region), created on first use."""
    store = backend.__dict__.get("_localaws_activity_store")
    if store is None:
        store = backend.__dict__.setdefault("_localaws_activity_store", SharedActivityStore(backend))
    return store


class ExecutionActivityStore(Mapping):
    """The shared store as one execution sees it: the same activities, plus which execution asks, so that a
    token the execution's callback pool creates can be indexed with its execution (gap 8)."""

    def __init__(self, shared: SharedActivityStore, execution: Execution) -> None:
        self.shared = shared
        self.execution = execution

    def __getitem__(self, arn: str) -> PolledActivity:
        return self.shared[arn]

    def __iter__(self) -> Iterator[str]:
        return iter(self.shared)

    def __len__(self) -> int:
        return len(self.shared)


class SharedActivityStoreExecution(Execution):
    """An Execution that ignores the empty ``activity_store`` moto's parser backend gives it."""

    def __init__(self, *args, **kwargs) -> None:
        backend = parser_models.stepfunctions_parser_backends[kwargs["account_id"]][kwargs["region_name"]]
        kwargs["activity_store"] = ExecutionActivityStore(activity_store(backend), self)
        self.task_tokens: list[str] = []  # every token its tasks were given (gap 9 closes them on stop)
        super().__init__(*args, **kwargs)

    def start(self) -> None:
        # RUNNING goes out before the worker thread exists, so it always precedes the event of the end.
        self.exec_status = ExecutionStatus.RUNNING
        emit_status_change(self)
        super().start()

    def _get_start_execution_worker_comm(self) -> BaseExecutionWorkerCommunication:
        return _StatusEventsWorkerCommunication(self)

    def stop(self, stop_date: datetime.datetime, error: str | None, cause: str | None) -> None:
        # The worker thread builds its environment just after start(); a stop at that moment must wait for it.
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        while getattr(self.exec_worker, "env", None) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        stepfunctions_history.seal(getattr(self.exec_worker, "env", None))  # nothing in flight is recorded
        super().stop(stop_date=stop_date, error=error, cause=cause)
        for token in list(self.task_tokens):
            _close_task(token, wake=True)


def _patch_shared_activity_store() -> None:
    # moto gap: StepFunctionsParserBackend.start_execution builds Execution(..., activity_store={}).
    # start_execution looks the name up in its module, so swapping the module's Execution is enough.
    patching.replace(parser_models, "Execution", SharedActivityStoreExecution)


# --- 2. GetActivityTask over HTTP ----------------------------------------------------------------------


def _notify_task_started(task_token: str, worker_name: str | None) -> bool:
    """Tell the running execution that owns ``task_token`` a worker took it; False if no execution runs it."""
    task = _open_task(task_token)
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


# --- 4. SendTaskFailure keeps its cause ----------------------------------------------------------------


def _send_task_failure_action(self: sfn_responses.StepFunctionResponse) -> EmptyResult:
    self.stepfunction_backend.send_task_failure(
        self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
    )
    return EmptyResult()


def _patch_send_task_failure_cause() -> None:
    # moto gap: StepFunctionResponse.send_task_failure reads "error" only, so Catch output/DescribeExecution
    # lost the Cause the worker sent.
    patching.replace(sfn_responses.StepFunctionResponse, "send_task_failure", _send_task_failure_action)


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
        patching.replace(module, "CustomErrorName", _propagated_error_name)


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
    if isinstance(execution, SharedActivityStoreExecution):
        execution.task_tokens.append(task_token)


def _is_running(execution: Execution | None) -> bool:
    if execution is None:
        return True  # a pool not built by SharedActivityStoreExecution: moto's own rules apply
    env = getattr(execution.exec_worker, "env", None)
    return execution.exec_status == ExecutionStatus.RUNNING and env is not None and env.is_running()


def _open_task(task_token: str) -> TaskRecord | None:
    """The record of a task still awaiting its outcome, or None (unknown token, task or execution ended)."""
    task = _tasks.get(task_token)
    if task is None or task.closed or not _is_running(task.execution):
        return None
    return task


def _close_task(task_token: str, wake: bool = False) -> None:
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
                _close_task(token)

    return _eval_execution


# --- 9. StopExecution ends an execution waiting on a task -----------------------------------------------


def _stop_execution_action(self: sfn_responses.StepFunctionResponse) -> ActionResult:
    backend = self.stepfunction_backend
    execution = backend.describe_execution(self._get_param("executionArn"))  # ExecutionDoesNotExist
    if execution.status == ExecutionStatus.RUNNING:
        execution.stop(
            stop_date=datetime.datetime.now(tz=datetime.UTC),
            error=self._get_param("error"),
            cause=self._get_param("cause"),
        )
        # AWS answers once the execution is ABORTED; moto answered at once, before the engine had noticed.
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        while execution.status == ExecutionStatus.RUNNING and time.monotonic() < deadline:
            time.sleep(0.01)
    stop_date = execution.stop_date or datetime.datetime.now(tz=datetime.UTC)
    return ActionResult({"stopDate": stop_date})


def _patch_stop_waiting_execution() -> None:
    # moto gap: the response ignored error/cause and answered stopDate=None; the execution (see
    # SharedActivityStoreExecution.stop) did not wake the task it waits on.
    patching.replace(sfn_responses.StepFunctionResponse, "stop_execution", _stop_execution_action)
    # moto gap: the woken task raises (a start timeout, an empty outcome); recorded, it would add a failure
    # event and could be caught. A stopped execution records nothing more than ExecutionAborted, as on AWS.
    patching.replace(StateTaskActivity, "_evaluate_with_timeout", _evaluate_activity_quietly_if_stopped)


def _evaluate_activity_quietly_if_stopped(self, env) -> None:
    try:
        _evaluate_activity_inline(self, env)  # gap 16: no thread of its own
    except Exception:
        if env.is_running():
            raise


# --- 10. a heartbeat timeout matches States.HeartbeatTimeout as well as States.Timeout ---------------------


class _HeartbeatTimeoutName(StatesErrorName):
    """``States.Timeout`` that also matches ``States.HeartbeatTimeout`` in ErrorEquals (AWS: that name exists
    only in Catch and Retry; the history and the caught Error say States.Timeout)."""

    def __init__(self) -> None:
        super().__init__(typ=StatesErrorNameType.StatesTimeout)

    def matches(self, error_name: str | None) -> bool:
        return error_name in ("States.Timeout", "States.HeartbeatTimeout")


def _patch_heartbeat_timeout_name() -> None:
    # moto gap: StateTaskActivity._from_error maps every TimeoutError to StatesErrorName(StatesTimeout), so a
    # wait state's Retry on States.HeartbeatTimeout never fired locally.
    patching.wrap(StateTaskActivity, "_from_error", _heartbeat_timeout_named)


def _heartbeat_timeout_named(original_from_error):
    def _from_error(self, env, ex):
        event = original_from_error(self, env, ex)
        if isinstance(ex, sfn_callback.HeartbeatTimeoutError):
            event.error_name = _HeartbeatTimeoutName()
        return event

    return _from_error


# --- 11. SendTaskSuccess/SendTaskFailure refuse what AWS refuses ----------------------------------------

# Documented length limits (API reference: SendTaskSuccess output, SendTaskFailure error and cause).
MAX_TASK_OUTPUT_BYTES = 262144
MAX_TASK_ERROR_CHARS = 256
MAX_TASK_CAUSE_CHARS = 32768


def _too_long(name: str, value: str, limit: int) -> ValidationException:
    # AWS's wording for a model length constraint.
    return ValidationException(
        f"1 validation error detected: Value at '{name}' failed to satisfy constraint: "
        f"Member must have length less than or equal to {limit}",
        "ValidationException",
        400,
    )


def check_task_output(output: str | None) -> None:
    """Raise what AWS answers for a SendTaskSuccess ``output``: too long, or not JSON text."""
    output = output if output is not None else ""
    if len(output.encode("utf-8")) > MAX_TASK_OUTPUT_BYTES:
        raise _too_long("output", output, MAX_TASK_OUTPUT_BYTES)
    try:
        json.loads(output)
    except ValueError:
        raise InvalidOutput("The provided JSON output data is not valid.", "InvalidOutput", 400) from None


def check_task_failure(error: str | None, cause: str | None) -> None:
    """Raise what AWS answers for a SendTaskFailure ``error`` or ``cause`` over its length limit."""
    if error is not None and len(error) > MAX_TASK_ERROR_CHARS:
        raise _too_long("error", error, MAX_TASK_ERROR_CHARS)
    if cause is not None and len(cause) > MAX_TASK_CAUSE_CHARS:
        raise _too_long("cause", cause, MAX_TASK_CAUSE_CHARS)


def _send_task_success_action(self: sfn_responses.StepFunctionResponse) -> EmptyResult:
    output = self._get_param("output")
    check_task_output(output)
    self.stepfunction_backend.send_task_success(self._get_param("taskToken"), output)
    return EmptyResult()


def _checked_send_task_failure_action(self: sfn_responses.StepFunctionResponse) -> EmptyResult:
    check_task_failure(self._get_param("error"), self._get_param("cause"))
    return _send_task_failure_action(self)


def _patch_task_outcome_validation() -> None:
    # moto gap: SendTaskSuccess hands any text to the engine, which fails the execution (States.Runtime) when
    # it cannot parse it; the worker's call succeeded, so it never learns its output was bad.
    response_cls = sfn_responses.StepFunctionResponse
    patching.replace(response_cls, "send_task_success", _send_task_success_action)
    patching.replace(response_cls, "send_task_failure", _checked_send_task_failure_action)  # over gap 4's


# --- 12. GetExecutionHistory pages as AWS does ----------------------------------------------------------

DEFAULT_PAGE_SIZE = 100  # maxResults 0 or absent (AWS's default for the history and the list calls)
MAX_PAGE_SIZE = 1000


def _page_size(value: int | None, name: str = "maxResults") -> int:
    if value is None or value == 0:
        return DEFAULT_PAGE_SIZE
    if value < 0 or value > MAX_PAGE_SIZE:
        bound = "less than or equal to 1000" if value > 0 else "greater than or equal to 0"
        raise ValidationException(
            f"1 validation error detected: Value '{value}' at '{name}' failed to satisfy constraint: "
            f"Member must have value {bound}",
            "ValidationException",
            400,
        )
    return value


def _invalid_token(token: str) -> PageTokenInvalid:
    # The error the list calls' paging (moto's paginator) answers, so every bad token reads the same.
    return PageTokenInvalid("Invalid token")


def _encode_history_token(execution_arn: str, reverse: bool, next_event_id: int) -> str:
    state = {"executionArn": execution_arn, "reverseOrder": reverse, "nextEventId": next_event_id}
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode()


def _decode_history_token(token: str, execution_arn: str, reverse: bool) -> int:
    """The first event id of the page ``token`` asks for; InvalidToken if it is not ours or the call's other
    arguments changed (AWS: "Keep all other arguments unchanged")."""
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode()))
        next_event_id = int(state["nextEventId"])
        same_call = state["executionArn"] == execution_arn and bool(state["reverseOrder"]) == reverse
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeError):
        raise _invalid_token(token) from None
    if not same_call:
        raise _invalid_token(token)
    return next_event_id


def _without_execution_data(event: dict) -> dict:
    """A history event with the input/output of its details left out (includeExecutionData=false)."""
    shaped = dict(event)
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            shaped[key] = {k: v for k, v in value.items() if k not in ("input", "output")}
    return shaped


def execution_history_page(
    events: list[dict],
    execution_arn: str,
    max_results: int | None = None,
    next_token: str | None = None,
    reverse: bool = False,
    include_execution_data: bool = True,
) -> dict:
    """One GetExecutionHistory page of ``events`` (ascending ids): ``{"events", "nextToken"?}``."""
    size = _page_size(max_results)
    ordered = sorted(events, key=lambda e: e["id"], reverse=reverse)
    if next_token:
        first = _decode_history_token(next_token, execution_arn, reverse)
        ordered = [e for e in ordered if (e["id"] <= first if reverse else e["id"] >= first)]
    page = ordered[:size]
    if not include_execution_data:
        page = [_without_execution_data(e) for e in page]
    answer: dict = {"events": page}
    if len(ordered) > size:
        answer["nextToken"] = _encode_history_token(execution_arn, reverse, ordered[size]["id"])
    return answer


def _get_execution_history_action(self: sfn_responses.StepFunctionResponse) -> ActionResult:
    execution_arn = self._get_param("executionArn")
    history = self.stepfunction_backend.get_execution_history(execution_arn)
    include = self._get_param("includeExecutionData")
    return ActionResult(
        execution_history_page(
            list(history.get("events", [])),
            execution_arn,
            max_results=self._get_int_param("maxResults"),
            next_token=self._get_param("nextToken"),
            reverse=bool(self._get_param("reverseOrder")),
            include_execution_data=include is None or bool(include),
        )
    )


def _patch_execution_history_paging() -> None:
    # moto gap: StepFunctionResponse.get_execution_history reads executionArn only; "the latest event"
    # (reverseOrder + maxResults 1) answered the first one, and a long history came back in one page.
    patching.replace(
        sfn_responses.StepFunctionResponse, "get_execution_history", _get_execution_history_action
    )


# --- 13. DescribeExecution / ListExecutions / ListStateMachines shapes ----------------------------------

_ENDED = frozenset(("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"))


def _status(execution: Execution) -> str:
    status = execution.status
    return status.value if isinstance(status, ExecutionStatus) else str(status)


def _has_ended(execution: Execution) -> bool:
    return _status(execution) in _ENDED


def _output_text(execution: Execution) -> str | None:
    output = execution.output
    if output is None or isinstance(output, str):
        return output
    return to_json_str(output, separators=(",", ":"))


def describe_execution_shape(execution: Execution) -> dict:
    """DescribeExecution's answer as AWS gives it for a standard execution."""
    answer = {
        "executionArn": execution.execution_arn,
        "stateMachineArn": execution.state_machine_arn,
        "name": execution.name,
        "status": _status(execution),
        "startDate": execution.start_date,
        "input": execution.execution_input,
        "inputDetails": {"included": True},
    }
    if _has_ended(execution) and execution.stop_date is not None:
        answer["stopDate"] = execution.stop_date
    if _status(execution) == ExecutionStatus.SUCCEEDED.value:
        answer["output"] = _output_text(execution)
        answer["outputDetails"] = {"included": True}
    if getattr(execution, "error", None) is not None:
        answer["error"] = execution.error
    if getattr(execution, "cause", None) is not None:
        answer["cause"] = execution.cause
    return answer


def _describe_execution_action(self: sfn_responses.StepFunctionResponse) -> ActionResult:
    execution = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
    return ActionResult(describe_execution_shape(execution))


def _list_executions_action(self: sfn_responses.StepFunctionResponse) -> ActionResult:
    backend = self.stepfunction_backend
    state_machine = backend.describe_state_machine(self._get_param("stateMachineArn"))
    executions, next_token = backend.list_executions(
        state_machine.arn,
        status_filter=self._get_param("statusFilter"),
        max_results=_page_size(self._get_int_param("maxResults")),
        next_token=self._get_param("nextToken"),
    )
    items = []
    for execution in executions:  # newest first (moto sorts by startDate, descending)
        item = {
            "executionArn": execution.execution_arn,
            "stateMachineArn": state_machine.arn,
            "name": execution.name,
            "status": _status(execution),
            "startDate": execution.start_date,
        }
        if _has_ended(execution) and execution.stop_date is not None:
            item["stopDate"] = execution.stop_date
        items.append(item)
    answer: dict = {"executions": items}
    if next_token:
        answer["nextToken"] = next_token
    return ActionResult(answer)


def _list_state_machines_action(self: sfn_responses.StepFunctionResponse) -> ActionResult:
    machines, next_token = self.stepfunction_backend.list_state_machines(
        max_results=_page_size(self._get_int_param("maxResults")), next_token=self._get_param("nextToken")
    )
    answer: dict = {
        "stateMachines": [
            {"stateMachineArn": m.arn, "name": m.name, "type": m.type, "creationDate": m.creation_date}
            for m in machines
        ]
    }
    if next_token:
        answer["nextToken"] = next_token
    return ActionResult(answer)


def _patch_list_and_describe_shapes() -> None:
    # moto gaps: DescribeExecution has no inputDetails; DescribeExecution and ListExecutions give no stopDate
    # to a TIMED_OUT execution; the list calls take any maxResults (AWS: 0 = 100, at most 1000).
    response_cls = sfn_responses.StepFunctionResponse
    for name, action in (
        ("describe_execution", _describe_execution_action),
        ("list_executions", _list_executions_action),
        ("list_state_machines", _list_state_machines_action),
    ):
        patching.replace(response_cls, name, action)


# --- 14. "Step Functions Execution Status Change" events ------------------------------------------------

STATUS_CHANGE_SOURCE = "aws.states"
STATUS_CHANGE_DETAIL_TYPE = "Step Functions Execution Status Change"


def _epoch_ms(moment: datetime.datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def status_change_detail(execution: Execution) -> dict:
    """The ``detail`` of the event AWS sends when ``execution`` reaches its current status (documented
    example: the same fields as DescribeExecution, times in epoch milliseconds, absent values null)."""
    status = _status(execution)
    succeeded = status == ExecutionStatus.SUCCEEDED.value
    return {
        "executionArn": execution.execution_arn,
        "stateMachineArn": execution.state_machine_arn,
        "name": execution.name,
        "status": status,
        "startDate": _epoch_ms(execution.start_date),
        "stopDate": _epoch_ms(execution.stop_date) if status != ExecutionStatus.RUNNING.value else None,
        "input": execution.execution_input,
        "inputDetails": {"included": True},
        "output": _output_text(execution) if succeeded else None,
        "outputDetails": {"included": True} if succeeded else None,
        "error": getattr(execution, "error", None),
        "cause": getattr(execution, "cause", None),
    }


def emit_status_change(execution: Execution) -> None:
    """Send ``execution``'s status change to EventBridge's default bus (best effort, as on AWS)."""
    from localaws.bridges import events as events_bridge  # the events bridge imports nothing of ours

    try:
        events_bridge.emit(
            execution.account_id,
            execution.region_name,
            STATUS_CHANGE_SOURCE,
            STATUS_CHANGE_DETAIL_TYPE,
            status_change_detail(execution),
            [execution.execution_arn],
        )
    except Exception:  # a delivery problem must never fail the execution or StartExecution
        log.warning("status change event of %s not delivered", execution.execution_arn, exc_info=True)


class _StatusEventsWorkerCommunication(BaseExecutionWorkerCommunication):
    """moto's end-of-execution hook, plus the event of the status it has just recorded."""

    def terminated(self) -> None:
        super().terminated()
        emit_status_change(self.execution)


# --- 15. an execution started without a name gets a UUID -----------------------------------------------


def _start_execution_action(self: sfn_responses.StepFunctionResponse) -> ActionResult:
    execution = self.stepfunction_backend.start_execution(
        self._get_param("stateMachineArn"),
        # Absent: a UUID. Given, even empty, it is checked (an empty name is AWS's ValidationException).
        name if (name := self._get_param("name")) is not None else str(uuid.uuid4()),
        self._get_param("input", if_none="{}"),
    )
    return ActionResult({"executionArn": execution.execution_arn, "startDate": execution.start_date})


def _patch_execution_default_name() -> None:
    # moto gap: StepFunctionsParserBackend.start_execution formats the ARN with name=None (the non-executing
    # backend draws a UUID; the executing one does not).
    patching.replace(sfn_responses.StepFunctionResponse, "start_execution", _start_execution_action)


# --- 16. one thread per waiting execution ----------------------------------------------------------------


class Deadlines:
    """Runs actions at their deadlines (time.monotonic()) on one daemon thread, however many are pending."""

    # A cancelled entry stays in the heap until this share of it is cancelled, then the heap is rebuilt
    # (an activity's default TimeoutSeconds is 99999999 s: lazily dropped entries would pile up).
    REBUILD_SHARE = 0.5

    def __init__(self) -> None:
        self._heap: list[list] = []  # [deadline, sequence, action or None once cancelled or run]
        self._cancelled = 0
        self._sequence = itertools.count()
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None

    def schedule(self, deadline: float, action: Callable[[], None]) -> list:
        """Run ``action`` at ``deadline`` unless cancelled; returns the handle for cancel()."""
        entry = [deadline, next(self._sequence), action]
        with self._condition:
            heapq.heappush(self._heap, entry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sfn-deadlines", daemon=True)
                self._thread.start()
            if self._heap[0] is entry:
                self._condition.notify()
        return entry

    def cancel(self, entry: list) -> None:
        with self._condition:
            if entry[2] is None:
                return  # already run
            entry[2] = None
            self._cancelled += 1
            if self._cancelled > len(self._heap) * self.REBUILD_SHARE:
                self._heap = [kept for kept in self._heap if kept[2] is not None]
                heapq.heapify(self._heap)
                self._cancelled = 0

    def pending(self) -> int:
        with self._condition:
            return len(self._heap) - self._cancelled

    def _next_due(self) -> Callable[[], None]:
        with self._condition:
            while True:
                while self._heap and self._heap[0][2] is None:
                    heapq.heappop(self._heap)
                    self._cancelled -= 1
                if not self._heap:
                    self._condition.wait()
                    continue
                delay = self._heap[0][0] - time.monotonic()
                if delay <= 0:
                    entry = heapq.heappop(self._heap)
                    action, entry[2] = entry[2], None
                    return action
                self._condition.wait(min(delay, 3600.0))

    def _run(self) -> None:
        while True:
            action = self._next_due()
            try:
                action()
            except Exception:  # one failing action must not stop the others' deadlines
                log.exception("deadline action failed")


_deadlines = Deadlines()


def _wake_task_waits(frame) -> None:
    """Wake the waits of the task the frame runs (a worker's pickup, heartbeats, the outcome)."""
    token = frame.states.context_object.context_object_data.get("Task", {}).get("Token")
    endpoint = frame.callback_pool_manager.get(callback_id=token) if token else None
    if isinstance(endpoint, sfn_callback.ActivityCallbackEndpoint):
        endpoint.get_activity_task_start_endpoint()._next_activity_task_start_event.set()
    if endpoint is not None:
        endpoint.interrupt_all()


def _evaluate_activity_inline(state: StateTaskActivity, env) -> None:
    """moto's ``ExecutionState._evaluate_with_timeout`` for an activity task, on the calling thread.

    moto runs ``_eval_execution`` on a new thread and waits TimeoutSeconds for it; when the wait ends first,
    it ends the frame and raises EvalTimeoutError. Here a deadline does the same: it ends the frame and wakes
    the task's waits, so ``_eval_execution`` returns, and the timeout is raised as before.
    """
    state.timeout.eval(env=env)
    timeout_seconds = env.stack.pop()
    frame = env.open_frame()
    frame.states.reset(input_value=env.states.get_input())
    frame.stack = copy.deepcopy(env.stack)
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        frame.set_ended()
        _wake_task_waits(frame)

    deadline = _deadlines.schedule(time.monotonic() + timeout_seconds, expire)
    error: Exception | None = None
    try:
        state._eval_execution(frame)
    except Exception as raised:
        error = raised
    finally:
        _deadlines.cancel(deadline)
    frame.set_ended()
    env.close_frame(frame)
    if error is not None:
        # What the woken task raised (no outcome) is the state's timeout, as moto's timed-out wait reported.
        raise EvalTimeoutError() if expired.is_set() else error

    output = frame.stack[-1]
    env.stack.append(output)
    if not state._is_language_query_jsonpath():
        env.states.set_result(output)
    if state.assign_decl:
        state.assign_decl.eval(env=env)
    if state.result_selector:
        state.result_selector.eval(env=env)
    if state.result_path:
        state.result_path.eval(env)
    else:
        env.states.reset(input_value=env.stack.pop())


def _patch_threads_per_execution() -> None:
    # moto gap: Program.eval and ExecutionState._evaluate_with_timeout each start a thread and block
    # their caller on it; an activity state runs _evaluate_activity_inline instead (gap 9's wrapper).
    patching.wrap(Program, "eval", _program_on_callers_thread)


def _program_on_callers_thread(original_eval):
    def eval(self: Program, env) -> None:
        # Without TimeoutSeconds moto's thread only joined the one it started: run on the caller's thread.
        if self.timeout_seconds:
            original_eval(self, env)
            if not env.is_running():
                # moto gap: a timed-out program left its task waiting (for up to TimeoutSeconds), so the
                # program never recorded ExecutionTimedOut; wake it so it does.
                for endpoint in list(env.callback_pool_manager._pool.values()):
                    if isinstance(endpoint, sfn_callback.ActivityCallbackEndpoint):
                        endpoint.get_activity_task_start_endpoint()._next_activity_task_start_event.set()
                    endpoint.interrupt_all()
            return
        env.next_state_name = self.start_at.start_at_name
        try:
            EvalComponent.eval(self, env)
        except Exception:  # on moto's thread an escaping error ended that thread only, not the caller
            log.exception("state machine program failed")

    return eval


# --- 17. history events told to in-process listeners ------------------------------------------------------


def _patch_history_notifications() -> None:
    patching.wrap(EventManager, "add_event", _history_told_to_listeners)


def _history_told_to_listeners(original):
    def add_event(self: EventManager, *args, **kwargs) -> int:
        event_id = original(self, *args, **kwargs)
        ctx = _state.get("ctx")
        if ctx is not None:
            ctx.emit("stepfunctions.history", event_id=event_id)
        return event_id

    return add_event
