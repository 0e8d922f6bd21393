"""End to end: the README's `pynt demo[output=…]`, in a child process, against the sample data.

One demo run (module fixture) deploys the project on a fresh embedded endpoint, runs both workflows with the
real Glue jobs and Athena query, and writes its outputs; the tests check what it printed and wrote, the
joined dataset against a plain-Python computation from the sample CSVs.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from e2e_support import PYNT, DemoRun, expected_join, run_child, typed_output_row

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    output = tmp_path_factory.mktemp("e2e-demo") / "demo-output"
    child = run_child([PYNT, f"demo[output={output}]"])
    return DemoRun(child, output)


@pytest.fixture(scope="module")
def succeeded(demo_run: DemoRun) -> DemoRun:
    """The demo run, after checking that it succeeded (every other test needs that)."""
    assert demo_run.child.returncode == 0, f"`pynt demo` failed\n{demo_run.child.tail()}"
    return demo_run


def test_demo_prints_a_succeeded_summary(succeeded: DemoRun) -> None:
    stdout = succeeded.child.stdout
    assert "=== Summary ===" in stdout, succeeded.child.tail()
    assert re.search(r"^Status: SUCCEEDED$", stdout, re.MULTILINE), succeeded.child.tail()
    summary = json.loads((succeeded.output / "summary.json").read_text())
    assert summary["status"] == "SUCCEEDED"
    assert summary["cause"] is None


def test_demo_writes_its_output_files(succeeded: DemoRun) -> None:
    output = succeeded.output
    for name in ("marketing-and-sales.csv", "athena-result.csv", "summary.json"):
        assert (output / name).is_file(), f"{name} missing in {sorted(p.name for p in output.iterdir())}"
    for dataset in ("sales", "marketing", "marketing-and-sales"):
        parquet = list((output / dataset).glob("*.parquet"))
        assert parquet, f"no Parquet file under {output / dataset}"
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


# (state, labels that must all be printed for it)
MAIN_STATES = {
    "Pre-process": ["succeeded"],
    "Process Sales And Marketing Data": ["running", "succeeded"],
    "Wait For Sales Data": ["waiting for data", "succeeded"],
    "Wait For Marketing Data": ["waiting for data", "succeeded"],
    "Prep For Process Sales Data": ["succeeded"],
    "Prep For Process Marketing Data": ["succeeded"],
    "Process Sales Data": ["waiting for the Glue runner", "running (Glue job)", "succeeded"],
    "Process Marketing Data": ["waiting for the Glue runner", "running (Glue job)", "succeeded"],
    "Prep For Joining Marketing And Sales Data": ["succeeded"],
    "Join Marketing And Sales Data": ["waiting for the Glue runner", "running (Glue job)", "succeeded"],
    "Configure Athena Query": ["succeeded"],
    "Execute Athena Query": ["waiting for the Athena runner", "running (Athena query)", "succeeded"],
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
    with (succeeded.output / "athena-result.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows, "athena-result.csv is empty"
    assert rows[0] == ["date", "website_visits", "mobile_uniques", "desktop_uniques"]
    assert len(rows) > 1, "athena-result.csv has a header but no rows"
    summary = json.loads((succeeded.output / "summary.json").read_text())
    assert summary["athena_result_rows"] == rows


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
