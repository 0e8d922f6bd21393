"""What a client's HTTP request to the endpoint is: its credentials, service, operation and parameters.

Read from the WSGI environ the way AWS reads a request: the SigV4 credential scope (``Authorization`` header,
or a presigned URL's ``X-Amz-Credential``) gives the access key, region and service; ``X-Amz-Target`` the
operation of a JSON-protocol service (its body the parameters); a query-protocol service (IAM, STS, SQS's
query form) its ``Action`` and form; S3 its method, path (path-style: ``/bucket/key``) and sub-resources;
Lambda its REST path. A body this module reads is put back for moto (``wsgi.input``). S3 object bodies are
never read (only ``DeleteObjects``' small XML list of keys).
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
# Bodies above this are not read (no operation the resource maps need parameters from has one that big).
MAX_READ_BYTES = 8 * 1024 * 1024


@dataclass
class ServiceRequest:
    access_key: str
    session_token: str | None
    region: str
    service: str  # SigV4 signing name: dynamodb, states, s3, lambda, ...
    protocol: str  # "json" | "query" | "s3" | "rest-json"
    operation: str  # "" when the request says none this module can read
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    params: dict[str, Any] = field(default_factory=dict)  # JSON body, or the query form (single values)
    body: bytes = b""

    def param(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    return headers


def read_body(environ: dict[str, Any]) -> bytes:
    """The request body, left in place for the app that serves it."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length <= 0 or length > MAX_READ_BYTES:
        return b""
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def credential(environ: dict[str, Any]) -> tuple[str, str, str] | None:
    """(access key id, region, signing name) of a signed request; None for an unsigned one."""
    match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match:
        return match[1], match[2], match[3]
    raw = parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential", [""])[0]
    parts = raw.split("/")
    if len(parts) >= 5:
        return parts[0], parts[2], parts[3]
    return None


def session_token(environ: dict[str, Any]) -> str | None:
    token = environ.get("HTTP_X_AMZ_SECURITY_TOKEN")
    if token:
        return token
    values = parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Security-Token")
    return values[0] if values else None


def parse(environ: dict[str, Any]) -> ServiceRequest | None:
    """The request, or None when it is not a signed AWS client call (the console, /moto-api)."""
    path = decoded_path(environ.get("PATH_INFO", "") or "/")
    if path.startswith("/moto-api"):
        return None
    signed = credential(environ)
    if signed is None:
        return None
    access_key, region, service = signed
    method = environ.get("REQUEST_METHOD", "GET").upper()
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    headers = _headers(environ)
    request = ServiceRequest(
        access_key=access_key,
        session_token=session_token(environ),
        region=region,
        service=service,
        protocol="query",
        operation="",
        method=method,
        path=path,
        query=query,
        headers=headers,
    )
    target = headers.get("x-amz-target")
    if target:
        request.protocol = "json"
        request.operation = target.rpartition(".")[2]
        request.body = read_body(environ)
        try:
            loaded = json.loads(request.body or b"{}")
        except ValueError:
            loaded = {}
        request.params = loaded if isinstance(loaded, dict) else {}
        return request
    if service == "s3":
        request.protocol = "s3"
        if method == "POST" and "delete" in query:
            request.body = read_body(environ)
        return request
    if service == "lambda":
        request.protocol = "rest-json"
        if method in ("POST", "PUT") and not re.search(r"/invocations/?$|/invoke-async/?$", path):
            request.body = read_body(environ)
            try:
                loaded = json.loads(request.body or b"{}")
            except ValueError:
                loaded = {}
            request.params = loaded if isinstance(loaded, dict) else {}
        return request
    form = {name: values[0] for name, values in query.items() if values}
    if method == "POST" and headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        request.body = read_body(environ)
        parsed = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
        form.update({name: values[0] for name, values in parsed.items() if values})
    request.params = form
    request.operation = form.get("Action", "")
    return request


def decoded_path(path: str) -> str:
    """PATH_INFO as text: WSGI hands it percent-decoded, its bytes as latin-1 (PEP 3333)."""
    try:
        return path.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return path
