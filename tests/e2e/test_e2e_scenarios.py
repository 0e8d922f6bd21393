"""End to end: failure paths and the Athena workflow, in ONE deployed environment (a child process).

`e2e_driver.py scenarios` deploys the project once on a fresh embedded endpoint and runs, in this order:
a Glue runner task naming a job that does not exist, the main workflow with ProcessMarketingData's script
replaced by one that raises, `demo_command` on that same broken environment, the sample Athena workflow, and
an Athena query naming a column that does not exist. It records what it saw in a JSON file; these tests judge
it (expected Athena rows computed from the sample CSV in plain Python).
"""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import dataclass
from typing import Any

import pytest
from e2e_support import (
    DRIVER,
    ChildRun,
    SimpleQuery,
    run_child,
    typed_marketing_records,
    typed_marketing_value,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

SYNTHETIC_MESSAGE = "synthetic failure for the e2e test"  # what e2e_driver.FAILING_SCRIPT raises
FALLBACK_STATE = "ETL Job Failed Fallback"
# A failed runner task must end its execution within seconds (the runners run every 0.36 s); the small state
# machines' own TimeoutSeconds is 240 s, so this also proves the failure did not come from a timeout.
QUICK_S = 60


@dataclass
class DriverRun:
    child: ChildRun
    result: dict[str, Any]

    def scenario(self, name: str) -> dict[str, Any]:
        """The observations of one scenario; fails the test with the driver's output when there are none.

        A scenario recorded before the driver crashed still counts; one not recorded reports the crash."""
        assert self.result.get("deployed"), f"the driver did not deploy the project\n{self.child.tail()}"
        observed = self.result.get("scenarios", {}).get(name)
        assert observed is not None, f"scenario {name} did not run (driver crashed?)\n{self.child.tail()}"
        assert observed["ok"], f"scenario {name} could not run:\n{observed.get('error')}\n{self.child.tail()}"
        return observed


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> DriverRun:
    work = tmp_path_factory.mktemp("e2e-scenarios")
    result_file = work / "result.json"
    child = run_child([sys.executable, DRIVER, "scenarios", result_file, work / "work"])
    result = json.loads(result_file.read_text()) if result_file.is_file() else {}
    return DriverRun(child, result)


def test_driver_ran_to_the_end(driver: DriverRun) -> None:
    assert driver.child.returncode == 0, driver.child.tail()


def _cause(observed: dict[str, Any]) -> dict[str, Any]:
    cause = observed["cause"]
    assert cause, f"the execution failed without a cause: {observed}"
    return json.loads(cause)


# --- a Glue job fails -------------------------------------------------------------------------------------


def test_failed_glue_job_ends_the_workflow_failed_through_the_fallback(driver: DriverRun) -> None:
    observed = driver.scenario("glue_job_fails")
    assert observed["script_uri"].endswith("/process_marketing_data.py")
    assert observed["status"] == "FAILED", observed
    assert FALLBACK_STATE in observed["entered_states"], observed["entered_states"]
    assert observed["entered_states"][-2:] == [FALLBACK_STATE, "ETL Job Failed"]
    assert "Join Marketing And Sales Data" not in observed["entered_states"]
    assert observed["error"] == "GlueJobFailedError"
    cause = _cause(observed)
    assert cause["GlueJobName"] == "ProcessMarketingData"
    assert cause["GlueJobRunState"] == "FAILED"
    assert SYNTHETIC_MESSAGE in cause["ErrorMessage"]
    assert "RuntimeError" in cause["ErrorMessage"]
    assert observed["glue_runs"]["ProcessMarketingData"] == ["FAILED"]
    assert observed["glue_runs"]["JoinMarketingAndSalesData"] == []


def test_describe_execution_reports_the_same_error_and_cause(driver: DriverRun) -> None:
    observed = driver.scenario("glue_job_fails")
    assert (observed["describe_error"], observed["describe_cause"]) == (observed["error"], observed["cause"])


def test_run_main_workflow_raises_naming_the_failed_state_and_cause(driver: DriverRun) -> None:
    message = driver.scenario("glue_job_fails")["demo_failed"]
    assert message, "run_main_workflow returned although the execution failed"
    assert "MarketingAndSalesETLOrchestrator ended FAILED" in message
    assert "in state 'Process Marketing Data'" in message
    assert "GlueJobFailedError" in message
    assert "ProcessMarketingData" in message and SYNTHETIC_MESSAGE in message


def test_demo_command_fails_with_a_command_error_naming_state_and_cause(driver: DriverRun) -> None:
    observed = driver.scenario("demo_command_fails")
    message = observed["command_error"]
    assert message, "demo_command returned although the workflow failed"
    assert message.startswith("the demo workflow failed: MarketingAndSalesETLOrchestrator ended FAILED")
    assert "'Process Marketing Data'" in message
    assert "GlueJobFailedError" in message and SYNTHETIC_MESSAGE in message
    summary = observed["summary"]
    assert summary is not None, "run_demo wrote no summary.json for the failed run"
    assert summary["status"] == "FAILED"
    assert SYNTHETIC_MESSAGE in summary["cause"]


def test_failed_demo_summary_names_the_failed_state(driver: DriverRun) -> None:
    summary = driver.scenario("demo_command_fails")["summary"]
    assert summary["failed_state"] == "Process Marketing Data"


def _final_labels(progress: str) -> dict[str, str]:
    final: dict[str, str] = {}
    for line in progress.splitlines():
        if line.startswith("  [") and "s] " in line:
            rest = line.split("s] ", 1)[1]
            final[rest[:45].rstrip()] = rest[46:].split(" (")[0].split(" — ")[0]
    return final


def test_progress_shows_the_failed_task_failed(driver: DriverRun) -> None:
    final = _final_labels(driver.scenario("glue_job_fails")["progress"])
    assert final.get("Process Marketing Data") == "failed", final
    assert final.get(FALLBACK_STATE) == "succeeded", final


def test_progress_shows_the_failed_parallel_and_fail_states_failed(driver: DriverRun) -> None:
    final = _final_labels(driver.scenario("glue_job_fails")["progress"])
    assert final.get("ETL Job Failed") == "failed", final
    assert final.get("Process Sales And Marketing Data") == "failed", final


# --- the Athena workflow ----------------------------------------------------------------------------------


def test_athena_result_holds_the_rows_the_deployed_query_asks_for(driver: DriverRun) -> None:
    observed = driver.scenario("athena_sample_query")
    query_input = observed["query_input"]
    assert observed["task_output"]["AthenaQueryString"] == query_input["AthenaQueryString"]
    assert observed["task_output"]["AthenaQueryExecutionState"] == "SUCCEEDED"
    assert observed["result_location"].startswith(query_input["AthenaResultOutputLocation"])
    query = SimpleQuery.parse(query_input["AthenaQueryString"])
    assert query.table == "marketing_qs", "this test computes results for the marketing table only"

    rows = list(csv.reader(io.StringIO(observed["result_text"])))
    assert rows and rows[0] == query.columns, rows[:1]
    got = [
        {c: typed_marketing_value(c, v) for c, v in zip(query.columns, row, strict=True)} for row in rows[1:]
    ]

    records = typed_marketing_records()
    expected = query.expected(records)
    assert len(got) == len(expected), f"{len(got)} rows, expected {len(expected)}"
    # Ties on the ORDER BY keys at the LIMIT boundary may legitimately pick other rows: compare the keys in
    # order, then check that every returned row is a real row of the table (projected on the columns).
    order_columns = [column for column, _ in query.order_by]
    assert [[r[c] for c in order_columns] for r in got] == [[r[c] for c in order_columns] for r in expected]
    table = [{c: record[c] for c in query.columns} for record in records]
    strangers = [row for row in got if row not in table]
    assert not strangers, f"rows not in the marketing data: {strangers}"
    # With `date` among the keys (one row per day) the order is total: the rows themselves must match.
    if "date" in order_columns:
        assert got == [{c: r[c] for c in query.columns} for r in expected]


# --- bad input never hangs --------------------------------------------------------------------------------


def test_athena_query_on_a_missing_column_fails_with_athena_query_failed_error(driver: DriverRun) -> None:
    observed = driver.scenario("athena_bad_query")
    assert observed["status"] == "FAILED", observed
    assert observed["error"] == "AthenaQueryFailedError"
    cause = _cause(observed)
    assert cause["AthenaQueryExecutionState"] == "FAILED"
    assert "no_such_column" in cause["ErrorMessage"]
    assert observed["seconds"] < QUICK_S, observed


def test_glue_task_naming_a_job_outside_the_allow_list_fails_quickly_as_invalid_input(
    driver: DriverRun,
) -> None:
    observed = driver.scenario("glue_missing_job")
    assert observed["status"] == "FAILED", observed
    # The deployed runner only starts the jobs of its AllowedGlueJobNames: refused before any Glue call.
    assert observed["error"] == "GlueRunner.InvalidInput"
    assert "Glue job NoSuchJob not allowed" in _cause(observed)["ErrorMessage"]
    assert observed["seconds"] < QUICK_S, observed
    assert "ActivityTimedOut" not in observed["event_types"]


def test_with_every_event_lost_the_schedules_still_finish_a_workflow(driver):
    """EventBridge delivers on a best-effort basis: with no job event, nudge or execution start delivered,
    the runners' safety-net schedules still run the Athena workflow to the end."""
    observed = driver.scenario("events_lost")
    rules = observed["disabled_rules"]
    # The runner stacks' three rules each and ons3objectcreated's two.
    assert len(rules) == 8, rules
    assert observed["task_output"]["AthenaQueryExecutionState"] == "SUCCEEDED"
