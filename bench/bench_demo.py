"""Benchmark: the local demo from a cold start (a new interpreter each run), at each time scale, against the
bare lower bound (bench/lower_bound.py), in one interleaved run.

    .venv/bin/python bench/bench_demo.py [--runs N] [--scales 1,0.002] [--no-lower-bound]
                                         [--json results.json] [--plot docs/bench-demo.svg]

Each round runs the demo once per time scale and the lower bound once, in turn, so that a busy machine
weighs on all of them alike. Prints, per time scale, as medians with the range: total wall time of the
process (from its start to its exit, as a terminal user waits for it), time inside Glue job runs
(wall-clock, overlapping runs counted once), deploy time, orchestration overhead = total − Glue − deploy,
and the runner hops of the workflows (task ready → job started, job ended → task answered: median and max
over every hop of every run); then the demo's time over the lower bound's (median of the per-round
ratios). Targets, at time scale 1 on a 2-core machine: overhead ≤ 10 s, every hop ≤ 2 s, demo ≤ 1.4× the
lower bound. Exit code 0 whether or not a target is met: this measures, it does not gate; the demo
failing is the only error. `--json` keeps every round's figures; `--plot` draws them (bench/plots.py, which
also redraws a plot from a saved `--json` file).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lower_bound import run_lower_bound  # noqa: E402
from plots import demo_plot  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
TARGET_OVERHEAD_S = 10.0
TARGET_HOP_S = 2.0
TARGET_RATIO = 1.4


@dataclass
class Run:
    total_s: float  # the whole process, interpreter start-up included
    glue_s: float
    deploy_s: float
    hops: list[dict] = field(default_factory=list)

    @property
    def overhead_s(self) -> float:
        return self.total_s - self.glue_s - self.deploy_s


def run_once(time_scale: str) -> Run:
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as work:
        output, log = Path(work) / "demo-output", Path(work) / "demo.log"
        command = [
            str(Path(sys.executable).parent / "pynt"),
            f"demo[output={output},time_scale={time_scale}]",
        ]
        with log.open("w") as sink:
            began = time.monotonic()
            done = subprocess.run(
                command, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, env=os.environ.copy()
            )
            total = time.monotonic() - began
        if done.returncode != 0:
            sys.stderr.write(log.read_text()[-8000:])
            raise SystemExit(f"the demo failed (exit {done.returncode}); output above")
        summary = json.loads((output / "summary.json").read_text())
    return Run(total, summary["glue_wall_s"], summary["deploy_s"], summary.get("hops", []))


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f} s ({min(values):.2f}–{max(values):.2f})"


def verdict(value: float, target: float) -> str:
    return "meets target" if value <= target else f"MISSES target by {value - target:.2f} s"


def report_scale(scale: str, runs: list[Run]) -> None:
    overhead = [r.overhead_s for r in runs]
    print(f"\ntime scale {scale} ({len(runs)} runs; median (min–max)):")
    print(f"  total wall time          {spread([r.total_s for r in runs])}")
    print(f"  inside Glue job runs     {spread([r.glue_s for r in runs])}")
    print(f"  deploy                   {spread([r.deploy_s for r in runs])}")
    print(
        f"  orchestration overhead   {spread(overhead)}   "
        f"{verdict(statistics.median(overhead), TARGET_OVERHEAD_S)} (≤ {TARGET_OVERHEAD_S:.0f} s)"
    )
    for key, label in (
        ("ready_to_started_s", "task ready → job started"),
        ("ended_to_answered_s", "job ended → task answered"),
    ):
        values = [hop[key] for run in runs for hop in run.hops]
        if values:
            print(
                f"  hop {label:<26} median {statistics.median(values):5.2f} s, max {max(values):5.2f} s "
                f"over {len(values)} hops   {verdict(max(values), TARGET_HOP_S)} (≤ {TARGET_HOP_S:.0f} s)"
            )


def results_of(scales: list[str], runs: dict[str, list[Run]], bounds: list[float]) -> dict:
    """Every round's figures, as `--json` writes them and bench/plots.py reads them."""
    rounds = []
    for number in range(len(runs[scales[0]])):
        demo = {
            scale: {
                "total_s": round(runs[scale][number].total_s, 2),
                "glue_s": round(runs[scale][number].glue_s, 2),
                "deploy_s": round(runs[scale][number].deploy_s, 2),
                "hops": runs[scale][number].hops,
            }
            for scale in scales
        }
        bound = round(bounds[number], 2) if number < len(bounds) else None
        rounds.append({"round": number + 1, "demo": demo, "lower_bound_s": bound})
    return {
        "bench": "bench/bench_demo.py",
        "date": dt.date.today().isoformat(),
        "machine": f"{os.cpu_count()} cores, python {sys.version.split()[0]}",
        "scales": scales,
        "rounds": rounds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scales", default="1,0.002", help="comma-separated LOCALAWS time scales")
    parser.add_argument("--no-lower-bound", action="store_true")
    parser.add_argument("--json", type=Path, help="write every round's figures to this file")
    parser.add_argument("--plot", type=Path, help="draw the rounds into this SVG file")
    options = parser.parse_args()
    scales = [s.strip() for s in options.scales.split(",") if s.strip()]
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; rounds: {options.runs}")
    runs: dict[str, list[Run]] = {scale: [] for scale in scales}
    bounds: list[float] = []
    for number in range(1, options.runs + 1):
        for scale in scales:
            run = run_once(scale)
            runs[scale].append(run)
            hops = ", ".join(
                f"{h['state']} {h['ready_to_started_s']:.2f}/{h['ended_to_answered_s']:.2f}" for h in run.hops
            )
            print(
                f"round {number} scale {scale}: total {run.total_s:5.1f} s | Glue {run.glue_s:5.1f} s "
                f"| deploy {run.deploy_s:4.1f} s | overhead {run.overhead_s:4.1f} s | hops (s) {hops}"
            )
        if not options.no_lower_bound:
            with tempfile.TemporaryDirectory(prefix="bench-lower-bound-") as out:
                bounds.append(
                    run_lower_bound(
                        SAMPLES / "SalesPipeline_QuickSightSample.csv",
                        SAMPLES / "MarketingData_QuickSightSample.csv",
                        out,
                    )
                )
            print(f"round {number} lower bound: {bounds[-1]:5.1f} s")
    for scale in scales:
        report_scale(scale, runs[scale])
    if bounds:
        print(f"\nlower bound (the three transforms in one SparkSession): {spread(bounds)}")
        for scale in scales:
            ratios = [r.total_s / b for r, b in zip(runs[scale], bounds, strict=True)]
            median = statistics.median(ratios)
            met = "meets target" if median <= TARGET_RATIO else "MISSES target"
            print(
                f"  demo at scale {scale} / lower bound: {median:.2f}× ({min(ratios):.2f}–{max(ratios):.2f}, "
                f"paired by round)   {met} (≤ {TARGET_RATIO}×)"
            )
    results = results_of(scales, runs, bounds)
    if options.json:
        options.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nresults: {options.json}")
    if options.plot:
        options.plot.write_text(demo_plot(results))
        print(f"plot: {options.plot}")


if __name__ == "__main__":
    main()
