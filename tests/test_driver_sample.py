"""``train.driver_customers``: the labelled rows ``churn train`` reads into its own process are
those of a fixed sample of customers when the labels hold more, so fifty million customers need
not fit on a Spark driver. The sample is placed by the md5 of each id, so every engine and every
read keeps the same customers, with all their cutoffs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from churn.data.event_summaries import daily_totals
from churn.engines.sql import ParquetTable
from churn.io.customer_sample import customer_sample, place, sample_rows
from churn.io.paths import PipelinePaths
from churn.settings import FeatureSettings
from churn.stages import _populations as populations
from tests._project import make_project, orders, params, run_stages, write_params

# MLflow compares the input example's columns with a range, which pandas 3 deprecates.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Operation with range is deprecated:DeprecationWarning"
)


def _labels(tmp_path: Path, ids: list[str], cutoffs: int = 3) -> Path:
    """A labels file of ``ids`` at ``cutoffs`` cutoffs, customers interleaved, in several row
    groups."""
    rows = pd.DataFrame(
        {
            "customer_id": [i for _ in range(cutoffs) for i in ids],
            "cutoff": np.repeat(pd.date_range("2024-01-01", periods=cutoffs, freq="MS"), len(ids)),
        }
    )
    path = tmp_path / "labels.parquet"
    pq.write_table(pa.Table.from_pandas(rows, preserve_index=False), path, row_group_size=50)
    return path


def test_the_sample_holds_exactly_as_many_customers_as_asked_with_all_their_cutoffs(
    tmp_path: Path,
) -> None:
    ids = [f"cust-{i}" for i in range(300)] + ["Zoë", "42", "  padded ", "ün'quoted"]
    path = _labels(tmp_path, ids)
    assert customer_sample(path, None) is None
    assert customer_sample(path, len(ids)) is None  # all of them fit: every row is read
    sample = customer_sample(path, 120)
    assert sample is not None
    assert (sample.customers, sample.of) == (120, len(ids))
    kept = sample.keeps(ids)
    assert kept.sum() == 120
    # the 120 customers placed first by the md5 of their ids, whatever their order in the file
    firsts = sorted(ids, key=place)[:120]
    assert sorted(np.asarray(ids)[kept]) == sorted(firsts)
    rows = sample_rows(path, sample)
    read = pq.read_table(path).to_pandas().iloc[rows]
    assert (np.diff(rows) > 0).all()
    assert set(read["customer_id"]) == set(firsts)
    assert read.groupby("customer_id").size().eq(3).all()  # every cutoff of each


def test_daily_totals_read_the_sample_s_customers_only(tmp_path: Path) -> None:
    ids = [f"C{i:03d}" for i in range(60)]
    events = pd.DataFrame(
        {
            "customer_id": ids * 2,
            "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(120) % 7, unit="D"),
            "event_type": "purchase",
            "amount": 1.0,
        }
    )
    path = tmp_path / "events.parquet"
    events.to_parquet(path)
    sample = customer_sample(_labels(tmp_path, ids), 25)
    assert sample is not None
    totals = daily_totals(ParquetTable(path), ["purchase"], where=sample.where())
    assert set(totals["customer_id"]) == set(np.asarray(ids)[sample.keeps(ids)])


@pytest.fixture(scope="module")
def sampled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sampled")
    raw = root / "data/raw/shop/orders.csv"
    raw.parent.mkdir(parents=True)
    orders(n_customers=400, seed=11).to_csv(raw, index=False)
    make_project(root)
    values = params()
    values["train"] |= {"driver_customers": 150, "backtest_cutoffs": 1}
    values["monitoring"] = {"backfill_cutoffs": [values["labels"]["test_cutoff"]]}
    write_params(root, values)
    run_stages(root, ["ingest", "labels", "features", "train", "register", "score", "monitor"])
    return root


def test_train_reads_the_sample_and_says_so(sampled: Path) -> None:
    metrics = json.loads((sampled / "reports/shop/metrics.json").read_text())
    labels = pd.read_parquet(sampled / "data/interim/shop/labels.parquet")
    customers = labels["customer_id"].unique()
    sample = metrics["training"]["driver_sample"]
    assert (sample["customers"], sample["of_customers"]) == (150, len(customers))
    kept = {c for c in customers if place(c) <= sample["md5_prefix_at_most"]}
    assert len(kept) == 150
    of_sample = labels[labels["customer_id"].isin(kept)]
    n = of_sample["split"].value_counts()
    assert metrics["training"]["n_train"] == n["train"]
    assert metrics["training"]["n_valid"] == n["valid"]
    assert set(metrics["baselines"]) >= {"recency", "logistic_rfm"}
    assert metrics["n_test"] == n["test"]
    backtest = json.loads((sampled / "reports/shop/backtest.json").read_text())
    fold = backtest["folds"][0]  # the backtest ran, on the sample's history
    assert fold["n_test"] == len(of_sample[of_sample["cutoff"] == fold["test_cutoff"]])
    assert 0.0 <= metrics["roc_auc"] <= 1.0


def test_without_the_setting_every_customer_is_read(sampled: Path, tmp_path: Path) -> None:
    labels = sampled / "data/interim/shop/labels.parquet"
    n = pd.read_parquet(labels, columns=["customer_id"])["customer_id"].nunique()
    assert customer_sample(labels, n) is None
    assert customer_sample(labels, n - 1) is not None


def test_register_judges_versions_on_the_sample_s_customers(sampled: Path) -> None:
    """The gate's test rows and the drift rule's populations are the rows of the sample's
    customers, row for row as the full populations hold them."""
    paths = PipelinePaths(sampled, "shop")
    sample = customer_sample(paths.labels, 150)
    assert sample is not None
    registry = json.loads((sampled / "reports/shop/registry.json").read_text())
    assert registry["promotion"]["promoted"], registry["promotion"]

    def of_sample(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[sample.keeps(frame["customer_id"])].reset_index(drop=True)

    pd.testing.assert_frame_equal(
        populations.test_rows(paths, sample), of_sample(populations.test_rows(paths))
    )
    pd.testing.assert_frame_equal(
        populations.scoring_population(paths, sample),
        of_sample(populations.scoring_population(paths)),
    )
    every = populations.training_population(paths, FeatureSettings())
    some = populations.training_population(paths, FeatureSettings(), sample)
    ids = every["customer_id"]
    np.testing.assert_array_equal(some.rows, every.rows[sample.keeps(ids)])


def test_monitor_measures_drift_and_realised_performance_on_the_sample(sampled: Path) -> None:
    paths = PipelinePaths(sampled, "shop")
    sample = customer_sample(paths.labels, 150)
    assert sample is not None
    drift = json.loads((sampled / "reports/shop/drift.json").read_text())
    realised = json.loads((sampled / "reports/shop/realised.json").read_text())
    assert drift["driver_sample"] == realised["driver_sample"] == sample.summary()
    scored = pd.read_parquet(paths.scored_features)
    assert drift["current_rows"] == int(sample.keeps(scored["customer_id"]).sum())
    training = populations.training_population(paths, FeatureSettings(), sample)
    assert drift["reference_rows"] == len(training)
    (backfilled,) = realised["evaluated"]
    listed = pd.read_parquet(paths.scores_history(backfilled["cutoff"]))
    assert backfilled["scored"] == int(sample.keeps(listed["customer_id"]).sum())
