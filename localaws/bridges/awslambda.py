"""Bridge for Lambda: run each invocation's handler, from the deployed package, in a local child process.

Moto gaps bridged here (moto 5.2.5):

- ``LambdaFunction.invoke`` runs handlers only in Docker (``_invoke_lambda``); there is no Docker here. It is
  the one method every caller reaches - the Invoke API (through ``LambdaBackend.invoke``), S3 bucket
  notifications, SNS/SQS/logs deliveries - so it is replaced by :func:`_bridged_function_invoke`, which runs
  the handler with :class:`LocalLambdaRuntime`. The events bridge's scheduler uses :func:`invoke_function`.
- With ``use_docker`` off (what ``localaws.server`` sets) moto serves Lambda from ``LambdaSimpleBackend``,
  whose ``invoke`` returns a canned answer without calling the function; it is pointed back at
  ``LambdaBackend.invoke``.
- ``moto.s3.notifications._invoke_awslambda`` invokes synchronously, so PutObject would wait for the
  function; on AWS the notification is asynchronous. It is replaced by an ``Event`` invocation; the event
  gets the record fields moto leaves out, and its object key keeps "/" unencoded as AWS's does.

Process model: one fresh ``python -u -m localaws.lambda_process`` per invocation (always a cold start; module
state does not survive between invocations), its working directory the package extracted once per code hash
under ``ctx.work_dir/lambda/code/<sha256>``. Async (``Event``) invocations run in a daemon thread, without
AWS's two retries.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import logging
import math
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from localaws.context import LocalAwsContext

log = logging.getLogger(__name__)

# On AWS the init phase (importing the handler module) has its own 10 s limit, outside the function timeout.
INIT_TIMEOUT_S = 10.0
LOG_TAIL_BYTES = 4096
_PROJECT_ROOT = str(Path(__file__).resolve().parents[2])

_lock = threading.Lock()
_state: dict[str, Any] = {"runtime": None, "originals": {}}


@dataclass
class InvocationResult:
    request_id: str
    payload: bytes
    function_error: str | None = None  # "Unhandled" when the handler (or the runtime) failed
    log_lines: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def error(self) -> dict[str, Any] | None:
        return json.loads(self.payload) if self.function_error else None


class LocalLambdaRuntime:
    """Runs invocations of moto's ``LambdaFunction`` objects in child processes and records their logs."""

    def __init__(self, ctx: LocalAwsContext) -> None:
        self.ctx = ctx
        self._extract_lock = threading.Lock()
        self._logs_lock = threading.Lock()

    # -- package ---------------------------------------------------------------------------------------
    def code_dir(self, fn: Any) -> Path:
        """The function's deployed zip, extracted once per code hash."""
        code: bytes = getattr(fn, "code_bytes", b"") or b""
        if not code:
            raise _RuntimeFailure(
                "Runtime.InvalidEntrypoint",
                f"Function {fn.function_name} has no deployed zip package (PackageType {fn.package_type})",
            )
        digest = getattr(fn, "code_digest", "") or hashlib.sha256(code).hexdigest()
        target = self.ctx.work_dir / "lambda" / "code" / digest
        with self._extract_lock:
            if not target.is_dir():
                staging = target.with_name(f"{digest}.{uuid.uuid4().hex}.tmp")
                staging.mkdir(parents=True)
                try:
                    with zipfile.ZipFile(io.BytesIO(code)) as archive:
                        archive.extractall(staging)
                except zipfile.BadZipFile as exc:
                    shutil.rmtree(staging, ignore_errors=True)
                    raise _RuntimeFailure(
                        "Runtime.InvalidEntrypoint", f"Could not unzip the deployment package: {exc}"
                    ) from exc
                staging.rename(target)
        return target

    # -- environment -----------------------------------------------------------------------------------
    def environment(self, fn: Any, request_id: str, log_stream: str, task_root: Path) -> dict[str, str]:
        home = self.ctx.work_dir / "lambda" / "home"
        home.mkdir(parents=True, exist_ok=True)
        env = {
            # A clean environment, as on Lambda: nothing of the caller's (no AWS_PROFILE, no real config).
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": "UTC",
            "HOME": str(home),
            "AWS_CONFIG_FILE": str(home / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
            "PYTHONPATH": _PROJECT_ROOT,  # only for `-m localaws.lambda_process`; the bootstrap removes it
        }
        env.update({str(k): str(v) for k, v in (fn.environment_vars or {}).items()})
        env.update(self.ctx.client_environment())
        env.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
                "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
                "AWS_LAMBDA_LOG_GROUP_NAME": fn.logs_group_name,
                "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
                "LAMBDA_TASK_ROOT": str(task_root),
                "LAMBDA_RUNTIME_DIR": str(Path(sys.executable).parent),
                "_HANDLER": fn.handler or "",
            }
        )
        return env

    # -- CloudWatch Logs -------------------------------------------------------------------------------
    def _open_log_stream(self, fn: Any, log_stream: str) -> None:
        with self._logs_lock:
            fn.logs_backend.ensure_log_group(fn.logs_group_name)
            fn.logs_backend.ensure_log_stream(fn.logs_group_name, log_stream)

    def _log(self, fn: Any, log_stream: str, request_id: str, lines: list[str], line: str) -> None:
        lines.append(line)
        with self._logs_lock:
            try:
                fn.logs_backend.put_log_events(
                    fn.logs_group_name,
                    log_stream,
                    [{"timestamp": int(time.time() * 1000), "message": line}],
                )
            except Exception:  # the log group/stream deleted meanwhile: the invocation goes on
                log.debug("could not write a log line of %s", fn.function_name, exc_info=True)
        self.ctx.emit("lambda.log", function=fn.function_name, request_id=request_id, line=line)

    # -- invoke ----------------------------------------------------------------------------------------
    def invoke(self, fn: Any, event: bytes | str, request_id: str | None = None) -> InvocationResult:
        """Run one invocation to its end and return its result (never raises for the function's errors)."""
        request_id = request_id or str(uuid.uuid4())
        if isinstance(event, bytes):
            event = event.decode("utf-8")
        now = datetime.now(UTC)
        log_stream = f"{now:%Y/%m/%d}/[{fn.version}]{uuid.uuid4().hex}"
        lines: list[str] = []
        started = time.monotonic()
        self.ctx.emit("lambda.invoke.start", function=fn.function_name, request_id=request_id)
        self._open_log_stream(fn, log_stream)
        self._log(fn, log_stream, request_id, lines, f"START RequestId: {request_id} Version: {fn.version}")
        error: dict[str, Any] | None = None
        payload = b"null"
        timed_out = False
        init_s = handler_s = 0.0
        max_rss_kb = 0
        try:
            task_root = self.code_dir(fn)
            outcome = self._run_child(fn, event, request_id, log_stream, task_root, lines)
            init_s, handler_s, max_rss_kb = outcome.init_s, outcome.handler_s, outcome.max_rss_kb
            timed_out = outcome.timed_out
            if outcome.result is None:
                error = outcome.failure
            elif outcome.result.get("ok"):
                payload = outcome.result["payload"].encode("utf-8")
            else:
                error = outcome.result["error"]
        except _RuntimeFailure as exc:
            error = {"errorMessage": exc.message, "errorType": exc.error_type}
            self._log(fn, log_stream, request_id, lines, f"[ERROR] {exc.error_type}: {exc.message}")
        except Exception as exc:  # a bug here must still end the invocation as an error, not hang the caller
            log.exception("local Lambda runtime failed for %s", fn.function_name)
            error = {"errorMessage": f"Local Lambda runtime failed: {exc}", "errorType": "Runtime.Unknown"}
        duration_s = time.monotonic() - started
        self._log(fn, log_stream, request_id, lines, f"END RequestId: {request_id}")
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {handler_s * 1000:.2f} ms\t"
            f"Billed Duration: {math.ceil(handler_s * 1000)} ms\tMemory Size: {fn.memory_size} MB\t"
            f"Max Memory Used: {max(1, max_rss_kb // 1024)} MB\tInit Duration: {init_s * 1000:.2f} ms"
        )
        if timed_out:
            report += "\tStatus: timeout"
        self._log(fn, log_stream, request_id, lines, report)
        if error is not None:
            payload = json.dumps(error).encode("utf-8")
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
        )

    def invoke_async(
        self,
        fn: Any,
        event: bytes | str,
        on_done: Callable[[InvocationResult], None] | None = None,
    ) -> str:
        """Start an ``Event`` invocation in a daemon thread; return its request id at once."""
        request_id = str(uuid.uuid4())

        def run() -> None:
            result = self.invoke(fn, event, request_id)
            if result.function_error:
                log.warning("async invocation %s of %s failed: %s", request_id, fn.function_name,
                            result.payload.decode("utf-8", "replace"))
            if on_done is not None:
                try:
                    on_done(result)
                except Exception:
                    log.exception("on_done callback of %s failed", fn.function_name)

        threading.Thread(target=run, name=f"lambda-{fn.function_name}-{request_id[:8]}", daemon=True).start()
        return request_id

    def _run_child(
        self, fn: Any, event: str, request_id: str, log_stream: str, task_root: Path, lines: list[str]
    ) -> _ChildOutcome:
        inv_dir = self.ctx.work_dir / "lambda" / "invocations"
        inv_dir.mkdir(parents=True, exist_ok=True)
        request_path = inv_dir / f"{request_id}.json"
        timeout_s = float(fn.timeout or 3)
        request_path.write_text(
            json.dumps(
                {
                    "handler": fn.handler,
                    "event": event,
                    "function_name": fn.function_name,
                    "function_version": str(fn.version),
                    "invoked_function_arn": fn.function_arn,
                    "memory_limit_in_mb": int(fn.memory_size),
                    "aws_request_id": request_id,
                    "log_group_name": fn.logs_group_name,
                    "log_stream_name": log_stream,
                    "timeout_s": timeout_s,
                    "task_root": str(task_root),
                    "strip_paths": [_PROJECT_ROOT],
                }
            ),
            encoding="utf-8",
        )
        control_r, control_w = os.pipe()
        outcome = _ChildOutcome()
        spawned = time.monotonic()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-u", "-m", "localaws.lambda_process", str(request_path), str(control_w)],
                cwd=task_root,
                env=self.environment(fn, request_id, log_stream, task_root),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(control_w,),
                start_new_session=True,  # its own process group: a timeout kills whatever it started too
            )
        finally:
            os.close(control_w)
        reader = threading.Thread(
            target=self._pump_output, args=(fn, proc, log_stream, request_id, lines), daemon=True
        )
        reader.start()
        control = b""
        handler_started: float | None = None
        deadline = spawned + INIT_TIMEOUT_S
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                ready, _, _ = select.select([control_r], [], [], remaining)
                if not ready:
                    continue
                chunk = os.read(control_r, 65536)
                if not chunk:
                    break  # EOF: the child finished (or died)
                control += chunk
                if handler_started is None and b"\n" in control:
                    head, _, control = control.partition(b"\n")
                    if head == b"started":
                        handler_started = time.monotonic()
                        outcome.init_s = handler_started - spawned
                        deadline = handler_started + timeout_s
        finally:
            os.close(control_r)
        now = time.monotonic()
        outcome.handler_s = now - (handler_started or now)
        if proc.poll() is None and now >= deadline:
            _kill_group(proc)
            outcome.timed_out = True
            outcome.handler_s = timeout_s if handler_started else 0.0
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.wait()
        reader.join(timeout=5)
        with contextlib.suppress(OSError):
            request_path.unlink()
        if outcome.timed_out:
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            message = f"{stamp} {request_id} Task timed out after {timeout_s:.2f} seconds"
            if handler_started is None:
                message = f"{stamp} {request_id} Init timed out after {INIT_TIMEOUT_S:.2f} seconds"
            self._log(fn, log_stream, request_id, lines, message)
            outcome.failure = {"errorMessage": message, "errorType": "Sandbox.Timedout"}
            return outcome
        if control:
            try:
                outcome.result = json.loads(control)
                outcome.max_rss_kb = int(outcome.result.get("max_rss_kb", 0))
                return outcome
            except ValueError:
                pass
        message = f"RequestId: {request_id} Error: Runtime exited with error: exit status {proc.returncode}"
        self._log(fn, log_stream, request_id, lines, message)
        outcome.failure = {"errorType": "Runtime.ExitError", "errorMessage": message}
        return outcome

    def _pump_output(self, fn: Any, proc: subprocess.Popen, log_stream: str, request_id: str,
                     lines: list[str]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            self._log(fn, log_stream, request_id, lines, raw.decode("utf-8", "replace").rstrip("\r\n"))
        proc.stdout.close()


@dataclass
class _ChildOutcome:
    result: dict[str, Any] | None = None
    failure: dict[str, Any] | None = None
    timed_out: bool = False
    init_s: float = 0.0
    handler_s: float = 0.0
    max_rss_kb: int = 0


class _RuntimeFailure(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


# -- public API (the events bridge) ------------------------------------------------------------------------
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
    result = runtime().invoke(self, body)
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


def _bridged_s3_invoke_awslambda(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
    """Replaces ``moto.s3.notifications._invoke_awslambda``: asynchronous, as S3 delivers on AWS."""
    try:
        from moto.awslambda.utils import get_backend

        for record in event_body.get("Records", []):
            # Fields of AWS's record that moto leaves out.
            record.setdefault("userIdentity", {"principalId": f"AWS:{account_id}"})
            record.setdefault("requestParameters", {"sourceIPAddress": "127.0.0.1"})
            record.setdefault(
                "responseElements",
                {"x-amz-request-id": uuid.uuid4().hex[:16].upper(), "x-amz-id-2": uuid.uuid4().hex},
            )
            obj = record.get("s3", {}).get("object", {})
            obj.setdefault("sequencer", f"{time.time_ns():016X}")
            if "key" in obj:  # moto's quote_plus also encodes "/"; AWS leaves it: "sales/My+Sales.csv"
                obj["key"] = quote_plus(unquote_plus(obj["key"]), safe="/")
        fn = get_backend(account_id, region_name).get_function(fn_arn)
        fn.invoke(json.dumps(event_body), {"x-amz-invocation-type": "Event"}, {})
    except Exception:  # as moto's: the notification is asynchronous, PutObject must not fail for it
        log.warning("S3 notification to %s not delivered", fn_arn, exc_info=True)


def install(ctx: LocalAwsContext) -> None:
    """Patch moto so Lambda functions run locally (idempotent; the latest context wins)."""
    from moto.awslambda.models import LambdaFunction
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.s3 import notifications as s3_notifications

    with _lock:
        _state["runtime"] = LocalLambdaRuntime(ctx)
        originals = _state["originals"]
        if originals:
            return
        originals["LambdaFunction.invoke"] = LambdaFunction.invoke
        originals["LambdaSimpleBackend.invoke"] = LambdaSimpleBackend.__dict__.get("invoke")
        originals["s3.notifications._invoke_awslambda"] = s3_notifications._invoke_awslambda
        LambdaFunction.invoke = _bridged_function_invoke
        LambdaSimpleBackend.invoke = _bridged_simple_backend_invoke
        s3_notifications._invoke_awslambda = _bridged_s3_invoke_awslambda
