"""WSGI middleware: every request signed with a session this endpoint's STS issued is authorised.

Per request: the access key of its SigV4 signature names the session (none: the user's own credentials,
the account's administrator, passed through); an expired session gets ``ExpiredToken``, a wrong session
token ``InvalidClientTokenId``; the request's needs (``localaws.iam.resources``) are decided against the
role's policies and the resource's policy; a denial, when enforcing, is answered in the service's protocol
(``localaws.iam.answers``) and moto never sees the request.

While a request is served, :func:`current_caller` is its session (None for the administrator), so that a
service acting with its caller's permissions (Athena's query) knows whose they are.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from localaws.iam import answers, requests
from localaws.iam.authorizer import Authorizer, active
from localaws.iam.identities import Session
from localaws.iam.resources import ResourceGap, Where, needs_of
from localaws.runtime.catalog_staging import VIA_HEADER

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_caller = threading.local()


def current_caller() -> Session | None:
    """The session whose request this thread is serving (None: the administrator, or no request)."""
    return getattr(_caller, "session", None)


def serving() -> bool:
    """Is this thread serving a request of the endpoint? (moto's backends are process-wide: a test's
    in-process ``mock_aws`` call is not the endpoint's and is not authorised.)"""
    return getattr(_caller, "serving", False)


@contextlib.contextmanager
def acting_as(session: Session | None) -> Iterator[None]:
    previous, was_serving = current_caller(), serving()
    _caller.session, _caller.serving = session, True
    try:
        yield
    finally:
        _caller.session, _caller.serving = previous, was_serving


def _athena_lookups(where: Where) -> None:
    """Workgroup look-ups of Athena's executions and named queries, from moto's backend."""

    def backend() -> Any:
        from moto.athena.models import athena_backends

        return athena_backends[where.account][where.region]

    def of_execution(execution_id: str) -> str | None:
        execution = backend().executions.get(execution_id)
        workgroup = getattr(execution, "workgroup", None)
        return getattr(workgroup, "name", None) or ("primary" if execution is not None else None)

    def of_named_query(query_id: str) -> str | None:
        named = backend().named_queries.get(query_id)
        return getattr(named, "workgroup", None) if named is not None else None

    where.athena_workgroup_of_execution = of_execution
    where.athena_workgroup_of_named_query = of_named_query


def _answer(
    start_response: StartResponse,
    environ: dict[str, Any],
    kind: str,
    request: requests.ServiceRequest,
    text: str,
) -> list[bytes]:
    status, headers, body = answers.answer(
        kind, request.service, request.protocol, text, environ.get("CONTENT_TYPE", "")
    )
    if environ.get("REQUEST_METHOD") == "HEAD":
        body = b""
    start_response(status, [*headers, ("Content-Length", str(len(body)))])
    return [body]


def authorize_request(authorizer: Authorizer, session: Session, request: requests.ServiceRequest) -> Any:
    """The outcome of one request of ``session`` (decisions recorded)."""
    where = Where(session.account, request.region)
    if request.service == "athena":
        _athena_lookups(where)
    principal = session.principal
    # A service's call for a run or query (X-Localaws-Via from localaws.runtime.catalog_staging): recorded as
    # such, and Athena's calls with its caller's credentials carry aws:CalledVia, as forward access sessions
    # do.
    made_for = request.headers.get(VIA_HEADER.lower(), "")
    via = made_for.split(":", 1)[0] if made_for else "http"
    context: dict[str, Any] = {}
    if via == "athena-query":
        athena = "athena.amazonaws.com"
        context = {
            "aws:CalledVia": [athena],
            "aws:CalledViaFirst": athena,
            "aws:CalledViaLast": athena,
            "aws:ViaAWSService": True,
        }
    detail = {"for": made_for} if made_for else None
    try:
        needs = needs_of(request, where)
    except ResourceGap as gap:
        return authorizer.deny_gap(
            principal, str(gap), via=via, service=request.service, operation=request.operation
        )
    return authorizer.authorize(
        principal,
        needs,
        via=via,
        service=request.service,
        operation=request.operation,
        region=request.region,
        context=context,
        detail=detail,
    )


class IamMiddleware:
    """Authorises the requests of issued sessions; passes everything else through unchanged."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        authorizer = active()
        if authorizer is None:
            return self.app(environ, start_response)
        request = requests.parse(environ)
        session = authorizer.sessions.lookup(request.access_key) if request is not None else None
        if request is None or session is None:
            with acting_as(None):
                return self.app(environ, start_response)
        if request.session_token != session.session_token:
            return _answer(start_response, environ, "invalid-token", request, answers.INVALID_TOKEN_MESSAGE)
        if session.expired():
            return _answer(start_response, environ, "expired", request, answers.EXPIRED_MESSAGE)
        outcome = authorize_request(authorizer, session, request)
        if not outcome.proceed:
            message = outcome.message or ""
            if request.service == "s3" and outcome.denied is not None:
                message = answers.s3_message(message, outcome.denied.resource)
            return _answer(start_response, environ, "denied", request, message)
        with acting_as(session):
            return self.app(environ, start_response)
