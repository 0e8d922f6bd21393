"""Benchmark: how long each fault of the matrix delays the main workflow, at the templates' own settings.

    .venv/bin/python bench/bench_recovery.py [--children 2] [--points kill:...,throttle:...] [--out FILE.json]

Every point of localaws/demo/fault_matrix.py (a runner or ons3objectcreated killed before or after each AWS
call it makes; every call of one service throttled at 60 %) runs the main workflow once on stacks deployed as
the templates ship them (leases 120 s / 100 s, heartbeats 240 s / 120 s, the one-minute recovery ticks, the
10-minute schedules), at time scale 1: AWS's clock. Each child process deploys once and runs its share of the
points in turn, each first running the workflow without faults (the baseline it compares against). For every
point it prints the time from StartExecution to SUCCEEDED, the time over its child's fault-free run, whether
the fault fired, each Glue job's runs and the tasks that came back only through their heartbeat timeout, then
the worst delay per recovery path. Exit code 0 whatever it measured: a point that failed or took too long is
reported, not raised.

Recovery paths and their bounds (docs/DESIGN.md, "Recovery"): a dead start or answer, its lease (120 s) plus a
tick; a dead poller, its poll's end plus its lease (100 s) plus a tick; a task lost with a worker between
GetActivityTask and its first write, the state's heartbeat (240 s runner, 120 s wait) plus a tick. The aim: at
most 3 minutes over the fault-free run, and no path over 5 minutes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from localaws.demo.fault_matrix import KILL_POINTS, NO_FAULTS, THROTTLE_POINTS  # noqa: E402

DEADLINE_S = 900  # a point that takes longer is reported as not done (the demo's own deadline)
AIM_OVER_BASELINE_S = 180
BOUND_S = 300


def run_child(points: list[str], work: Path, index: int) -> dict[str, Any]:
    """One child: deploy, run the baseline and its points; its result file."""
    result = work / f"result-{index}.json"
    log = work / f"child-{index}.log"
    command = [
        sys.executable,
        "-m",
        "localaws.demo.fault_matrix",
        str(result),
        str(work / f"child-{index}"),
        "--time-scale=1",
        f"--deadline={DEADLINE_S}",
        NO_FAULTS,
        *points,
    ]
    with log.open("w") as sink:
        subprocess.run(command, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, check=False)
    return json.loads(result.read_text()) if result.is_file() else {"points": {}}


def path_of(point: str) -> str:
    """The recovery path a point exercises (docs/DESIGN.md, "Recovery")."""
    if point.startswith("throttle:"):
        return "throttle (retries)"
    _, function, when, call = point.split(":", 3)
    if when == "after" and call == "states.GetActivityTask":
        return f"lost task ({function}: heartbeat + tick)"
    return f"dead run ({function}: lease + tick, or Lambda's retry)"


def judge(point: str, observed: dict[str, Any], baseline_s: float | None) -> dict[str, Any]:
    row: dict[str, Any] = {"point": point, "path": path_of(point)}
    if not observed.get("ran"):
        return {**row, "verdict": "did not run", "error": str(observed.get("error", ""))[-500:]}
    runs = observed.get("glue_runs") or {}
    once = bool(runs) and all(states == ["SUCCEEDED"] for states in runs.values())
    over = None if baseline_s is None else round(observed["seconds"] - baseline_s, 1)
    verdict = "ok"
    if not observed["fired"]:
        verdict = "fault never fired"
    elif observed["status"] != "SUCCEEDED":
        verdict = f"not done: {observed['status']}"
    elif not once:
        verdict = f"Glue runs {runs}"
    elif observed.get("arrivals_left"):
        verdict = f"uploads left pending: {observed['arrivals_left']}"
    elif over is not None and over > BOUND_S:
        verdict = f"over the {BOUND_S} s bound"
    return {
        **row,
        "seconds": observed["seconds"],
        "over_baseline_s": over,
        "heartbeat_timeouts": observed.get("heartbeat_timeouts"),
        "timed_out_states": observed.get("timed_out_states"),
        "verdict": verdict,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--children", type=int, default=2)
    parser.add_argument(
        "--points", default="", help="comma-separated fault specs (default: the whole matrix)"
    )
    parser.add_argument("--out", type=Path, help="write the rows and the baselines as JSON here")
    args = parser.parse_args()
    points = [p for p in args.points.split(",") if p] or [*KILL_POINTS, *THROTTLE_POINTS]
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-recovery-") as folder:
        work = Path(folder)
        shares = [points[i :: args.children] for i in range(args.children)]
        results: list[dict[str, Any]] = [{} for _ in shares]

        def run(index: int) -> None:
            results[index] = run_child(shares[index], work, index)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(shares)) if shares[i]]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    rows, baselines = [], []
    for share, result in zip(shares, results, strict=True):
        observed = result.get("points", {})
        base = observed.get(NO_FAULTS, {})
        baseline_s = base.get("seconds") if base.get("status") == "SUCCEEDED" else None
        baselines.append(baseline_s)
        rows += [judge(point, observed.get(point, {"ran": False}), baseline_s) for point in share]
    print(
        f"bench_recovery: {len(points)} points, {args.children} children, time scale 1, templates' settings"
    )
    print(f"fault-free runs (one per child): {baselines}")
    print(f"{'point':<58} {'s':>7} {'over':>7} {'hb-to':>5}  verdict")
    for row in rows:
        over = "" if row.get("over_baseline_s") is None else f"{row['over_baseline_s']:7.1f}"
        seconds = f"{row['seconds']:7.1f}" if "seconds" in row else "      -"
        timeouts = row.get("heartbeat_timeouts", "-")
        print(f"{row['point']:<58} {seconds} {over:>7} {timeouts!s:>5}  {row['verdict']}")
    print("\nworst delay over the fault-free run, per recovery path:")
    for path in sorted({row["path"] for row in rows}):
        delays = [
            r["over_baseline_s"] for r in rows if r["path"] == path and r.get("over_baseline_s") is not None
        ]
        if delays:
            print(f"  {path:<52} max {max(delays):6.1f} s, median {statistics.median(delays):6.1f} s")
    failed = [row for row in rows if row["verdict"] != "ok"]
    print(f"\n{len(rows) - len(failed)} of {len(rows)} points ok; wall time {time.monotonic() - began:.0f} s")
    if args.out:
        args.out.write_text(json.dumps({"baselines": baselines, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
