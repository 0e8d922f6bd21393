"""The runtime's workers: the pool, the reaper, the packages, environments and log streams they get.

Process model: warm workers (``worker._Worker``), as AWS reuses execution environments. A worker's working
directory is the package extracted once per code hash under ``ctx.work_dir/lambda/code/<sha256>``, its
environment built as a clean Lambda environment (nothing of the parent's), its log stream its own
(``<date>/[<version>]<id>``, as one environment's stream on AWS).

- An invocation takes an idle worker of the function's current configuration (the most recently used), or
  starts a new one when all are busy (Lambda scales out); a worker never runs two invocations at once. With
  ``ctx.prewarm_lambdas`` one worker per function is started and initialized when the function is created.
  The init phase (importing the handler module) happens once per worker; only the REPORT line of a worker's
  first invocation has ``Init Duration``. Module-level state survives between invocations of one worker.
- Discarded (killed with its process group): on a timeout (AWS resets the environment; the next invocation
  starts a new worker), when it exits mid-invocation (``Runtime.ExitError``), when its init fails, when the
  function's code or configuration changed, or the fault mode's kills for it (idle workers of the old
  configuration at the next invocation, busy ones when they finish), after ``idle_timeout_s`` idle (see
  ``IDLE_TIMEOUT_S``), and by ``stop()`` (``LocalAws.stop``). An unhandled exception in the handler does
  NOT discard the worker: AWS's Python runtime catches it, reports it and serves the next invocation in the
  same environment.

``WorkerPool`` is the base of ``invoke.LocalLambdaRuntime`` (through ``execution.WorkerExecution``, which
runs one invocation on a worker). The constants here are read at call time from this module.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from localaws import faults
from localaws.bridges.awslambda.worker import _Worker
from localaws.context import LocalAwsContext
from localaws.iam import service_access
from localaws.runtime import lambda_zygote

log = logging.getLogger(__name__)

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
_PROJECT_ROOT = str(Path(__file__).resolve().parents[3])  # what workers import localaws from, then drop


class _RuntimeFailure(Exception):
    """The environment could not be set up (no package, a bad zip, a role Lambda cannot assume)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


class WorkerPool:
    """The warm workers of every function, and what each gets: its package, environment and log stream."""

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
    def _worker_key(self, fn: Any) -> tuple:
        """(identity, configuration): a worker serves only invocations of the key it was started for. The
        fault mode's variables for the function are part of it: a worker started before a new mode (the
        fault matrix sets each point's kills just before its run) would run on without its kills."""
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
            json.dumps(faults.worker_environment(self.ctx, fn.function_name, fn.handler), sort_keys=True),
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
