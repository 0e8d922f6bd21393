"""Benchmark: the local demo from a cold start (a new interpreter each run).

    .venv/bin/python bench/bench_demo.py [--runs N] [--time-scale S]

Prints, for each run and as medians: total wall time of the process (from its start to its exit, as a
terminal user waits for it; the demo's output goes to a file, so the Spark JVM finishing its own shutdown
after the process has exited is not counted), time inside Glue job runs
(wall-clock, overlapping runs counted once), deploy time, and orchestration overhead = total − Glue − deploy,
checked against the targets (whole demo ≤ 90 s, overhead ≤ 5 s on a 2-core machine). Exit code 0 whether or
not a target is met: this measures, it does not gate; the demo failing is the only error.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_TOTAL_S = 90.0
TARGET_OVERHEAD_S = 5.0


@dataclass
class Run:
    total_s: float  # the whole process, interpreter start-up included
    glue_s: float
    glue_summed_s: float
    deploy_s: float
    athena_s: float
    phases_s: dict[str, float]

    @property
    def overhead_s(self) -> float:
        return self.total_s - self.glue_s - self.deploy_s


def run_once(time_scale: str | None) -> Run:
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as work:
        output, log = Path(work) / "demo-output", Path(work) / "demo.log"
        args = f"output={output}" + (f",time_scale={time_scale}" if time_scale else "")
        command = [str(Path(sys.executable).parent / "pynt"), f"demo[{args}]"]
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
    return Run(
        total_s=total,
        glue_s=summary["glue_wall_s"],
        glue_summed_s=summary["glue_job_s"],
        deploy_s=summary["deploy_s"],
        athena_s=summary["athena_s"],
        phases_s=summary["phases_s"],
    )


def _verdict(value: float, target: float) -> str:
    return "meets target" if value <= target else f"MISSES target by {value - target:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--time-scale", default=None, help="LOCALAWS time scale (default: the demo's)")
    options = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; runs: {options.runs}")
    runs = []
    for number in range(1, options.runs + 1):
        run = run_once(options.time_scale)
        runs.append(run)
        phases = ", ".join(f"{name} {seconds:.1f}" for name, seconds in run.phases_s.items())
        print(
            f"run {number}: total {run.total_s:5.1f} s | Glue {run.glue_s:5.1f} s "
            f"(summed {run.glue_summed_s:.1f}) | deploy {run.deploy_s:4.1f} s "
            f"| overhead {run.overhead_s:4.1f} s "
            f"(Athena query {run.athena_s:.1f}) | phases: {phases}"
        )
    total = statistics.median(r.total_s for r in runs)
    glue = statistics.median(r.glue_s for r in runs)
    deploy = statistics.median(r.deploy_s for r in runs)
    overhead = statistics.median(r.overhead_s for r in runs)
    print(f"\nmedian of {len(runs)}:")
    print(
        f"  total wall time          {total:6.1f} s   "
        f"{_verdict(total, TARGET_TOTAL_S)} (≤ {TARGET_TOTAL_S:.0f} s)"
    )
    print(f"  inside Glue job runs     {glue:6.1f} s")
    print(f"  deploy                   {deploy:6.1f} s")
    print(
        f"  orchestration overhead   {overhead:6.1f} s   "
        f"{_verdict(overhead, TARGET_OVERHEAD_S)} (≤ {TARGET_OVERHEAD_S:.0f} s)"
    )


if __name__ == "__main__":
    main()
