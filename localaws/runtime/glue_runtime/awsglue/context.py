"""``GlueContext`` with the readers and the writer the scripts use, over S3 of the local endpoint.

Reads stage the S3 objects into a local folder first and Spark reads that folder (no S3 filesystem here);
writes go to a local folder and the data files are uploaded. Staging folders live as long as the run: the
local Glue bridge removes them when the run ends (outside a bridge run, at interpreter exit), because Spark
reads lazily and a DataFrame may be used until the script's last write.
"""

from __future__ import annotations

import atexit
import logging
from typing import Any

from pyspark.context import SparkContext
from pyspark.sql import SparkSession

from awsglue import _localrun
from awsglue.dynamicframe import DynamicFrame
from localaws.runtime.catalog_staging import Stager

log = logging.getLogger("awsglue.context")


def _new_stager() -> Stager:
    run = _localrun.current()
    # The job's role session (the bridge's run context): the script's reads and writes are the role's.
    stager = Stager(
        _localrun.endpoint_url(), _localrun.region(), run.work_dir if run else None, _localrun.credentials()
    )
    if run is not None:
        run.stagers.append(stager)  # the bridge cleans these up when the run ends
    else:
        atexit.register(stager.cleanup)
    return stager


class DynamicFrameReader:
    def __init__(self, glue_context: GlueContext) -> None:
        self._glue_context = glue_context

    def from_catalog(
        self,
        database: str | None = None,
        table_name: str | None = None,
        redshift_tmp_dir: str = "",
        transformation_ctx: str = "",
        push_down_predicate: str = "",
        additional_options: dict[str, Any] | None = None,
        catalog_id: str | None = None,
        **kwargs: Any,
    ) -> DynamicFrame:
        database = database or kwargs.get("name_space")
        if not database or not table_name:
            raise ValueError("from_catalog needs database= and table_name=")
        gc = self._glue_context
        df = gc._stager.read_table(gc.spark_session, database, table_name)
        if push_down_predicate:
            df = df.where(push_down_predicate)
        return DynamicFrame(df, gc, transformation_ctx or table_name)

    def from_options(
        self,
        connection_type: str,
        connection_options: dict[str, Any] | None = None,
        format: str | None = None,  # Glue's keyword
        format_options: dict[str, Any] | None = None,
        transformation_ctx: str = "",
        **kwargs: Any,
    ) -> DynamicFrame:
        if connection_type != "s3":
            raise ValueError(f"connection_type {connection_type!r} is not supported locally (only s3)")
        paths = (connection_options or {}).get("paths") or []
        if isinstance(paths, str):
            paths = [paths]
        if not paths:
            raise ValueError('from_options needs connection_options={"paths": [...]}')
        gc = self._glue_context
        df = gc._stager.read_paths(gc.spark_session, list(paths), format or "parquet", format_options)
        return DynamicFrame(df, gc, transformation_ctx)


class DataSink:
    def __init__(self, glue_context: GlueContext) -> None:
        self._glue_context = glue_context

    def from_options(
        self,
        frame: DynamicFrame,
        connection_type: str,
        connection_options: dict[str, Any] | None = None,
        format: str | None = None,  # Glue's keyword
        format_options: dict[str, Any] | None = None,
        transformation_ctx: str = "",
        **kwargs: Any,
    ) -> DynamicFrame:
        if connection_type != "s3":
            raise ValueError(f"connection_type {connection_type!r} is not supported locally (only s3)")
        options = connection_options or {}
        path = options.get("path")
        if not path:
            raise ValueError('write_dynamic_frame.from_options needs connection_options={"path": ...}')
        compression = (format_options or {}).get("compression")
        if compression is None and (format or "parquet").lower() == "parquet":
            compression = "snappy"  # Glue's default for parquet
        keys = self._glue_context._stager.write(
            frame.toDF(),
            path,
            data_format=format or "parquet",
            compression=compression,
            partition_keys=options.get("partitionKeys") or None,
        )
        log.info("wrote %d file(s) under %s", len(keys), path)
        return frame


class GlueContext:
    def __init__(self, sc: SparkContext | None = None, **options: Any) -> None:
        run = _localrun.current()
        if run is not None and run.spark is not None:
            self._spark = run.spark
        else:  # reuses the running SparkContext (`sc`) and its default session, as on Glue
            self._spark = SparkSession.builder.getOrCreate()
        self._sc = self._spark.sparkContext
        self._stager = _new_stager()
        self.create_dynamic_frame = DynamicFrameReader(self)
        self.write_dynamic_frame = DataSink(self)

    @property
    def spark_session(self) -> SparkSession:
        return self._spark

    def getSparkSession(self) -> SparkSession:  # Glue's name
        return self._spark

    def get_logger(self) -> logging.Logger:
        return logging.getLogger("awsglue.job")

    def purge_s3_path(
        self, s3_path: str, options: dict[str, Any] | None = None, transformation_ctx: str = ""
    ) -> None:
        """Delete the objects under the prefix older than ``retentionPeriod`` hours (Glue's default 168).

        The project passes 0: everything under the prefix goes.
        """
        retention_hours = float((options or {}).get("retentionPeriod", 168))
        stager = self._stager
        if retention_hours <= 0:
            count = stager.delete_prefix(s3_path)
        else:
            count = self._purge_older_than(s3_path, retention_hours)
        log.info("purged %d object(s) under %s", count, s3_path)

    def _purge_older_than(self, s3_path: str, hours: float) -> int:
        import datetime as dt

        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)
        old = [obj for obj in self._stager.list_objects(s3_path) if obj["LastModified"] < cutoff]
        s3 = self._stager.client("s3")
        for obj in old:
            s3.delete_object(Bucket=obj["Bucket"], Key=obj["Key"])
        return len(old)
