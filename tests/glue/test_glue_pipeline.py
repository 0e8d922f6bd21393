"""The three jobs end to end: over the committed sample CSVs, and through their main() entry points."""

from __future__ import annotations

import csv
import shutil
import sys
import types
from datetime import date
from pathlib import Path

import join_marketing_and_sales_data
import process_marketing_data
import process_sales_data
import pytest
from test_glue_transforms import (
    EXPECTED_JOINED,
    EXPECTED_MARKETING,
    EXPECTED_SALES,
    JOINED_COLUMNS,
    MARKETING_COLUMNS,
    MARKETING_ROWS,
    MARKETING_SCHEMA,
    SALES_ROWS,
    SALES_SCHEMA,
    by_date,
)

pytestmark = pytest.mark.spark

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SALES_CSV = SAMPLES / "SalesPipeline_QuickSightSample.csv"
MARKETING_CSV = SAMPLES / "MarketingData_QuickSightSample.csv"


def read_catalog_table(spark, path, schema):
    """Read a sample CSV the way the catalog describes it: DESIGN.md columns, header line skipped."""
    return spark.read.csv(str(path), schema=schema, header=True)


def test_pipeline_over_the_sample_files(spark):
    sales = process_sales_data.process_sales(read_catalog_table(spark, SALES_CSV, SALES_SCHEMA))
    marketing = process_marketing_data.process_marketing(
        read_catalog_table(spark, MARKETING_CSV, MARKETING_SCHEMA)
    )
    joined = join_marketing_and_sales_data.join_marketing_and_sales(sales, marketing)
    rows = joined.collect()

    # The same figures computed independently, in plain Python.
    with SALES_CSV.open(newline="") as handle:
        leads = [row for row in csv.DictReader(handle) if row["Opportunity Stage"] == "Lead"]
    with MARKETING_CSV.open(newline="") as handle:
        marketing_days = {row["Date"] for row in csv.DictReader(handle)}
    lead_days = {row["Date"] for row in leads}
    both = lead_days & marketing_days

    assert joined.columns == JOINED_COLUMNS
    assert sales.count() == len(lead_days)
    assert marketing.count() == len(marketing_days) == 1461
    assert len(rows) == len(both)
    assert [row.date for row in rows] == sorted(row.date for row in rows)
    assert len({row.date for row in rows}) == len(rows)
    assert sum(row.leads_generated for row in rows) == sum(1 for row in leads if row["Date"] in both)
    assert sum(row.forecasted_lead_revenue for row in rows) == sum(
        int(row["Forecasted Monthly Revenue"]) for row in leads if row["Date"] in both
    )
    first = min(
        both, key=lambda text: (int(text.split("/")[2]), int(text.split("/")[0]), int(text.split("/")[1]))
    )
    month, day, year = (int(part) for part in first.split("/"))
    assert rows[0].date == date(year, month, day)


# ------------------------------------------------------------------------------ main() with a stub awsglue


class StubGlue:
    """Just the awsglue subset of docs/DESIGN.md, over local folders; records what the scripts call."""

    def __init__(self, spark, tables):
        self.spark = spark
        self.tables = tables
        self.calls = []

    def modules(self):
        stub = self

        class DynamicFrame:
            def __init__(self, df):
                self._df = df

            @classmethod
            def fromDF(cls, df, glue_context, name):  # noqa: N802 - awsglue's spelling
                assert isinstance(glue_context, GlueContext) and isinstance(name, str)
                return cls(df)

            def toDF(self):  # noqa: N802 - awsglue's spelling
                return self._df

        class CreateDynamicFrame:
            def from_catalog(self, *, database, table_name, transformation_ctx=""):
                stub.calls.append(("from_catalog", database, table_name))
                return DynamicFrame(stub.tables[(database, table_name)])

            def from_options(self, *, connection_type, connection_options, format):
                assert connection_type == "s3" and format == "parquet"
                stub.calls.append(("read", tuple(connection_options["paths"])))
                return DynamicFrame(stub.spark.read.parquet(*connection_options["paths"]))

        class WriteDynamicFrame:
            def from_options(self, *, frame, connection_type, connection_options, format, format_options):
                assert connection_type == "s3" and format == "parquet"
                assert format_options == {"compression": "snappy"}
                stub.calls.append(("write", connection_options["path"]))
                df = frame.toDF()
                df.write.mode("append").option("compression", "snappy").parquet(connection_options["path"])

        class GlueContext:
            def __init__(self, sc):
                self.spark_session = stub.spark
                self.create_dynamic_frame = CreateDynamicFrame()
                self.write_dynamic_frame = WriteDynamicFrame()

            def purge_s3_path(self, path, options):
                assert options == {"retentionPeriod": 0}
                stub.calls.append(("purge", path))
                shutil.rmtree(path, ignore_errors=True)

        class Job:
            def __init__(self, glue_context):
                assert isinstance(glue_context, GlueContext)

            def init(self, name, args):
                stub.calls.append(("init", name))

            def commit(self):
                stub.calls.append(("commit",))

        def getResolvedOptions(argv, names):  # noqa: N802 - awsglue's spelling
            pairs = dict(zip(argv[1::2], argv[2::2], strict=False))
            return {name: pairs[f"--{name}"] for name in names}

        names = ["awsglue", "awsglue.context", "awsglue.dynamicframe", "awsglue.job", "awsglue.utils"]
        modules = {name: types.ModuleType(name) for name in names}
        modules["awsglue.context"].GlueContext = GlueContext
        modules["awsglue.dynamicframe"].DynamicFrame = DynamicFrame
        modules["awsglue.job"].Job = Job
        modules["awsglue.utils"].getResolvedOptions = getResolvedOptions
        return modules


def run_main(monkeypatch, module, argv):
    monkeypatch.setattr(sys, "argv", [f"{module.__name__}.py", *argv])
    module.main()


def test_mains_with_stub_awsglue(spark, tmp_path, monkeypatch):
    stub = StubGlue(
        spark,
        {
            ("marketingandsales_qs", "sales_qs"): spark.createDataFrame(SALES_ROWS, SALES_SCHEMA),
            ("marketingandsales_qs", "marketing_qs"): spark.createDataFrame(MARKETING_ROWS, MARKETING_SCHEMA),
        },
    )
    for name, module in stub.modules().items():
        monkeypatch.setitem(sys.modules, name, module)
    out = {name: str(tmp_path / "out" / name) for name in ("sales", "marketing", "marketing-and-sales")}
    stale = tmp_path / "out" / "marketing-and-sales" / "stale.parquet"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left over from a previous run")

    db = ["--database_name", "marketingandsales_qs"]
    psd = ["--JOB_NAME", "ProcessSalesData", *db, "--table_name", "sales_qs"]
    run_main(monkeypatch, process_sales_data, [*psd, "--s3_output_path", out["sales"]])
    pmd = ["--JOB_NAME", "ProcessMarketingData", *db, "--table_name", "marketing_qs"]
    run_main(monkeypatch, process_marketing_data, [*pmd, "--s3_output_path", out["marketing"]])
    jmsd = ["--JOB_NAME", "JoinMarketingAndSalesData", *db]
    jmsd += ["--s3_sales_data_path", out["sales"], "--s3_marketing_data_path", out["marketing"]]
    run_main(
        monkeypatch, join_marketing_and_sales_data, [*jmsd, "--s3_output_path", out["marketing-and-sales"]]
    )

    assert stub.calls == [
        ("init", "ProcessSalesData"),
        ("from_catalog", "marketingandsales_qs", "sales_qs"),
        ("purge", out["sales"]),
        ("write", out["sales"]),
        ("commit",),
        ("init", "ProcessMarketingData"),
        ("from_catalog", "marketingandsales_qs", "marketing_qs"),
        ("purge", out["marketing"]),
        ("write", out["marketing"]),
        ("commit",),
        ("init", "JoinMarketingAndSalesData"),
        ("read", (out["sales"],)),
        ("read", (out["marketing"],)),
        ("purge", out["marketing-and-sales"]),
        ("write", out["marketing-and-sales"]),
        ("commit",),
    ]
    assert not stale.exists()
    parts = sorted(path.name for path in (tmp_path / "out" / "marketing-and-sales").glob("*.parquet"))
    assert len(parts) == 1 and parts[0].endswith(".snappy.parquet")

    assert by_date(spark.read.parquet(out["sales"]).collect()) == EXPECTED_SALES
    assert spark.read.parquet(out["marketing"]).columns == MARKETING_COLUMNS
    assert by_date(spark.read.parquet(out["marketing"]).collect()) == EXPECTED_MARKETING
    final = spark.read.parquet(out["marketing-and-sales"])
    assert final.columns == JOINED_COLUMNS
    assert [tuple(row) for row in final.collect()] == EXPECTED_JOINED  # one file, rows in date order
