"""Poll → start → track → check → report: one scheduled run of a runner."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from etlrunner.clients import SFN_READ_TIMEOUT_S, Clients
from etlrunner.config import RunnerConfig
from etlrunner.inputs import parse_task_input
from etlrunner.interface import Failed, InvalidInput, Runner, Running, StartFailed, Succeeded

logger = logging.getLogger("etlrunner")

# Poll only while a whole long poll plus the check pass still fits in the Lambda's remaining time.
POLL_RESERVE_MS = SFN_READ_TIMEOUT_S * 1000 + 25_000
# A local endpoint with a shortened long poll (and Lambda timeout) sets a smaller reserve through this.
POLL_RESERVE_ENV = "SFN_POLL_RESERVE_MS"
# Leave a little time after the last check so the run ends cleanly; unchecked items wait for the next run.
CHECK_RESERVE_MS = 10_000
# Step Functions no longer knows the token: the execution ended, timed out or moved on.
TOKEN_GONE_ERRORS = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})
MAX_CAUSE_CHARS = 32_768
STARTED_AT_ATTRIBUTE = "started_at"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


@dataclass
class RunSummary:
    """What one run did; returned by the handler and logged so an operator can follow a run at a glance."""

    started: int = 0
    rejected: int = 0
    succeeded: int = 0
    failed: int = 0
    running: int = 0
    expired: int = 0
    check_errors: int = 0
    poll_error: str | None = None
    out_of_time: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def task_ref(task_token: str) -> str:
    """A short stable name for a task token: tokens are long and secret-ish, so logs carry a digest."""
    return "task-" + hashlib.sha256(task_token.encode("utf-8")).hexdigest()[:10]


def iso8601(value: Any) -> str | None:
    """ISO-8601 text in UTC of a botocore timestamp (None stays None, so absent times are JSON null)."""
    if isinstance(value, dt.datetime):
        # botocore parses some services' epoch times into local time; UTC keeps outputs comparable.
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(dt.UTC).isoformat()
    return None if value is None else str(value)


def remaining_ms(context: Any) -> int | None:
    """Milliseconds the Lambda has left, or None when run without a Lambda context (no limit)."""
    getter = getattr(context, "get_remaining_time_in_millis", None)
    return None if getter is None else int(getter())


def poll_reserve_ms() -> int:
    """Time a GetActivityTask long poll needs to be worth starting (`SFN_POLL_RESERVE_MS` overrides)."""
    value = os.environ.get(POLL_RESERVE_ENV, "").strip()
    return int(value) if value.isdigit() else POLL_RESERVE_MS


def has_time(context: Any, reserve_ms: int) -> bool:
    left = remaining_ms(context)
    return left is None or left >= reserve_ms


def run(runner: Runner, config: RunnerConfig, clients: Clients, context: Any = None) -> dict[str, Any]:
    """One scheduled run: claim and start every waiting task, then check every tracked job."""
    summary = RunSummary()
    poll_and_start(runner, config, clients, context, summary)
    check_active(runner, config, clients, context, summary)
    logger.info("%s run finished: %s", runner.name, json.dumps(summary.as_dict()))
    return summary.as_dict()


# --- poll and start -------------------------------------------------------------------------------------


def poll_and_start(
    runner: Runner, config: RunnerConfig, clients: Clients, context: Any, summary: RunSummary
) -> None:
    """Claim tasks until none is waiting or the Lambda is running out of time."""
    while True:
        if not has_time(context, poll_reserve_ms()):
            summary.out_of_time = True
            logger.info("stop polling %s: %s ms left", config.sfn_activity_arn, remaining_ms(context))
            return
        try:
            response = clients.sfn.get_activity_task(
                activityArn=config.sfn_activity_arn, workerName=config.sfn_worker_name
            )
        except (ClientError, BotoCoreError) as exc:
            # A wrong ARN, a throttle or a network error must not stop the check pass: running jobs still
            # need their heartbeats and reports.
            summary.poll_error = _error_text(exc)
            logger.error("GetActivityTask on %s failed: %s", config.sfn_activity_arn, summary.poll_error)
            return
        token = response.get("taskToken")
        if not token:
            logger.info("no waiting task on %s", config.sfn_activity_arn)
            return
        start_task(runner, config, clients, token, response.get("input"), summary)


def start_task(
    runner: Runner,
    config: RunnerConfig,
    clients: Clients,
    token: str,
    raw_input: str | None,
    summary: RunSummary,
) -> None:
    """Start one claimed task and record it; any problem is reported to Step Functions at once."""
    ref = task_ref(token)
    try:
        fields = runner.start(parse_task_input(raw_input), token)
    except InvalidInput as exc:
        _reject(runner, clients, token, "InvalidInput", {"ErrorMessage": str(exc)}, summary)
        return
    except StartFailed as exc:
        _reject(runner, clients, token, "StartFailed", {"ErrorMessage": str(exc)}, summary)
        return
    except ClientError as exc:
        cause = {"ErrorMessage": _client_error_text(exc), "ErrorType": _error_code(exc)}
        _reject(runner, clients, token, "StartFailed", cause, summary)
        return
    except Exception as exc:  # a claimed task must always be answered
        logger.exception("%s: unexpected error starting %s", runner.name, ref)
        cause = {
            "ErrorMessage": f"unexpected {type(exc).__name__} while starting: {exc}",
            "ErrorType": type(exc).__name__,
        }
        _reject(runner, clients, token, "StartFailed", cause, summary)
        return

    job_id = fields.get(runner.id_attribute) if isinstance(fields, Mapping) else None
    try:
        if not isinstance(job_id, str) or not job_id:
            raise ValueError(f"runner returned no {runner.id_attribute}")
        store_item(runner, config, clients, token, fields)
    except Exception as exc:  # the job runs untracked: say so, with its id, to the workflow
        logger.exception(
            "%s: started %s=%s for %s but could not record it", runner.name, runner.id_attribute, job_id, ref
        )
        cause = {
            "ErrorMessage": f"started {runner.id_attribute}={job_id} but could not track it in "
            f"DynamoDB table {config.ddb_table}: {type(exc).__name__}: {exc}",
            "ErrorType": type(exc).__name__,
        }
        _reject(runner, clients, token, "StartFailed", cause, summary)
        return
    summary.started += 1
    logger.info(
        "%s started %s=%s for %s (%s)",
        runner.name,
        runner.id_attribute,
        job_id,
        ref,
        _describe_fields(runner, fields),
    )


def store_item(
    runner: Runner, config: RunnerConfig, clients: Clients, token: str, fields: Mapping[str, Any]
) -> None:
    """Persist the started job so later runs can check it and answer its task."""
    item = {
        **fields,
        "sfn_activity_arn": config.sfn_activity_arn,
        "sfn_task_token": token,
        STARTED_AT_ATTRIBUTE: dt.datetime.now(dt.UTC).isoformat(),
    }
    clients.dynamodb.put_item(
        TableName=config.ddb_table, Item={key: _serializer.serialize(value) for key, value in item.items()}
    )


def _reject(
    runner: Runner, clients: Clients, token: str, kind: str, cause: dict[str, Any], summary: RunSummary
) -> None:
    error = f"{runner.name}.{kind}"
    summary.rejected += 1
    logger.warning("%s: %s for %s: %s", runner.name, error, task_ref(token), cause["ErrorMessage"])
    send_failure(clients, token, error, cause)


# --- check and report -----------------------------------------------------------------------------------


def iter_items(clients: Clients, config: RunnerConfig) -> Iterator[dict[str, Any]]:
    """Every tracked item of this activity, page by page (`ddb_query_limit` per page)."""
    request: dict[str, Any] = {
        "TableName": config.ddb_table,
        "KeyConditionExpression": "sfn_activity_arn = :arn",
        "ExpressionAttributeValues": {":arn": {"S": config.sfn_activity_arn}},
        "Limit": config.ddb_query_limit,
        # Items written moments ago by this same run must be seen, so they get their first heartbeat now.
        "ConsistentRead": True,
    }
    while True:
        page = clients.dynamodb.query(**request)
        for raw in page.get("Items", []):
            yield {key: _deserializer.deserialize(value) for key, value in raw.items()}
        last_key = page.get("LastEvaluatedKey")
        if not last_key:
            return
        request["ExclusiveStartKey"] = last_key


def check_active(
    runner: Runner, config: RunnerConfig, clients: Clients, context: Any, summary: RunSummary
) -> None:
    """Check every tracked job; one item's error never stops the others."""
    try:
        for item in iter_items(clients, config):
            if not has_time(context, CHECK_RESERVE_MS):
                summary.out_of_time = True
                logger.warning(
                    "stop checking: %s ms left; the rest wait for the next run", remaining_ms(context)
                )
                return
            try:
                check_item(runner, config, clients, item, summary)
            except Exception:  # logged; the item stays and is checked again next run
                summary.check_errors += 1
                logger.exception(
                    "%s: error checking %s=%s",
                    runner.name,
                    runner.id_attribute,
                    item.get(runner.id_attribute),
                )
    except (ClientError, BotoCoreError) as exc:
        summary.check_errors += 1
        logger.error("cannot read tracked jobs from %s: %s", config.ddb_table, _error_text(exc))


def check_item(
    runner: Runner, config: RunnerConfig, clients: Clients, item: Mapping[str, Any], summary: RunSummary
) -> None:
    """Check one job and report it: heartbeat while running, success/failure (and forget it) when done."""
    token = str(item["sfn_task_token"])
    job = f"{runner.id_attribute}={item.get(runner.id_attribute)} ({_describe_fields(runner, item)})"
    result = runner.check(item)
    ref = task_ref(token)
    if isinstance(result, Running):
        summary.running += 1
        logger.info("%s %s is %s: heartbeat %s", runner.name, job, result.state, ref)
        if not _call_sfn(clients.sfn.send_task_heartbeat, ref, taskToken=token):
            summary.expired += 1
            logger.warning(
                "%s: %s no longer awaited by Step Functions (%s); forgetting it", runner.name, job, ref
            )
            delete_item(runner, config, clients, item)
    elif isinstance(result, Succeeded):
        logger.info("%s %s %s: reporting success for %s", runner.name, job, result.state, ref)
        if not _call_sfn(clients.sfn.send_task_success, ref, taskToken=token, output=to_json(result.output)):
            summary.expired += 1
        else:
            summary.succeeded += 1
        delete_item(runner, config, clients, item)
    elif isinstance(result, Failed):
        logger.warning(
            "%s %s %s: reporting %s for %s: %s",
            runner.name,
            job,
            result.state,
            runner.failure_error,
            ref,
            to_json(result.cause),
        )
        if not _call_sfn(
            clients.sfn.send_task_failure,
            ref,
            taskToken=token,
            error=runner.failure_error,
            cause=encode_cause(result.cause),
        ):
            summary.expired += 1
        else:
            summary.failed += 1
        delete_item(runner, config, clients, item)
    else:
        raise TypeError(f"{runner.name}.check returned {result!r}, not Running/Succeeded/Failed")


def delete_item(runner: Runner, config: RunnerConfig, clients: Clients, item: Mapping[str, Any]) -> None:
    clients.dynamodb.delete_item(
        TableName=config.ddb_table,
        Key={
            "sfn_activity_arn": {"S": str(item["sfn_activity_arn"])},
            runner.id_attribute: {"S": str(item[runner.id_attribute])},
        },
    )


def send_failure(clients: Clients, token: str, error: str, cause: Mapping[str, Any]) -> None:
    """SendTaskFailure that never raises: a task nobody waits for any more is only logged."""
    ref = task_ref(token)
    try:
        if not _call_sfn(
            clients.sfn.send_task_failure, ref, taskToken=token, error=error, cause=encode_cause(cause)
        ):
            logger.warning("failure %s for %s not delivered: the task is gone", error, ref)
    except (ClientError, BotoCoreError) as exc:
        logger.error("SendTaskFailure %s for %s failed: %s", error, ref, _error_text(exc))


def _call_sfn(method: Any, ref: str, **params: Any) -> bool:
    """Call a task-token API; False when the token is gone (other errors propagate)."""
    try:
        method(**params)
    except ClientError as exc:
        if _error_code(exc) in TOKEN_GONE_ERRORS:
            logger.warning("Step Functions says %s for %s", _error_code(exc), ref)
            return False
        raise
    return True


# --- encoding helpers -----------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return str(value)


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


def client_error_message(exc: ClientError) -> str:
    """`Code: Message` of a botocore ClientError, the part of it an operator needs in a cause."""
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'Unknown')}: {error.get('Message', str(exc))}"


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def _client_error_text(exc: ClientError) -> str:
    operation = getattr(exc, "operation_name", "call")
    return f"{operation} failed: {client_error_message(exc)}"


def _error_text(exc: Exception) -> str:
    return _client_error_text(exc) if isinstance(exc, ClientError) else f"{type(exc).__name__}: {exc}"


def _describe_fields(runner: Runner, fields: Mapping[str, Any]) -> str:
    """The service fields of an item (job name, database...) for log lines; never the token."""
    skip = {runner.id_attribute, "sfn_task_token", "sfn_activity_arn", STARTED_AT_ATTRIBUTE}
    return ", ".join(f"{key}={value}" for key, value in fields.items() if key not in skip) or "-"
