"""The demo's clocks: how long Glue jobs and Athena queries ran, told by the endpoint's own events.

Parallel Glue runs count once in the wall-clock time (``IntervalClock.busy_seconds``), so that the summary
can say how much of a run was spent inside jobs and how much in the orchestration around them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class IntervalClock:
    """Wall-clock time during which at least one interval was open (parallel Glue runs count once)."""

    _open: dict[str, float] = field(default_factory=dict)
    _closed: list[tuple[float, float]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, key: str) -> None:
        with self._lock:
            self._open[key] = time.monotonic()

    def stop(self, key: str) -> None:
        with self._lock:
            began = self._open.pop(key, None)
            if began is not None:
                self._closed.append((began, time.monotonic()))

    @property
    def count(self) -> int:
        return len(self._closed)

    def _busy_spans(self) -> list[tuple[float, float]]:
        """The closed intervals merged where they overlap, in order."""
        with self._lock:
            spans = sorted(self._closed)
        merged: list[tuple[float, float]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return merged

    def busy_seconds(self) -> float:
        return sum(end - start for start, end in self._busy_spans())

    def busy_seconds_outside(self, other: IntervalClock) -> float:
        """Of ``busy_seconds()``, the time during which ``other`` had no interval open."""
        spans, other_spans = self._busy_spans(), other._busy_spans()
        busy = sum(end - start for start, end in spans)
        covered = sum(
            max(0.0, min(end, other_end) - max(start, other_start))
            for start, end in spans
            for other_start, other_end in other_spans
        )
        return busy - covered

    def summed_seconds(self) -> float:
        with self._lock:
            return sum(end - start for start, end in self._closed)


def clock_listener(
    glue_clock: IntervalClock, athena_clock: IntervalClock, runs_by_job: dict[str, int] | None = None
) -> Callable[[str, dict], None]:
    runs_by_job = {} if runs_by_job is None else runs_by_job

    def listener(kind: str, fields: dict) -> None:
        if kind == "glue.run.start":
            glue_clock.start(str(fields.get("run_id")))
            job = str(fields.get("job"))
            runs_by_job[job] = runs_by_job.get(job, 0) + 1
        elif kind == "glue.run.end":
            glue_clock.stop(str(fields.get("run_id")))
        elif kind == "athena.query.start":
            athena_clock.start(str(fields.get("query_execution_id")))
        elif kind == "athena.query.end":
            athena_clock.stop(str(fields.get("query_execution_id")))

    return listener
