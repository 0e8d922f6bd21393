"""Delivery of events put on a bus (PutEvents, or a service event from :func:`emit`) to rules' targets.

moto's ``Rule.send_to_targets`` raised NotImplementedError for Lambda and Step Functions targets, sent events
to DISABLED and schedule-only rules, ignored a target's Input / InputPath and handed SQS targets moto's own
``ingestion-time`` field; it is replaced here (the package's docstring says how each target is served).
"""

from __future__ import annotations

import copy
import json
import logging
import queue
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from localaws.bridges import patching
from localaws.bridges.events.inputs import target_input

log = logging.getLogger(__name__)


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


def send_to_sqs(target: dict[str, Any], queue_arn: str, payload: str, event_id: str) -> None:
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
    if not target_authorised(rule, target, service):
        return  # the log says what permission is missing (localaws/iam/service_access.py)
    try:
        if service == "lambda":
            from localaws.bridges import awslambda

            awslambda.invoke_function(target_arn, target_input(target, event, rule), asynchronous=True)
        elif service == "states":
            payload = target_input(target, event, rule)
            _dispatcher.submit(lambda: _start_execution(target_arn, payload), target_arn)
        elif service == "sqs":
            send_to_sqs(target, target_arn, target_input(target, event, rule), event["id"])
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
    from localaws.bridges import events  # the package's scheduler holds the last installed context

    running = events.scheduler()
    ctx = running.ctx if running is not None else None
    if ctx is not None:
        ctx.emit("events.deliver", rule=rule.name, target=target_arn, source=event.get("source"))


_reported_targets: set[str] = set()


def target_authorised(rule: Any, target: dict[str, Any], service: str) -> bool:
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


def bridged_send_to_targets(self: Any, original_event: dict[str, Any], transform_input: bool = True) -> None:
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
