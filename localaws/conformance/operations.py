"""Which botocore operation a request to the endpoint calls, told from the request alone.

JSON-protocol services name it in ``X-Amz-Target`` (``<targetPrefix>.<Operation>``), query-protocol services
in the ``Action`` form field, and the REST services (S3, Lambda) by method and path: each operation's
``http.requestUri`` in the botocore model is a path template (``/{Bucket}/{Key+}``) plus, sometimes, query
keys it requires (``?uploads``, ``?list-type=2``). The operation whose template matches with the most literal
query keys and path characters wins, as AWS routes them; one that needs a header the request lacks
(CopyObject's ``x-amz-copy-source``) loses to its sibling (PutObject).

The service comes from the SigV4 credential scope (its signing name), so only what an SDK signs is
identified: unsigned requests (the local console) and moto's own ``/moto-api`` are not AWS calls.
"""

from __future__ import annotations

import io
import re
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from botocore import loaders
from botocore.exceptions import DataNotFoundError
from botocore.model import OperationModel, ServiceModel

_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request")
# Signing names whose botocore service name differs (the rest are equal).
_SERVICE_BY_SIGNING_NAME = {"states": "stepfunctions", "monitoring": "cloudwatch", "email": "ses"}
# Services that share a signing name with another (told apart by X-Amz-Target's prefix).
_SHARED_SIGNING_NAMES = {"dynamodb": ("dynamodb", "dynamodbstreams")}


@dataclass(frozen=True)
class Operation:
    """A request identified: its service's model and its operation's model."""

    service: ServiceModel
    operation: OperationModel

    @property
    def protocol(self) -> str:
        return self.service.metadata["protocol"]

    @property
    def name(self) -> str:
        return f"{self.service.service_name}.{self.operation.name}"


@dataclass(frozen=True)
class Unidentified:
    """A signed request whose operation the models do not know (what the service is, and why)."""

    service: str
    reason: str


class _Models:
    """botocore service models, loaded once per process on first use.

    From a Loader of its own: botocore's S3 client rewrites ``requestUri`` in the loaded model it is given
    (it drops ``/{Bucket}`` when it resolves endpoints), and a Loader shared with clients
    (``localaws.shared_botocore_loader``) would hand that rewritten model to the check.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loader: loaders.Loader | None = None
        self._services: dict[str, ServiceModel | None] = {}
        self._routes: dict[tuple[str, str], list[_Route]] = {}

    def service(self, name: str) -> ServiceModel | None:
        with self._lock:
            if name not in self._services:
                if self._loader is None:
                    self._loader = loaders.create_loader()
                try:
                    model = self._loader.load_service_model(name, "service-2")
                except DataNotFoundError:
                    self._services[name] = None
                else:
                    self._services[name] = ServiceModel(model, service_name=name)
            return self._services[name]

    def routes(self, service: ServiceModel, method: str) -> list[_Route]:
        key = (service.service_name, method)
        with self._lock:
            routes = self._routes.get(key)
            if routes is None:
                routes = self._routes[key] = _build_routes(service, method)
            return routes


@dataclass(frozen=True)
class _Route:
    pattern: re.Pattern[str]
    query: tuple[tuple[str, str | None], ...]  # required query keys, with the value the template fixes
    literal_chars: int
    required_headers: tuple[str, ...]  # lower case
    operation: str
    current: bool  # not deprecated: S3's GetBucketNotification shares its URI with ...Configuration

    def matches(self, path: str, query: dict[str, list[str]], headers: dict[str, Any]) -> bool:
        if not self.pattern.match(path):
            return False
        for key, value in self.query:
            if key not in query or (value is not None and value not in query[key]):
                return False
        return all(header in headers for header in self.required_headers)

    @property
    def specificity(self) -> tuple[int, int, int, bool]:
        return (len(self.query), len(self.required_headers), self.literal_chars, self.current)


def _build_routes(service: ServiceModel, method: str) -> list[_Route]:
    routes = []
    for name in service.operation_names:
        operation = service.operation_model(name)
        if operation.http.get("method", "POST").upper() != method:
            continue
        path_template, _, query_template = operation.http.get("requestUri", "/").partition("?")
        parts = []
        for piece in re.split(r"(\{[^}]+\})", path_template):
            if piece.startswith("{"):
                parts.append("(.+)" if piece.endswith("+}") else "([^/]+)")
            elif piece:
                parts.append(re.escape(piece))
        regex = "".join(parts).rstrip("/") + "/?"
        query = []
        for item in filter(None, query_template.split("&")):
            key, sep, value = item.partition("=")
            query.append((key, value if sep else None))
        required_headers = []
        input_shape = operation.input_shape
        if input_shape is not None:
            for member in input_shape.required_members:
                serialization = input_shape.members[member].serialization
                if serialization.get("location") == "header":
                    required_headers.append(serialization.get("name", member).lower())
        literal = len(re.sub(r"\{[^}]+\}", "", path_template))
        routes.append(
            _Route(
                re.compile(f"^{regex}$"),
                tuple(query),
                literal,
                tuple(required_headers),
                name,
                not operation.deprecated,
            )
        )
    return routes


_models = _Models()


def service_model(name: str) -> ServiceModel | None:
    """botocore's model of service ``name`` (None if botocore does not know it)."""
    return _models.service(name)


def _request_headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    return headers


def signing_name(environ: dict[str, Any]) -> str | None:
    """The SigV4 signing name of a signed request (header or presigned URL), else None."""
    scope = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if scope:
        return scope[1]
    credential = parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential", [""])[0]
    parts = credential.split("/")
    return parts[3] if len(parts) >= 5 else None


def _form_action(environ: dict[str, Any]) -> str:
    """The Action of a query-protocol request; reads the form body and puts it back for moto."""
    action = parse_qs(environ.get("QUERY_STRING", "")).get("Action", [""])[0]
    if action or not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return action
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]


def identify(environ: dict[str, Any]) -> Operation | Unidentified | None:
    """The operation a request calls; None for what is not an SDK's AWS call (unsigned, ``/moto-api``)."""
    path = environ.get("PATH_INFO") or "/"
    signing = signing_name(environ)
    if signing is None or path.startswith("/moto-api"):
        return None
    target = environ.get("HTTP_X_AMZ_TARGET")
    names = _SHARED_SIGNING_NAMES.get(signing, (_SERVICE_BY_SIGNING_NAME.get(signing, signing),))
    services = [model for model in map(service_model, names) if model is not None]
    if not services:
        return Unidentified(signing, "no botocore model for this signing name")
    if target:
        prefix, _, operation_name = target.rpartition(".")
        service = next((s for s in services if s.metadata.get("targetPrefix") == prefix), None)
        if service is None or operation_name not in service.operation_names:
            return Unidentified(signing, f"X-Amz-Target {target!r} names no operation of the model")
        return Operation(service, service.operation_model(operation_name))
    service = services[0]
    protocol = service.metadata["protocol"]
    if protocol in ("query", "ec2"):
        action = _form_action(environ)
        if action not in service.operation_names:
            return Unidentified(signing, f"Action {action!r} is no operation of the model")
        return Operation(service, service.operation_model(action))
    if protocol in ("rest-json", "rest-xml"):
        method = environ.get("REQUEST_METHOD", "GET").upper()
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        headers = _request_headers(environ)
        matching = [r for r in _models.routes(service, method) if r.matches(path, query, headers)]
        if not matching:
            return Unidentified(signing, f"{method} {path} matches no operation's requestUri")
        best = max(matching, key=lambda route: route.specificity)
        return Operation(service, service.operation_model(best.operation))
    return Unidentified(signing, f"protocol {protocol!r} without X-Amz-Target")
