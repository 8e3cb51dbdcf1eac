"""Curve data of held-out churn probabilities, as frames for DVC plots and the report figures:
ROC, precision-recall, calibration (reliability diagram), cumulative gains and confusion counts.

Inputs are those of :mod:`churn.evaluation.inputs`. A customer is *flagged* (predicted to
churn) when ``p >= threshold``. ROC and precision-recall points come from scikit-learn at every
distinct ``p``; long curves are thinned to ``MAX_CURVE_POINTS`` exact points.

Calibration bins (``"quantile"``, the default): edges at the 0, 1/n_bins, ..., 1 quantiles of
``p``; ``"uniform"``: edges at 0, 1/n_bins, ..., 1. Each bin is ``[lower, upper)`` and the last
also holds its upper edge. Equal probabilities always share a bin, so heavily tied ``p`` give
fewer, larger quantile bins; empty bins are dropped.

Gains use the tie-aware ranking cuts of :mod:`churn.evaluation.ranking`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from sklearn.metrics import precision_recall_curve, roc_curve

from churn.evaluation.inputs import FloatArray, IntArray, validated
from churn.evaluation.ranking import caught_in_top, top_count
from churn.validation import check_choice, check_int, check_real

BinStrategy = Literal["quantile", "uniform"]

MAX_CURVE_POINTS = 200
"""Most rows a ROC or precision-recall frame keeps (DVC plot files stay small)."""
CHURN, STAY = "churn", "stay"


def _bin_index(p: FloatArray, n_bins: int, strategy: BinStrategy) -> IntArray:
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    else:
        edges = np.quantile(p, np.linspace(0.0, 1.0, n_bins + 1))
    return np.searchsorted(edges[1:-1], p, side="right").astype(np.int64)


def _thin(x: FloatArray, y: FloatArray, max_points: int) -> IntArray:
    """Indices of at most ``max_points`` curve points spread evenly along the curve's length,
    always keeping the first and last point; every kept point is an exact curve point."""
    n = len(x)
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    length = np.append(0.0, np.cumsum(np.hypot(np.diff(x), np.diff(y))))
    targets = np.linspace(0.0, length[-1], max_points - 1)
    idx = np.searchsorted(length, targets, side="left")
    return np.unique(np.append(np.clip(idx, 0, n - 1), n - 1)).astype(np.int64)


def roc_curve_frame(
    y_true: ArrayLike | pd.Series, p: ArrayLike | pd.Series, *, max_points: int = MAX_CURVE_POINTS
) -> pd.DataFrame:
    """ROC curve points for a DVC linear plot.

    Returns
    -------
    DataFrame (<= max_points rows; columns ``fpr``, ``tpr``, ``threshold``), ordered by
    falling threshold from (0, 0) to (1, 1). Row i flags customers with ``p >= threshold``; the
    first row flags nobody and shows threshold 1.0. Large curves are thinned to points spread
    evenly along the curve, each an exact point of the full curve.
    """
    check_int("max_points", max_points, minimum=2)
    y, prob = validated("roc_curve_frame", y_true, p, need_both_classes=True)
    fpr, tpr, thresholds = roc_curve(y, prob, drop_intermediate=False)
    thresholds[0] = 1.0  # sklearn's inf: the threshold at which nobody is flagged
    keep = _thin(fpr, tpr, max_points)
    return pd.DataFrame({"fpr": fpr[keep], "tpr": tpr[keep], "threshold": thresholds[keep]})


def pr_curve_frame(
    y_true: ArrayLike | pd.Series, p: ArrayLike | pd.Series, *, max_points: int = MAX_CURVE_POINTS
) -> pd.DataFrame:
    """Precision-recall curve points for a DVC linear plot.

    Returns
    -------
    DataFrame (<= max_points rows; columns ``recall``, ``precision``, ``threshold``), ordered by
    falling threshold. The first row is the conventional (recall 0, precision 1) start with
    threshold 1.0; the last flags everyone (recall 1, precision = churn rate). Thinned like
    :func:`roc_curve_frame`.
    """
    check_int("max_points", max_points, minimum=2)
    y, prob = validated("pr_curve_frame", y_true, p, need_both_classes=True)
    # sklearn orders by rising threshold and ends at (recall 0, precision 1): reverse it
    precision, recall, thresholds = precision_recall_curve(y, prob)
    precision, recall = precision[::-1], recall[::-1]
    thresholds = np.append(1.0, thresholds[::-1])
    keep = _thin(recall, precision, max_points)
    return pd.DataFrame(
        {
            "recall": recall[keep],
            "precision": precision[keep],
            "threshold": thresholds[keep],
        }
    )


def calibration_frame(
    y_true: ArrayLike | pd.Series,
    p: ArrayLike | pd.Series,
    n_bins: int = 10,
    *,
    strategy: BinStrategy = "quantile",
) -> pd.DataFrame:
    """Reliability-diagram data: predicted against observed churn rate per probability bin.

    Returns
    -------
    DataFrame, one row per non-empty bin in rising ``p``: ``mean_predicted`` (mean ``p`` in the
    bin), ``observed_rate`` (share of its customers who churned), ``count`` (customers, int).
    Bins as in the module docstring. One class only is allowed here.
    """
    check_int("n_bins", n_bins, minimum=1)
    check_choice("strategy", strategy, ("quantile", "uniform"))
    y, prob = validated("calibration_frame", y_true, p, need_both_classes=False)
    bins = _bin_index(prob, n_bins, strategy)
    count = np.bincount(bins, minlength=n_bins)
    used = count > 0
    sum_p = np.bincount(bins, weights=prob, minlength=n_bins)
    sum_y = np.bincount(bins, weights=y.astype(np.float64), minlength=n_bins)
    return pd.DataFrame(
        {
            "mean_predicted": sum_p[used] / count[used],
            "observed_rate": sum_y[used] / count[used],
            "count": count[used].astype(np.int64),
        }
    )


def gains_frame(y_true: ArrayLike | pd.Series, p: ArrayLike | pd.Series) -> pd.DataFrame:
    """Cumulative gains and lift when contacting customers in order of falling ``p``.

    Returns
    -------
    DataFrame of 101 rows: ``share_contacted`` 0, 0.01, ..., 1 (contacting ``ceil(share * n)``
    customers), ``share_of_churners_caught`` (0..1, rising), ``lift`` (churn rate among those
    contacted over the overall rate; 1 = random, NaN in the first row where nobody is
    contacted). The row at 0.10 matches ``binary_metrics``'s ``lift_top_decile``.
    """
    y, prob = validated("gains_frame", y_true, p, need_both_classes=True)
    n = len(y)
    share = np.round(np.arange(101) / 100.0, 2)
    k = top_count(share, n)
    caught = caught_in_top(y, prob, k) / y.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        lift = np.where(k > 0, caught / (k / n), np.nan)
    return pd.DataFrame(
        {"share_contacted": share, "share_of_churners_caught": caught, "lift": lift}
    )


def confusion_frame(
    y_true: ArrayLike | pd.Series, p: ArrayLike | pd.Series, threshold: float
) -> pd.DataFrame:
    """Confusion counts when flagging customers with ``p >= threshold``.

    Returns
    -------
    DataFrame of 4 rows (every cell, zeros included): ``actual`` and ``predicted`` in
    {"churn", "stay"}, ``count`` (int); counts sum to n_customers. DVC's stock ``confusion``
    template counts rows rather than reading a count column: give it :func:`confusion_rows`.
    """
    y, predicted = _flags("confusion_frame", y_true, p, threshold)
    rows = [
        (actual, pred, int(np.sum((y == a) & (predicted == b))))
        for actual, a in ((CHURN, 1), (STAY, 0))
        for pred, b in ((CHURN, True), (STAY, False))
    ]
    return pd.DataFrame(rows, columns=["actual", "predicted", "count"])


def confusion_rows(
    y_true: ArrayLike | pd.Series, p: ArrayLike | pd.Series, threshold: float
) -> pd.DataFrame:
    """One row per customer, ``actual`` and ``predicted`` in {"churn", "stay"} (flagged when
    ``p >= threshold``): the shape DVC's ``confusion`` template aggregates."""
    y, predicted = _flags("confusion_rows", y_true, p, threshold)
    return pd.DataFrame(
        {"actual": np.where(y == 1, CHURN, STAY), "predicted": np.where(predicted, CHURN, STAY)}
    )


def _flags(
    where: str, y_true: ArrayLike | pd.Series, p: ArrayLike | pd.Series, threshold: float
) -> tuple[IntArray, NDArray[np.bool_]]:
    cut = check_real(
        "threshold", threshold, low=0.0, high=1.0, closed=True, expected="a probability in [0, 1]"
    )
    y, prob = validated(where, y_true, p, need_both_classes=False)
    return y, prob >= cut
