"""What one run of a runner did: counted by the run's steps, logged and returned by the handler."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass
class RunSummary:
    """What one run did; returned by the handler and logged so an operator can follow a run at a glance.

    started/recovered: jobs started (recovered: started by a run that died, tracked by this one);
    rejected: tasks failed before their job ran (bad input, refused start); succeeded/failed: outcomes
    reported; running: heartbeats; expired: tasks Step Functions no longer knew; starting: tasks another
    live run is starting (or will try again); start_retries: starts a throttle or a 5xx refused, left to a
    later run; not_tracked: a job event about a job this runner does not track (any more);
    check_errors/report_errors: items left for a later run. trigger: what woke the run; polled: whether it
    polled the activity (False: another run was polling, and polls again for it); nudged: nudge events sent
    (one per answer).
    """

    trigger: str = "schedule"

    started: int = 0
    recovered: int = 0
    rejected: int = 0
    succeeded: int = 0
    failed: int = 0
    running: int = 0
    expired: int = 0
    starting: int = 0
    start_retries: int = 0
    check_errors: int = 0
    report_errors: int = 0
    not_tracked: int = 0
    nudged: int = 0
    polled: bool = False
    poll_error: str | None = None
    out_of_time: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, counter: str, count: int = 1) -> None:
        """Thread-safe increment: the check pass visits items concurrently."""
        with self._lock:
            setattr(self, counter, getattr(self, counter) + count)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}
