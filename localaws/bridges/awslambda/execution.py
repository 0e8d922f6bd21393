"""One invocation on one worker: the init phase of a new worker, the invoke message and its answer, a
timeout or an exit, and pre-warmed environments.

On AWS the init phase (importing the handler module) has its own 10 s limit (``INIT_TIMEOUT_S``), outside
the function timeout. A timed-out invocation and one whose worker exited discard the worker (AWS resets the
environment), and so does a failed init. ``WorkerExecution`` is the base of ``invoke.LocalLambdaRuntime``.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from localaws.bridges.awslambda.pool import _PROJECT_ROOT, WorkerPool, _RuntimeFailure
from localaws.bridges.awslambda.worker import _Sink, _Worker, _WorkerExited
from localaws.iam import service_access
from localaws.iam.identities import SessionError

log = logging.getLogger(__name__)

# On AWS the init phase (importing the handler module) has its own 10 s limit, outside the function timeout.
INIT_TIMEOUT_S = 10.0
DRAIN_TIMEOUT_S = 2.0  # longest wait, after a worker answered, for the rest of that invocation's output


@dataclass
class _ChildOutcome:
    result: dict[str, Any] | None = None
    failure: dict[str, Any] | None = None
    timed_out: bool = False
    fresh: bool = False  # the worker was started (init phase) for this invocation
    discard: bool = False  # the worker must not serve another invocation
    init_s: float = 0.0
    handler_s: float = 0.0
    max_rss_kb: int = 0


class WorkerExecution(WorkerPool):
    """Runs one invocation (or a pre-warming init) on a worker of the pool."""

    def _run(
        self, worker: _Worker, fn: Any, event: str, request_id: str, lines: list[str], attempt: int = 1
    ) -> _ChildOutcome:
        """One invocation on ``worker`` (``attempt``: Lambda's retry of an asynchronous event counts from 2):
        starts it first (the init phase) when it is new."""
        outcome = _ChildOutcome()
        sink = _Sink(request_id, lines)
        worker.begin(sink)
        try:
            if worker.proc is None:
                outcome.fresh = True
                spawned = time.monotonic()
                try:
                    answer = self._initialize(worker, fn)
                except _WorkerExited:
                    return self._exited(worker, fn, request_id, lines, outcome)
                outcome.init_s = time.monotonic() - spawned
                if answer is None:
                    return self._timed_out(worker, fn, request_id, lines, outcome, init=True)
                if not answer.get("ok"):  # AWS discards an environment whose init failed
                    worker.dispose()
                    outcome.discard = True
                    outcome.max_rss_kb = int(answer.get("max_rss_kb", 0))
                    outcome.result = {"ok": False, "error": answer["error"]}
                    return outcome
            worker.invocations += 1
            timeout_s = float(fn.timeout or 3)
            handler_started = time.monotonic()
            try:
                worker.send(
                    {
                        "type": "invoke",
                        "event": event,
                        "aws_request_id": request_id,
                        "invocation_attempt": attempt,  # seeded faults draw anew for a retry
                        "timeout_s": timeout_s,
                        "function_name": fn.function_name,
                        "function_version": str(fn.version),
                        "invoked_function_arn": fn.function_arn,
                        "memory_limit_in_mb": int(fn.memory_size),
                        "log_group_name": fn.logs_group_name,
                        "log_stream_name": worker.log_stream,
                    }
                )
                answer = worker.receive(handler_started + timeout_s)
            except _WorkerExited:
                outcome.handler_s = time.monotonic() - handler_started
                return self._exited(worker, fn, request_id, lines, outcome)
            if answer is None:
                outcome.handler_s = timeout_s
                return self._timed_out(worker, fn, request_id, lines, outcome, init=False)
            outcome.handler_s = time.monotonic() - handler_started
            # All of this invocation's output is read once its end marker is (normally already there).
            if not sink.drained.wait(DRAIN_TIMEOUT_S):
                log.debug("output of %s request %s not drained", fn.function_name, request_id)
            outcome.max_rss_kb = int(answer.get("max_rss_kb", 0))
            outcome.result = answer
            return outcome
        finally:
            worker.end()

    def _initialize(
        self, worker: _Worker, fn: Any, initialization: str = "on-demand"
    ) -> dict[str, Any] | None:
        """Start a new worker's process and run its init phase (the handler's import): the init answer, or
        None when INIT_TIMEOUT_S passed first. Raises _WorkerExited if the process ended."""
        task_root = self.code_dir(fn)
        spawned = time.monotonic()
        try:
            session = service_access.lambda_session(fn, self.credentials_lifetime_s)
        except SessionError as exc:  # Lambda cannot assume the execution role: nothing runs
            raise _RuntimeFailure(
                "AccessDeniedException",
                f"The role defined for the function cannot be assumed by Lambda: {exc}",
            ) from exc
        worker.credentials_expire_at = session.expiration if session is not None else None
        env = self.environment(fn, worker.log_stream, task_root, session.environment() if session else None)
        env["AWS_LAMBDA_INITIALIZATION_TYPE"] = initialization
        worker.start(task_root, env)
        worker.send(
            {
                "type": "init",
                "handler": fn.handler,
                "task_root": str(task_root),
                "strip_paths": [_PROJECT_ROOT],
                "marker": worker.marker,
            }
        )
        return worker.receive(spawned + INIT_TIMEOUT_S)

    def prewarm(self, fn: Any) -> threading.Thread:
        """Initialize one execution environment of ``fn`` in the background and keep it idle, so that the
        function's first invocation finds it warm (what provisioned concurrency of 1 does on AWS; its
        ``AWS_LAMBDA_INITIALIZATION_TYPE`` says ``provisioned-concurrency``). The endpoint does this for each
        function it creates when its context's ``prewarm_lambdas`` is set. A failed init is not reported:
        the environment is dropped and the first invocation starts one of its own, whose init reports it."""
        thread = threading.Thread(
            target=self._prewarm, args=(fn,), name=f"lambda-{fn.function_name}-prewarm", daemon=True
        )
        thread.start()
        return thread

    def _prewarm(self, fn: Any) -> None:
        worker = self._acquire(fn)
        if worker.proc is not None:  # an idle environment was there already
            self._release(worker, discard=False)
            return
        ready = False
        worker.begin(_Sink("", []))  # the init's output goes to the environment's log stream
        try:
            self._open_log_stream(fn, worker.log_stream)
            answer = self._initialize(worker, fn, "provisioned-concurrency")
            ready = bool(answer and answer.get("ok"))
        except Exception as exc:  # _WorkerExited, _RuntimeFailure (no package): left to the first invocation
            log.debug("pre-warming %s failed: %s", fn.function_name, exc)
        finally:
            worker.end()
            self._release(worker, discard=not ready)

    def _timed_out(
        self, worker: _Worker, fn: Any, request_id: str, lines: list[str], outcome: _ChildOutcome, init: bool
    ) -> _ChildOutcome:
        worker.dispose()  # AWS discards the environment of a timed-out invocation
        outcome.discard = outcome.timed_out = True
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        if init:
            message = f"{stamp} {request_id} Init timed out after {INIT_TIMEOUT_S:.2f} seconds"
        else:
            message = f"{stamp} {request_id} Task timed out after {float(fn.timeout or 3):.2f} seconds"
        self._log(fn, worker.log_stream, request_id, lines, message)
        outcome.failure = {"errorMessage": message, "errorType": "Sandbox.Timedout"}
        return outcome

    def _exited(
        self, worker: _Worker, fn: Any, request_id: str, lines: list[str], outcome: _ChildOutcome
    ) -> _ChildOutcome:
        worker.dispose()  # reaps it and reads the rest of its output
        outcome.discard = True
        code = worker.proc.returncode if worker.proc is not None else None
        if code is not None and code < 0:
            try:
                status = f"signal: {signal.strsignal(-code) or -code}".lower()
            except ValueError:
                status = f"signal: {-code}"
        else:
            status = f"exit status {code}"
        message = f"RequestId: {request_id} Error: Runtime exited with error: {status}"
        self._log(fn, worker.log_stream, request_id, lines, message)
        outcome.failure = {"errorType": "Runtime.ExitError", "errorMessage": message}
        return outcome
