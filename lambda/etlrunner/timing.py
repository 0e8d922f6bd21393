"""How long a run may still work and hold things: a Lambda cannot outlive its own timeout."""

from __future__ import annotations

import math
import time
from typing import Any


def remaining_ms(context: Any) -> int | None:
    """Milliseconds the Lambda has left, or None when run without a Lambda context (no limit)."""
    getter = getattr(context, "get_remaining_time_in_millis", None)
    return None if getter is None else int(getter())


def has_time(context: Any, reserve_ms: int) -> bool:
    left = remaining_ms(context)
    return left is None or left >= reserve_ms


def hold_until(context: Any, seconds: float) -> float:
    """`seconds` from now, never past the Lambda's own end (a dead run's lease must run out)."""
    until = time.time() + seconds
    left = remaining_ms(context)
    return until if left is None else min(until, time.time() + left / 1000)


def lease_until(context: Any, seconds: float) -> int:
    """An item lease in whole epoch seconds (as stored), never past the Lambda's own end."""
    return math.ceil(hold_until(context, seconds))
