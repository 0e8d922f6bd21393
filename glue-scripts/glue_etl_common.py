"""Helpers shared by the three Glue jobs of the Marketing and Sales ETL sample.

Deployed beside the job scripts and handed to every job with
``--extra-py-files <S3ETLScriptPath>/glue_etl_common.py`` (see docs/DESIGN.md), so the scripts can
``import glue_etl_common`` at module level. ``awsglue`` is imported only inside the job helpers at the end,
so the transformation helpers are usable (and tested) on a plain local SparkSession.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

_NON_ALNUM_RUN = re.compile(r"[^0-9a-z]+")

# M/D/YYYY: one or two digit month and day, four digit year (matched after trimming blanks). Written without
# backslashes so that it can sit unchanged inside a Spark SQL string literal.
MDY_PATTERN = "^([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})$"


def normalize_column_name(name: str) -> str:
    """Return ``name`` as a lower-case underscore identifier.

    Strips surrounding blanks, lower-cases, turns every run of characters other than ``a-z`` and ``0-9``
    into one ``_`` and trims leading/trailing underscores:
    ``"Mailing list adds "`` -> ``"mailing_list_adds"``, ``"Forecasted Monthly Revenue"`` ->
    ``"forecasted_monthly_revenue"``.
    """
    if not isinstance(name, str):
        raise TypeError(f"column name must be a string, got {type(name).__name__}")
    normalized = _NON_ALNUM_RUN.sub("_", name.strip().lower()).strip("_")
    if not normalized:
        raise ValueError(f"column name {name!r} has no letters or digits to build a column name from")
    return normalized


def normalize_columns(df: DataFrame) -> DataFrame:
    """Rename every top-level column of ``df`` with :func:`normalize_column_name`.

    Raises ``ValueError`` when two columns would end up with the same name (e.g. ``"A b"`` and ``"a_b"``),
    rather than silently producing an ambiguous frame.
    """
    new_names = [normalize_column_name(name) for name in df.columns]
    seen: dict[str, str] = {}
    for old, new in zip(df.columns, new_names, strict=True):
        if new in seen:
            raise ValueError(f"columns {seen[new]!r} and {old!r} both normalise to {new!r}")
        seen[new] = old
    if new_names == df.columns:
        return df
    return df.toDF(*new_names)


def _quoted(column: str) -> str:
    return "`" + column.replace("`", "``") + "`"


def drop_repeated_header(df: DataFrame, column: str = "date") -> DataFrame:
    """Remove rows that repeat the CSV header line (``column`` holds its own header text, e.g. ``Date``).

    A catalog table over a CSV file skips the header with ``skip.header.line.count``; a reader that does not
    honour that property hands the header line over as a data row. Such a row carries no data, so it is the
    one kind of row these jobs remove on purpose: its ``column`` value equals the column's name once
    normalised (``"Date"`` -> ``date``). Only string columns can hold it.
    """
    if not isinstance(df.schema[column].dataType, T.StringType):
        return df
    value = F.col(_quoted(column))
    header_echo = F.lower(F.trim(value)) == F.lit(normalize_column_name(column))
    # Keep nulls: `NOT (NULL = 'date')` is NULL, which `filter` would drop.
    return df.filter(value.isNull() | ~header_echo)


def _mdy_to_date(column: str) -> Column:
    """Column expression: the M/D/YYYY string in ``column`` as a date, NULL when it is not a valid one."""
    value = f"trim({_quoted(column)})"

    def part(group: int, width: int) -> str:
        return f"lpad(regexp_extract({value}, '{MDY_PATTERN}', {group}), {width}, '0')"

    iso = f"concat_ws('-', {part(3, 4)}, {part(1, 2)}, {part(2, 2)})"
    # try_cast yields NULL for calendar-invalid dates (2/30/2013) whatever spark.sql.ansi.enabled says, and
    # unlike to_date it never raises Spark 3's "different result after upgrading" error on odd input.
    return F.expr(f"CASE WHEN {value} RLIKE '{MDY_PATTERN}' THEN try_cast({iso} AS DATE) END")


# Working columns of the date check; never in a job's output.
BAD_DATE_COUNT = "__bad_date_count"
FIRST_BAD_DATE = "__first_bad_date"


def mdy_date_columns(df: DataFrame, column: str) -> tuple[Column, Column | None]:
    """``(date, bad)`` column expressions for ``column`` of ``df``, for a caller that checks dates itself.

    ``date`` is the value as a ``DateType`` (null for null, blank and bad values); ``bad`` is the original
    value where it is neither blank nor a valid ``M/D/YYYY`` date, null elsewhere, or None when the column's
    type cannot hold a bad value (a date or timestamp column). Raises ``ValueError`` for a missing column
    or one of another type.
    """
    if column not in df.columns:
        raise ValueError(f"column {column!r} not found; columns are {df.columns}")
    data_type = df.schema[column].dataType
    raw = F.col(_quoted(column))
    if isinstance(data_type, T.DateType):
        return raw, None
    if isinstance(data_type, T.TimestampType | T.TimestampNTZType):
        return F.to_date(raw), None
    if not isinstance(data_type, T.StringType):
        found = data_type.simpleString()
        raise ValueError(f"column {column!r} must hold M/D/YYYY strings, found type {found}")
    blank = raw.isNull() | (F.trim(raw) == "")
    parsed = F.when(blank, F.lit(None).cast(T.DateType())).otherwise(_mdy_to_date(column))
    return parsed, F.when(~blank & parsed.isNull(), raw)


def checked_dates(df: DataFrame, column: str) -> DataFrame:
    """``df`` computed once and kept (``localCheckpoint``), minus its check columns, if it holds no bad date.

    ``df`` carries ``BAD_DATE_COUNT`` (bad values per row) and ``FIRST_BAD_DATE`` (one of them, or null).
    The check and whatever follows (the job's write) read the kept rows, so the input is read once: checking
    the input itself, then writing from it, would read it twice. Raises ``ValueError`` naming how many
    values of ``column`` are bad and the first one.
    """
    kept = df.localCheckpoint(eager=True)
    totals = kept.agg(
        F.sum(BAD_DATE_COUNT).alias("count"), F.first(FIRST_BAD_DATE, ignorenulls=True).alias("value")
    ).first()
    count = int(totals["count"] or 0) if totals else 0
    if count:
        raise ValueError(
            f"{count} row{'s' if count != 1 else ''} in column {column!r} "
            f"{'do' if count != 1 else 'does'} not hold an M/D/YYYY date; "
            f"first bad value: {totals['value']!r}"
        )
    return kept.drop(BAD_DATE_COUNT, FIRST_BAD_DATE)


def parse_mdy_dates(df: DataFrame, column: str = "date") -> DataFrame:
    """Return ``df`` with ``column`` converted from ``M/D/YYYY`` strings to ``DateType``.

    Null and blank values become null dates. Any other value that is not a valid ``M/D/YYYY`` date makes this
    raise ``ValueError`` naming how many rows are affected and the first bad value; no row is ever dropped.
    A column that already is a date is returned unchanged; a timestamp column is truncated to its date.
    Checking a string column computes ``df`` (see ``checked_dates``: the input is read once, not twice).
    """
    parsed, bad = mdy_date_columns(df, column)
    if bad is None:
        return df if isinstance(df.schema[column].dataType, T.DateType) else df.withColumn(column, parsed)
    # The bad value is taken before the column is replaced by its parsed date.
    marked = df.withColumn(FIRST_BAD_DATE, bad).withColumn(BAD_DATE_COUNT, bad.isNotNull().cast("bigint"))
    return checked_dates(marked.withColumn(column, parsed), column)


def blank_strings_to_null(df: DataFrame, exclude: tuple[str, ...] = ()) -> DataFrame:
    """Turn empty or all-blank values of every string column (but those in ``exclude``) into nulls.

    A Hive CSV SerDe reads an empty field as ``""`` while Spark's CSV reader reads it as null; normalising
    makes the output the same whichever reader produced the input.
    """
    for field in df.schema.fields:
        if field.name in exclude or not isinstance(field.dataType, T.StringType):
            continue
        value = F.col(_quoted(field.name))
        df = df.withColumn(field.name, F.when(F.trim(value) == "", F.lit(None)).otherwise(value))
    return df


def start_job(arguments: list[str]) -> tuple[Any, Any, dict[str, str]]:
    """Resolve the job's arguments and start it; returns ``(glue_context, job, args)``."""
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    args = getResolvedOptions(sys.argv, arguments)
    glue_context = GlueContext(SparkContext.getOrCreate())
    job = Job(glue_context)
    job.init(args["JOB_NAME"], args)
    return glue_context, job, args


def overwrite_parquet(glue_context: Any, df: DataFrame, path: str, name: str) -> None:
    """Replace everything under ``path`` with ``df`` as snappy-compressed Parquet (the seed's "overwrite")."""
    from awsglue.dynamicframe import DynamicFrame

    glue_context.purge_s3_path(path, options={"retentionPeriod": 0})
    glue_context.write_dynamic_frame.from_options(
        frame=DynamicFrame.fromDF(df, glue_context, name),
        connection_type="s3",
        connection_options={"path": path},
        format="parquet",
        format_options={"compression": "snappy"},
    )
