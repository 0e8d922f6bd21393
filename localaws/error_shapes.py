"""Errors the endpoint does not map answer in the service's own protocol, never as an HTML page.

moto's server is a Flask app in debug mode: an exception a handler does not turn into an AWS error (a moto
bug, a bridge bug, an unsupported corner) leaves Flask as werkzeug's HTML "500 Internal Server Error" page,
and an unknown route as an HTML 404. An AWS client then fails to parse the answer (the query/XML services:
CloudFormation, IAM) or reports a code "500" whose message is HTML. ``ServiceShapedErrors`` wraps moto's WSGI
app and answers such errors as the service would: JSON protocol (``{"__type", "message"}``, Step Functions,
DynamoDB, Glue, Athena, EventBridge, CloudWatch Logs, SQS), rest-json (Lambda: the code in
``x-amzn-ErrorType``), query (``<ErrorResponse>``: CloudFormation, IAM, STS) or S3's ``<Error>``. HTTP 500
becomes the service's internal error (``InternalFailure``; DynamoDB ``InternalServerError``; Lambda
``ServiceException``; S3 ``InternalError``), other statuses keep their status with their reason as the code.

The service is read from the request: ``X-Amz-Target`` (JSON protocol), the credential scope of the
``Authorization`` header or of a presigned URL, and the path for Lambda. A request that is none of these (not
an AWS client's call, e.g. the local console) is passed through untouched.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from localaws import aws_json

log = logging.getLogger(__name__)

StartResponse = Callable[..., Callable[[bytes], object]]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_LAMBDA_PATH = re.compile(r"^/\d{4}-\d{2}-\d{2}/(functions|event-source-mappings|layers|tags)\b")
# Signing names of the rest-json services a client of this project may call (the rest answer query/XML).
REST_JSON_SERVICES = frozenset({"lambda", "apigateway", "execute-api", "scheduler"})

INTERNAL_MESSAGE = "The request processing has failed because of an unknown error."
# (protocol) -> (code, message) of the service's own HTTP 500; services with another shape are listed below.
_INTERNAL = {
    "json": ("InternalFailure", INTERNAL_MESSAGE),
    "rest-json": ("ServiceException", INTERNAL_MESSAGE),
    "s3": ("InternalError", "We encountered an internal error. Please try again."),
    "query": ("InternalFailure", INTERNAL_MESSAGE),
}
_INTERNAL_BY_SERVICE = {"dynamodb": ("InternalServerError", "Internal server error")}
# (protocol or "*", HTTP status) -> the code AWS's front end answers a request it cannot route or accept (the
# "Common Errors" of the API references); werkzeug's reason phrase ("NotFound") is no AWS error code.
_CLIENT_ERRORS = {
    ("json", 404): "UnknownOperationException",
    ("rest-json", 404): "UnknownOperationException",
    ("query", 404): "InvalidAction",
    ("s3", 405): "MethodNotAllowed",
    ("s3", 400): "InvalidRequest",
    ("s3", 403): "AccessDenied",
    ("query", 400): "ValidationError",
    ("query", 403): "AccessDenied",
    ("*", 400): "ValidationException",
    ("*", 403): "AccessDeniedException",
    ("*", 405): "UnknownOperationException",
    ("*", 413): "RequestEntityTooLargeException",
    ("*", 429): "ThrottlingException",
}


def service_protocol(environ: dict[str, Any]) -> tuple[str, str] | None:
    """(signing name, protocol) of an AWS client's request: protocol is "json", "rest-json", "s3" or "query";
    None for a request no AWS client sent."""
    scope = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    service = scope[1] if scope else ""
    if not service:
        credential = parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential", [""])[0]
        parts = credential.split("/")
        service = parts[3] if len(parts) >= 5 else ""
    if environ.get("HTTP_X_AMZ_TARGET"):
        return service or "unknown", "json"
    if service == "s3":
        return service, "s3"
    if service in REST_JSON_SERVICES or (not service and _LAMBDA_PATH.match(environ.get("PATH_INFO", ""))):
        return service or "lambda", "rest-json"
    if service:
        return service, "query"
    return None


def shaped_error(
    service: str, protocol: str, status: int, content_type: str = ""
) -> tuple[str, list[tuple[str, str]], bytes]:
    """(status line, headers, body) of an error answer of HTTP ``status`` in the service's protocol."""
    reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    if status >= 500:
        code, message = _INTERNAL_BY_SERVICE.get(service) or _INTERNAL[protocol]
    else:
        code = _CLIENT_ERRORS.get((protocol, status)) or _CLIENT_ERRORS.get(("*", status))
        code, message = code or reason.replace(" ", ""), reason
    status_line = f"{status} {reason}"
    request_id = str(uuid.uuid4())
    if protocol == "json":
        media = (
            content_type
            if content_type.startswith("application/x-amz-json")
            else "application/x-amz-json-1.1"
        )
        headers = [("Content-Type", media), ("x-amzn-RequestId", request_id)]
        return status_line, headers, json.dumps({"__type": code, "message": message}).encode()
    if protocol == "rest-json":
        headers = [
            ("Content-Type", "application/json"),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", code),
        ]
        body = {"Type": "Service" if status >= 500 else "User", "message": message}
        return status_line, headers, json.dumps(body).encode()
    if protocol == "s3":
        xml = f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{request_id}</RequestId>"
        xml += "</Error>"
        return (
            status_line,
            [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)],
            xml.encode(),
        )
    sender = "Receiver" if status >= 500 else "Sender"
    xml = (
        f"<ErrorResponse><Error><Type>{sender}</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return status_line, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], xml.encode()


def _status_code(status_line: str) -> int:
    try:
        return int(status_line.split(" ", 1)[0])
    except ValueError:
        return 500


def _is_unshaped_error(status_line: str, headers: list[tuple[str, str]], start: bytes) -> bool:
    """An error answer no AWS client can read: one of werkzeug's HTML error pages. moto also labels some of
    its own JSON errors text/html (a handler's `(body, {"status": 400})`), so the body decides."""
    if _status_code(status_line) < 400:
        return False
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
    if not content_type.startswith("text/html"):
        return False
    head = start.lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or not head


class ServiceShapedErrors:
    """WSGI middleware: moto's unmapped errors and HTML error pages become the service's own error answer."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        captured: dict[str, Any] = {}
        written: list[bytes] = []

        def capture(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            captured.update(status=status, headers=headers, exc_info=exc_info)
            return written.append  # the legacy write(): kept and sent first

        try:
            body = self.app(environ, capture)
            if "status" not in captured:  # an app that starts its answer lazily: run it now
                body = list(body)
        except Exception:
            target = service_protocol(environ)
            if target is None:
                raise
            log.exception("unhandled error in %s %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            return self._error(environ, start_response, target, 500)

        target = None
        if _status_code(captured["status"]) >= 400:
            original = body
            body = list(original)  # small: read it to tell an HTML page from moto's own error
            close = getattr(original, "close", None)
            if callable(close):
                close()
            start = b"".join([*written, *body])[:64]
            if _is_unshaped_error(captured["status"], captured["headers"], start):
                target = service_protocol(environ)
        if target is None:
            headers = captured["headers"]
            if _status_code(captured["status"]) < 300 and aws_json.may_reshape(environ):
                chunks = [*written, *body]
                close = getattr(body, "close", None)
                if callable(close):
                    close()
                data = b"".join(chunks)
                reshaped = aws_json.reshape(environ, headers, data)
                if reshaped is not None:  # AWS's JSON: its media type, no nulls, no keys outside the model
                    headers, data = reshaped
                start_response(captured["status"], headers, captured["exc_info"])
                return [data]
            start_response(captured["status"], headers, captured["exc_info"])
            return [*written, *body] if written else body
        close = getattr(body, "close", None)
        if callable(close):
            close()
        return self._error(environ, start_response, target, _status_code(captured["status"]))

    @staticmethod
    def _error(
        environ: dict[str, Any], start_response: StartResponse, target: tuple[str, str], status: int
    ) -> list[bytes]:
        service, protocol = target
        status_line, headers, body = shaped_error(service, protocol, status, environ.get("CONTENT_TYPE", ""))
        if environ.get("REQUEST_METHOD") == "HEAD":
            body = b""  # HEAD answers have no body; clients read the status
        start_response(status_line, [*headers, ("Content-Length", str(len(body)))])
        return [body]
