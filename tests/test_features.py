"""Behaviour features on tiny hand-made histories: windows, ties at the cutoff, empty
histories, and the point-in-time guarantee."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import churn.features
from churn.engines.sql import to_spark_sql
from churn.features import FeatureSpec, build_features, feature_catalogue, features_sql
from tests.conftest import events_frame

CUTOFF = pd.Timestamp("2024-03-01")


def pairs(*customers: str, cutoff: pd.Timestamp = CUTOFF) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": list(customers), "cutoff": cutoff})


def one_row(frame: pd.DataFrame, customer: str) -> pd.Series:
    return frame.set_index("customer_id").loc[customer]


def test_customer_with_one_event(spec: FeatureSpec) -> None:
    events = events_frame([("a", "2024-02-20 15:00", "purchase", 10.0)])
    row = one_row(build_features(events, pairs("a"), spec), "a")
    assert row["days_since_last_activity"] == 10
    assert row["days_since_first_activity"] == 10
    assert row["orders_total"] == 1 and row["spend_total"] == 10.0
    assert row["orders_7d"] == 0 and row["orders_30d"] == 1
    assert np.isnan(row["gap_mean_days"]) and np.isnan(row["overdue_ratio"])


def test_empty_history_gives_zero_counts_and_missing_recency(spec: FeatureSpec) -> None:
    events = events_frame([("a", "2024-02-20", "purchase", 10.0)])
    out = build_features(events, pairs("a", "nobody"), spec)
    row = one_row(out, "nobody")
    assert row["orders_total"] == 0 and row["spend_total"] == 0 and row["active_days_30d"] == 0
    assert np.isnan(row["days_since_last_activity"])
    assert len(out) == 2


def test_event_at_the_cutoff_is_not_seen_but_the_moment_before_is(spec: FeatureSpec) -> None:
    events = events_frame(
        [
            ("a", "2024-02-29 23:59:59", "purchase", 5.0),
            ("a", "2024-03-01 00:00:00", "purchase", 100.0),
        ]
    )
    row = one_row(build_features(events, pairs("a"), spec), "a")
    assert row["spend_total"] == 5.0 and row["days_since_last_activity"] == 1


def test_window_edges(spec: FeatureSpec) -> None:
    events = events_frame(
        [
            ("a", "2024-02-23 08:00", "purchase", 1.0),  # 7 days before: inside the 7-day window
            ("a", "2024-02-22 23:00", "purchase", 2.0),  # 8 days before: outside it
        ]
    )
    row = one_row(build_features(events, pairs("a"), spec), "a")
    assert row["spend_7d"] == 1.0 and row["spend_30d"] == 3.0
    assert row["gap_mean_days"] == 1 and row["gap_last_days"] == 1


def test_returns_trend_and_event_mix(spec: FeatureSpec) -> None:
    events = events_frame(
        [
            ("a", "2024-02-01", "purchase", 40.0),  # 29 days before: in neither trend block
            ("a", "2024-02-20", "purchase", 30.0),  # 10 days before: the 7 days before the last 7
            ("a", "2024-02-27", "purchase", 10.0),  # 3 days before: last 7 days
            ("a", "2024-02-28", "purchase", 10.0),
            ("a", "2024-02-28", "return", -10.0),
        ]
    )
    row = one_row(build_features(events, pairs("a"), spec), "a")
    assert row["returns_total"] == 1 and row["return_value_share"] == pytest.approx(10 / 90)
    assert row["orders_trend_7d"] == pytest.approx((2 - 1) / 3)
    assert row["share_return_30d"] == pytest.approx(1 / 5)
    assert row["events_purchase_30d"] == 4


def test_latest_attribute_before_the_cutoff(spec: FeatureSpec) -> None:
    spec = dataclasses.replace(spec, event_attributes=("country",))
    events = events_frame(
        [
            ("a", "2024-01-01", "purchase", 1.0),
            ("a", "2024-02-01", "purchase", 1.0),
            ("a", "2024-03-05", "purchase", 1.0),
        ],
        country=["France", "Spain", "Italy"],
    )
    row = one_row(build_features(events, pairs("a"), spec), "a")
    assert row["country"] == "Spain"


def test_measures_are_summed_per_window_per_active_day_and_trended(spec: FeatureSpec) -> None:
    """A usage log's numbers (logins, minutes): summed over each window, per active day in
    the longest, and the last trend window against the one before; a blank is no usage, and
    an event at the cutoff is not seen."""
    spec = dataclasses.replace(spec, event_measures=("logins", "Minutes played"))
    events = events_frame(
        [
            ("a", "2024-01-15", "visit", 0.0),  # 46 days before: in no window
            ("a", "2024-02-10", "purchase", 0.0),  # 20 days before: the 30-day window only
            ("a", "2024-02-20", "purchase", 0.0),  # 10 days before: the trend's previous 7
            ("a", "2024-02-27", "purchase", 0.0),  # 3 days before: the last 7 days
            ("a", "2024-02-28", "visit", 0.0),
            ("a", "2024-03-01", "purchase", 0.0),  # at the cutoff: not seen
            ("b", "2024-02-28", "purchase", 0.0),
        ],
        logins=[100.0, 5.0, 4.0, 3.0, np.nan, 50.0, 7.5],
        **{"Minutes played": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, np.nan]},
    )
    out = build_features(events, pairs("a", "b", "nobody"), spec)
    a, b, nobody = (one_row(out, c) for c in ("a", "b", "nobody"))
    assert (a["logins_7d"], a["logins_30d"]) == (3.0, 12.0)
    assert (a["minutes_played_7d"], a["minutes_played_30d"]) == (9.0, 14.0)
    assert a["logins_per_active_day_30d"] == pytest.approx(12.0 / 3)  # 3 purchase days
    assert a["logins_trend_7d"] == pytest.approx((3 - 4) / (3 + 4))
    assert b["logins_7d"] == 7.5 and b["minutes_played_30d"] == 0.0
    assert nobody["logins_30d"] == 0.0 and nobody["logins_trend_7d"] == 0.0
    assert np.isnan(nobody["logins_per_active_day_30d"])
    families = {f.name: f.family for f in feature_catalogue(spec)}
    assert families["logins_30d"] == "frequency" and families["logins_trend_7d"] == "trend"


def test_events_at_or_after_a_cutoff_never_change_its_features(spec: FeatureSpec) -> None:
    rng = np.random.default_rng(7)
    n = 400
    customers = rng.choice(["a", "b", "c", "d", "e"], n)
    ts = pd.Timestamp("2023-06-01") + pd.to_timedelta(rng.integers(0, 400 * 86400, n), unit="s")
    kinds = rng.choice(["purchase", "return", "visit"], n, p=[0.7, 0.1, 0.2])
    amounts = rng.gamma(2.0, 20.0, n)
    events = events_frame(list(zip(customers, ts.astype(str), kinds, amounts, strict=True)))
    cutoffs = [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-03-01")]
    keyed = pd.concat([pairs("a", "b", "c", "d", "e", cutoff=c) for c in cutoffs])
    before = build_features(events, keyed, spec)
    for cutoff in cutoffs:
        kept = events[events["ts"] < cutoff]
        later = events_frame(
            [("a", str(cutoff), "purchase", 999.0), ("z", str(cutoff), "return", -5.0)]
        )
        after = build_features(pd.concat([kept, later], ignore_index=True), keyed, spec)
        pd.testing.assert_frame_equal(
            before[before["cutoff"] == cutoff].reset_index(drop=True),
            after[after["cutoff"] == cutoff].reset_index(drop=True),
        )


def test_catalogue_names_every_column_once(spec: FeatureSpec) -> None:
    events = events_frame([("a", "2024-02-20", "purchase", 10.0)])
    out = build_features(events, pairs("a"), spec)
    names = [f.name for f in feature_catalogue(spec)]
    assert list(out.columns) == ["customer_id", "cutoff", *names]
    assert all(f.family and f.description for f in feature_catalogue(spec))


def test_feature_query_transpiles_to_spark(spec: FeatureSpec) -> None:
    spark = to_spark_sql(features_sql(spec))
    assert "MAX_BY" in spark or "MIN_BY" in spark


def test_features_package_exports_the_public_names() -> None:
    assert sorted(churn.features.__all__) == [
        "Feature",
        "FeatureSpec",
        "build_features",
        "catalogue_records",
        "feature_catalogue",
        "features_sql",
        "snapshot_catalogue",
        "snapshot_features",
    ]
    assert all(hasattr(churn.features, name) for name in churn.features.__all__)


def test_names_and_event_types_with_quotes_are_data_not_sql(spec: FeatureSpec) -> None:
    hostile = "it's\"; DROP TABLE events; --"
    settings = spec.settings.model_copy(update={"event_types": ["purchase", hostile]})
    spec = dataclasses.replace(
        spec,
        settings=settings,
        activity_event_types=("purchase", hostile),
        event_attributes=('chan"nel',),
        customer_attributes=("o'plan",),
    )
    events = events_frame(
        [
            ("a", "2024-02-20", "purchase", 10.0),
            ("a", "2024-02-25", hostile, 5.0),
        ],
        **{'chan"nel': ["web", "shop"]},
    )
    customers = pd.DataFrame({"customer_id": ["a"], "o'plan": [3.0]})
    row = one_row(build_features(events, pairs("a"), spec, customers), "a")
    assert row["orders_total"] == 2 and row["spend_total"] == 15.0
    assert row["events_it_s_drop_table_events_30d"] == 1
    assert row['chan"nel'] == "shop" and row["o'plan"] == 3.0
