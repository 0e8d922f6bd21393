"""End to end: the README's `pynt demo[output=…]`, in a child process, against the sample data.

One demo run (the session fixture ``demo_run`` of conftest.py, which every e2e test file shares) deploys
the project on a fresh embedded endpoint, runs both workflows with the real Glue jobs and Athena query, and
writes its outputs; the tests check what it printed and wrote, the joined dataset against a plain-Python
computation from the sample CSVs.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from e2e_support import DemoRun, expected_join, typed_output_row

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def test_demo_prints_a_succeeded_summary(succeeded: DemoRun) -> None:
    stdout = succeeded.child.stdout
    assert "=== Summary ===" in stdout, succeeded.child.tail()
    assert re.search(r"^Status: SUCCEEDED$", stdout, re.MULTILINE), succeeded.child.tail()
    summary = json.loads((succeeded.output / "summary.json").read_text())
    assert summary["status"] == "SUCCEEDED"
    assert summary["cause"] is None


def test_demo_writes_its_output_files(succeeded: DemoRun) -> None:
    output = succeeded.output
    for name in ("execute-athena-query.csv", "summary.json"):
        assert (output / name).is_file(), f"{name} missing in {sorted(p.name for p in output.iterdir())}"
    for dataset in ("sales", "marketing", "marketing-and-sales"):
        parquet = list((output / dataset).glob("*.parquet"))
        assert parquet, f"no Parquet file under {output / dataset}"
        assert (output / f"{dataset}.csv").is_file(), f"{dataset}.csv missing"
    # The join job writes its (small) result as one file.
    assert len(list((output / "marketing-and-sales").glob("*.parquet"))) == 1
    for listed in json.loads((output / "summary.json").read_text())["output_files"]:
        assert Path(listed).exists(), f"summary.json lists {listed}, which does not exist"


def test_joined_dataset_equals_a_plain_python_join_of_the_samples(succeeded: DemoRun) -> None:
    expected = expected_join()
    with (succeeded.output / "marketing-and-sales.csv").open(newline="") as handle:
        reader = csv.reader(handle)
        columns = next(reader)
        rows = [typed_output_row(columns, row) for row in reader]

    assert columns == expected.columns
    dates = [row[0] for row in rows]
    expected_dates = [row[0] for row in expected.rows]
    assert dates == sorted(dates), "the joined dataset is not in chronological order"
    assert dates == expected_dates, (
        f"dates differ: {len(dates)} rows vs {len(expected_dates)} expected; "
        f"missing {sorted(set(expected_dates) - set(dates))[:5]}, "
        f"extra {sorted(set(dates) - set(expected_dates))[:5]}"
    )
    mismatches = [
        (exp[0], {c: (got[i], exp[i]) for i, c in enumerate(columns) if got[i] != exp[i]})
        for got, exp in zip(rows, expected.rows, strict=True)
        if got != exp
    ]
    assert not mismatches, (
        f"{len(mismatches)} rows differ (column: (demo, expected)), first: {mismatches[:3]}"
    )
    # The CSV is the Parquet output rewritten: same number of rows.
    summary = json.loads((succeeded.output / "summary.json").read_text())
    assert summary["row_counts"]["marketing-and-sales (Parquet)"] == len(expected.rows)


# (state, labels that must all be printed for it). Each Task state is labelled by what works it, read from
# the deployment: the runner function polling its activity, or the upload its wait activity waits for.
GLUE_RUNNER = ["waiting for gluerunner", "running (gluerunner)", "succeeded"]
MAIN_STATES = {
    "Pre-process": ["succeeded"],
    "Process Sales And Marketing Data": ["running", "succeeded"],
    "Wait For Sales Data": ["waiting for data", "data arrived", "succeeded"],
    "Wait For Marketing Data": ["waiting for data", "data arrived", "succeeded"],
    "Prep For Process Sales Data": ["succeeded"],
    "Prep For Process Marketing Data": ["succeeded"],
    "Process Sales Data": GLUE_RUNNER,
    "Process Marketing Data": GLUE_RUNNER,
    "Prep For Joining Marketing And Sales Data": ["succeeded"],
    "Join Marketing And Sales Data": GLUE_RUNNER,
    "Configure Athena Query": ["succeeded"],
    "Execute Athena Query": ["waiting for athenarunner", "running (athenarunner)", "succeeded"],
}
GLUE_TASKS = ("Process Sales Data", "Process Marketing Data", "Join Marketing And Sales Data")


def _progress(stdout: str) -> dict[str, list[str]]:
    """state name → the labels printed for it, in order, from lines like `  [  0.4s] Name   label (1.2s)`."""
    seen: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        match = re.match(r"^\s+\[\s*[\d.]+s\] (?P<rest>.*)$", line)
        if not match:
            continue
        rest = match["rest"]
        name, label = rest[:45].rstrip(), rest[46:]
        label = re.sub(r" \(\d+\.\ds\)$", "", label)  # the "took" suffix of succeeded/failed
        seen.setdefault(name, []).append(label)
    return seen


def test_progress_lines_show_each_state_waiting_running_succeeded(succeeded: DemoRun) -> None:
    progress = _progress(succeeded.child.stdout)
    missing = {
        state: [label for label in labels if label not in progress.get(state, [])]
        for state, labels in MAIN_STATES.items()
    }
    missing = {state: labels for state, labels in missing.items() if labels}
    assert not missing, f"progress lines missing: {missing}\nprinted: {progress}"
    for state, labels in progress.items():
        assert labels[-1] == "succeeded", f"{state} ended {labels[-1]!r} in a succeeded demo: {labels}"
    # Every transition in the history is printed once, in order, even one that lasted less than a poll.
    for state in (*GLUE_TASKS, "Execute Athena Query"):
        assert progress[state] == MAIN_STATES[state], f"{state}: {progress[state]}"
    assert "▶ MarketingAndSalesETLOrchestrator: started" in succeeded.child.stdout
    assert "▶ AthenaRunnerTestETLOrchestrator: started" in succeeded.child.stdout


def test_athena_result_file_exists_with_a_header_and_rows(succeeded: DemoRun) -> None:
    """Each Athena task's result is copied under its state's name."""
    with (succeeded.output / "execute-athena-query.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows, "execute-athena-query.csv is empty"
    assert rows[0] == ["date", "website_visits", "mobile_uniques", "desktop_uniques"]
    assert len(rows) > 1, "execute-athena-query.csv has a header but no rows"
    summary = json.loads((succeeded.output / "summary.json").read_text())
    assert summary["query_results"] == {"Execute Athena Query": rows}


def test_the_summary_counts_every_dataset_and_each_jobs_runs(succeeded: DemoRun) -> None:
    """Every dataset a Glue task wrote is found from the deployment (its job's --s3_output_path)."""
    summary = json.loads((succeeded.output / "summary.json").read_text())
    for dataset in ("sales", "marketing", "marketing-and-sales"):
        with (succeeded.output / f"{dataset}.csv").open(newline="") as handle:
            rows = sum(1 for _ in csv.reader(handle)) - 1
        assert summary["row_counts"][f"{dataset} (Parquet)"] == rows > 0, dataset
    assert set(summary["glue_runs_by_job"].values()) == {1}, summary["glue_runs_by_job"]
    assert summary["glue_runs"] == len(summary["glue_runs_by_job"])
    # The first rows shown are those of the workflow's last dataset (the joined one in the sample).
    dataset = summary["first_rows_dataset"]
    assert f"{dataset} (Parquet)" in summary["row_counts"], dataset
    with (succeeded.output / f"{dataset}.csv").open(newline="") as handle:
        header = next(csv.reader(handle))
    assert summary["first_rows"] and list(summary["first_rows"][0]) == header


def test_demo_ran_with_iam_enforced_and_nothing_denied(succeeded: DemoRun) -> None:
    summary = json.loads((succeeded.output / "summary.json").read_text())
    iam = summary["iam"]
    assert iam["mode"] == "enforce", iam
    assert iam["allowed"] > 0, "no call was authorised: the workloads did not run as their roles"
    assert iam["denied"] == 0, iam["denials"]
    assert re.search(r"^IAM \(enforce\): \d+ calls allowed, 0 denied", succeeded.child.stdout, re.MULTILINE)


def test_demo_draws_the_timeline_of_both_workflows(succeeded: DemoRun) -> None:
    """timeline.svg next to summary.json: every task of both workflows, each job run as a bar."""
    timeline = succeeded.output / "timeline.svg"
    assert str(timeline) in json.loads((succeeded.output / "summary.json").read_text())["output_files"]
    svg = timeline.read_text()
    for state in (*GLUE_TASKS, "Execute Athena Query", "Wait For Sales Data", "Wait For Marketing Data"):
        assert f'data-state="{state}"' in svg, state
    assert svg.count('class="bar run"') == 4  # the three Glue job runs and the Athena query
    assert "MarketingAndSalesETLOrchestrator: SUCCEEDED" in svg
    assert "AthenaRunnerTestETLOrchestrator: SUCCEEDED" in svg
