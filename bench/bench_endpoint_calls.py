"""Benchmark: per-call cost of the endpoint calls the runners make, as the number N of tracked jobs grows.

    .venv/bin/python bench/bench_endpoint_calls.py [--sizes 100,1000,10000] [--samples 20]

For each N it starts one local endpoint (127.0.0.1, a free port) and prints the median time of
- one DynamoDB Query page (hash key = an activity ARN with N items, Limit 50, ConsistentRead, paging with
  ExclusiveStartKey), sampled at evenly spaced start keys;
- one conditional UpdateItem (as the runner's lease: SET with a ConditionExpression) on a table of N items;
- GetJobRun with N RUNNING runs of one Glue job;
- SendTaskHeartbeat with N running executions, each holding an activity task a worker took (N up to
  ``--heartbeat-max``; each waiting execution holds one thread of the engine).
The figures should stay flat in N. It stops by itself; the exit code is 0 unless the endpoint fails.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent)]

from bench_support import client, running_job_runs, tracking_table, waiting_tasks  # noqa: E402

from localaws.server import LocalAws  # noqa: E402

PAGE_LIMIT = 50


def median_ms(call: Callable[[], object], samples: int) -> float:
    timings = []
    for _ in range(samples):
        began = time.perf_counter()
        call()
        timings.append(time.perf_counter() - began)
    return statistics.median(timings) * 1000


def query_page_ms(ctx, n: int, samples: int) -> float:
    ddb = client(ctx, "dynamodb")
    table, arn = f"Jobs{n}", f"arn:aws:states:us-east-1:123456789012:activity:Bench{n}"
    ids = [f"jr_{k:08d}" for k in range(n)]
    items = [{"sfn_activity_arn": {"S": arn}, "job_id": {"S": i}, "token": {"S": i * 4}} for i in ids]
    tracking_table(ctx, table, "job_id", items)
    request = {
        "TableName": table,
        "KeyConditionExpression": "sfn_activity_arn = :arn",
        "ExpressionAttributeValues": {":arn": {"S": arn}},
        "Limit": PAGE_LIMIT,
        "ConsistentRead": True,
    }
    # Pages from start keys spread over the whole range, as a check cycle reads them.
    starts = [ids[(k * n) // samples] for k in range(samples)]
    pages = iter(starts)

    def one_page() -> None:
        key = next(pages)
        ddb.query(**request, ExclusiveStartKey={"sfn_activity_arn": {"S": arn}, "job_id": {"S": key}})

    return median_ms(one_page, samples)


def update_item_ms(ctx, n: int, samples: int) -> float:
    """UpdateItem of items spread over a table of N items (created by query_page_ms)."""
    ddb = client(ctx, "dynamodb")
    table, arn = f"Jobs{n}", f"arn:aws:states:us-east-1:123456789012:activity:Bench{n}"
    keys = iter(f"jr_{(k * n) // samples:08d}" for k in range(samples))

    def one_update() -> None:
        ddb.update_item(
            TableName=table,
            Key={"sfn_activity_arn": {"S": arn}, "job_id": {"S": next(keys)}},
            UpdateExpression="SET #lease = :until",
            ConditionExpression="attribute_not_exists(#lease) OR #lease < :now",
            ExpressionAttributeNames={"#lease": "lease_until"},
            ExpressionAttributeValues={":until": {"N": "2000000000"}, ":now": {"N": "1000"}},
        )

    return median_ms(one_update, samples)


def get_job_run_ms(ctx, n: int, samples: int) -> float:
    """GetJobRun of runs spread over N RUNNING runs of one job (moto's runs, kept RUNNING)."""
    job = f"BenchJob{n}"
    runs = running_job_runs(ctx, job, n)
    glue = client(ctx, "glue")
    picks = iter(runs[(k * n) // samples] for k in range(samples))
    return median_ms(lambda: glue.get_job_run(JobName=job, RunId=next(picks)), samples)


def heartbeat_ms(ctx, n: int, samples: int) -> float:
    sfn = client(ctx, "stepfunctions")
    _, tokens = waiting_tasks(ctx, n, f"Bench{n}")
    picks = iter(tokens[(k * len(tokens)) // samples] for k in range(samples))
    return median_ms(lambda: sfn.send_task_heartbeat(taskToken=next(picks)), samples)


def measure(n: int, samples: int, heartbeat_max: int) -> None:
    # Each waiting execution holds an engine thread; small stacks keep N=10,000 within memory.
    threading.stack_size(512 * 1024)
    with LocalAws(host="127.0.0.1", time_scale=0.01) as ctx:
        page = query_page_ms(ctx, n, samples)
        update = update_item_ms(ctx, n, samples)
        job_run = get_job_run_ms(ctx, n, samples)
        heartbeat = f"{heartbeat_ms(ctx, n, samples):.2f}" if n <= heartbeat_max else "-"
    print(f"{n:>7}  {page:>16.2f}  {update:>15.2f}  {job_run:>15.2f}  {heartbeat:>23}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="comma-separated N (default %(default)s)")
    parser.add_argument(
        "--samples", type=int, default=20, help="timed calls per figure (default %(default)s)"
    )
    # Setting up N waiting executions takes about 20 ms each on a 2-core machine: a lower max saves time.
    parser.add_argument(
        "--heartbeat-max",
        type=int,
        default=10000,
        help="largest N for SendTaskHeartbeat (default %(default)s)",
    )
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # one N, in this process
    args = parser.parse_args()
    if args.one:
        measure(args.one, args.samples, args.heartbeat_max)
        return 0
    header = f"{'N':>7}  {'Query page (ms)':>16}  {'UpdateItem (ms)':>15}  {'GetJobRun (ms)':>15}"
    print(f"{header}  {'SendTaskHeartbeat (ms)':>23}", flush=True)
    for size in args.sizes.split(","):
        # A process per N: moto's state (and the executions still waiting) must not carry over.
        command = [sys.executable, __file__, "--one", size, "--samples", str(args.samples)]
        command += ["--heartbeat-max", str(args.heartbeat_max)]
        if subprocess.run(command, check=False).returncode != 0:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
