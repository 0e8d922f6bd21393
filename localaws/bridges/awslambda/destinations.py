"""Destinations of asynchronous invocations: the invocation record, and its delivery.

An event that fails every attempt (``RetriesExhausted``) or gets too old (``EventAgeExceeded``) goes as an
invocation record to the OnFailure destination of its EventInvokeConfig, a success to the OnSuccess one: an
SQS queue, an SNS topic, a Lambda function (invoked asynchronously) or an EventBridge bus, through moto's
backends, and only if the function's role may send there (as on AWS, the record goes with that role).
Without a destination the failed event is logged and dropped, as on AWS. An S3 bucket destination is
accepted but not written (logged).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from localaws.bridges.awslambda.event_invoke_config import event_invoke_config_of
from localaws.iam import service_access

if TYPE_CHECKING:
    from localaws.bridges.awslambda.invoke import InvocationResult

log = logging.getLogger(__name__)


def _qualified_arn(fn: Any) -> str:
    version = str(fn.version)
    arn = str(fn.function_arn)
    return arn if arn.endswith(f":{version}") else f"{arn}:{version}"


def _json_or_text(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text.decode("utf-8", "replace") if isinstance(text, bytes) else text


def invocation_record(
    fn: Any, request_id: str, event: str, result: InvocationResult | None, condition: str, attempts: int
) -> dict[str, Any]:
    """The record Lambda sends to an asynchronous invocation's destination (its documented shape). An event
    that got too old before any attempt has no response."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": stamp,
        "requestContext": {
            "requestId": request_id,
            "functionArn": _qualified_arn(fn),
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "requestPayload": _json_or_text(event),
    }
    if result is not None:
        response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": str(fn.version)}
        if result.function_error:
            response_context["functionError"] = result.function_error
        record["responseContext"] = response_context
        record["responsePayload"] = _json_or_text(result.payload)
    return record


def deliver_invocation_record(destination_arn: str, record: dict[str, Any], *, success: bool) -> None:
    """Send an invocation record to an SQS queue, SNS topic, Lambda function (asynchronous invoke) or
    EventBridge bus, through moto's backends (so the other bridges' deliveries apply)."""
    parts = destination_arn.split(":")
    service, region, account = parts[2], parts[3], parts[4]
    body = json.dumps(record)
    if service == "sqs":
        from moto.sqs import sqs_backends

        sqs_backends[account][region].send_message(parts[5], body)
    elif service == "sns":
        from moto.sns import sns_backends

        sns_backends[account][region].publish(body, arn=destination_arn)
    elif service == "lambda":
        from localaws.bridges.awslambda.invoke import invoke_function  # invoke imports this module

        invoke_function(destination_arn, body, asynchronous=True)
    elif service == "events":
        from moto.events.models import events_backends

        outcome = " - Success" if success else " - Failure"
        entries = events_backends[account][region].put_events(
            [
                {
                    "Source": "lambda",
                    "DetailType": "Lambda Function Invocation Result" + outcome,
                    "Detail": body,
                    "Resources": [destination_arn, record["requestContext"]["functionArn"]],
                    "EventBusName": destination_arn,
                }
            ]
        )
        failed = [e for e in entries if e.get("ErrorCode")]
        if failed:
            raise RuntimeError(f"PutEvents to {destination_arn} failed: {failed}")
    else:  # an S3 bucket (on failure): not written locally
        raise NotImplementedError(f"{service} destinations are not delivered by the local endpoint")


def send_invocation_record(
    fn: Any,
    request_id: str,
    event: str,
    result: InvocationResult | None,
    condition: str,
    attempts: int,
) -> str | None:
    """Send the invocation record of a finished async event to the destination its EventInvokeConfig
    names for ``condition`` (OnSuccess for "Success", else OnFailure); return that ARN, or None."""
    kind = "OnSuccess" if condition == "Success" else "OnFailure"
    config = event_invoke_config_of(fn) or {}  # read now: the configuration when the event ends counts
    destination = ((config.get("DestinationConfig") or {}).get(kind) or {}).get("Destination")
    if not destination:
        return None
    if not service_access.destination_may(fn, destination):  # sent with the function's role, as on AWS
        log.warning(
            "invocation record of %s request %s not sent to %s: the function's role may not",
            fn.function_name,
            request_id,
            destination,
        )
        return None
    record = invocation_record(fn, request_id, event, result, condition, attempts)
    try:
        deliver_invocation_record(destination, record, success=condition == "Success")
    except Exception:  # AWS counts a DestinationDeliveryFailures metric; the event is lost
        log.warning(
            "invocation record of %s request %s not delivered to %s",
            fn.function_name,
            request_id,
            destination,
            exc_info=True,
        )
        return None
    log.info(
        "invocation record of %s request %s (%s) sent to %s",
        fn.function_name,
        request_id,
        condition,
        destination,
    )
    return destination
