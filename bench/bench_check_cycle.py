"""Benchmark: one Glue runner run checking N tracked jobs on the local endpoint, with AWS-like call latency.

    .venv/bin/python bench/bench_check_cycle.py [--sizes 100,1000,10000] [--latency 30ms] [--concurrency 16]
        [--runs 1] [--json results.json] [--plot docs/bench-check-cycle.svg]

For each N, in a fresh local endpoint (127.0.0.1, a free port): N executions each hold an activity task a
worker took, N Glue job runs are RUNNING, and the runner's table tracks all N. Then the fault mode adds
`--latency` to every call, and one run of the real runner code (`etlrunner.run` with `GlueRunner`, a Lambda
context of 300 s) checks them: a GetJobRun and a SendTaskHeartbeat per job, Query pages of 50.

Printed per N: the run's wall time, jobs checked per second, and whether every job was checked inside the run
(the issue's target: 10,000 jobs at 30 ms a call inside one 300 s run). It stops by itself. `--runs` measures
each N that many times; `--json` keeps the rows and `--plot` draws them (bench/plots.py, which also redraws a
plot from saved `--json` files).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "lambda"), str(ROOT / "lambda" / "gluerunner")]

from bench_support import running_job_runs, tracking_table, waiting_tasks  # noqa: E402
from plots import check_cycle_plot  # noqa: E402

from localaws import faults  # noqa: E402
from localaws.server import LocalAws  # noqa: E402

JOB = "BenchJob"
TABLE = "GlueRunnerActiveJobs"
LAMBDA_TIMEOUT_MS = 300_000


class LambdaContext:
    """What the runner reads of a Lambda context: the time left of a 300 s invocation."""

    def __init__(self, timeout_ms: int) -> None:
        self.deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - time.monotonic()) * 1000)


def track(ctx, activity_arn: str, tokens: list[str], runs: list[str]) -> None:
    items = [
        {
            "sfn_activity_arn": {"S": activity_arn},
            "glue_job_run_id": {"S": run_id},
            "glue_job_name": {"S": JOB},
            "sfn_task_token": {"S": token},
            "started_at": {"S": "2026-01-01T00:00:00+00:00"},
        }
        for run_id, token in zip(runs, tokens, strict=False)
    ]
    tracking_table(ctx, TABLE, "glue_job_run_id", items)


def check_run(endpoint_url: str, activity_arn: str) -> None:
    """One run of the real runner code against the endpoint; prints its summary and wall time."""
    import etlrunner
    import gluerunner

    def own_client(service: str, config: Config) -> object:
        return boto3.client(
            service,
            endpoint_url=endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=config,
        )

    config = etlrunner.RunnerConfig(
        sfn_activity_arn=activity_arn,
        sfn_worker_name="gluerunner",
        ddb_table=TABLE,
        ddb_query_limit=50,
        source="bench",
    )
    # The clients a deployed runner builds (etlrunner.default_clients, gluerunner.build_runner), pointed here.
    clients = etlrunner.Clients(
        sfn=own_client("stepfunctions", etlrunner.SFN_CLIENT_CONFIG),
        dynamodb=own_client("dynamodb", etlrunner.clients.DYNAMODB_CLIENT_CONFIG),
    )
    runner = gluerunner.GlueRunner(own_client("glue", gluerunner.GLUE_CLIENT_CONFIG), None)
    began = time.perf_counter()
    summary = etlrunner.run(runner, config, clients, LambdaContext(LAMBDA_TIMEOUT_MS))
    print(json.dumps({"summary": summary, "seconds": time.perf_counter() - began}), flush=True)


def measure(n: int, latency: str, concurrency: int) -> dict:
    # Each waiting execution holds an engine thread; small stacks keep N=10,000 within memory.
    threading.stack_size(512 * 1024)
    with LocalAws(host="127.0.0.1", time_scale=0.01) as ctx:
        setup_began = time.perf_counter()
        _, tokens = waiting_tasks(ctx, n, "BenchActivity")
        runs = running_job_runs(ctx, JOB, len(tokens))
        activity_arn = f"arn:aws:states:{ctx.region}:{ctx.account_id}:activity:BenchActivity"
        track(ctx, activity_arn, tokens, runs)
        setup_seconds = time.perf_counter() - setup_began
        faults.configure(ctx, f"latency:{latency}")
        # The run happens in its own process, as in a Lambda: the endpoint's work is not its CPU.
        command = [sys.executable, __file__, "--check-run", ctx.endpoint_url, activity_arn]
        env = {**os.environ, "CHECK_CONCURRENCY": str(concurrency)}
        done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
        result = json.loads(done.stdout.strip().splitlines()[-1])
    summary, seconds = result["summary"], result["seconds"]
    return {
        "n": len(tokens),
        "setup_seconds": round(setup_seconds, 1),
        "seconds": round(seconds, 1),
        "per_second": round(summary["running"] / seconds, 1),
        "checked": summary["running"],
        "all_checked": summary["running"] == len(tokens) and not summary["out_of_time"],
        "errors": summary["check_errors"] + summary["report_errors"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="comma-separated N (default %(default)s)")
    parser.add_argument("--latency", default="30ms", help="added to every call (default %(default)s)")
    parser.add_argument("--concurrency", type=int, default=16, help="CHECK_CONCURRENCY (default %(default)s)")
    parser.add_argument("--runs", type=int, default=1, help="runs of each N (default %(default)s)")
    parser.add_argument("--json", type=Path, help="write the rows to this file")
    parser.add_argument("--plot", type=Path, help="draw the rows into this SVG file")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # one N, in this process
    parser.add_argument("--check-run", nargs=2, help=argparse.SUPPRESS)  # the runner's own process
    args = parser.parse_args()
    if args.check_run:
        check_run(*args.check_run)
        return 0
    if args.one:
        print(json.dumps(measure(args.one, args.latency, args.concurrency)), flush=True)
        return 0
    print(f"latency {args.latency} per call, CHECK_CONCURRENCY={args.concurrency}, Lambda timeout 300 s")
    print(f"{'N':>7}  {'setup (s)':>9}  {'run (s)':>8}  {'jobs/s':>8}  {'checked':>8}  all within the run")
    rows = []
    for size in [s for s in args.sizes.split(",") for _ in range(args.runs)]:
        # A process per N: moto's state (and the executions still waiting) must not carry over.
        command = [sys.executable, __file__, "--one", size, "--latency", args.latency]
        command += ["--concurrency", str(args.concurrency)]
        done = subprocess.run(command, check=False, capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
            return 1
        row = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(row)
        verdict = "yes" if row["all_checked"] else "NO"
        if row["errors"]:
            verdict += f" ({row['errors']} errors)"
        figures = f"{row['n']:>7}  {row['setup_seconds']:>9.1f}"
        figures += f"  {row['seconds']:>8.1f}  {row['per_second']:>8.1f}  {row['checked']:>8}"
        print(f"{figures}  {verdict}", flush=True)
    results = results_of(args.latency, args.concurrency, rows)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"results: {args.json}")
    if args.plot:
        args.plot.write_text(check_cycle_plot([results]))
        print(f"plot: {args.plot}")
    return 0


def results_of(latency: str, concurrency: int, rows: list[dict]) -> dict:
    """The rows, as `--json` writes them and bench/plots.py reads them."""
    return {
        "bench": "bench/bench_check_cycle.py",
        "date": dt.date.today().isoformat(),
        "latency": latency,
        "concurrency": concurrency,
        "lambda_timeout_s": LAMBDA_TIMEOUT_MS / 1000,
        "rows": rows,
    }


if __name__ == "__main__":
    sys.exit(main())
