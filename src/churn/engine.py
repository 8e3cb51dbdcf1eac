"""The embedded SQL engine (DuckDB) that labels and features run on.

Queries are written once in DuckDB's dialect using only constructs SQLGlot can transpile to
Spark SQL (see ``to_spark_sql``), so the same definitions can later run on a cluster.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator, Mapping

import duckdb
import pandas as pd
import sqlglot

DAY_SQL = "DATE_DIFF('day', DATE '1970-01-01', CAST({col} AS DATE))"
"""Whole days since 1970-01-01 of a timestamp column: the time unit of every query."""


def day_of(col: str) -> str:
    return DAY_SQL.format(col=col)


@contextlib.contextmanager
def duckdb_session(
    tables: Mapping[str, pd.DataFrame],
    *,
    threads: int | None = None,
    memory_limit: str = "4GB",
) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB connection with ``tables`` registered as views (no copies).
    Data beyond ``memory_limit`` spills to a private temporary folder, removed afterwards."""
    spill = tempfile.mkdtemp(prefix="churn-duckdb-")
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"SET temp_directory = '{spill}'")
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute("SET preserve_insertion_order = false")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        for name, frame in tables.items():
            con.register(name, frame)
        yield con
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def to_spark_sql(sql: str) -> str:
    """The same query in Spark SQL (raises if SQLGlot cannot transpile it)."""
    return ";\n".join(
        sqlglot.transpile(
            sql,
            read="duckdb",
            write="spark",
            unsupported_level="raise",  # type: ignore[arg-type]
        )
    )


def days_to_timestamp(days: pd.Series) -> pd.Series:
    return pd.to_datetime(days.astype("int64"), unit="D").astype("datetime64[us]")


def timestamp_to_days(values: pd.Series) -> pd.Series:
    return (values.astype("datetime64[us]").dt.floor("D") - pd.Timestamp("1970-01-01")).dt.days
