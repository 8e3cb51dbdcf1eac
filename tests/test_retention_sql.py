"""The report's retention figures come from SQL aggregates over the events and labels (a frame or
a parquet file scanned in place). They must equal, frame for frame, what the in-memory pandas
definition computed before, on generated, messy event logs: odd ids, events at midnight and
at the last second of a month, non-activity event types, customers with no activity at all,
weeks, months and quarters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.data.parsing import event_type_matches
from churn.engines.sql import ParquetTable
from churn.reporting.retention import (
    CHURN_RATE_COLUMNS,
    COHORT_COLUMNS,
    REPEAT_COLUMNS,
    churn_rate_by_cutoff,
    cohort_retention,
    repeat_purchase_rate,
)

ACTIVITY = ["Order Placed", "renewal"]


def messy_events(seed: int, n_customers: int = 300) -> pd.DataFrame:
    """Events over about two years: per customer a start, a rate and a lapse; a fifth of the
    events are visits (not activity); some customers only visit."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2022-11-30 23:59:59")
    ids = [f"c'{i}\"é" if i % 7 == 0 else f"{i:05d}" for i in range(n_customers)]
    rows: list[tuple[str, pd.Timestamp, str, float]] = []
    for cid in ids:
        first = int(rng.integers(0, 500))
        n = int(rng.geometric(0.15))
        days = np.sort(first + rng.exponential(40, n).cumsum().astype(int))
        visitor = rng.random() < 0.1
        for day in days[days < 760]:
            seconds = int(rng.choice([0, 1, 86_399, int(rng.integers(0, 86_400))]))
            ts = start + pd.Timedelta(days=int(day), seconds=seconds)
            kind = "visit" if visitor or rng.random() < 0.2 else str(rng.choice(ACTIVITY))
            rows.append((cid, ts, kind, float(rng.gamma(2, 10))))
    frame = pd.DataFrame(rows, columns=["customer_id", "ts", "event_type", "amount"])
    frame["ts"] = frame["ts"].astype("datetime64[us]")
    # as ingest writes event types (keys), with one table written by hand (as named)
    keys = {"Order Placed": "order_placed"} if seed % 2 else {}
    frame["event_type"] = frame["event_type"].replace(keys)
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


# ---------------------------------------------------------------- the earlier pandas definition


def _activity(events: pd.DataFrame, types: list[str]) -> pd.DataFrame:
    mask = events["event_type"].isin(event_type_matches(types))
    return events.loc[mask, ["customer_id", "ts"]]


def _stop(events: pd.DataFrame, end: pd.Timestamp | None) -> pd.Timestamp:
    if end is not None:
        return pd.Timestamp(end)
    return pd.Timestamp(events["ts"].max()).floor("D") + pd.Timedelta(days=1)


def reference_cohorts(
    events: pd.DataFrame, period: str, max_periods: int, end: pd.Timestamp | None
) -> pd.DataFrame:
    activity = _activity(events, ACTIVITY)
    ordinal = pd.PeriodIndex(activity["ts"].dt.to_period(period)).asi8
    frame = pd.DataFrame({"customer_id": activity["customer_id"].to_numpy(), "ordinal": ordinal})
    frame = frame.drop_duplicates()
    frame["cohort"] = frame.groupby("customer_id")["ordinal"].transform("min")
    last_full = int(pd.Period(_stop(events, end), freq=period).ordinal) - 1
    sizes = frame.groupby("cohort")["customer_id"].nunique()
    sizes = sizes[sizes.index <= last_full]
    frame["period"] = frame["ordinal"] - frame["cohort"]
    seen = frame[(frame["ordinal"] <= last_full) & (frame["period"] <= max_periods)]
    active = seen.groupby(["cohort", "period"])["customer_id"].nunique()
    grid = [(c, k) for c in sizes.index for k in range(min(max_periods, last_full - int(c)) + 1)]
    index = pd.MultiIndex.from_tuples(grid, names=["cohort", "period"])
    out = active.reindex(index, fill_value=0).rename("active").reset_index()
    out["cohort_size"] = out["cohort"].map(sizes).astype("int64")
    out["active"] = out["active"].astype("int64")
    out["period"] = out["period"].astype("int64")
    out["retention"] = out["active"] / out["cohort_size"]
    starts = {o: pd.Period(ordinal=int(o), freq=period).start_time for o in out["cohort"]}
    out["cohort"] = out["cohort"].map(starts).astype("datetime64[us]")
    return out[list(COHORT_COLUMNS)]


def reference_repeats(
    events: pd.DataFrame, period: str, within_days: int | None, end: pd.Timestamp | None
) -> tuple[int, int, pd.DataFrame]:
    activity = _activity(events, ACTIVITY)
    stop = _stop(events, end)
    days = pd.DataFrame(
        {"customer_id": activity["customer_id"].to_numpy(), "day": activity["ts"].dt.floor("D")}
    ).drop_duplicates()
    days = days.sort_values(["customer_id", "day"], kind="stable")
    nth = days.groupby("customer_id").cumcount()
    first = days[nth == 0].set_index("customer_id")["day"]
    second = days[nth == 1].set_index("customer_id")["day"].reindex(first.index)
    if within_days is None:
        counted = pd.Series(True, index=first.index)
        repeated = second.notna()
    else:
        window = pd.Timedelta(days=within_days)
        cohort_end = first.dt.to_period(period).dt.end_time.dt.floor("D") + pd.Timedelta(days=1)
        counted = cohort_end + window <= stop
        repeated = second.notna() & (second < first + window)
    per_customer = pd.DataFrame(
        {
            "cohort": first[counted].dt.to_period(period).dt.start_time.to_numpy(),
            "repeated": repeated[counted].to_numpy(dtype=bool),
        }
    )
    grouped = per_customer.groupby("cohort", sort=True)["repeated"]
    by_cohort = pd.DataFrame(
        {
            "customers": grouped.size().astype("int64"),
            "repeat_customers": grouped.sum().astype("int64"),
        }
    )
    by_cohort["repeat_rate"] = by_cohort["repeat_customers"] / by_cohort["customers"]
    by_cohort = by_cohort.rename_axis("cohort").reset_index()[list(REPEAT_COLUMNS)]
    by_cohort["cohort"] = by_cohort["cohort"].astype("datetime64[us]")
    return len(per_customer), int(per_customer["repeated"].sum()), by_cohort


# ---------------------------------------------------------------- the tests


@pytest.fixture(scope="module", params=[1, 2])
def events(request: pytest.FixtureRequest) -> pd.DataFrame:
    return messy_events(request.param)


@pytest.fixture(scope="module")
def on_disk(events: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> ParquetTable:
    path = tmp_path_factory.mktemp("canonical") / "events.parquet"
    events.to_parquet(path)
    return ParquetTable(path)


@pytest.mark.parametrize("period", ["W", "M", "Q"])
@pytest.mark.parametrize("end", [None, pd.Timestamp("2024-06-01")])
def test_cohorts_equal_the_pandas_definition(
    events: pd.DataFrame, on_disk: ParquetTable, period: str, end: pd.Timestamp | None
) -> None:
    max_periods = {"W": 30, "M": 12, "Q": 4}[period]
    expected = reference_cohorts(events, period, max_periods, end)
    assert len(expected) > 10
    for table in (events, on_disk):
        got = cohort_retention(table, ACTIVITY, period=period, max_periods=max_periods, end=end)  # type: ignore[arg-type]
        pd.testing.assert_frame_equal(got, expected)


@pytest.mark.parametrize("period", ["W", "M", "Q"])
@pytest.mark.parametrize("within_days", [None, 1, 30, 365])
def test_repeat_purchases_equal_the_pandas_definition(
    events: pd.DataFrame, on_disk: ParquetTable, period: str, within_days: int | None
) -> None:
    customers, repeaters, expected = reference_repeats(events, period, within_days, None)
    for table in (events, on_disk):
        got = repeat_purchase_rate(table, ACTIVITY, period=period, within_days=within_days)  # type: ignore[arg-type]
        assert (got.customers, got.repeat_customers) == (customers, repeaters)
        pd.testing.assert_frame_equal(got.by_cohort, expected)


def test_churn_rate_from_the_labels_file_equals_the_frame(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 5_000
    cutoffs = pd.to_datetime(["2023-01-01", "2023-02-01", "2023-03-01", "2023-04-01"])
    labels = pd.DataFrame(
        {
            "customer_id": [f"c{i % 900}" for i in range(n)],
            "cutoff": cutoffs[rng.integers(0, 4, n)].astype("datetime64[us]"),
            "churned": pd.array(rng.random(n) < 0.3, dtype="boolean"),
        }
    )
    labels["split"] = np.where(labels["cutoff"] < cutoffs[2], "train", "test")
    labels.loc[labels["cutoff"] == cutoffs[3], "churned"] = pd.NA  # the scoring cutoff
    labels.loc[labels.index[:40], "split"] = "purged"  # two splits on one cutoff
    known = labels[labels["churned"].notna()]
    path = tmp_path / "labels.parquet"
    labels.to_parquet(path)
    for table in (labels, ParquetTable(path)):
        out = churn_rate_by_cutoff(table)  # type: ignore[arg-type]
        assert list(out.columns) == list(CHURN_RATE_COLUMNS)
        assert out["cutoff"].tolist() == list(cutoffs[:3])
        assert out["eligible"].tolist() == known.groupby("cutoff").size().tolist()
        assert out["churners"].tolist() == known.groupby("cutoff")["churned"].sum().tolist()
        assert "purged" in out["split"].iloc[0] and "+" in out["split"].iloc[0]


def test_a_missing_column_of_the_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    messy_events(1).drop(columns="event_type").to_parquet(path)
    with pytest.raises(ValueError, match=r"'events' must have columns .* missing \['event_type'\]"):
        cohort_retention(ParquetTable(path), ACTIVITY)
