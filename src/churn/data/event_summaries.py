"""Small summaries of the canonical events, computed by the engine so that the events themselves
never have to be held in memory: their time span and types, and daily purchase totals.

Both read the ``events`` table as the SQL engine gets it (a frame, or a parquet file that
DuckDB scans out of core; see :class:`churn.engines.sql.ParquetTable`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from churn.data.parsing import event_type_matches
from churn.engines.sql import (
    SqlRunner,
    Table,
    day_of,
    days_to_timestamp,
    duckdb_runner,
    quote_literal,
)


@dataclass(frozen=True)
class EventSpan:
    """First and last event time (UTC, no time zone), the number of events and the event
    types present, sorted."""

    first: pd.Timestamp | None
    last: pd.Timestamp | None
    n_events: int
    event_types: tuple[str, ...]

    @classmethod
    def of_frame(cls, events: pd.DataFrame) -> EventSpan:
        if events.empty:
            return cls(None, None, 0, ())
        types = tuple(sorted(str(t) for t in events["event_type"].dropna().unique()))
        return cls(
            pd.Timestamp(events["ts"].min()), pd.Timestamp(events["ts"].max()), len(events), types
        )


def event_span(events: Table, run_sql: SqlRunner | None = None) -> EventSpan:
    """The :class:`EventSpan` of ``events`` (canonical), in two small aggregate queries."""
    if isinstance(events, pd.DataFrame):
        return EventSpan.of_frame(events)
    run = run_sql or duckdb_runner()
    bounds = run(
        {"events": events}, "SELECT MIN(ts) AS first, MAX(ts) AS last, COUNT(*) AS n FROM events"
    ).to_pandas()
    types = run(
        {"events": events},
        "SELECT DISTINCT event_type FROM events WHERE event_type IS NOT NULL ORDER BY 1",
    ).to_pandas()
    n = int(bounds["n"].iloc[0])
    if n == 0:
        return EventSpan(None, None, 0, ())
    return EventSpan(
        pd.Timestamp(bounds["first"].iloc[0]),
        pd.Timestamp(bounds["last"].iloc[0]),
        n,
        tuple(str(t) for t in types["event_type"]),
    )


def amounts_written(
    events: Table, event_types: Sequence[str], run_sql: SqlRunner | None = None
) -> int:
    """How many events of ``event_types`` carry an amount, in one aggregate query."""
    if not event_types:
        return 0
    types = ", ".join(quote_literal(t) for t in event_type_matches(event_types))
    sql = f"SELECT COUNT(amount) AS n FROM events WHERE event_type IN ({types})"
    counted = (run_sql or duckdb_runner())({"events": events}, sql).to_pandas()
    return int(counted["n"].iloc[0])


def daily_totals_sql(event_types: Sequence[str], where: str | None = None) -> str:
    """The query of :func:`daily_totals` on table ``events``: ``customer_id``, ``day`` (days
    since 1970-01-01) and ``amount``, one row per customer and day, of the events ``where``
    (a SQL condition) keeps, if given. ``event_types`` not empty."""
    types = ", ".join(quote_literal(t) for t in event_type_matches(event_types))
    kept = "" if where is None else f" AND ({where})"
    return f"""
    SELECT customer_id, {day_of("ts")} AS day,
        CASE WHEN COUNT(amount) = COUNT(*) THEN SUM(CAST(amount AS DOUBLE)) END AS amount
    FROM events
    WHERE event_type IN ({types}) AND customer_id IS NOT NULL{kept}
    GROUP BY customer_id, {day_of("ts")}
    ORDER BY customer_id, day
    """


def daily_totals(
    events: Table,
    event_types: Sequence[str],
    run_sql: SqlRunner | None = None,
    *,
    where: str | None = None,
) -> pd.DataFrame:
    """One row per customer and day with events of ``event_types``: ``customer_id``, ``ts``
    (that day at midnight) and ``amount`` (the day's total; missing if any of the day's amounts
    is missing), sorted by customer and day.

    What the purchase-history models read (``churn.modeling.clv.rfm_summary`` merges each day's
    purchases into one transaction; returned value is summed per customer), in a frame a few
    times smaller than the events, whatever the engine keeps them in.
    """
    if not event_types:
        return pd.DataFrame(
            {
                "customer_id": pd.Series([], dtype=object),
                "ts": pd.Series([], dtype="datetime64[us]"),
                "amount": pd.Series([], dtype="float64"),
            }
        )
    sql = daily_totals_sql(event_types, where)
    table = (run_sql or duckdb_runner())({"events": events}, sql)
    ids = table.column("customer_id")
    out = table.drop_columns(["customer_id"]).to_pandas()
    return pd.DataFrame(
        {
            "customer_id": pd.Series(_shared_objects(ids), dtype=object),
            "ts": days_to_timestamp(out["day"]),
            "amount": out["amount"].astype("float64"),
        }
    )


def _shared_objects(column: pa.ChunkedArray) -> np.ndarray:
    """A text column as Python objects, one object per distinct value shared by its rows (a
    customer's days are many rows of one id): a fraction of the memory of one string per row,
    the same values. Other types as ``to_pandas`` gives them, as objects."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        codes = pc.dictionary_encode(column).combine_chunks()
        values = np.asarray(codes.dictionary.to_pylist(), dtype=object)
        shared: np.ndarray = values[codes.indices.to_numpy(zero_copy_only=False)]
        return shared
    objects: np.ndarray = column.to_pandas().astype(object).to_numpy()
    return objects
