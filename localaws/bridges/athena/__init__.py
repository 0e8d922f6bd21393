"""Bridge for Athena: StartQueryExecution really runs the SQL, with Spark SQL over the Glue catalog.

Modules: ``queries`` (moto's query executions patched: start, state, token, unknown ids, stop, events),
``run`` (one query: tables staged and registered, SQL run, result files written), ``results`` (the CSV,
column types and failure reasons as Athena writes them, and GetQueryResults paging).

moto records a query execution and moves it QUEUED -> RUNNING -> SUCCEEDED by itself (a ``ManagedState``),
with zero statistics and no result file. Here a StartQueryExecution still goes through moto (ids, workgroups,
the ``<OutputLocation>/<id>.csv`` result path), then a worker thread:

1. waits its turn (QUEUED): queries run one at a time, because they register tables in the one shared
   Spark catalog;
2. (RUNNING) finds the Glue catalog tables the SQL names - ``table`` of the query's database
   (``QueryExecutionContext.Database``, default ``default``) or ``database.table`` - stages their S3 files
   locally (``localaws.runtime.catalog_staging``) and registers each as ``database.table`` in a fresh Spark
   session whose current database is the query's, so both spellings resolve;
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
(``results``).

GetQueryExecution, GetQueryResults and StopQueryExecution answer an unknown id as Athena does (HTTP 400,
InvalidRequestException, "QueryExecution <id> was not found"); moto answered HTTP 500 with an HTML page.

Not Athena: the SQL dialect is Spark's (Trino-only functions such as ``date_parse`` fail), DDL statements run
against Spark's catalog only (not Glue's), StopQueryExecution marks the query CANCELLED and cancels its
Spark jobs.
"""

from __future__ import annotations

from localaws.bridges.athena import queries, results
from localaws.bridges.athena.queries import (
    AthenaBridgeError,
    BridgedQuery,
    QueryExecutionNotFound,
    _check_moto_shape,
    _state,
    bridged_query,
    statement_type,
)
from localaws.bridges.athena.results import (
    _java_double,
    athena_csv,
    athena_failure,
    column_info,
    format_value,
)
from localaws.bridges.athena.run import MAX_RESULT_ROWS_KEPT, METADATA_FORMAT, referenced_tables
from localaws.context import LocalAwsContext

__all__ = [
    "MAX_RESULT_ROWS_KEPT",
    "METADATA_FORMAT",
    "AthenaBridgeError",
    "BridgedQuery",
    "QueryExecutionNotFound",
    "_check_moto_shape",
    "_java_double",
    "_state",
    "athena_csv",
    "athena_failure",
    "bridged_query",
    "column_info",
    "format_value",
    "install",
    "referenced_tables",
    "statement_type",
]


def install(ctx: LocalAwsContext) -> None:
    """Patch moto's Athena query executions (idempotent); the latest ``ctx`` is the one queries use."""
    queries.install(ctx)
    results.install()  # GetQueryResults pages (MaxResults, NextToken)
