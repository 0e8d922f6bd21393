"""Each job reads its input once: the bad-date check works on what the job computes anyway (or on rows kept
once), not on a second read of the input (at 100× input that second read cost 3.3 s of 15.8 s)."""

from __future__ import annotations

import pytest
from process_marketing_data import process_marketing
from process_sales_data import process_sales
from pyspark.sql import functions as F
from test_glue_transforms import (
    EXPECTED_MARKETING,
    EXPECTED_SALES,
    MARKETING_ROWS,
    MARKETING_SCHEMA,
    SALES_ROWS,
    SALES_SCHEMA,
    by_date,
)

pytestmark = pytest.mark.spark


def counting_reads(spark, df, column):
    """``df`` whose ``column`` passes through a Python UDF counting each row it sees, and the counter: one
    read of the input adds its row count, a second read adds it again."""
    seen = spark.sparkContext.accumulator(0)

    @F.udf("string")
    def touch(value):
        seen.add(1)
        return value

    # Nondeterministic: the optimizer may not copy the call into the filters above it (which would count a
    # row twice in one read).
    return df.withColumn(column, touch.asNondeterministic()(F.col(column))), seen


def test_process_sales_and_its_write_read_the_input_once(spark, tmp_path):
    # Every row's stage is read by the Lead filter, whatever else is pushed down.
    df, seen = counting_reads(spark, spark.createDataFrame(SALES_ROWS, SALES_SCHEMA), "opportunity_stage")
    out = process_sales(df)
    out.write.parquet(str(tmp_path / "sales"))
    assert seen.value == len(SALES_ROWS)
    assert by_date(spark.read.parquet(str(tmp_path / "sales")).collect()) == EXPECTED_SALES


def test_process_marketing_and_its_write_read_the_input_once(spark, tmp_path):
    df, seen = counting_reads(spark, spark.createDataFrame(MARKETING_ROWS, MARKETING_SCHEMA), "date")
    out = process_marketing(df)
    out.write.parquet(str(tmp_path / "marketing"))
    assert seen.value == len(MARKETING_ROWS)
    assert by_date(spark.read.parquet(str(tmp_path / "marketing")).collect()) == EXPECTED_MARKETING


def test_the_check_still_counts_every_bad_date_in_one_read(spark):
    rows = [*MARKETING_ROWS, ("2013/01/04", *range(17), ""), ("1/32/2013", *range(17), "")]
    df, seen = counting_reads(spark, spark.createDataFrame(rows, MARKETING_SCHEMA), "date")
    with pytest.raises(
        ValueError, match=r"^2 rows in column 'date' do not .*first bad value: '(2013/01/04|1/32/2013)'$"
    ):
        process_marketing(df)
    assert seen.value == len(rows)
