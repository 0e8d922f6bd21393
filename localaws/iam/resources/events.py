"""EventBridge: event buses (``event-bus/<name>``) and rules (``rule/<name>`` on the default bus,
``rule/<bus>/<name>`` on another). ``PutEvents`` is authorised on the bus of each entry."""

from __future__ import annotations

from localaws.iam.requests import ServiceRequest
from localaws.iam.resources import Need, Where, gap, required

_RULE_OPERATIONS = frozenset(
    {
        "PutRule",
        "DescribeRule",
        "DeleteRule",
        "EnableRule",
        "DisableRule",
        "PutTargets",
        "RemoveTargets",
        "ListTargetsByRule",
    }
)


def bus_arn(where: Where, bus: str | None) -> str:
    bus = bus or "default"
    return bus if bus.startswith("arn:") else where.arn("events", f"event-bus/{bus}")


def rule_arn(where: Where, name: str, bus: str | None) -> str:
    if name.startswith("arn:"):
        return name
    bus_name = (bus or "default").rsplit("/", 1)[-1]
    return where.arn("events", f"rule/{name}" if bus_name == "default" else f"rule/{bus_name}/{name}")


def needs(request: ServiceRequest, where: Where) -> list[Need]:
    operation = request.operation
    action = f"events:{operation}"
    if operation == "PutEvents":
        entries = request.param("Entries") or []
        return list(dict.fromkeys(Need(action, bus_arn(where, e.get("EventBusName"))) for e in entries))
    if operation in _RULE_OPERATIONS:
        name = request.param("Name") or request.param("Rule")
        if not name:
            name = required(request, "Name")
        return [Need(action, rule_arn(where, name, request.param("EventBusName")))]
    if operation in ("DescribeEventBus", "CreateEventBus", "DeleteEventBus"):
        return [Need(action, bus_arn(where, request.param("Name")))]
    if operation in ("ListRules", "ListEventBuses", "ListRuleNamesByTarget"):
        return [Need(action, "*")]
    raise gap("events", operation)
