"""Recorded histories of MarketingAndSalesETLOrchestrator (tests/console/data), with timestamps as boto3
returns them (datetimes), and a history cut after a given event to stand for a run still going."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"


def recorded(name: str) -> dict[str, Any]:
    """``main-success`` or ``main-failure``: {"status", "definition", "events"}."""
    record = json.loads((DATA / f"{name}.json").read_text())
    for event in record["events"]:
        event["timestamp"] = dt.datetime.fromisoformat(event["timestamp"])
    return record


def cut(events: list[dict[str, Any]], last_id: int) -> list[dict[str, Any]]:
    return [event for event in events if event["id"] <= last_id]


def first_id(events: list[dict[str, Any]], event_type: str, state: str | None = None) -> int:
    for event in events:
        name = event.get("stateEnteredEventDetails", {}).get("name")
        if event["type"] == event_type and (state is None or name == state):
            return event["id"]
    raise AssertionError(f"no {event_type} event{f' of {state}' if state else ''}")
