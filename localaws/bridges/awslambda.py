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

Process model: warm workers, as AWS reuses execution environments. A worker runs
``localaws.runtime.lambda_process`` (see there for the pipe protocol) for one function version, code hash and
configuration (handler, runtime, memory, timeout, environment). It is forked from the zygote
(``localaws/runtime/lambda_zygote.py``, a process that imported boto3 once), or is a fresh ``python -u -m
localaws.runtime.lambda_process`` child when the package bundles boto3/botocore or the fork fails. Its working
directory is the package extracted once per code hash under ``ctx.work_dir/lambda/code/<sha256>``, its
environment built as a clean Lambda environment (nothing of the parent's), its log stream its own
(``<date>/[<version>]<id>``, as one environment's stream on AWS).

- An invocation takes an idle worker of the function's current configuration (the most recently used), or
  starts a new one when all are busy (Lambda scales out); a worker never runs two invocations at once. With
  ``ctx.prewarm_lambdas`` one worker per function is started and initialized when the function is created.
  The init phase (importing the handler module) happens once per worker; only the REPORT line of a worker's
  first invocation has ``Init Duration``. Module-level state survives between invocations of one worker.
- While a worker runs an invocation, everything it writes to stdout/stderr is that invocation's log (lines
  written between invocations go to the worker's stream under the last request id).
- Discarded (killed with its process group): on a timeout (AWS resets the environment; the next invocation
  starts a new worker), when it exits mid-invocation (``Runtime.ExitError``), when its init fails, when the
  function's code or configuration changed (idle workers of the old configuration at the next invocation,
  busy ones when they finish), after ``idle_timeout_s`` idle (see ``IDLE_TIMEOUT_S``), and by ``stop()``
  (``LocalAws.stop``). An unhandled exception in the handler does NOT discard the worker: AWS's Python
  runtime catches it, reports it and serves the next invocation in the same environment.

Async (``Event``) invocations run in a daemon thread. One that ends in a function error (an exception, a
timeout, a crash) is run again twice, one and then two minutes later on the scaled clock, with the same
request id, as Lambda retries asynchronous events by default (``ASYNC_RETRY_DELAYS_S``); ``stop()`` cancels
the retries still waiting.

EventInvokeConfig (moto 5.2.5 stores one per function whatever the qualifier, appends on Put, makes Update a
Put and applies none of it): the five API operations are served here, one configuration per function and
qualifier (``$LATEST``, a version or an alias), with the Lambda API's validation. An async invocation of a
function version takes the configuration of that version: ``MaximumRetryAttempts`` (0 to 2) replaces the
default two retries, ``MaximumEventAgeInSeconds`` (on the scaled clock) bounds how long the event is retried
or throttled. An event that fails every attempt (``RetriesExhausted``) or gets too old
(``EventAgeExceeded``) goes as an invocation record to the OnFailure destination, a success to the
OnSuccess one: an SQS queue, an SNS topic, a Lambda function (invoked asynchronously) or an EventBridge bus,
through moto's backends. Without a destination the failed event is logged and dropped, as on AWS. An S3
bucket destination is accepted but not written (logged). Invoking through an alias uses the configuration of
the version the alias points to (moto resolves the alias before the invocation).

Reserved concurrency (``PutFunctionConcurrency`` / the ``ReservedConcurrentExecutions`` property), which moto
only stores: at most that many invocations of a function run at once (0: none). A synchronous Invoke beyond
it fails ``TooManyRequestsException`` (HTTP 429) as Lambda's API does; an asynchronous one is throttled and
retried by Lambda until a slot frees, as AWS does for up to 6 hours (``MAX_EVENT_AGE_S``, scaled by
``ctx.scaled``), then dropped. Without reserved concurrency invocations run side by side.
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
import re
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
from urllib.parse import unquote

from localaws import faults
from localaws.bridges import patching
from localaws.context import LocalAwsContext
from localaws.iam import service_access
from localaws.iam.identities import SessionError
from localaws.runtime import lambda_zygote

log = logging.getLogger(__name__)

# On AWS the init phase (importing the handler module) has its own 10 s limit, outside the function timeout.
INIT_TIMEOUT_S = 10.0
# AWS keeps an idle execution environment for minutes (undocumented; 5 to 15 observed). Here: IDLE_TIMEOUT_S
# on the scaled clock (a demo at time scale 0.01 fires its schedules 100 times as often, so its workers
# idle 100 times shorter), but never less than MIN_IDLE_TIMEOUT_S of real time, so that a tiny scale does not
# turn every invocation into a cold start. LocalLambdaRuntime.idle_timeout_s can be changed at run time.
IDLE_TIMEOUT_S = 300.0
MIN_IDLE_TIMEOUT_S = 30.0
REAP_INTERVAL_S = 5.0  # how often idle workers are looked at
# New workers are forked from a process that imported boto3 once (localaws/runtime/lambda_zygote.py), which
# halves a cold start's CPU; LOCALAWS_LAMBDA_ZYGOTE=0 starts each as a fresh interpreter instead.
USE_ZYGOTE = os.environ.get("LOCALAWS_LAMBDA_ZYGOTE", "1") != "0"
MAX_IDLE_WORKERS = 32  # a laptop's limit, not AWS's: beyond it the longest idle worker goes at once
DRAIN_TIMEOUT_S = 2.0  # longest wait, after a worker answered, for the rest of that invocation's output
LOG_TAIL_BYTES = 4096
# Lambda retries a throttled asynchronous event for up to 6 hours (its maximum event age).
MAX_EVENT_AGE_S = 6 * 3600.0
# Lambda runs a failed asynchronous event again after 1 minute, then after 2 more (MaximumRetryAttempts 2).
ASYNC_RETRY_DELAYS_S = (60.0, 120.0)
THROTTLE_RETRY_S = 0.5  # at the latest, a throttled async event looks for a free slot this often
_PROJECT_ROOT = str(Path(__file__).resolve().parents[2])

_lock = threading.Lock()
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


class _WorkerExited(Exception):
    """The worker's process ended (or closed its pipes) while it had work."""


class _Sink:
    """Where a worker's output goes while one invocation runs on it."""

    def __init__(self, request_id: str, lines: list[str]) -> None:
        self.request_id = request_id
        self.lines = lines
        self.drained = threading.Event()  # the worker's end-of-invocation marker was read from its stdout
        self.closed = False


class _Worker:
    """One warm execution environment: a ``localaws.runtime.lambda_process`` child for one function
    configuration.

    Runs at most one invocation at a time. A busy worker belongs to the thread of its invocation, an idle
    one to the pool (``LocalLambdaRuntime``); only the owner closes its pipes. ``terminate`` is safe from
    any thread.
    """

    def __init__(self, runtime: LocalLambdaRuntime, fn: Any, key: tuple, generation: int) -> None:
        self.runtime = runtime
        self.fn = fn
        self.key = key
        self.generation = generation
        self.log_stream = runtime.new_log_stream_name(fn)  # one stream per environment, as on AWS
        self.marker = f"\x1elocalaws-end:{uuid.uuid4().hex}:"
        self.proc: subprocess.Popen | None = None
        self.invocations = 0
        self.idle_since = time.monotonic()
        self._requests: Any = None
        self._responses_fd: int | None = None
        self._buffer = b""
        self._pump: threading.Thread | None = None
        self._sink_lock = threading.Lock()
        self._sink: _Sink | None = None
        self._last_request_id = ""
        self._disposed = False
        # When the credentials of the function's role this environment got expire (None: IAM off).
        self.credentials_expire_at: float | None = None

    def credentials_fresh(self, now: float | None = None) -> bool:
        """Still far enough from the end of its role credentials to serve another invocation."""
        if self.credentials_expire_at is None:
            return True
        now = time.time() if now is None else now
        return self.credentials_expire_at - now > self.runtime.renew_credentials_before_s

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return not self._disposed and self.proc is not None and self.proc.poll() is None

    # -- process ---------------------------------------------------------------------------------------
    def start(self, task_root: Path, env: dict[str, str]) -> None:
        request_r, request_w = os.pipe()
        response_r, response_w = os.pipe()
        zygote = self.runtime.zygote if lambda_zygote.can_fork(task_root) else None
        try:
            self.proc = None
            if zygote is not None:
                try:
                    self.proc = zygote.spawn(task_root, env, request_r, response_w)  # type: ignore[assignment]
                except OSError as exc:  # the worker still starts, the slow way
                    log.warning("forking a Lambda worker failed (%s); starting a new interpreter", exc)
            if self.proc is None:
                self.proc = self._popen(task_root, env, request_r, response_w)
        except BaseException:
            os.close(request_w)
            os.close(response_r)
            raise
        finally:
            os.close(request_r)
            os.close(response_w)
        self._requests = os.fdopen(request_w, "wb")
        self._responses_fd = response_r
        self._pump = threading.Thread(
            target=self._pump_output, name=f"lambda-{self.fn.function_name}-{self.proc.pid}-out", daemon=True
        )
        self._pump.start()

    @staticmethod
    def _popen(task_root: Path, env: dict[str, str], request_r: int, response_w: int) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-u", "-m", "localaws.runtime.lambda_process", str(request_r), str(response_w)],
            cwd=task_root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(request_r, response_w),
            start_new_session=True,  # its own process group: killing it kills whatever it started too
        )

    def send(self, message: dict[str, Any]) -> None:
        try:
            self._requests.write(json.dumps(message).encode("utf-8") + b"\n")
            self._requests.flush()
        except (OSError, ValueError) as exc:  # BrokenPipeError: the worker is gone
            raise _WorkerExited(str(exc)) from exc

    def receive(self, deadline: float) -> dict[str, Any] | None:
        """The worker's next answer, or None when ``deadline`` (monotonic) passed first."""
        assert self._responses_fd is not None
        poller = select.poll()
        poller.register(self._responses_fd, select.POLLIN)
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if not poller.poll(max(1, math.ceil(remaining * 1000))):
                continue
            chunk = os.read(self._responses_fd, 65536)
            if not chunk:
                raise _WorkerExited("EOF on the response pipe")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def terminate(self) -> None:
        """Kill the worker's process group (AWS discards the environment); safe from any thread."""
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    def dispose(self) -> None:
        """Kill the worker, reap it, read the rest of its output and close its pipes (owner only)."""
        self._disposed = True
        self.terminate()
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.terminate()
                self.proc.wait()
        if self._pump is not None:
            self._pump.join(timeout=5)
        if self._requests is not None:
            with contextlib.suppress(OSError):
                self._requests.close()
            self._requests = None
        if self._responses_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._responses_fd)
            self._responses_fd = None

    # -- output ----------------------------------------------------------------------------------------
    def begin(self, sink: _Sink) -> None:
        with self._sink_lock:
            self._sink = sink

    def end(self) -> None:
        with self._sink_lock:
            if self._sink is not None:
                self._sink.closed = True
                self._last_request_id = self._sink.request_id
            self._sink = None

    def _pump_output(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            ended: str | None = None
            at = text.find(self.marker)
            if at >= 0:
                ended = text[at + len(self.marker) :].rstrip("\x1e")
                text = text[:at]
            if ended is None or text:
                self._emit_line(text)
            if ended is not None:
                with self._sink_lock:
                    if self._sink is not None and self._sink.request_id == ended:
                        self._sink.drained.set()
        self.proc.stdout.close()

    def _emit_line(self, text: str) -> None:
        with self._sink_lock:
            sink = self._sink
            if sink is not None and not sink.closed:
                self.runtime._log(self.fn, self.log_stream, sink.request_id, sink.lines, text)
            else:  # between invocations (a background thread of the function): the stream, last request id
                self.runtime._log(self.fn, self.log_stream, self._last_request_id, [], text)


class LocalLambdaRuntime:
    """Runs invocations of moto's ``LambdaFunction`` objects in warm workers and records their logs."""

    def __init__(self, ctx: LocalAwsContext) -> None:
        self.ctx = ctx
        self._extract_lock = threading.Lock()
        self._logs_lock = threading.Lock()
        # How long an idle worker stays warm: AWS's minutes on the scaled clock, never under a floor.
        self.idle_timeout_s = max(MIN_IDLE_TIMEOUT_S, IDLE_TIMEOUT_S * ctx.time_scale)
        self._pool_lock = threading.Lock()
        self._idle: dict[tuple, list[_Worker]] = {}  # worker key -> idle workers, most recently used last
        self._workers: set[_Worker] = set()  # every worker not yet discarded (idle, busy, starting)
        self._current_keys: dict[tuple, tuple] = {}  # (function ARN, version) -> key of its configuration
        self._generation = 0  # bumped by stop(): workers of an earlier generation are not kept
        self._reaper: threading.Thread | None = None
        self._reaper_stop = threading.Event()
        self.concurrency = _ConcurrencyGate()
        self._zygote: lambda_zygote.Zygote | None = None
        # Each environment gets credentials of the function's role lasting this long, and is retired this
        # long before they end (its next invocation starts a new environment with fresh ones).
        self.credentials_lifetime_s = service_access.LAMBDA_CREDENTIALS_S
        self.renew_credentials_before_s = service_access.LAMBDA_RENEW_BEFORE_S
        self._opened_streams: set[tuple[str, str, str]] = set()

    @property
    def zygote(self) -> lambda_zygote.Zygote | None:
        """The process new workers are forked from (None: each worker is a fresh interpreter)."""
        if not USE_ZYGOTE:
            return None
        with self._pool_lock:
            if self._zygote is None:
                self._zygote = lambda_zygote.Zygote(_PROJECT_ROOT)
            return self._zygote

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
    def environment(
        self, fn: Any, log_stream: str, task_root: Path, credentials: dict[str, str] | None = None
    ) -> dict[str, str]:
        """A worker's environment variables (per worker: the log stream is the environment's own).

        ``credentials``: the execution role's (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
        ``AWS_SESSION_TOKEN``) in place of the endpoint's fake ones (IAM off)."""
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
            # Only for `-m localaws.runtime.lambda_process`; the bootstrap removes it.
            "PYTHONPATH": _PROJECT_ROOT,
        }
        env.update({str(k): str(v) for k, v in (fn.environment_vars or {}).items()})
        env.update(self.ctx.client_environment())
        env.update(credentials or {})
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
        env.update(faults.worker_environment(self.ctx, fn.function_name, fn.handler))  # kills, if any
        return env

    @staticmethod
    def new_log_stream_name(fn: Any) -> str:
        return f"{datetime.now(UTC):%Y/%m/%d}/[{fn.version}]{uuid.uuid4().hex}"

    # -- CloudWatch Logs -------------------------------------------------------------------------------
    def _open_log_stream(self, fn: Any, log_stream: str) -> None:
        """Lambda creates the environment's stream (and the group if missing) with the function's role."""
        key = (fn.function_arn, fn.logs_group_name, log_stream)
        with self._logs_lock:
            if key in self._opened_streams:
                return
            self._opened_streams.add(key)
            group = fn.logs_group_name
            if group not in fn.logs_backend.groups:
                if not service_access.lambda_log_may(fn, "logs:CreateLogGroup", group, None):
                    return  # as on AWS: the function runs, its logs are lost
                fn.logs_backend.ensure_log_group(group)
            if service_access.lambda_log_may(fn, "logs:CreateLogStream", group, log_stream):
                fn.logs_backend.ensure_log_stream(group, log_stream)

    def _log(self, fn: Any, log_stream: str, request_id: str, lines: list[str], line: str) -> None:
        lines.append(line)
        with self._logs_lock:
            try:
                if not service_access.lambda_log_may(fn, "logs:PutLogEvents", fn.logs_group_name, log_stream):
                    raise PermissionError("PutLogEvents denied to the function's role")
                fn.logs_backend.put_log_events(
                    fn.logs_group_name,
                    log_stream,
                    [{"timestamp": int(time.time() * 1000), "message": line}],
                )
            except Exception:  # the log group/stream deleted meanwhile: the invocation goes on
                log.debug("could not write a log line of %s", fn.function_name, exc_info=True)
        self.ctx.emit("lambda.log", function=fn.function_name, request_id=request_id, line=line)

    # -- workers ---------------------------------------------------------------------------------------
    @staticmethod
    def _worker_key(fn: Any) -> tuple:
        """(identity, configuration): a worker serves only invocations of the key it was started for."""
        code: bytes = getattr(fn, "code_bytes", b"") or b""
        digest = (getattr(fn, "code_digest", "") or hashlib.sha256(code).hexdigest()) if code else ""
        identity = (fn.function_arn, str(fn.version))
        configuration = (
            id(fn),  # a function deleted and created again is another function
            digest,
            fn.handler,
            fn.run_time,
            str(fn.memory_size),
            str(fn.timeout),
            json.dumps({str(k): str(v) for k, v in (fn.environment_vars or {}).items()}, sort_keys=True),
            str(getattr(fn, "role", "")),  # its credentials are the role's
        )
        return identity, configuration

    def workers(self, function_name: str | None = None) -> list[_Worker]:
        """The live workers (idle or busy), of one function or all (tests, introspection)."""
        with self._pool_lock:
            return [w for w in self._workers if function_name in (None, w.fn.function_name)]

    def _acquire(self, fn: Any) -> _Worker:
        """An idle worker of the function's current configuration, or a new (not yet started) one."""
        key = self._worker_key(fn)
        identity = key[0]
        retired: list[_Worker] = []
        worker: _Worker | None = None
        with self._pool_lock:
            if self._current_keys.get(identity) != key:  # code or configuration changed: old workers go
                self._current_keys[identity] = key
                for other in [k for k in self._idle if k[0] == identity and k != key]:
                    retired.extend(self._idle.pop(other))
            pool = self._idle.get(key, [])
            while pool and worker is None:
                candidate = pool.pop()
                if candidate.alive() and candidate.credentials_fresh():
                    worker = candidate
                else:
                    retired.append(candidate)
            if worker is None:
                worker = _Worker(self, fn, key, self._generation)
            self._workers.add(worker)
            self._workers.difference_update(retired)
        for old in retired:
            old.dispose()
        return worker

    def _release(self, worker: _Worker, discard: bool) -> None:
        keep = False
        with self._pool_lock:
            if (
                not discard
                and worker.alive()
                and worker.generation == self._generation
                and self._current_keys.get(worker.key[0]) == worker.key
            ):
                worker.idle_since = time.monotonic()
                self._idle.setdefault(worker.key, []).append(worker)
                keep = True
            else:
                self._workers.discard(worker)
            evicted = self._over_idle_limit()
        for old in evicted:
            old.dispose()
        if keep:
            self._ensure_reaper()
        else:
            worker.dispose()

    def _over_idle_limit(self) -> list[_Worker]:
        """Take the longest idle workers beyond ``MAX_IDLE_WORKERS`` out of the pool (pool lock held)."""
        idle = sorted((w for pool in self._idle.values() for w in pool), key=lambda w: w.idle_since)
        evicted = idle[: max(0, len(idle) - MAX_IDLE_WORKERS)]
        for worker in evicted:
            self._idle[worker.key].remove(worker)
            if not self._idle[worker.key]:
                del self._idle[worker.key]
            self._workers.discard(worker)
        return evicted

    def reap_idle(self, now: float | None = None) -> int:
        """Stop the workers idle for ``idle_timeout_s`` or longer; return how many."""
        now = time.monotonic() if now is None else now
        expired: list[_Worker] = []
        with self._pool_lock:
            for key, pool in list(self._idle.items()):
                expired.extend(w for w in pool if now - w.idle_since >= self.idle_timeout_s)
                pool[:] = [w for w in pool if now - w.idle_since < self.idle_timeout_s]
                if not pool:
                    del self._idle[key]
            self._workers.difference_update(expired)
        for worker in expired:
            worker.dispose()
        return len(expired)

    def _ensure_reaper(self) -> None:
        with self._pool_lock:
            if self._reaper is not None and self._reaper.is_alive():
                return
            self._reaper_stop = stop_event = threading.Event()
            self._reaper = threading.Thread(
                target=self._reap_loop, args=(stop_event,), name="localaws-lambda-reaper", daemon=True
            )
            self._reaper.start()

    def _reap_loop(self, stop_event: threading.Event) -> None:
        while not stop_event.wait(max(0.05, min(REAP_INTERVAL_S, self.idle_timeout_s / 2))):
            try:
                self.reap_idle()
            except Exception:
                log.exception("reaping idle Lambda workers failed")

    def stop(self) -> None:
        """Stop every worker and the reaper. Invocations still running end with ``Runtime.ExitError``;
        later invocations start new workers."""
        with self._pool_lock:
            self._generation += 1
            idle = [w for pool in self._idle.values() for w in pool]
            busy = [w for w in self._workers if w not in idle]
            self._idle.clear()
            self._workers.clear()
            reaper, self._reaper = self._reaper, None
            self._reaper_stop.set()
        for worker in idle:
            worker.dispose()
        for worker in busy:  # their invocation's thread owns the pipes: kill and reap only
            worker.terminate()
            if worker.proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    worker.proc.wait(timeout=5)
        if reaper is not None and reaper is not threading.current_thread():
            reaper.join(timeout=5)
        if self._zygote is not None:
            self._zygote.stop()

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
        self, fn: Any, event: bytes | str, request_id: str | None = None
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
                outcome = self._run(worker, fn, event, request_id, lines)
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
        one (``send_invocation_record``)."""
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
            deadline = time.monotonic() + self.ctx.scaled(max_age_s)
            result: InvocationResult | None = None
            attempts = 0
            condition = "RetriesExhausted"
            for attempt in range(retries + 1):
                if attempt and not self._wait_for_retry(ASYNC_RETRY_DELAYS_S[attempt - 1], stopped):
                    log.info(
                        "retry of async invocation %s of %s cancelled by stop()", request_id, fn.function_name
                    )
                    return
                if attempt and time.monotonic() >= deadline:  # too old for another attempt
                    condition = "EventAgeExceeded"
                    break
                if not self.concurrency.enter_waiting(fn, deadline, stopped):
                    if stopped():  # at stop() a waiting event goes with the endpoint
                        log.info(
                            "async invocation %s of %s dropped: the endpoint stopped",
                            request_id,
                            fn.function_name,
                        )
                        return
                    condition = "EventAgeExceeded"  # throttled past its maximum event age
                    break
                try:
                    result = self._invoke_admitted(fn, event, request_id)
                finally:
                    self.concurrency.leave(fn)
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
                destination = self.send_invocation_record(fn, request_id, event, result, condition, attempts)
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

    def send_invocation_record(
        self,
        fn: Any,
        request_id: str,
        event: str,
        result: InvocationResult | None,
        condition: str,
        attempts: int,
    ) -> str | None:
        """Send the invocation record of a finished async event to the destination its EventInvokeConfig
        names for ``condition`` (OnSuccess for "Success", else OnFailure); return that ARN, or None."""
        kind = "OnSuccess" if condition == "Success" else "OnFailure"
        config = event_invoke_config_of(fn) or {}  # read now: the configuration when the event ends counts
        destination = ((config.get("DestinationConfig") or {}).get(kind) or {}).get("Destination")
        if not destination:
            return None
        if not service_access.destination_may(fn, destination):  # sent with the function's role, as on AWS
            log.warning(
                "invocation record of %s request %s not sent to %s: the function's role may not",
                fn.function_name,
                request_id,
                destination,
            )
            return None
        record = invocation_record(fn, request_id, event, result, condition, attempts)
        try:
            deliver_invocation_record(destination, record, success=condition == "Success")
        except Exception:  # AWS counts a DestinationDeliveryFailures metric; the event is lost
            log.warning(
                "invocation record of %s request %s not delivered to %s",
                fn.function_name,
                request_id,
                destination,
                exc_info=True,
            )
            return None
        log.info(
            "invocation record of %s request %s (%s) sent to %s",
            fn.function_name,
            request_id,
            condition,
            destination,
        )
        return destination

    def _wait_for_retry(self, delay_s: float, stopped: Callable[[], bool]) -> bool:
        """Sleep a retry delay on the scaled clock; False when stop() came first."""
        until = time.monotonic() + self.ctx.scaled(delay_s)
        while not stopped():
            left = until - time.monotonic()
            if left <= 0:
                return True
            time.sleep(min(left, 0.05))
        return False

    def _run(self, worker: _Worker, fn: Any, event: str, request_id: str, lines: list[str]) -> _ChildOutcome:
        """One invocation on ``worker``: starts it first (the init phase) when it is new."""
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


class _RuntimeFailure(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


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


# -- asynchronous invocation configuration (EventInvokeConfig) ---------------------------------------------
# moto 5.2.5 keeps one configuration per function whatever the Qualifier, appends on every Put (Get returns
# the first), makes Update a Put, takes any destination and never applies any of it. Here: one configuration
# per function and qualifier, kept on moto's $LATEST function object (so it goes with the function), with
# the Lambda API's validation, and applied to asynchronous invocations (LocalLambdaRuntime.invoke_async).
DEFAULT_MAX_RETRY_ATTEMPTS = 2
_EVENT_CONFIGS = "_localaws_event_invoke_configs"  # attribute of moto's $LATEST LambdaFunction
_configs_lock = threading.Lock()
# The Destination pattern of Lambda's API (OnSuccess / OnFailure), its current region part.
_DESTINATION_PATTERN = re.compile(
    r"^$|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]+(-[a-z]+)+-\d{1})?:(\d{12})?:(.*)"
)
_DESTINATION_SERVICES = {
    "OnSuccess": ("sqs", "sns", "lambda", "events"),
    "OnFailure": ("sqs", "sns", "lambda", "events", "s3"),
}
_CONFIG_KEYS = ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")


def _lambda_error(code: str, message: str, status: int = 400) -> Exception:
    from moto.awslambda.exceptions import LambdaClientError

    error = LambdaClientError(code, message)
    error.code = status
    return error


def _split_function_name(function_name: str, qualifier: str | None) -> tuple[str, str]:
    """(name, qualifier) of a FunctionName: name, ARN or partial ARN, with ``:qualifier`` or not."""
    parts = function_name.split(":")
    if function_name.startswith("arn:"):
        parts = parts[6:]  # arn:partition:lambda:region:account:function:name[:qualifier]
    elif len(parts) >= 3 and parts[1] == "function":
        parts = parts[2:]  # account:function:name[:qualifier]
    name = parts[0]
    derived = parts[1] if len(parts) > 1 else None
    if derived is not None and qualifier is not None and derived != qualifier:
        raise _lambda_error(
            "InvalidParameterValueException",
            "The derived qualifier from the function name does not match the specified qualifier.",
        )
    return name, derived or qualifier or "$LATEST"


def _config_target(
    account_id: str, region: str, function_name: str, qualifier: str | None
) -> tuple[Any, str]:
    """moto's $LATEST function and the qualifier a configuration is for; ResourceNotFoundException when the
    function, version or alias does not exist."""
    from moto.awslambda.utils import get_backend

    backend = get_backend(account_id, region)
    name, qualifier = _split_function_name(function_name, qualifier)
    latest = backend.get_function(name)
    if qualifier != "$LATEST":
        backend.get_function(name, qualifier)  # the version or alias must exist
    return latest, qualifier


def _validation_errors(config: dict[str, Any]) -> list[str]:
    def bounded(key: str, low: int, high: int) -> str | None:
        value = config.get(key)
        if value is None:
            return None
        field_name = key[0].lower() + key[1:]
        prefix = f"Value '{value}' at '{field_name}' failed to satisfy constraint: Member must have value"
        if not isinstance(value, int) or value > high:
            return f"{prefix} less than or equal to {high}"
        if value < low:
            return f"{prefix} greater than or equal to {low}"
        return None

    errors = [
        e
        for e in (bounded("MaximumRetryAttempts", 0, 2), bounded("MaximumEventAgeInSeconds", 60, 21600))
        if e
    ]
    for kind in ("OnSuccess", "OnFailure"):
        destination = ((config.get("DestinationConfig") or {}).get(kind) or {}).get("Destination")
        if destination is None:
            continue
        where = f"destinationConfig.{kind[0].lower() + kind[1:]}.destination"
        if len(destination) > 350:
            errors.append(
                f"Value '{destination}' at '{where}' failed to satisfy constraint: "
                "Member must have length less than or equal to 350"
            )
        elif not _DESTINATION_PATTERN.match(destination):
            errors.append(
                f"Value '{destination}' at '{where}' failed to satisfy constraint: "
                f"Member must satisfy regular expression pattern: {_DESTINATION_PATTERN.pattern}"
            )
    return errors


def _validate_config(config: dict[str, Any]) -> None:
    errors = _validation_errors(config)
    if errors:
        count = f"{len(errors)} validation error{'s' if len(errors) > 1 else ''} detected: "
        raise _lambda_error("ValidationException", count + "; ".join(errors))
    for kind, services in _DESTINATION_SERVICES.items():
        destination = ((config.get("DestinationConfig") or {}).get(kind) or {}).get("Destination")
        if destination and destination.split(":")[2] not in services:
            raise _lambda_error(
                "InvalidParameterValueException", f"The destination ARN {destination} is invalid."
            )


def _config_answer(latest: Any, qualifier: str, config: dict[str, Any]) -> dict[str, Any]:
    """A FunctionEventInvokeConfig as the API answers it (the destinations as {} when not set)."""
    answer: dict[str, Any] = {
        "LastModified": config["LastModified"],
        "FunctionArn": f"{latest.function_arn}:{qualifier}",
    }
    for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
        if config.get(key) is not None:
            answer[key] = config[key]
    destinations = config.get("DestinationConfig") or {}
    answer["DestinationConfig"] = {
        kind: dict(destinations.get(kind) or {}) for kind in ("OnSuccess", "OnFailure")
    }
    return answer


def _stored_configs(latest: Any) -> dict[str, dict[str, Any]]:
    configs = latest.__dict__.get(_EVENT_CONFIGS)
    if configs is None:
        configs = latest.__dict__[_EVENT_CONFIGS] = {}
    return configs


def _not_configured(latest: Any, qualifier: str) -> Exception:
    return _lambda_error(
        "ResourceNotFoundException",
        f"The function {latest.function_arn}:{qualifier} doesn't have an EventInvokeConfig",
        404,
    )


def put_event_invoke_config(
    account_id: str, region: str, function_name: str, qualifier: str | None, config: dict[str, Any]
) -> dict[str, Any]:
    """PutFunctionEventInvokeConfig: replaces the configuration (settings left out are removed)."""
    latest, qualifier = _config_target(account_id, region, function_name, qualifier)
    new = {key: config[key] for key in _CONFIG_KEYS if config.get(key) is not None}
    _validate_config(new)
    new["LastModified"] = time.time()
    with _configs_lock:
        _stored_configs(latest)[qualifier] = new
    return _config_answer(latest, qualifier, new)


def update_event_invoke_config(
    account_id: str, region: str, function_name: str, qualifier: str | None, config: dict[str, Any]
) -> dict[str, Any]:
    """UpdateFunctionEventInvokeConfig: changes the settings given, keeps the others."""
    latest, qualifier = _config_target(account_id, region, function_name, qualifier)
    with _configs_lock:
        current = _stored_configs(latest).get(qualifier)
        if current is None:
            raise _not_configured(latest, qualifier)
        merged = {key: current[key] for key in _CONFIG_KEYS if key in current}
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if config.get(key) is not None:
                merged[key] = config[key]
        if config.get("DestinationConfig") is not None:
            destinations = dict(merged.get("DestinationConfig") or {})
            destinations.update({k: v for k, v in config["DestinationConfig"].items() if v is not None})
            merged["DestinationConfig"] = destinations
        _validate_config(merged)
        merged["LastModified"] = time.time()
        _stored_configs(latest)[qualifier] = merged
    return _config_answer(latest, qualifier, merged)


def get_event_invoke_config(
    account_id: str, region: str, function_name: str, qualifier: str | None
) -> dict[str, Any]:
    latest, qualifier = _config_target(account_id, region, function_name, qualifier)
    with _configs_lock:
        config = _stored_configs(latest).get(qualifier)
    if config is None:
        raise _not_configured(latest, qualifier)
    return _config_answer(latest, qualifier, config)


def delete_event_invoke_config(
    account_id: str, region: str, function_name: str, qualifier: str | None
) -> None:
    latest, qualifier = _config_target(account_id, region, function_name, qualifier)
    with _configs_lock:
        if _stored_configs(latest).pop(qualifier, None) is None:
            raise _not_configured(latest, qualifier)


def list_event_invoke_configs(
    account_id: str, region: str, function_name: str, marker: str | None = None, max_items: int | None = None
) -> dict[str, Any]:
    """ListFunctionEventInvokeConfigs: every qualifier's configuration, pages of MaxItems (1 to 50)."""
    if max_items is not None and not 1 <= max_items <= 50:
        bound = "greater than or equal to 1" if max_items < 1 else "less than or equal to 50"
        raise _lambda_error(
            "ValidationException",
            f"1 validation error detected: Value '{max_items}' at 'maxItems' failed to satisfy constraint: "
            f"Member must have value {bound}",
        )
    latest, _ = _config_target(account_id, region, function_name, None)
    with _configs_lock:
        answers = [_config_answer(latest, q, c) for q, c in _stored_configs(latest).items()]
    start = int(marker) if marker and marker.isdigit() else 0
    end = start + (max_items or 50)
    page: dict[str, Any] = {"FunctionEventInvokeConfigs": answers[start:end]}
    if end < len(answers):
        page["NextMarker"] = str(end)
    return page


def event_invoke_config_of(fn: Any) -> dict[str, Any] | None:
    """The EventInvokeConfig that applies to an asynchronous invocation of ``fn`` (a moto function or
    version object), or None."""
    from moto.awslambda.utils import get_backend

    try:
        latest = get_backend(fn.account_id, fn.region).get_function(fn.function_name)
    except Exception:  # deleted meanwhile
        return None
    with _configs_lock:
        config = (latest.__dict__.get(_EVENT_CONFIGS) or {}).get(str(fn.version))
        return json.loads(json.dumps(config)) if config is not None else None


_EVENT_CONFIG_METHODS = {
    "put": "put_function_event_invoke_config",
    "update": "update_function_event_invoke_config",
    "get": "get_function_event_invoke_config",
    "delete": "delete_function_event_invoke_config",
    "list": "list_function_event_invoke_configs",
}


def _path_function_name(path: str) -> str:
    segments = path.split("?")[0].split("/")
    return unquote(segments[segments.index("functions") + 1])


def _query(response: Any, name: str) -> str | None:
    return (response.querystring.get(name) or [None])[0]


def _event_config_action(operation: str) -> Callable[[Any], Any]:
    """A ``LambdaResponse`` method for one of the five EventInvokeConfig operations."""

    def action(self: Any) -> Any:
        function_name = _path_function_name(self.path)
        qualifier = _query(self, "Qualifier")
        account, region = self.current_account, self.region
        if operation == "put":
            answer = put_event_invoke_config(
                account, region, function_name, qualifier, json.loads(self.body or "{}")
            )
        elif operation == "update":
            answer = update_event_invoke_config(
                account, region, function_name, qualifier, json.loads(self.body or "{}")
            )
        elif operation == "get":
            answer = get_event_invoke_config(account, region, function_name, qualifier)
        elif operation == "delete":
            delete_event_invoke_config(account, region, function_name, qualifier)
            return 204, {"status": 204}, ""
        else:
            max_items = _query(self, "MaxItems")
            answer = list_event_invoke_configs(
                account, region, function_name, _query(self, "Marker"), int(max_items) if max_items else None
            )
        return 200, {"status": 200, "content-type": "application/json"}, json.dumps(answer)

    action.__name__ = action.__qualname__ = f"{operation}_function_event_invoke_config"  # its patch key too
    return action


def _qualified_arn(fn: Any) -> str:
    version = str(fn.version)
    arn = str(fn.function_arn)
    return arn if arn.endswith(f":{version}") else f"{arn}:{version}"


def _json_or_text(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text.decode("utf-8", "replace") if isinstance(text, bytes) else text


def invocation_record(
    fn: Any, request_id: str, event: str, result: InvocationResult | None, condition: str, attempts: int
) -> dict[str, Any]:
    """The record Lambda sends to an asynchronous invocation's destination (its documented shape). An event
    that got too old before any attempt has no response."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": stamp,
        "requestContext": {
            "requestId": request_id,
            "functionArn": _qualified_arn(fn),
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "requestPayload": _json_or_text(event),
    }
    if result is not None:
        response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": str(fn.version)}
        if result.function_error:
            response_context["functionError"] = result.function_error
        record["responseContext"] = response_context
        record["responsePayload"] = _json_or_text(result.payload)
    return record


def deliver_invocation_record(destination_arn: str, record: dict[str, Any], *, success: bool) -> None:
    """Send an invocation record to an SQS queue, SNS topic, Lambda function (asynchronous invoke) or
    EventBridge bus, through moto's backends (so the other bridges' deliveries apply)."""
    parts = destination_arn.split(":")
    service, region, account = parts[2], parts[3], parts[4]
    body = json.dumps(record)
    if service == "sqs":
        from moto.sqs import sqs_backends

        sqs_backends[account][region].send_message(parts[5], body)
    elif service == "sns":
        from moto.sns import sns_backends

        sns_backends[account][region].publish(body, arn=destination_arn)
    elif service == "lambda":
        invoke_function(destination_arn, body, asynchronous=True)
    elif service == "events":
        from moto.events.models import events_backends

        outcome = " - Success" if success else " - Failure"
        entries = events_backends[account][region].put_events(
            [
                {
                    "Source": "lambda",
                    "DetailType": "Lambda Function Invocation Result" + outcome,
                    "Detail": body,
                    "Resources": [destination_arn, record["requestContext"]["functionArn"]],
                    "EventBusName": destination_arn,
                }
            ]
        )
        failed = [e for e in entries if e.get("ErrorCode")]
        if failed:
            raise RuntimeError(f"PutEvents to {destination_arn} failed: {failed}")
    else:  # an S3 bucket (on failure): not written locally
        raise NotImplementedError(f"{service} destinations are not delivered by the local endpoint")


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
