"""The one way names and values from params files reach SQL: ``quote_identifier`` and
``quote_literal`` round-trip any text through DuckDB, and a hostile name stays a name."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from churn.engines.sql import (
    ParquetTable,
    duckdb_runner,
    quote_identifier,
    quote_literal,
    to_spark_sql,
)

AWKWARD = [
    "plain",
    "",
    "it's",
    "''",
    'say "hi"',
    '""',
    "back\\slash",
    "trailing\\",
    "ünïcödé ✓ 顧客",
    "tab\tand\nnewline",
    "; DROP TABLE x; --",
]


def test_quote_identifier_doubles_double_quotes() -> None:
    assert quote_identifier("plan") == '"plan"'
    assert quote_identifier('a"b') == '"a""b"'
    assert quote_identifier("it's") == '"it\'s"'
    assert quote_identifier("") == '""'


def test_quote_literal_doubles_single_quotes_and_keeps_backslashes() -> None:
    assert quote_literal("purchase") == "'purchase'"
    assert quote_literal("it's") == "'it''s'"
    assert quote_literal("back\\slash") == "'back\\slash'"
    assert quote_literal('say "hi"') == "'say \"hi\"'"
    assert quote_literal("") == "''"


def test_quote_literal_takes_a_path() -> None:
    assert quote_literal(Path("/tmp/o'brien/events.parquet")) == "'/tmp/o''brien/events.parquet'"


@pytest.mark.parametrize("text", AWKWARD)
def test_literal_round_trips_through_duckdb(text: str) -> None:
    with duckdb.connect(":memory:") as con:
        assert con.execute(f"SELECT {quote_literal(text)}").fetchall() == [(text,)]


@pytest.mark.parametrize("name", [n for n in AWKWARD if n])
def test_identifier_round_trips_through_duckdb_as_a_column_name(name: str) -> None:
    frame = pd.DataFrame({name: [1, 2]})
    out = duckdb_runner()({"t": frame}, f"SELECT {quote_identifier(name)} FROM t").to_pandas()
    assert list(out.columns) == [name]
    assert out[name].tolist() == [1, 2]


def test_empty_identifier_is_rejected_by_duckdb_not_run_as_something_else() -> None:
    with duckdb.connect(":memory:") as con, pytest.raises(duckdb.Error):
        con.execute(f"SELECT 1 AS {quote_identifier('')}")


def test_hostile_identifier_is_a_column_name_and_nothing_else() -> None:
    hostile = '"; DROP TABLE x; --'
    with duckdb.connect(":memory:") as con:
        con.execute("CREATE TABLE x (a INTEGER)")
        con.execute("INSERT INTO x VALUES (7)")
        out = con.execute(f"SELECT a AS {quote_identifier(hostile)} FROM x").df()
        assert list(out.columns) == [hostile]
        assert out[hostile].tolist() == [7]
        assert con.execute("SELECT COUNT(*) FROM x").fetchall() == [(1,)]  # x is still there
        con.execute(f"CREATE TABLE y ({quote_identifier(hostile)} INTEGER)")
        assert [c[0] for c in con.execute("SELECT * FROM y").description] == [hostile]


def test_hostile_literal_is_a_value_and_nothing_else() -> None:
    hostile = "'; DROP TABLE x; --"
    with duckdb.connect(":memory:") as con:
        con.execute("CREATE TABLE x (event_type VARCHAR)")
        con.execute(f"INSERT INTO x VALUES ({quote_literal(hostile)})")
        rows = con.execute(f"SELECT * FROM x WHERE event_type = {quote_literal(hostile)}")
        assert rows.fetchall() == [(hostile,)]


def test_parquet_path_with_a_quote_is_read(tmp_path: Path) -> None:
    path = tmp_path / "o'brien's events.parquet"
    pd.DataFrame({"a": [1, 2, 3]}).to_parquet(path)
    out = duckdb_runner()({"events": ParquetTable(path)}, "SELECT SUM(a) AS s FROM events")
    assert out.to_pandas()["s"].tolist() == [6]


def test_quoted_names_and_values_carry_over_to_spark_sql() -> None:
    sql = f"SELECT {quote_literal('a\\b')} AS {quote_identifier('x"y')}, {quote_literal("it's")}"
    assert to_spark_sql(sql) == "SELECT 'a\\\\b' AS `x\"y`, 'it\\'s'"
