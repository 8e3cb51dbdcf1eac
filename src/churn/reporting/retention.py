"""Business retention metrics: churn rate per cutoff, cohort retention, repeat purchase rate and
the distribution of customer value at risk.

Nothing here reads or writes a file. The churn rate, cohorts and repeat purchases are computed
from the labels and the events by the SQL engine (:mod:`churn.reporting.activity_summaries`),
so either may be a frame or a parquet file scanned in place, and only small aggregates reach
pandas. ``churn report`` and the notebooks draw them with
:mod:`churn.reporting.retention_figures`.

Inputs
------
``labels``: ``labels.parquet`` (``customer_id``, ``cutoff``, ``churned``, ``split``).
``events``: canonical events (``customer_id``, ``ts`` naive UTC datetimes, ``event_type``, ...);
only events whose type is in ``activity_event_types`` count as activity (purchases).
``scores``: ``scores.parquet`` (:func:`churn.scoring.ranking.score_columns`).
``run_sql``: the engine the SQL runs on (DuckDB when not given).

Conventions
-----------
* A customer's *cohort* is the calendar period (month by default) of their first activity in
  the data. Customers who were already buying before the data starts land in its first cohort,
  so that cohort mixes new and old customers.
* Periods are counted in whole calendar periods: a customer first active on 31 January and
  again on 1 February is active in period 1 of the January cohort.
* ``end`` is the first moment the data does not cover (default: midnight after the last
  event, as :func:`churn.labels.observed_until`). A period that ends after it is not fully
  observed and is left out, so a half-observed last month never reads as a drop in retention.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from churn.engines.sql import SqlRunner, Table
from churn.reporting.activity_summaries import (
    active_by_period,
    labelled_by_cutoff,
    last_event,
    repeats_by_first_day,
    table_columns,
)
from churn.reporting.list_values import VALUE_MEASURES, list_values
from churn.validation import check_choice, check_int, require_columns


@dataclass(frozen=True)
class Activity:
    """The events behind the report's retention charts (an events pipeline's): ``events`` as
    above (a frame, or the parquet file the engine scans in place), the
    ``activity_event_types`` that count as activity, the label horizon and the engine the
    retention queries run on (DuckDB when None)."""

    events: Table
    activity_event_types: list[str]
    horizon_days: int
    run_sql: SqlRunner | None = None


Period = Literal["W", "M", "Q"]
PERIODS: tuple[str, ...] = ("W", "M", "Q")
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9, 0.99)

CHURN_RATE_COLUMNS = ("cutoff", "split", "eligible", "churners", "churn_rate")
COHORT_COLUMNS = ("cohort", "period", "cohort_size", "active", "retention")
REPEAT_COLUMNS = ("cohort", "customers", "repeat_customers", "repeat_rate")
TIER_COLUMNS = (
    "risk_tier",
    "customers",
    "mean_churn_probability",
    "expected_value",
    "value_at_risk",
    "share_of_value_at_risk",
)


# --------------------------------------------------------------------------- input checks


def _require(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    require_columns(frame, columns, what=f"'{name}'")


def _require_table(
    table: Table, columns: tuple[str, ...], name: str, run_sql: SqlRunner | None
) -> None:
    present = table if isinstance(table, pd.DataFrame) else table_columns(table, run_sql)
    _require(pd.DataFrame(columns=list(present)), columns, name)


def _check_period(period: str) -> None:
    check_choice("period", period, PERIODS, meaning="week, month, quarter")


def _check_activity(
    events: Table,
    activity_event_types: list[str] | tuple[str, ...],
    run_sql: SqlRunner | None,
) -> None:
    _require_table(events, ("customer_id", "ts", "event_type"), "events", run_sql)
    if not len(activity_event_types):
        raise ValueError(
            "The 'activity_event_types' parameter must name at least one event type "
            "(e.g. ['purchase']). Got an empty list instead."
        )


def _end_of_data(
    events: Table, end: pd.Timestamp | None, run_sql: SqlRunner | None
) -> pd.Timestamp:
    if end is not None:
        return pd.Timestamp(end)
    last = last_event(events, run_sql)
    if last is None:
        raise ValueError("'events' is empty: there is no activity to measure retention on.")
    return last.floor("D") + pd.Timedelta(days=1)


# --------------------------------------------------------------------------- churn rate


def churn_rate_by_cutoff(labels: Table, *, run_sql: SqlRunner | None = None) -> pd.DataFrame:
    """Churn rate at every labelled cutoff.

    Parameters
    ----------
    labels : ``labels.parquet`` (a frame or the file): one row per eligible (customer, cutoff)
        with ``churned`` (missing where the cutoff's window is not observed, e.g. the scoring
        cutoff).

    Returns
    -------
    DataFrame, one row per cutoff with a label, ascending: ``cutoff``, ``split`` (train,
    purged, valid, test; for a snapshot the splits are joined with "+"), ``eligible``
    (customers, int), ``churners`` (int), ``churn_rate`` (0-1).
    """
    _require_table(labels, ("customer_id", "cutoff", "churned", "split"), "labels", run_sql)
    known = labelled_by_cutoff(labels, run_sql)
    if known.empty:
        return pd.DataFrame({c: [] for c in CHURN_RATE_COLUMNS}).astype(
            {"cutoff": "datetime64[us]", "eligible": "int64", "churners": "int64"}
        )
    grouped = known.groupby("cutoff", sort=True)
    out = pd.DataFrame(
        {
            "split": grouped["split"].agg(lambda s: "+".join(sorted(set(map(str, s))))),
            "eligible": grouped["eligible"].sum().astype("int64"),
            "churners": grouped["churners"].sum().astype("int64"),
        }
    )
    out["churn_rate"] = out["churners"] / out["eligible"]
    return out.rename_axis("cutoff").reset_index()[list(CHURN_RATE_COLUMNS)]


# --------------------------------------------------------------------------- cohorts


def _ordinals(starts: pd.Series, period: Period) -> pd.Series:
    """The pandas period ordinal of each period start."""
    return pd.Series(pd.PeriodIndex(starts.dt.to_period(period)).asi8, index=starts.index)


def _ordinal_starts(ordinals: pd.Series, period: Period) -> pd.Series:
    starts = {
        o: pd.Period(ordinal=int(o), freq=period).start_time for o in ordinals.unique().tolist()
    }
    return ordinals.map(starts).astype("datetime64[us]")


def cohort_retention(
    events: Table,
    activity_event_types: list[str] | tuple[str, ...],
    *,
    period: Period = "M",
    max_periods: int = 12,
    end: pd.Timestamp | None = None,
    run_sql: SqlRunner | None = None,
) -> pd.DataFrame:
    """The retention triangle: the share of each cohort active in each period since its first.

    Parameters
    ----------
    events : canonical events (a frame, or the parquet file the engine scans in place).
    activity_event_types : event types that count as activity, e.g. ``["purchase"]``.
    period : "M" (calendar months, default), "W" (weeks starting Monday) or "Q" (quarters).
    max_periods : periods after the first to report (period 0, the first, is always 100 %).
    end : first moment not covered by the data (default: midnight after the last event);
        periods ending after it are not fully observed and left out.

    Returns
    -------
    DataFrame, one row per (cohort, period) observed, sorted by cohort then period:
    ``cohort`` (timestamp of the cohort period's start), ``period`` (0..max_periods, periods
    since the first), ``cohort_size`` (customers whose first activity is in the cohort, int),
    ``active`` (of those, active in that period, int) and ``retention`` (active / cohort_size,
    0-1). Periods in which nobody of the cohort was active appear with ``active`` 0. Cohorts
    whose first period is not fully observed are left out.
    """
    check_int("max_periods", max_periods)
    _check_period(period)
    _check_activity(events, activity_event_types, run_sql)
    stop = _end_of_data(events, end, run_sql)
    counts = active_by_period(events, activity_event_types, period, run_sql)
    # the last period whose end (the start of the next one) is no later than ``stop``
    last_full = int(pd.Period(stop, freq=period).ordinal) - 1
    cohort = _ordinals(counts["cohort"], period)
    ordinal = _ordinals(counts["period_start"], period)
    sizes = counts.loc[ordinal == cohort, "active"].set_axis(cohort[ordinal == cohort])
    sizes = sizes[sizes.index <= last_full]
    if sizes.empty:
        return _empty_cohorts()
    frame = pd.DataFrame(
        {
            "cohort": cohort,
            "ordinal": ordinal,
            "period": ordinal - cohort,
            "active": counts["active"],
        }
    )
    seen = frame[(frame["ordinal"] <= last_full) & (frame["period"] <= max_periods)]
    active = seen.set_index(["cohort", "period"])["active"]
    grid = [(c, k) for c in sizes.index for k in range(min(max_periods, last_full - int(c)) + 1)]
    index = pd.MultiIndex.from_tuples(grid, names=["cohort", "period"])
    out = active.reindex(index, fill_value=0).rename("active").reset_index()
    out["cohort_size"] = out["cohort"].map(sizes).astype("int64")
    out["active"] = out["active"].astype("int64")
    out["period"] = out["period"].astype("int64")
    out["retention"] = out["active"] / out["cohort_size"]
    out["cohort"] = _ordinal_starts(out["cohort"], period)
    return out[list(COHORT_COLUMNS)]


def _empty_cohorts() -> pd.DataFrame:
    return pd.DataFrame({c: [] for c in COHORT_COLUMNS}).astype(
        {"cohort": "datetime64[us]", "period": "int64", "cohort_size": "int64", "active": "int64"}
    )


def retention_matrix(cohorts: pd.DataFrame) -> pd.DataFrame:
    """The triangle of :func:`cohort_retention` as a wide table: one row per cohort (index
    ``cohort``), one column per period since the first (0, 1, ...), retention 0-1; NaN where
    the period is not observed yet."""
    _require(cohorts, COHORT_COLUMNS, "cohorts")
    wide = cohorts.pivot(index="cohort", columns="period", values="retention")
    wide.columns = [int(c) for c in wide.columns]
    return wide.sort_index()


# --------------------------------------------------------------------------- repeat purchases


@dataclass(frozen=True)
class RepeatPurchaseRates:
    """Customers who came back for a second purchase day."""

    customers: int
    """Customers counted (those of the cohorts observed long enough when ``within_days`` is
    set)."""
    repeat_customers: int
    """Of those, customers with a second purchase day (within ``within_days`` if set)."""
    by_cohort: pd.DataFrame
    """One row per cohort: ``cohort`` (period start), ``customers``, ``repeat_customers``,
    ``repeat_rate`` (0-1)."""

    @property
    def overall(self) -> float:
        """Share of all counted customers who repeated (0-1; NaN when nobody is counted)."""
        return self.repeat_customers / self.customers if self.customers else float("nan")


def repeat_purchase_rate(
    events: Table,
    activity_event_types: list[str] | tuple[str, ...],
    *,
    period: Period = "M",
    within_days: int | None = None,
    end: pd.Timestamp | None = None,
    run_sql: SqlRunner | None = None,
) -> RepeatPurchaseRates:
    """Share of customers with purchases on two or more different days, overall and per cohort.

    Parameters
    ----------
    events, activity_event_types, period, end, run_sql : as in :func:`cohort_retention`.
    within_days : if set, a repeat counts only when the second purchase day is less than this
        many days after the first, and only cohorts whose period ends at least this many days
        before ``end`` are counted, so every customer counted had the same time to come back.
        If None, any later purchase day in the data counts, and recent cohorts read low
        because they have had less time.

    Returns
    -------
    :class:`RepeatPurchaseRates`; cohorts with no counted customer are left out.
    """
    _check_period(period)
    if within_days is not None:
        check_int("within_days", within_days)
    _check_activity(events, activity_event_types, run_sql)
    stop = _end_of_data(events, end, run_sql)
    firsts = repeats_by_first_day(events, activity_event_types, within_days, run_sql)
    cohort = firsts["first_day"].dt.to_period(period)
    if within_days is not None:
        # whole cohorts or none: a cohort's last customers need the window too
        cohort_end = cohort.dt.end_time.dt.floor("D") + pd.Timedelta(days=1)
        firsts = firsts[cohort_end + pd.Timedelta(days=within_days) <= stop]
        cohort = cohort[firsts.index]
    grouped = firsts.groupby(cohort.dt.start_time.rename("cohort"), sort=True)
    by_cohort = pd.DataFrame(
        {
            "customers": grouped["customers"].sum().astype("int64"),
            "repeat_customers": grouped["repeat_customers"].sum().astype("int64"),
        }
    )
    by_cohort["repeat_rate"] = by_cohort["repeat_customers"] / by_cohort["customers"]
    by_cohort = by_cohort.rename_axis("cohort").reset_index()[list(REPEAT_COLUMNS)]
    by_cohort["cohort"] = by_cohort["cohort"].astype("datetime64[us]")
    return RepeatPurchaseRates(
        customers=int(firsts["customers"].sum()),
        repeat_customers=int(firsts["repeat_customers"].sum()),
        by_cohort=by_cohort,
    )


# --------------------------------------------------------------------------- value at risk


@dataclass(frozen=True)
class ClvSummary:
    """How customer value over the horizon is spread, and how much of it is at risk."""

    distribution: pd.DataFrame
    """One row per measure (``expected_value``, ``value_at_risk``): ``measure``,
    ``customers``, ``total``, ``mean``, quantiles ``q10``, ``q25``, ``q50``, ``q75``, ``q90``,
    ``q99``, ``max`` (currency), and ``top_decile_share`` (share of the total held by the 10 %
    of customers with the largest values, 0-1)."""
    by_tier: pd.DataFrame
    """One row per risk tier, High first: ``risk_tier``, ``customers``,
    ``mean_churn_probability``, ``expected_value`` and ``value_at_risk`` (sums, currency),
    ``share_of_value_at_risk`` (0-1)."""


def _distribution_row(name: str, values: pd.Series) -> dict[str, object]:
    v = values.astype("float64").dropna().to_numpy()
    total = float(v.sum())
    row: dict[str, object] = {"measure": name, "customers": len(v), "total": total}
    row["mean"] = float(v.mean()) if len(v) else float("nan")
    for q in QUANTILES:
        row[f"q{round(q * 100)}"] = float(np.quantile(v, q)) if len(v) else float("nan")
    row["max"] = float(v.max()) if len(v) else float("nan")
    top = int(np.ceil(0.1 * len(v)))
    top_sum = float(np.sort(v)[::-1][:top].sum())
    row["top_decile_share"] = top_sum / total if total > 0 else float("nan")
    return row


def clv_summary(scores: pd.DataFrame) -> ClvSummary:
    """Distribution of ``expected_value`` and ``value_at_risk``, and value at risk per tier.

    Parameters
    ----------
    scores : ``scores.parquet``, one row per scored customer with ``churn_probability``,
        ``risk_tier``, ``expected_value`` and ``value_at_risk`` (currency over the horizon).
        Quantiles use numpy's default (linear interpolation).

    Returns
    -------
    :class:`ClvSummary`. Every tier (High, Medium, Low) has a row, with zeros when empty.
    """
    _require(scores, ("churn_probability", "risk_tier", *VALUE_MEASURES), "scores")
    distribution = pd.DataFrame([_distribution_row(m, scores[m]) for m in VALUE_MEASURES])
    return ClvSummary(distribution, list_values(lambda columns: [scores[columns]]).by_tier)
