"""Invoke: an invocation as Lambda's API and AWS's services see it, synchronous or asynchronous, with
retries and the concurrency gate; and the bridge's runtime (``LocalLambdaRuntime``, ``runtime()``).

Async (``Event``) invocations run in a daemon thread. One that ends in a function error (an exception, a
timeout, a crash) is run again twice, one and then two minutes later on the scaled clock, with the same
request id, as Lambda retries asynchronous events by default (``ASYNC_RETRY_DELAYS_S``); ``stop()`` cancels
the retries still waiting. The function version's EventInvokeConfig (``event_invoke_config``) can change the
retries and bound the event's age; a finished event goes to its destination (``destinations``).

Reserved concurrency (``PutFunctionConcurrency`` / the ``ReservedConcurrentExecutions`` property), which moto
only stores: at most that many invocations of a function run at once (0: none). A synchronous Invoke beyond
it fails ``TooManyRequestsException`` (HTTP 429) as Lambda's API does; an asynchronous one is throttled and
retried by Lambda until a slot frees, as AWS does for up to 6 hours (``MAX_EVENT_AGE_S``; the age counts
Lambda's waits on the scaled clock and the invocations' real time, ``_EventAge``), then dropped. Without
reserved concurrency invocations run side by side.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from localaws.bridges.awslambda.destinations import send_invocation_record
from localaws.bridges.awslambda.event_invoke_config import DEFAULT_MAX_RETRY_ATTEMPTS, event_invoke_config_of
from localaws.bridges.awslambda.execution import WorkerExecution, _ChildOutcome
from localaws.bridges.awslambda.pool import _RuntimeFailure
from localaws.context import LocalAwsContext

log = logging.getLogger(__name__)

# Lambda retries a throttled asynchronous event for up to 6 hours (its maximum event age).
MAX_EVENT_AGE_S = 6 * 3600.0
# Lambda runs a failed asynchronous event again after 1 minute, then after 2 more (MaximumRetryAttempts 2).
ASYNC_RETRY_DELAYS_S = (60.0, 120.0)
THROTTLE_RETRY_S = 0.5  # at the latest, a throttled async event looks for a free slot this often

_lock = threading.Lock()  # held by install() while it replaces the runtime
_state: dict[str, Any] = {"runtime": None}


@dataclass
class InvocationResult:
    request_id: str
    payload: bytes
    function_error: str | None = None  # "Unhandled" when the handler (or the runtime) failed
    log_lines: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    ended_by_stop: bool = False  # killed by ``stop()`` (the endpoint shutting down), not by its own fault

    @property
    def error(self) -> dict[str, Any] | None:
        return json.loads(self.payload) if self.function_error else None


class Throttled(Exception):
    """The function's reserved concurrency is all in use (a synchronous Invoke: TooManyRequestsException)."""


class _ConcurrencyGate:
    """Running invocations per function, bounded by its reserved concurrency (moto stores it, never applies
    it). Keyed by account, region and name: reserved concurrency holds for every version of a function."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._running: dict[tuple[str, str, str], int] = {}

    @staticmethod
    def _key(fn: Any) -> tuple[str, str, str]:
        return (str(getattr(fn, "account_id", "")), str(getattr(fn, "region", "")), fn.function_name)

    @staticmethod
    def limit(fn: Any) -> int | None:
        """The function's reserved concurrency now (set on its unqualified function), or None."""
        reserved = getattr(fn, "reserved_concurrency", None)
        with contextlib.suppress(Exception):  # a version object keeps the value it was published with
            from moto.awslambda.utils import get_backend

            reserved = (
                get_backend(fn.account_id, fn.region).get_function(fn.function_name).reserved_concurrency
            )
        return None if reserved is None or reserved == "" else int(reserved)

    def try_enter(self, fn: Any) -> bool:
        key, limit = self._key(fn), self.limit(fn)
        with self._condition:
            if limit is not None and self._running.get(key, 0) >= limit:
                return False
            self._running[key] = self._running.get(key, 0) + 1
            return True

    def enter_waiting(self, fn: Any, deadline: float, cancelled: Callable[[], bool]) -> bool:
        """Enter once a slot frees (Lambda's retries of a throttled async event); False at the deadline."""
        while not self.try_enter(fn):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or cancelled():
                return False
            with self._condition:
                # Woken by leave(); the timeout also notices a raised limit or a stop.
                self._condition.wait(min(remaining, THROTTLE_RETRY_S))
        return True

    def leave(self, fn: Any) -> None:
        key = self._key(fn)
        with self._condition:
            self._running[key] = max(0, self._running.get(key, 0) - 1)
            self._condition.notify_all()


class _EventAge:
    """An async event's age in AWS seconds. Lambda's waits (retry delays, throttling) pass on the scaled clock
    and count as the AWS seconds they stand for; invocations run in real time and count as they last. Scaling
    the maximum age alone made it shorter than one invocation's timeout at a small time scale (6 h at 0.002 is
    43 s), so an event whose attempts each took half a minute was dropped as EventAgeExceeded, never
    RetriesExhausted as on AWS."""

    def __init__(self, ctx: LocalAwsContext) -> None:
        self.ctx = ctx
        self.seconds = 0.0

    def waited(self, aws_seconds: float) -> None:
        self.seconds += aws_seconds

    def waited_scaled(self, real_seconds: float) -> None:
        self.seconds += real_seconds / self.ctx.time_scale if self.ctx.time_scale > 0 else 0.0

    def ran(self, real_seconds: float) -> None:
        self.seconds += real_seconds


class LocalLambdaRuntime(WorkerExecution):
    """Runs invocations of moto's ``LambdaFunction`` objects in warm workers and records their logs."""

    def __init__(self, ctx: LocalAwsContext) -> None:
        super().__init__(ctx)
        self.concurrency = _ConcurrencyGate()

    # -- invoke ----------------------------------------------------------------------------------------
    def invoke(self, fn: Any, event: bytes | str, request_id: str | None = None) -> InvocationResult:
        """Run one invocation to its end and return its result (never raises for the function's errors).

        Raises Throttled when the function's reserved concurrency is all in use."""
        if not self.concurrency.try_enter(fn):
            raise Throttled(fn.function_name)
        try:
            return self._invoke_admitted(fn, event, request_id)
        finally:
            self.concurrency.leave(fn)

    def _invoke_admitted(
        self, fn: Any, event: bytes | str, request_id: str | None = None, attempt: int = 1
    ) -> InvocationResult:
        request_id = request_id or str(uuid.uuid4())
        if isinstance(event, bytes):
            event = event.decode("utf-8")
        lines: list[str] = []
        started = time.monotonic()
        self.ctx.emit("lambda.invoke.start", function=fn.function_name, request_id=request_id)
        worker = self._acquire(fn)
        log_stream = worker.log_stream
        error: dict[str, Any] | None = None
        payload = b"null"
        outcome = _ChildOutcome()
        try:
            self._open_log_stream(fn, log_stream)
            start_line = f"START RequestId: {request_id} Version: {fn.version}"
            self._log(fn, log_stream, request_id, lines, start_line)
            try:
                outcome = self._run(worker, fn, event, request_id, lines, attempt)
                if outcome.result is None:
                    error = outcome.failure
                elif outcome.result.get("ok"):
                    payload = outcome.result["payload"].encode("utf-8")
                else:
                    error = outcome.result["error"]
            except _RuntimeFailure as exc:
                outcome.discard = True
                error = {"errorMessage": exc.message, "errorType": exc.error_type}
                self._log(fn, log_stream, request_id, lines, f"[ERROR] {exc.error_type}: {exc.message}")
            except Exception as exc:  # a bug here must end the invocation as an error, not hang the caller
                log.exception("local Lambda runtime failed for %s", fn.function_name)
                outcome.discard = True
                error = {
                    "errorMessage": f"Local Lambda runtime failed: {exc}",
                    "errorType": "Runtime.Unknown",
                }
            duration_s = time.monotonic() - started
            handler_s = outcome.handler_s
            self._log(fn, log_stream, request_id, lines, f"END RequestId: {request_id}")
            report = (
                f"REPORT RequestId: {request_id}\tDuration: {handler_s * 1000:.2f} ms\t"
                f"Billed Duration: {math.ceil(handler_s * 1000)} ms\tMemory Size: {fn.memory_size} MB\t"
                f"Max Memory Used: {max(1, outcome.max_rss_kb // 1024)} MB"
            )
            if outcome.fresh:  # the first invocation of a worker carries its init phase, as on AWS
                report += f"\tInit Duration: {outcome.init_s * 1000:.2f} ms"
            if outcome.timed_out:
                report += "\tStatus: timeout"
            elif error is not None and error.get("errorType") == "Runtime.ExitError":
                report += "\tStatus: error\tError Type: Runtime.ExitError"
            self._log(fn, log_stream, request_id, lines, report)
        finally:
            self._release(worker, discard=outcome.discard)
        if error is not None:
            payload = json.dumps(error).encode("utf-8")
        # stop() bumps the generation before it kills busy workers: an exit after that was the stop's doing.
        ended_by_stop = (
            error is not None
            and error.get("errorType") == "Runtime.ExitError"
            and worker.generation != self._generation
        )
        self.ctx.emit(
            "lambda.invoke.end",
            function=fn.function_name,
            request_id=request_id,
            duration_s=duration_s,
            error=(error or {}).get("errorType") if error else None,
        )
        return InvocationResult(
            request_id=request_id,
            payload=payload,
            function_error="Unhandled" if error is not None else None,
            log_lines=lines,
            duration_s=duration_s,
            ended_by_stop=ended_by_stop,
        )

    def invoke_async(
        self,
        fn: Any,
        event: bytes | str,
        on_done: Callable[[InvocationResult], None] | None = None,
    ) -> str:
        """Start an ``Event`` invocation in a daemon thread; return its request id at once.

        The function's EventInvokeConfig (if any) sets the retries and the maximum event age; an event that
        fails every attempt or gets too old goes to its on-failure destination, a success to its on-success
        one (``destinations.send_invocation_record``)."""
        request_id = str(uuid.uuid4())
        if isinstance(event, bytes):
            event = event.decode("utf-8")

        def run() -> None:
            generation = self._generation
            stopped = lambda: self._generation != generation  # noqa: E731
            config = event_invoke_config_of(fn) or {}
            retries = config.get("MaximumRetryAttempts")
            retries = DEFAULT_MAX_RETRY_ATTEMPTS if retries is None else int(retries)
            max_age_s = float(config.get("MaximumEventAgeInSeconds") or MAX_EVENT_AGE_S)
            age = _EventAge(self.ctx)
            result: InvocationResult | None = None
            attempts = 0
            condition = "RetriesExhausted"
            for attempt in range(retries + 1):
                if attempt and not self._wait_for_retry(ASYNC_RETRY_DELAYS_S[attempt - 1], stopped):
                    log.info(
                        "retry of async invocation %s of %s cancelled by stop()", request_id, fn.function_name
                    )
                    return
                if attempt:
                    age.waited(ASYNC_RETRY_DELAYS_S[attempt - 1])
                    if age.seconds >= max_age_s:  # too old for another attempt
                        condition = "EventAgeExceeded"
                        break
                waiting_since = time.monotonic()
                entered = self.concurrency.enter_waiting(
                    fn, waiting_since + self.ctx.scaled(max_age_s - age.seconds), stopped
                )
                age.waited_scaled(time.monotonic() - waiting_since)
                if not entered:
                    if stopped():  # at stop() a waiting event goes with the endpoint
                        log.info(
                            "async invocation %s of %s dropped: the endpoint stopped",
                            request_id,
                            fn.function_name,
                        )
                        return
                    condition = "EventAgeExceeded"  # throttled past its maximum event age
                    break
                began = time.monotonic()
                try:
                    result = self._invoke_admitted(fn, event, request_id, attempt + 1)
                finally:
                    self.concurrency.leave(fn)
                    age.ran(time.monotonic() - began)
                attempts += 1
                if result.ended_by_stop:  # the endpoint is going away; nothing failed that anyone waits for
                    log.info("async invocation %s of %s ended by stop()", request_id, fn.function_name)
                    condition = ""
                    break
                if not result.function_error:
                    condition = "Success"
                    break
                log.warning(
                    "async invocation %s of %s failed (attempt %d%s): %s",
                    request_id,
                    fn.function_name,
                    attempt + 1,
                    ", Lambda retries it" if attempt < retries else ", no retry left",
                    result.payload.decode("utf-8", "replace"),
                )
            destination = None
            if condition:
                destination = send_invocation_record(fn, request_id, event, result, condition, attempts)
                if destination is None and condition != "Success":
                    log.warning(
                        "async invocation %s of %s dropped (%s, no on-failure destination)",
                        request_id,
                        fn.function_name,
                        condition,
                    )
            self.ctx.emit(
                "lambda.async.end",
                function=fn.function_name,
                request_id=request_id,
                condition=condition or "Stopped",
                attempts=attempts,
                destination=destination,
            )
            if on_done is not None and result is not None:
                try:
                    on_done(result)
                except Exception:
                    log.exception("on_done callback of %s failed", fn.function_name)

        threading.Thread(target=run, name=f"lambda-{fn.function_name}-{request_id[:8]}", daemon=True).start()
        return request_id

    def _wait_for_retry(self, delay_s: float, stopped: Callable[[], bool]) -> bool:
        """Sleep a retry delay on the scaled clock; False when stop() came first."""
        until = time.monotonic() + self.ctx.scaled(delay_s)
        while not stopped():
            left = until - time.monotonic()
            if left <= 0:
                return True
            time.sleep(min(left, 0.05))
        return False


# -- public API (the events bridge, the fault matrix, destinations) -------------------------------------
def runtime() -> LocalLambdaRuntime:
    rt = _state["runtime"]
    if rt is None:
        raise RuntimeError("the awslambda bridge is not installed (localaws.bridges.awslambda.install)")
    return rt


def get_function(function_arn: str) -> Any:
    """moto's ``LambdaFunction`` for an ARN (qualified or not) in the account and region the ARN names."""
    from moto.awslambda.utils import get_backend

    parts = function_arn.split(":")
    if len(parts) < 7:
        raise ValueError(f"not a Lambda function ARN: {function_arn}")
    return get_backend(parts[4], parts[3]).get_function(function_arn)


def invoke_function(
    function_arn: str,
    payload: bytes | str,
    *,
    asynchronous: bool = True,
    on_done: Callable[[InvocationResult], None] | None = None,
) -> str | InvocationResult:
    """Invoke a function as an AWS service would: ``Event`` (returns the request id) or synchronously."""
    fn = get_function(function_arn)
    if asynchronous:
        return runtime().invoke_async(fn, payload, on_done=on_done)
    return runtime().invoke(fn, payload)
