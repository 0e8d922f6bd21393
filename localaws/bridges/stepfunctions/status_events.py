"""Execution status events, sent to EventBridge as AWS sends them.

14. No "Step Functions Execution Status Change" event reached EventBridge from moto. Each execution now emits
one when it starts (RUNNING, from ``executions.SharedActivityStoreExecution.start``) and one when it ends
(SUCCEEDED, FAILED, TIMED_OUT, ABORTED; moto's end-of-execution hook), shaped as AWS documents.
"""

from __future__ import annotations

import datetime
import logging

from moto.stepfunctions.parser.api import ExecutionStatus
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution

from localaws.bridges.stepfunctions.shapes import output_text, status_text

log = logging.getLogger(__name__)

STATUS_CHANGE_SOURCE = "aws.states"
STATUS_CHANGE_DETAIL_TYPE = "Step Functions Execution Status Change"


def _epoch_ms(moment: datetime.datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def status_change_detail(execution: Execution) -> dict:
    """The ``detail`` of the event AWS sends when ``execution`` reaches its current status (documented
    example: the same fields as DescribeExecution, times in epoch milliseconds, absent values null)."""
    status = status_text(execution)
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
        "output": output_text(execution) if succeeded else None,
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


class StatusEventsWorkerCommunication(BaseExecutionWorkerCommunication):
    """moto's end-of-execution hook, plus the event of the status it has just recorded."""

    def terminated(self) -> None:
        super().terminated()
        emit_status_change(self.execution)
