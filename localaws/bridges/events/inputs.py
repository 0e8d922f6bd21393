"""What a rule's target receives: the scheduled-event payload, and the target's Input, InputPath or
InputTransformer applied to an event (as EventBridge applies them)."""

from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)


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
