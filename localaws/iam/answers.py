"""AWS's answer to a denied (or badly signed) call, in the protocol of the service that was called.

- JSON protocol (DynamoDB, Step Functions, Glue, Athena, CloudWatch Logs, EventBridge): HTTP 400,
  ``{"__type": "AccessDeniedException", "message": ...}``.
- SQS (JSON protocol, compatible with its former query protocol): HTTP 403,
  ``__type`` ``com.amazon.coral.service#AccessDeniedException``, ``x-amzn-query-error: AccessDenied;Sender``,
  so that clients see the code ``AccessDenied`` as they did over the query protocol.
- rest-json (Lambda): HTTP 403, the code in ``x-amzn-ErrorType``.
- query protocol (IAM, STS, CloudFormation): HTTP 403, ``<ErrorResponse>`` with code ``AccessDenied``.
- S3: HTTP 403, ``<Error><Code>AccessDenied</Code>``; S3 quotes the resource ARN in its message.
"""

from __future__ import annotations

import json
import uuid
from xml.sax.saxutils import escape

# kind -> (JSON-protocol code, query/S3 code, HTTP status of the JSON, rest-json, query and S3 answers)
_KINDS = {
    "denied": (
        "AccessDeniedException",
        "AccessDenied",
        {"json": 400, "rest-json": 403, "query": 403, "s3": 403},
    ),
    "expired": (
        "ExpiredTokenException",
        "ExpiredToken",
        {"json": 400, "rest-json": 403, "query": 400, "s3": 400},
    ),
    "invalid-token": (
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        {"json": 400, "rest-json": 403, "query": 403, "s3": 403},
    ),
}
_REASONS = {400: "Bad Request", 403: "Forbidden"}


def answer(
    kind: str, service: str, protocol: str, message: str, content_type: str = ""
) -> tuple[str, list[tuple[str, str]], bytes]:
    """(status line, headers, body) of an error answer of ``kind`` ("denied", "expired", "invalid-token")."""
    json_code, query_code, statuses = _KINDS[kind]
    status = statuses[protocol]
    request_id = str(uuid.uuid4())
    if protocol == "json" and service == "sqs":
        status = 403 if kind == "denied" else status
        body = json.dumps({"__type": f"com.amazon.coral.service#{json_code}", "message": message}).encode()
        headers = [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-query-error", f"{query_code};Sender"),
        ]
    elif protocol == "json":
        media = (
            content_type
            if content_type.startswith("application/x-amz-json")
            else "application/x-amz-json-1.1"
        )
        body = json.dumps({"__type": json_code, "message": message}).encode()
        headers = [("Content-Type", media), ("x-amzn-RequestId", request_id)]
    elif protocol == "rest-json":
        body = json.dumps({"Type": "User", "message": message}).encode()
        headers = [
            ("Content-Type", "application/json"),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", json_code),
        ]
    elif protocol == "s3":
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{query_code}</Code>'
            f"<Message>{escape(message)}</Message><RequestId>{request_id}</RequestId>"
            f"<HostId>{uuid.uuid4().hex}</HostId></Error>"
        ).encode()
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
    else:
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{query_code}</Code>"
            f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    return f"{status} {_REASONS[status]}", headers, body


def s3_message(message: str, resource: str) -> str:
    """S3 quotes the resource in its AccessDenied message (``on resource: "arn:aws:s3:::b/k"``)."""
    return message.replace(f"on resource: {resource} ", f'on resource: "{resource}" ', 1)


EXPIRED_MESSAGE = "The security token included in the request is expired"
INVALID_TOKEN_MESSAGE = "The security token included in the request is invalid."
