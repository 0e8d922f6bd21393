"""Glue job JoinMarketingAndSalesData (JMSD): the daily lead figures next to the daily marketing metrics.

Reads the Parquet outputs of ProcessSalesData (``--s3_sales_data_path``) and ProcessMarketingData
(``--s3_marketing_data_path``), inner-joins them on ``date``, sorts by date (chronologically: the column is a
real date) and replaces whatever is under ``--s3_output_path`` with the result as ONE snappy-compressed
Parquet file. ``--database_name`` is accepted for symmetry with the other jobs and the seed's job definition;
this job reads S3 paths, not the catalog.

Output columns: ``date``, ``forecasted_lead_revenue``, ``leads_generated``, then every marketing column but
``date`` in its original order.
"""

from __future__ import annotations

import glue_etl_common as common
from pyspark.sql import DataFrame

ARGUMENTS = ["JOB_NAME", "database_name", "s3_sales_data_path", "s3_marketing_data_path", "s3_output_path"]
SALES_COLUMNS = ["date", "forecasted_lead_revenue", "leads_generated"]


def join_marketing_and_sales(sales: DataFrame, marketing: DataFrame) -> DataFrame:
    """Inner join of the two daily datasets on ``date``, ascending by date.

    Both inputs are expected as produced by ``process_sales`` and ``process_marketing``; a ``date`` still in
    ``M/D/YYYY`` text is parsed first, so ordering is always chronological (1/2/2013 before 1/10/2013).
    """
    sales = common.parse_mdy_dates(common.normalize_columns(sales), "date")
    marketing = common.parse_mdy_dates(common.normalize_columns(marketing), "date")
    missing = set(SALES_COLUMNS) - set(sales.columns)
    if missing:
        raise ValueError(f"sales input lacks column(s) {sorted(missing)}; columns are {sales.columns}")
    marketing_columns = [name for name in marketing.columns if name != "date"]
    clash = set(marketing_columns) & set(SALES_COLUMNS)
    if clash:
        raise ValueError(f"marketing input has column(s) {sorted(clash)} that the sales input provides")
    joined = sales.select(*SALES_COLUMNS).join(marketing, on="date", how="inner")
    return joined.select(*SALES_COLUMNS, *marketing_columns).orderBy("date")


def main() -> None:
    glue_context, job, args = common.start_job(ARGUMENTS)

    def read_parquet(path: str) -> DataFrame:
        return glue_context.create_dynamic_frame.from_options(
            connection_type="s3",
            connection_options={"paths": [path]},
            format="parquet",
        ).toDF()

    result = join_marketing_and_sales(
        read_parquet(args["s3_sales_data_path"]), read_parquet(args["s3_marketing_data_path"])
    )
    # One row per day makes the result small (a few hundred rows a year), so it is written as a single
    # file: users download/open one file, and its rows are in date order. repartition(1) followed by
    # sortWithinPartitions keeps that order guaranteed (coalesce(1) after a global sort usually does, too,
    # but Spark does not promise it).
    single_file = result.repartition(1).sortWithinPartitions("date")

    common.overwrite_parquet(glue_context, single_file, args["s3_output_path"], "marketing_and_sales")
    job.commit()


if __name__ == "__main__":
    main()
