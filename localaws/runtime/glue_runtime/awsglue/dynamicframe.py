"""``DynamicFrame``: here a thin wrapper of a Spark DataFrame (no Glue schema-on-read features needed)."""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame


class DynamicFrame:
    def __init__(self, df: DataFrame, glue_ctx: Any = None, name: str = "") -> None:
        self._df = df
        self.glue_ctx = glue_ctx
        self.name = name

    @classmethod
    def fromDF(cls, dataframe: DataFrame, glue_ctx: Any, name: str) -> DynamicFrame:  # Glue's name
        return cls(dataframe, glue_ctx, name)

    def toDF(self, options: Any = None) -> DataFrame:  # Glue's name
        return self._df

    def count(self) -> int:
        return self._df.count()

    def schema(self) -> Any:
        return self._df.schema

    def printSchema(self) -> None:  # Glue's name
        self._df.printSchema()

    def show(self, num_rows: int = 20) -> None:
        self._df.show(num_rows)

    def repartition(self, num_partitions: int) -> DynamicFrame:
        return DynamicFrame(self._df.repartition(num_partitions), self.glue_ctx, self.name)

    def coalesce(self, num_partitions: int) -> DynamicFrame:
        return DynamicFrame(self._df.coalesce(num_partitions), self.glue_ctx, self.name)

    def __repr__(self) -> str:
        return f"DynamicFrame({self.name!r}, {self._df})"
