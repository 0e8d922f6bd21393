"""End to end: `pynt demo[sales=…]` with a user's sales file that passes the input check but holds a date
that is not M/D/YYYY. ProcessSalesData fails on it; the command must exit non-zero with one line naming the
failed state and the cause, and write a FAILED summary. One child process, about 10 s."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from e2e_support import PYNT, SALES_CSV, DemoRun, run_child

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

BAD_DATE = "13/45/2013"


@pytest.fixture(scope="module")
def failed_demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    folder = tmp_path_factory.mktemp("e2e-demo-failure")
    lines = SALES_CSV.read_text(encoding="utf-8").splitlines()
    good = [line for line in lines[1:] if ",Lead," in line][:2]
    bad = good[0].replace(good[0].split(",", 1)[0], BAD_DATE, 1)
    sales = folder / "sales-with-a-bad-date.csv"
    sales.write_text("\n".join([lines[0], *good, bad]) + "\n", encoding="utf-8")
    output = folder / "demo-output"
    return DemoRun(run_child([PYNT, f"demo[sales={sales},output={output}]"]), output)


def test_demo_exits_non_zero_naming_the_failed_state_and_cause(failed_demo: DemoRun) -> None:
    child = failed_demo.child
    assert child.returncode == 1, child.tail()
    errors = [line for line in child.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, child.tail()
    error = errors[0]
    assert error.startswith("error: the demo workflow failed: MarketingAndSalesETLOrchestrator ended FAILED")
    assert "in state 'Process Sales Data'" in error, error
    assert "GlueJobFailedError" in error and '"GlueJobName": "ProcessSalesData"' in error, error
    assert BAD_DATE in error and "M/D/YYYY" in error, error
    # Where the job's code failed: the script's line, then the shared module's line that raised.
    assert re.search(r"\(at process_sales_data\.py line \d+, glue_etl_common\.py line \d+\)", error), error


def test_failed_demo_prints_where_sparks_log_of_the_failed_run_is_kept(failed_demo: DemoRun) -> None:
    match = re.search(
        r"Glue run of ProcessSalesData failed; Spark's log of it: (\S+)", failed_demo.child.stdout
    )
    assert match, failed_demo.child.tail()
    kept = Path(match.group(1))
    assert kept.is_file(), f"{kept} was not kept after the demo ended"
    kept.unlink()  # the test's own leftover


def test_failed_demo_prints_no_success_and_records_the_failure(failed_demo: DemoRun) -> None:
    child = failed_demo.child
    assert "Status: SUCCEEDED" not in child.stdout
    # The Athena workflow starts with the uploads, alongside; after a failure the demo does not follow it.
    assert "Execute Athena Query" not in child.stdout, "the demo followed Athena after a failure"
    assert re.search(r"\] Process Sales Data +failed", child.stdout), child.tail()
    summary = json.loads((failed_demo.output / "summary.json").read_text())
    assert summary["status"] == "FAILED"
    assert summary["failed_state"] == "Process Sales Data"
    assert BAD_DATE in summary["cause"]
    assert not (failed_demo.output / "marketing-and-sales.csv").exists()
