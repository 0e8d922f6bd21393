"""Scheduled rules: schedule expressions, and the one thread that fires them on a scaled clock.

``PutRule`` stores a ``ScheduleExpression`` but moto never fires it. :class:`Scheduler` reads moto's events
backends (every account and region) and fires every ENABLED rule with a schedule, ``rate(...)`` or
``cron(...)``, on a virtual clock scaled by ``ctx.time_scale``, at most once a real second per rule
(``MIN_REAL_GAP_S``); the package's docstring says what each expression means and what targets get.
"""

from __future__ import annotations

import calendar
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from localaws.bridges.events.delivery import send_to_sqs, target_authorised
from localaws.bridges.events.inputs import scheduled_event, target_input
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
            if not target_authorised(rule, target, service):
                continue  # the log says what permission is missing (localaws/iam/service_access.py)
            try:
                payload = target_input(target, event, rule)
                if service == "lambda":
                    self._invoke_lambda(target_arn, payload)
                elif service == "sqs":
                    send_to_sqs(target, target_arn, payload, event["id"])
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
