"""Glue job ProcessSalesData (PSD): daily lead figures from the sales-pipeline dataset.

Reads the catalog table of the sales CSV (``--database_name``/``--table_name``), keeps the status entries
whose opportunity stage is ``Lead`` and aggregates them by day:

    date                     date    the day the leads were entered
    forecasted_lead_revenue  bigint  sum of forecasted_monthly_revenue over that day's leads
    leads_generated          bigint  number of that day's leads

then replaces whatever is under ``--s3_output_path`` with the result as snappy-compressed Parquet.
"""

from __future__ import annotations

import glue_etl_common as common
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

ARGUMENTS = ["JOB_NAME", "database_name", "table_name", "s3_output_path"]
LEAD_STAGE = "Lead"


def process_sales(df: DataFrame) -> DataFrame:
    """Sales status entries -> one row per day with the Lead entries' revenue sum and count.

    Columns are normalised first (``Forecasted Monthly Revenue`` and ``forecasted_monthly_revenue`` both
    work), so the function accepts the catalog table as well as a CSV read with its header. A day whose only
    entries are not leads yields no row. A blank date groups into one row with a null date; a value that is
    not an M/D/YYYY date fails the job (see ``glue_etl_common.parse_mdy_dates``).
    """
    df = common.normalize_columns(df)
    missing = {"date", "opportunity_stage", "forecasted_monthly_revenue"} - set(df.columns)
    if missing:
        raise ValueError(f"sales data lacks column(s) {sorted(missing)}; columns are {df.columns}")
    df = common.drop_repeated_header(df, "date")
    leads = df.filter(F.trim(F.col("opportunity_stage")) == LEAD_STAGE)
    day, bad = common.mdy_date_columns(leads, "date")
    totals = [
        F.sum(F.col("forecasted_monthly_revenue").cast("bigint")).alias("forecasted_lead_revenue"),
        F.count(F.lit(1)).cast("bigint").alias("leads_generated"),
    ]
    if bad is None:
        return leads.groupBy(day.alias("date")).agg(*totals)
    # The dates are checked in the same pass as the sums, on the small per-day result: the input is read
    # once (a check of the input itself would read it a second time).
    per_day = leads.groupBy(day.alias("date")).agg(
        *totals,
        F.count(bad).alias(common.BAD_DATE_COUNT),
        F.first(bad, ignorenulls=True).alias(common.FIRST_BAD_DATE),
    )
    return common.checked_dates(per_day, "date")


def main() -> None:
    glue_context, job, args = common.start_job(ARGUMENTS)

    sales = glue_context.create_dynamic_frame.from_catalog(
        database=args["database_name"],
        table_name=args["table_name"],
        transformation_ctx="sales",
    ).toDF()
    result = process_sales(sales)

    common.overwrite_parquet(glue_context, result, args["s3_output_path"], "sales_by_day")
    job.commit()


if __name__ == "__main__":
    main()
