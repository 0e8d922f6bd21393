"""The paths of the runners and ons3objectcreated that neither the demo nor the other scenarios take, each
with the permission only it needs, run on a deployment enforcing IAM (tests/e2e/iam_paths_driver.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from e2e_support import run_child

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-iam-paths")]

DRIVER = Path(__file__).resolve().parent / "iam_paths_driver.py"


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory: pytest.TempPathFactory) -> dict:
    result = tmp_path_factory.mktemp("iam-paths") / "result.json"
    child = run_child([sys.executable, DRIVER, result])
    assert result.is_file(), child.tail()
    results = json.loads(result.read_text())
    assert results["deployed"], child.tail()
    return {"child": child, **results["scenarios"]}


def ok(scenarios: dict, name: str) -> dict:
    facts = scenarios.get(name)
    assert facts is not None and facts["ok"], (facts or {}).get("error") or scenarios["child"].tail()
    return facts


def test_a_named_query_task_runs_it(scenarios: dict) -> None:
    assert ok(scenarios, "named_query")["status"] == "SUCCEEDED"


def test_a_query_that_cannot_be_tracked_is_stopped_and_its_task_failed(scenarios: dict) -> None:
    facts = ok(scenarios, "untracked_query")
    assert facts["status"] == "FAILED" and facts["error"] == "AthenaRunner.StartFailed", facts
    # Stopped (StopQueryExecution), even if the query had already ended: Athena answers that as a no-op.
    assert "it was stopped" in facts["cause"], facts["cause"]


def test_a_glue_run_that_cannot_be_tracked_is_stopped_and_its_task_failed(scenarios: dict) -> None:
    facts = ok(scenarios, "untracked_glue_run")
    assert facts["status"] == "FAILED" and facts["error"] == "GlueRunner.StartFailed", facts
    assert "it was stopped" in facts["cause"], facts["cause"]
    assert "STOPPED" in facts["job_run_states"]


def test_a_mis_wired_wait_task_is_failed_not_released(scenarios: dict) -> None:
    facts = ok(scenarios, "mis_wired_wait")
    assert facts["status"] == "FAILED" and facts["error"] == "WaitForData.MisWired", facts


def test_an_upload_that_cannot_be_stored_reaches_the_failure_queue(scenarios: dict) -> None:
    facts = ok(scenarios, "failure_destination")
    assert facts["condition"] == "RetriesExhausted" and facts["function"].endswith(
        ":ons3objectcreated:$LATEST"
    )


def test_the_weekly_rule_starts_an_execution_as_its_role(scenarios: dict) -> None:
    assert ok(scenarios, "weekly_schedule")["started"] == 1
