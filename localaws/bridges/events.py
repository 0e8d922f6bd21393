"""Bridge for EventBridge: deliver events put on a bus to rules' targets, and fire scheduled rules.

Moto gaps bridged here (moto 5.2.5):

1. Delivery. PutEvents matched rules but ``Rule.send_to_targets`` raised NotImplementedError for Lambda and
   Step Functions targets (the whole PutEvents failed), sent events to DISABLED rules and to schedule-only
   rules (their empty pattern matched everything), ignored a target's Input / InputPath, and handed SQS
   targets moto's own ``ingestion-time`` field. ``Rule.send_to_targets`` is replaced: an event reaches the
   targets of every ENABLED rule of its bus whose event pattern matches (moto's matcher: exact values,
   nested fields, prefix, suffix, anything-but, exists, numeric, wildcard, $or), as EventBridge's envelope
   (version, id, detail-type, source, account, time ``YYYY-MM-DDTHH:MM:SSZ``, region, resources, detail)
   or what the target's Input, InputPath or InputTransformer makes of it. A Lambda target gets an
   asynchronous invocation (awslambda bridge), a state machine a StartExecution (on one delivery thread, so
   the emitter never waits for it nor re-enters Step Functions), an SQS queue the message at once; logs
   groups, archives and other buses keep moto's delivery. A failing target is logged and skipped: neither
   PutEvents nor the emitter sees its error. :func:`emit` puts an AWS service event (Glue, Athena, Step
   Functions bridges) on an account's default bus the same way.
2. Schedules. ``PutRule`` stores a ``ScheduleExpression`` but nothing ever fires it. :func:`install` starts
   one daemon :class:`Scheduler` thread that reads moto's events backends (every account and region) and
   fires every ENABLED rule with a schedule:

- ``rate(N minute|minutes|hour|hours|day|days)``: first firing one interval after the rule is first seen (its
  creation, as on AWS), then every interval;
- ``cron(min hour day-of-month month day-of-week year)`` (AWS's 6 fields with ``*``, ``?``, lists, ranges,
  ``/`` steps, month and weekday names; weekday 1 = SUN). ``L``, ``W`` and ``#`` are not supported: such a
  rule is reported once in the log and never fires.

Schedules run on a virtual clock that goes ``1 / ctx.time_scale`` times faster than real time (0.01: a
``rate(3 minutes)`` rule fires every 1.8 s; cron minutes pass 100 times faster). The event's ``time`` is the
real time of the firing. A rule fires at most once a real second (MIN_REAL_GAP_S): at time scale 0.002 the
stacks' one-minute recovery ticks would otherwise fire every 0.12 s, a storm of invocations that measures
nothing but the two cores' limits.

Scheduled targets: a Lambda function ARN gets an asynchronous invocation through the awslambda bridge with
AWS's scheduled-event payload (or the target's ``Input``, ``InputPath``, ``InputTransformer``); a Step
Functions state machine ARN gets a ``StartExecution``; an SQS queue the message. Other targets are ignored
(logged once).

Overlapping runs, as on AWS: every firing invokes its targets, even while the previous invocation or
execution still runs. Only a function's reserved concurrency limits how many of its invocations run at once
(the awslambda bridge throttles an invocation beyond it and retries it later, as Lambda does).
"""

from __future__ import annotations

import calendar
import copy
import json
import logging
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from localaws.bridges import patching
from localaws.context import LocalAwsContext

log = logging.getLogger(__name__)

TICK_S = 0.05
# The shortest real time between two firings of one scheduled rule, whatever the time scale (see above).
MIN_REAL_GAP_S = 1.0

# -- schedule expressions ----------------------------------------------------------------------------------
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}
_WEEKDAYS = {name: i for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}


class UnsupportedScheduleError(ValueError):
    """A schedule expression this bridge cannot fire (invalid, or an unsupported cron feature)."""


class RateSchedule:
    def __init__(self, expression: str) -> None:
        match = _RATE.match(expression.strip())
        if not match:
            raise UnsupportedScheduleError(f"not a rate expression: {expression!r}")
        value, unit = int(match.group(1)), match.group(2).rstrip("s")
        if value <= 0:
            raise UnsupportedScheduleError(f"rate must be positive: {expression!r}")
        self.expression = expression
        self.interval = timedelta(seconds=value * _UNIT_SECONDS[unit])

    def next_after(self, moment: datetime) -> datetime:
        return moment + self.interval


class CronSchedule:
    """AWS's ``cron(minutes hours day-of-month month day-of-week year)``, in UTC, minute resolution."""

    def __init__(self, expression: str) -> None:
        match = _CRON.match(expression.strip())
        fields = match.group(1).split() if match else []
        if len(fields) != 6:
            raise UnsupportedScheduleError(f"a cron expression has 6 fields: {expression!r}")
        self.expression = expression
        minutes, hours, dom, months, dow, years = fields
        for field_text in (dom, dow):
            if re.search(r"[LW#]", field_text.upper()):
                raise UnsupportedScheduleError(
                    f"cron features L, W and # are not supported locally: {expression!r}"
                )
        self.minutes = _parse_field(minutes, 0, 59, {})
        self.hours = _parse_field(hours, 0, 23, {})
        self.days = None if dom in ("?", "*") else _parse_field(dom, 1, 31, {})
        self.months = _parse_field(months, 1, 12, _MONTHS)
        self.weekdays = None if dow in ("?", "*") else _parse_field(dow, 1, 7, _WEEKDAYS)
        self.years = _parse_field(years, 1970, 2199, {})
        if dom != "?" and dow != "?":
            raise UnsupportedScheduleError(f"one of day-of-month and day-of-week must be '?': {expression!r}")

    def _day_matches(self, day: datetime) -> bool:
        if day.year not in self.years or day.month not in self.months:
            return False
        if self.days is not None and day.day not in self.days:
            return False
        aws_weekday = (day.weekday() + 1) % 7 + 1  # Python: MON=0 .. SUN=6; AWS: SUN=1 .. SAT=7
        return self.weekdays is None or aws_weekday in self.weekdays

    def next_after(self, moment: datetime) -> datetime:
        """The first firing strictly after ``moment``."""
        start = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.replace(hour=0, minute=0)
        hours, minutes = sorted(self.hours), sorted(self.minutes)
        for _ in range(366 * 8):
            if day.year > max(self.years):
                break
            if self._day_matches(day):
                for hour in hours:
                    for minute in minutes:
                        candidate = day.replace(hour=hour, minute=minute)
                        if candidate >= start:
                            return candidate
            day += timedelta(days=1)
        raise UnsupportedScheduleError(f"{self.expression!r} never fires after {moment.isoformat()}")


def _parse_field(text: str, low: int, high: int, names: dict[str, int]) -> set[int]:
    def value(token: str) -> int:
        token = token.strip().upper()
        number = names[token] if token in names else int(token)
        if not low <= number <= high:
            raise UnsupportedScheduleError(f"{token} is outside {low}-{high}")
        return number

    result: set[int] = set()
    try:
        for part in text.split(","):
            base, _, step_text = part.partition("/")
            step = int(step_text) if step_text else 1
            if step <= 0:
                raise UnsupportedScheduleError(f"bad step in {text!r}")
            if base in ("*", "?"):
                first, last = low, high
            elif "-" in base:
                first_text, last_text = base.split("-", 1)
                first, last = value(first_text), value(last_text)
            else:
                first = value(base)
                last = high if step_text else first
            result.update(range(first, last + 1, step))
    except (KeyError, ValueError) as exc:
        if isinstance(exc, UnsupportedScheduleError):
            raise
        raise UnsupportedScheduleError(f"bad cron field {text!r}: {exc}") from exc
    return result


def parse_schedule(expression: str) -> RateSchedule | CronSchedule:
    expression = expression.strip()
    if expression.startswith("rate("):
        return RateSchedule(expression)
    if expression.startswith("cron("):
        return CronSchedule(expression)
    raise UnsupportedScheduleError(f"unknown schedule expression {expression!r}")


# -- payloads ----------------------------------------------------------------------------------------------
def scheduled_event(rule: Any, fired_at: datetime | None = None) -> dict[str, Any]:
    """The event EventBridge sends a target of a scheduled rule."""
    fired_at = fired_at or datetime.now(UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": rule.account_id,
        "time": fired_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": rule.region_name,
        "resources": [rule.arn],
        "detail": {},
    }


def target_input(target: dict[str, Any], event: dict[str, Any], rule: Any = None) -> str:
    """The text a target receives: its Input, InputPath or InputTransformer applied, else the event's JSON."""
    if target.get("Input") is not None:
        return target["Input"]
    if target.get("InputPath"):
        return json.dumps(_json_path(target["InputPath"], event))
    if target.get("InputTransformer"):
        return transform_input(target["InputTransformer"], event, rule)
    return json.dumps(event)


def _json_path(path: str, event: dict[str, Any]) -> Any:
    from jsonpath_ng.ext import parse

    matches = parse(path).find(event)
    return matches[0].value if matches else None


_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")


def transform_input(transformer: dict[str, Any], event: dict[str, Any], rule: Any = None) -> str:
    """EventBridge's InputTransformer: fill ``<name>`` placeholders of InputTemplate from InputPathsMap.

    As EventBridge does: in a JSON template (starting with ``{``, ``[`` or ``"``) a placeholder inside a JSON
    string gets a string value's bare text (escaped), one outside a string gets the value's JSON; in a text
    template every string goes in bare. An unmatched path gives null (JSON) or an empty text. Predefined
    variables: aws.events.rule-arn, aws.events.rule-name, aws.events.event.ingestion-time,
    aws.events.event (the event without detail), aws.events.event.json (the whole event).
    """
    template = transformer.get("InputTemplate") or ""
    values: dict[str, Any] = {
        name: _json_path(path, event) for name, path in (transformer.get("InputPathsMap") or {}).items()
    }
    values.setdefault("aws.events.event.ingestion-time", event.get("time"))
    values.setdefault("aws.events.event", {k: v for k, v in event.items() if k != "detail"})
    values.setdefault("aws.events.event.json", event)
    if rule is not None:
        values.setdefault("aws.events.rule-arn", rule.arn)
        values.setdefault("aws.events.rule-name", rule.name)
    json_mode = template.lstrip()[:1] in ("{", "[", '"')

    out: list[str] = []
    in_string = False
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        if match.group(1) not in values:
            continue  # not a placeholder: left as written
        before = template[position : match.start()]
        out.append(before)
        in_string = _still_in_string(before, in_string)
        value = values[match.group(1)]
        if in_string:
            text = value if isinstance(value, str) else json.dumps(value)
            out.append(json.dumps(text)[1:-1] if text is not None else "")
        elif json_mode:
            out.append(json.dumps(value))
        else:
            out.append(value if isinstance(value, str) else "" if value is None else json.dumps(value))
        position = match.end()
    out.append(template[position:])
    return "".join(out)


def _still_in_string(text: str, in_string: bool) -> bool:
    """Whether, after ``text``, a JSON string is still open (unescaped quotes toggle it)."""
    escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = in_string
        elif char == '"':
            in_string = not in_string
    return in_string


# -- the scheduler -----------------------------------------------------------------------------------------
@dataclass
class _RuleState:
    expression: str
    schedule: RateSchedule | CronSchedule
    next_fire: datetime  # virtual time


class Scheduler:
    """Fires scheduled rules of moto's events backends on a clock scaled by ``ctx.time_scale``."""

    def __init__(self, ctx: LocalAwsContext) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rules: dict[str, _RuleState] = {}
        self._reported: set[str] = set()
        self._anchor_real = time.time()
        self._anchor_virtual = datetime.now(UTC)
        self.ctx = ctx
        self.scale = ctx.time_scale

    def set_context(self, ctx: LocalAwsContext) -> None:
        """Use another context; the virtual clock goes on from where it is, at the new scale."""
        with self._lock:
            self._anchor_virtual = self.virtual_now()
            self._anchor_real = time.time()
            self.ctx = ctx
            self.scale = ctx.time_scale

    def virtual_now(self) -> datetime:
        return self._anchor_virtual + timedelta(seconds=(time.time() - self._anchor_real) / self.scale)

    # -- thread ----------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="localaws-events-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(TICK_S):
            try:
                self.tick()
            except Exception:  # the scheduler must outlive any one bad rule or a backend being reset
                log.exception("events scheduler tick failed")

    # -- one tick --------------------------------------------------------------------------------------
    def _scheduled_rules(self) -> list[Any]:
        from moto.events.models import events_backends

        rules = []
        for account_backends in list(events_backends.values()):
            for backend in list(account_backends.values()):
                for bus in list(backend.event_buses.values()):
                    rules.extend(rule for rule in list(bus.rules.values()) if rule.scheduled_expression)
        return rules

    def tick(self) -> None:
        with self._lock:
            now = self.virtual_now()
            seen = set()
            for rule in self._scheduled_rules():
                arn = rule.arn
                if rule.state != "ENABLED":
                    continue  # forgotten below: re-enabled, it starts a fresh interval
                seen.add(arn)
                state = self._rules.get(arn)
                if state is None or state.expression != rule.scheduled_expression:
                    try:
                        schedule = parse_schedule(rule.scheduled_expression)
                        state = _RuleState(rule.scheduled_expression, schedule, schedule.next_after(now))
                    except UnsupportedScheduleError as exc:
                        key = f"{arn} {rule.scheduled_expression}"
                        if key not in self._reported:
                            self._reported.add(key)
                            log.warning("rule %s will not fire: %s", arn, exc)
                        continue
                    self._rules[arn] = state
                if now >= state.next_fire:
                    following = state.schedule.next_after(state.next_fire)
                    state.next_fire = following if following > now else state.schedule.next_after(now)
                    state.next_fire = max(
                        state.next_fire, now + timedelta(seconds=MIN_REAL_GAP_S / self.scale)
                    )
                    self._fire(rule)
            for arn in set(self._rules) - seen:
                del self._rules[arn]

    def _fire(self, rule: Any) -> None:
        event = scheduled_event(rule)
        for target in list(rule.targets):
            target_arn = target.get("Arn", "")
            service = target_arn.split(":")[2] if target_arn.count(":") >= 5 else ""
            if service not in ("lambda", "states", "sqs"):
                if target_arn not in self._reported:
                    self._reported.add(target_arn)
                    log.warning(
                        "rule %s: target %s is not fired locally (only Lambda, Step Functions, SQS)",
                        rule.name,
                        target_arn,
                    )
                continue
            if not _target_authorised(rule, target, service):
                continue  # the log says what permission is missing (localaws/iam/service_access.py)
            try:
                payload = target_input(target, event, rule)
                if service == "lambda":
                    self._invoke_lambda(target_arn, payload)
                elif service == "sqs":
                    _send_to_sqs(target, target_arn, payload, event["id"])
                else:
                    self._start_execution(target_arn, payload)
            except Exception:
                log.warning("rule %s: could not fire target %s", rule.name, target_arn, exc_info=True)
                continue
            self.ctx.emit("events.fire", rule=rule.name, target=target_arn)

    def _invoke_lambda(self, function_arn: str, payload: str) -> None:
        from localaws.bridges import awslambda

        awslambda.invoke_function(function_arn, payload, asynchronous=True)

    def _start_execution(self, state_machine_arn: str, payload: str) -> None:
        from moto.stepfunctions.responses import get_backend

        region, account = state_machine_arn.split(":")[3], state_machine_arn.split(":")[4]
        get_backend(account, region).start_execution(
            state_machine_arn, name=str(uuid.uuid4()), execution_input=payload
        )


# -- delivery of events put on a bus -----------------------------------------------------------------------
def _event_time(value: Any) -> str:
    """AWS's event ``time`` (``2017-12-22T18:43:48Z``) from moto's epoch seconds (or a text already)."""
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def aws_event(moto_event: dict[str, Any]) -> dict[str, Any]:
    """The event as EventBridge hands it to a target: the documented envelope, nothing of moto's own."""
    return {
        "version": "0",
        "id": moto_event["id"],
        "detail-type": moto_event["detail-type"],
        "source": moto_event["source"],
        "account": moto_event["account"],
        "time": _event_time(moto_event["time"]),
        "region": moto_event["region"],
        "resources": list(moto_event.get("resources") or []),
        "detail": moto_event.get("detail", {}),
    }


def rule_matches(rule: Any, moto_event: dict[str, Any]) -> bool:
    """Does an event put on the rule's bus go to its targets? Enabled rules with a matching pattern only.

    moto sends events to DISABLED rules too, and an empty pattern (a schedule-only rule) matches everything
    there; on AWS a rule without an event pattern never matches an event.
    """
    if not str(rule.state).startswith("ENABLED") or not rule.event_pattern.get_pattern():
        return False
    return bool(rule.event_pattern.matches_event(moto_event))


class _Dispatcher:
    """One daemon thread that starts executions for rules, so an emitter (maybe the Step Functions bridge,
    holding its own locks) never waits for, or re-enters, the target's service."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[Callable[[], None], str]] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, work: Callable[[], None], what: str) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="localaws-events-delivery", daemon=True
                )
                self._thread.start()
        self._queue.put((work, what))

    def _loop(self) -> None:
        while True:
            work, what = self._queue.get()
            try:
                work()
            except Exception:  # a target's failure is the target's: the event is dropped, as on AWS
                log.warning("event delivery to %s failed", what, exc_info=True)


_dispatcher = _Dispatcher()


def _start_execution(state_machine_arn: str, payload: str) -> None:
    from moto.stepfunctions.responses import get_backend

    region, account = state_machine_arn.split(":")[3], state_machine_arn.split(":")[4]
    get_backend(account, region).start_execution(
        state_machine_arn, name=str(uuid.uuid4()), execution_input=payload
    )


def _send_to_sqs(target: dict[str, Any], queue_arn: str, payload: str, event_id: str) -> None:
    from moto.sqs import sqs_backends

    _, _, _, region, account, queue_name = queue_arn.split(":", 5)
    group_id = (target.get("SqsParameters") or {}).get("MessageGroupId")
    # A FIFO target needs content-based deduplication on AWS; the event id stands in for it here.
    sqs_backends[account][region].send_message(
        queue_name=queue_name,
        message_body=payload,
        group_id=group_id,
        deduplication_id=event_id if queue_name.endswith(".fifo") else None,
    )


def deliver(
    rule: Any, target: dict[str, Any], event: dict[str, Any], moto_event: dict[str, Any] | None = None
) -> None:
    """Hand ``event`` (AWS-shaped) to one target of ``rule``; never raises, never waits for the target.

    Lambda: an asynchronous invocation. Step Functions: a StartExecution on the delivery thread. SQS: the
    message at once, with Input / InputPath / InputTransformer applied. Other targets moto delivers itself
    (CloudWatch Logs, archives, other buses) get moto's event (``moto_event``), through moto's own code.
    """
    target_arn = target.get("Arn", "")
    service = target_arn.split(":")[2] if target_arn.count(":") >= 5 else ""
    if not _target_authorised(rule, target, service):
        return  # the log says what permission is missing (localaws/iam/service_access.py)
    try:
        if service == "lambda":
            from localaws.bridges import awslambda

            awslambda.invoke_function(target_arn, target_input(target, event, rule), asynchronous=True)
        elif service == "states":
            payload = target_input(target, event, rule)
            _dispatcher.submit(lambda: _start_execution(target_arn, payload), target_arn)
        elif service == "sqs":
            _send_to_sqs(target, target_arn, target_input(target, event, rule), event["id"])
        elif moto_event is not None:
            proxy = copy.copy(rule)
            proxy.targets = [target]
            _moto_send_to_targets(proxy, copy.deepcopy(moto_event))
        else:
            _report_once(target_arn, "rule %s: target %s is not delivered to locally", rule.name, target_arn)
            return
    except Exception:
        log.warning(
            "rule %s: could not deliver event %s to %s", rule.name, event.get("id"), target_arn, exc_info=True
        )
        return
    ctx = _scheduler.ctx if _scheduler is not None else None
    if ctx is not None:
        ctx.emit("events.deliver", rule=rule.name, target=target_arn, source=event.get("source"))


_reported_targets: set[str] = set()


def _target_authorised(rule: Any, target: dict[str, Any], service: str) -> bool:
    """EventBridge delivers to a function only if the function's policy lets it (for this rule), and calls a
    state machine only with the target's role (localaws/iam). Other targets are not checked locally."""
    from localaws.iam import service_access

    rule_arn = str(getattr(rule, "arn", ""))
    if service == "lambda":
        return service_access.service_may_invoke(
            target.get("Arn", ""),
            "events.amazonaws.com",
            source_arn=rule_arn,
            source_account=rule_arn.split(":")[4] if rule_arn.count(":") >= 5 else "",
            via="events-target",
            detail={"rule": rule_arn},
        )
    if service == "states":
        return service_access.target_may(rule_arn, target, "states:StartExecution")
    return True


def _report_once(key: str, message: str, *args: Any) -> None:
    if key not in _reported_targets:
        _reported_targets.add(key)
        log.warning(message, *args)


def _send_matching(rules: list[Any], moto_event: dict[str, Any]) -> None:
    event = aws_event(moto_event)
    for rule in rules:
        try:
            if not rule_matches(rule, moto_event):
                continue
        except Exception:
            log.warning("rule %s: its pattern could not be matched", rule.name, exc_info=True)
            continue
        for target in list(rule.targets):
            deliver(rule, target, event, moto_event)


def _bridged_send_to_targets(self: Any, original_event: dict[str, Any], transform_input: bool = True) -> None:
    """Replaces moto's ``Rule.send_to_targets`` (which PutEvents calls for every rule of the bus)."""
    _send_matching([self], original_event)


def emit(
    account: str, region: str, source: str, detail_type: str, detail: dict, resources: list[str]
) -> None:
    """Put one AWS service event on the default bus of ``account``/``region``; deliver it to matching rules.

    The event is what the service would send (``time`` is now, UTC, to the second); nothing a target does
    (fails, runs long) reaches the caller.
    """
    try:
        from moto.core.utils import unix_time
        from moto.events.models import events_backends

        now = unix_time()
        moto_event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": source,
            "account": account,
            "time": now,
            "region": region,
            "resources": list(resources),
            "detail": json.loads(json.dumps(detail)),
            "ingestion-time": now,  # moto's InputTransformer reads it
        }
        bus = events_backends[account][region].event_buses.get("default")
        if bus is None:
            return
        _send_matching(list(bus.rules.values()), moto_event)
    except Exception:
        log.warning("could not emit %s %r", source, detail_type, exc_info=True)


def _moto_send_to_targets(rule: Any, event: dict[str, Any]) -> None:
    from moto.events.models import Rule

    patching.original(Rule, "send_to_targets")(rule, event)


_install_lock = threading.Lock()
_scheduler: Scheduler | None = None


def scheduler() -> Scheduler | None:
    return _scheduler


def install(ctx: LocalAwsContext) -> None:
    """Deliver put events to every target kind; start the scheduler thread (idempotent; a later context
    replaces the earlier one)."""
    global _scheduler
    from moto.events.models import Rule

    with _install_lock:
        patching.replace(Rule, "send_to_targets", _bridged_send_to_targets)
        if _scheduler is None:
            _scheduler = Scheduler(ctx)
        else:
            _scheduler.set_context(ctx)
        _scheduler.start()


def stop() -> None:
    """Stop the scheduler thread (tests; ``install`` starts it again)."""
    with _install_lock:
        if _scheduler is not None:
            _scheduler.stop()
