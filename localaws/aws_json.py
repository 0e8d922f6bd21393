"""JSON answers as AWS writes them: no ``null`` where AWS leaves a key out, no key outside the model.

Many of moto's JSON handlers build their answer by hand and serialize Python's ``None`` as ``null`` (Lambda's
``VpcConfig``/``KMSKeyArn``/``SigningJobArn``, the list calls' ``NextToken``/``nextToken`` of EventBridge and
CloudWatch Logs, Athena's ``WorkGroup``), or add a field another operation has (EventBridge's ``ListRules``
gives each rule ``CreatedBy``, which only ``DescribeRule`` has). botocore reads a ``null`` as "absent" and
drops an unknown key, so the SDK this project uses never noticed; other SDKs and code that reads the raw
answer do (a JavaScript client sees ``null`` where AWS gives ``undefined``).

``reshape`` walks a successful JSON answer (``json`` and ``rest-json`` protocols) with botocore's output
shape of its operation and drops both. It is applied to every answer of the endpoint by
``localaws.error_shapes.ServiceShapedErrors``; a payload that is not a structure (Lambda ``Invoke``'s
function result, an object's bytes) and ``document`` values (free-form JSON) are never touched. The
conformance check (``localaws.conformance``) then sees the answer as the client gets it.
"""

from __future__ import annotations

import binascii
import json
from typing import Any

from localaws.conformance.operations import Operation, identify
from localaws.conformance.shapes import conform_json


def reshape(
    environ: dict[str, Any], headers: list[tuple[str, str]], body: bytes
) -> tuple[list[tuple[str, str]], bytes] | None:
    """The answer's headers and body as AWS gives them, or None when they need no change (or the answer is
    not a structured JSON answer of an operation botocore knows). Besides the body, moto labels many JSON
    answers ``text/html``; AWS sends the protocol's media type."""
    op = identify(environ)
    if not isinstance(op, Operation) or op.protocol not in ("json", "rest-json"):
        return None
    operation = op.operation
    if operation.has_streaming_output or operation.has_event_stream_output or body.lstrip()[:1] != b"{":
        return None
    shape = operation.output_shape
    payload = shape.serialization.get("payload") if shape is not None else None
    if payload:
        shape = shape.members[payload]
        if shape.type_name != "structure":
            return None  # the payload is the function's result or a document: the caller's JSON
    changed_headers = _with_media_type(op, headers)
    cleaned_body = None
    if shape is not None:
        try:
            parsed = json.loads(body)
        except ValueError:
            return None
        cleaned, changed = conform_json(shape, parsed)
        if changed:
            cleaned_body = json.dumps(cleaned).encode()
    if cleaned_body is None and changed_headers is None:
        return None
    new_body = body if cleaned_body is None else cleaned_body
    new_headers = [(k, v) for k, v in (changed_headers or headers) if k.lower() not in _BODY_HEADERS]
    new_headers.append(("Content-Length", str(len(new_body))))
    if any(k.lower() == "x-amz-crc32" for k, _ in headers):
        # DynamoDB's checksum of the body: botocore retries an answer whose body does not match it.
        new_headers.append(("x-amz-crc32", str(binascii.crc32(new_body) & 0xFFFFFFFF)))
    return new_headers, new_body


def _with_media_type(op: Operation, headers: list[tuple[str, str]]) -> list[tuple[str, str]] | None:
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
    if content_type.startswith(("application/x-amz-json", "application/json")):
        return None
    if op.protocol == "json":
        media = f"application/x-amz-json-{op.service.metadata.get('jsonVersion', '1.0')}"
    else:
        media = "application/json"
    return [(k, v) for k, v in headers if k.lower() != "content-type"] + [("Content-Type", media)]


_BODY_HEADERS = frozenset({"content-length", "x-amz-crc32"})


def may_reshape(environ: dict[str, Any]) -> bool:
    """Cheap first test: a JSON-protocol call (``X-Amz-Target``) or a Lambda REST call; S3 and the query
    services answer XML, and their (possibly large) bodies are never read here."""
    if environ.get("HTTP_X_AMZ_TARGET"):
        return True
    return _LAMBDA_SCOPE in environ.get("HTTP_AUTHORIZATION", "")


_LAMBDA_SCOPE = "/lambda/aws4_request"
