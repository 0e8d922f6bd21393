"""Bridge for EventBridge: deliver events put on a bus to rules' targets, and fire scheduled rules.

Modules: ``delivery`` (gap 1, and :func:`emit`), ``schedules`` (gap 2: expressions and the ``Scheduler``),
``inputs`` (what a target receives: scheduled-event payload, Input, InputPath, InputTransformer).

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

import threading

from localaws.bridges import patching
from localaws.bridges.events.delivery import (
    aws_event,
    bridged_send_to_targets,
    deliver,
    emit,
    rule_matches,
)
from localaws.bridges.events.inputs import scheduled_event, target_input, transform_input
from localaws.bridges.events.schedules import (
    MIN_REAL_GAP_S,
    TICK_S,
    CronSchedule,
    RateSchedule,
    Scheduler,
    UnsupportedScheduleError,
    parse_schedule,
)
from localaws.context import LocalAwsContext

__all__ = [
    "MIN_REAL_GAP_S",
    "TICK_S",
    "CronSchedule",
    "RateSchedule",
    "Scheduler",
    "UnsupportedScheduleError",
    "aws_event",
    "deliver",
    "emit",
    "install",
    "parse_schedule",
    "rule_matches",
    "scheduled_event",
    "scheduler",
    "stop",
    "target_input",
    "transform_input",
]

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
        patching.replace(Rule, "send_to_targets", bridged_send_to_targets)
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
