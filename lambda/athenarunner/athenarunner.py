"""Athena Runner: starts Amazon Athena queries for Step Functions activity tasks and reports their outcome.

Task input (a JSON object, or a JSON string holding one):

- ``AthenaQueryString`` + ``AthenaDatabase``, or ``AthenaNamedQuery`` (a named query id; its query string,
  database and, unless ``AthenaWorkGroup`` is given, work group are used);
- ``AthenaResultOutputLocation`` (required, ``s3://...``);
- optional ``AthenaResultEncryptionOption`` (``SSE_S3``, ``SSE_KMS``, ``CSE_KMS``), ``AthenaResultKmsKey``
  (required with the KMS options, refused otherwise) and ``AthenaWorkGroup``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import etlrunner
from botocore.config import Config
from botocore.exceptions import ClientError
from etlrunner import CheckResult, Failed, InvalidInput, Running, StartFailed, Succeeded, iso8601
from etlrunner.triggers import job_id_in_event

CONFIG_FILE = Path(__file__).with_name("athenarunner-config.json")

ALLOWED_KEYS = frozenset(
    {
        "AthenaQueryString",
        "AthenaDatabase",
        "AthenaNamedQuery",
        "AthenaResultOutputLocation",
        "AthenaResultEncryptionOption",
        "AthenaResultKmsKey",
        "AthenaWorkGroup",
    }
)
ENCRYPTION_OPTIONS = ("SSE_S3", "SSE_KMS", "CSE_KMS")
KMS_OPTIONS = frozenset({"SSE_KMS", "CSE_KMS"})
# Bounded calls, so that a start with its retries ends well within the core's task lease (120 s).
ATHENA_CLIENT_CONFIG = Config(
    connect_timeout=5,
    read_timeout=20,
    retries={"mode": "standard", "total_max_attempts": 4},
    max_pool_connections=etlrunner.MAX_POOL_CONNECTIONS,
)
RUNNING_STATES = frozenset({"QUEUED", "RUNNING"})
FAILED_STATES = frozenset({"FAILED", "CANCELLED"})
# Athena answers an unknown named query or execution id with InvalidRequestException.
NOT_FOUND_CODES = frozenset({"InvalidRequestException", "ResourceNotFoundException"})

etlrunner.configure_logging(__name__)


def check_known_keys(task_input: Mapping[str, Any]) -> None:
    """Refuse misspelt `Athena*` keys: a typo would otherwise silently drop, say, the encryption setting."""
    unknown = sorted(key for key in task_input if key.startswith("Athena") and key not in ALLOWED_KEYS)
    if unknown:
        raise InvalidInput(f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(ALLOWED_KEYS))}")


def result_configuration(task_input: Mapping[str, Any]) -> dict[str, Any]:
    """The StartQueryExecution ResultConfiguration from the task input."""
    location = etlrunner.require_str(task_input, "AthenaResultOutputLocation")
    if not location.startswith("s3://") or len(location) <= len("s3://"):
        raise InvalidInput(f"AthenaResultOutputLocation must be an s3://bucket/prefix/ URI, got {location!r}")
    config: dict[str, Any] = {"OutputLocation": location}
    option = etlrunner.optional_str(task_input, "AthenaResultEncryptionOption")
    kms_key = etlrunner.optional_str(task_input, "AthenaResultKmsKey")
    if option is None:
        if kms_key is not None:
            raise InvalidInput(
                "AthenaResultKmsKey is given without AthenaResultEncryptionOption SSE_KMS or CSE_KMS"
            )
        return config
    if option not in ENCRYPTION_OPTIONS:
        raise InvalidInput(
            f"AthenaResultEncryptionOption must be one of {', '.join(ENCRYPTION_OPTIONS)}, got {option!r}"
        )
    if option in KMS_OPTIONS and kms_key is None:
        raise InvalidInput(f"AthenaResultKmsKey is required with AthenaResultEncryptionOption {option}")
    if option not in KMS_OPTIONS and kms_key is not None:
        raise InvalidInput(f"AthenaResultKmsKey must not be given with AthenaResultEncryptionOption {option}")
    encryption = {"EncryptionOption": option}
    if kms_key is not None:
        encryption["KmsKey"] = kms_key
    config["EncryptionConfiguration"] = encryption
    return config


class AthenaRunner:
    """The Athena mapping of the runner interface (see `etlrunner.Runner`)."""

    name = "AthenaRunner"
    id_attribute = "athena_query_execution_id"
    failure_error = "AthenaQueryFailedError"

    def __init__(self, athena: Any) -> None:
        self.athena = athena

    def start(self, task_input: Mapping[str, Any], task_token: str) -> dict[str, Any]:
        check_known_keys(task_input)
        named_query_id = etlrunner.optional_str(task_input, "AthenaNamedQuery")
        if named_query_id is not None and (
            "AthenaQueryString" in task_input or "AthenaDatabase" in task_input
        ):
            raise InvalidInput("give either AthenaNamedQuery or AthenaQueryString + AthenaDatabase, not both")
        if named_query_id is None:
            if "AthenaQueryString" not in task_input and "AthenaDatabase" not in task_input:
                raise InvalidInput("give AthenaQueryString + AthenaDatabase, or AthenaNamedQuery")
            query = etlrunner.require_str(task_input, "AthenaQueryString")
            database = etlrunner.require_str(task_input, "AthenaDatabase")
        results = result_configuration(task_input)
        work_group = etlrunner.optional_str(task_input, "AthenaWorkGroup")
        if named_query_id is not None:
            query, database, named_work_group = self._named_query(named_query_id)
            work_group = work_group or named_work_group

        request: dict[str, Any] = {
            "QueryString": query,
            "QueryExecutionContext": {"Database": database},
            "ResultConfiguration": results,
            # Same task → same token, so a retried call cannot start the query twice.
            "ClientRequestToken": hashlib.sha256(task_token.encode("utf-8")).hexdigest(),
        }
        if work_group:
            request["WorkGroup"] = work_group
        try:
            execution_id = self.athena.start_query_execution(**request)["QueryExecutionId"]
        except ClientError as exc:
            message = etlrunner.client_error_message(exc)
            raise StartFailed(f"StartQueryExecution on database {database} was refused: {message}") from exc
        return {"athena_query_execution_id": execution_id, "athena_database": database}

    def find_started(self, task_input: Mapping[str, Any], task_token: str) -> dict[str, Any] | None:
        """Athena keeps a ClientRequestToken for hours: starting again returns the query this task started."""
        return self.start(task_input, task_token)

    def stop(self, fields: Mapping[str, Any]) -> None:
        self.athena.stop_query_execution(QueryExecutionId=str(fields["athena_query_execution_id"]))

    def _named_query(self, named_query_id: str) -> tuple[str, str, str | None]:
        try:
            named = self.athena.get_named_query(NamedQueryId=named_query_id)["NamedQuery"]
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") in NOT_FOUND_CODES:
                raise InvalidInput(
                    f"AthenaNamedQuery {named_query_id} not found: {etlrunner.client_error_message(exc)}"
                ) from exc
            raise
        return str(named["QueryString"]), str(named["Database"]), named.get("WorkGroup")

    @staticmethod
    def job_id_from_event(event: Mapping[str, Any]) -> str | None:
        """The query id of an "Athena Query State Change" event (the runner stack's rule sends end states)."""
        return job_id_in_event(event, "aws.athena", "Athena Query State Change", "queryExecutionId")

    def check(self, item: Mapping[str, Any]) -> CheckResult:
        execution_id = str(item["athena_query_execution_id"])
        try:
            execution = self.athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in NOT_FOUND_CODES:
                raise
            return Failed(
                "NOT_FOUND",
                {
                    "AthenaQueryExecutionId": execution_id,
                    "AthenaQueryExecutionState": "NOT_FOUND",
                    "ErrorMessage": str(exc),
                },
            )
        status = execution.get("Status", {})
        state = str(status.get("State", "UNKNOWN"))
        if state == "SUCCEEDED":
            statistics = execution.get("Statistics", {})
            return Succeeded(
                state,
                {
                    "AthenaQueryString": execution.get("Query"),
                    "AthenaQueryExecutionId": execution_id,
                    "AthenaQueryExecutionState": state,
                    "AthenaQueryExecutionStateChangeReason": status.get("StateChangeReason"),
                    "AthenaQuerySubmissionDateTime": iso8601(status.get("SubmissionDateTime")),
                    "AthenaQueryCompletionDateTime": iso8601(status.get("CompletionDateTime")),
                    "AthenaQueryEngineExecutionTimeInMillis": statistics.get("EngineExecutionTimeInMillis"),
                    "AthenaQueryDataScannedInBytes": statistics.get("DataScannedInBytes"),
                },
            )
        if state in FAILED_STATES:
            athena_error = status.get("AthenaError", {})
            message = (
                athena_error.get("ErrorMessage")
                or status.get("StateChangeReason")
                or f"Athena query ended in state {state}"
            )
            cause: dict[str, Any] = {
                "AthenaQueryString": execution.get("Query"),
                "AthenaQueryExecutionId": execution_id,
                "AthenaQueryExecutionState": state,
                "ErrorMessage": message,
            }
            if athena_error.get("ErrorType") is not None:
                cause["AthenaErrorType"] = athena_error["ErrorType"]
            return Failed(state, cause)
        # RUNNING_STATES, and any state Athena adds later: keep the task alive rather than guess an outcome.
        return Running(state)


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Entry point for the schedule, a query's state-change event and nudges (etlrunner/triggers.py)."""
    config = etlrunner.load_config(CONFIG_FILE)
    athena = etlrunner.reused_client("athena", ATHENA_CLIENT_CONFIG)
    return etlrunner.run(AthenaRunner(athena), config, etlrunner.default_clients(), context, event)
