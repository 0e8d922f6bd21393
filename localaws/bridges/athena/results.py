"""Athena's results: the CSV and column types as Athena writes them, its failure reasons, and GetQueryResults
paging (installed by the athena bridge).

moto answers every row of a result at once and ignores ``MaxResults`` and ``NextToken``. Athena: at most
``MaxResults`` rows a page (1-1000, default 1000), a ``NextToken`` while rows are left; the header row is the
first row of the first page only and counts among its ``MaxResults`` (so a full first page holds the header
and 999 rows, as Athena clients observe). A token that is not this query's, or a ``MaxResults`` out of
range, is InvalidRequestException, the error the API reference gives for input "missing or out of range".
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from decimal import Decimal
from typing import Any

from moto.athena.responses import AthenaResponse
from moto.core.exceptions import JsonRESTError

from localaws.bridges import patching

MAX_RESULTS_PER_PAGE = 1000  # GetQueryResults MaxResults: 1-1000, default 1000 (API reference)


class InvalidRequest(JsonRESTError):
    """Athena's answer for a request it refuses (HTTP 400, InvalidRequestException)."""

    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("InvalidRequestException", message)
        self.description = json.dumps(
            {"__type": "InvalidRequestException", "AthenaErrorCode": "INVALID_INPUT", "Message": message}
        )


def _results_token(exec_id: str, offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"q": exec_id, "o": offset}).encode()).decode()


def _results_offset(token: str, exec_id: str) -> int:
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = int(state["o"])
        valid = state["q"] == exec_id and offset > 0
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeError):
        valid = False
    if not valid:
        raise InvalidRequest("The NextToken is not valid for this query execution")
    return offset


def results_page(exec_id: str, rows: list, max_results: int | None, next_token: str | None) -> dict[str, Any]:
    """The rows of one GetQueryResults page, and the NextToken of the next while rows are left."""
    size = MAX_RESULTS_PER_PAGE if max_results is None else max_results
    if not 1 <= size <= MAX_RESULTS_PER_PAGE:
        bound = f"less than or equal to {MAX_RESULTS_PER_PAGE}" if size > 1 else "greater than or equal to 1"
        raise InvalidRequest(
            f"1 validation error detected: Value '{size}' at 'maxResults' failed to satisfy constraint: "
            f"Member must have value {bound}"
        )
    start = _results_offset(next_token, exec_id) if next_token else 0
    page: dict[str, Any] = {"Rows": rows[start : start + size]}
    if start + size < len(rows):
        page["NextToken"] = _results_token(exec_id, start + size)
    return page


def install() -> None:
    """Patch AthenaResponse.get_query_results: MaxResults and NextToken, as Athena pages; idempotent."""
    patching.replace(AthenaResponse, "get_query_results", _paged_get_query_results)


def _paged_get_query_results(self: AthenaResponse) -> str:
    exec_id = self._get_param("QueryExecutionId")
    results = self.athena_backend.get_query_results(exec_id)
    page = results_page(exec_id, results.rows, self._get_param("MaxResults"), self._get_param("NextToken"))
    answer: dict[str, Any] = {
        "ResultSet": {"Rows": page["Rows"], "ResultSetMetadata": {"ColumnInfo": results.column_info}},
    }
    if "NextToken" in page:
        answer["NextToken"] = page["NextToken"]
    return json.dumps(answer)


# -- result files and failures ----------------------------------------------------------------------------

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
