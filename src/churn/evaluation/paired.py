"""Is one model's ROC AUC better than another's on the same customers? A paired comparison
over folds, with a bootstrap confidence interval.

Both models scored the same customers of each fold (the same outcomes). The statistic is the
mean over folds of the per-fold AUC difference (challenger minus champion), each fold counting
once: a fold is a period, and a month with more customers is not more of the future. Its
interval is a percentile bootstrap, stratified by fold: each resample draws every fold's
customers with replacement (as many as the fold has) and both models are scored on the same
draw, so what the two share (the customers, the month) cancels out of the difference. The
folds themselves are fixed: the interval is the sampling noise of the customers, not the
variation from one season to the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from churn.validation import must_be, parameter

_CHUNK = 64
"""Resamples scored at once (a resamples x customers weight matrix per fold and model)."""


@dataclass(frozen=True)
class PairedFold:
    """One fold's customers as both models scored them: ``y`` 0/1 outcomes, ``challenger`` and
    ``champion`` probabilities, aligned row by row (n_customers,)."""

    name: str
    y: np.ndarray
    challenger: np.ndarray
    champion: np.ndarray


@dataclass(frozen=True)
class AucDifference:
    """Challenger minus champion ROC AUC, the mean over ``folds``, and its interval."""

    folds: tuple[str, ...]
    n_customers: int
    difference: float
    low: float
    high: float
    confidence: float
    resamples: int
    challenger_auc: float
    champion_auc: float
    per_fold: dict[str, float] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        return {
            "folds": list(self.folds),
            "n_customers": self.n_customers,
            "roc_auc_difference": self.difference,
            "ci_low": self.low,
            "ci_high": self.high,
            "confidence": self.confidence,
            "bootstrap_resamples": self.resamples,
            "challenger_roc_auc": self.challenger_auc,
            "champion_roc_auc": self.champion_auc,
            "difference_per_fold": dict(self.per_fold),
        }


@dataclass(frozen=True)
class _Ranked:
    """Scores sorted once: the order, where each run of tied scores starts, the outcomes."""

    order: np.ndarray
    starts: np.ndarray
    positive: np.ndarray

    @classmethod
    def of(cls, scores: np.ndarray, y: np.ndarray) -> _Ranked:
        order = np.argsort(scores, kind="mergesort")
        ranked = scores[order]
        starts = np.concatenate([[0], np.flatnonzero(np.diff(ranked)) + 1])
        return cls(order, starts, y[order].astype(bool))

    def auc(self, weights: np.ndarray) -> np.ndarray:
        w = weights[:, self.order]
        pos = np.add.reduceat(np.where(self.positive, w, 0.0), self.starts, axis=1)
        neg = np.add.reduceat(np.where(self.positive, 0.0, w), self.starts, axis=1)
        below = np.cumsum(neg, axis=1) - neg
        total = pos.sum(axis=1) * neg.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray((pos * (below + 0.5 * neg)).sum(axis=1) / total, dtype="float64")


def weighted_auc(scores: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC of ``scores`` (n,) against 0/1 ``y`` (n,) under each row of ``weights`` (k, n):
    a row of counts is the AUC of the rows repeated that many times (ties count one half, as
    scikit-learn). Returns (k,); NaN where a weighting leaves one class empty."""
    return _Ranked.of(np.asarray(scores, dtype=float), np.asarray(y)).auc(weights)


def _resample_counts(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """(k, n) counts of a bootstrap draw of n rows with replacement, k times."""
    drawn = rng.integers(0, n, size=(k, n)) + np.arange(k)[:, None] * n
    return np.bincount(drawn.ravel(), minlength=k * n).reshape(k, n).astype(float)


def paired_auc_difference(
    folds: Sequence[PairedFold], *, confidence: float, resamples: int, seed: int = 0
) -> AucDifference:
    """The mean over ``folds`` of challenger minus champion ROC AUC, with a ``confidence``
    percentile interval from ``resamples`` paired bootstrap resamples stratified by fold
    (seeded: the same inputs give the same interval). Every fold needs both outcomes."""
    if not folds:
        raise ValueError(must_be(parameter("folds"), "a non-empty sequence of PairedFold", folds))
    if not 0 < confidence < 1:
        raise ValueError(must_be(parameter("confidence"), "a float in (0, 1)", confidence))
    rng = np.random.default_rng(seed)
    total = np.zeros(resamples)
    per_fold, challenger_aucs, champion_aucs = {}, [], []
    for fold in folds:
        y = np.asarray(fold.y).astype(int)
        if len(np.unique(y)) != 2:
            raise ValueError(f"fold {fold.name}: expected churners and stayers. Got one class.")
        ours = _Ranked.of(np.asarray(fold.challenger, dtype=float), y)
        theirs = _Ranked.of(np.asarray(fold.champion, dtype=float), y)
        ones = np.ones((1, len(y)))
        c, h = float(ours.auc(ones)[0]), float(theirs.auc(ones)[0])
        challenger_aucs.append(c)
        champion_aucs.append(h)
        per_fold[fold.name] = c - h
        for start in range(0, resamples, _CHUNK):
            counts = _resample_counts(rng, len(y), min(_CHUNK, resamples - start))
            total[start : start + len(counts)] += ours.auc(counts) - theirs.auc(counts)
    draws = total[np.isfinite(total)] / len(folds)
    tail = (1 - confidence) / 2
    low, high = np.quantile(draws, [tail, 1 - tail]) if draws.size else (np.nan, np.nan)
    return AucDifference(
        folds=tuple(f.name for f in folds),
        n_customers=int(sum(len(f.y) for f in folds)),
        difference=float(np.mean(list(per_fold.values()))),
        low=float(low),
        high=float(high),
        confidence=confidence,
        resamples=resamples,
        challenger_auc=float(np.mean(challenger_aucs)),
        champion_auc=float(np.mean(champion_aucs)),
        per_fold=per_fold,
    )


def paired_folds(
    challenger: pd.DataFrame, champion: pd.DataFrame
) -> tuple[list[PairedFold], list[str]]:
    """The folds both versions' backtest predictions hold with the same customers and the same
    outcomes, in the challenger's order, and why each other challenger fold was left out.

    Both frames have the columns of :data:`churn.modeling.backtest.PREDICTION_COLUMNS`
    (``fold``, ``customer_id``, ``churned``, ``probability``; ``cutoff`` is not compared:
    ``fold`` names it)."""
    paired, left_out = [], []
    theirs = {str(name): rows for name, rows in champion.groupby("fold", sort=False)}
    for key, ours in challenger.groupby("fold", sort=False):
        name = str(key)
        other = theirs.get(name)
        if other is None:
            left_out.append(f"{name}: the champion has no predictions for it")
            continue
        a = _by_customer(ours)
        b = _by_customer(other)
        if not a.index.equals(b.index):
            shared = len(a.index.intersection(b.index))
            left_out.append(
                f"{name}: different customers ({len(a):,} vs the champion's {len(b):,}, "
                f"{shared:,} shared)"
            )
            continue
        changed = int((a["churned"] != b["churned"]).sum())
        if changed:
            left_out.append(f"{name}: {changed:,} customers' outcomes differ (the data changed)")
            continue
        y = a["churned"].to_numpy(dtype=int)
        if len(np.unique(y)) != 2:
            left_out.append(f"{name}: only one outcome among its customers")
            continue
        paired.append(
            PairedFold(
                name,
                y,
                a["probability"].to_numpy(dtype=float),
                b["probability"].to_numpy(dtype=float),
            )
        )
    return paired, left_out


def _by_customer(rows: pd.DataFrame) -> pd.DataFrame:
    """``churned`` (int) and ``probability`` indexed by customer id as text, sorted (an id
    read as a number by one version and as text by another is the same customer)."""
    frame = pd.DataFrame(
        {
            "churned": rows["churned"].astype(int).to_numpy(),
            "probability": rows["probability"].astype(float).to_numpy(),
        },
        index=pd.Index(rows["customer_id"].astype(str).to_numpy(), name="customer_id"),
    )
    return frame.sort_index()
