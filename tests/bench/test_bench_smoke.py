"""The endpoint benchmarks still run, at a size that takes seconds (their figures are in docs/BENCHMARKS.md;
a bridge or IAM change that breaks their setup must fail here, not on the next measurement)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "command",
    [
        ["bench/bench_check_cycle.py", "--sizes", "20"],
        ["bench/bench_endpoint_calls.py", "--sizes", "20", "--samples", "2"],
    ],
    ids=["check_cycle", "endpoint_calls"],
)
def test_an_endpoint_bench_runs_at_a_small_size(command: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, *command], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "20" in done.stdout, done.stdout
