"""Benchmark: peak memory of the whole local demo (its process and every child: Spark's JVM, Lambda workers).

    .venv/bin/python bench/bench_memory.py [--runs N] [--scale 100]

Runs ``pynt demo`` on the sample CSVs (1×) and on files that repeat their data rows ``--scale`` times, and
samples the process tree every 50 ms from /proc (Linux only). Three figures per run: the peak of the summed
RSS of the tree (what ``ps`` shows; shared pages count once per process), the peak of the summed PSS (shared
pages split between the processes sharing them: the tree's real footprint), and the peak RSS of the demo's
own process alone. Prints each run and, per scale, the median with the min–max spread, and the ratio of the
medians against the target (scale× input ≤ 2× the 1× figure). Runs alternate between the scales (paired),
since a shared machine's load drifts. Exit code 0 whether or not the target is met; the demo failing is the
only error.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
SALES = SAMPLES / "SalesPipeline_QuickSightSample.csv"
MARKETING = SAMPLES / "MarketingData_QuickSightSample.csv"
TARGET_RATIO = 2.0
SAMPLE_EVERY_S = 0.05
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass
class Peak:
    rss_mib: float
    pss_mib: float
    root_rss_mib: float  # the demo's own process (endpoint, moto's S3, the Glue runtime), without children
    processes: int  # the most processes seen at once in the tree
    seconds: float


def repeated_csv(source: Path, times: int, target: Path) -> Path:
    """``source``'s header, then its data rows ``times`` over (streamed: the file may be large)."""
    with source.open("rb") as src, target.open("wb") as out:
        header = src.readline()
        out.write(header)
        body = src.read()
        if not body.endswith(b"\n"):
            body += b"\n"
        for _ in range(times):
            out.write(body)
    return target


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:  # ended meanwhile
            continue
        # The command name may hold spaces and parentheses: fields start after its last ')'.
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _tree(root: int) -> list[int]:
    children, found, todo = _children(), [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as handle:
        return int(handle.read().split()[1]) * PAGE_KIB


def _pss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as handle:
        for line in handle:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def sample_tree(root: int) -> tuple[int, int, int, int]:
    """(summed RSS KiB, summed PSS KiB, process count, RSS KiB of ``root`` alone) of ``root``'s tree now."""
    rss = pss = count = root_rss = 0
    for pid in _tree(root):
        try:
            process_rss = _rss_kib(pid)
            pss += _pss_kib(pid)
        except (OSError, ValueError, IndexError):  # ended between the listing and the read
            continue
        rss += process_rss
        count += 1
        if pid == root:
            root_rss = process_rss
    return rss, pss, count, root_rss


def run_demo(sales: Path, marketing: Path, work: Path) -> Peak:
    output = work / "demo-output"
    log = work / "demo.log"
    task = f"demo[sales={sales},marketing={marketing},output={output}]"
    command = [str(Path(sys.executable).parent / "pynt"), task]
    peak = [0, 0, 0, 0]
    with log.open("w") as sink:
        began = time.monotonic()
        process = subprocess.Popen(command, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT)
        done = threading.Event()

        def sampler() -> None:
            while not done.is_set():
                for index, value in enumerate(sample_tree(process.pid)):
                    peak[index] = max(peak[index], value)
                done.wait(SAMPLE_EVERY_S)

        thread = threading.Thread(target=sampler, daemon=True)
        thread.start()
        code = process.wait()
        seconds = time.monotonic() - began
        done.set()
        thread.join()
    if code != 0:
        sys.stderr.write(log.read_text()[-8000:])
        raise SystemExit(f"the demo failed (exit {code}); output above")
    return Peak(peak[0] / 1024, peak[1] / 1024, peak[3] / 1024, peak[2], seconds)


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):7.0f} MiB (min {min(values):.0f}, max {max(values):.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per scale (paired: 1×, N×, 1×, N×...)")
    parser.add_argument("--scale", type=int, default=100, help="times the large input repeats the data")
    options = parser.parse_args()
    if not Path("/proc/self/smaps_rollup").exists():
        raise SystemExit("bench_memory reads /proc (Linux 4.14 or newer)")
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; runs per scale: {options.runs}")
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as folder:
        work = Path(folder)
        big_sales = repeated_csv(SALES, options.scale, work / f"sales-x{options.scale}.csv")
        big_marketing = repeated_csv(MARKETING, options.scale, work / f"marketing-x{options.scale}.csv")
        print(
            f"inputs: 1× sales {SALES.stat().st_size / 2**20:.1f} MiB, marketing "
            f"{MARKETING.stat().st_size / 2**20:.2f} MiB; {options.scale}× sales "
            f"{big_sales.stat().st_size / 2**20:.0f} MiB, "
            f"marketing {big_marketing.stat().st_size / 2**20:.0f} MiB"
        )
        results: dict[str, list[Peak]] = {"1×": [], f"{options.scale}×": []}
        inputs = {"1×": (SALES, MARKETING), f"{options.scale}×": (big_sales, big_marketing)}
        for number in range(1, options.runs + 1):
            for label, (sales, marketing) in inputs.items():
                run_dir = work / f"run-{label}-{number}"
                run_dir.mkdir()
                peak = run_demo(sales, marketing, run_dir)
                results[label].append(peak)
                print(
                    f"run {number} {label:>5}: peak RSS {peak.rss_mib:6.0f} MiB "
                    f"| peak PSS {peak.pss_mib:6.0f} MiB | demo process alone {peak.root_rss_mib:5.0f} MiB "
                    f"| up to {peak.processes} processes | {peak.seconds:5.1f} s",
                    flush=True,
                )
    print(f"\nmedian of {options.runs} (min–max):")
    for label, peaks in results.items():
        rss, pss = _spread([p.rss_mib for p in peaks]), _spread([p.pss_mib for p in peaks])
        root = _spread([p.root_rss_mib for p in peaks])
        print(f"  {label:>5}  RSS {rss}   PSS {pss}   demo process alone {root}")
    small, large = results["1×"], results[f"{options.scale}×"]
    for name, attr in (("RSS", "rss_mib"), ("PSS", "pss_mib")):
        ratio = statistics.median(getattr(p, attr) for p in large) / statistics.median(
            getattr(p, attr) for p in small
        )
        verdict = "meets target" if ratio <= TARGET_RATIO else "MISSES target"
        print(f"  {name} {options.scale}× / 1×: {ratio:.2f}   {verdict} (≤ {TARGET_RATIO:g})")


if __name__ == "__main__":
    main()
