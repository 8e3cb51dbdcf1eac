"""``features.parquet`` and ``labels.parquet`` built and written by Spark's executors
(``features.engine: spark``, :mod:`churn.engines.spark_features`,
:mod:`churn.engines.spark_labels`) are the files the DuckDB path writes: the same rows in the
same order, the same dtypes, numbers within 1e-9, derived features (rates, calendar, BG/NBD
refitted per cutoff) included; and only the fitted models (one row per cutoff) and a count per
split reach the driver. On a local Spark (``local[2]``) started once for this module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from churn import io
from churn.data.event_summaries import daily_totals
from churn.engines import ParquetTable
from churn.features import FeatureSpec, build_features
from churn.features.derived import add_derived_features, bgnbd_names
from churn.io.files import read_labels
from churn.io.paths import Output
from churn.labels import build_labels, cutoff_table, observed_until
from churn.settings import FeatureSettings, SparkSettings

pytest.importorskip("pyspark", reason="the Spark engine needs churn[spark]")
from churn.engines.spark import scoped_session, spark_session
from churn.engines.spark_features import spark_feature_table, write_spark_parquet
from churn.engines.spark_labels import spark_label_table, spark_split_counts
from tests._driver_rows import driver_rows
from tests._project import PIPELINE, churn, make_project, run_stages, write_params
from tests._project import params as project_params
from tests.messy import event_log
from tests.test_spark import (
    CUSTOMER_SPEC,
    assert_same_frame,
    customers,
    events,
    label_settings,
    pairs,
)

pytestmark = pytest.mark.slow
__all__ = ["customers", "events", "pairs"]  # the fixtures of tests/test_spark.py used here

HORIZON_DAYS = 45


@pytest.fixture(scope="module")
def session() -> Iterator[Any]:
    spark = spark_session(SparkSettings(master="local[2]", shuffle_partitions=3), env={})
    yield spark
    spark.stop()


def write_inputs(
    folder: Path, events: pd.DataFrame, pairs: pd.DataFrame, customers: pd.DataFrame
) -> None:
    """The canonical events and customers, and the labels (here: the pairs), as parquet."""
    events.to_parquet(folder / "events.parquet", index=False)
    pairs.to_parquet(folder / "labels.parquet", index=False)
    customers.to_parquet(folder / "customers.parquet", index=False)


def duckdb_file(folder: Path, pairs: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """The DuckDB path's features.parquet (build_features, then add_derived_features) of the
    inputs in ``folder``, read back as the next stage reads it."""
    events = folder / "events.parquet"
    table = pd.read_parquet(folder / "customers.parquet")
    base = build_features(ParquetTable(events), pairs, spec, table)
    purchases = daily_totals(ParquetTable(events), spec.activity_event_types)
    out = add_derived_features(
        base, purchases, calendar=True, bgnbd=True, horizon_days=HORIZON_DAYS
    )
    io.write_parquet(out, folder / "duckdb.parquet")
    return pd.read_parquet(folder / "duckdb.parquet")


def spark_file(
    session: Any, folder: Path, spec: FeatureSpec
) -> tuple[pd.DataFrame, list[tuple[str, int]]]:
    """The Spark path's features.parquet of the inputs in ``folder``, and what reached the
    driver while it was made."""
    events, labels = folder / "events.parquet", folder / "labels.parquet"
    cutoffs = pd.read_parquet(labels)["cutoff"].nunique()
    with driver_rows(at_most=cutoffs) as seen:
        table = spark_feature_table(
            scoped_session(session),
            ParquetTable(events),
            ParquetTable(labels),
            spec,
            ParquetTable(folder / "customers.parquet"),
            calendar=True,
            bgnbd=True,
            horizon_days=HORIZON_DAYS,
            groups=3,
        )
        write_spark_parquet(table, folder / "features.parquet")
    assert not list(folder.glob(".features.parquet*")), "the staging folder is removed"
    return pd.read_parquet(folder / "features.parquet"), seen.calls


def assert_bgnbd_fitted(frame: pd.DataFrame) -> None:
    p_alive, expected = bgnbd_names(HORIZON_DAYS)
    assert frame[p_alive].dropna().between(0, 1).all()
    assert frame[p_alive].nunique() > 20 and (frame[expected].dropna() >= 0).sum() > 20


def test_spark_writes_the_duckdb_features_of_the_spark_tests_data(
    session: Any,
    tmp_path: Path,
    events: pd.DataFrame,
    pairs: pd.DataFrame,
    customers: pd.DataFrame,
) -> None:
    """The data of tests/test_spark.py: synthetic customers and the reference edge cases, a
    customer with no events, attributes and signup dates with gaps."""
    write_inputs(tmp_path, events, pairs, customers)
    want = duckdb_file(tmp_path, pairs, CUSTOMER_SPEC)
    got, calls = spark_file(session, tmp_path, CUSTOMER_SPEC)

    worst = assert_same_frame(got, want)
    assert len(want) == len(pairs) and want.columns[-1] == bgnbd_names(HORIZON_DAYS)[1]
    assert_bgnbd_fitted(want)
    assert [name for name, _ in calls] == ["collect"]
    print(f"{len(want)} rows x {want.shape[1]} equal (max |diff| {worst:.3g}); driver: {calls}")


def messy_events(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Canonical events shaped like an export: ids with leading zeros, quotes and non-ASCII
    letters, one-time buyers, purchases at midnight and just before it, missing amounts,
    returns and visits; and a customers table with a text attribute, gaps, and customers
    without events."""
    log = event_log(300, seed=seed, one_time_share=0.4, start="2023-01-01", days=400)
    rng = np.random.default_rng(seed)
    frame = log.events
    odd = {"00007": "o'brien", "00011": 'say "hi"', "00013": "zoë", "00017": "ĳ ∑"}
    ids = frame[log.customer_id].replace(odd)
    ts = pd.to_datetime(frame[log.timestamp], format="%Y-%m-%d %H:%M")
    ts = ts.where(rng.random(len(ts)) > 0.1, ts.dt.normalize())  # at midnight
    ts = ts.where(rng.random(len(ts)) > 0.05, ts.dt.normalize() - pd.Timedelta(microseconds=1))
    amount = frame[log.amount].astype("float64").where(rng.random(len(ts)) > 0.08)
    kinds = rng.choice(["purchase", "return", "visit"], len(ts), p=[0.75, 0.1, 0.15])
    events = pd.DataFrame(
        {
            "customer_id": ids.astype(object),
            "ts": ts.astype("datetime64[us]"),
            "event_type": kinds,
            "amount": amount,
            "quantity": rng.integers(1, 4, len(ts)).astype("float64"),
            "order_id": [None if i % 9 == 0 else f"o{i}" for i in range(len(ts))],
            "product_id": rng.choice(["p1", "p2", "p3"], len(ts)).astype(object),
        }
    )
    known = sorted(events["customer_id"].unique())
    people = [*known[::3], "never-bought", "ünknown"]
    customers = pd.DataFrame(
        {
            "customer_id": people,
            "tier": [None if i % 4 == 0 else ("gold", "tin")[i % 2] for i in range(len(people))],
        }
    )
    return events, customers


def test_spark_writes_the_duckdb_features_of_a_messy_export(session: Any, tmp_path: Path) -> None:
    events, customers = messy_events(seed=3)
    spec = FeatureSpec(
        settings=FeatureSettings(
            windows_days=[14, 60],
            trend_window_days=30,
            event_types=["purchase", "return", "visit"],
            return_event_types=["return"],
            categorical_attributes=["tier"],
        ),
        activity_event_types=("purchase",),
        customer_attributes=("tier",),
        text_customer_attributes=("tier",),
    )
    cutoffs = pd.to_datetime(["2023-01-06", "2023-06-01", "2023-09-15", "2024-01-01"])
    ids = [*events["customer_id"].unique(), "never-bought"]
    pairs = pd.DataFrame(
        [(c, k) for k in cutoffs.astype("datetime64[us]") for c in ids],
        columns=["customer_id", "cutoff"],
    ).sample(frac=1.0, random_state=1)  # the labels' order is not the features' order
    write_inputs(tmp_path, events, pairs, customers)
    want = duckdb_file(tmp_path, pairs, spec)
    got, calls = spark_file(session, tmp_path, spec)

    worst = assert_same_frame(got, want)
    assert len(want) == len(pairs) and want["tier"].notna().any() and want["tier"].isna().any()
    assert_bgnbd_fitted(want)
    # five days in, too few buyers to fit BG/NBD: missing at the first cutoff, on both engines
    first = want["cutoff"] == cutoffs[0]
    assert want.loc[first, bgnbd_names(HORIZON_DAYS)].isna().all().all()
    assert calls == [("collect", len(cutoffs) - 1)]
    print(f"messy: {len(want)} rows equal (max |diff| {worst:.3g}); driver: {calls}")


@pytest.mark.parametrize("explicit", [False, True], ids=["inactivity", "either_with_churn_events"])
def test_spark_writes_the_duckdb_labels(
    session: Any, tmp_path: Path, events: pd.DataFrame, explicit: bool
) -> None:
    """The labels of tests/test_spark.py's label tests, written by Spark, read back as the
    stages read them (``read_labels``); only a count per split reaches the driver."""
    settings = (
        label_settings(churn_definition="either", activity_event_types=["purchase", "visit"])
        if explicit
        else label_settings(max_inactive_days=90)
    )
    cutoffs = cutoff_table(settings, observed_until(events))
    churns = None
    if explicit:
        last = events.groupby("customer_id")["ts"].max().iloc[::3]
        churns = pd.DataFrame(
            {"customer_id": last.index.astype(object), "ts": last + pd.Timedelta(days=5)}
        ).reset_index(drop=True)
        churns.to_parquet(tmp_path / "churns.parquet", index=False)
    events.to_parquet(tmp_path / "events.parquet", index=False)
    io.write_parquet(build_labels(events, cutoffs, settings, churns), tmp_path / "duckdb.parquet")
    counted: list[pd.DataFrame] = []

    with driver_rows(at_most=len(cutoffs)) as seen:
        table = spark_label_table(
            scoped_session(session),
            ParquetTable(tmp_path / "events.parquet"),
            cutoffs,
            settings,
            ParquetTable(tmp_path / "churns.parquet") if explicit else None,
        )
        write_spark_parquet(
            table,
            tmp_path / "labels.parquet",
            lambda part: counted.append(spark_split_counts(scoped_session(session), part)),
        )

    want = read_labels(io_output(tmp_path / "duckdb.parquet"))
    got = read_labels(io_output(tmp_path / "labels.parquet"))
    assert_same_frame(got, want)
    assert want["churned"].notna().any() and want["churned"].isna().any()
    (counts,) = counted
    assert counts["split"].tolist() == list(dict.fromkeys(want["split"]))
    assert counts["rows"].tolist() == want.groupby("split", sort=False).size().tolist()
    assert seen.calls == [("toArrow", len(counts))]


def test_spark_labels_with_an_empty_split_fail_as_duckdb_and_keep_the_previous_file(
    session: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    root = make_project(tmp_path)
    run_stages(root, ("ingest", "labels"))
    labels = root / "data/interim" / PIPELINE / "labels.parquet"
    before = labels.read_bytes()
    values = project_params()
    values["features"] = {**values.get("features", {}), "engine": "spark"}
    values["labels"] = {
        **values["labels"],
        "train_cutoffs": {"start": "2020-01-01", "end": "2020-06-01"},
    }
    write_params(root, values)

    code, out = churn(root, "labels")

    assert code == 4, out
    assert "No eligible customers at the train, valid cutoff(s)" in out
    assert "runs from 2023-01-01" in out
    assert labels.read_bytes() == before
    assert sorted(p.name for p in labels.parent.iterdir() if p.name.startswith(".")) == []


def io_output(path: Path) -> Output:
    """``path`` as an output of the labels stage (what ``read_labels`` takes)."""
    return Output(path, made_by="churn labels")


def test_spark_writes_the_duckdb_features_of_event_attributes_and_measures(
    session: Any, tmp_path: Path
) -> None:
    """Event attributes, text and numeric (`data.events.numeric_attributes`: a plan's length
    that changes, with gaps, and on the cutoff day itself), and a measure with gaps: the latest
    value before each cutoff and the windowed sums are the same on both engines."""
    events, customers = messy_events(seed=5)
    rng = np.random.default_rng(5)
    n = len(events)
    plan = rng.choice([30.0, 90.0, 365.0, np.nan], n, p=[0.5, 0.2, 0.2, 0.1])
    events = events.assign(
        channel=rng.choice(["web", "store", "app", None], n).astype(object),
        plan_days=plan,
        minutes=np.where(rng.random(n) < 0.15, np.nan, rng.gamma(2.0, 20.0, n)),
    )
    cutoffs = pd.to_datetime(["2023-06-01", "2023-09-15", "2024-01-01"])
    on_cutoff = events["ts"].dt.normalize() == cutoffs[-1]
    assert on_cutoff.any()
    events.loc[on_cutoff, "plan_days"] = 7.0  # written on the last cutoff's day: never known
    spec = FeatureSpec(
        settings=FeatureSettings(
            windows_days=[14, 60],
            trend_window_days=30,
            event_types=["purchase", "return", "visit"],
            return_event_types=["return"],
            categorical_attributes=["tier", "channel"],
        ),
        activity_event_types=("purchase",),
        event_attributes=("channel", "plan_days"),
        numeric_event_attributes=("plan_days",),
        event_measures=("minutes",),
        customer_attributes=("tier",),
        text_customer_attributes=("tier",),
    )
    ids = [*events["customer_id"].unique(), "never-bought"]
    pairs = pd.DataFrame(
        [(c, k) for k in cutoffs.astype("datetime64[us]") for c in ids],
        columns=["customer_id", "cutoff"],
    ).sample(frac=1.0, random_state=2)
    write_inputs(tmp_path, events, pairs, customers)
    want = duckdb_file(tmp_path, pairs, spec)
    got, _ = spark_file(session, tmp_path, spec)

    worst = assert_same_frame(got, want)
    plan_columns = [c for c in want.columns if "plan_days" in c]
    minute_columns = [c for c in want.columns if "minutes" in c]
    assert plan_columns and minute_columns and "channel" in want.columns
    assert want[plan_columns[0]].notna().any() and 7.0 not in set(want[plan_columns[0]])
    assert want["channel"].notna().any() and want[minute_columns].notna().any().any()
    print(f"attributes and measures: {len(want)} rows equal (max |diff| {worst:.3g})")
