"""The stages hand DuckDB the canonical events as a parquet file it scans itself, so that a
hundred million events never enter memory. Everything computed that way must equal what the
same code computes from the frame in memory."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.data.event_summaries import EventSpan, daily_totals, event_span
from churn.engines.sql import ParquetTable
from churn.errors import LabelError
from churn.features import FeatureSpec, build_features
from churn.labels import build_labels, cutoff_table, observed_until
from churn.modeling.clv import rfm_summary
from churn.scoring.value import purchase_value
from churn.settings import CutoffSchedule, EventLabelSettings, FeatureSettings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from synthetic import synthetic_events


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    frame = synthetic_events(20_000, seed=3, events_per_customer=25, missing_order_fraction=0.1)
    # a purchase with an unknown amount: its day's total is unknown, as in rfm_summary
    frame.loc[frame.index[frame["event_type"] == "purchase"][:3], "amount"] = np.nan
    return frame


@pytest.fixture(scope="module")
def on_disk(events: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> ParquetTable:
    path = tmp_path_factory.mktemp("canonical") / "events.parquet"
    events.to_parquet(path)
    return ParquetTable(path)


def settings() -> EventLabelSettings:
    return EventLabelSettings(
        activity_event_types=["purchase"],
        horizon_days=30,
        train_cutoffs=CutoffSchedule(dates=[dt.date(2023, m, 1) for m in range(3, 11)]),
        test_cutoff=dt.date(2023, 12, 1),
    )


def test_span_of_the_file_is_the_span_of_the_frame(
    events: pd.DataFrame, on_disk: ParquetTable
) -> None:
    span = event_span(on_disk)
    assert span == EventSpan.of_frame(events)
    assert span.n_events == len(events)
    assert span.event_types == ("purchase", "return", "visit")
    assert observed_until(span) == observed_until(events)


def test_labels_from_the_file_equal_labels_from_the_frame(
    events: pd.DataFrame, on_disk: ParquetTable
) -> None:
    cutoffs = cutoff_table(settings(), observed_until(events))
    expected = build_labels(events, cutoffs, settings())
    pd.testing.assert_frame_equal(build_labels(on_disk, cutoffs, settings()), expected)


def test_features_from_the_file_equal_features_from_the_frame(
    events: pd.DataFrame, on_disk: ParquetTable
) -> None:
    pairs = build_labels(events, cutoff_table(settings(), observed_until(events)), settings())
    spec = FeatureSpec(
        settings=FeatureSettings(event_types=["purchase", "return", "visit"]),
        activity_event_types=("purchase",),
        event_attributes=("channel",),
    )
    expected = build_features(events, pairs, spec)
    pd.testing.assert_frame_equal(build_features(on_disk, pairs, spec), expected)


@pytest.mark.parametrize("cutoff", ["2023-04-01", "2023-09-15", "2024-01-01"])
def test_daily_totals_give_the_same_purchase_histories(
    events: pd.DataFrame, on_disk: ParquetTable, cutoff: str
) -> None:
    purchases = events[events["event_type"] == "purchase"]
    daily = daily_totals(on_disk, ["purchase"])
    assert len(daily) < len(purchases)
    assert daily["ts"].eq(daily["ts"].dt.floor("D")).all()
    expected = rfm_summary(purchases, pd.Timestamp(cutoff))
    got = rfm_summary(daily, pd.Timestamp(cutoff))
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)
    # the days with an unknown amount stay unknown rather than counting as zero
    assert got["mean_repeat_spend"].isna().sum() == expected["mean_repeat_spend"].isna().sum()


def test_value_from_daily_totals_equals_value_from_events(
    events: pd.DataFrame, on_disk: ParquetTable
) -> None:
    cutoff = pd.Timestamp("2023-11-01")
    purchases = events[events["event_type"] == "purchase"]
    returns = events[events["event_type"] == "return"]
    expected = purchase_value(purchases, cutoff, 30, returns)
    got = purchase_value(
        daily_totals(on_disk, ["purchase"]), cutoff, 30, daily_totals(on_disk, ["return"])
    )
    # same inputs to the last bits or so: the Gamma-Gamma optimiser then stops within its
    # tolerance of the same optimum, and its parameters are rounded to 4 significant digits
    # (SIGNIFICANT_DIGITS), which may round the two fits' last digit apart
    pd.testing.assert_series_equal(got, expected, check_exact=False, rtol=1e-3)


def test_no_event_types_give_an_empty_history(on_disk: ParquetTable) -> None:
    empty = daily_totals(on_disk, [])
    assert list(empty.columns) == ["customer_id", "ts", "amount"] and empty.empty


def test_an_empty_cutoff_names_the_span_of_the_file(on_disk: ParquetTable) -> None:
    early = EventLabelSettings(
        activity_event_types=["purchase"],
        horizon_days=30,
        train_cutoffs=CutoffSchedule(dates=[dt.date(2022, 4, 1), dt.date(2022, 6, 1)]),
        test_cutoff=dt.date(2023, 12, 1),
    )
    cutoffs = cutoff_table(early, dt.date(2024, 1, 1))
    with pytest.raises(LabelError, match=r"runs from 2023-01-01 to 2023-12-3\d"):
        build_labels(on_disk, cutoffs, early)
