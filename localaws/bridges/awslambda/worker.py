"""One warm execution environment: a worker process, its pipe protocol and its output.

A worker runs ``localaws.runtime.lambda_process`` (see there for the pipe protocol) for one function
version, code hash and configuration (handler, runtime, memory, timeout, environment). It is forked from the
zygote (``localaws/runtime/lambda_zygote.py``, a process that imported boto3 once), or is a fresh ``python -u
-m localaws.runtime.lambda_process`` child when the package bundles boto3/botocore or the fork fails.
Requests and answers go over a dedicated pipe pair, one JSON document per line; stdout and stderr are the
function's log. While a worker runs an invocation, everything it writes there is that invocation's log
(lines written between invocations go to the worker's stream under the last request id).

The pool that owns workers (``pool.WorkerPool``) gives each its log stream, its zygote and its log writer.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localaws.runtime import lambda_zygote

if TYPE_CHECKING:
    from localaws.bridges.awslambda.pool import WorkerPool

log = logging.getLogger(__name__)


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
    one to the pool (``WorkerPool``); only the owner closes its pipes. ``terminate`` is safe from
    any thread.
    """

    def __init__(self, runtime: WorkerPool, fn: Any, key: tuple, generation: int) -> None:
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
