"""How well a ranking puts first the customers an action keeps: Qini curve, Qini coefficient
and uplift at k, measured on held-out contacts (contacted and control rows with outcomes).

Conventions: a higher score means "contact first"; ``treated`` is True for contacted rows and
False for control rows; ``churned`` is the outcome. Effects are churn removed (control churn
rate minus contacted churn rate), positive when contact keeps customers. Pure: arrays in,
numbers and frames out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

DEFAULT_KS = (0.1, 0.2, 0.3)
"""Shares of the ranked rows :func:`compare_rankings` reports uplift at."""


def _arrays(
    uplift_score: Sequence[float] | np.ndarray | pd.Series,
    treated: Sequence[bool] | np.ndarray | pd.Series,
    churned: Sequence[bool] | np.ndarray | pd.Series,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    score = np.asarray(uplift_score, dtype="float64")
    t = np.asarray(treated, dtype=bool)
    c = np.asarray(churned, dtype=bool)
    if not len(score) == len(t) == len(c):
        raise ValueError(
            "uplift_score, treated and churned must have one value per row; got lengths "
            f"{len(score)}, {len(t)} and {len(c)}."
        )
    if np.isnan(score).any():
        raise ValueError(f"uplift_score has {int(np.isnan(score).sum())} missing value(s).")
    return score, t, c


def qini_curve(
    uplift_score: Sequence[float] | np.ndarray | pd.Series,
    treated: Sequence[bool] | np.ndarray | pd.Series,
    churned: Sequence[bool] | np.ndarray | pd.Series,
) -> pd.DataFrame:
    """The Qini curve: for the top ``share`` of rows by score, the churn the contact removed
    there, per contacted row of the whole sample.

    At each distinct score (tied rows enter together) with ``t`` rows targeted, ``n_t``/``n_c``
    contacted/control rows and ``x_t``/``x_c`` churned among them: ``qini = (x_c n_t / n_c -
    x_t) / N_t`` (0 while ``n_c`` is 0), ``N_t`` all contacted rows. It starts at (0, 0) and
    ends at the overall effect (control minus contacted churn rate); a random ranking follows
    the straight line between. Returns columns ``share`` (0-1), ``targeted`` (rows) and
    ``qini``.
    """
    score, t, c = _arrays(uplift_score, treated, churned)
    n, total_treated = len(score), int(t.sum())
    order = np.argsort(-score, kind="stable")
    t, c, ranked = t[order], c[order], score[order]
    n_t, n_c = np.cumsum(t), np.cumsum(~t)
    x_t, x_c = np.cumsum(c & t), np.cumsum(c & ~t)
    kept = np.divide(x_c * n_t, n_c, out=np.zeros(n), where=n_c > 0) - x_t
    qini = kept / total_treated if total_treated else np.zeros(n)
    last_of_tie = np.r_[ranked[1:] != ranked[:-1], True] if n else np.zeros(0, dtype=bool)
    targeted = np.r_[0, np.flatnonzero(last_of_tie) + 1]
    return pd.DataFrame(
        {
            "share": targeted / n if n else np.zeros(1),
            "targeted": targeted,
            "qini": np.r_[0.0, qini[last_of_tie]],
        }
    )


def qini_coefficient(
    uplift_score: Sequence[float] | np.ndarray | pd.Series,
    treated: Sequence[bool] | np.ndarray | pd.Series,
    churned: Sequence[bool] | np.ndarray | pd.Series,
) -> float:
    """The area between the :func:`qini_curve` and random targeting's straight line, with the
    share of rows targeted (0-1) on x and the churn removed per contacted row on y: the mean,
    over every share one could target, of the extra churn-probability points removed by
    targeting in this order rather than at random. 0 for a random ranking, positive when the
    customers the contact keeps come first, negative when those it pushes away do. Scale-free
    in the number of rows, so comparable between samples of the same campaign."""
    curve = qini_curve(uplift_score, treated, churned)
    share, qini = curve["share"].to_numpy(), curve["qini"].to_numpy()
    gain = qini - share * qini[-1]
    return float(np.sum((gain[1:] + gain[:-1]) / 2 * np.diff(share)))


def uplift_at_k(
    uplift_score: Sequence[float] | np.ndarray | pd.Series,
    treated: Sequence[bool] | np.ndarray | pd.Series,
    churned: Sequence[bool] | np.ndarray | pd.Series,
    ks: Sequence[float] = DEFAULT_KS,
) -> pd.Series:
    """For each share ``k`` in ``ks`` (0-1): the control churn rate minus the contacted churn
    rate among the top ceil(k x rows) rows by score (ties by row order). NaN where the top
    holds no control or no contacted row. Indexed by k."""
    score, t, c = _arrays(uplift_score, treated, churned)
    bad = [k for k in ks if not 0 < k <= 1]
    if bad:
        raise ValueError(f"The 'ks' parameter must hold shares in (0, 1]. Got {bad} instead.")
    order = np.argsort(-score, kind="stable")
    t, c = t[order], c[order]
    out = {}
    for k in ks:
        top = math.ceil(k * len(score))
        tt, cc = t[:top], c[:top]
        n_t, n_c = int(tt.sum()), int((~tt).sum())
        out[k] = (
            float(cc[~tt].mean() - cc[tt].mean()) if n_t and n_c else float("nan")
        )  # both arms present: the difference is defined
    return pd.Series(out, name="uplift", dtype="float64")


def compare_rankings(
    rankings: Mapping[str, Sequence[float] | np.ndarray | pd.Series],
    outcomes: pd.DataFrame,
    *,
    ks: Sequence[float] = DEFAULT_KS,
) -> pd.DataFrame:
    """Each ranking's :func:`qini_coefficient` and :func:`uplift_at_k` on the same held-out
    ``outcomes`` (columns ``control`` and ``churned``, one row per contact, aligned by position
    with every ranking's scores; higher score = contact first, so pass risk for a risk
    ranking and predicted uplift for an uplift ranking). One row per ranking (index: its name),
    columns ``qini`` then ``uplift_at_<k in percent>pct``."""
    missing = [c for c in ("control", "churned") if c not in outcomes.columns]
    if missing:
        raise ValueError(
            f"the outcomes frame lacks column(s) {missing}; found {list(outcomes.columns)}."
        )
    treated = ~outcomes["control"].to_numpy(dtype=bool)
    churned = outcomes["churned"].to_numpy(dtype=bool)
    rows = {}
    for name, scores in rankings.items():
        at_k = uplift_at_k(scores, treated, churned, ks)
        rows[name] = {
            "qini": qini_coefficient(scores, treated, churned),
            **{f"uplift_at_{k * 100:g}pct": float(at_k[k]) for k in ks},
        }
    columns = ["qini", *(f"uplift_at_{k * 100:g}pct" for k in ks)]
    return pd.DataFrame.from_dict(rows, orient="index", columns=columns)


def qini_difference(
    better: np.ndarray,
    than: np.ndarray,
    outcomes: pd.DataFrame,
    *,
    confidence: float,
    resamples: int,
    seed: int,
) -> dict[str, float | int]:
    """The Qini of ranking ``better`` minus that of ranking ``than`` on the same held-out
    ``outcomes`` (as :func:`compare_rankings`), with a two-sided ``confidence`` interval from a
    paired bootstrap: each resample draws contacted and control rows again, within their own
    group (so every resample has both), and scores both rankings on the same rows."""
    treated = ~outcomes["control"].to_numpy(dtype=bool)
    churned = outcomes["churned"].to_numpy(dtype=bool)
    a, b = np.asarray(better, dtype="float64"), np.asarray(than, dtype="float64")
    estimate = qini_coefficient(a, treated, churned) - qini_coefficient(b, treated, churned)
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(treated), np.flatnonzero(~treated)]
    draws = np.empty(resamples)
    for i in range(resamples):
        rows = np.concatenate([rng.choice(g, size=len(g), replace=True) for g in groups])
        t, c = treated[rows], churned[rows]
        draws[i] = qini_coefficient(a[rows], t, c) - qini_coefficient(b[rows], t, c)
    tail = (1 - confidence) / 2
    low, high = np.quantile(draws, [tail, 1 - tail])
    return {
        "estimate": float(estimate),
        "low": float(low),
        "high": float(high),
        "confidence": confidence,
        "resamples": resamples,
    }
