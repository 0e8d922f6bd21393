"""Bridge for Lambda: run each invocation's handler, from the deployed package, in a local child process.

Moto gaps bridged here (moto 5.2.5):

- ``LambdaFunction.invoke`` runs handlers only in Docker (``_invoke_lambda``); there is no Docker here. It is
  the one method every caller reaches - the Invoke API (through ``LambdaBackend.invoke``), S3 bucket
  notifications, SNS/SQS/logs deliveries - so it is replaced by :func:`_bridged_function_invoke`, which runs
  the handler with :class:`LocalLambdaRuntime`. The events bridge's scheduler uses :func:`invoke_function`;
  the S3 bridge's notifications (``localaws/bridges/s3.py``) call ``LambdaFunction.invoke``.
- With ``use_docker`` off (what ``localaws.server`` sets) moto serves Lambda from ``LambdaSimpleBackend``,
  whose ``invoke`` returns a canned answer without calling the function; it is pointed back at
  ``LambdaBackend.invoke``.
- EventInvokeConfig is stored once per function and never applied; reserved concurrency is only stored.

The package, one concern per module:

- ``worker``: one warm execution environment, a ``localaws.runtime.lambda_process`` child (forked from the
  zygote, ``localaws.runtime.lambda_zygote``), its pipe protocol and its output;
- ``pool``: the workers of every function (reuse, discard, the idle reaper), and what each gets: its
  package, environment and CloudWatch Logs stream;
- ``execution``: one invocation on one worker (the init phase, timeouts, exits) and pre-warming;
- ``invoke``: invocations as the API and AWS's services make them (synchronous, asynchronous with retries),
  the reserved-concurrency gate, ``LocalLambdaRuntime`` and ``runtime()``;
- ``event_invoke_config``: the five EventInvokeConfig operations, per function and qualifier;
- ``destinations``: the invocation record of a finished asynchronous event and its delivery;
- here: the patches of moto, ``install`` and ``stop``.

Settings (``MAX_IDLE_WORKERS``, ``ASYNC_RETRY_DELAYS_S``, ...) are read at call time from the module that
defines them: patch them there (e.g. ``awslambda.pool.MAX_IDLE_WORKERS``), not on this package.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from localaws.bridges import patching
from localaws.bridges.awslambda.destinations import (
    deliver_invocation_record,
    invocation_record,
    send_invocation_record,
)
from localaws.bridges.awslambda.event_invoke_config import (
    _EVENT_CONFIG_METHODS,
    DEFAULT_MAX_RETRY_ATTEMPTS,
    _event_config_action,
    delete_event_invoke_config,
    event_invoke_config_of,
    get_event_invoke_config,
    list_event_invoke_configs,
    put_event_invoke_config,
    update_event_invoke_config,
)
from localaws.bridges.awslambda.execution import DRAIN_TIMEOUT_S, INIT_TIMEOUT_S
from localaws.bridges.awslambda.invoke import (
    ASYNC_RETRY_DELAYS_S,
    MAX_EVENT_AGE_S,
    THROTTLE_RETRY_S,
    InvocationResult,
    LocalLambdaRuntime,
    Throttled,
    _lock,
    _state,
    get_function,
    invoke_function,
    runtime,
)
from localaws.bridges.awslambda.pool import (
    IDLE_TIMEOUT_S,
    MAX_IDLE_WORKERS,
    MIN_IDLE_TIMEOUT_S,
    REAP_INTERVAL_S,
    USE_ZYGOTE,
    WorkerPool,
)
from localaws.bridges.awslambda.worker import _Worker
from localaws.context import LocalAwsContext

__all__ = [
    "ASYNC_RETRY_DELAYS_S",
    "DEFAULT_MAX_RETRY_ATTEMPTS",
    "DRAIN_TIMEOUT_S",
    "IDLE_TIMEOUT_S",
    "INIT_TIMEOUT_S",
    "LOG_TAIL_BYTES",
    "MAX_EVENT_AGE_S",
    "MAX_IDLE_WORKERS",
    "MIN_IDLE_TIMEOUT_S",
    "REAP_INTERVAL_S",
    "THROTTLE_RETRY_S",
    "USE_ZYGOTE",
    "InvocationResult",
    "LocalLambdaRuntime",
    "Throttled",
    "WorkerPool",
    "_Worker",
    "delete_event_invoke_config",
    "deliver_invocation_record",
    "event_invoke_config_of",
    "get_event_invoke_config",
    "get_function",
    "install",
    "invocation_record",
    "invoke_function",
    "list_event_invoke_configs",
    "put_event_invoke_config",
    "runtime",
    "send_invocation_record",
    "stop",
    "update_event_invoke_config",
]

LOG_TAIL_BYTES = 4096  # the end of the log an Invoke with LogType Tail returns (x-amz-log-result)


# -- the patches -------------------------------------------------------------------------------------------
def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is None:
        for key, val in dict(headers).items():
            if key.lower() == name:
                return val
    return value


def _bridged_function_invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> bytes:
    """Replaces ``moto.awslambda.models.LambdaFunction.invoke`` (moto runs handlers only in Docker)."""
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    if not body:
        body = "{}"
    try:
        json.loads(body)
    except ValueError as exc:
        from moto.awslambda.exceptions import LambdaClientError

        raise LambdaClientError(
            "InvalidRequestContentException", f"Could not parse request body into json: {exc}"
        ) from exc
    invocation_type = _header(request_headers, "x-amz-invocation-type") or "RequestResponse"
    if invocation_type == "DryRun":
        return b""
    if invocation_type == "Event":
        runtime().invoke_async(self, body)
        return b""
    try:
        result = runtime().invoke(self, body)
    except Throttled as exc:
        from moto.awslambda.exceptions import LambdaClientError

        error = LambdaClientError("TooManyRequestsException", "Rate Exceeded.")
        error.code = 429  # as Lambda's API answers a throttled Invoke
        raise error from exc
    if result.function_error:
        response_headers["x-amz-function-error"] = result.function_error
    tail = "\n".join(result.log_lines).encode("utf-8")[-LOG_TAIL_BYTES:]
    response_headers["x-amz-log-result"] = base64.b64encode(tail).decode("ascii")
    response_headers["x-amz-executed-version"] = str(self.version)
    return result.payload


def _bridged_simple_backend_invoke(
    self: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
) -> Any:
    """Replaces ``LambdaSimpleBackend.invoke`` (a canned answer) by ``LambdaBackend.invoke`` (runs it)."""
    from moto.awslambda.models import LambdaBackend

    return LambdaBackend.invoke(self, function_name, qualifier, body, headers, response_headers)


def _create_function_then_prewarm(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_function(self: Any, spec: dict[str, Any]) -> Any:
        fn = original(self, spec)
        rt = _state["runtime"]
        if rt is not None and rt.ctx.prewarm_lambdas:
            rt.prewarm(fn)
        return fn

    return create_function


def install(ctx: LocalAwsContext) -> None:
    """Patch moto so Lambda functions run locally (idempotent; the latest context wins)."""
    from moto.awslambda import urls as lambda_urls
    from moto.awslambda.models import LambdaBackend, LambdaFunction
    from moto.awslambda.responses import LambdaResponse
    from moto.awslambda_simple.models import LambdaSimpleBackend

    with _lock:
        previous = _state["runtime"]
        if previous is None or previous.ctx is not ctx:
            _state["runtime"] = LocalLambdaRuntime(ctx)
            if previous is not None:  # its workers talk to the earlier endpoint
                previous.stop()
        for operation, method in _EVENT_CONFIG_METHODS.items():
            patching.replace(LambdaResponse, method, _event_config_action(operation))
        # moto's routes take no "$" in a function name, so "my-function:$LATEST" (or its ARN) is a 404. moto
        # strips every "$" from a route (hence \x24); the server reads these when it builds its Lambda app.
        for suffix in ("event-invoke-config/?$", "event-invoke-config/list$"):
            lambda_urls.url_paths[
                r"{0}/(?P<api_version>[^/]+)/functions/(?P<function_name>[\w_:%\x24-]+)/" + suffix
            ] = LambdaResponse.dispatch
        patching.wrap(LambdaBackend, "create_function", _create_function_then_prewarm)
        patching.replace(LambdaFunction, "invoke", _bridged_function_invoke)
        patching.replace(LambdaSimpleBackend, "invoke", _bridged_simple_backend_invoke)


def stop() -> None:
    """Stop every warm worker (``LocalAws.stop``); later invocations start new ones."""
    rt = _state["runtime"]
    if rt is not None:
        rt.stop()
