"""A warm Lambda execution environment: one child process of ``localaws.bridges.awslambda`` per worker.

``python -u -m localaws.runtime.lambda_process <request-fd> <response-fd>``, with the function's extracted
package as the working directory. The parent talks to it over a dedicated pipe pair (never stdout), one JSON
document per line each way:

- parent -> worker, first: ``{"type": "init", "handler", "task_root", "strip_paths", "marker"}``. The worker
  imports the handler module (the init phase, once per worker) and answers ``{"type": "init", "ok": true}``,
  or ``{"type": "init", "ok": false, "error": {...}}`` and exits (AWS discards an environment whose init
  failed).
- then, one at a time: ``{"type": "invoke", "event": "<json>", "aws_request_id", "timeout_s", ...context
  fields}``; the worker calls the handler with the event and a fresh context object like the Python
  runtime's, and answers ``{"type": "result", "ok": true, "payload": "<json>"}`` or ``{"type": "result",
  "ok": false, "error": {"errorMessage", "errorType", "stackTrace"}}``, plus ``max_rss_kb``.
- EOF on the request pipe: the worker exits.

Module state survives between invocations, as in a warm environment on AWS; an unhandled exception in the
handler is reported and the worker goes on (the Python runtime catches it), while ``sys.exit``/``os._exit``
end the worker (the parent reports ``Runtime.ExitError``).

stdout and stderr are the function's log; the parent forwards them to CloudWatch Logs line by line and gives
every line to the invocation running at the time. Before each answer the worker flushes both and writes the
line ``<marker><request id>\\x1e`` to fd 1, so the parent knows it has read all of that invocation's output.

Standard library only: the project's own modules are taken off ``sys.path`` before the handler is imported,
as a deployed function could not import them either.

Fault mode (``localaws/faults.py``): when the parent gives the worker kills (``LOCALAWS_FAULTS_KILLS``, a
JSON list, and ``LOCALAWS_FAULTS_DIR``), every botocore session the function creates counts its calls, and
the worker kills itself with SIGKILL right before or after the chosen call, as a Lambda timeout or crash
ends an environment mid-invocation. Each kill fires once endpoint-wide: the worker that reaches it first
claims a marker file in that folder (O_EXCL), so later invocations, in any worker, run undisturbed.
"""

from __future__ import annotations

import contextlib
import decimal
import importlib
import json
import logging
import os
import signal
import sys
import time
import traceback
from typing import Any

# The request id the Python runtime's log handler stamps on records ("" during init, as the runtime does).
_current_request_id = ""


class LambdaContext:
    """The attributes and method of the Python runtime's context object that functions use."""

    def __init__(self, request: dict[str, Any], deadline_s: float) -> None:
        self.function_name: str = request["function_name"]
        self.function_version: str = request["function_version"]
        self.invoked_function_arn: str = request["invoked_function_arn"]
        self.memory_limit_in_mb: int = int(request["memory_limit_in_mb"])
        self.aws_request_id: str = request["aws_request_id"]
        self.log_group_name: str = request["log_group_name"]
        self.log_stream_name: str = request["log_stream_name"]
        self.identity = None
        self.client_context = None
        self._deadline_s = deadline_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline_s - time.time()) * 1000))


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _current_request_id
        return True


def _install_lambda_logging() -> None:
    """The Python runtime puts a handler on the root logger: ``[LEVEL]\\t<time>Z\\t<request id>\\t<message>``.

    Without it, ``logger.info`` in a function that only sets the level (as the runners do) would print
    nothing. The request id is the running invocation's.
    """
    handler = logging.StreamHandler(sys.stdout)
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S"
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


# Set by the parent in fault mode (localaws.faults.worker_environment).
KILLS_ENV = "LOCALAWS_FAULTS_KILLS"
KILLS_DIR_ENV = "LOCALAWS_FAULTS_DIR"
TAG_CALLS_ENV = "LOCALAWS_FAULTS_TAG_CALLS"
CALL_HEADER = "X-Localaws-Call"  # localaws.aws_requests.CALL_HEADER (this module imports nothing of ours)


class _KillSwitch:
    """Counts the function's AWS calls per invocation, ends the worker at a configured one, and (seeded fault
    mode) tags each call with who made it, so the endpoint draws its fault by the call, not by the order the
    calls reach it: function|operation|its number among that operation's calls in the invocation|attempt."""

    def __init__(self, kills: list[dict[str, Any]], marker_dir: str, tag_calls: bool = False) -> None:
        self.kills = kills
        self.marker_dir = marker_dir
        self.counts = [0] * len(kills)
        self.spent: set[int] = set()  # kills another worker already fired
        self.tag_calls = tag_calls
        self.calls_per_operation: dict[str, int] = {}
        self.attempt = 1

    def new_invocation(self, attempt: int = 1) -> None:
        # "#N" counts within one invocation: the point is the same in every run of a scheduled function.
        self.counts = [0] * len(self.kills)
        self.calls_per_operation = {}
        # Lambda's retry of an asynchronous event is a new attempt: its calls draw anew, as throttles on AWS
        # are independent (the same draws would fail every retry the same way).
        self.attempt = attempt

    def number_call(self, model: Any = None, context: Any = None, **_: Any) -> None:
        if model is None or not isinstance(context, dict):
            return
        number = self.calls_per_operation[model.name] = self.calls_per_operation.get(model.name, 0) + 1
        function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        if self.attempt > 1:
            function = f"{function}~{self.attempt}"
        context["localaws_call"] = f"{function}|{model.name}|{number}"

    def tag_request(self, request: Any = None, **_: Any) -> None:
        context = getattr(request, "context", None) or {}
        call = context.get("localaws_call")
        if call:
            attempt = (context.get("retries") or {}).get("attempt", 1)
            request.headers[CALL_HEADER] = f"{call}|{attempt}"

    def on_call(self, when: str, model: Any = None, **_: Any) -> None:
        if model is None or not self.kills:
            return
        service_model = model.service_model
        service = service_model.signing_name or service_model.endpoint_prefix
        operation = model.name
        for index, kill in enumerate(self.kills):
            if index in self.spent or kill["when"] != when:
                continue
            if kill["service"] is not None and kill["service"] != service:
                continue
            if kill["operation"] is not None and kill["operation"] != operation.lower():
                continue
            self.counts[index] += 1
            if self.counts[index] == kill["nth"]:
                self._fire(index, kill, f"{service}.{operation}")

    def _fire(self, index: int, kill: dict[str, Any], call: str) -> None:
        marker = os.path.join(self.marker_dir, f"kill-{kill['id']}.fired")
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            self.spent.add(index)
            return
        except OSError:
            return  # no marker folder (the endpoint is stopping): never kill without recording it
        record = {
            "kill": kill["text"],
            "function": os.environ.get("AWS_LAMBDA_FUNCTION_NAME", ""),
            "request_id": _current_request_id,
            "when": kill["when"],
            "call": call,
            "nth": kill["nth"],
            "pid": os.getpid(),
        }
        with os.fdopen(fd, "w") as fh:
            json.dump(record, fh)
        print(f"[localaws faults] {kill['text']}: killing this worker {kill['when']} {call}", file=sys.stderr)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os.kill(os.getpid(), signal.SIGKILL)


def _install_kill_switch() -> _KillSwitch | None:
    """Hook every botocore session the function will create, when the parent configured kills or tags."""
    raw = os.environ.pop(KILLS_ENV, "")
    marker_dir = os.environ.pop(KILLS_DIR_ENV, "")  # not the function's business
    tag_calls = os.environ.pop(TAG_CALLS_ENV, "") == "1"
    if not (raw and marker_dir) and not tag_calls:
        return None
    switch = _KillSwitch(json.loads(raw) if raw and marker_dir else [], marker_dir, tag_calls)
    # Imported only now, after sys.path is the function's: the botocore it will use (it may bundle one).
    import botocore.session

    session_class = botocore.session.Session
    original_init = session_class.__init__

    def init_with_hooks(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        # before-call/after-call fire once per API call (around all its retries); after-call also on errors.
        self.register("before-call", lambda **kw: switch.on_call("before", **kw))
        self.register("after-call", lambda **kw: switch.on_call("after", **kw))
        if switch.tag_calls:
            self.register("before-call", switch.number_call)
            self.register("before-send", switch.tag_request)  # once per attempt

    session_class.__init__ = init_with_hooks
    return switch


def _error(error_type: str, message: str, stack: list[str] | None = None) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "stackTrace": stack or []}


def _log_error(error: dict[str, Any], exc: BaseException | None = None) -> None:
    """What the runtime logs for an unhandled error: ``[ERROR] Type: message`` and the traceback."""
    lines = [f"[ERROR] {error['errorType']}: {error['errorMessage']}"]
    if exc is not None:
        lines.append("Traceback (most recent call last):")
        lines.extend(line.rstrip("\n") for line in error["stackTrace"])
    print("\n".join(lines), file=sys.stderr, flush=True)


def _json_default(value: Any) -> Any:
    # The runtime's marshaller turns Decimal (what boto3's DynamoDB layer returns) into a number.
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _load_handler(handler: str) -> Any:
    module_name, _, function_name = handler.rpartition(".")
    module_name = module_name.replace("/", ".")
    if not module_name or not function_name:
        raise _InitError(
            "Runtime.MalformedHandlerName", f"Bad handler '{handler}': not enough values to unpack"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise _InitError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        ) from exc
    except SyntaxError as exc:
        raise _InitError(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}"
        ) from exc
    func = getattr(module, function_name, None)
    if func is None:
        raise _InitError(
            "Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'"
        )
    return func


class _InitError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def _max_rss_kb() -> int:
    """Peak resident memory of this process (VmHWM: unlike ru_maxrss, not inherited from before exec)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _invoke(handler: Any, request: dict[str, Any]) -> dict[str, Any]:
    """One invocation: the handler's value, or the error the runtime reports for it."""
    context = LambdaContext(request, time.time() + float(request["timeout_s"]))
    event = json.loads(request["event"])
    try:
        value = handler(event, context)
    except Exception as exc:
        frames = traceback.extract_tb(exc.__traceback__)[1:]  # without this bootstrap's own frame
        error = _error(type(exc).__name__, str(exc), traceback.format_list(frames))
        _log_error(error, exc)
        return {"ok": False, "error": error}
    try:
        return {"ok": True, "payload": json.dumps(value, default=_json_default)}
    except (TypeError, ValueError) as exc:
        error = _error("Runtime.MarshalError", f"Unable to marshal response: {exc}")
        _log_error(error)
        return {"ok": False, "error": error}


class _Channel:
    def __init__(self, request_fd: int, response_fd: int, marker: str = "") -> None:
        self.requests = os.fdopen(request_fd, "rb")
        self.responses = os.fdopen(response_fd, "wb", buffering=0)
        self.marker = marker

    def receive(self) -> dict[str, Any] | None:
        line = self.requests.readline()
        return json.loads(line) if line else None

    def answer(self, message: dict[str, Any], request_id: str) -> None:
        """Flush the function's output, mark its end on stdout, then answer on the response pipe."""
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            with contextlib.suppress(Exception):
                stream.flush()
        if self.marker:
            with contextlib.suppress(OSError):
                os.write(1, f"{self.marker}{request_id}\x1e\n".encode())
        self.responses.write(json.dumps(message).encode("utf-8") + b"\n")


def main(argv: list[str]) -> int:
    channel = _Channel(int(argv[0]), int(argv[1]))
    init = channel.receive()
    if init is None:
        return 0
    channel.marker = init.get("marker", "")

    # sys.path as in a deployed function: the package first, none of this project's folders.
    strip = {os.path.realpath(p) for p in init.get("strip_paths", [])}
    sys.path[:] = [p for p in sys.path if p and os.path.realpath(p) not in strip]
    sys.path.insert(0, init["task_root"])
    os.environ.pop("PYTHONPATH", None)
    _install_lambda_logging()
    kill_switch = _install_kill_switch()

    try:
        handler = _load_handler(init["handler"])
    except _InitError as exc:
        error = _error(exc.error_type, exc.message)
        _log_error(error)
        channel.answer({"type": "init", "ok": False, "error": error, "max_rss_kb": _max_rss_kb()}, "")
        return 0
    channel.answer({"type": "init", "ok": True}, "")

    global _current_request_id
    while (request := channel.receive()) is not None:
        _current_request_id = request["aws_request_id"]
        if kill_switch is not None:
            kill_switch.new_invocation(int(request.get("invocation_attempt", 1)))
        result = _invoke(handler, request)
        result.update(type="result", max_rss_kb=_max_rss_kb())
        channel.answer(result, request["aws_request_id"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
