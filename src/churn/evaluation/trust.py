"""When the test figures cannot be taken at face value, and why: warnings that ``churn train``
logs and writes to ``metrics.json`` beside the figures they qualify.

* **Too good.** A churn model ranks customers by what they did before the cutoff; the future
  is noisy, so real churn models rarely pass 0.95 test ROC AUC: the bundled pipelines reach
  0.71 to 0.85 (subscription, retail, cdnow, telco). Above :data:`SUSPECT_TEST_AUC` a leak is
  likelier than a model: a column recorded after the churn it predicts, or churners who had
  gone quiet before the cutoff. The warning names the features carrying most of the trees' gain with
  their single-feature ROC AUC on the test rows, so the one to check stands out.
* **Too few to say.** The ROC AUC of 13 churners is a guess. The interval written beside it is
  DeLong's (:func:`auc_interval`), one sort of the scores; near 1 it is narrow, and at
  exactly 1 it is empty: the counts say more there, and the warning gives them.
* **A churn rate near 0 % or 100 %.** ROC AUC ignores the base rate: with 1 % churners a
  model at 0.9 still flags mostly customers who stay, and with 99 % churners nearly everyone
  is a churner, which usually means the label counts customers who were never coming back.

Pure: dicts and arrays in, numbers and sentences out.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import norm, rankdata

SUSPECT_TEST_AUC = 0.95
"""Test ROC AUC from which the figure is more likely a leak than a model (see above)."""
MIN_TEST_CLASS_ROWS = 50
"""Fewest churners and fewest stayers a test set needs before its figures go without a
warning. At 50 churners the 95 % interval of a 0.8 ROC AUC spans about 0.12 (0.74 to 0.86),
as wide as the gap between a good and a poor churn model; the bundled pipelines test on 92
(subscription) to 3,317 (cdnow's stayers) of the smaller class."""
EXTREME_CHURN_RATE = 0.02
"""A test churn rate below this or above 1 minus this is worth a warning."""
CONFIDENCE = 0.95
"""Coverage of the ROC AUC interval written to ``metrics.json``."""
TOP_FEATURES = 3
"""Features a too-good warning names."""
SUSPECT_FEATURE_AUC = 0.9
"""Single-feature test ROC AUC from which a feature a too-good model leans on is named as a
suspect beside the one it leans on most: the strongest single features of the bundled
pipelines score about 0.74 on their training rows."""
SUSPECT_GAIN_SHARE = 0.2
"""Share of the trees' gain from which such a feature is named as a suspect too."""


def auc_interval(
    y_true: ArrayLike, p: ArrayLike, *, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """The ``confidence`` interval of the ROC AUC of ``p`` on 0/1 outcomes ``y_true`` (both
    classes): DeLong's variance from the placement values (midranks, so ties count one half,
    as in scikit-learn's AUC), and AUC ± z se clipped to [0, 1]. DeLong, E. R., DeLong, D. M.
    and Clarke-Pearson, D. L. (1988), Biometrics 44, 837-845; the midrank form is Sun and Xu's
    (2014), O(n log n). Hanley and McNeil's formula needs only the AUC and the counts, but
    on binormal scores it came out 1.1 to 2.3 times the bootstrap's standard error; DeLong's
    matched it within 4 %."""
    y = np.asarray(y_true).astype(bool)
    scores = np.asarray(p, dtype="float64")
    churners, stayers = scores[y], scores[~y]
    n1, n0 = len(churners), len(stayers)
    if n1 < 1 or n0 < 1:
        raise ValueError(f"an AUC interval needs both classes; got {n1} churners, {n0} stayers")
    ranks = rankdata(scores)
    # each churner's share of stayers ranked below it, each stayer's share of churners above
    v10 = (ranks[y] - rankdata(churners)) / n0
    v01 = 1.0 - (ranks[~y] - rankdata(stayers)) / n1
    auc = float(v10.mean())
    variance = sum(float(v.var(ddof=1)) / len(v) for v in (v10, v01) if len(v) > 1)
    half = float(norm.ppf(0.5 + confidence / 2.0)) * math.sqrt(variance)
    return max(0.0, auc - half), min(1.0, auc + half)


def class_counts(metrics: Mapping[str, Any]) -> tuple[int, int]:
    """Churners and stayers among the test customers of ``metrics.json``'s figures."""
    n = int(metrics["n_test"])
    churners = round(float(metrics["positive_rate"]) * n)
    return churners, n - churners


def interval_record(
    y_true: ArrayLike, p: ArrayLike, *, confidence: float = CONFIDENCE
) -> dict[str, Any]:
    """``metrics.json``'s ``roc_auc_interval``: the test ROC AUC's interval and how it was
    made."""
    low, high = auc_interval(y_true, p, confidence=confidence)
    return {"low": low, "high": high, "confidence": confidence, "method": "DeLong"}


def _interval_phrase(metrics: Mapping[str, Any]) -> str:
    interval = metrics.get("roc_auc_interval")
    if not interval:
        return "no interval computed"
    low, high = interval["low"], interval["high"]
    said = f"{interval['confidence']:.0%} interval {low:.3f} to {high:.3f}"
    if high - low == 0:
        return said + " (every churner ranked above every stayer, which no interval describes)"
    return said + f", {high - low:.3f} wide"


def _folds_phrase(folds: Mapping[str, Any] | None) -> str:
    """What the backtest or cross-validation adds (``backtest.json``'s summary), or how to get
    it when there is none."""
    if folds and folds.get("folds") and "roc_auc_min" in folds:
        return (
            f"The {folds['folds']} backtest or cross-validation folds (backtest.json) reached "
            f"{folds['roc_auc_min']:.3f} to {folds['roc_auc_max']:.3f}: more customers, read "
            "them before this figure"
        )
    return (
        "No backtest fold scored other customers (train.backtest_cutoffs is 0 or no earlier "
        "cutoff could be scored): more cutoffs, or a larger labels.test_fraction on a "
        "snapshot, give the figure more customers"
    )


def small_test_warning(
    metrics: Mapping[str, Any],
    folds: Mapping[str, Any] | None = None,
    *,
    min_class_rows: int = MIN_TEST_CLASS_ROWS,
) -> str | None:
    """A sentence when the test set has fewer than ``min_class_rows`` churners or stayers,
    with the counts and the ROC AUC's interval; ``folds``: ``backtest.json``'s summary."""
    churners, stayers = class_counts(metrics)
    if min(churners, stayers) >= min_class_rows:
        return None
    fewer = "churners" if churners < stayers else "stayers"
    return (
        f"the test ROC AUC {metrics['roc_auc']:.3f} rests on {churners:,} churners and "
        f"{stayers:,} stayers ({_interval_phrase(metrics)}): with fewer than {min_class_rows} "
        f"{fewer} every test figure is mostly chance, so do not compare models or baselines "
        f"on it. {_folds_phrase(folds)}"
    )


def too_good_warning(
    metrics: Mapping[str, Any],
    gain_shares: Mapping[str, float],
    test_aucs: Mapping[str, float],
    *,
    built_in: Collection[str] = (),
    threshold: float = SUSPECT_TEST_AUC,
    top: int = TOP_FEATURES,
) -> str | None:
    """A sentence when the test ROC AUC is at or above ``threshold``, naming the ``top``
    features by share of the trees' gain (``gain_shares``, feature -> share) with their
    single-feature ROC AUC on the test rows (``test_aucs``, oriented: 0.5 is chance).
    ``built_in``: the features churn computes from the events before each cutoff, which
    cannot carry the label but can find churners already gone."""
    if metrics["roc_auc"] < threshold:
        return None
    ranked = sorted(gain_shares.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    named = "; ".join(
        f"{name!r} {share:.0%} of the gain"
        + (f", alone {test_aucs[name]:.3f} ROC AUC on the test rows" if name in test_aucs else "")
        for name, share in ranked
    )
    said = (
        f"the test ROC AUC {metrics['roc_auc']:.3f} is higher than churn models reach (rarely "
        f"above {threshold:g}): a leak is likelier than a model. "
    )
    if named:
        said += f"The model leans on {named}. "
    # the feature the model leans on most, and any other of the top that carries much of the
    # gain or ranks the test customers well alone
    suspects = [
        name
        for i, (name, share) in enumerate(ranked)
        if i == 0 or share >= SUSPECT_GAIN_SHARE or test_aucs.get(name, 0.0) >= SUSPECT_FEATURE_AUC
    ]
    columns = [name for name in suspects if name not in built_in]
    if columns:
        said += (
            f"If {' or '.join(repr(c) for c in columns)} is only known after a customer "
            "churned (a status, a closing date, a cancellation reason, a churn score), leave "
            f"it out (train.exclude_features: {columns}) and train again: a real signal keeps "
            "most of the AUC without it. "
        )
    if any(name in built_in for name in suspects):
        said += (
            "Features churn computes from the events before each cutoff cannot leak, but they "
            "find churners who had gone quiet before it: a shorter labels.max_inactive_days "
            "keeps to customers who can still be kept. "
        )
    return said + (
        "The leakage screen stops training only on a feature that alone reaches "
        "train.leakage.max_single_feature_auc (0.98 by default) on the training rows: set it "
        f"to {SUSPECT_FEATURE_AUC:g} and churn train names every feature that strong"
    )


def extreme_rate_warning(
    metrics: Mapping[str, Any], *, extreme: float = EXTREME_CHURN_RATE
) -> str | None:
    """A sentence when the test churn rate is below ``extreme`` or above ``1 - extreme``."""
    rate = float(metrics["positive_rate"])
    if rate < extreme:
        return (
            f"only {rate:.2%} of the test customers churned: ROC AUC does not see the base "
            "rate, and a model with a high one still flags mostly customers who stay. Judge "
            f"the list by pr_auc ({metrics['pr_auc']:.3f}, against {rate:.3f} for a random "
            "list) and lift_top_decile"
        )
    if rate > 1.0 - extreme:
        return (
            f"{rate:.2%} of the test customers churned: nearly everyone. The label probably "
            "counts customers who were never coming back (one-time buyers, a horizon shorter "
            "than the time between their visits): check labels.horizon_days and who is "
            "eligible at a cutoff; the top-decile lift cannot exceed "
            f"{1.0 / rate:.2f} here"
        )
    return None


def figure_warnings(
    metrics: Mapping[str, Any],
    *,
    gain_shares: Mapping[str, float],
    test_aucs: Mapping[str, float],
    built_in: Collection[str] = (),
    folds: Mapping[str, Any] | None = None,
) -> list[str]:
    """Every warning above that ``metrics`` (``metrics.json``'s figures, its
    ``roc_auc_interval`` included when present) calls for, in the order a reader should
    weigh them: too few to say, too good, the churn rate."""
    found = [
        small_test_warning(metrics, folds),
        too_good_warning(metrics, gain_shares, test_aucs, built_in=built_in),
        extreme_rate_warning(metrics),
    ]
    return [w for w in found if w is not None]
