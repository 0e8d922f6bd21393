"""Recovery at the templates' own settings, on AWS's clock: a few points of the fault matrix, one per recovery
path, on stacks deployed exactly as the templates ship them (no tuned lease or heartbeat) at time scale 1.

test_e2e_faults.py runs every kill point on tuned stacks, so that each takes seconds; a tuned timer could hide
a path that takes ten minutes at the real ones. These points prove the bounds of docs/DESIGN.md ("Recovery")
at the settings users run; bench/bench_recovery.py measures every point the same way.

- a runner killed right after StartJobRun: its start's lease (120 s) and its poll lease (100 s) run out, and
  the recovery tick finishes the start, checks the job (it ended meanwhile) and polls for the next tasks;
- ons3objectcreated killed right after GetActivityTask handed it a wait task: the token is lost with it; the
  wait's heartbeat (120 s) times the task out, the wait state's Retry schedules it again, and the tick that
  finds the dead worker's poll noted polls for it;
- the Glue runner killed right after GetActivityTask handed it a task: the same through the runner task's
  heartbeat (240 s) and the repoll the run that takes over the dead poller's lease asks for.

The two children run side by side (one per core); each deploys once and runs its points in turn.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

import pytest
from e2e_support import assert_recovered, run_child

from localaws.demo.fault_matrix import NO_FAULTS

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-defaults")]

# Seconds over the same child's fault-free run each point may take: its recovery path's bound, plus a minute
# for a machine shared with the rest of the suite.
POINTS = {
    "kill:gluerunner:after:glue.StartJobRun": 180 + 60,
    "kill:ons3objectcreated:after:states.GetActivityTask": 120 + 65 + 60,
    "kill:gluerunner:after:states.GetActivityTask": 240 + 65 + 60,
}
GLUE_LOST_TASK = "kill:gluerunner:after:states.GetActivityTask"
CHILDREN = (
    ["kill:gluerunner:after:states.GetActivityTask"],
    ["kill:gluerunner:after:glue.StartJobRun", "kill:ons3objectcreated:after:states.GetActivityTask"],
)
DEADLINE_S = 600


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Point -> what its run saw; each child's fault-free run under "baseline-<n>"."""
    work = tmp_path_factory.mktemp("e2e-recovery-defaults")
    results: dict[int, Any] = {}

    def run(index: int, points: list[str]) -> None:
        result = work / f"result-{index}.json"
        command = [
            sys.executable,
            "-m",
            "localaws.demo.fault_matrix",
            result,
            work / f"child-{index}",
            "--time-scale=1",
            f"--deadline={DEADLINE_S}",
            NO_FAULTS,
            *points,
        ]
        child = run_child(command, timeout_s=len(points) * DEADLINE_S + 300)
        points_seen = json.loads(result.read_text()).get("points", {}) if result.is_file() else {}
        results[index] = (points_seen, child)

    threads = [threading.Thread(target=run, args=(i, p)) for i, p in enumerate(CHILDREN)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seen: dict[str, Any] = {}
    for index, (points_seen, child) in results.items():
        seen[f"baseline-{index}"] = points_seen.get(NO_FAULTS, {"ran": False, "child": child.tail()})
        for point in CHILDREN[index]:
            found = points_seen.get(point) or {"ran": False, "child": child.tail()}
            seen[point] = {**found, "child_index": index}
    return seen


@pytest.mark.parametrize("point", list(POINTS))
def test_a_fault_is_recovered_within_its_bound_at_the_templates_settings(observed, point):
    found = observed[point]
    assert_recovered(point, found)
    baseline = observed[f"baseline-{found['child_index']}"]
    assert baseline.get("status") == "SUCCEEDED", baseline
    delay = found["seconds"] - baseline["seconds"]
    assert delay <= POINTS[point], f"{point}: {delay:.0f} s over the fault-free run (bound {POINTS[point]} s)"


def test_a_lost_task_came_back_through_its_heartbeat_timeout(observed):
    """The two lost-task points recovered the only way they can: the task timed out and was retried."""
    lost = (
        "kill:ons3objectcreated:after:states.GetActivityTask",
        "kill:gluerunner:after:states.GetActivityTask",
    )
    for point in lost:
        assert observed[point].get("heartbeat_timeouts") == 1, observed[point]
