"""Headline metrics of churn probabilities on one held-out set, and the operating threshold.

Inputs are those of :mod:`churn.evaluation.inputs`. ROC AUC, average precision and the Brier
score come from scikit-learn; the expected calibration error (bins of
:func:`churn.evaluation.curves.calibration_frame`) and the top-decile lift (ties at the cut
shared pro rata, :mod:`churn.evaluation.ranking`) have no scikit-learn equivalent.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from churn.evaluation.curves import BinStrategy, calibration_frame
from churn.evaluation.inputs import FloatArray, IntArray, validated
from churn.evaluation.ranking import caught_in_top, ranked_counts, top_count
from churn.validation import check_choice

ThresholdRule = Literal["max_f1", "top_decile"]

METRIC_KEYS = ("roc_auc", "pr_auc", "brier", "ece", "lift_top_decile", "n_test", "positive_rate")
TOP_DECILE = 0.1


def roc_auc(y: IntArray, p: FloatArray) -> float:
    """Area under the ROC curve of validated ``y`` (both classes) and ``p``; a tied
    (churner, stayer) pair counts one half."""
    return float(roc_auc_score(y, p))


def top_decile_lift(y: IntArray, p: FloatArray) -> float:
    """Churn rate among the ``ceil(10%)`` highest ``p`` (ties at the cut shared pro rata) over
    the overall churn rate, for validated ``y`` (at least one churner) and ``p``."""
    k = top_count(np.array([TOP_DECILE]), len(y))
    top_rate = float(caught_in_top(y, p, k)[0] / k[0])
    return top_rate / float(y.mean())


def expected_calibration_error(
    y_true: ArrayLike | pd.Series,
    p: ArrayLike | pd.Series,
    n_bins: int = 10,
    strategy: BinStrategy = "quantile",
) -> float:
    """Expected calibration error: the mean over bins of ``|mean(p) - mean(y)|``, weighted by
    each bin's share of customers. 0 means every bin's predicted rate equals its observed rate.

    Bins are those of :func:`churn.evaluation.curves.calibration_frame`: equal-frequency
    quantile bins by default, ``"uniform"`` for equal-width bins on [0, 1].

    Parameters
    ----------
    y_true, p : (n_customers,) 0/1 outcomes and churn probabilities.
    n_bins : int, at most this many bins (fewer when ``p`` has ties or empty bins).
    strategy : "quantile" or "uniform".

    Returns
    -------
    float in [0, 1], in probability units.
    """
    frame = calibration_frame(y_true, p, n_bins=n_bins, strategy=strategy)
    gap = (frame["mean_predicted"] - frame["observed_rate"]).abs()
    return float((gap * frame["count"]).sum() / frame["count"].sum())


def calibration_noise(n: int, n_bins: int = 10) -> float:
    """The expected calibration error a perfectly calibrated model shows by chance on ``n``
    customers in ``n_bins`` equal-frequency bins: each bin's observed rate misses its true rate
    by ``sqrt(2/pi) x sd`` on average, with sd at most ``sqrt(0.25 / (n / n_bins))``. About
    0.019 on 4,317 customers, 0.04 on 1,000, 0.13 on 100: an ECE gate must not refuse a model
    for what its test set's size alone produces."""
    return float(math.sqrt(2 / math.pi) * 0.5 * math.sqrt(n_bins / n))


def binary_metrics(y_true: ArrayLike | pd.Series, p: ArrayLike | pd.Series) -> dict[str, float]:
    """Headline metrics of churn probabilities on one held-out set.

    Parameters
    ----------
    y_true : (n_customers,) 0/1 outcomes, 1 = churned; both classes must occur.
    p : (n_customers,) churn probabilities in [0, 1].

    Returns
    -------
    dict with exactly these keys (plain Python numbers, JSON-ready):
        ``roc_auc``: area under the ROC curve (0.5 = random ranking, 1 = perfect);
        ``pr_auc``: average precision, sum over distinct thresholds of (gain in recall) x
        precision, no interpolation (scikit-learn's ``average_precision_score``);
        ``brier``: mean squared error of ``p``, in probability units squared;
        ``ece``: expected calibration error over 10 equal-frequency bins;
        ``lift_top_decile``: churn rate among the ``ceil(10%)`` highest ``p`` divided by the
        overall churn rate (ties at the cut shared pro rata; a perfect model scores
        ``1 / positive_rate`` when that is at most 10);
        ``n_test``: int, customers evaluated;
        ``positive_rate``: share of customers who churned.

    Raises
    ------
    TrainingError listing every problem with the inputs (lengths, range, classes).
    """
    y, prob = validated("binary_metrics", y_true, p, need_both_classes=True)
    return {
        "roc_auc": roc_auc(y, prob),
        "pr_auc": float(average_precision_score(y, prob)),
        "brier": float(brier_score_loss(y, prob)),
        "ece": expected_calibration_error(y, prob),
        "lift_top_decile": top_decile_lift(y, prob),
        "n_test": len(y),
        "positive_rate": float(y.mean()),
    }


def operating_threshold(
    y_true: ArrayLike | pd.Series, p: ArrayLike | pd.Series, rule: ThresholdRule = "max_f1"
) -> float:
    """The probability threshold at which to flag customers (``p >= threshold``).

    Choose it on validation data, never on the test set it will be judged on.

    Parameters
    ----------
    y_true, p : (n_customers,) 0/1 outcomes and churn probabilities.
    rule : ``"max_f1"`` (default): the distinct ``p`` that maximises F1 on these data; among
        equal F1 the highest threshold (fewest customers flagged). Needs both classes.
        ``"top_decile"``: the ``ceil(10%)``-th highest ``p``, so about the top 10% are flagged
        (more when customers tie at the threshold); ``y_true`` is only validated.

    Returns
    -------
    float in [0, 1].
    """
    check_choice("rule", rule, ("max_f1", "top_decile"))
    y, prob = validated("operating_threshold", y_true, p, need_both_classes=rule == "max_f1")
    if rule == "top_decile":
        k = int(top_count(np.array([TOP_DECILE]), len(prob))[0])
        return float(np.sort(prob)[::-1][k - 1])
    thresholds, flagged, caught = ranked_counts(y, prob)
    f1 = 2.0 * caught / (flagged + y.sum())
    return float(thresholds[int(np.argmax(f1))])
