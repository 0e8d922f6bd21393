"""The sample CSV generator and the committed files it produced."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "samples"

SALES = SAMPLES / "SalesPipeline_QuickSightSample.csv"
MARKETING = SAMPLES / "MarketingData_QuickSightSample.csv"

SALES_HEADER = (
    "Date,Salesperson,Lead Name,Segment,Region,Target Close,Forecasted Monthly Revenue,Opportunity Stage,"
    "Weighted Revenue,Closed Opportunity,Active Opportunity,Latest Status Entry"
)
MARKETING_HEADER = (
    "Date,New visitors SEO,New visitors CPC,New visitors Social Media,Return visitors,Twitter mentions,"
    "Twitter follower adds,Twitter followers cumulative,Mailing list adds ,Mailing list cumulative,"
    "Website Pageviews,Website Visits,Website Unique Visits,Mobile uniques,Tablet uniques,Desktop uniques,"
    "Free sign up,Paid conversion,Events"
)
MDY_UNPADDED = re.compile(r"^[1-9][0-9]?/[1-9][0-9]?/[0-9]{4}$")
STAGES = {"Lead", "Prospect", "Qualified", "Contracting", "Closed Won", "Closed Lost"}


def read_rows(path):
    with path.open(newline="", encoding="ascii") as handle:
        return list(csv.reader(handle))[1:]


def as_date(text):
    return datetime.strptime(text, "%m/%d/%Y").date()


@pytest.fixture(scope="module")
def sales_rows():
    return read_rows(SALES)


@pytest.fixture(scope="module")
def marketing_rows():
    return read_rows(MARKETING)


def test_generator_is_deterministic_and_matches_committed_files(tmp_path):
    script = SAMPLES / "generate_samples.py"
    for run in ("first", "second"):
        subprocess.run(
            [sys.executable, str(script), "--out-dir", str(tmp_path / run)], check=True, capture_output=True
        )
    for name in (SALES.name, MARKETING.name):
        first = (tmp_path / "first" / name).read_bytes()
        assert first == (tmp_path / "second" / name).read_bytes(), f"{name} differs between two runs"
        hint = f"samples/{name} differs from the generator's output: run `python samples/generate_samples.py`"
        assert first == (SAMPLES / name).read_bytes(), hint


def test_headers_are_exact():
    assert SALES.read_bytes().split(b"\n", 1)[0] == SALES_HEADER.encode()
    assert MARKETING.read_bytes().split(b"\n", 1)[0] == MARKETING_HEADER.encode()


def test_files_are_small_ascii_without_quoting():
    for path in (SALES, MARKETING):
        data = path.read_bytes()
        assert len(data) < 4_000_000
        assert b'"' not in data and b"\r" not in data
        data.decode("ascii")
        assert data.endswith(b"\n")


def test_sales_shape(sales_rows):
    assert 20_000 <= len(sales_rows) <= 22_000
    assert all(len(row) == 12 for row in sales_rows)  # no comma inside a field
    days = [as_date(row[0]) for row in sales_rows]
    assert min(days).year == 2011 and max(days).year == 2016
    assert {row[7] for row in sales_rows} == STAGES
    for row in sales_rows:
        assert MDY_UNPADDED.match(row[0]) and MDY_UNPADDED.match(row[5]), row
        assert row[6].isdigit() and row[8].isdigit(), row
        assert {row[9], row[10], row[11]} <= {"TRUE", "FALSE"}, row
        assert (row[9] == "TRUE") == row[7].startswith("Closed"), row
        assert int(row[8]) <= int(row[6]), row


def test_sales_leads_cover_most_marketing_days(sales_rows, marketing_rows):
    lead_days = {row[0] for row in sales_rows if row[7] == "Lead"}
    marketing_days = {row[0] for row in marketing_rows}
    assert len(lead_days & marketing_days) >= 0.8 * len(marketing_days)


def test_marketing_one_row_per_day(marketing_rows):
    assert all(len(row) == 19 for row in marketing_rows)  # no comma inside a field
    assert all(MDY_UNPADDED.match(row[0]) for row in marketing_rows)
    days = [as_date(row[0]) for row in marketing_rows]
    assert days[0] == date(2013, 1, 1) and days[-1] == date(2016, 12, 31)
    assert len(days) == len(set(days)) == (date(2016, 12, 31) - date(2013, 1, 1)).days + 1 == 1461
    assert days == sorted(days)


def test_marketing_numbers_are_consistent(marketing_rows):
    events = [row[18] for row in marketing_rows]
    assert 0 < sum(1 for event in events if event) < 0.2 * len(events), "Events must be mostly empty"
    assert "Email campaign" in events
    previous = None
    for row in marketing_rows:
        numbers = [int(value) for value in row[1:18]]  # raises on a non-integer
        seo, cpc, social, returning, _, follower_adds, followers, mailing_adds, mailing_list = numbers[:9]
        pageviews, visits, unique, mobile, tablet, desktop, free_sign_up, paid = numbers[9:]
        assert min(numbers) >= 0
        assert visits == seo + cpc + social + returning
        assert unique == mobile + tablet + desktop and unique <= visits <= pageviews
        assert paid <= free_sign_up
        if previous is not None:
            assert followers == previous[0] + follower_adds
            assert mailing_list == previous[1] + mailing_adds
        previous = (followers, mailing_list)
