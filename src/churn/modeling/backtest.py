"""How stable is the recipe over time (rolling origin) or over folds (snapshots)?

Rolling origin: each earlier cutoff ``b`` plays the test cutoff once. Its validation cutoff is
the latest cutoff whose label window ends by ``b``; its training cutoffs are the ones before
that. The same recipe is re-trained and scored, with baselines; with the search on, each fold
searches its own hyperparameters on folds older than its test cutoff (``tune_fold``), so no
fold is scored with parameters chosen on its own test window. Every fold's test predictions
(:func:`fold_predictions` columns) are kept: the promotion gate compares versions on them.
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
from churn.modeling.search import Tuning, TuningFold
from churn.modeling.train import fit_model
from churn.modeling.training_data import FeatureColumns, outcome
from churn.settings import TrainSettings

PREDICTION_COLUMNS = ("fold", "customer_id", "cutoff", "churned", "probability")
"""Columns of the per-fold test predictions (``models/<p>/backtest_predictions.parquet``):
``fold`` names the fold (its test cutoff, ``YYYY-MM-DD``, or ``cv <k>`` for a snapshot's
cross-validation), ``churned`` is the 0/1 outcome, ``probability`` the fold model's."""

TuneFold = Callable[[pd.DataFrame], Tuning | None]
"""Searches hyperparameters on the rows a fold may learn from (all of them before its test
cutoff's label window); None keeps the configured recipe."""


@dataclass(frozen=True)
class Fold:
    test_cutoff: pd.Timestamp
    valid_cutoff: pd.Timestamp
    train_cutoffs: tuple[pd.Timestamp, ...]


def rolling_origin_plan(cutoffs: Sequence[pd.Timestamp], horizon_days: int, n: int) -> list[Fold]:
    """Up to ``n`` distinct folds, latest first. Like the real split, each fold's validation
    cutoff is the latest whose window ends by its test cutoff, and its training cutoffs are
    those whose windows end by the validation cutoff; folds without a training cutoff are
    skipped. A test cutoff whose validation and training cutoffs are those of a later fold is
    skipped too (monthly cutoffs with a 90-day horizon map two test months onto one training
    set): the plan steps back until a fold trains on something else, so no two folds repeat
    one fit on neighbouring months and count it twice."""
    ordered = sorted(cutoffs)
    horizon = pd.Timedelta(days=horizon_days)
    folds: list[Fold] = []
    if n <= 0:
        return folds
    seen: set[tuple[pd.Timestamp, tuple[pd.Timestamp, ...]]] = set()
    for test in reversed(ordered):
        candidates = [c for c in ordered if c + horizon <= test]
        if not candidates:
            continue
        valid = candidates[-1]
        train = tuple(c for c in ordered if c + horizon <= valid)
        if not train or (valid, train) in seen:
            continue
        seen.add((valid, train))
        folds.append(Fold(test, valid, train))
        if len(folds) == n:
            break
    return folds


def fold_purged(rows: pd.DataFrame, fold: Fold) -> pd.DataFrame:
    """The fold's purged rows: cutoffs after its training cutoffs and before its validation
    cutoff, whose label windows end by its test cutoff but overlap the validation window."""
    between = (rows["cutoff"] < fold.valid_cutoff) & ~rows["cutoff"].isin(fold.train_cutoffs)
    return rows[between].reset_index(drop=True)


def fold_predictions(name: str, test: pd.DataFrame, probability: np.ndarray) -> pd.DataFrame:
    """One fold's test predictions in :data:`PREDICTION_COLUMNS`."""
    return pd.DataFrame(
        {
            "fold": name,
            "customer_id": test["customer_id"].to_numpy(),
            "cutoff": test["cutoff"].to_numpy(),
            "churned": outcome(test).astype("int8"),
            "probability": np.asarray(probability, dtype="float64"),
        }
    )


def no_fold_predictions() -> pd.DataFrame:
    """The fold predictions of a backtest without a fold: no rows, :data:`PREDICTION_COLUMNS`."""
    return _all_predictions([])


def _all_predictions(frames: list[pd.DataFrame]) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in PREDICTION_COLUMNS})
    return pd.concat(frames, ignore_index=True)


def _fold_overrides(
    tune_fold: TuneFold | None, history: pd.DataFrame, overrides: Mapping[str, Any] | None
) -> tuple[Mapping[str, Any] | None, dict[str, Any]]:
    """The fold's parameters and what its search reported (empty without a search)."""
    if tune_fold is None:
        return overrides, {}
    tuning = tune_fold(history)
    if tuning is None:
        return None, {"search": None}
    return tuning.params, {"search": {"chosen": tuning.params, "folds": list(tuning.folds)}}


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
    tune_fold: TuneFold | None = None,
) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    """Metrics of the model and each baseline at every fold's test cutoff, and the model's
    test predictions of every fold (:data:`PREDICTION_COLUMNS`). ``rows``: labelled feature
    rows of the training and validation cutoffs (never the real test cutoff). With
    ``tune_fold``, each fold's parameters come from it, given only the fold's rows up to its
    validation cutoff (``overrides`` is then unused)."""
    out, predictions = [], []
    for fold in progress(plan, "rolling-origin backtest"):
        train = rows[rows["cutoff"].isin(fold.train_cutoffs)].reset_index(drop=True)
        valid = rows[rows["cutoff"] == fold.valid_cutoff].reset_index(drop=True)
        test = rows[rows["cutoff"] == fold.test_cutoff].reset_index(drop=True)
        y = outcome(test)
        history = rows[rows["cutoff"] <= fold.valid_cutoff].reset_index(drop=True)
        params, searched = _fold_overrides(tune_fold, history, overrides)
        fit = fit_model(
            train, valid, columns, settings, purged=fold_purged(rows, fold), overrides=params
        )
        p = fit.model.predict_proba(test)
        name = fold.test_cutoff.date().isoformat()
        predictions.append(fold_predictions(name, test, p))
        entry: dict[str, Any] = {
            "test_cutoff": name,
            "valid_cutoff": fold.valid_cutoff.date().isoformat(),
            "n_train_cutoffs": len(fold.train_cutoffs),
            **binary_metrics(y, p),
            **searched,
            "baselines": {},
        }
        inputs = BaselineInputs(train, valid, purchases, horizon_days)
        scores, skipped = baseline_probabilities(baselines, inputs, test)
        entry["baselines"] = {name: binary_metrics(y, p) for name, p in scores.items()}
        if skipped:
            entry["baselines_not_fitted"] = skipped
        out.append(entry)
    return out, _all_predictions(predictions)


def cross_validated_auc(
    rows: pd.DataFrame,
    columns: FeatureColumns,
    settings: TrainSettings,
    *,
    overrides: Mapping[str, Any] | None,
    tune_fold: TuneFold | None = None,
) -> tuple[list[float], pd.DataFrame]:
    """Stratified k-fold ROC AUC over rows with a ``fold`` column (snapshot pipelines), and
    each round's test predictions (:data:`PREDICTION_COLUMNS`, fold ``cv <k>``). In each round
    the next fold is held out for early stopping and calibration, so the scored fold is never
    used for any choice; with ``tune_fold``, the round's parameters come from it, given every
    row but the scored fold's."""
    folds = sorted(int(f) for f in rows["fold"].unique() if f >= 0)
    aucs, predictions = [], []
    for k in progress(folds, "cross-validation folds"):
        stop = folds[(folds.index(k) + 1) % len(folds)]
        train = rows[~rows["fold"].isin([k, stop])].reset_index(drop=True)
        valid = rows[rows["fold"] == stop].reset_index(drop=True)
        test = rows[rows["fold"] == k].reset_index(drop=True)
        params, _ = _fold_overrides(tune_fold, rows[rows["fold"] != k], overrides)
        fit = fit_model(train, valid, columns, settings, overrides=params)
        p = fit.model.predict_proba(test)
        predictions.append(fold_predictions(f"cv {k}", test, p))
        aucs.append(binary_metrics(outcome(test), p)["roc_auc"])
    return [float(a) for a in np.asarray(aucs)], _all_predictions(predictions)


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
    fold k held out, the next one for early stopping, the rest to learn from. None with fewer
    than three folds: nothing would be left to learn from."""
    folds = sorted(int(f) for f in rows["fold"].unique() if f >= 0)
    out: list[TuningFold] = []
    if len(folds) < 3:
        return out
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
