"""Helpers of the e2e tests: running a child process safely, and the expected results in plain Python.

The expected results are computed here from the sample CSVs with the csv module only (no Spark, no product
code), so that they are an independent check of what the Glue jobs and the Athena query produced.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.child_env import child_environment

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
SALES_CSV = SAMPLES / "SalesPipeline_QuickSightSample.csv"
MARKETING_CSV = SAMPLES / "MarketingData_QuickSightSample.csv"
DRIVER = Path(__file__).resolve().parent / "e2e_driver.py"
PYNT = Path(sys.executable).parent / "pynt"
SUBPROCESS_TIMEOUT_S = 600


@dataclass
class ChildRun:
    command: list[str]
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float

    def tail(self, chars: int = 6000) -> str:
        """The end of both streams, for an assertion message."""
        return (
            f"command: {' '.join(self.command)} (exit {self.returncode}, {self.seconds:.0f} s)\n"
            f"--- stdout (tail) ---\n{self.stdout[-chars:]}\n--- stderr (tail) ---\n{self.stderr[-chars:]}"
        )


@dataclass
class DemoRun:
    """A `pynt demo[…,output=…]` child run and the folder it was told to write to."""

    child: ChildRun
    output: Path


def run_child(
    command: Sequence[str | Path],
    timeout_s: float = SUBPROCESS_TIMEOUT_S,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
) -> ChildRun:
    """Run a command in the repository root with `child_environment()`; a timeout is a result, not a raise.

    The child leads its own process group, so that on a timeout its own children (Lambda workers, the Spark
    JVM) are stopped with it instead of outliving the test.
    """
    argv = [str(part) for part in command]
    began = time.monotonic()
    with subprocess.Popen(
        argv,
        cwd=cwd,
        env=child_environment(**(env or {})),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as child:
        try:
            stdout, stderr = child.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _stop_group(child)
            stdout, stderr = child.communicate()
            stderr += f"\nTIMEOUT: stopped after {timeout_s:.0f} s"
            return ChildRun(argv, None, stdout, stderr, time.monotonic() - began)
    return ChildRun(argv, child.returncode, stdout, stderr, time.monotonic() - began)


def _stop_group(child: subprocess.Popen[str]) -> None:
    for sig, grace_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, sig)
        try:
            child.wait(timeout=grace_s)
            return
        except subprocess.TimeoutExpired:
            continue


# --- expected results, plain Python ----------------------------------------------------------------------


def column_name(header: str) -> str:
    """The catalog's name of a CSV header: "Mailing list adds " -> mailing_list_adds."""
    return re.sub(r"[^0-9a-z]+", "_", header.strip().lower()).strip("_")


def parse_mdy(text: str) -> dt.date:
    month, day, year = (int(part) for part in text.strip().split("/"))
    return dt.date(year, month, day)


def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, [row for row in reader if row]


def marketing_records(path: Path = MARKETING_CSV) -> tuple[list[str], list[dict[str, str]]]:
    """Column names (normalised) and one dict per row with those names and the raw text values."""
    header, rows = read_rows(path)
    names = [column_name(h) for h in header]
    return names, [dict(zip(names, row, strict=True)) for row in rows]


def typed_marketing_value(name: str, raw: str) -> Any:
    """The value as the catalog types it: `date` and `events` are strings (blank -> None), the rest bigint."""
    text = raw.strip()
    if name in ("date", "events"):
        return text or None
    return int(text) if text else None


@dataclass(frozen=True)
class ExpectedJoin:
    columns: list[str]
    rows: list[tuple[Any, ...]]  # (date ISO string, lead revenue sum, lead count, *marketing values)


def expected_join(sales_path: Path = SALES_CSV, marketing_path: Path = MARKETING_CSV) -> ExpectedJoin:
    """The joined dataset computed from the CSVs: per day the Lead rows' revenue sum and count, inner-joined
    with that day's marketing row, in chronological order."""
    header, rows = read_rows(sales_path)
    index = {name: i for i, name in enumerate(header)}
    revenue: dict[dt.date, int] = {}
    count: dict[dt.date, int] = {}
    for row in rows:
        if row[index["Opportunity Stage"]] != "Lead":
            continue
        day = parse_mdy(row[index["Date"]])
        revenue[day] = revenue.get(day, 0) + int(row[index["Forecasted Monthly Revenue"]])
        count[day] = count.get(day, 0) + 1
    names, marketing = marketing_records(marketing_path)
    by_day = {parse_mdy(record["date"]): record for record in marketing}
    assert len(by_day) == len(marketing), "the marketing sample has one row per day"
    metric_names = [name for name in names if name != "date"]
    joined = [
        (
            day.isoformat(),
            revenue[day],
            count[day],
            *(typed_marketing_value(name, by_day[day][name]) for name in metric_names),
        )
        for day in sorted(set(revenue) & set(by_day))
    ]
    return ExpectedJoin(["date", "forecasted_lead_revenue", "leads_generated", *metric_names], joined)


def typed_output_row(columns: list[str], row: list[str]) -> tuple[Any, ...]:
    """A row of the demo's marketing-and-sales.csv (None written as "") typed like `expected_join` rows."""
    values: list[Any] = []
    for name, text in zip(columns, row, strict=True):
        if name == "date":
            values.append(text)
        elif name == "events":
            values.append(text or None)
        else:
            values.append(int(text) if text != "" else None)
    return tuple(values)


_QUERY = re.compile(
    r"^\s*SELECT\s+(?P<columns>.+?)\s+FROM\s+(?P<table>\w+)"
    r"(?:\s+ORDER\s+BY\s+(?P<order>.+?))?(?:\s+LIMIT\s+(?P<limit>\d+))?\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True)
class SimpleQuery:
    """`SELECT c1, c2 FROM table [ORDER BY k [ASC|DESC], ...] [LIMIT n]` — the shape of the sample query."""

    columns: list[str]
    table: str
    order_by: list[tuple[str, bool]]  # (column, descending)
    limit: int | None

    @classmethod
    def parse(cls, text: str) -> SimpleQuery:
        match = _QUERY.match(text)
        if not match:
            raise ValueError(
                f"the e2e test only understands SELECT … FROM … ORDER BY … LIMIT …; got {text!r}"
            )
        order: list[tuple[str, bool]] = []
        for part in (match["order"] or "").split(","):
            words = part.split()
            if not words:
                continue
            if len(words) > 2 or (len(words) == 2 and words[1].upper() not in ("ASC", "DESC")):
                raise ValueError(f"unsupported ORDER BY term {part.strip()!r} in {text!r}")
            order.append((words[0].lower(), len(words) == 2 and words[1].upper() == "DESC"))
        columns = [c.strip().lower() for c in match["columns"].split(",")]
        if "*" in columns:
            raise ValueError(f"the e2e test needs the selected columns named, got {text!r}")
        return cls(columns, match["table"].lower(), order, int(match["limit"]) if match["limit"] else None)

    def sort_key(self, record: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(record[column] for column, _ in self.order_by)

    def expected(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows the query returns, NULLs aside (the sample has none in the ordered columns)."""
        ordered = list(records)
        for column, descending in reversed(self.order_by):  # stable sorts, last key first
            ordered.sort(key=lambda record, c=column: record[c], reverse=descending)
        return ordered[: self.limit] if self.limit is not None else ordered


def typed_marketing_records(path: Path = MARKETING_CSV) -> list[dict[str, Any]]:
    names, records = marketing_records(path)
    return [{name: typed_marketing_value(name, record[name]) for name in names} for record in records]


def joined_dataset_problem(csv_path: Path) -> str | None:
    """None when the CSV holds exactly the plain-Python join of the samples, else what differs."""
    if not csv_path.is_file():
        return f"no joined dataset at {csv_path}"
    expected = expected_join()
    with csv_path.open(newline="") as handle:
        reader = csv.reader(handle)
        columns = next(reader)
        rows = [typed_output_row(columns, row) for row in reader]
    if columns != expected.columns:
        return f"columns {columns} != {expected.columns}"
    if rows != expected.rows:
        wrong = [got[0] for got, exp in zip(rows, expected.rows, strict=False) if got != exp]
        return f"{len(rows)} rows vs {len(expected.rows)} expected; first differing dates {wrong[:5]}"
    return None


def assert_recovered(point: str, observed: dict[str, Any]) -> None:
    """A fault-matrix point (localaws/demo/fault_matrix.py) that ran, fired, and ended SUCCEEDED with every
    Glue job run exactly once and the joined dataset of a run without faults; skipped when its fault never
    fired."""
    assert observed.get("ran"), f"{point} did not run:\n{observed.get('error') or observed.get('child')}"
    if not observed["fired"]:
        pytest.skip(f"{point}: the function made no such call during a successful workflow (kill not fired)")
    shown = {k: v for k, v in observed.items() if k not in ("progress", "lambda_logs")}
    details = json.dumps(shown, indent=1, default=str)
    logs = "\n".join(observed.get("lambda_logs", []))
    assert observed["status"] == "SUCCEEDED", (
        f"{point}: {details}\n{observed.get('progress', '')[-3000:]}\nthe functions' last log lines:\n{logs}"
    )
    assert not observed.get("arrivals_left"), (
        f"{point}: uploads left pending (each releases one wait): {details}"
    )
    runs = observed["glue_runs"]
    assert runs and all(states == ["SUCCEEDED"] for states in runs.values()), f"{point}: {details}"
    problem = joined_dataset_problem(Path(observed["joined_csv"]))
    assert problem is None, f"{point}: {problem}"
