"""Backtest folds: distinct training sets, a search that never sees a fold's test window, and
the per-fold predictions the promotion gate pairs versions on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from churn.modeling.backtest import (
    PREDICTION_COLUMNS,
    cross_validated_auc,
    cross_validation_tuning_folds,
    rolling_origin_backtest,
    rolling_origin_plan,
    rolling_origin_tuning_folds,
)
from churn.modeling.search import Tuning, TuningFold
from churn.modeling.training_data import FeatureColumns
from churn.settings import TrainSettings

COLUMNS = FeatureColumns(numeric=("x1", "x2"), categorical=())
FAST = TrainSettings(max_rounds=30, early_stopping_rounds=5, min_child_weight=1.0)


def _rows(cutoffs: list[pd.Timestamp], n: int = 60, seed: int = 0) -> pd.DataFrame:
    """``n`` customers at every cutoff (the same ids each time) whose churn follows x1."""
    rng = np.random.default_rng(seed)
    frames = []
    for cutoff in cutoffs:
        x1, x2 = rng.normal(size=n), rng.normal(size=n)
        churned = rng.uniform(size=n) < 1 / (1 + np.exp(-2.0 * x1))
        frames.append(
            pd.DataFrame(
                {
                    "customer_id": [f"c{i}" for i in range(n)],
                    "cutoff": cutoff,
                    "churned": churned,
                    "x1": x1,
                    "x2": x2,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _monthly(first: str, months: int, day: int = 10) -> list[pd.Timestamp]:
    start = pd.Timestamp(first)
    return [start + pd.DateOffset(months=m, day=day) for m in range(months)]


def test_monthly_cutoffs_with_a_90_day_horizon_give_distinct_folds() -> None:
    # 2011-01-10 + 90 days is 2011-04-10: test months April and May both validate on January
    # with the same training cutoffs. The plan keeps May and steps back past April.
    cutoffs = _monthly("2009-12-01", 19)  # 2009-12-10 .. 2011-06-10
    plan = rolling_origin_plan(cutoffs, 90, n=3)
    assert [f.test_cutoff.date().isoformat() for f in plan] == [
        "2011-06-10",
        "2011-05-10",
        "2011-03-10",
    ]
    assert len({(f.valid_cutoff, f.train_cutoffs) for f in plan}) == 3
    assert [f.valid_cutoff.date().isoformat() for f in plan] == [
        "2011-03-10",
        "2011-01-10",
        "2010-12-10",
    ]


@pytest.mark.parametrize("seed", range(8))
def test_no_two_folds_share_their_validation_and_training_cutoffs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    gaps = rng.integers(1, 60, size=25)  # irregular cutoffs, days apart
    cutoffs = [pd.Timestamp("2022-01-01") + pd.Timedelta(days=int(d)) for d in np.cumsum(gaps)]
    horizon = int(rng.integers(10, 120))
    plan = rolling_origin_plan(cutoffs, horizon, n=100)
    assert len({(f.valid_cutoff, f.train_cutoffs) for f in plan}) == len(plan)
    h = pd.Timedelta(days=horizon)
    for fold in plan:  # the real split's rules still hold for every fold kept
        assert fold.valid_cutoff == max(c for c in cutoffs if c + h <= fold.test_cutoff)
        assert fold.train_cutoffs == tuple(c for c in cutoffs if c + h <= fold.valid_cutoff)
    # a test cutoff is left out only when a later fold already has its training set
    kept = {(f.valid_cutoff, f.train_cutoffs) for f in plan}
    for test in cutoffs:
        fitting = [c for c in cutoffs if c + h <= test]
        train = tuple(c for c in cutoffs if fitting and c + h <= fitting[-1])
        if train and test not in {f.test_cutoff for f in plan}:
            assert (fitting[-1], train) in kept


def test_each_backtest_fold_searches_on_rows_before_its_test_window() -> None:
    horizon = 45
    cutoffs = _monthly("2023-01-01", 12, day=1)
    rows = _rows(cutoffs)
    plan = rolling_origin_plan(cutoffs, horizon, n=3)
    seen: list[tuple[pd.Timestamp, list[TuningFold]]] = []

    def spy(history: pd.DataFrame) -> Tuning | None:
        # what churn.kinds.events builds a fold's search from (rolling_origin_tuning_folds)
        folds, _ = rolling_origin_tuning_folds(history, horizon, backtest=0, n=2)
        seen.append((history["cutoff"].max(), folds))
        return Tuning({"max_depth": 2}, ("max_depth",), tuple(f.name for f in folds), 1, 0.5, 0.6)

    report, predictions = rolling_origin_backtest(
        rows,
        plan,
        COLUMNS,
        FAST,
        overrides={"max_depth": 6},  # the real cutoff's choice: never used when searching
        baselines={},
        purchases=None,
        horizon_days=horizon,
        tune_fold=spy,
    )
    h = pd.Timedelta(days=horizon)
    assert len(seen) == len(plan) == len(report)
    for fold, entry, (latest, folds) in zip(plan, report, seen, strict=True):
        assert latest == fold.valid_cutoff  # the fold's rows up to its validation cutoff
        assert folds, "expected folds to search on"
        for tuning in folds:
            used = pd.concat([tuning.train, tuning.valid, tuning.held_out])
            # every label window the search scores or learns from ends by the fold's test cutoff
            assert (used["cutoff"] + h <= fold.test_cutoff).all()
        assert entry["search"] == {"chosen": {"max_depth": 2}, "folds": [f.name for f in folds]}
    assert list(predictions.columns) == list(PREDICTION_COLUMNS)
    assert list(predictions["fold"].unique()) == [e["test_cutoff"] for e in report]
    for entry in report:
        fold = predictions[predictions["fold"] == entry["test_cutoff"]]
        assert len(fold) == entry["n_test"] == fold["customer_id"].nunique()
        assert roc_auc_score(fold["churned"], fold["probability"]) == pytest.approx(
            entry["roc_auc"]
        )


def test_without_a_search_every_fold_uses_the_given_recipe() -> None:
    cutoffs = _monthly("2023-01-01", 8, day=1)
    rows = _rows(cutoffs, seed=3)
    plan = rolling_origin_plan(cutoffs, 45, n=2)
    kwargs = {"baselines": {}, "purchases": None, "horizon_days": 45}
    report, first = rolling_origin_backtest(rows, plan, COLUMNS, FAST, overrides=None, **kwargs)
    again, second = rolling_origin_backtest(rows, plan, COLUMNS, FAST, overrides=None, **kwargs)
    assert all("search" not in entry for entry in report)
    pd.testing.assert_frame_equal(first, second)  # deterministic: the gate pairs on these
    assert report == again


def test_each_cross_validation_round_searches_without_its_scored_fold() -> None:
    rows = _rows([pd.Timestamp("2024-01-01")], n=400, seed=5)
    rows["fold"] = np.arange(len(rows)) % 4
    seen: list[set[int]] = []

    def spy(history: pd.DataFrame) -> Tuning | None:
        seen.append(set(history["fold"].unique()))
        return None

    aucs, predictions = cross_validated_auc(rows, COLUMNS, FAST, overrides=None, tune_fold=spy)
    assert seen == [{1, 2, 3}, {0, 2, 3}, {0, 1, 3}, {0, 1, 2}]
    assert list(predictions["fold"].unique()) == ["cv 0", "cv 1", "cv 2", "cv 3"]
    assert len(predictions) == len(rows) and len(aucs) == 4


def test_cross_validation_search_folds_need_three_folds_to_learn_stop_and_score() -> None:
    rows = _rows([pd.Timestamp("2024-01-01")], n=90, seed=6)
    two = rows.assign(fold=np.arange(len(rows)) % 2)
    assert cross_validation_tuning_folds(two, 2) == []  # a CV round of 3 folds has 2 left
    three = rows.assign(fold=np.arange(len(rows)) % 3)
    folds = cross_validation_tuning_folds(three, 2)
    assert len(folds) == 2 and all(len(f.train) == 30 for f in folds)
