"""Executions: the activity store they use, StopExecution, and one thread per waiting execution.

1. ``_patch_shared_activity_store``: moto's parser backend builds each execution with an empty activity
   store; ``SharedActivityStoreExecution`` uses the shared one (``activities.activity_store``) instead, and
   emits the execution's status events (``status_events``, gap 14).
9. ``_patch_stop_waiting_execution``: StopExecution only flagged the program stopped, so an execution waiting
   on an activity stayed RUNNING and its queued task was still handed out. Now its task is dequeued, its
   waits are woken, the execution ends ABORTED (history ends with ExecutionAborted, carrying the request's
   error/cause) before StopExecution answers its stopDate.
16. ``_patch_threads_per_execution``: an execution waiting on an activity task held three threads (the
   execution's, one that ``Program.eval`` starts only to join it, one per task state that only carries its
   TimeoutSeconds), so 10,000 waiting executions meant 30,000 threads. A program without TimeoutSeconds now
   runs on the execution's thread, and an activity task state runs inline too, its TimeoutSeconds enforced by
   one shared deadline thread (``Deadlines``) that ends the state's frame and wakes its waits, as the
   joined thread's timeout did: one thread per waiting execution, same history events and errors. (Also:
   a program that timed out while a task waited never recorded ExecutionTimedOut; its task is woken now.)
"""

from __future__ import annotations

import copy
import datetime
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping

from moto.core.responses import ActionResult
from moto.stepfunctions import responses as sfn_responses
from moto.stepfunctions.parser import models as parser_models
from moto.stepfunctions.parser.api import ExecutionStatus
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import EvalTimeoutError
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.component.program.program import Program
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_activitiy import (
    StateTaskActivity,
)
from moto.stepfunctions.parser.asl.eval.callback import callback as sfn_callback
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution

from localaws.bridges import patching
from localaws.bridges.stepfunctions import history
from localaws.bridges.stepfunctions.activities import (
    PolledActivity,
    SharedActivityStore,
    activity_store,
    close_task,
)
from localaws.bridges.stepfunctions.status_events import StatusEventsWorkerCommunication, emit_status_change

log = logging.getLogger(__name__)

# How long StopExecution waits for the stopped execution to record its end (it takes milliseconds).
STOP_WAIT_SECONDS = 10.0


def install() -> None:
    """Patch moto's executions in-process; idempotent."""
    _patch_shared_activity_store()
    _patch_stop_waiting_execution()
    _patch_threads_per_execution()


# --- 1. executions share their account/region's activity store ------------------------------------------


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
        return StatusEventsWorkerCommunication(self)

    def stop(self, stop_date: datetime.datetime, error: str | None, cause: str | None) -> None:
        # The worker thread builds its environment just after start(); a stop at that moment must wait for it.
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        while getattr(self.exec_worker, "env", None) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        history.seal(getattr(self.exec_worker, "env", None))  # nothing in flight is recorded
        super().stop(stop_date=stop_date, error=error, cause=cause)
        for token in list(self.task_tokens):
            close_task(token, wake=True)


def _patch_shared_activity_store() -> None:
    # moto gap: StepFunctionsParserBackend.start_execution builds Execution(..., activity_store={}).
    # start_execution looks the name up in its module, so swapping the module's Execution is enough.
    patching.replace(parser_models, "Execution", SharedActivityStoreExecution)


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
