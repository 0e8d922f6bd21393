"""Parsing and validation helpers for activity task input.

Every helper raises `InvalidInput` with a message naming the key and what was wrong, because that message
becomes the failure cause an operator reads in the Step Functions console.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from etlrunner.interface import InvalidInput


def parse_task_input(raw: str | None) -> dict[str, Any]:
    """Turn the activity task's input into a dict.

    The sample state machines' Pass states put a JSON *string* holding an object in the task input, so the
    activity input is a JSON-encoded string; a plain JSON object is accepted as well.
    """
    if raw is None or not raw.strip():
        raise InvalidInput("task input is empty; expected a JSON object (or a JSON string holding one)")
    try:
        value: Any = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput(f"task input is not valid JSON ({exc}): {_preview(raw)}") from None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise InvalidInput(
                f"task input is a JSON string but its content is not valid JSON ({exc}): {_preview(value)}"
            ) from None
    if not isinstance(value, dict):
        raise InvalidInput(
            f"task input must be a JSON object (or a JSON string holding one), got {_json_type(value)}"
        )
    return value


def require_str(task_input: Mapping[str, Any], key: str) -> str:
    """The non-empty string under `key`; missing, empty or non-string is invalid input."""
    if key not in task_input or task_input[key] is None:
        raise InvalidInput(f"required key {key} is missing from the task input")
    value = task_input[key]
    if not isinstance(value, str):
        raise InvalidInput(f"{key} must be a string, got {_json_type(value)} {json.dumps(value)}")
    if not value.strip():
        raise InvalidInput(f"{key} must not be empty")
    return value


def optional_str(task_input: Mapping[str, Any], key: str) -> str | None:
    """Like `require_str`, but an absent (or null) key gives None."""
    if task_input.get(key) is None:
        return None
    return require_str(task_input, key)


def optional_int(task_input: Mapping[str, Any], key: str, minimum: int) -> int | None:
    """The integer under `key` (at least `minimum`), or None when absent/null.

    Booleans and floats are refused on purpose: `true` or `2.5` workers is a mistake worth reporting.
    """
    value = task_input.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(
            f"{key} must be an integer >= {minimum}, got {_json_type(value)} {json.dumps(value)}"
        )
    if value < minimum:
        raise InvalidInput(f"{key} must be an integer >= {minimum}, got {value}")
    return value


def _json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, as a user writing the state machine would say it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _preview(text: str, limit: int = 200) -> str:
    """Quote the start of a bad input so the cause shows it without growing past Step Functions' limits."""
    return json.dumps(text if len(text) <= limit else text[:limit] + "...")
