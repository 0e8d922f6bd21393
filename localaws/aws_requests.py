"""Which AWS call a request to the endpoint is: its service, operation, protocol, and who made it.

Read from what every SDK sends: the SigV4 credential scope names the service, ``X-Amz-Target`` (JSON
protocols), the query ``Action`` (query protocols) or the method and path (S3, Lambda) name the operation. A
Lambda worker in a seeded fault mode adds CALL_HEADER (function|operation|number|attempt). Requests the
endpoint makes to itself (INTERNAL_HEADER) and unsigned ones (the console, /moto-api) are no client's calls.
Used by the fault mode (faults.py) and any other layer that acts per client call.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

INTERNAL_HEADER = "X-Localaws-Internal"
CALL_HEADER = "X-Localaws-Call"

_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_LAMBDA_INVOKE = re.compile(r"^/[\d-]+/functions/[^/]+/invocations/?$")


@dataclass(frozen=True)
class Call:
    service: str
    operation: str  # "" when not known (a REST path this module does not map)
    protocol: str  # "json" | "query" | "s3" | "rest-json"
    tag: str = ""  # CALL_HEADER of a Lambda worker's call: function|operation|number|attempt

    @property
    def name(self) -> str:
        return f"{self.service}.{self.operation or '?'}"


def _s3_operation(method: str, path: str, query: dict[str, list[str]], environ: dict[str, Any]) -> str:
    """The S3 operation of a path-style request (what the clients of this endpoint send)."""
    parts = path.lstrip("/").split("/", 1)
    has_key = len(parts) == 2 and parts[1] != ""
    if not parts[0]:
        return "ListBuckets"
    if has_key:
        if "uploadId" in query:
            return {
                "PUT": "UploadPart",
                "POST": "CompleteMultipartUpload",
                "DELETE": "AbortMultipartUpload",
            }.get(method, "ListParts")
        if method == "POST" and "uploads" in query:
            return "CreateMultipartUpload"
        if method == "PUT":
            return "CopyObject" if environ.get("HTTP_X_AMZ_COPY_SOURCE") else "PutObject"
        return {"GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}.get(method, "")
    if method == "POST" and "delete" in query:
        return "DeleteObjects"
    if method == "GET":
        if query.get("list-type") == ["2"]:
            return "ListObjectsV2"
        if "versions" in query:
            return "ListObjectVersions"
        sub = next((name for name in query if name in _S3_SUBRESOURCES), None)
        return f"GetBucket{_S3_SUBRESOURCES[sub]}" if sub else "ListObjects"
    if method == "PUT":
        sub = next((name for name in query if name in _S3_SUBRESOURCES), None)
        return f"PutBucket{_S3_SUBRESOURCES[sub]}" if sub else "CreateBucket"
    return {"HEAD": "HeadBucket", "DELETE": "DeleteBucket"}.get(method, "")


_S3_SUBRESOURCES = {
    "policy": "Policy",
    "notification": "NotificationConfiguration",
    "versioning": "Versioning",
    "tagging": "Tagging",
    "location": "Location",
    "publicAccessBlock": "PublicAccessBlock",
    "acl": "Acl",
    "cors": "Cors",
    "lifecycle": "LifecycleConfiguration",
    "encryption": "Encryption",
}


def identify(environ: dict[str, Any]) -> Call | None:
    """Service, operation and protocol of a client request; None for what is not a client's AWS call.

    Reads the form body of a query-protocol request to find its Action and puts it back for moto.
    """
    path = environ.get("PATH_INFO", "") or "/"
    if path.startswith("/moto-api") or environ.get("HTTP_" + INTERNAL_HEADER.upper().replace("-", "_")):
        return None
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    scope = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if scope:
        service = scope[1]
    elif "X-Amz-Credential" in query:  # a presigned URL
        service = (
            query["X-Amz-Credential"][0].split("/")[3] if query["X-Amz-Credential"][0].count("/") >= 4 else ""
        )
    else:
        return None  # unsigned: not an SDK call
    method = environ.get("REQUEST_METHOD", "GET").upper()
    tag = environ.get("HTTP_" + CALL_HEADER.upper().replace("-", "_"), "")
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return Call(service, target.rpartition(".")[2], "json", tag)
    if service == "s3":
        return Call(service, _s3_operation(method, path, query, environ), "s3", tag)
    if service == "lambda":
        operation = "Invoke" if method == "POST" and _LAMBDA_INVOKE.match(path) else ""
        return Call(service, operation, "rest-json", tag)
    action = query.get("Action", [""])[0]
    if not action and environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)  # moto reads the same bytes again
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
    return Call(service, action, "query", tag)
