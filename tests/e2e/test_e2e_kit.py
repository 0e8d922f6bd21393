"""End to end through the test kit (etltest), as a user's tests run: the project deployed once on an endpoint
process of its own (the ``etl`` fixture), executions run with given files, their outputs read as rows.

The expected rows are computed from the CSVs in plain Python (e2e_support.py), not by the product's code.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from e2e_support import (
    ROOT,
    SALES_CSV,
    SimpleQuery,
    expected_join,
    typed_marketing_records,
    typed_marketing_value,
)

from etltest import KitError

pytestmark = pytest.mark.e2e  # the kit puts every test using `etl` in one xdist group of its own

MAIN = "MarketingAndSalesETLOrchestrator"
ATHENA = "AthenaRunnerTestETLOrchestrator"
SALES_KEY = "sales/SalesPipeline_QuickSightSample.csv"
MARKETING_KEY = "marketing/MarketingData_QuickSightSample.csv"
SAMPLES = {
    SALES_KEY: "samples/SalesPipeline_QuickSightSample.csv",
    MARKETING_KEY: "samples/MarketingData_QuickSightSample.csv",
}
EXAMPLE = Path(__file__).with_name("test_your_workflow.py")


def test_the_readme_shows_the_kit_example_exactly():
    """The README's example is tests/e2e/test_your_workflow.py, which runs with the other tests."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, re.DOTALL)
    assert EXAMPLE.read_text(encoding="utf-8") in blocks, "the README's kit example and the file differ"
    lines = [line for line in EXAMPLE.read_text().splitlines() if line.strip()]
    assert len(lines) <= 15, f"the example grew to {len(lines)} lines"


@pytest.fixture(scope="module")
def sample_run(etl):
    return etl.run(MAIN, files=SAMPLES)


def test_the_joined_rows_equal_a_plain_python_join_of_the_samples(sample_run):
    assert sample_run.status == "SUCCEEDED", sample_run.failure
    expected = expected_join()
    rows = sample_run.rows("JoinMarketingAndSalesData")
    assert list(rows[0]) == expected.columns
    assert [tuple(row[column] for column in expected.columns) for row in rows] == expected.rows


def test_rows_by_job_or_by_state_and_the_runs_record(sample_run):
    assert sample_run.rows("Join Marketing And Sales Data") == sample_run.rows("JoinMarketingAndSalesData")
    assert sample_run.outputs["Process Sales Data"]["GlueJobName"] == "ProcessSalesData"
    assert sample_run.failure is None
    types = [event["type"] for event in sample_run.history]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
    with pytest.raises(KitError, match="'Nope' is neither a Glue job nor a Task state"):
        sample_run.rows("Nope")


def test_an_athena_tasks_rows_are_its_query_result(etl, sample_run):
    """The Athena workflow queries the marketing table the sample run's upload filled."""
    run = etl.run(ATHENA)
    assert run.status == "SUCCEEDED", run.failure
    query = SimpleQuery.parse(run.outputs["Execute Athena Query"]["AthenaQueryString"])
    got = [
        {c: typed_marketing_value(c, row[c]) for c in query.columns}
        for row in run.rows("Execute Athena Query")
    ]
    order = [column for column, _ in query.order_by]
    expected = query.expected(typed_marketing_records())
    assert [[r[c] for c in order] for r in got] == [[r[c] for c in order] for r in expected]


def test_a_failed_run_names_the_state_and_the_line_of_the_job(etl, tmp_path):
    lines = SALES_CSV.read_text(encoding="utf-8").splitlines()
    lead = next(line for line in lines[1:] if ",Lead," in line)
    sales = tmp_path / "sales.csv"
    sales.write_text("\n".join([lines[0], lead, lead.replace(lead.split(",", 1)[0], "13/45/2013", 1)]) + "\n")

    run = etl.run(MAIN, files={**SAMPLES, SALES_KEY: sales})

    assert run.status == "FAILED"
    assert run.failure.error == "GlueJobFailedError" and run.failure.state == "Process Sales Data"
    assert re.search(
        r"\(at process_sales_data\.py line \d+, glue_etl_common\.py line \d+\)", run.failure.cause
    )
    # Spark's log of the failed run is kept beside the endpoint's log.
    assert list((etl.log.parent / "spark-logs").glob("*-ProcessSalesData-*.log"))


def test_a_file_no_wait_state_waits_for_is_refused_before_anything_runs(etl):
    with pytest.raises(KitError, match=r"no wait state waits for 'sales/other.csv'; .* wait for: marketing/"):
        etl.run(MAIN, files={"sales/other.csv": "samples/SalesPipeline_QuickSightSample.csv"})


def test_a_wait_state_without_a_file_fails_the_test_at_once(etl):
    with pytest.raises(
        KitError, match=r"state 'Wait For \w+ Data' waits for s3://.*: give run\(files=\) a file"
    ):
        etl.run(MAIN, files={SALES_KEY: SAMPLES[SALES_KEY]}, timeout_s=120)
    # The sales file may have released its wait before the run was stopped: its job must have ended, or
    # the next test's run of it would be refused (ConcurrentRunsExceeded).
    glue = etl.client("glue")
    runs = [
        run for job in glue.get_jobs()["Jobs"] for run in glue.get_job_runs(JobName=job["Name"])["JobRuns"]
    ]
    assert not [run for run in runs if run["JobRunState"] in ("STARTING", "RUNNING", "STOPPING")], runs
