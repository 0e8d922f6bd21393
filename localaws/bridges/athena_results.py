"""Athena GetQueryResults pages as Athena does (installed by the athena bridge).

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
