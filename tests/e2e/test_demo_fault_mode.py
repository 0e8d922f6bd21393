"""The demo's fault mode is honest about itself: a kill that names no deployed function is refused before
anything is deployed, a kill that never fires makes the demo exit non-zero, and a demo stopped by SIGTERM
still writes its summary.json with what it saw."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from e2e_support import PYNT, ROOT, run_child

from tests.child_env import child_environment

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def test_a_kill_naming_no_deployed_function_is_refused_before_anything_is_deployed(tmp_path: Path) -> None:
    child = run_child(
        [PYNT, f"demo[output={tmp_path / 'out'},faults=kill:nosuchfn:after:any]"], timeout_s=120
    )
    assert child.returncode == 1, child.tail()
    assert "bad fault item 'kill:nosuchfn:after:any': it names no function the demo deploys" in child.stderr
    assert "README.md, section Fault mode" in child.stderr
    assert "Deploying" not in child.stdout


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("seed:1", "it injects nothing"),
        ("throttle:0.1;;", "an empty item"),
        ("latency:99999s", "more than 10 s"),
    ],
)
def test_vacuous_or_absurd_fault_specs_are_one_error_line(tmp_path: Path, spec: str, why: str) -> None:
    child = run_child([PYNT, f"demo[output={tmp_path / 'out'},faults={spec}]"], timeout_s=120)
    assert child.returncode == 1, child.tail()
    (line,) = [line for line in child.stderr.splitlines() if line.startswith("error:")]
    assert why in line and "README.md" in line


def test_a_kill_that_never_fires_makes_the_demo_fail_and_says_so(tmp_path: Path) -> None:
    """ons3objectcreated makes no PutItem: the kill tests nothing, and a silent exit 0 would claim it did."""
    output = tmp_path / "out"
    spec = "kill:ons3objectcreated:after:dynamodb.PutItem#1"
    child = run_child([PYNT, f"demo[output={output},faults={spec}]"])
    assert child.returncode == 1, child.tail()
    assert f"NEVER FIRED: kill:{spec.removeprefix('kill:')}" in child.stdout
    assert "never fired" in child.stderr
    summary = json.loads((output / "summary.json").read_text())
    assert summary["status"] == "SUCCEEDED"  # the workflow ran; the fault mode did not
    assert summary["faults"]["kills"]["unfired"] == [spec]
    assert summary["faults"]["calls_seen"] > 0  # a kill-only mode counts what it saw


def test_a_demo_stopped_by_sigterm_writes_what_it_saw(tmp_path: Path) -> None:
    output = tmp_path / "out"
    log = tmp_path / "demo.log"
    with log.open("w") as sink:
        demo = subprocess.Popen(
            [str(PYNT), f"demo[output={output}]"],
            cwd=ROOT,
            env=child_environment(),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            give_up = time.monotonic() + 240
            while "MarketingAndSalesETLOrchestrator: started" not in log.read_text():
                assert demo.poll() is None and time.monotonic() < give_up, log.read_text()[-3000:]
                time.sleep(0.2)
            demo.send_signal(signal.SIGTERM)
            demo.wait(timeout=120)
        finally:
            if demo.poll() is None:
                os.killpg(demo.pid, signal.SIGKILL)
    assert demo.returncode != 0, log.read_text()[-3000:]
    summary = json.loads((output / "summary.json").read_text())
    assert summary["status"] == "INTERRUPTED" and "SystemExit" in summary["cause"]
    assert summary["deploy_s"] > 0
