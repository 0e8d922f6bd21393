"""Fault mode of the local endpoint: throttles, 5xx errors and latency on client calls, Lambda workers killed.

Set by ``LOCALAWS_FAULTS`` (read by ``LocalAwsContext``) or ``pynt demo[faults=…]``. The spec is a list of
items separated by ``;`` or ``+`` (``+`` needs no quoting in a shell); an item is ``kind:value`` (``=`` is
accepted for ``:`` after the kind) or, without a kind, one more value of the previous item's kind:

    throttle:0.2                           20 % of all calls answered with the service's throttling error
    throttle:dynamodb:0.2;states.SendTaskSuccess:50%
    error5xx:0.1                           10 % answered with an HTTP 5xx the SDKs retry
    latency:30ms    latency:s3:0.1s        added before a call is served
    kill:gluerunner:after:glue.StartJobRun#1
                                           the worker running gluerunner dies right after its first
                                           StartJobRun of an invocation; once per item, endpoint-wide
    seed:7                                 reproducible draws: the same call gets the same answer

A target is ``service`` or ``service.Operation`` (no target: every call); services are SigV4 signing names
(``states`` for Step Functions; ``stepfunctions`` and ``sfn`` are accepted). A call gets the rate of the most
specific target that names it. A kill names a function (its name or its handler's module), ``before`` or
``after``, a target or ``any``, and optionally ``#N``: the N-th such call within one invocation (default 1).

Refused, in one line pointing at README.md's fault mode table: an empty item (``throttle:0.1;;``), a spec
that injects nothing (``seed:1`` alone) and a latency over MAX_LATENCY_S.

What ``seed`` reproduces: each call's draw depends on the seed and on the call alone, not on the order in
which the endpoint happens to serve calls. A Lambda worker tags each of its calls with the function, the
operation, its number among that operation's calls in the invocation, and the attempt (botocore's retries):
``gluerunner``'s first ``PutItem`` of an invocation, first attempt, gets the same answer in every run and
every invocation. Calls from outside a Lambda (the demo's driver, build tasks) draw by operation and their
number among that operation's untagged calls; a poll loop that makes more calls in one run than in another
shifts only its own operation's later draws. Without a seed every draw is fresh.

Server side, :class:`FaultMiddleware` wraps moto's WSGI app (``localaws.server``) and answers a drawn call
itself, in the service's own protocol and error shape (see :func:`error_response`). Calls the endpoint makes
to itself (the Glue and Athena bridges' staging clients, made by
``localaws.runtime.catalog_staging.make_client``) carry :data:`INTERNAL_HEADER` and are never faulted: they
belong to the emulator, not to the project.

Lambda side, the kills reach each matching worker through its environment (:func:`worker_environment`) and
``localaws.runtime.lambda_process`` counts the worker's boto calls; the first worker to reach the point
claims a marker file in the endpoint's work folder, so each kill fires once whichever worker gets there first.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import re
import shutil
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localaws.aws_requests import CALL_HEADER, INTERNAL_HEADER, Call, identify

__all__ = ["CALL_HEADER", "INTERNAL_HEADER", "Call", "FaultSpec", "FaultSpecError", "identify", "parse_spec"]

ENV_VAR = "LOCALAWS_FAULTS"
# What a Lambda worker gets (read by localaws.runtime.lambda_process, which must stay standard-library only).
WORKER_KILLS_ENV = "LOCALAWS_FAULTS_KILLS"
WORKER_STATE_ENV = "LOCALAWS_FAULTS_DIR"
# Set when the draws are seeded: the worker tags every call with CALL_HEADER (see "What seed reproduces").
WORKER_TAG_ENV = "LOCALAWS_FAULTS_TAG_CALLS"
# A latency longer than this is refused: every call would outlast a Lambda's budget for it, and the demo
# would only hang (a 60 s long poll plus a few calls is all a 90-300 s Lambda has room for).
MAX_LATENCY_S = 10.0
README_TABLE = "README.md, section Fault mode"

KINDS = ("throttle", "error5xx", "latency", "kill", "seed")
SERVICES = (
    "athena",
    "cloudformation",
    "dynamodb",
    "events",
    "glue",
    "iam",
    "lambda",
    "logs",
    "s3",
    "states",
    "sts",
)
SERVICE_ALIASES = {
    "stepfunctions": "states",
    "sfn": "states",
    "cloudwatchlogs": "logs",
    "awslambda": "lambda",
}
_OPERATION = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s)$")
_KILL_POINTS = ("before", "after")


class FaultSpecError(ValueError):
    """A fault spec that cannot be read; the message is one line naming the bad item."""


@dataclass(frozen=True)
class Target:
    """The calls a rule applies to: every call (both None), one service's, or one operation's."""

    service: str | None = None
    operation: str | None = None  # as AWS spells it, e.g. SendTaskSuccess; matched case-insensitively

    def matches(self, service: str, operation: str) -> bool:
        if self.service is not None and self.service != service:
            return False
        return self.operation is None or self.operation.lower() == operation.lower()

    @property
    def specificity(self) -> int:
        return (self.service is not None) + (self.operation is not None)

    def __str__(self) -> str:
        if self.service is None:
            return "all"
        return f"{self.service}.{self.operation}" if self.operation else self.service


@dataclass(frozen=True)
class Rule:
    """A throttle/error5xx rate (0..1) or a latency (seconds) for the calls of ``target``."""

    target: Target
    value: float


@dataclass(frozen=True)
class KillRule:
    function: str  # lower case: a function name or a handler module
    when: str  # "before" | "after"
    target: Target  # Target() = any call
    nth: int
    text: str

    def matches_function(self, function_name: str, handler: str | None) -> bool:
        module = (handler or "").rpartition(".")[0].replace("/", ".").rpartition(".")[2]
        return self.function in (function_name.lower(), module.lower())


@dataclass(frozen=True)
class FaultSpec:
    text: str = ""
    throttle: tuple[Rule, ...] = ()
    error5xx: tuple[Rule, ...] = ()
    latency: tuple[Rule, ...] = ()
    kills: tuple[KillRule, ...] = ()
    seed: int | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.throttle or self.error5xx or self.latency or self.kills)

    @property
    def server_side(self) -> bool:
        return bool(self.throttle or self.error5xx or self.latency)


# --- parsing ---------------------------------------------------------------------------------------------


def _fail(item: str, why: str) -> FaultSpecError:
    return FaultSpecError(f"bad fault item {item!r}: {why} (see {README_TABLE} for the syntax)")


def _target(text: str, item: str) -> Target:
    service, _, operation = text.strip().partition(".")
    service = SERVICE_ALIASES.get(service.lower(), service.lower())
    if service not in SERVICES:
        raise _fail(item, f"unknown service {service!r}; one of {', '.join(SERVICES)}")
    if operation and not _OPERATION.match(operation):
        raise _fail(item, f"{operation!r} is not an operation name such as PutItem")
    if _ and not operation:
        raise _fail(item, "an operation name must follow the '.'")
    return Target(service, operation or None)


def _rate(text: str, item: str) -> float:
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise _fail(item, f"{raw!r} is not a fraction such as 0.2 or 20%") from None
    if not 0 <= value <= 1:
        raise _fail(item, f"{raw!r} is not between 0 and 1 (0% and 100%)")
    return value


def _duration(text: str, item: str) -> float:
    match = _DURATION.match(text.strip())
    if not match:
        raise _fail(item, f"{text.strip()!r} is not a duration such as 30ms or 0.5s")
    number = float(match[1])
    seconds = number / 1000 if match[2] == "ms" else number
    if seconds > MAX_LATENCY_S:
        raise _fail(
            item,
            f"{text.strip()} per call is more than {MAX_LATENCY_S:g} s: every Lambda would run out of time "
            "and the workflow would only hang",
        )
    return seconds


def _targeted(value: str, item: str) -> tuple[Target, str]:
    """``[target:]amount`` -> (target, amount text)."""
    target_text, colon, amount = value.rpartition(":")
    return (_target(target_text, item) if colon else Target()), amount


def _kill(value: str, item: str) -> KillRule:
    parts = value.split(":")
    if len(parts) != 3:
        raise _fail(
            item, "a kill is function:before|after:call[#N], e.g. gluerunner:after:glue.StartJobRun#1"
        )
    function, when, call = (part.strip() for part in parts)
    if not re.match(r"^[A-Za-z0-9_.-]+$", function):
        raise _fail(item, f"{function!r} is not a function name")
    if when.lower() not in _KILL_POINTS:
        raise _fail(item, f"{when!r} must be 'before' or 'after'")
    call, hash_sign, nth_text = call.partition("#")
    nth = 1
    if hash_sign:
        if not nth_text.isdigit() or int(nth_text) < 1:
            raise _fail(item, f"#{nth_text} must be a call number >= 1")
        nth = int(nth_text)
    target = Target() if call.lower() in ("any", "*") else _target(call, item)
    return KillRule(function.lower(), when.lower(), target, nth, f"kill:{value.strip()}")


def parse_spec(text: str | None) -> FaultSpec:
    """Read a fault spec (module docstring); raise FaultSpecError with a one-line reason."""
    text = (text or "").strip()
    rules: dict[str, list[Rule]] = {"throttle": [], "error5xx": [], "latency": []}
    kills: list[KillRule] = []
    seed: int | None = None
    kind: str | None = None
    for raw_item in re.split(r"[;+]", text) if text else []:
        item = raw_item.strip()
        if not item:
            raise _fail(text, "an empty item (two separators in a row, or one at an end): remove it")
        match = re.match(r"^([A-Za-z0-9]+)\s*[:=](.*)$", item)
        if match and match[1].lower() in KINDS:
            kind, value = match[1].lower(), match[2]
        elif kind is not None and kind != "seed":
            value = item  # one more value of the previous item's kind
        else:
            raise _fail(item, f"start with a kind: {', '.join(k + ':' for k in KINDS)}")
        if kind == "seed":
            if not value.strip().lstrip("-").isdigit():
                raise _fail(item, "the seed is an integer")
            seed = int(value)
        elif kind == "kill":
            kills.append(_kill(value, item))
        else:
            target, amount = _targeted(value, item)
            number = _duration(amount, item) if kind == "latency" else _rate(amount, item)
            if any(rule.target == target for rule in rules[kind]):
                raise _fail(item, f"{kind} for {target} is given twice")
            rules[kind].append(Rule(target, number))
    if text and not (rules["throttle"] or rules["error5xx"] or rules["latency"] or kills):
        raise _fail(
            text, "it injects nothing: add throttle, error5xx, latency or kill (a seed alone adds none)"
        )
    return FaultSpec(
        text=text,
        throttle=tuple(rules["throttle"]),
        error5xx=tuple(rules["error5xx"]),
        latency=tuple(rules["latency"]),
        kills=tuple(kills),
        seed=seed,
    )


def _most_specific(rules: Iterable[Rule], service: str, operation: str) -> Rule | None:
    matching = [rule for rule in rules if rule.target.matches(service, operation)]
    return max(matching, key=lambda rule: rule.target.specificity, default=None)


# --- answering with an error -----------------------------------------------------------------------------

# DynamoDB's item operations are throttled per table (ProvisionedThroughputExceededException); its control
# plane, like the other JSON services, answers ThrottlingException. Both are retried by botocore's legacy and
# standard modes with HTTP 400 (legacy retries TooManyRequestsException only as HTTP 429, so JSON services
# here use ThrottlingException).
_DYNAMODB_ITEM_OPERATIONS = frozenset(
    name.lower()
    for name in [
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
        "ExecuteStatement",
        "BatchExecuteStatement",
        "ExecuteTransaction",
    ]
)


_INTERNAL_MESSAGE = "The request processing has failed because of an unknown error."
# (protocol, kind) -> (HTTP status line, error code, message), as each protocol's services answer.
_ERROR_SHAPES = {
    ("json", "throttle"): ("400 Bad Request", "ThrottlingException", "Rate exceeded"),
    ("json", "error5xx"): ("500 Internal Server Error", "InternalFailure", _INTERNAL_MESSAGE),
    ("rest-json", "throttle"): ("429 Too Many Requests", "TooManyRequestsException", "Rate exceeded"),
    ("rest-json", "error5xx"): ("500 Internal Server Error", "ServiceException", _INTERNAL_MESSAGE),
    ("s3", "throttle"): ("503 Slow Down", "SlowDown", "Please reduce your request rate."),
    ("s3", "error5xx"): ("500 Internal Server Error", "InternalError", "We encountered an internal error."),
    ("query", "throttle"): ("400 Bad Request", "Throttling", "Rate exceeded"),
    ("query", "error5xx"): ("500 Internal Server Error", "InternalFailure", _INTERNAL_MESSAGE),
}
_DYNAMODB_ITEM_THROTTLE = (
    "400 Bad Request",
    "ProvisionedThroughputExceededException",
    "The level of configured provisioned throughput for the table was exceeded.",
)
_DYNAMODB_5XX = ("500 Internal Server Error", "InternalServerError", "Internal server error")


def error_response(kind: str, call: Call, content_type: str = "") -> tuple[str, list[tuple[str, str]], bytes]:
    """(status line, headers, body) of a throttle or 5xx answer in ``call``'s protocol."""
    status, code, message = _ERROR_SHAPES[(call.protocol, kind)]
    if call.service == "dynamodb" and kind == "error5xx":
        status, code, message = _DYNAMODB_5XX
    elif call.service == "dynamodb" and call.operation.lower() in _DYNAMODB_ITEM_OPERATIONS:
        status, code, message = _DYNAMODB_ITEM_THROTTLE
    request_id = str(uuid.uuid4())
    if call.protocol in ("json", "rest-json"):
        if call.protocol == "json":
            fields = {"__type": code, "message": message}
        else:  # Lambda's shape: the code travels in x-amzn-ErrorType
            fields = {"Type": "User" if kind == "throttle" else "Service", "message": message}
        media = content_type if call.protocol == "json" and content_type else "application/json"
        headers = [("Content-Type", media), ("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", code)]
        return status, headers, json.dumps(fields).encode()
    if call.protocol == "s3":
        xml = f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{request_id}</RequestId>"
        xml += "</Error>"
        return status, [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)], xml.encode()
    error_type = "Sender" if kind == "throttle" else "Receiver"  # query protocol: CloudFormation, IAM, STS
    xml = (
        f"<ErrorResponse><Error><Type>{error_type}</Type><Code>{code}</Code><Message>{message}</Message>"
        f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], xml.encode()


# --- the injector ----------------------------------------------------------------------------------------


@dataclass
class FaultInjector:
    """The fault mode of one endpoint: draws, counts, and the kill markers' folder."""

    spec: FaultSpec
    state_dir: Path
    calls_seen: int = 0
    injected: Counter = field(default_factory=Counter)  # (kind, service, operation) -> count
    _random: random.Random = field(init=False)
    _untagged: Counter = field(default_factory=Counter)  # (service, operation) -> calls from outside a Lambda
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._random = random.Random(self.spec.seed)  # seed None: fresh randomness per endpoint
        shutil.rmtree(self.state_dir, ignore_errors=True)
        self.state_dir.mkdir(parents=True, exist_ok=True)

    def decide(self, call: Call) -> tuple[float, str | None]:
        """(latency seconds, "throttle" | "error5xx" | None) for one client call, counted."""
        throttle = _most_specific(self.spec.throttle, call.service, call.operation)
        error = _most_specific(self.spec.error5xx, call.service, call.operation)
        latency = _most_specific(self.spec.latency, call.service, call.operation)
        key = (call.service, call.operation or "?")
        with self._lock:
            self.calls_seen += 1
            verdict = None
            if throttle or error:
                draw = self._draw(call)
                throttle_rate = throttle.value if throttle else 0.0
                if draw < throttle_rate:
                    verdict = "throttle"
                elif error and draw < throttle_rate + error.value:
                    verdict = "error5xx"
            if verdict:
                self.injected[(verdict, *key)] += 1
            if latency and latency.value > 0:
                self.injected[("latency", *key)] += 1
        return (latency.value if latency else 0.0), verdict

    def count(self) -> None:
        """One client call seen (kill-only fault modes draw nothing, but count what they saw)."""
        with self._lock:
            self.calls_seen += 1

    def _draw(self, call: Call) -> float:
        """The call's draw in [0, 1): fresh without a seed; with one, a function of the seed and the call
        alone (module docstring, "What seed reproduces"). Called under the lock."""
        if self.spec.seed is None:
            return self._random.random()
        if call.tag:
            identity = call.tag
        else:
            self._untagged[(call.service, call.operation)] += 1
            identity = (
                f"client|{call.service}.{call.operation}|{self._untagged[(call.service, call.operation)]}"
            )
        digest = hashlib.sha256(f"{self.spec.seed}|{identity}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def kills_fired(self) -> list[dict[str, Any]]:
        """What each fired kill recorded (lambda_process writes one marker file per kill)."""
        fired = []
        for marker in sorted(self.state_dir.glob("kill-*.fired")):
            with contextlib.suppress(OSError, ValueError):
                fired.append(json.loads(marker.read_text() or "{}"))
        return fired

    def report(self) -> dict[str, Any]:
        """What was injected: per kind, ``service.Operation`` -> count; the kills that fired."""
        with self._lock:
            by_kind: dict[str, dict[str, int]] = {}
            for (kind, service, operation), count in sorted(self.injected.items()):
                by_kind.setdefault(kind, {})[f"{service}.{operation}"] = count
            totals = {kind: sum(counts.values()) for kind, counts in by_kind.items()}
            seen = self.calls_seen
        fired = self.kills_fired()
        fired_texts = {record.get("kill") for record in fired}
        return {
            "spec": self.spec.text,
            "seed": self.spec.seed,
            "calls_seen": seen,
            "injected": totals,
            "by_call": by_kind,
            "kills": {
                "configured": [kill.text for kill in self.spec.kills],
                "fired": fired,
                # A kill that never fired tested nothing: the demo says so and exits non-zero.
                "unfired": [kill.text for kill in self.spec.kills if kill.text not in fired_texts],
            },
        }


_state: dict[str, Any] = {"injector": None, "ctx": None, "patched": False}
_state_lock = threading.Lock()


def state_dir(ctx: Any) -> Path:
    return Path(ctx.work_dir) / "faults"


def install(ctx: Any) -> FaultInjector | None:
    """Make ``ctx.faults`` the endpoint's fault mode (``LocalAws.start``); None when it has no faults.

    Raises FaultSpecError before anything is changed when the spec is bad.
    """
    spec = parse_spec(getattr(ctx, "faults", ""))
    _mark_internal_clients()
    injector = FaultInjector(spec, state_dir(ctx)) if spec.enabled else None
    with _state_lock:
        _state["injector"], _state["ctx"] = injector, ctx
    return injector


def configure(ctx: Any, text: str) -> FaultInjector | None:
    """Change the running endpoint's fault mode (tests): new draws, counts and kill markers. Lambda workers
    already running keep the kills they started with; stop them to give the next ones the new kills."""
    parse_spec(text)  # a bad spec leaves everything as it was
    ctx.faults = text
    return install(ctx)


def uninstall(ctx: Any) -> None:
    """The endpoint stopped (``LocalAws.stop``): no fault mode any more."""
    with _state_lock:
        if _state["ctx"] is ctx:
            _state["injector"], _state["ctx"] = None, None


def active() -> FaultInjector | None:
    return _state["injector"]


def report(ctx: Any) -> dict[str, Any] | None:
    """What the endpoint of ``ctx`` injected so far, or None when its fault mode is off."""
    with _state_lock:
        injector = _state["injector"] if _state["ctx"] is ctx else None
    return injector.report() if injector is not None else None


def worker_environment(ctx: Any, function_name: str, handler: str | None) -> dict[str, str]:
    """Variables that give a Lambda worker of this function its kills (none: an empty dict)."""
    try:
        spec = parse_spec(getattr(ctx, "faults", ""))
    except FaultSpecError:
        return {}  # install() already refused it; a worker is no place to fail over it
    tagging = {WORKER_TAG_ENV: "1"} if spec.server_side and spec.seed is not None else {}
    kills = [
        {
            "id": f"{index}-{re.sub(r'[^A-Za-z0-9]+', '_', kill.text)[:60]}",
            "text": kill.text,
            "when": kill.when,
            "service": kill.target.service,
            "operation": kill.target.operation.lower() if kill.target.operation else None,
            "nth": kill.nth,
        }
        for index, kill in enumerate(spec.kills)
        if kill.matches_function(function_name, handler)
    ]
    if not kills:
        return tagging
    return {**tagging, WORKER_KILLS_ENV: json.dumps(kills), WORKER_STATE_ENV: str(state_dir(ctx))}


def unknown_kill_functions(spec: FaultSpec, functions: Iterable[tuple[str, str | None]]) -> list[str]:
    """The kills that name none of the deployed functions ((name, handler) pairs): they could never fire."""
    known = list(functions)
    return [
        kill.text
        for kill in spec.kills
        if not any(kill.matches_function(name, handler) for name, handler in known)
    ]


def _mark_internal_clients() -> None:
    """Give the endpoint's own staging clients INTERNAL_HEADER, so its bridges never see injected faults."""
    with _state_lock:
        if _state["patched"]:
            return
        _state["patched"] = True
    from localaws.runtime import catalog_staging

    make_client = catalog_staging.make_client

    def make_marked_client(*args: Any, **kwargs: Any) -> Any:
        client = make_client(*args, **kwargs)
        client.meta.events.register("before-send", _add_internal_header)
        return client

    catalog_staging.make_client = make_marked_client


def _add_internal_header(request: Any, **_: Any) -> None:
    request.headers[INTERNAL_HEADER] = "1"


# --- the WSGI middleware ---------------------------------------------------------------------------------

StartResponse = Callable[..., Any]


class FaultMiddleware:
    """Wraps moto's WSGI app: with a fault mode on, delays and answers drawn client calls itself."""

    def __init__(self, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        injector = active()
        if injector is None:
            return self.app(environ, start_response)
        call = identify(environ)
        if call is None:
            return self.app(environ, start_response)
        if not injector.spec.server_side:
            injector.count()  # kill-only: nothing to draw, but the summary counts the calls it saw
            return self.app(environ, start_response)
        delay, verdict = injector.decide(call)
        if delay:
            time.sleep(delay)
        if verdict is None:
            return self.app(environ, start_response)
        status, headers, body = error_response(verdict, call, environ.get("CONTENT_TYPE", ""))
        if environ.get("REQUEST_METHOD") == "HEAD":
            body = b""  # HEAD answers have no body; clients read the status
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [body]
