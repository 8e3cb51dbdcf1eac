"""On a local Spark (``local[2]``) started for this module: with ``covered_until`` in the
events, the labels and the coverage features Spark computes are DuckDB's, row for row. The
events are messy on purpose: payments without a paid period, periods ending before their own
row (cancellations), several payments on one day, and a cancellation type that covers nobody."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.engines import SqlRunner
from churn.features import build_features
from churn.labels import build_labels, cutoff_table, observed_until
from churn.settings import SparkSettings
from tests.test_features_reference import CUTOFFS, NO_EVENTS, SPECS, _edge_cases
from tests.test_spark import assert_same_frame, label_settings

pytest.importorskip("pyspark", reason="the Spark engine needs churn[spark]")
from churn.engines.spark import spark_query, spark_session

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from synthetic import synthetic_events

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run_spark() -> Iterator[SqlRunner]:
    spark = spark_session(SparkSettings(master="local[2]", shuffle_partitions=2), env={})
    yield spark_query(spark)
    spark.stop()


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    """Synthetic events each paying for 30, 90 or 365 days (from its own day, at a time of
    day), a tenth without a paid period and a twentieth covered until before they happened;
    plus payments of one customer twice on one day, for different periods."""
    synthetic = synthetic_events(4_000, seed=11, events_per_customer=15, missing_order_fraction=0)
    both = pd.concat([synthetic, _edge_cases()], ignore_index=True)
    rng = np.random.default_rng(3)
    n = len(both)
    plan = rng.choice([30, 90, 365], n)
    until = both["ts"].dt.floor("D") + pd.to_timedelta(plan, unit="D")
    until = until.where(rng.uniform(size=n) >= 0.05, both["ts"] - pd.Timedelta(days=3))
    until = until.where(rng.uniform(size=n) >= 0.1)
    twice = pd.DataFrame(
        {
            "customer_id": "twice",
            "ts": pd.to_datetime(["2023-03-01", "2023-03-01"]),
            "event_type": "purchase",
            "amount": 9.99,
            "quantity": 1.0,
            "order_id": ["t1", "t2"],
            "product_id": None,
            "covered_until": pd.to_datetime(["2023-04-01", "2024-03-01"]),
        }
    )
    covered = both.assign(covered_until=until.astype("datetime64[us]"))
    out = pd.concat([covered, twice], ignore_index=True)
    return out.astype({"amount": "float64", "quantity": "float64", "ts": "datetime64[us]"}).astype(
        {"covered_until": "datetime64[us]"}
    )


@pytest.mark.parametrize(
    "overrides",
    [{"max_inactive_days": 60}, {"churn_definition": "either"}],
    ids=["inactivity_max_inactive", "either"],
)
def test_spark_labels_with_coverage_equal_duckdb_labels(
    overrides: dict[str, object], run_spark: SqlRunner, events: pd.DataFrame
) -> None:
    settings = label_settings(**overrides)
    cutoffs = cutoff_table(settings, observed_until(events))
    churns = None
    if settings.churn_definition != "inactivity":
        last = events.groupby("customer_id")["ts"].max().iloc[::4]
        churns = pd.DataFrame(
            {"customer_id": last.index.astype(object), "ts": last + pd.Timedelta(days=5)}
        ).reset_index(drop=True)
    duck = build_labels(events, cutoffs, settings, churns, covered=True)
    spark = build_labels(events, cutoffs, settings, churns, run_sql=run_spark, covered=True)

    assert_same_frame(spark, duck)
    plain = build_labels(events, cutoffs, settings, churns)
    both = duck.merge(plain, on=["customer_id", "cutoff"], how="outer", indicator=True)
    moved = int((both["_merge"] != "both").sum())
    moved += int((both["churned_x"] != both["churned_y"]).fillna(False).sum())
    assert moved > 0  # coverage changed someone's label or eligibility
    print(f"labels with coverage: {len(duck)} rows equal; {moved} differ from plain purchases")


def test_spark_coverage_features_equal_duckdb_features(
    run_spark: SqlRunner, events: pd.DataFrame
) -> None:
    spec = dataclasses.replace(SPECS["short_windows_visits_count"], covered=True)
    customers = [*events["customer_id"].unique(), NO_EVENTS]
    cutoffs = pd.to_datetime(list(CUTOFFS)).astype("datetime64[us]")
    pairs = pd.DataFrame(
        [(c, k) for k in cutoffs for c in customers], columns=["customer_id", "cutoff"]
    )
    duck = build_features(events, pairs, spec)
    spark = build_features(events, pairs, spec, run_sql=run_spark)

    assert_same_frame(spark, duck)
    assert duck["coverage_days_left"].gt(0).sum() > 100 and duck["coverage_days_left"].lt(0).any()
    twice = duck[duck["customer_id"] == "twice"]
    assert set(twice["coverage_plan_days"].dropna()) == {366}
