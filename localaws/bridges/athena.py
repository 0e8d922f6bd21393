"""Bridge for Athena: StartQueryExecution really runs the SQL, with Spark SQL over the Glue catalog.

moto records a query execution and moves it QUEUED -> RUNNING -> SUCCEEDED by itself (a ``ManagedState``),
with zero statistics and no result file. Here a StartQueryExecution still goes through moto (ids, workgroups,
the ``<OutputLocation>/<id>.csv`` result path), then a worker thread:

1. waits its turn (QUEUED): queries run one at a time, because they register tables in the one shared
   Spark catalog;
2. (RUNNING) finds the Glue catalog tables the SQL names - ``table`` of the query's database
   (``QueryExecutionContext.Database``, default ``default``) or ``database.table`` - stages their S3 files
   locally (``localaws.catalog_staging``) and registers each as ``database.table`` in a fresh Spark session
   whose current database is the query's, so both spellings resolve;
3. runs the SQL in ANSI mode with double-quoted identifiers (closest to Athena's Trino: ``"db"."table"``
   works, bad casts and division by zero fail the query);
4. writes ``<id>.csv`` exactly as Athena formats it (header row, every value double-quoted, NULL as an empty
   field, ``\\n`` line ends) and ``<id>.csv.metadata``. Athena's metadata file is binary; this one is JSON:
   ``{"format": "localaws-athena-metadata/1", "ColumnInfo": [...as GetQueryResults...], "RowCount": n}``;
5. reports SUCCEEDED with Statistics (DataScannedInBytes = bytes of the S3 objects staged), or FAILED with a
   StateChangeReason worded like Athena's (``COLUMN_NOT_FOUND: line 1:8: Column 'x' cannot be resolved ...``)
   followed by Spark's own message, and AthenaError. GetQueryResults then returns the rows (header first).

``ClientRequestToken`` is honoured as on Athena (moto drops it): a StartQueryExecution that repeats a token
returns the first call's QueryExecutionId without starting anything, and a different request under the same
token is refused with InvalidRequestException. The runner relies on this to never start a task's query twice.

Every state a query enters (QUEUED at the start, RUNNING, then SUCCEEDED, FAILED or CANCELLED) puts Athena's
"Athena Query State Change" event on the account's default EventBridge bus (events bridge), after the state is
visible to GetQueryExecution: source ``aws.athena``, resources ``[]``, detail ``{versionId: "0", currentState,
previousState (not on the first event), statementType, queryExecutionId, workgroupName, sequenceNumber: "1",
"2", ...}`` and, for FAILED, ``athenaError {errorCategory, errorType (as 2.0-style numbers), errorMessage,
retryable}``.

GetQueryResults pages as Athena does: ``MaxResults`` rows a page (1-1000, default 1000) and a ``NextToken``
while rows are left; the header row is the first row of the first page only, and counts among its
``MaxResults`` (a 1000-row page holds the header and 999 rows). A token that is not this query's, or a
``MaxResults`` out of range, is InvalidRequestException. moto returned every row in one answer
(``athena_results.py``).

GetQueryExecution, GetQueryResults and StopQueryExecution answer an unknown id as Athena does (HTTP 400,
InvalidRequestException, "QueryExecution <id> was not found"); moto answered HTTP 500 with an HTML page.

Not Athena: the SQL dialect is Spark's (Trino-only functions such as ``date_parse`` fail), DDL statements run
against Spark's catalog only (not Glue's), StopQueryExecution marks the query CANCELLED and cancels its
Spark jobs.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from moto.athena.models import AthenaBackend, Execution, QueryResults
from moto.athena.responses import AthenaResponse
from moto.core.exceptions import JsonRESTError

from localaws.bridges import athena_results, patching
from localaws.context import LocalAwsContext
from localaws.iam.middleware import current_caller

log = logging.getLogger(__name__)

METADATA_FORMAT = "localaws-athena-metadata/1"
MAX_RESULT_ROWS_KEPT = 10_000  # rows GetQueryResults can page through (kept in memory); the CSV has them all

_state: dict[str, Any] = {"ctx": None}
_install_lock = threading.Lock()
_query_lock = threading.Lock()  # one query at a time in the shared Spark catalog


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
            target=_execute_query,
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
        athena_results.install()  # GetQueryResults pages (MaxResults, NextToken)


def _cancel_spark_jobs(exec_id: str) -> None:
    try:
        from localaws import spark as shared

        if shared.is_started():
            shared.get_spark().sparkContext.cancelJobGroup(exec_id)
    except Exception as exc:  # cancelling is best effort
        log.debug("could not cancel the Spark jobs of %s: %s", exec_id, exc)


# -- running one query ------------------------------------------------------------------------------------

_IDENT = r'(?:`[^`]+`|"[^"]+"|[A-Za-z_][A-Za-z0-9_]*)'
_QUALIFIED = re.compile(rf"({_IDENT})\s*\.\s*({_IDENT})")
_WORD = re.compile(_IDENT)


def _unquote(identifier: str) -> str:
    return identifier.strip('`"').lower()


def referenced_tables(sql: str, database: str, catalog: dict[str, list[str]]) -> list[tuple[str, str]]:
    """The catalog tables the SQL may name: ``database.table`` anywhere, or ``table`` of the query's database.

    ``catalog`` maps database -> its table names (lower case). A word that merely looks like a table name
    (a column called like a table) stages that table too: harmless, only slower.
    """
    found: list[tuple[str, str]] = []
    masked = re.sub(r"'(?:[^']|'')*'", "''", sql)  # string literals never name tables
    for first, second in _QUALIFIED.findall(masked):
        db, table = _unquote(first), _unquote(second)
        if table in catalog.get(db, []) and (db, table) not in found:
            found.append((db, table))
    for word in _WORD.findall(_QUALIFIED.sub(" ", masked)):
        table = _unquote(word)
        if table in catalog.get(database, []) and (database, table) not in found:
            found.append((database, table))
    return found


def _list_catalog(glue: Any) -> dict[str, list[str]]:
    catalog: dict[str, list[str]] = {}
    for page in glue.get_paginator("get_databases").paginate():
        for db in page["DatabaseList"]:
            names: list[str] = []
            for tables in glue.get_paginator("get_tables").paginate(DatabaseName=db["Name"]):
                names.extend(t["Name"].lower() for t in tables["TableList"])
            catalog[db["Name"].lower()] = names
    return catalog


def _sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _register(session: Any, staged: Any) -> None:
    """``database.table`` in Spark's catalog, over the staged files, with the Glue catalog's schema."""
    from localaws.catalog_staging import ddl_schema

    name = f"`{staged.database}`.`{staged.name}`"
    session.sql(f"CREATE DATABASE IF NOT EXISTS `{staged.database}`")
    session.sql(f"DROP TABLE IF EXISTS {name}")
    options = {"path": staged.local_dir.as_uri()}
    if staged.data_format == "csv":
        options.update(staged.csv_options)
    options_sql = ", ".join(f"{_sql_string(k)} {_sql_string(v)}" for k, v in options.items())
    columns = staged.columns + staged.partition_keys
    partitions = ""
    if staged.partition_keys:
        partitions = " PARTITIONED BY (" + ", ".join(f"`{c['Name']}`" for c in staged.partition_keys) + ")"
    session.sql(
        f"CREATE TABLE {name} ({ddl_schema(columns)}) USING {staged.data_format} "
        f"OPTIONS ({options_sql}){partitions}"
    )
    if staged.partition_keys:
        session.sql(f"ALTER TABLE {name} RECOVER PARTITIONS")


_ATHENA_TYPES = {
    "string": "varchar",
    "bigint": "bigint",
    "int": "integer",
    "smallint": "smallint",
    "tinyint": "tinyint",
    "double": "double",
    "float": "real",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
    "timestamp_ntz": "timestamp",
    "binary": "varbinary",
    "void": "unknown",
}
_PRECISION = {"varchar": 2147483647, "bigint": 19, "integer": 10, "smallint": 5, "tinyint": 3, "double": 17}


def column_info(schema: Any) -> list[dict[str, Any]]:
    """GetQueryResults' ColumnInfo for a Spark schema, with Athena's type names."""
    infos = []
    for spark_field in schema.fields:
        simple = spark_field.dataType.simpleString()
        base = simple.split("(")[0].split("<")[0]
        athena_type = _ATHENA_TYPES.get(base)
        precision, scale = _PRECISION.get(athena_type or "", 0), 0
        if base == "decimal":
            athena_type = "decimal"
            precision, scale = spark_field.dataType.precision, spark_field.dataType.scale
        elif base == "struct":
            athena_type = "row"
        elif athena_type is None:
            athena_type = base  # array, map
        infos.append(
            {
                "CatalogName": "hive",
                "SchemaName": "",
                "TableName": "",
                "Name": spark_field.name,
                "Label": spark_field.name,
                "Type": athena_type,
                "Precision": precision,
                "Scale": scale,
                "Nullable": "UNKNOWN",
                "CaseSensitive": athena_type == "varchar",
            }
        )
    return infos


def _java_double(value: float) -> str:
    """A double as Athena (Java) prints it: ``1.5``, ``100.0``, ``1.0E7``, ``1.0E-4``, ``NaN``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1, value) < 0 else "0.0"
    if 1e-3 <= abs(value) < 1e7:
        text = repr(value)
        return text if "." in text or "e" in text else text + ".0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    digit_text = "".join(map(str, digits))
    power = exponent + len(digit_text) - 1  # type: ignore[operator]
    mantissa = digit_text[0] + "." + (digit_text[1:] or "0")
    return f"{'-' if sign else ''}{mantissa}E{power}"


def format_value(value: Any) -> str | None:
    """One value as text the way Athena renders it in results (None for NULL)."""
    import datetime as dt

    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _java_double(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, list | tuple) and not hasattr(value, "asDict"):
        return "[" + ", ".join("null" if v is None else str(format_value(v)) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{format_value(k)}={format_value(v)}" for k, v in value.items()) + "}"
    if hasattr(value, "asDict"):  # a struct (Row)
        return "{" + ", ".join(f"{k}={format_value(v)}" for k, v in value.asDict().items()) + "}"
    if isinstance(value, bytes | bytearray):
        return " ".join(f"{b:02x}" for b in value)
    return str(value)


def athena_csv(columns: list[str], rows: list[list[str | None]]) -> str:
    """Athena's result CSV: header row, every value double-quoted (quotes doubled), NULL empty, ``\\n``."""

    def line(values: list[str | None]) -> str:
        return ",".join("" if v is None else '"' + v.replace('"', '""') + '"' for v in values) + "\n"

    return line(list(columns)) + "".join(line(row) for row in rows)


_ERROR_CLASS_PREFIX = re.compile(r"^\[[A-Z_.]+\] ")


def _position(message: str) -> tuple[int, int] | None:
    """Athena's ``line L:C`` (1-based column) from Spark's ``line 1 pos 7`` (0-based) or SQL context."""
    match = re.search(r"line (\d+),? pos (\d+)", message)
    if match:
        return int(match.group(1)), int(match.group(2)) + 1
    match = re.search(r"SQL\(line (\d+), position (\d+)\)", message)
    if match:
        return int(match.group(1)), int(match.group(2))
    return None


def athena_failure(exc: BaseException, database: str) -> tuple[str, dict[str, Any]]:
    """StateChangeReason (worded like Athena's, then Spark's message) and AthenaError for a failed query."""
    from localaws.iam.service_access import athena_denied_reason

    denied = athena_denied_reason(exc)  # the caller may not read the catalog or data, or write the result
    if denied is not None:
        return denied, {"ErrorCategory": 2, "ErrorType": 1000, "Retryable": False, "ErrorMessage": denied}
    message = str(exc).strip()
    spark_first_line = message.splitlines()[0] if message else type(exc).__name__
    error_class = exc.getErrorClass() if hasattr(exc, "getErrorClass") else None  # type: ignore[union-attr]
    params = exc.getMessageParameters() if hasattr(exc, "getMessageParameters") else None  # type: ignore[union-attr]
    params = params or {}
    where = _position(message)
    at = f"line {where[0]}:{where[1]}: " if where else ""
    user_error = error_class is not None or type(exc).__name__ in ("AnalysisException", "ParseException")
    if error_class and error_class.startswith("UNRESOLVED_COLUMN"):
        column = params.get("objectName", "?").strip("`")
        athena = (
            f"COLUMN_NOT_FOUND: {at}Column '{column}' cannot be resolved or requester is not authorized "
            "to access requested resources"
        )
    elif error_class == "TABLE_OR_VIEW_NOT_FOUND":
        parts = [p.strip("`") for p in params.get("relationName", "?").split(".")]
        if len(parts) == 1:
            parts.insert(0, database)
        athena = f"TABLE_NOT_FOUND: {at}Table 'awsdatacatalog.{'.'.join(parts)}' does not exist"
    elif error_class == "PARSE_SYNTAX_ERROR":
        athena = f"{at}mismatched input {params.get('error', '?')}"
    elif error_class == "DIVIDE_BY_ZERO":
        athena = f"DIVISION_BY_ZERO: {at}Division by zero"
    elif user_error:
        spark_text = _ERROR_CLASS_PREFIX.sub("", spark_first_line)
        athena = f"{error_class or 'SYNTAX_ERROR'}: {at}{spark_text}"
    else:
        athena = f"GENERIC_INTERNAL_ERROR: {type(exc).__name__}"
    reason = f"{athena} (Spark: {spark_first_line})"
    error = {
        "ErrorCategory": 2 if user_error else 1,
        "ErrorType": 1000 if user_error else 200,
        "Retryable": False,
        "ErrorMessage": reason,
    }
    return reason, error


def _output_location(execution: Execution) -> str | None:
    configured = (execution.config or {}).get("OutputLocation")
    if configured:
        return configured
    workgroup = execution.workgroup
    wg_config = getattr(workgroup, "configuration", None) or {}
    location = (wg_config.get("ResultConfiguration") or {}).get("OutputLocation")
    if location:
        return location.rstrip("/") + f"/{execution.id}.csv"
    return None


def _execute_query(
    ctx: LocalAwsContext, backend: AthenaBackend, execution: Execution, record: BridgedQuery
) -> None:
    from localaws.catalog_staging import Stager, calling_for

    exec_id = record.query_execution_id
    context = execution.context if isinstance(execution.context, dict) else {}
    database = (context.get("Database") or "default").lower()
    ctx.emit("athena.query.start", query_execution_id=exec_id, state=record.state, database=database)
    caller = getattr(execution, "_localaws_caller", None)  # a role session, or None: the administrator
    credentials = caller.client_keys() if caller is not None else None
    stager = Stager(ctx.endpoint_url, ctx.region, ctx.work_dir / "athena", credentials)
    outcome: tuple[str, str | None, dict[str, Any] | None] = ("CANCELLED", "Query cancelled by user", None)
    try:
        with _query_lock, calling_for(f"athena-query:{exec_id}"):
            if record.start_running():  # not cancelled while queued
                outcome = _run_sql(backend, execution, record, database, stager)
    except Exception as exc:
        outcome = ("FAILED", *athena_failure(exc, database))
    finally:
        stager.cleanup()
    state, reason, _error = outcome
    if record.done.is_set():  # cancelled meanwhile: that final state stays
        state, reason = record.state, record.reason
    log.info("athena query %s %s%s", exec_id, state, f": {reason}" if reason else "")
    # The end event first, the final state last: whoever sees the query end finds the event sent.
    ctx.emit(
        "athena.query.end",
        query_execution_id=exec_id,
        state=state,
        reason=reason,
        duration_s=round(time.time() - record.submitted, 3),
    )
    record.finish(*outcome)
    execution.end_time = record.finished_at or time.time()


def _run_sql(
    backend: AthenaBackend, execution: Execution, record: BridgedQuery, database: str, stager: Any
) -> tuple[str, str | None, dict[str, Any] | None]:
    """Stage, register, run, write the result files; return the final (state, reason, AthenaError)."""
    from localaws.catalog_staging import split_s3_uri
    from localaws.spark import get_spark

    exec_id = record.query_execution_id
    output = _output_location(execution)
    if not output:
        reason = (
            "No output location provided. An output location is required either through the Workgroup "
            "result configuration setting or as an API input."
        )
        return (
            "FAILED",
            reason,
            {"ErrorCategory": 2, "ErrorType": 1000, "Retryable": False, "ErrorMessage": reason},
        )
    started = time.monotonic()
    session = get_spark().newSession()  # own conf and current database; the catalog is shared
    session.conf.set("spark.sql.ansi.enabled", "true")
    session.conf.set("spark.sql.ansi.doubleQuotedIdentifiers", "true")
    session.sparkContext.setJobGroup(exec_id, f"Athena query {exec_id}", interruptOnCancel=True)
    # Which tables the SQL names: the emulator's own look-up (administrator), not a call Athena makes; the
    # tables it reads are then read with the caller's permissions (stage_table).
    from localaws.catalog_staging import make_client

    catalog = _list_catalog(make_client("glue", stager.endpoint_url, stager.region))
    registered = []
    try:
        for db, table in referenced_tables(execution.query, database, catalog):
            staged = stager.stage_table(db, table)
            record.data_scanned += staged.bytes_scanned
            _register(session, staged)
            registered.append(f"`{db}`.`{table}`")
        session.sql(f"CREATE DATABASE IF NOT EXISTS `{database}`")
        session.catalog.setCurrentDatabase(database)
        df = session.sql(execution.query.strip().rstrip(";"))
        rows = df.collect()
    finally:
        # The staged files go when the query ends; no later query may find a table over them.
        for name in registered:
            session.sql(f"DROP TABLE IF EXISTS {name}")
    record.engine_ms = int((time.monotonic() - started) * 1000)

    service_started = time.monotonic()
    names = df.columns
    values = [[format_value(v) for v in row] for row in rows]
    infos = column_info(df.schema)
    bucket, key = split_s3_uri(output)
    s3 = stager.client("s3")
    s3.get_bucket_location(Bucket=bucket)  # Athena looks the result bucket up, with the caller's permissions
    s3.put_object(Bucket=bucket, Key=key, Body=athena_csv(names, values).encode("utf-8"))
    metadata = {"format": METADATA_FORMAT, "ColumnInfo": infos, "RowCount": len(values)}
    s3.put_object(Bucket=bucket, Key=key + ".metadata", Body=json.dumps(metadata).encode("utf-8"))
    result_rows = [{"Data": [{"VarCharValue": n} for n in names]}] + [
        {"Data": [{} if v is None else {"VarCharValue": v} for v in row]}
        for row in values[:MAX_RESULT_ROWS_KEPT]
    ]
    backend.query_results[exec_id] = QueryResults(rows=result_rows, column_info=infos)
    record.service_ms = int((time.monotonic() - service_started) * 1000)
    return "SUCCEEDED", None, None
