"""What the demo copies to its output folder: every dataset a Glue task of the workflow wrote, and every
Athena task's result, found from the deployment (localaws/demo/workflow.py), not from a list of names.

A Glue task's output names its job (``GlueJobName``); the job's ``--s3_output_path`` default argument is its
dataset, copied to ``<output>/<dataset>/`` (the Parquet files) and ``<output>/<dataset>.csv``, and counted.
An Athena task's output names its query (``AthenaQueryExecutionId``); its result file is copied to
``<output>/<state name>.csv``.
"""

from __future__ import annotations

import csv
import re
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from buildlib.execution_progress import SUCCEEDED, StateProgress, execution_events, state_progress
from localaws.demo.workflow import dataset_name, glue_output_path, split_s3_url, task_output

FIRST_ROWS = 5


@dataclass
class CollectedDataset:
    dataset: str
    job: str
    rows: int
    output_files: list[str]
    first_rows: list[dict[str, Any]] = field(default_factory=list)


def download_prefix(s3: Any, bucket: str, prefix: str, target: Path) -> list[Path]:
    """Every object under ``prefix`` into ``target`` (the prefix's folders kept); returns the files."""
    target.mkdir(parents=True, exist_ok=True)
    files = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            name = obj["Key"][len(prefix) :].lstrip("/")
            if not name or name.endswith("/"):
                continue
            local = target / name
            local.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, obj["Key"], str(local))
            files.append(local)
    return files


def copy_dataset(s3: Any, output_dir: Path, job: str, output_path: str) -> CollectedDataset | None:
    """Copy one job's Parquet output to ``output_dir/<dataset>/``, write it as ``<dataset>.csv`` (in the
    files' row order) and count its rows; None when the job wrote no Parquet file there."""
    from localaws.runtime.spark import get_spark  # Spark is already running: the Glue jobs used it

    dataset = dataset_name(output_path)
    bucket, prefix = split_s3_url(output_path.rstrip("/") + "/")
    files = download_prefix(s3, bucket, prefix, output_dir / dataset)
    parquet = [str(path) for path in files if path.suffix == ".parquet"]
    if not parquet:
        return None
    frame = get_spark().read.parquet(*parquet)
    csv_path = output_dir / f"{dataset}.csv"
    rows = _write_csv(frame.toLocalIterator(), frame.columns, csv_path)
    first = [row.asDict() for row in frame.limit(FIRST_ROWS).collect()]
    return CollectedDataset(dataset, job, rows, [str(output_dir / dataset), str(csv_path)], first)


def _write_csv(rows: Any, columns: list[str], path: Path) -> int:
    count = 0
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if value is None else value for value in row])
            count += 1
    return count


def glue_job_of(progress: StateProgress) -> str | None:
    """The Glue job a succeeded Task state ran (the Glue runner's output names it), else None."""
    if progress.state_type != "Task" or progress.status != SUCCEEDED:
        return None
    job = task_output(progress.output).get("GlueJobName")
    return job if isinstance(job, str) and job else None


class DatasetCollector:
    """Copies each Glue job's dataset as soon as the Task state that ran it succeeded, one at a time in the
    background: the first datasets are copied while the later jobs run."""

    def __init__(self, s3: Any, glue: Any, output_dir: Path, out: Any = None) -> None:
        self._s3 = s3
        self._glue = glue
        self._output_dir = output_dir
        self._out = out
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-collect")
        self._copies: dict[str, Future[CollectedDataset | None]] = {}  # by job, in the order they ended

    def copy(self, job: str) -> None:
        if job in self._copies:
            return
        path = glue_output_path(self._glue, job)
        if path is None:
            if self._out is not None:
                print(f"  {job} has no --s3_output_path default argument: not copied", file=self._out)
            done: Future[CollectedDataset | None] = Future()
            done.set_result(None)
            self._copies[job] = done
            return
        self._copies[job] = self._pool.submit(copy_dataset, self._s3, self._output_dir, job, path)

    def on_progress(self, states: dict[str, StateProgress]) -> None:
        for progress in states.values():
            job = glue_job_of(progress)
            if job is not None:
                self.copy(job)

    def collect_all(self, report: Any) -> None:
        """Wait for every copy and record them in the order their jobs ended; the last one's first rows
        are the summary's (the workflow's final dataset)."""
        for copied in (future.result() for future in list(self._copies.values())):
            if copied is None:
                continue
            report.row_counts[f"{copied.dataset} (Parquet)"] = copied.rows
            report.output_files += copied.output_files
            report.first_rows = copied.first_rows
            report.first_rows_dataset = copied.dataset

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def collect_datasets(s3: Any, output_dir: Path, report: Any, glue: Any = None) -> None:
    """Copy the output of every deployed Glue job that wrote one (the workflow has ended)."""
    glue = glue or _client_like(s3, "glue")
    collector = DatasetCollector(s3, glue, output_dir)
    try:
        for page in glue.get_paginator("get_jobs").paginate():
            for job in page["Jobs"]:
                collector.copy(job["Name"])
        collector.collect_all(report)
    finally:
        collector.close()


def _client_like(client: Any, service: str) -> Any:
    """A client of ``service`` on the same endpoint and region as ``client``."""
    import boto3

    return boto3.client(service, endpoint_url=client.meta.endpoint_url, region_name=client.meta.region_name)


def file_name(state: str) -> str:
    """A state's name as a file name: ``Execute Athena Query`` -> ``execute-athena-query``."""
    return re.sub(r"[^a-z0-9]+", "-", state.lower()).strip("-") or "state"


def collect_query_results(
    sfn: Any, s3: Any, athena: Any, execution_arn: str, output_dir: Path, report: Any
) -> None:
    """Copy the result of every Athena task of the execution to ``<output>/<state name>.csv`` and keep its
    rows (``report.query_results``)."""
    for name, progress in state_progress(execution_events(sfn, execution_arn)).items():
        query_id = task_output(progress.output).get("AthenaQueryExecutionId") if progress.output else None
        if progress.status != SUCCEEDED or not query_id:
            continue
        execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        bucket, key = split_s3_url(execution["ResultConfiguration"]["OutputLocation"])
        local = output_dir / f"{file_name(name)}.csv"
        s3.download_file(bucket, key, str(local))
        report.output_files.append(str(local))
        with local.open(newline="") as handle:
            report.query_results[name] = list(csv.reader(handle))
