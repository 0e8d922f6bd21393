"""Execution history: a stopped execution's ends as AWS's does, and every event is told to listeners.

moto gap: StopExecution while a Parallel state waits on its branches woke them (the bridge's gap 9), the
branches ended, and the Parallel state recorded ``ParallelStateSucceeded`` before ``ExecutionAborted``: a
client reading the history saw a state succeed that never did. On AWS the history of a stopped execution
reports nothing more for the states still in flight; ``ExecutionAborted`` is its last event. ``seal`` ties
the execution's history to its environment before the engine is told to stop; once the program is stopped,
only ``ExecutionAborted`` is recorded (a program that ended by itself first keeps its own end).

``ExecutionAborted``'s ``previousEventId`` stays 0, as moto writes it: AWS gives the abort no preceding event
(localstack's ``test_stop_execution`` snapshot, recorded against AWS: ExecutionStarted 1/0,
WaitStateEntered 2/0, ExecutionAborted 3/0; the same measured for floci-io/floci#2965).

17. ``_patch_history_notifications`` (not a gap: a local convenience): every history event is also told to
the endpoint's in-process listeners (``ctx.emit("stepfunctions.history")``), so a progress view in the same
process (the demo's) waits for a change instead of re-reading GetExecutionHistory five times a second.
"""

from __future__ import annotations

from typing import Any

from moto.stepfunctions.parser.api import HistoryEventType
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped

from localaws.bridges import patching
from localaws.bridges.stepfunctions import context

_STOPPING_ENV = "_localaws_stopping_env"


def install() -> None:
    """Patch moto's EventManager in-process; idempotent."""
    _patch_history_notifications()  # before the seal: an event the seal drops is not told either
    patching.wrap(EventManager, "add_event", _sealed_add_event)


def _patch_history_notifications() -> None:
    patching.wrap(EventManager, "add_event", _history_told_to_listeners)


def _history_told_to_listeners(original):
    def add_event(self: EventManager, *args, **kwargs) -> int:
        event_id = original(self, *args, **kwargs)
        ctx = context.current()
        if ctx is not None:
            ctx.emit("stepfunctions.history", event_id=event_id)
        return event_id

    return add_event


def _sealed_add_event(original):
    def add_event(self: EventManager, context, event_type, *args, **kwargs) -> int:
        env = getattr(self, _STOPPING_ENV, None)
        stopped = env is not None and isinstance(getattr(env, "_program_state", None), ProgramStopped)
        if stopped and event_type != HistoryEventType.ExecutionAborted:
            # A state still in flight ending because of the stop: not recorded. The id it would have had is
            # not used (the caller only keeps it as the source of events that will not be recorded either).
            return self._event_id_gen._next_id - 1
        return original(self, context, event_type, *args, **kwargs)

    return add_event


def seal(env: Any) -> None:
    """Once ``env``'s program is stopped, its history records only the execution's ExecutionAborted."""
    event_manager = getattr(env, "event_manager", None)
    if event_manager is not None:
        setattr(event_manager, _STOPPING_ENV, env)
