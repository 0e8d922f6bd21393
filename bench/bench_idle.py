"""Benchmark: Lambda-seconds per idle hour (the stacks deployed, no execution running) on the local endpoint.

    .venv/bin/python bench/bench_idle.py [--time-scale 0.05] [--schedules "rate(3 minutes);rate(10 minutes)"]

For each safety-net schedule (set on the runners' and the arrival sweep's rules through the EventBridge API,
as a stack update with that parameter would; the one-minute recovery ticks run as deployed), lets one virtual
hour pass on the endpoint's scaled clock and sums the durations of every Lambda invocation, per function. An
idle run is one check pass over nothing plus one GetActivityTask long poll that finds nothing (60 s, billed),
so the schedule decides the cost: the old default, rate(3 minutes), against the new, rate(10 minutes).

Durations are measured in real seconds and divided by the time scale: the scaled waits (the long polls)
come out as on AWS; the unscaled rest (process and call overhead, some ms) comes out inflated by
1 / time scale, so the figures are an upper bound (the bench prints that share).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from localaws import demo  # noqa: E402

HOUR_S = 3600.0


# The recovery ticks (GlueRunnerRecoveryTick, AthenaRunnerRecoveryTick, ArrivalRecoveryTick) keep their
# minute: they are not the safety net, and an idle tick is two DynamoDB reads.
TICK_SCHEDULE = "rate(1 minute)"


def safety_net_rules(events) -> list[dict]:
    """The scheduled rules the safety-net parameter sets: every rate() rule but the ticks and the weekly
    start."""
    return [
        rule
        for rule in events.list_rules()["Rules"]
        if rule.get("ScheduleExpression", "").startswith("rate(")
        and rule["ScheduleExpression"] != TICK_SCHEDULE
        and "7 days" not in rule["ScheduleExpression"]
    ]


def measure(env: demo.DemoEnvironment, schedule: str, scale: float) -> dict[str, dict[str, float]]:
    import boto3

    events = boto3.client("events", endpoint_url=env.ctx.endpoint_url, region_name=env.ctx.region)
    for rule in safety_net_rules(events):
        events.put_rule(Name=rule["Name"], ScheduleExpression=schedule, State="ENABLED")
    per_function: dict[str, dict[str, float]] = defaultdict(lambda: {"invocations": 0, "seconds": 0.0})
    lock = threading.Lock()
    measuring = threading.Event()

    def listener(kind: str, fields: dict) -> None:
        if kind == "lambda.invoke.end" and measuring.is_set():
            with lock:
                entry = per_function[str(fields["function"])]
                entry["invocations"] += 1
                entry["seconds"] += float(fields["duration_s"]) / scale

    env.ctx.subscribe(listener)
    time.sleep(2)  # the rules' new periods start now
    measuring.set()
    time.sleep(HOUR_S * scale)
    measuring.clear()
    time.sleep(HOUR_S * scale * 0.1)  # invocations begun inside the hour end and are counted
    return {name: dict(values) for name, values in per_function.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-scale", type=float, default=0.05)
    parser.add_argument("--schedules", default="rate(3 minutes);rate(10 minutes)", help="';'-separated")
    options = parser.parse_args()
    scale = options.time_scale
    schedules = [s.strip() for s in options.schedules.split(";") if s.strip()]
    print(f"machine: {os.cpu_count()} cores; one virtual hour = {HOUR_S * scale:.0f} s real per schedule")
    with demo.deployed_environment(scale, io.StringIO()) as env:
        for schedule in schedules:
            result = measure(env, schedule, scale)
            total = sum(entry["seconds"] for entry in result.values())
            calls = sum(entry["invocations"] for entry in result.values())
            print(f"\nsafety-net schedule {schedule}: {total:,.0f} Lambda-seconds per idle hour", end="")
            print(f" ({calls} invocations)")
            for name, entry in sorted(result.items()):
                print(
                    f"  {name:<18} {entry['seconds']:8,.0f} s over {entry['invocations']:3d} invocations "
                    f"({entry['seconds'] / max(entry['invocations'], 1):.1f} s each)"
                )


if __name__ == "__main__":
    main()
