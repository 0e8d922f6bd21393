"""glue_etl_common: column-name normalisation, M/D/YYYY parsing and its errors."""

from __future__ import annotations

from datetime import date

import glue_etl_common as common
import pytest


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Date", "date"),
        ("Mailing list adds ", "mailing_list_adds"),  # trailing space of the marketing header
        ("  Forecasted Monthly Revenue", "forecasted_monthly_revenue"),
        ("New visitors SEO", "new_visitors_seo"),
        ("Lead Name", "lead_name"),
        ("MixedCase Column", "mixedcase_column"),
        ("Revenue ($) / Month", "revenue_month"),
        ("a--b__c  d", "a_b_c_d"),
        ("__already_normal__", "already_normal"),
        ("Free sign-up", "free_sign_up"),
        ("Q1 2016", "q1_2016"),
    ],
)
def test_normalize_column_name(raw, expected):
    assert common.normalize_column_name(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "---", "$%"])
def test_normalize_column_name_rejects_names_without_letters_or_digits(raw):
    with pytest.raises(ValueError, match="no letters or digits"):
        common.normalize_column_name(raw)


@pytest.mark.spark
def test_normalize_columns_renames_all_and_keeps_order(spark):
    df = spark.createDataFrame([(1, 2, 3)], ["Date", "Mailing list adds ", "Website Unique Visits"])
    assert common.normalize_columns(df).columns == ["date", "mailing_list_adds", "website_unique_visits"]


@pytest.mark.spark
def test_normalize_columns_rejects_collisions(spark):
    df = spark.createDataFrame([(1, 2)], ["Lead Name", "lead_name"])
    with pytest.raises(ValueError, match="both normalise to 'lead_name'"):
        common.normalize_columns(df)


@pytest.mark.spark
def test_parse_mdy_dates_parses_unpadded_and_padded_and_keeps_nulls(spark):
    df = spark.createDataFrame(
        [
            ("1/2/2013", 1),
            ("1/10/2013", 2),
            ("12/31/2016", 3),
            (" 2/29/2016 ", 4),
            ("01/05/2014", 5),
            (None, 6),
            ("", 7),
        ],
        "date string, n int",
    )
    out = common.parse_mdy_dates(df)
    assert out.schema["date"].dataType.simpleString() == "date"
    assert sorted(out.collect(), key=lambda row: row.n) == [
        (date(2013, 1, 2), 1),
        (date(2013, 1, 10), 2),
        (date(2016, 12, 31), 3),
        (date(2016, 2, 29), 4),
        (date(2014, 1, 5), 5),
        (None, 6),
        (None, 7),
    ]


@pytest.mark.spark
@pytest.mark.parametrize("bad", ["2013-01-02", "1/2/13", "2/30/2013", "13/1/2013", "Jan 2 2013", "1/2/2013x"])
def test_parse_mdy_dates_names_count_and_first_bad_value(spark, bad):
    df = spark.createDataFrame([("1/2/2013",), (bad,), ("1/3/2013",), (bad,)], "date string")
    with pytest.raises(ValueError) as caught:
        common.parse_mdy_dates(df)
    message = str(caught.value)
    assert "2 rows" in message
    assert "'date'" in message
    assert repr(bad) in message


@pytest.mark.spark
def test_parse_mdy_dates_single_bad_row_and_other_column(spark):
    df = spark.createDataFrame([("1/2/2013", "someday")], "date string, target_close string")
    with pytest.raises(
        ValueError, match=r"^1 row in column 'target_close' does not .*first bad value: 'someday'$"
    ):
        common.parse_mdy_dates(df, column="target_close")


@pytest.mark.spark
def test_parse_mdy_dates_leaves_date_columns_alone(spark):
    df = spark.createDataFrame([(date(2013, 1, 2),)], "date date")
    assert common.parse_mdy_dates(df).collect() == [(date(2013, 1, 2),)]


@pytest.mark.spark
def test_parse_mdy_dates_unknown_column(spark):
    df = spark.createDataFrame([("1/2/2013",)], "day string")
    with pytest.raises(ValueError, match="column 'date' not found"):
        common.parse_mdy_dates(df)


@pytest.mark.spark
def test_drop_repeated_header_removes_only_the_header_echo(spark):
    df = spark.createDataFrame(
        [("Date", None), ("1/2/2013", 5), (None, 6), (" date ", None)], "date string, n int"
    )
    assert sorted(common.drop_repeated_header(df).collect(), key=lambda row: row.n) == [
        ("1/2/2013", 5),
        (None, 6),
    ]


@pytest.mark.spark
def test_blank_strings_to_null(spark):
    df = spark.createDataFrame([("", " ", "Webinar", 1)], "date string, events string, other string, n int")
    assert common.blank_strings_to_null(df, exclude=("date",)).collect() == [("", None, "Webinar", 1)]
