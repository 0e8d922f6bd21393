"""Poll → start → track → check → report: one run of a runner, as its trigger asks (see triggers.py).

The steps live in their own modules: polling.py (one poller at a time, poller.py its lease), work.py (one
task and its item), checks.py (the check pass), recovery.py (the one-minute tick), store.py (the table's
conditional writes), sfn.py (Step Functions calls).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from etlrunner.checks import check_active, check_job
from etlrunner.clients import Clients
from etlrunner.config import RunnerConfig
from etlrunner.interface import Runner
from etlrunner.polling import poll_and_look
from etlrunner.recovery import tick
from etlrunner.summary import RunSummary
from etlrunner.triggers import classify

logger = logging.getLogger("etlrunner")


def run(
    runner: Runner, config: RunnerConfig, clients: Clients, context: Any = None, event: Any = None
) -> dict[str, Any]:
    """One run, as its trigger asks (triggers.py): a job event checks that job; a nudge polls; the recovery
    tick heartbeats and finishes what dead runs left, and polls when a poll is owed; the schedule checks
    every job with its service, then polls."""
    trigger = classify(runner, event)
    summary = RunSummary(trigger=trigger.kind)
    if trigger.kind == "job-ended":
        check_job(runner, config, clients, context, summary, str(trigger.job_id))
    elif trigger.kind == "tick":
        tick(runner, config, clients, context, summary)
    else:
        if trigger.kind == "schedule":
            # Checks first: a poll may hold the run for a minute, and a tracked job's answer must not wait.
            check_active(runner, config, clients, context, summary)
        poll_and_look(runner, config, clients, context, summary)
    logger.info("%s run finished: %s", runner.name, json.dumps(summary.as_dict()))
    return summary.as_dict()
