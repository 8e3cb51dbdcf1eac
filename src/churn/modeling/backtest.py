"""How stable is the recipe over time (rolling origin) or over folds (snapshots)?

Rolling origin: each earlier cutoff ``b`` plays the test cutoff once. Its validation cutoff is
the latest cutoff whose label window ends by ``b``; its training cutoffs are the ones before
that. The same recipe (fixed parameters, no search) is re-trained and scored, with baselines.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from churn.evaluation.metrics import binary_metrics
from churn.io.progress import progress
from churn.modeling.baselines import BaselineInputs, Scorer, baseline_probabilities
from churn.modeling.search import TuningFold
from churn.modeling.train import fit_model
from churn.modeling.training_data import FeatureColumns, outcome
from churn.settings import TrainSettings


@dataclass(frozen=True)
class Fold:
    test_cutoff: pd.Timestamp
    valid_cutoff: pd.Timestamp
    train_cutoffs: tuple[pd.Timestamp, ...]


def rolling_origin_plan(cutoffs: Sequence[pd.Timestamp], horizon_days: int, n: int) -> list[Fold]:
    """Up to ``n`` folds, latest first. Like the real split, each fold's validation cutoff is
    the latest whose window ends by its test cutoff, and its training cutoffs are those whose
    windows end by the validation cutoff; folds without a training cutoff are skipped."""
    ordered = sorted(cutoffs)
    horizon = pd.Timedelta(days=horizon_days)
    folds: list[Fold] = []
    if n <= 0:
        return folds
    for test in reversed(ordered):
        candidates = [c for c in ordered if c + horizon <= test]
        if not candidates:
            continue
        valid = candidates[-1]
        train = tuple(c for c in ordered if c + horizon <= valid)
        if not train:
            continue
        folds.append(Fold(test, valid, train))
        if len(folds) == n:
            break
    return folds


def fold_purged(rows: pd.DataFrame, fold: Fold) -> pd.DataFrame:
    """The fold's purged rows: cutoffs after its training cutoffs and before its validation
    cutoff, whose label windows end by its test cutoff but overlap the validation window."""
    between = (rows["cutoff"] < fold.valid_cutoff) & ~rows["cutoff"].isin(fold.train_cutoffs)
    return rows[between].reset_index(drop=True)


def rolling_origin_backtest(
    rows: pd.DataFrame,
    plan: Sequence[Fold],
    columns: FeatureColumns,
    settings: TrainSettings,
    *,
    overrides: Mapping[str, Any] | None,
    baselines: Mapping[str, Callable[[BaselineInputs], Scorer]],
    purchases: pd.DataFrame | None,
    horizon_days: int,
) -> list[dict[str, Any]]:
    """Metrics of the model and each baseline at every fold's test cutoff. ``rows``: labelled
    feature rows of the training and validation cutoffs (never the real test cutoff)."""
    out = []
    for fold in progress(plan, "rolling-origin backtest"):
        train = rows[rows["cutoff"].isin(fold.train_cutoffs)].reset_index(drop=True)
        valid = rows[rows["cutoff"] == fold.valid_cutoff].reset_index(drop=True)
        test = rows[rows["cutoff"] == fold.test_cutoff].reset_index(drop=True)
        y = outcome(test)
        fit = fit_model(
            train, valid, columns, settings, purged=fold_purged(rows, fold), overrides=overrides
        )
        entry: dict[str, Any] = {
            "test_cutoff": fold.test_cutoff.date().isoformat(),
            "valid_cutoff": fold.valid_cutoff.date().isoformat(),
            "n_train_cutoffs": len(fold.train_cutoffs),
            **binary_metrics(y, fit.model.predict_proba(test)),
            "baselines": {},
        }
        inputs = BaselineInputs(train, valid, purchases, horizon_days)
        scores, skipped = baseline_probabilities(baselines, inputs, test)
        entry["baselines"] = {name: binary_metrics(y, p) for name, p in scores.items()}
        if skipped:
            entry["baselines_not_fitted"] = skipped
        out.append(entry)
    return out


def cross_validated_auc(
    rows: pd.DataFrame,
    columns: FeatureColumns,
    settings: TrainSettings,
    *,
    overrides: Mapping[str, Any] | None,
) -> list[float]:
    """Stratified k-fold ROC AUC over rows with a ``fold`` column (snapshot pipelines). In each
    round the next fold is held out for early stopping and calibration, so the scored fold is
    never used for any choice."""
    folds = sorted(int(f) for f in rows["fold"].unique() if f >= 0)
    aucs = []
    for k in progress(folds, "cross-validation folds"):
        stop = folds[(folds.index(k) + 1) % len(folds)]
        train = rows[~rows["fold"].isin([k, stop])].reset_index(drop=True)
        valid = rows[rows["fold"] == stop].reset_index(drop=True)
        test = rows[rows["fold"] == k].reset_index(drop=True)
        fit = fit_model(train, valid, columns, settings, overrides=overrides)
        aucs.append(binary_metrics(outcome(test), fit.model.predict_proba(test))["roc_auc"])
    return [float(a) for a in np.asarray(aucs)]


def rolling_origin_tuning_folds(
    rows: pd.DataFrame, horizon_days: int, *, backtest: int, n: int
) -> tuple[list[TuningFold], bool]:
    """Up to ``n`` folds for the hyperparameter search: the rolling-origin folds just older than
    the ``backtest`` latest ones, so that the backtest's test cutoffs stay unseen by the
    search. With too few cutoffs for that, the backtest's own folds, and True (the backtest is
    then in sample for the search). ``rows``: labelled rows other than the test cutoff."""
    plan = rolling_origin_plan(list(rows["cutoff"].unique()), horizon_days, backtest + n)
    chosen, overlaps = plan[backtest:], False
    if not chosen:
        chosen, overlaps = plan[:n], bool(backtest)
    folds = [
        TuningFold(
            name=f"test {fold.test_cutoff.date().isoformat()}",
            train=rows[rows["cutoff"].isin(fold.train_cutoffs)].reset_index(drop=True),
            valid=rows[rows["cutoff"] == fold.valid_cutoff].reset_index(drop=True),
            held_out=rows[rows["cutoff"] == fold.test_cutoff].reset_index(drop=True),
        )
        for fold in chosen
    ]
    return folds, overlaps


def cross_validation_tuning_folds(rows: pd.DataFrame, n: int) -> list[TuningFold]:
    """The first ``n`` rounds of :func:`cross_validated_auc` (rows with a ``fold`` column):
    fold k held out, the next one for early stopping, the rest to learn from."""
    folds = sorted(int(f) for f in rows["fold"].unique() if f >= 0)
    out = []
    for k in folds[:n]:
        stop = folds[(folds.index(k) + 1) % len(folds)]
        out.append(
            TuningFold(
                name=f"fold {k}",
                train=rows[~rows["fold"].isin([k, stop])].reset_index(drop=True),
                valid=rows[rows["fold"] == stop].reset_index(drop=True),
                held_out=rows[rows["fold"] == k].reset_index(drop=True),
            )
        )
    return out
