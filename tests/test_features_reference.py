"""The DuckDB features equal a plain pandas reference (benchmarks/pandas_features.py), feature by
feature, on synthetic events plus hand-made edge cases; the query still transpiles to Spark."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.data.contract import EVENT_FRAME_COLUMNS
from churn.engines.sql import to_spark_sql
from churn.features import FeatureSpec, build_features, feature_catalogue, features_sql
from churn.settings import FeatureSettings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from pandas_features import pandas_features
from synthetic import synthetic_events

CUTOFFS = ("2023-01-01", "2023-02-01", "2023-04-01", "2023-07-01", "2023-10-01", "2024-01-01")
NO_EVENTS = "NOBODY"

SPECS = {
    "retail": FeatureSpec(
        settings=FeatureSettings(
            event_types=["purchase", "return", "visit"], return_event_types=["return"]
        ),
        activity_event_types=("purchase",),
        event_attributes=("channel",),
    ),
    "short_windows_visits_count": FeatureSpec(
        settings=FeatureSettings(windows_days=[28, 7], trend_window_days=14, event_types=["visit"]),
        activity_event_types=("purchase", "visit"),
    ),
    "trend_outside_windows": FeatureSpec(
        settings=FeatureSettings(
            windows_days=[60], trend_window_days=45, return_event_types=["return", "visit"]
        ),
        activity_event_types=("purchase", "return"),
        event_attributes=("channel",),
    ),
}


def _edge_cases() -> pd.DataFrame:
    """Hand-made customers: one event; only visits; events at the last second before a cutoff
    and at the cutoff's midnight; purchases without order id sharing a timestamp; purchases
    without amount; only a return; events only after every cutoff; a product seen on a visit
    before it is bought; a purchase without product; a latest event without channel."""
    rows = [
        ("E1", "2023-03-15 10:00:00", "purchase", 10.0, 1.0, None, "P00001", "web"),
        ("E2", "2023-03-10 10:00:00", "visit", None, None, None, "P00001", "web"),
        ("E2", "2023-03-11 10:00:00", "visit", None, None, None, "P00002", "app"),
        ("E3", "2023-04-01 00:00:00", "purchase", 5.0, 1.0, "E31", "P00001", "web"),
        ("E3", "2023-03-31 23:59:59", "purchase", 7.0, 1.0, "E32", "P00002", "app"),
        ("E3", "2023-01-31 23:59:59", "purchase", 7.0, 2.0, "E33", "P00002", "app"),
        ("E4", "2023-03-20 10:00:00", "purchase", 1.0, 1.0, None, "P00001", None),
        ("E4", "2023-03-20 10:00:00", "purchase", 2.0, 1.0, None, "P00002", None),
        ("E4", "2023-03-20 11:00:00", "purchase", 3.0, 1.0, None, "P00003", "store"),
        ("E5", "2023-03-20 10:00:00", "purchase", None, None, "E51", "P00001", "web"),
        ("E5", "2023-02-20 10:00:00", "purchase", None, None, "E52", "P00001", "web"),
        ("E6", "2023-03-20 10:00:00", "return", -4.0, -1.0, "E61", "P00001", "web"),
        ("E8", "2024-03-20 10:00:00", "purchase", 4.0, 1.0, "E81", "P00001", "web"),
        ("E9", "2023-01-20 10:00:00", "visit", None, None, None, "P00009", "web"),
        ("E9", "2023-03-20 10:00:00", "purchase", 4.0, 1.0, "E91", "P00009", "web"),
        ("E9", "2023-03-25 10:00:00", "purchase", 4.0, 1.0, "E92", None, None),
        ("E9", "2023-06-25 10:00:00", "return", -4.0, -1.0, "E93", "P00009", "app"),
    ]
    columns = [*EVENT_FRAME_COLUMNS, "channel"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.assign(ts=pd.to_datetime(frame["ts"]).astype("datetime64[us]"))


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    synthetic = synthetic_events(4_000, seed=11, events_per_customer=20, missing_order_fraction=0.1)
    both = pd.concat([synthetic, _edge_cases()], ignore_index=True)
    return both.astype({"amount": "float64", "quantity": "float64"})


@pytest.fixture(scope="module")
def pairs(events: pd.DataFrame) -> pd.DataFrame:
    customers = [*events["customer_id"].unique(), NO_EVENTS]
    cutoffs = pd.to_datetime(list(CUTOFFS)).astype("datetime64[us]")
    return pd.DataFrame(
        [(c, k) for k in cutoffs for c in customers], columns=["customer_id", "cutoff"]
    )


def test_the_data_covers_the_edge_cases(events: pd.DataFrame, pairs: pd.DataFrame) -> None:
    per_customer = events.groupby("customer_id").size()
    assert (per_customer == 1).sum() >= 2, "customers with a single event"
    first_day = events.groupby("customer_id")["ts"].min().dt.floor("D")
    cutoffs = pd.to_datetime(list(CUTOFFS))
    assert (first_day >= cutoffs[2]).sum() >= 5, "customers with nothing before a cutoff"
    assert (first_day < cutoffs[1]).sum() >= 20, "customers with history at early cutoffs"
    assert events["order_id"].isna().sum() > events["event_type"].eq("visit").sum()
    assert NO_EVENTS in set(pairs["customer_id"])


@pytest.mark.parametrize("name", sorted(SPECS))
def test_duckdb_features_equal_the_pandas_reference(
    name: str, events: pd.DataFrame, pairs: pd.DataFrame
) -> None:
    spec = SPECS[name]
    duck = build_features(events, pairs, spec)
    reference = pandas_features(events, pairs, spec)

    assert list(duck.columns) == list(reference.columns)
    assert len(duck) == len(pairs)
    keys = ["customer_id", "cutoff"]
    pd.testing.assert_frame_equal(duck[keys].astype(str), reference[keys].astype(str))
    for feature in feature_catalogue(spec):
        got, want = duck[feature.name], reference[feature.name]
        if feature.kind == "numeric":
            np.testing.assert_allclose(
                got.to_numpy(float),
                want.to_numpy(float),
                rtol=1e-9,
                atol=1e-9,
                equal_nan=True,
                err_msg=feature.name,
            )
        else:
            same = (got == want) | (got.isna() & want.isna())
            assert same.all(), f"{feature.name}: {duck.loc[~same, ['customer_id', 'cutoff']]}"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_features_sql_transpiles_to_spark(name: str) -> None:
    spark = to_spark_sql(features_sql(SPECS[name]))
    assert "SELECT" in spark
