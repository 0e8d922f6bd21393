"""Tell every runner that a task may be ready: one custom EventBridge event after a run answered tasks.

Answering a task makes Step Functions move on, and the next state is often another runner task (JMSD after PSD
and PMD, the Athena query after JMSD). Each runner stack has a rule on this event that invokes its runner,
which then polls its activity; without it the next task would wait for the next schedule tick.

Best effort, like every EventBridge delivery: a nudge that cannot be sent is logged, and the schedule (the
safety net) still picks the task up.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from etlrunner.triggers import NUDGE_DETAIL_TYPE, NUDGE_SOURCE

logger = logging.getLogger("etlrunner")


def nudge_entry(sender: str, activity_arn: str, answered: int) -> dict[str, Any]:
    """The PutEvents entry (default bus): who answered, on which activity, how many tasks."""
    return {
        "Source": NUDGE_SOURCE,
        "DetailType": NUDGE_DETAIL_TYPE,
        "Detail": json.dumps({"sender": sender, "activityArn": activity_arn, "answered": answered}),
    }


def send_nudge(events: Any, sender: str, activity_arn: str, answered: int) -> bool:
    """Put the nudge; False (logged) when it could not be sent. `events` None: nudges are off."""
    if events is None or answered <= 0:
        return False
    try:
        response = events.put_events(Entries=[nudge_entry(sender, activity_arn, answered)])
    except (ClientError, BotoCoreError) as exc:
        logger.warning(
            "%s: could not send the nudge event (the schedule picks the next task up): %s", sender, exc
        )
        return False
    if response.get("FailedEntryCount"):
        entry = (response.get("Entries") or [{}])[0]
        logger.warning(
            "%s: the nudge event was refused (%s: %s); the schedule picks the next task up",
            sender,
            entry.get("ErrorCode"),
            entry.get("ErrorMessage"),
        )
        return False
    return True
