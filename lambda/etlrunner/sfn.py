"""Step Functions as every worker here uses it: the two runners' core and ons3objectcreated.

One place for what talking to activity tasks needs: the client fit for a 60 s long poll, the time a poll needs
to be worth starting, the errors that mean "the token is gone", how an error is named and told, the
task-token call wrapper, and causes within Step Functions' size limit.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import logging
import os
from collections.abc import Mapping
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

logger = logging.getLogger("etlrunner")

# GetActivityTask long-polls for up to 60 s; a shorter read timeout would cut the poll, retry it and could
# lose a task that AWS handed to the dropped connection.
SFN_READ_TIMEOUT_S = 70
# The check pass calls from CHECK_CONCURRENCY threads at once (16 by default): botocore's pool of 10
# connections per client would make the rest wait or open throwaway connections.
MAX_POOL_CONNECTIONS = 32
SFN_CLIENT_CONFIG = Config(
    read_timeout=SFN_READ_TIMEOUT_S,
    connect_timeout=10,
    retries={"mode": "standard", "total_max_attempts": 4},
    max_pool_connections=MAX_POOL_CONNECTIONS,
)
# Poll only while a whole long poll plus the work after it still fits in the Lambda's remaining time.
POLL_RESERVE_MS = SFN_READ_TIMEOUT_S * 1000 + 25_000
# A local endpoint with a shortened long poll (and Lambda timeout) sets a smaller reserve through this.
POLL_RESERVE_ENV = "SFN_POLL_RESERVE_MS"

# Step Functions no longer knows the token: the execution ended, timed out or moved on.
TOKEN_GONE_ERRORS = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})
# Step Functions' limit on a SendTaskFailure cause.
MAX_CAUSE_CHARS = 32_768
# Errors that say "not now" rather than "no": the same call may succeed a little later. botocore retries
# these itself (a few times); the core then retries again later instead of failing a workflow over them.
THROTTLING_ERRORS = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "RequestTimeout",
        "RequestTimeoutException",
        "ConcurrentRunsExceededException",
    }
)
# The caller's role may not do this: retrying cannot help, and the cause must say which call was refused.
ACCESS_DENIED_ERRORS = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})


def poll_reserve_ms(default: int = POLL_RESERVE_MS) -> int:
    """Time a GetActivityTask long poll needs to be worth starting (`SFN_POLL_RESERVE_MS` overrides)."""
    value = os.environ.get(POLL_RESERVE_ENV, "").strip()
    return int(value) if value.isdigit() else default


def task_ref(task_token: str) -> str:
    """A short stable name for a task token: tokens are long and secret-ish, so logs carry a digest."""
    return "task-" + hashlib.sha256(task_token.encode("utf-8")).hexdigest()[:10]


# --- naming and telling errors --------------------------------------------------------------------------


def error_code(exc: BaseException) -> str:
    """The service's error code of a ClientError ("Unknown" when it has none; "" for other errors)."""
    if not isinstance(exc, ClientError):
        return ""
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def error_name(exc: BaseException) -> str:
    """The service's error code, or the class of a client-side error (a timeout, a lost connection)."""
    return error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and the ones it was raised from (a runner's StartFailed wraps the service's error)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def is_transient(exc: BaseException) -> bool:
    """A throttle, a 5xx or a lost connection, here or behind the error a runner raised from it."""
    for error in _causes(exc):
        if isinstance(error, BotoCoreError):
            return True  # timeouts and connection errors: botocore's client side
        if isinstance(error, ClientError):
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            return error_code(error) in THROTTLING_ERRORS or status >= 500
    return False


def is_access_denied(exc: BaseException) -> bool:
    """The call was refused by IAM, here or behind the error a runner raised from it."""
    return any(
        isinstance(error, ClientError) and error_code(error) in ACCESS_DENIED_ERRORS for error in _causes(exc)
    )


def client_error_message(exc: ClientError) -> str:
    """`Code: Message` of a botocore ClientError, the part of it an operator needs in a cause."""
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'Unknown')}: {error.get('Message', str(exc))}"


def error_text(exc: BaseException) -> str:
    """One line for a log or a cause: the operation and `Code: Message` of a ClientError, else its class."""
    if isinstance(exc, ClientError):
        return f"{getattr(exc, 'operation_name', 'call')} failed: {client_error_message(exc)}"
    return f"{type(exc).__name__}: {exc}"


# --- task-token calls -----------------------------------------------------------------------------------


def call_with_token(method: Any, ref: str, **params: Any) -> bool:
    """Call a task-token API; False when the token is gone (other errors propagate)."""
    try:
        method(**params)
    except ClientError as exc:
        if error_code(exc) in TOKEN_GONE_ERRORS:
            logger.warning("Step Functions says %s for %s", error_code(exc), ref)
            return False
        raise
    return True


def send_failure(sfn: Any, token: str, error: str, cause: Mapping[str, Any]) -> bool:
    """SendTaskFailure that never raises: True when delivered; a task nobody waits for is only logged."""
    ref = task_ref(token)
    try:
        if call_with_token(
            sfn.send_task_failure, ref, taskToken=token, error=error, cause=encode_cause(cause)
        ):
            return True
        logger.warning("failure %s for %s not delivered: the task is gone", error, ref)
    except (ClientError, BotoCoreError) as exc:
        logger.error("SendTaskFailure %s for %s failed: %s", error, ref, error_text(exc))
    return False


# --- JSON for outputs and causes ------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return str(value)


def iso8601(value: Any) -> str | None:
    """ISO-8601 text in UTC of a botocore timestamp (None stays None, so absent times are JSON null)."""
    if isinstance(value, dt.datetime):
        # botocore parses some services' epoch times into local time; UTC keeps outputs comparable.
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(dt.UTC).isoformat()
    return None if value is None else str(value)


def to_json(value: Any) -> str:
    return json.dumps(value, default=_json_default)


def encode_cause(cause: Mapping[str, Any]) -> str:
    """JSON cause within Step Functions' 32 768-character limit (long messages are cut, not dropped)."""
    text = to_json(cause)
    if len(text) <= MAX_CAUSE_CHARS:
        return text
    shortened = {
        key: (value[:2000] + "...(truncated)") if isinstance(value, str) and len(value) > 2000 else value
        for key, value in cause.items()
    }
    text = to_json(shortened)
    if len(text) <= MAX_CAUSE_CHARS:
        return text
    return to_json({"ErrorMessage": text[: MAX_CAUSE_CHARS - 100] + "...(truncated)"})
