"""The three jobs' transformations on small hand-made inputs; expected rows are worked out by hand."""

from __future__ import annotations

from datetime import date

import pytest
from join_marketing_and_sales_data import join_marketing_and_sales
from process_marketing_data import process_marketing
from process_sales_data import process_sales

pytestmark = pytest.mark.spark

# docs/DESIGN.md catalog columns of table sales_qs.
SALES_SCHEMA = (
    "date string, salesperson string, lead_name string, segment string, region string, target_close string, "
    "forecasted_monthly_revenue bigint, opportunity_stage string, weighted_revenue bigint, "
    "closed_opportunity boolean, active_opportunity boolean, latest_status_entry boolean"
)

MARKETING_COLUMNS = [
    "date",
    "new_visitors_seo",
    "new_visitors_cpc",
    "new_visitors_social_media",
    "return_visitors",
    "twitter_mentions",
    "twitter_follower_adds",
    "twitter_followers_cumulative",
    "mailing_list_adds",
    "mailing_list_cumulative",
    "website_pageviews",
    "website_visits",
    "website_unique_visits",
    "mobile_uniques",
    "tablet_uniques",
    "desktop_uniques",
    "free_sign_up",
    "paid_conversion",
    "events",
]
# docs/DESIGN.md catalog columns of table marketing_qs.
MARKETING_SCHEMA = ", ".join(
    f"{name} {'string' if name in ('date', 'events') else 'bigint'}" for name in MARKETING_COLUMNS
)
# The header of the marketing CSV, trailing space of "Mailing list adds " included.
MARKETING_CSV_HEADER = [
    "Date",
    "New visitors SEO",
    "New visitors CPC",
    "New visitors Social Media",
    "Return visitors",
    "Twitter mentions",
    "Twitter follower adds",
    "Twitter followers cumulative",
    "Mailing list adds ",
    "Mailing list cumulative",
    "Website Pageviews",
    "Website Visits",
    "Website Unique Visits",
    "Mobile uniques",
    "Tablet uniques",
    "Desktop uniques",
    "Free sign up",
    "Paid conversion",
    "Events",
]


def sales_row(day, stage, revenue):
    weighted = {"Lead": revenue // 10, "Prospect": revenue // 4}.get(stage, revenue)
    closed = stage.startswith("Closed")
    return (day, "Avery Abbott", "Oak Labs", "SMB", "Midwest", "6/1/2013",
            revenue, stage, weighted, closed, False, True)  # fmt: skip


SALES_ROWS = [
    sales_row("1/10/2013", "Lead", 40),
    sales_row("1/2/2013", "Lead", 100),
    sales_row("1/2/2013", "Prospect", 999),  # not a lead: excluded
    sales_row("12/31/2012", "Lead", 7),
    sales_row("1/2/2013", "Lead", 250),  # second lead of 1/2/2013: summed with the first
    sales_row("1/3/2013", "Closed Won", 500),  # the only entry of 1/3/2013 is no lead: no row for that day
    sales_row("1/10/2013", "Qualified", 1000),
]
# By hand: 12/31/2012 -> 7 (1 lead); 1/2/2013 -> 100 + 250 = 350 (2 leads); 1/10/2013 -> 40 (1 lead).
EXPECTED_SALES = [
    (date(2012, 12, 31), 7, 1),
    (date(2013, 1, 2), 350, 2),
    (date(2013, 1, 10), 40, 1),
]

# Marketing days 1/1, 1/2, 1/3 and 1/10/2013 (deliberately not in date order).
MARKETING_ROWS = [
    ("1/10/2013", 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, ""),
    ("1/2/2013", 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, "Email campaign"),
    ("1/1/2013", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, ""),
    ("1/3/2013", 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, "Webinar"),
]
EXPECTED_MARKETING = [
    (date(2013, 1, 1), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, None),
    (date(2013, 1, 2), 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, "Email campaign"),
    (date(2013, 1, 3), 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, "Webinar"),
    (date(2013, 1, 10), 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, None),
]
# By hand: sales days {12/31/2012, 1/2/2013, 1/10/2013} & marketing days {1/1, 1/2, 1/3, 1/10/2013}
# = {1/2/2013, 1/10/2013}, and 1/2/2013 comes first although "1/10/2013" < "1/2/2013" as text.
# fmt: off
EXPECTED_JOINED = [
    (date(2013, 1, 2), 350, 2,
     11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, "Email campaign"),
    (date(2013, 1, 10), 40, 1,
     31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, None),
]
# fmt: on
JOINED_COLUMNS = ["date", "forecasted_lead_revenue", "leads_generated", *MARKETING_COLUMNS[1:]]


def by_date(rows):
    return sorted((tuple(row) for row in rows), key=lambda row: row[0])


@pytest.fixture(scope="module")
def sales(spark):
    return spark.createDataFrame(SALES_ROWS, SALES_SCHEMA)


@pytest.fixture(scope="module")
def marketing(spark):
    return spark.createDataFrame(MARKETING_ROWS, MARKETING_SCHEMA)


# ------------------------------------------------------------------------------------------ process_sales


def test_process_sales_rows(sales):
    assert by_date(process_sales(sales).collect()) == EXPECTED_SALES


def test_process_sales_schema(sales):
    schema = process_sales(sales).schema
    assert [(field.name, field.dataType.simpleString()) for field in schema.fields] == [
        ("date", "date"),
        ("forecasted_lead_revenue", "bigint"),
        ("leads_generated", "bigint"),
    ]


def test_process_sales_accepts_csv_header_names_and_text_values(spark):
    header = [
        *["Date", "Salesperson", "Lead Name", "Segment", "Region", "Target Close"],
        *["Forecasted Monthly Revenue", "Opportunity Stage", "Weighted Revenue"],
        *["Closed Opportunity", "Active Opportunity", "Latest Status Entry"],
    ]
    text_rows = [tuple(str(value) for value in row) for row in SALES_ROWS]
    df = spark.createDataFrame(text_rows, header)
    out = process_sales(df)
    assert out.dtypes == [
        ("date", "date"),
        ("forecasted_lead_revenue", "bigint"),
        ("leads_generated", "bigint"),
    ]
    assert by_date(out.collect()) == EXPECTED_SALES


def test_process_sales_skips_a_header_line_read_as_data(spark):
    header_line = ("Date", "Salesperson", "Lead Name", "Segment", "Region", "Target Close", None,
                   "Opportunity Stage", None, None, None, None)  # fmt: skip
    df = spark.createDataFrame([*SALES_ROWS, header_line], SALES_SCHEMA)
    assert by_date(process_sales(df).collect()) == EXPECTED_SALES


def test_process_sales_rejects_bad_dates(spark):
    rows = [*SALES_ROWS, sales_row("2013-01-05", "Lead", 10), sales_row("2013-01-06", "Lead", 10)]
    with pytest.raises(ValueError, match=r"2 rows in column 'date' .*first bad value: '2013-01-0[56]'"):
        process_sales(spark.createDataFrame(rows, SALES_SCHEMA))


def test_process_sales_no_leads_gives_empty_result(spark):
    df = spark.createDataFrame([sales_row("1/2/2013", "Prospect", 5)], SALES_SCHEMA)
    out = process_sales(df)
    assert out.collect() == []
    assert out.columns == ["date", "forecasted_lead_revenue", "leads_generated"]


def test_process_sales_missing_column(spark):
    df = spark.createDataFrame([("1/2/2013", "Lead")], "date string, opportunity_stage string")
    with pytest.raises(ValueError, match="forecasted_monthly_revenue"):
        process_sales(df)


# -------------------------------------------------------------------------------------- process_marketing


def test_process_marketing_from_catalog_schema(marketing):
    out = process_marketing(marketing)
    assert out.columns == MARKETING_COLUMNS
    assert out.schema["date"].dataType.simpleString() == "date"
    assert {out.schema[name].dataType.simpleString() for name in MARKETING_COLUMNS[1:-1]} == {"bigint"}
    assert out.schema["events"].dataType.simpleString() == "string"
    assert by_date(out.collect()) == EXPECTED_MARKETING


def test_process_marketing_renames_csv_header_and_casts_text(spark):
    text_rows = [tuple(str(value) for value in row) for row in MARKETING_ROWS]
    out = process_marketing(spark.createDataFrame(text_rows, MARKETING_CSV_HEADER))
    assert out.columns == MARKETING_COLUMNS
    assert "mailing_list_adds" in out.columns  # from "Mailing list adds " (trailing space)
    assert {out.schema[name].dataType.simpleString() for name in MARKETING_COLUMNS[1:-1]} == {"bigint"}
    assert by_date(out.collect()) == EXPECTED_MARKETING


def test_process_marketing_skips_a_header_line_read_as_data(spark):
    header_line = ("Date", *([None] * 17), "Events")
    out = process_marketing(spark.createDataFrame([header_line, *MARKETING_ROWS], MARKETING_SCHEMA))
    assert by_date(out.collect()) == EXPECTED_MARKETING


def test_process_marketing_keeps_every_row_and_rejects_bad_dates(spark, marketing):
    assert process_marketing(marketing).count() == 4
    bad = spark.createDataFrame([*MARKETING_ROWS, ("2013/01/04", *range(17), "")], MARKETING_SCHEMA)
    with pytest.raises(ValueError, match=r"1 row in column 'date' .*first bad value: '2013/01/04'"):
        process_marketing(bad)


# ------------------------------------------------------------------------------- join_marketing_and_sales


def test_join_rows_columns_and_order(sales, marketing):
    joined = join_marketing_and_sales(process_sales(sales), process_marketing(marketing))
    assert joined.columns == JOINED_COLUMNS
    assert [tuple(row) for row in joined.collect()] == EXPECTED_JOINED  # collect() order = sort order


def test_join_schema(sales, marketing):
    joined = join_marketing_and_sales(process_sales(sales), process_marketing(marketing))
    types = dict(joined.dtypes)
    assert types["date"] == "date"
    assert types["forecasted_lead_revenue"] == types["leads_generated"] == "bigint"
    assert {types[name] for name in MARKETING_COLUMNS[1:-1]} == {"bigint"}
    assert types["events"] == "string"


def test_join_sorts_chronologically_not_as_text(spark):
    days = ["1/10/2013", "2/1/2013", "1/2/2013", "10/1/2012", "12/31/2012", "9/30/2012", "1/1/2014"]
    sales_schema = "date string, forecasted_lead_revenue bigint, leads_generated bigint"
    sales = spark.createDataFrame([(day, 1, 1) for day in days], sales_schema)
    marketing = spark.createDataFrame([(day, 5) for day in days], "date string, website_visits bigint")
    joined = join_marketing_and_sales(sales, marketing)
    assert [row.date for row in joined.collect()] == [
        date(2012, 9, 30),
        date(2012, 10, 1),
        date(2012, 12, 31),
        date(2013, 1, 2),
        date(2013, 1, 10),
        date(2013, 2, 1),
        date(2014, 1, 1),
    ]


def test_join_is_inner(spark):
    sales = spark.createDataFrame(
        [(date(2013, 1, 1), 1, 1), (date(2013, 1, 2), 2, 1)],
        "date date, forecasted_lead_revenue bigint, leads_generated bigint",
    )
    marketing = spark.createDataFrame(
        [(date(2013, 1, 2), 7), (date(2013, 1, 3), 8)], "date date, website_visits bigint"
    )
    assert [tuple(row) for row in join_marketing_and_sales(sales, marketing).collect()] == [
        (date(2013, 1, 2), 2, 1, 7)
    ]
