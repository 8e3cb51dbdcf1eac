"""``churn register`` and ``churn promote`` read only the rows their gate judges on (issue 17):
the test rows, the scoring rows and the training rows they find from labels.parquet and
features.parquet are the frames the whole-table functions give, row for row, in the same order
and with the same dtypes, on generated tables in no particular order, with several row groups,
missing values, labels without an outcome and a categorical column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.io.files import read_labels, read_parquet
from churn.io.paths import PipelinePaths
from churn.monitoring.drift import scoring_rows, training_rows
from churn.settings import FeatureSettings
from churn.stages import _populations as populations
from churn.tracking import registry


def _tables(
    rng: np.random.Generator, *, splits: list[str], n_customers: int, n_cutoffs: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = n_customers * n_cutoffs
    keys = pd.DataFrame(
        {
            "customer_id": [f"k-{i % n_customers:05d}/x" for i in range(n)],
            "cutoff": pd.to_datetime("2022-02-03")
            + pd.to_timedelta((np.arange(n) // n_customers) * 45, unit="D"),
        }
    )
    # later cutoffs get the later splits, as churn labels assigns them
    split_of = np.array(splits)[np.minimum(np.arange(n) // n_customers, len(splits) - 1)]
    churned = pd.array(rng.random(n) < 0.3, dtype="boolean")
    churned[split_of == "score"] = pd.NA
    labels = keys.assign(churned=churned, split=split_of)
    labels = labels[rng.random(n) > 0.1]  # not every feature row is labelled
    features = keys.assign(
        spend=np.where(rng.random(n) < 0.1, np.nan, rng.gamma(2, 10, n)),
        orders=pd.array(rng.integers(0, 9, n), dtype="Int64"),
        channel=rng.choice(["web", "store", None], n),
        tier=pd.Categorical(rng.choice(["gold", "silver", "bronze"], n)),
    )
    return labels.sample(frac=1.0, random_state=3), features.sample(frac=1.0, random_state=4)


def _project(tmp_path: Path, labels: pd.DataFrame, features: pd.DataFrame) -> PipelinePaths:
    paths = PipelinePaths(tmp_path, "gen")
    paths.interim.mkdir(parents=True)
    labels.to_parquet(paths.labels, row_group_size=300, index=False)
    features.to_parquet(paths.features, row_group_size=250, index=False)
    return paths


@pytest.mark.parametrize(
    ("splits", "seed"),
    [(["train", "train", "valid", "test", "score"], 1), (["train", "valid", "test"], 2)],
)
def test_gate_populations_are_the_whole_table_selections(
    tmp_path: Path, splits: list[str], seed: int
) -> None:
    labels, features = _tables(
        np.random.default_rng(seed), splits=splits, n_customers=400, n_cutoffs=len(splits)
    )
    paths = _project(tmp_path, labels, features)
    all_labels, all_features = read_labels(paths.labels), read_parquet(paths.features)

    test = populations.test_rows(paths)
    expected_test = registry.test_rows(all_labels, all_features)
    assert 0 < len(test) < len(all_labels)
    pd.testing.assert_frame_equal(test, expected_test)

    current = populations.scoring_population(paths)
    expected_current = scoring_rows(all_labels, all_features)
    assert 0 < len(current) < len(all_features)
    pd.testing.assert_frame_equal(current, expected_current)

    reference = populations.training_population(paths, FeatureSettings())
    expected_reference = training_rows(all_labels, all_features)
    assert 0 < len(reference) == len(expected_reference) < len(all_features)
    for name in ["customer_id", "cutoff", "spend", "orders", "channel", "tier"]:
        pd.testing.assert_series_equal(
            reference[name], expected_reference[name], check_categorical=False
        )
