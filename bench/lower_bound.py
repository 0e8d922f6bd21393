"""The bare lower bound of the local demo: the three Glue transforms in one SparkSession, nothing else.

    .venv/bin/python bench/lower_bound.py [--runs N] [--sales a.csv] [--marketing b.csv]

A new interpreter per run (as bench/bench_demo.py runs the demo) starts the same SparkSession the local
endpoint uses (``localaws.runtime.spark``), reads both CSVs as their catalog tables describe them
(cloudformation/glue-resources.yaml: columns, LazySimpleSerDe options, one header line), runs the real
scripts' ``process_sales`` and ``process_marketing`` (in parallel, as the workflow's Parallel state does),
writes each as snappy Parquet, reads both back and writes ``join_marketing_and_sales`` as one file. No
endpoint, no S3, no orchestration: the demo's time divided by this one is what orchestrating costs.

``run_lower_bound(sales_csv, marketing_csv, out_dir)`` returns the wall time of one such process (from its
start to its exit, interpreter start-up included, as bench_demo.py times the demo).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
TEMPLATE = ROOT / "cloudformation" / "glue-resources.yaml"


def catalog_tables() -> dict[str, dict[str, Any]]:
    """The catalog tables of the template (intrinsic functions left out: only literal fields are needed)."""
    import yaml

    class _Loader(yaml.SafeLoader):
        pass

    _Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load(TEMPLATE.read_text(), Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    return {
        res["Properties"]["TableInput"]["Name"]: res["Properties"]["TableInput"]
        for res in template["Resources"].values()
        if res.get("Type") == "AWS::Glue::Table"
    }


def _read_table(spark: Any, table: dict[str, Any], csv_path: Path) -> Any:
    from localaws.runtime.catalog_staging import _csv_options, ddl_schema

    sd = table["StorageDescriptor"]
    options = _csv_options(sd["SerdeInfo"]["SerializationLibrary"], sd["SerdeInfo"].get("Parameters") or {})
    options["header"] = "true"  # the one header line (skip.header.line.count: 1), which staging drops
    return spark.read.schema(ddl_schema(sd["Columns"])).options(**options).csv(str(csv_path))


def transform(sales_csv: Path, marketing_csv: Path, out_dir: Path) -> None:
    """The three transforms, in this process (the child's work)."""
    sys.path[:0] = [str(ROOT), str(ROOT / "glue-scripts")]
    from localaws.runtime.spark import get_spark

    tables = catalog_tables()
    spark = get_spark()
    import join_marketing_and_sales_data as jmsd
    import process_marketing_data as pmd
    import process_sales_data as psd

    def write(df: Any, name: str) -> str:
        path = str(out_dir / name)
        df.write.mode("overwrite").option("compression", "snappy").parquet(path)
        return path

    def sales() -> str:
        return write(psd.process_sales(_read_table(spark, tables["sales_qs"], sales_csv)), "sales")

    def marketing() -> str:
        table = _read_table(spark, tables["marketing_qs"], marketing_csv)
        return write(pmd.process_marketing(table), "marketing")

    with ThreadPoolExecutor(max_workers=2) as pool:
        sales_path, marketing_path = pool.submit(sales), pool.submit(marketing)
        sales_path, marketing_path = sales_path.result(), marketing_path.result()
    joined = jmsd.join_marketing_and_sales(spark.read.parquet(sales_path), spark.read.parquet(marketing_path))
    write(joined.repartition(1).sortWithinPartitions("date"), "marketing-and-sales")


def run_lower_bound(sales_csv: str | Path, marketing_csv: str | Path, out_dir: str | Path) -> float:
    """Seconds one cold process takes to run the three transforms (raises RuntimeError if it fails)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    script = str(Path(__file__).resolve())
    command = [sys.executable, script, "--child", str(sales_csv), str(marketing_csv), str(out)]
    began = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=os.environ.copy())
    seconds = time.monotonic() - began
    if done.returncode != 0:
        raise RuntimeError(f"the lower-bound run failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    return seconds


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        transform(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sales", default=str(SAMPLES / "SalesPipeline_QuickSightSample.csv"))
    parser.add_argument("--marketing", default=str(SAMPLES / "MarketingData_QuickSightSample.csv"))
    options = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; runs: {options.runs}")
    times = []
    for number in range(1, options.runs + 1):
        with tempfile.TemporaryDirectory(prefix="bench-lower-bound-") as out:
            seconds = run_lower_bound(options.sales, options.marketing, out)
        times.append(seconds)
        print(f"run {number}: {seconds:5.1f} s", flush=True)
    median = statistics.median(times)
    print(f"\nmedian of {len(times)}: {median:.1f} s (min {min(times):.1f}, max {max(times):.1f})")


if __name__ == "__main__":
    main()
