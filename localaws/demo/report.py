"""What the demo measured and produced (``DemoReport``, also written as summary.json), and how it is printed.

Every module of the demo prints through ``say``: one line, flushed at once, so that a watcher of a long run
sees each step as it happens.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, TextIO

from localaws.iam import denials as iam_denials


@dataclass
class DemoReport:
    """What the demo measured and produced; also written as summary.json for bench/."""

    status: str = "RUNNING"
    failed_state: str | None = None
    cause: str | None = None
    total_s: float = 0.0
    deploy_s: float = 0.0
    glue_wall_s: float = 0.0
    glue_job_s: float = 0.0
    glue_runs: int = 0
    athena_s: float = 0.0
    athena_outside_glue_s: float = 0.0  # the part of athena_s while no Glue job ran (in the overhead)
    glue_runs_by_job: dict[str, int] = field(default_factory=dict)
    row_counts: dict[str, int] = field(default_factory=dict)
    # The first rows of the dataset the main workflow's last Glue job wrote.
    first_rows: list[dict[str, Any]] = field(default_factory=list)
    first_rows_dataset: str | None = None
    output_files: list[str] = field(default_factory=list)
    # Each Athena task's result, by state name: the header, then the rows.
    query_results: dict[str, list[list[str]]] = field(default_factory=dict)
    phases_s: dict[str, float] = field(default_factory=dict)
    # Per runner task state: task ready -> job started, job ended -> task answered (localaws/demo/hops.py).
    hops: list[dict[str, Any]] = field(default_factory=list)
    faults: dict[str, Any] | None = None  # what the fault mode injected (localaws.faults.report); None: off
    iam: dict[str, Any] | None = None  # IAM mode, counts, denials (localaws.iam.denials.report); None: off

    @property
    def orchestration_overhead_s(self) -> float:
        """Everything that is neither deploying nor running a Glue job (the Athena query included)."""
        return self.total_s - self.deploy_s - self.glue_wall_s


def say(out: TextIO, text: str) -> None:
    print(text, file=out, flush=True)


def print_summary(report: DemoReport, out: TextIO) -> None:
    say(out, "\n=== Summary ===")
    say(out, f"Status: {report.status}")
    for name, count in report.row_counts.items():
        say(out, f"  rows {name:<32} {count:>8,}")
    if report.first_rows:
        columns = list(report.first_rows[0])[:6]
        shown = f"first {len(columns)} of {len(report.first_rows[0])} columns"
        say(out, f"\nFirst rows of {report.first_rows_dataset}, the workflow's last dataset ({shown}):")
        say(out, "  " + " | ".join(f"{c:>22}" for c in columns))
        for row in report.first_rows:
            say(out, "  " + " | ".join(f"{str(row[c]):>22}" for c in columns))
    for state, rows in report.query_results.items():
        say(out, f"\nAthena query result of '{state}' ({len(rows) - 1} rows), first 3:")
        for row in rows[:4]:
            say(out, "  " + ", ".join(row))
    say(out, "\nTimings:")
    say(out, f"  total                    {report.total_s:7.1f} s")
    say(out, f"  deploy (4 stacks)        {report.deploy_s:7.1f} s")
    say(
        out,
        f"  inside Glue jobs         {report.glue_wall_s:7.1f} s wall-clock "
        f"({report.glue_runs} runs, {report.glue_job_s:.1f} s summed)",
    )
    say(out, f"  orchestration overhead   {report.orchestration_overhead_s:7.1f} s (total − deploy − Glue)")
    say(
        out,
        f"    of which the Athena query run      {report.athena_outside_glue_s:5.1f} s "
        f"(it ran {report.athena_s:.1f} s, the rest beside the Glue jobs)",
    )
    for phase, seconds in report.phases_s.items():
        say(out, f"  phase: {phase:<47} {seconds:5.1f} s")
    for hop in report.hops:
        say(
            out,
            f"  hop: {hop['state']:<30} task ready → job started {hop['ready_to_started_s']:5.2f} s, "
            f"job ended → task answered {hop['ended_to_answered_s']:5.2f} s",
        )
    if report.faults is not None:
        _print_faults(report.faults, out)
    iam_denials.print_summary(report.iam, out)
    if report.output_files:
        say(out, "\nOutput files:")
        for path in report.output_files:
            say(out, f"  {os.path.relpath(path)}")


def _print_faults(faults: dict[str, Any], out: TextIO) -> None:
    injected = ", ".join(f"{count} {kind}" for kind, count in faults["injected"].items())
    kills = len(faults["kills"]["fired"])
    done = ", ".join(part for part in (injected, f"{kills} kill(s)" if kills else "") if part) or "nothing"
    say(out, f"\nFaults ({faults['spec']}): {done} in {faults['calls_seen']} client calls")
    for kind, calls in faults["by_call"].items():
        top = sorted(calls.items(), key=lambda item: -item[1])[:5]
        say(out, f"  {kind:<9} " + ", ".join(f"{call} ×{count}" for call, count in top))
    for fired in faults["kills"]["fired"]:
        say(
            out,
            f"  killed {fired.get('function')} {fired.get('when')} {fired.get('call')} ({fired.get('kill')})",
        )
    for kill in faults["kills"].get("unfired", []):
        say(out, f"  NEVER FIRED: {kill} (the function made no such call in this run)")


def unfired_kills(report: DemoReport) -> list[str]:
    """The configured kills that never fired during the run: they tested nothing."""
    return list((report.faults or {}).get("kills", {}).get("unfired", []))
