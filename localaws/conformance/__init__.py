"""The conformance check: every answer of the local endpoint validated against botocore's model, on the wire.

On when ``LOCALAWS_CONFORMANCE`` names a folder (the tests set it for every process they start: the session
endpoint, the e2e and pynt children, and so the Lambda workers, Glue jobs and Athena queries of those
endpoints, whose calls all reach an endpoint that checks). ``ConformanceCheck`` wraps the endpoint's WSGI app,
identifies each signed request's operation (``operations.identify``) and checks the answer before it leaves:

- a success body against the operation's output shape (``shapes``: no key outside the model, required
  members present, no JSON ``null``, each value of the model's type);
- an error's code against the operation's documented ``errors``, the service's documented common errors and
  the errors common to all AWS services (``rules``);
- a signed request whose operation the models do not know is reported too, so nothing goes unchecked
  silently.

A problem the allow-list (``rules.ALLOWED``) does not cover is a violation, appended as one JSON line to
``<folder>/violations-<pid>.jsonl``; the tests' conftest fails the test during which it was written. A
request carrying ``X-Localaws-Conformance-Expect: <tag>`` (a test of the check itself) has its violations
written with ``"expected": "<tag>"``, which the conftest leaves to that test. Answers are not changed.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from localaws.conformance import rules
from localaws.conformance.operations import Operation, Unidentified, identify
from localaws.conformance.shapes import Problem, check_json, check_xml, local_name

ENV_VAR = "LOCALAWS_CONFORMANCE"
EXPECT_HEADER = "X-Localaws-Conformance-Expect"
ERROR_CODE = "undocumented error code"
NOT_PARSEABLE = "unreadable body"
UNIDENTIFIED = "unidentified operation"
_OFF = ("", "0", "off", "false", "no")

StartResponse = Callable[..., Callable[[bytes], object]]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def folder_from_environment() -> Path | None:
    """The folder violations go to, or None when the check is off."""
    value = os.environ.get(ENV_VAR, "").strip()
    return None if value.lower() in _OFF else Path(value)


# -- checking one answer -------------------------------------------------------------------------------------


def _error_code(op: Operation, headers: dict[str, str], body: bytes) -> str | None:
    """The error code an SDK reads from this error answer (None when the answer carries none)."""
    protocol = op.protocol
    if protocol in ("json", "rest-json"):
        # (A query-compatible service, SQS, also sends its legacy code in x-amzn-query-error; the JSON
        # protocol's code is the error shape's name, in __type, which is what the model lists.)
        code = headers.get("x-amzn-errortype")
        if not code and body.strip():
            try:
                parsed = json.loads(body)
            except ValueError:
                return None
            if isinstance(parsed, dict):
                code = parsed.get("__type") or parsed.get("code") or parsed.get("Code")
        if not code:
            return None
        return str(code).split(":")[0].rpartition("#")[2]
    if not body.strip():
        return None
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None
    for element in root.iter():
        if local_name(element) == "Code":
            return (element.text or "").strip()
    return None


def _documented_errors(op: Operation) -> frozenset[str]:
    cached = op.operation.__dict__.get("_localaws_errors")
    if cached is None:
        codes = set(rules.accepted_errors(op.service.service_name))
        for shape in op.operation.error_shapes:
            codes.add(shape.name)
            code = shape.metadata.get("error", {}).get("code")
            if code:
                codes.add(code)
        cached = op.operation.__dict__["_localaws_errors"] = frozenset(codes)
    return cached


def _check_error(op: Operation, status: int, headers: dict[str, str], body: bytes) -> list[Problem]:
    code = _error_code(op, headers, body)
    if code is None:
        if op.protocol == "rest-xml" and not body.strip():
            return []  # S3 answers HEAD and some errors with the status alone; SDKs read the status
        return [Problem(ERROR_CODE, "$", f"HTTP {status} without an error code: {body[:120]!r}")]
    if code not in _documented_errors(op):
        return [Problem(ERROR_CODE, "$", f"{code!r} (HTTP {status}) is not documented for {op.name}")]
    return []


def _parse_json(body: bytes) -> tuple[Any, Problem | None]:
    if not body.strip():
        return {}, None
    try:
        return json.loads(body), None
    except ValueError as exc:
        return None, Problem(NOT_PARSEABLE, "$", f"not JSON ({exc}): {body[:120]!r}")


def _parse_xml(body: bytes) -> tuple[ElementTree.Element | None, Problem | None]:
    try:
        return ElementTree.fromstring(body), None
    except ElementTree.ParseError as exc:
        return None, Problem(NOT_PARSEABLE, "$", f"not XML ({exc}): {body[:120]!r}")


def _check_success(op: Operation, body: bytes) -> list[Problem]:
    output = op.operation.output_shape
    protocol = op.protocol
    payload_name = output.serialization.get("payload") if output is not None else None
    payload = output.members[payload_name] if payload_name else None
    if payload is not None and payload.type_name != "structure":
        return []  # a string/blob payload (a policy document, an object's bytes) is the body itself
    shape = payload if payload is not None else output
    if protocol in ("json", "rest-json"):
        parsed, problem = _parse_json(body)
        if problem:
            return [problem]
        if shape is None:
            extra = list(parsed) if isinstance(parsed, dict) else ["(not an object)"]
            return [Problem("extra key", f"$.{key}", f"{op.name} has no output") for key in extra]
        return check_json(shape, parsed)
    if not body.strip():
        if shape is None:
            return []
        return check_json(shape, {})  # only the required members can be missing
    root, problem = _parse_xml(body)
    if problem:
        return [problem]
    if protocol == "rest-xml":
        return [] if shape is None else check_xml(shape, root)
    # query: <OpResponse><OpResult>...</OpResult><ResponseMetadata/></OpResponse>
    wrapper = output.serialization.get("resultWrapper") if output is not None else None
    problems = []
    result = None
    for child in root:
        name = local_name(child)
        if wrapper and name == wrapper:
            result = child
        elif name != "ResponseMetadata":
            problems.append(Problem("extra key", f"$.{name}", f"not part of {op.operation.name}Response"))
    if output is not None:
        if result is None:
            problems += check_json(output, {})  # the required members are missing
        else:
            problems += check_xml(output, result)
    return problems


def check_answer(op: Operation, status: int, headers: dict[str, str], body: bytes) -> list[Problem]:
    """Problems of one answer to ``op`` (``headers`` with lower-case names)."""
    if status >= 300:
        return _check_error(op, status, headers, body)
    if op.operation.has_streaming_output or op.operation.has_event_stream_output:
        return []
    return _check_success(op, body)


# -- recording ---------------------------------------------------------------------------------------------


class Recorder:
    """Appends violations as JSON lines to ``<folder>/violations-<pid>.jsonl`` (one file per process, so
    processes never interleave their lines)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()

    def record(self, violations: list[dict[str, Any]]) -> None:
        if not violations:
            return
        text = "".join(json.dumps(v, sort_keys=True) + "\n" for v in violations)
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(self.folder / f"violations-{os.getpid()}.jsonl", "a", encoding="utf-8") as out:
                out.write(text)


def violations_of(
    where: str, status: int, problems: list[Problem], expected: str | None
) -> list[dict[str, Any]]:
    """The problems not covered by the allow-list, as violation records."""
    found = []
    for problem in problems:
        if rules.allowance_for(where, problem.kind, problem.path) is not None:
            continue
        record = {
            "operation": where,
            "status": status,
            "kind": problem.kind,
            "path": problem.path,
            "detail": problem.detail,
            "pid": os.getpid(),
            "time": round(time.time(), 3),
        }
        if expected:
            record["expected"] = expected
        found.append(record)
    return found


def describe(violation: dict[str, Any]) -> str:
    """One line: ``stepfunctions.StartExecution (HTTP 200): extra key at $.foo: not a member of ...``."""
    return (
        f"{violation['operation']} (HTTP {violation['status']}): {violation['kind']} at {violation['path']}: "
        f"{violation['detail']}"
    )


def read_violations(folder: Path, offsets: dict[str, int]) -> list[dict[str, Any]]:
    """Violations written to ``folder`` since ``offsets`` (file name -> bytes read), which it advances."""
    found: list[dict[str, Any]] = []
    try:
        names = sorted(p.name for p in folder.glob("violations-*.jsonl"))
    except OSError:
        return found
    for name in names:
        path = folder / name
        start = offsets.get(name, 0)
        try:
            if path.stat().st_size <= start:
                continue
            with open(path, "rb") as handle:
                handle.seek(start)
                data = handle.read()
        except OSError:
            continue
        complete = data[: data.rfind(b"\n") + 1]  # a line still being written waits for the next read
        offsets[name] = start + len(complete)
        found.extend(json.loads(line) for line in complete.splitlines() if line.strip())
    return found


# -- the WSGI middleware ------------------------------------------------------------------------------------


class ConformanceCheck:
    """WSGI middleware: checks each answer to a signed AWS request; the answer itself passes unchanged."""

    def __init__(self, app: WsgiApp, recorder: Recorder) -> None:
        self.app = app
        self.recorder = recorder

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        op = identify(environ)
        if op is None:
            return self.app(environ, start_response)
        expected = environ.get("HTTP_" + EXPECT_HEADER.upper().replace("-", "_"))
        if isinstance(op, Unidentified):
            problem = Problem(UNIDENTIFIED, "$", op.reason)
            self.recorder.record(violations_of(f"{op.service}.?", 0, [problem], expected))
            return self.app(environ, start_response)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured.update(status=status, headers=headers)
            return start_response(status, headers, exc_info)

        body = self.app(environ, capture)
        if "status" not in captured:  # an app that starts its answer lazily
            body = list(body)
        status = int(captured["status"].split(" ", 1)[0])
        headers = {k.lower(): v for k, v in captured["headers"]}
        if status < 300 and (op.operation.has_streaming_output or op.operation.has_event_stream_output):
            return body  # an object's bytes or an event stream: nothing to parse, and maybe large
        chunks = list(body)
        close = getattr(body, "close", None)
        if callable(close):
            close()
        data = b"".join(chunks)
        try:
            problems = check_answer(op, status, headers, data)
        except Exception as exc:  # a bug of the check must not break the answer; it is reported instead
            problems = [Problem("check failed", "$", f"{type(exc).__name__}: {exc}")]
        self.recorder.record(violations_of(op.name, status, problems, expected))
        return chunks  # the body read for the check, handed on as it came


def wrap_if_enabled(app: WsgiApp) -> WsgiApp:
    """``app`` with the check around it when ``LOCALAWS_CONFORMANCE`` is set, else ``app`` itself."""
    folder = folder_from_environment()
    return app if folder is None else ConformanceCheck(app, Recorder(folder))
