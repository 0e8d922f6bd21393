"""Running one query: the catalog tables its SQL names, staged and registered in Spark, the SQL run in ANSI
mode, and the result files written as Athena writes them (one query at a time: the Spark catalog is shared).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from typing import TYPE_CHECKING, Any

from moto.athena.models import AthenaBackend, Execution, QueryResults

from localaws.bridges.athena.results import athena_csv, athena_failure, column_info, format_value
from localaws.context import LocalAwsContext

if TYPE_CHECKING:
    from localaws.bridges.athena.queries import BridgedQuery

log = logging.getLogger(__name__)


METADATA_FORMAT = "localaws-athena-metadata/1"
MAX_RESULT_ROWS_KEPT = 10_000  # rows GetQueryResults can page through (kept in memory); the CSV has them all
_query_lock = threading.Lock()  # one query at a time in the shared Spark catalog


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
    from localaws.runtime.catalog_staging import ddl_schema

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


def execute_query(
    ctx: LocalAwsContext, backend: AthenaBackend, execution: Execution, record: BridgedQuery
) -> None:
    from localaws.runtime.catalog_staging import Stager, calling_for

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
    from localaws.runtime.catalog_staging import split_s3_uri
    from localaws.runtime.spark import get_spark

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
    from localaws.runtime.catalog_staging import make_client

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
