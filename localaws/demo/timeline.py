"""A timeline of one demo run, drawn from the executions' own histories: history events in, SVG text out.

One row per Task or Parallel state (Pass states take no time and are left out), on one time axis from the
first execution's start. A Task state's row shows each attempt's parts as bars:

- **wait**: the task was scheduled (``ActivityScheduled``) and no worker has taken it yet
  (``ActivityStarted``): a runner not yet polling, or a wait-for-data task waiting for its upload;
- **hop**: a worker holds the task but no job runs: from ``ActivityStarted`` to the job's start (the runner's
  output: ``GlueJobStartedOn`` / ``AthenaQuerySubmissionDateTime``), and from the job's end to the task's
  answer (``ActivitySucceeded``); a task with no job (a wait for data) is one hop from taken to answered;
- **run**: the Glue job run or Athena query, from its start to its end (``…CompletedOn``);
- **failed**: a task that ended ``ActivityFailed`` or ``ActivityTimedOut``, from its start to that end.

Hops last fractions of a second, too short to see beside a 30 s job, so each row also prints its figures.
The demo writes the result as ``timeline.svg`` next to ``summary.json`` (``write_timeline``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from buildlib.pictures.svgkit import document, esc, nice_ticks, num, seconds_label, text_width
from localaws.demo.hops import JOB_TIMES, history

TIMELINE_FILE = "timeline.svg"
WAIT, HOP, RUN, FAILED, STATE = "wait", "hop", "run", "failed", "state"
# kind -> (fill, what the legend says)
LOOK = {
    WAIT: ("#b9a3e8", "wait: scheduled, no worker has it yet"),
    HOP: ("#ed7100", "hop: a worker holds the task, no job runs"),
    RUN: ("#0972d3", "run: the Glue job or Athena query"),
    FAILED: ("#d13212", "failed"),
}
CLOSING_EVENTS = ("ActivitySucceeded", "ActivityFailed", "ActivityTimedOut")
END_EVENTS = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}
# Sizes in px.
ROW_H, BAR_H, HEAD_H = 22.0, 12.0, 26.0
PLOT_W, NOTE_W, MARGIN = 640.0, 300.0, 16.0
FONT, SMALL = 12.0, 11.0


def moment(value: Any) -> dt.datetime | None:
    """A history timestamp or job time as an aware datetime: boto3 gives datetimes, saved histories text."""
    if isinstance(value, dt.datetime):
        found = value
    elif isinstance(value, str) and value:
        found = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    else:
        return None
    return found if found.tzinfo else found.replace(tzinfo=dt.UTC)


@dataclass
class Bar:
    kind: str
    start: dt.datetime
    end: dt.datetime


@dataclass
class Row:
    label: str
    depth: int  # 0 for a top-level state, 1 inside a Parallel's branch
    bars: list[Bar] = field(default_factory=list)

    def seconds(self, kind: str) -> float:
        return sum((b.end - b.start).total_seconds() for b in self.bars if b.kind == kind)


@dataclass
class ExecutionTimeline:
    name: str  # the state machine
    status: str
    start: dt.datetime
    end: dt.datetime | None
    rows: list[Row]


def _job_times(details: dict[str, Any]) -> tuple[dt.datetime, dt.datetime] | None:
    try:
        output = json.loads(details.get("output") or "{}")
    except ValueError:
        return None
    if not isinstance(output, dict):
        return None
    for start_field, end_field in JOB_TIMES:
        started, ended = moment(output.get(start_field)), moment(output.get(end_field))
        if started and ended:
            return started, ended
    return None


def _attempt_bars(scheduled: dict, started: dict | None, closed: dict | None) -> list[Bar]:
    """The bars of one activity attempt: scheduled -> started -> (job) -> answered or failed."""
    at = moment(scheduled["timestamp"])
    taken = moment(started["timestamp"]) if started else None
    end = moment(closed["timestamp"]) if closed else None
    if taken is None:
        return [Bar(WAIT, at, end)] if end else []
    bars = [Bar(WAIT, at, taken)]
    if closed is None:
        return bars
    if closed["type"] != "ActivitySucceeded":
        return [*bars, Bar(FAILED, taken, end)]
    job = _job_times(closed.get("activitySucceededEventDetails") or {})
    if job is None:  # no job: a wait-for-data task, released as soon as it was taken
        return [*bars, Bar(HOP, taken, end)]
    job_start, job_end = job
    return [*bars, Bar(HOP, taken, job_start), Bar(RUN, job_start, job_end), Bar(HOP, job_end, end)]


def execution_timeline(name: str, events: list[dict[str, Any]]) -> ExecutionTimeline:
    """The rows of one execution, from its history (``GetExecutionHistory``'s events, oldest first)."""
    by_id = {event["id"]: event for event in events}
    children: dict[int, list[dict]] = {}
    for event in events:
        children.setdefault(event.get("previousEventId", 0), []).append(event)
    rows: dict[int, Row] = {}  # the state's entered-event id -> its row
    open_parallels: list[dict] = []
    status, start, end = "RUNNING", moment(events[0]["timestamp"]), None
    for event in events:
        kind = event["type"]
        if kind in ("TaskStateEntered", "ParallelStateEntered"):
            depth = len(open_parallels)
            rows[event["id"]] = Row(event["stateEnteredEventDetails"]["name"], depth)
            if kind == "ParallelStateEntered":
                open_parallels.append(event)
        elif kind in ("ParallelStateExited", "ParallelStateFailed") and open_parallels:
            entered = open_parallels.pop()
            rows[entered["id"]].bars.append(
                Bar(STATE, moment(entered["timestamp"]), moment(event["timestamp"]))
            )
        elif kind == "ActivityScheduled":
            entered = event
            while entered and entered["type"] != "TaskStateEntered":  # a retry follows the failed attempt
                entered = by_id.get(entered.get("previousEventId"))
            taken = next((e for e in children.get(event["id"], []) if e["type"] == "ActivityStarted"), None)
            after = children.get(taken["id"] if taken else event["id"], [])
            closed = next((e for e in after if e["type"] in CLOSING_EVENTS), None)
            if entered:
                rows[entered["id"]].bars += _attempt_bars(event, taken, closed)
        elif kind in END_EVENTS:
            status, end = END_EVENTS[kind], moment(event["timestamp"])
    return ExecutionTimeline(name, status, start, end, list(rows.values()))


def _note(row: Row) -> str:
    """The row's figures: wait, each hop, run (a hop is too short to see as a bar)."""
    parts = []
    if row.seconds(WAIT):
        parts.append(f"wait {row.seconds(WAIT):.2f} s")
    hops = [b for b in row.bars if b.kind == HOP]
    if hops:
        figures = " + ".join(f"{(b.end - b.start).total_seconds():.2f}" for b in hops)
        parts.append(f"{'hops' if len(hops) > 1 else 'hop'} {figures} s")
    if row.seconds(RUN):
        parts.append(f"run {row.seconds(RUN):.1f} s")
    if row.seconds(FAILED):
        parts.append(f"failed after {row.seconds(FAILED):.1f} s")
    return ", ".join(parts)


def timeline_svg(executions: Sequence[ExecutionTimeline], title: str = "Timeline of the demo run") -> str:
    """The executions' rows on one time axis, from the first start to the last end, as an SVG document."""
    origin = min(e.start for e in executions)
    last = max(
        [e.end or e.start for e in executions] + [b.end for e in executions for r in e.rows for b in r.bars]
    )
    ticks = nice_ticks(0, max((last - origin).total_seconds(), 1.0), 8)
    scale = PLOT_W / ticks[-1]
    label_w = max(
        [text_width(r.label, FONT) + 14 * r.depth for e in executions for r in e.rows]
        + [text_width(e.name, FONT, bold=True) for e in executions]
    )
    left = MARGIN + label_w + 12
    body: list[str] = [f'<text x="{num(MARGIN)}" y="{num(MARGIN + 12)}" class="heading">{esc(title)}</text>']
    y = MARGIN + 34

    def x_of(moment_: dt.datetime) -> float:
        return left + (moment_ - origin).total_seconds() * scale

    for execution in executions:
        # A header row: the state machine, its execution's span as a thin bar, and how it ended.
        took = f" in {(execution.end - execution.start).total_seconds():.1f} s" if execution.end else ""
        summary = f"{execution.name}: {execution.status}{took}"
        colour = "" if execution.status in ("SUCCEEDED", "RUNNING") else f' style="fill:{LOOK[FAILED][0]}"'
        body.append(f'<g class="execution-row"><title>{esc(summary)}</title>')
        body.append(
            f'<text x="{num(MARGIN)}" y="{num(y + 15)}" class="execution">{esc(execution.name)}</text>'
        )
        if execution.end:
            x0, x1 = x_of(execution.start), x_of(execution.end)
            body.append(
                f'<rect x="{num(x0)}" y="{num(y + 9)}" width="{num(max(x1 - x0, 1))}" height="4" '
                'fill="#5f6b7a"/>'
            )
        body.append(
            f'<text x="{num(left + PLOT_W + 12)}" y="{num(y + 15)}" class="execution"{colour}>'
            f"{esc(execution.status)}{esc(took)}</text></g>"
        )
        y += HEAD_H
        for row in execution.rows:
            body += _row_svg(row, y, x_of, left)
            y += ROW_H
        y += 8
    axis_y = y + 4
    for tick in ticks:
        x = left + tick * scale
        body.append(
            f'<line x1="{num(x)}" y1="{num(MARGIN + 30)}" x2="{num(x)}" y2="{num(axis_y)}" class="grid"/>'
        )
        body.append(
            f'<text x="{num(x)}" y="{num(axis_y + 14)}" class="tick" text-anchor="middle">'
            f"{esc(seconds_label(tick))}</text>"
        )
    body.append(
        f'<text x="{num(left + PLOT_W / 2)}" y="{num(axis_y + 30)}" class="tick" text-anchor="middle">'
        f"seconds since {esc(origin.strftime('%Y-%m-%d %H:%M:%S'))} UTC (the first execution's start)</text>"
    )
    y = axis_y + 50
    x = MARGIN
    for fill, meaning in LOOK.values():
        body.append(f'<rect x="{num(x)}" y="{num(y - 9)}" width="14" height="10" fill="{fill}"/>')
        body.append(f'<text x="{num(x + 19)}" y="{num(y)}" class="tick">{esc(meaning)}</text>')
        x += 19 + text_width(meaning, SMALL) + 18
    width = left + PLOT_W + NOTE_W + MARGIN
    style = (
        f".heading{{font-size:15px;font-weight:600}}.execution{{font-size:{FONT}px;font-weight:600}}"
        f".state{{font-size:{FONT}px}}.tick,.note{{font-size:{SMALL}px;fill:#414d5c}}"
        ".grid{stroke:#e9ebed;stroke-width:1}"
    )
    return document(max(width, x + MARGIN), y + MARGIN, body, title, style)


def _row_svg(row: Row, y: float, x_of, left: float) -> list[str]:
    out = [
        f'<g class="row" data-state="{esc(row.label)}">',
        f'<text x="{num(MARGIN + 14 * row.depth)}" y="{num(y + 15)}" class="state">{esc(row.label)}</text>',
    ]
    for bar in row.bars:
        x0, x1 = x_of(bar.start), x_of(bar.end)
        if bar.kind == STATE:  # a Parallel: a frame around its branches' time
            out.append(
                f'<rect x="{num(x0)}" y="{num(y + 5)}" width="{num(max(x1 - x0, 1))}" height="{num(BAR_H)}" '
                'fill="none" stroke="#8d99a8" stroke-dasharray="3 2"/>'
            )
            continue
        fill = LOOK[bar.kind][0]
        out.append(
            f'<rect class="bar {bar.kind}" x="{num(x0)}" y="{num(y + 5)}" width="{num(max(x1 - x0, 1.5))}" '
            f'height="{num(BAR_H)}" fill="{fill}"><title>{esc(bar.kind)} '
            f"{(bar.end - bar.start).total_seconds():.3f} s</title></rect>"
        )
    out.append(f'<text x="{num(left + PLOT_W + 12)}" y="{num(y + 15)}" class="note">{esc(_note(row))}</text>')
    out.append("</g>")
    return out


def write_timeline(sfn: Any, execution_arns: Sequence[str], output_dir: Path) -> Path:
    """Draw the executions (their state machine's name is in the ARN) into ``output_dir``/timeline.svg."""
    timelines = [execution_timeline(arn.split(":")[-2], history(sfn, arn)) for arn in execution_arns]
    path = Path(output_dir) / TIMELINE_FILE
    path.write_text(timeline_svg(timelines))
    return path
