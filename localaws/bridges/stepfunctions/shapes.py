"""Step Functions answers shaped as AWS gives them: task outcomes, history paging, executions, names.

4. ``_patch_send_task_failure_cause``: SendTaskFailure dropped ``cause``.
11. ``_patch_task_outcome_validation``: SendTaskSuccess took any ``output``; text that is not JSON then failed
   the execution with States.Runtime and a Python JSON error. AWS refuses the call (InvalidOutput), and
   refuses values over the documented lengths (output 262144, error 256, cause 32768): ValidationException.
12. ``_patch_execution_history_paging``: GetExecutionHistory ignored ``maxResults``, ``nextToken``,
   ``reverseOrder`` and ``includeExecutionData``. Now pages as AWS does (default 100, at most 1000, an unknown
   or mismatched token is InvalidToken).
13. ``_patch_list_and_describe_shapes``: DescribeExecution lacked ``inputDetails`` and gave no ``stopDate``
   to a TIMED_OUT execution (nor ListExecutions); ``maxResults`` over 1000 was accepted by the list calls.
15. ``_patch_execution_default_name``: StartExecution without ``name`` named the execution ``None`` (its ARN
   ended ``:None``, so a second one was refused as ExecutionAlreadyExists); AWS names it with a UUID.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid

from moto.core.exceptions import InvalidToken as PageTokenInvalid
from moto.core.responses import ActionResult, EmptyResult
from moto.stepfunctions import responses as sfn_responses
from moto.stepfunctions.parser.api import ExecutionStatus, InvalidOutput, ValidationException
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str
from moto.stepfunctions.parser.backend.execution import Execution

from localaws.bridges import patching


def install() -> None:
    """Patch moto's Step Functions responses in-process; idempotent."""
    _patch_send_task_failure_cause()
    _patch_task_outcome_validation()  # over the SendTaskFailure of gap 4
    _patch_execution_history_paging()
    _patch_list_and_describe_shapes()
    _patch_execution_default_name()


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


def status_text(execution: Execution) -> str:
    status = execution.status
    return status.value if isinstance(status, ExecutionStatus) else str(status)


def _has_ended(execution: Execution) -> bool:
    return status_text(execution) in _ENDED


def output_text(execution: Execution) -> str | None:
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
        "status": status_text(execution),
        "startDate": execution.start_date,
        "input": execution.execution_input,
        "inputDetails": {"included": True},
    }
    if _has_ended(execution) and execution.stop_date is not None:
        answer["stopDate"] = execution.stop_date
    if status_text(execution) == ExecutionStatus.SUCCEEDED.value:
        answer["output"] = output_text(execution)
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
            "status": status_text(execution),
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
