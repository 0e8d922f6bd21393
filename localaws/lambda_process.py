"""The Lambda runtime of one invocation, run in its own child process by ``localaws.bridges.awslambda``.

``python -u -m localaws.lambda_process <request.json> <control-fd>``, with the function's extracted package as
the working directory. It imports the handler from the package (the package first on ``sys.path``), calls it
with the event and a context object like the Python runtime's, and tells the parent through the control pipe:

- ``started\\n`` once the module is imported (the end of the init phase: the function timeout starts here);
- then one JSON document until EOF: ``{"ok": true, "payload": "<json>"}`` or
  ``{"ok": false, "error": {"errorMessage", "errorType", "stackTrace"}}``, plus ``max_rss_kb``.

stdout and stderr are the function's log; the parent forwards them to CloudWatch Logs line by line.
Standard library only: the project's own modules are taken off ``sys.path`` before the handler is imported,
as a deployed function could not import them either.
"""

from __future__ import annotations

import decimal
import importlib
import json
import logging
import os
import sys
import time
import traceback
from typing import Any


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
    def __init__(self, request_id: str) -> None:
        super().__init__()
        self.request_id = request_id

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


def _install_lambda_logging(request_id: str) -> None:
    """The Python runtime puts a handler on the root logger: ``[LEVEL]\\t<time>Z\\t<request id>\\t<message>``.

    Without it, ``logger.info`` in a function that only sets the level (as the runners do) would print
    nothing.
    """
    handler = logging.StreamHandler(sys.stdout)
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S"
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(_RequestIdFilter(request_id))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


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


def main(argv: list[str]) -> int:
    request_path, control_fd = argv[0], int(argv[1])
    control = os.fdopen(control_fd, "wb", buffering=0)
    with open(request_path, encoding="utf-8") as fh:
        request = json.load(fh)

    # sys.path as in a deployed function: the package first, none of this project's folders.
    strip = {os.path.realpath(p) for p in request.get("strip_paths", [])}
    sys.path[:] = [p for p in sys.path if p and os.path.realpath(p) not in strip]
    sys.path.insert(0, request["task_root"])
    os.environ.pop("PYTHONPATH", None)
    _install_lambda_logging(request["aws_request_id"])

    result: dict[str, Any]
    try:
        handler = _load_handler(request["handler"])
    except _InitError as exc:
        error = _error(exc.error_type, exc.message)
        _log_error(error)
        control.write(b"started\n")
        result = {"ok": False, "error": error}
    else:
        control.write(b"started\n")
        context = LambdaContext(request, time.time() + float(request["timeout_s"]))
        event = json.loads(request["event"])
        try:
            value = handler(event, context)
        except Exception as exc:
            frames = traceback.extract_tb(exc.__traceback__)[1:]  # without this bootstrap's own frame
            error = _error(type(exc).__name__, str(exc), traceback.format_list(frames))
            _log_error(error, exc)
            result = {"ok": False, "error": error}
        else:
            try:
                result = {"ok": True, "payload": json.dumps(value, default=_json_default)}
            except (TypeError, ValueError) as exc:
                error = _error("Runtime.MarshalError", f"Unable to marshal response: {exc}")
                _log_error(error)
                result = {"ok": False, "error": error}
    sys.stdout.flush()
    sys.stderr.flush()
    result["max_rss_kb"] = _max_rss_kb()
    control.write(json.dumps(result).encode("utf-8"))
    control.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
