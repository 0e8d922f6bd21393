"""End to end under faults (localaws/faults.py): the demo with 20 % of all calls throttled, and the main
workflow with a runner or ons3objectcreated killed before or after each AWS call it makes.

A crash point ``kill:<function>:<before|after>:<service.Operation>`` kills the first invocation of that
function to reach the call (once: later invocations run undisturbed). The workflow must still end SUCCEEDED,
with exactly one Glue run per job (no job run twice, none lost) and the joined dataset of a run without
faults.

The points run in the fault matrix's child processes (localaws/demo/fault_matrix.py), on stacks tuned for
quick recovery, as an operator may tune them: the runners' leases (`TASK_LEASE_SECONDS`, 120 s on AWS) become
2 s and the state machine's HeartbeatSeconds 30 s (runner tasks) and 10 s (wait tasks), so that each point
takes seconds. The recovery paths are the same as with the templates' values;
tests/e2e/test_e2e_recovery_defaults.py runs a few points at those values, and bench/bench_recovery.py every
one. A point whose call never happened in a successful run (the kill did not fire) is skipped, saying so.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from e2e_support import PYNT, ChildRun, assert_recovered, joined_dataset_problem, run_child

from localaws.demo.fault_matrix import KILL_POINTS

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

# Scaled waits: what recovers from a crash (leases, heartbeat timeouts, the safety-net schedules) takes
# seconds, not minutes.
TIME_SCALE = 0.002
CHILDREN = 2  # one per core: each child deploys once and runs its share of the points in turn
# A run takes 15-35 s on an idle 2-core machine and ~85 s when it is shared; a crash must not add minutes.
POINT_DEADLINE_S = 180
THROTTLE_SPEC = "throttle:0.2;seed:1"


# --- the tests ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def throttled_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[ChildRun, Path]:
    output = tmp_path_factory.mktemp("e2e-faults-throttle") / "demo-output"
    return run_child([PYNT, f"demo[output={output},faults={THROTTLE_SPEC},time_scale={TIME_SCALE}]"]), output


def test_demo_succeeds_with_a_fifth_of_all_calls_throttled(throttled_demo: tuple[ChildRun, Path]) -> None:
    child, output = throttled_demo
    assert child.returncode == 0, child.tail()
    summary = json.loads((output / "summary.json").read_text())
    assert summary["status"] == "SUCCEEDED"
    report = summary["faults"]
    assert report["spec"] == THROTTLE_SPEC
    # About a fifth of the calls the clients made (retries included) were answered with a throttle.
    assert 0.1 < report["injected"]["throttle"] / report["calls_seen"] < 0.3, report["injected"]
    assert {call.split(".")[0] for call in report["by_call"]["throttle"]} >= {
        "s3",
        "states",
        "dynamodb",
        "glue",
    }
    assert f"Faults ({THROTTLE_SPEC}):" in child.stdout
    assert set(summary["glue_runs_by_job"].values()) == {1}, "a throttle made a Glue job run twice"
    assert summary["glue_runs"] == len(summary["glue_runs_by_job"])
    assert joined_dataset_problem(output / "marketing-and-sales.csv") is None


@pytest.fixture(scope="module")
def crash_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run every crash point, CHILDREN child processes at a time; point -> what its run observed."""
    work = tmp_path_factory.mktemp("e2e-faults-crash")
    shares = [KILL_POINTS[index::CHILDREN] for index in range(CHILDREN)]
    runs: dict[int, tuple[ChildRun, Path]] = {}

    def run(index: int) -> None:
        result = work / f"result-{index}.json"
        command = [
            sys.executable,
            "-m",
            "localaws.demo.fault_matrix",
            result,
            work / f"child-{index}",
            "--tuned",
            f"--time-scale={TIME_SCALE}",
            f"--deadline={POINT_DEADLINE_S}",
            *shares[index],
        ]
        runs[index] = (run_child(command, timeout_s=len(shares[index]) * POINT_DEADLINE_S + 120), result)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(CHILDREN)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    observed: dict[str, Any] = {}
    for index, (child, result) in runs.items():
        points = json.loads(result.read_text()).get("points", {}) if result.is_file() else {}
        for point in shares[index]:
            observed[point] = points.get(point) or {"ran": False, "child": child.tail()}
    return observed


@pytest.mark.parametrize("point", KILL_POINTS)
def test_workflow_recovers_from_a_crash_at(crash_results: dict[str, Any], point: str) -> None:
    observed = crash_results[point]
    assert_recovered(point, observed)
