"""Real SDK requests as WSGI environs, without an endpoint: botocore serialises and signs the call, a
``before-send`` hook catches the prepared request before it leaves."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import unquote, urlsplit

import boto3
from botocore.config import Config

ENDPOINT = "http://127.0.0.1:1"
KEYS = {"aws_access_key_id": "ASIATESTKEY", "aws_secret_access_key": "secret", "aws_session_token": "token"}


class _Caught(Exception):
    def __init__(self, request: Any) -> None:
        super().__init__("caught")
        self.request = request


def _catch(request: Any, **_: Any) -> None:
    raise _Caught(request)


_clients: dict[str, Any] = {}


def _client(service: str) -> Any:
    if service not in _clients:
        client = boto3.session.Session().client(
            service,
            region_name="us-east-1",
            endpoint_url=ENDPOINT,
            config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
            **KEYS,
        )
        client.meta.events.register("before-send", _catch)
        _clients[service] = client
    return _clients[service]


def environ_of(service: str, operation: str, **params: Any) -> dict[str, Any]:
    """The WSGI environ of ``boto3.client(service).<operation>(**params)`` as the endpoint receives it."""
    try:
        getattr(_client(service), operation)(**params)
    except _Caught as caught:
        request = caught.request
    else:  # pragma: no cover - the hook always fires
        raise AssertionError("the request was not caught")
    url = urlsplit(request.url)
    body = request.body or b""
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode()
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        # WSGI hands PATH_INFO percent-decoded, its bytes as latin-1.
        "PATH_INFO": unquote(url.path).encode("utf-8").decode("latin-1"),
        "QUERY_STRING": url.query,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    for name, value in request.headers.items():
        value = value.decode() if isinstance(value, bytes) else str(value)
        if name.lower() == "content-type":
            environ["CONTENT_TYPE"] = value
        else:
            environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ
