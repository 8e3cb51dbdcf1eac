"""The SQL engines that labels and features run on: embedded DuckDB (default) or Spark.

Queries are written once in DuckDB's dialect using only constructs SQLGlot can transpile to
Spark SQL (see ``to_spark_sql``), so the same definitions run on a cluster
(:mod:`churn.engines.spark`). A ``SqlRunner`` takes tables by name (pandas frames, or parquet
files the engine reads itself, out of core) and one such query and returns the result as an
Arrow table; :func:`churn.engines.sql_runner` picks one from the settings.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pandas as pd
import pyarrow as pa
import sqlglot

from churn.engines.freed_memory import return_freed_memory
from churn.engines.spill import close_spill_folder, open_spill_folder
from churn.io.files import exact_batches, parquet_file

DAY_SQL = "DATE_DIFF('day', DATE '1970-01-01', CAST({col} AS DATE))"
"""Whole days since 1970-01-01 of a timestamp column: the time unit of every query."""


def day_of(col: str) -> str:
    return DAY_SQL.format(col=col)


@dataclass(frozen=True)
class ParquetTable:
    """A table the engine reads from a parquet file itself, column by column and out of core,
    instead of a frame held in memory: how a hundred million events stay on disk."""

    path: Path


Table = pd.DataFrame | ParquetTable
"""What a query's tables may be: a frame in memory or a parquet file."""


def table_columns(table: Table) -> list[str]:
    """The column names of ``table``: a frame's, or a parquet file's from its footer alone."""
    if isinstance(table, pd.DataFrame):
        return [str(c) for c in table.columns]
    import pyarrow.parquet as pq  # noqa: PLC0415 - only parquet tables need it

    names: list[str] = pq.read_schema(table.path).names
    return names


def quote_identifier(name: str) -> str:
    """``name`` as a SQL identifier (column or table name): in double quotes, each double quote
    in it doubled. ``'a"b'`` -> ``'"a""b"'``.

    Column names, event types and paths reach the queries from params files and data, which are
    untrusted input: every one is written into SQL through this function or ``quote_literal``,
    never pasted in by hand, so a name holding a quote is that name and never more SQL. Both
    forms are standard SQL, which DuckDB reads as they are and SQLGlot carries over to Spark
    (backticks, backslashes escaped)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str | Path) -> str:
    """``text`` (or a path) as a SQL string literal: in single quotes, each single quote in it
    doubled; backslashes stay as they are. ``"it's"`` -> ``"'it''s'"``. See
    ``quote_identifier`` for why."""
    return "'" + str(text).replace("'", "''") + "'"


@contextlib.contextmanager
def duckdb_session(
    tables: Mapping[str, Table],
    *,
    threads: int | None = None,
    memory_limit: str = "4GB",
) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB connection with ``tables`` registered as views (no copies; a
    ``ParquetTable`` is scanned from its file as queries need it). Data beyond ``memory_limit``
    spills to a private temporary folder, removed afterwards (:mod:`churn.engines.spill`).
    Memory the process has freed is given back to the system first, so DuckDB's working set
    does not come on top of it (:mod:`churn.engines.freed_memory`)."""
    return_freed_memory()
    spill = open_spill_folder()
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"SET temp_directory = {quote_literal(spill)}")
        con.execute(f"SET memory_limit = {quote_literal(memory_limit)}")
        con.execute("SET preserve_insertion_order = false")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        for name, table in tables.items():
            if isinstance(table, ParquetTable):
                con.execute(
                    f"CREATE VIEW {quote_identifier(name)}"
                    f" AS SELECT * FROM read_parquet({quote_literal(table.path)})"
                )
            else:
                con.register(name, table)
        yield con
    finally:
        con.close()
        close_spill_folder(spill)


class SqlRunner(Protocol):
    """Runs one query (DuckDB dialect) over ``tables`` registered under their names and
    returns the result as a ``pyarrow.Table``, in the query's row order."""

    def __call__(self, tables: Mapping[str, Table], sql: str) -> Any: ...


class DuckDbRunner:
    """A runner on a fresh in-memory DuckDB session per query (see ``duckdb_session``), which
    can also hand the result over in record batches (:func:`result_batches`)."""

    def __init__(self, *, threads: int | None = None, memory_limit: str = "4GB") -> None:
        self.threads = threads
        self.memory_limit = memory_limit

    def __call__(self, tables: Mapping[str, Table], sql: str) -> Any:
        with duckdb_session(tables, threads=self.threads, memory_limit=self.memory_limit) as con:
            return con.sql(sql).to_arrow_table()

    def batches(self, tables: Mapping[str, Table], sql: str) -> Iterator[pa.RecordBatch]:
        """The result a batch at a time (one empty batch when it has no rows). DuckDB writes
        it to a temporary parquet file in the query's order (within its memory limit,
        spilling beyond it) and closes its session before the file is read back, so the
        engine's working set and the reader's never add up."""
        with tempfile.TemporaryDirectory(prefix="churn-result-") as folder:
            path = Path(folder) / "result.parquet"
            with duckdb_session(
                tables, threads=self.threads, memory_limit=self.memory_limit
            ) as con:
                con.execute("SET preserve_insertion_order = true")  # the file in ORDER BY's order
                con.execute(f"COPY ({sql}) TO {quote_literal(path)} (FORMAT parquet)")
            return_freed_memory()
            result = parquet_file(path)
            empty = True
            for batch in result.iter_batches():
                empty = False
                yield batch
            if empty:
                yield pa.RecordBatch.from_pylist([], schema=result.schema_arrow)


def duckdb_runner(*, threads: int | None = None, memory_limit: str = "4GB") -> DuckDbRunner:
    """A runner on a fresh in-memory DuckDB session per query (see ``duckdb_session``)."""
    return DuckDbRunner(threads=threads, memory_limit=memory_limit)


def result_batches(
    run_sql: SqlRunner, tables: Mapping[str, Table], sql: str, *, rows: int
) -> Iterator[pa.Table]:
    """The result of ``run_sql(tables, sql)`` in its row order as tables of exactly ``rows``
    rows, the last one shorter (one empty table, with the result's columns, when it has no
    rows). On DuckDB the result is streamed, so Python never holds it whole; other engines
    return the whole table, which is then sliced."""
    if isinstance(run_sql, DuckDbRunner):
        batches: Iterable[pa.RecordBatch] = run_sql.batches(tables, sql)
        yield from exact_batches(batches, rows)
    else:
        whole: pa.Table = run_sql(tables, sql)
        yield from exact_batches(whole.to_batches(), rows, whole.schema)


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
