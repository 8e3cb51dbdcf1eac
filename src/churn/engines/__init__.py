"""The SQL engines that labels and features run on: embedded DuckDB by default (:mod:`.sql`), or
Spark for data that outgrows one machine (:mod:`.spark`, needs ``churn[spark]`` and Java)."""

from __future__ import annotations

from churn.engines.sql import ParquetTable, SqlRunner, Table, duckdb_runner
from churn.settings import FeatureSettings

__all__ = ["ParquetTable", "SqlRunner", "Table", "sql_runner"]


def sql_runner(settings: FeatureSettings) -> SqlRunner:
    """The runner ``features.engine`` names: DuckDB, or Spark (needs churn[spark] and Java)."""
    if settings.engine == "spark":
        from churn.engines.spark import spark_runner  # noqa: PLC0415 - optional dependency

        return spark_runner(settings.spark)
    return duckdb_runner(threads=settings.duckdb_threads, memory_limit=settings.duckdb_memory_limit)
