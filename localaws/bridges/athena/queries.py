"""Query executions in moto: the real state of each (``BridgedQuery``) and the patches that make moto start,
report, identify and stop them as Athena does (StartQueryExecution runs the query on a worker thread,
``ClientRequestToken``, unknown ids, "Athena Query State Change" events)."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from moto.athena.models import AthenaBackend, Execution
from moto.athena.responses import AthenaResponse
from moto.core.exceptions import JsonRESTError

from localaws.bridges import patching
from localaws.bridges.athena.run import execute_query
from localaws.context import LocalAwsContext
from localaws.iam.middleware import current_caller

log = logging.getLogger(__name__)


_state: dict[str, Any] = {"ctx": None}
_install_lock = threading.Lock()


class AthenaBridgeError(RuntimeError):
    """moto no longer looks as this bridge expects (after an upgrade): the bridge cannot be installed."""


@dataclass
class BridgedQuery:
    """The real state of a query execution, kept on moto's Execution as ``_localaws_query``."""

    query_execution_id: str
    state: str = "QUEUED"
    reason: str | None = None
    athena_error: dict[str, Any] | None = None
    submitted: float = field(default_factory=time.time)
    running_at: float | None = None
    finished_at: float | None = None
    engine_ms: int = 0
    service_ms: int = 0
    data_scanned: int = 0
    done: threading.Event = field(default_factory=threading.Event)
    # Where its "Athena Query State Change" events go (none when account_id is empty), and what they say.
    account_id: str = ""
    region: str = ""
    workgroup: str = "primary"
    statement_type: str = "DML"
    sequence: int = 0
    previous_state: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start_running(self) -> bool:
        """QUEUED -> RUNNING, unless the query was cancelled meanwhile (then False)."""
        with self.lock:
            if self.done.is_set():
                return False
            self.running_at = time.time()
            self._move_to("RUNNING")
            return True

    def finish(self, state: str, reason: str | None = None, athena_error: dict | None = None) -> None:
        with self.lock:
            if self.done.is_set():  # e.g. cancelled meanwhile: the first final state stays
                return
            self.finished_at = time.time()
            self.reason, self.athena_error = reason, athena_error
            self.done.set()
            self._move_to(state)

    def announce_queued(self) -> None:
        """The first event of a query: QUEUED (no previousState), sequence number 1."""
        with self.lock:
            if self.sequence == 0:
                self._emit()

    def _move_to(self, state: str) -> None:
        # State first, event after: a target that calls GetQueryExecution on the event sees the new state.
        self.previous_state, self.state = self.state, state
        self._emit()

    def _emit(self) -> None:
        self.sequence += 1
        if not self.account_id:
            return
        from localaws.bridges import events

        events.emit(
            self.account_id, self.region, "aws.athena", "Athena Query State Change", self.event_detail(), []
        )

    def event_detail(self) -> dict[str, Any]:
        """The ``detail`` of the current "Athena Query State Change" event, as Athena documents it."""
        detail: dict[str, Any] = {}
        if self.state == "FAILED" and self.athena_error:
            error = self.athena_error
            # Athena's documented event writes the two codes as JSON numbers with a fraction (2.0, 1306.0).
            detail["athenaError"] = {
                "errorCategory": float(error.get("ErrorCategory", 3)),
                "errorType": float(error.get("ErrorType", 0)),
                "errorMessage": error.get("ErrorMessage", ""),
                "retryable": bool(error.get("Retryable", False)),
            }
        detail["versionId"] = "0"
        detail["currentState"] = self.state
        if self.sequence > 1:  # the first (QUEUED) event has no previousState
            detail["previousState"] = self.previous_state
        detail["statementType"] = self.statement_type
        detail["queryExecutionId"] = self.query_execution_id
        detail["workgroupName"] = self.workgroup
        detail["sequenceNumber"] = str(self.sequence)
        return detail

    def statistics(self) -> dict[str, Any]:
        end = self.finished_at or time.time()
        queued_until = self.running_at or end
        return {
            "EngineExecutionTimeInMillis": self.engine_ms,
            "DataScannedInBytes": self.data_scanned,
            "TotalExecutionTimeInMillis": int((end - self.submitted) * 1000),
            "QueryQueueTimeInMillis": int((queued_until - self.submitted) * 1000),
            "ServicePreProcessingTimeInMillis": 0,
            "QueryPlanningTimeInMillis": 0,
            "ServiceProcessingTimeInMillis": self.service_ms,
            "ResultReuseInformation": {"ReusedPreviousResult": False},
        }


_DDL_PREFIXES = ("ALTER", "CREATE", "DESCRIBE", "DROP", "MSCK", "SHOW")


def statement_type(query: str) -> str:
    """DDL or DML, decided as moto's GetQueryExecution does, so that the event and the API agree."""
    return "DDL" if (query or "").upper().startswith(_DDL_PREFIXES) else "DML"


def bridged_query(execution: Execution) -> BridgedQuery | None:
    return execution.__dict__.get("_localaws_query")


# -- patches of moto --------------------------------------------------------------------------------------


def _check_moto_shape() -> None:
    """Fail loudly at install, naming the gap, if a moto upgrade moved what the patches replace."""
    problems = []
    for owner, name in (
        (AthenaBackend, "start_query_execution"),
        (AthenaResponse, "get_query_execution"),
        (AthenaBackend, "get_query_results"),
    ):
        if not callable(getattr(owner, name, None)):
            problems.append(f"{owner.__module__}.{owner.__name__}.{name} is gone")
    if not isinstance(getattr(Execution, "status", None), property):
        problems.append("moto.athena.models.Execution.status is no longer a property (ManagedState)")
    if problems:
        raise AthenaBridgeError("Athena bridge (gap: queries never execute): " + "; ".join(problems))


def _patch_start_query_execution() -> None:
    """AthenaBackend.start_query_execution: after moto has recorded the execution, run it in a worker thread.

    WHY: moto never executes the SQL.
    """
    patching.wrap(AthenaBackend, "start_query_execution", _start_query_executing)


def _start_query_executing(original: Any) -> Any:
    def start_query_execution(self: AthenaBackend, *args: Any, **kwargs: Any) -> str:
        exec_id = original(self, *args, **kwargs)
        execution = self.executions[exec_id]
        # Athena reads and writes with its caller's permissions (localaws/iam): whose request this is.
        execution._localaws_caller = current_caller()
        record = BridgedQuery(
            query_execution_id=exec_id,
            submitted=execution.start_time,
            account_id=self.account_id,
            region=self.region_name,
            workgroup=execution.workgroup.name if execution.workgroup is not None else "primary",
            statement_type=statement_type(execution.query),
        )
        execution._localaws_query = record
        record.announce_queued()
        threading.Thread(
            target=execute_query,
            args=(_state["ctx"], self, execution, record),
            name=f"athena-query-{exec_id[:8]}",
            daemon=True,
        ).start()
        return exec_id

    return start_query_execution


def _patch_execution_status() -> None:
    """Execution.status: a bridged execution reports its real state; StopQueryExecution's write cancels it.

    WHY: ManagedState.status advances QUEUED -> RUNNING -> SUCCEEDED on its own (immediately by default);
    moto's get_query_results also reads it to refuse results of unfinished queries.
    """
    patching.wrap(Execution, "status", _query_status_of_bridged_queries)


def _query_status_of_bridged_queries(original: property) -> property:
    def _get(self: Execution) -> str | None:
        record = bridged_query(self)
        return record.state if record is not None else original.fget(self)  # type: ignore[misc]

    def _set(self: Execution, value: str) -> None:
        record = bridged_query(self)
        if record is None:
            original.fset(self, value)  # type: ignore[misc]
            return
        if value == "CANCELLED" and not record.done.is_set():
            record.finish("CANCELLED", "Query cancelled by user")
            _cancel_spark_jobs(record.query_execution_id)

    return property(_get, _set)


def _patch_get_query_execution_response() -> None:
    """AthenaResponse.get_query_execution: real Statistics, StateChangeReason, AthenaError, completion time.

    WHY: moto's response hard-codes zero statistics and CompletionDateTime = SubmissionDateTime, and has no
    StateChangeReason.
    """
    patching.wrap(AthenaResponse, "get_query_execution", _query_execution_as_it_ran)


def _query_execution_as_it_ran(original: Any) -> Any:
    def get_query_execution(self: AthenaResponse) -> Any:
        body = original(self)
        if not isinstance(body, str):
            return body
        exec_id = self._get_param("QueryExecutionId")
        execution = self.athena_backend.executions.get(exec_id)
        record = bridged_query(execution) if execution is not None else None
        if record is None:
            return body
        result = json.loads(body)
        query_execution = result["QueryExecution"]
        status = query_execution["Status"]
        status["State"] = record.state
        status["SubmissionDateTime"] = record.submitted
        if record.finished_at is not None:
            status["CompletionDateTime"] = record.finished_at
        else:
            status.pop("CompletionDateTime", None)
        if record.reason:
            status["StateChangeReason"] = record.reason
        if record.athena_error:
            status["AthenaError"] = record.athena_error
        query_execution["Statistics"] = record.statistics()
        return json.dumps(result)

    return get_query_execution


def _request_fingerprint(response: AthenaResponse) -> str:
    fields = (
        "QueryString",
        "QueryExecutionContext",
        "ResultConfiguration",
        "WorkGroup",
        "ExecutionParameters",
    )
    return json.dumps({name: response._get_param(name) for name in fields}, sort_keys=True, default=str)


def _patch_client_request_token() -> None:
    """AthenaResponse.start_query_execution: the same ClientRequestToken returns the same execution.

    WHY: moto ignores the token, so a retried start (a runner recovering a task) started a second query.
    """
    patching.wrap(AthenaResponse, "start_query_execution", _start_query_once_per_token)


def _start_query_once_per_token(original: Any) -> Any:
    lock = threading.Lock()

    def start_query_execution(self: AthenaResponse) -> Any:
        token = self._get_param("ClientRequestToken")
        if not token:
            return original(self)
        fingerprint = _request_fingerprint(self)
        known: dict[str, tuple[str, str]] = self.athena_backend.__dict__.setdefault("_localaws_tokens", {})
        with lock:  # two concurrent calls with one token must not both start a query
            if token in known:
                exec_id, first = known[token]
                if first != fingerprint:
                    return self.error(  # moto's error() is shaped as InvalidRequestException
                        "The request with this ClientRequestToken was made before with different parameters",
                        400,
                    )
                return json.dumps({"QueryExecutionId": exec_id})
            answer = original(self)
            body = answer if isinstance(answer, str) else None
            if body is not None:
                known[token] = (json.loads(body)["QueryExecutionId"], fingerprint)
            return answer

    return start_query_execution


class QueryExecutionNotFound(JsonRESTError):
    """Athena's answer for an unknown QueryExecutionId (HTTP 400, InvalidRequestException)."""

    code = 400

    def __init__(self, exec_id: str) -> None:
        message = f"QueryExecution {exec_id} was not found"
        super().__init__("InvalidRequestException", message)
        self.description = json.dumps(
            {"__type": "InvalidRequestException", "AthenaErrorCode": "INVALID_INPUT", "Message": message}
        )


def _patch_unknown_query_execution() -> None:
    """GetQueryExecution, GetQueryResults, StopQueryExecution: an unknown id is InvalidRequestException.

    WHY: moto looked the id up with ``executions[exec_id]``; the KeyError became an HTTP 500 HTML page (the
    AWS CLI: "invalid XML received"), and GetQueryResults answered an empty result set.
    """
    for name in ("get_query_execution", "get_query_results", "stop_query_execution"):
        patching.wrap(AthenaBackend, name, _unknown_id_refused)


def _unknown_id_refused(original: Any) -> Any:
    def checked(self: AthenaBackend, exec_id: str, *args: Any, **kw: Any) -> Any:
        known = exec_id in self.executions or exec_id in self.query_results
        # moto's static results API (a queue of results for any id) keeps working.
        if not known and not (original.__name__ == "get_query_results" and self.query_results_queue):
            raise QueryExecutionNotFound(exec_id)
        return original(self, exec_id, *args, **kw)

    checked.__name__ = original.__name__
    return checked


def install(ctx: LocalAwsContext) -> None:
    """Patch moto's Athena query executions (idempotent); the latest ``ctx`` is the one queries use."""
    with _install_lock:
        _state["ctx"] = ctx
        _check_moto_shape()
        _patch_start_query_execution()
        _patch_execution_status()
        _patch_get_query_execution_response()
        _patch_client_request_token()
        _patch_unknown_query_execution()


def _cancel_spark_jobs(exec_id: str) -> None:
    try:
        from localaws.runtime import spark as shared

        if shared.is_started():
            shared.get_spark().sparkContext.cancelJobGroup(exec_id)
    except Exception as exc:  # cancelling is best effort
        log.debug("could not cancel the Spark jobs of %s: %s", exec_id, exc)
