"""Error names as AWS keeps them: ``States.*`` names passed on, and the heartbeat timeout's two names.

7. ``_patch_reserved_error_names``: an error named ``States.*`` that a Fail state re-throws (a caught
   ``States.Timeout`` through ``ErrorPath``, as the "ETL Job Failed" state does) or that leaves a Parallel
   branch or Map iteration (a task in a branch timed out) raised ValueError, so the execution ended
   States.Runtime and no Catch saw the real error; AWS keeps the error.
10. ``_patch_heartbeat_timeout_name``: an activity task whose heartbeat timed out failed with a plain
   ``States.Timeout``, which a ``Retry``/``Catch`` on ``States.HeartbeatTimeout`` never matched. As on AWS,
   the error (``States.Timeout`` in the history and the caught ``Error``) now matches both names.
"""

from __future__ import annotations

from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
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

from localaws.bridges import patching


def install() -> None:
    """Patch moto's error names in-process; idempotent."""
    _patch_reserved_error_names()
    _patch_heartbeat_timeout_name()


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
