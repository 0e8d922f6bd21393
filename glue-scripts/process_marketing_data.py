"""Glue job ProcessMarketingData (PMD): the daily marketing metrics with clean column names and real dates.

Reads the catalog table of the marketing CSV (``--database_name``/``--table_name``), renames every column to
a lower-case underscore name (``Mailing list adds `` -> ``mailing_list_adds``), turns ``date`` from
``M/D/YYYY`` into a date, makes the metric columns bigint and blank texts null, and replaces whatever is
under ``--s3_output_path`` with the result as snappy-compressed Parquet.
"""

from __future__ import annotations

import glue_etl_common as common
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

ARGUMENTS = ["JOB_NAME", "database_name", "table_name", "s3_output_path"]

# The numeric columns of the QuickSight marketing sample (docs/DESIGN.md, catalog table marketing_qs).
METRIC_COLUMNS = [
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
]


def process_marketing(df: DataFrame) -> DataFrame:
    """Marketing metrics -> same rows, normalised column names, ``date`` as DateType.

    Column order is kept. Known metric columns that arrive as text (a CSV read without a schema) become
    bigint; other columns keep their type. Blank strings become nulls so the output does not depend on the
    CSV reader. A value of ``date`` that is not an M/D/YYYY date fails the job rather than losing the row.
    """
    df = common.normalize_columns(df)
    if "date" not in df.columns:
        raise ValueError(f"marketing data lacks a date column; columns are {df.columns}")
    df = common.drop_repeated_header(df, "date")
    df = common.blank_strings_to_null(df, exclude=("date",))
    for field in df.schema.fields:
        if field.name in METRIC_COLUMNS and isinstance(field.dataType, T.StringType):
            df = df.withColumn(field.name, F.trim(F.col(field.name)).cast(T.LongType()))
    return common.parse_mdy_dates(df, "date")


def main() -> None:
    glue_context, job, args = common.start_job(ARGUMENTS)

    marketing = glue_context.create_dynamic_frame.from_catalog(
        database=args["database_name"],
        table_name=args["table_name"],
        transformation_ctx="marketing",
    ).toDF()
    result = process_marketing(marketing)

    common.overwrite_parquet(glue_context, result, args["s3_output_path"], "marketing_by_day")
    job.commit()


if __name__ == "__main__":
    main()
