"""What the report's retention charts need from the canonical events and the labels, computed by
the SQL engine so that only small aggregates reach pandas: the events (a hundred million rows)
and the labels (one row per customer and cutoff) never have to fit in memory.

Each function takes its table as the engine reads it (a frame, or a parquet file DuckDB scans
out of core: :class:`churn.engines.sql.ParquetTable`) and a ``SqlRunner`` (DuckDB by default),
and returns a frame whose size follows the calendar (days, periods, cutoffs), not the events
or the customers. :mod:`churn.reporting.retention` turns them into the report's tables.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from churn.data.parsing import event_type_matches
from churn.engines.sql import (
    SqlRunner,
    Table,
    day_of,
    days_to_timestamp,
    duckdb_runner,
    quote_literal,
)

PERIOD_UNITS = {"W": "week", "M": "month", "Q": "quarter"}
"""Each period of :mod:`churn.reporting.retention` as a ``DATE_TRUNC`` unit (a week starts on
Monday in both DuckDB and Spark, as pandas' ``W`` periods do)."""


def _run(run_sql: SqlRunner | None) -> SqlRunner:
    return run_sql or duckdb_runner()


def table_columns(table: Table, run_sql: SqlRunner | None = None) -> list[str]:
    """The column names of ``table`` (a frame's own, or a file's from its schema: no rows
    read)."""
    if isinstance(table, pd.DataFrame):
        return [str(c) for c in table.columns]
    return list(_run(run_sql)({"t": table}, "SELECT * FROM t LIMIT 0").column_names)


def last_event(events: Table, run_sql: SqlRunner | None = None) -> pd.Timestamp | None:
    """The time of the last event of any type (None when there is none)."""
    out = _run(run_sql)({"events": events}, "SELECT MAX(ts) AS last FROM events").to_pandas()
    last = out["last"].iloc[0]
    return None if pd.isna(last) else pd.Timestamp(last)


def _activity_filter(activity_event_types: Sequence[str]) -> str:
    types = ", ".join(quote_literal(t) for t in event_type_matches(activity_event_types))
    return f"event_type IN ({types}) AND customer_id IS NOT NULL AND ts IS NOT NULL"


def active_by_period(
    events: Table,
    activity_event_types: Sequence[str],
    period: str,
    run_sql: SqlRunner | None = None,
) -> pd.DataFrame:
    """Customers active in each period, by the period of their first activity.

    Returns one row per (cohort, period) with activity, sorted: ``cohort`` and
    ``period_start`` (timestamps of the periods' starts) and ``active`` (distinct customers of
    the cohort with an event of ``activity_event_types`` in that period, int). The cohort's
    size is its row where ``period_start`` equals ``cohort``."""
    unit = quote_literal(PERIOD_UNITS[period])
    sql = f"""
    WITH active AS (
        SELECT DISTINCT customer_id, DATE_TRUNC({unit}, CAST(ts AS TIMESTAMP)) AS period_start
        FROM events
        WHERE {_activity_filter(activity_event_types)}
    ), cohorts AS (
        SELECT customer_id, MIN(period_start) AS cohort FROM active GROUP BY customer_id
    )
    SELECT c.cohort AS cohort, a.period_start AS period_start, COUNT(*) AS active
    FROM active AS a JOIN cohorts AS c ON a.customer_id = c.customer_id
    GROUP BY c.cohort, a.period_start
    ORDER BY cohort, period_start
    """
    out = _run(run_sql)({"events": events}, sql).to_pandas()
    return pd.DataFrame(
        {
            "cohort": pd.to_datetime(out["cohort"]).astype("datetime64[us]"),
            "period_start": pd.to_datetime(out["period_start"]).astype("datetime64[us]"),
            "active": out["active"].astype("int64"),
        }
    )


def repeats_by_first_day(
    events: Table,
    activity_event_types: Sequence[str],
    within_days: int | None,
    run_sql: SqlRunner | None = None,
) -> pd.DataFrame:
    """Customers by the day of their first activity, and how many came back on a later day.

    Returns one row per first day, sorted: ``first_day`` (midnight timestamp), ``customers``
    and ``repeat_customers`` (ints): those with activity on a second, later day (less than
    ``within_days`` days after the first when it is set)."""
    within = (
        "s.second_day IS NOT NULL"
        if within_days is None
        else f"s.second_day - f.first_day < {int(within_days)}"
    )
    sql = f"""
    WITH days AS (
        SELECT DISTINCT customer_id, {day_of("ts")} AS day
        FROM events
        WHERE {_activity_filter(activity_event_types)}
    ), firsts AS (
        SELECT customer_id, MIN(day) AS first_day FROM days GROUP BY customer_id
    ), seconds AS (
        SELECT d.customer_id AS customer_id, MIN(d.day) AS second_day
        FROM days AS d JOIN firsts AS f ON d.customer_id = f.customer_id
        WHERE d.day > f.first_day
        GROUP BY d.customer_id
    )
    SELECT f.first_day AS first_day, COUNT(*) AS customers,
        SUM(CASE WHEN {within} THEN 1 ELSE 0 END) AS repeat_customers
    FROM firsts AS f LEFT JOIN seconds AS s ON f.customer_id = s.customer_id
    GROUP BY f.first_day
    ORDER BY first_day
    """
    out = _run(run_sql)({"events": events}, sql).to_pandas()
    return pd.DataFrame(
        {
            "first_day": days_to_timestamp(out["first_day"]),
            "customers": out["customers"].astype("int64"),
            "repeat_customers": out["repeat_customers"].astype("int64"),
        }
    )


def labelled_by_cutoff(labels: Table, run_sql: SqlRunner | None = None) -> pd.DataFrame:
    """Labelled rows per cutoff and split (rows whose ``churned`` is missing left out).

    Returns one row per (cutoff, split) with a label, sorted: ``cutoff`` (timestamp),
    ``split`` (text), ``eligible`` and ``churners`` (ints)."""
    sql = """
    SELECT cutoff, CAST(split AS VARCHAR) AS split, COUNT(*) AS eligible,
        SUM(CASE WHEN CAST(churned AS BOOLEAN) THEN 1 ELSE 0 END) AS churners
    FROM labels
    WHERE churned IS NOT NULL
    GROUP BY cutoff, CAST(split AS VARCHAR)
    ORDER BY cutoff, split
    """
    out = _run(run_sql)({"labels": labels}, sql).to_pandas()
    return pd.DataFrame(
        {
            "cutoff": out["cutoff"],
            "split": out["split"].astype(object),
            "eligible": out["eligible"].astype("int64"),
            "churners": out["churners"].astype("int64"),
        }
    )
