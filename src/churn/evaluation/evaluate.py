"""Held-out evaluation of churn probabilities: headline metrics, curve data for DVC plots,
metrics per customer segment, and figures.

Inputs
------
``y_true``: (n_customers,) observed outcomes, 1 = churned, 0 = stayed; bool, int, float 0/1
or pandas nullable boolean, no missing values. ``p``: (n_customers,) predicted churn
probabilities, finite and within [0, 1]. Both may be numpy arrays or pandas Series and are
paired by position; when both are Series their indexes must be equal, so a reordered Series is
never paired silently.

Conventions
-----------
* A customer is *flagged* (predicted to churn) when ``p >= threshold``.
* Ranking cuts (top decile, gains): contacting a share ``s`` of ``n`` customers means the
  ``ceil(s * n)`` highest ``p``. When the cut falls inside a group of tied ``p``, the tied
  customers share it pro rata: the churners caught are the expected count over every order of
  the ties. Results never depend on row order.
* Calibration bins (``"quantile"``, the default): edges at the 0, 1/n_bins, ..., 1 quantiles of
  ``p``; ``"uniform"``: edges at 0, 1/n_bins, ..., 1. Each bin is ``[lower, upper)`` and the last
  also holds its upper edge. Equal probabilities always share a bin, so heavily tied ``p`` give
  fewer, larger quantile bins; empty bins are dropped.

Errors
------
Data that cannot be evaluated (mismatched lengths, probabilities outside [0, 1], non-binary or
single-class outcomes) raises ``TrainingError`` listing every problem at once. An invalid
parameter (``n_bins=0``, an unknown ``rule``) is a programming error and raises ``ValueError``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import ArrayLike, NDArray

from churn.data.frames import require_columns
from churn.errors import TrainingError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BinStrategy = Literal["quantile", "uniform"]
ThresholdRule = Literal["max_f1", "top_decile"]

METRIC_KEYS = ("roc_auc", "pr_auc", "brier", "ece", "lift_top_decile", "n_test", "positive_rate")
TOP_DECILE = 0.1
MAX_CURVE_POINTS = 200
"""Most rows a ROC or precision-recall frame keeps (DVC plot files stay small)."""
MIN_SEGMENT_ROWS = 30
"""Fewest customers a segment needs before its ROC AUC is reported (else NaN)."""
TENURE_BANDS = ("<90d", "90-180d", "180-365d", "1-2y", "2y+")
_TENURE_EDGES_DAYS = (0.0, 90.0, 180.0, 365.0, 730.0, math.inf)
MISSING_SEGMENT = "(missing)"
CHURN, STAY = "churn", "stay"
_EXAMPLES = 5


# --------------------------------------------------------------------------- input checks


def _positions(mask: NDArray[np.bool_]) -> str:
    idx = np.flatnonzero(mask)
    shown = ", ".join(str(i) for i in idx[:_EXAMPLES])
    more = ", ..." if len(idx) > _EXAMPLES else ""
    return f"{len(idx):,} customer(s), at positions [{shown}{more}]"


def _as_series(name: str, values: ArrayLike | pd.Series, problems: list[str]) -> pd.Series | None:
    if isinstance(values, pd.Series):
        return values
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError):
        problems.append(f"'{name}' must be a 1-D array; got {type(values).__name__}.")
        return None
    if arr.ndim != 1:
        problems.append(
            f"'{name}' must be a 1-D array (one value per customer); got shape {arr.shape}."
        )
        return None
    return pd.Series(arr)


def _outcomes(name: str, values: ArrayLike | pd.Series, problems: list[str]) -> IntArray | None:
    s = _as_series(name, values, problems)
    if s is None:
        return None
    missing = s.isna().to_numpy(dtype=bool)
    if missing.any():
        problems.append(
            f"'{name}' must hold an outcome for every customer; found missing values for "
            f"{_positions(missing)}. Drop unlabelled customers before evaluating."
        )
        return None
    binary = s.isin([0, 1]).to_numpy(dtype=bool)
    if not binary.all():
        odd = pd.unique(s[~binary])[:_EXAMPLES]
        found = ", ".join(repr(v.item() if isinstance(v, np.generic) else v) for v in odd)
        problems.append(
            f"'{name}' must be binary (0/1 or False/True, 1 = churned); found other values for "
            f"{_positions(~binary)}, e.g. {found}."
        )
        return None
    return s.astype("float64").to_numpy().astype(np.int64)


def _probabilities(
    name: str, values: ArrayLike | pd.Series, problems: list[str]
) -> FloatArray | None:
    s = _as_series(name, values, problems)
    if s is None:
        return None
    try:
        arr = s.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        problems.append(f"'{name}' must hold probabilities (numbers); got dtype {s.dtype}.")
        return None
    bad = ~np.isfinite(arr)
    if bad.any():
        problems.append(f"'{name}' must be finite; found NaN or inf for {_positions(bad)}.")
        return None
    outside = (arr < 0.0) | (arr > 1.0)
    if outside.any():
        problems.append(
            f"'{name}' must lie within [0, 1]; found values from {arr.min():g} to {arr.max():g}, "
            f"outside the range for {_positions(outside)}. Pass probabilities, not scores or "
            "log-odds."
        )
        return None
    return arr


def _problems_error(where: str, problems: list[str]) -> TrainingError:
    if len(problems) == 1:
        return TrainingError(f"{where}: {problems[0]}")
    lines = [f"{where}: {len(problems)} problem(s) found in the inputs:"]
    lines += [f"  - {p}" for p in problems]
    return TrainingError("\n".join(lines))


def _validated(
    where: str,
    y_true: ArrayLike | pd.Series,
    p: ArrayLike | pd.Series,
    *,
    need_both_classes: bool,
) -> tuple[IntArray, FloatArray]:
    """``y_true`` as 0/1 int64 and ``p`` as float64, or TrainingError naming every problem."""
    problems: list[str] = []
    y = _outcomes("y_true", y_true, problems)
    prob = _probabilities("p", p, problems)
    if (
        isinstance(y_true, pd.Series)
        and isinstance(p, pd.Series)
        and not y_true.index.equals(p.index)
    ):
        problems.append(
            "'y_true' and 'p' are pandas Series with different indexes, so pairing them by "
            "position could mix up customers; align them first (p.reindex(y_true.index)) or "
            "pass numpy arrays."
        )
    if y is not None and prob is not None and len(y) != len(prob):
        problems.append(
            f"'y_true' and 'p' must have one value per customer; got {len(y):,} outcomes and "
            f"{len(prob):,} probabilities."
        )
    elif y is not None and len(y) == 0:
        problems.append("no customers to evaluate: 'y_true' and 'p' are empty.")
    if not problems and y is not None and need_both_classes:
        n_pos = int(y.sum())
        if n_pos in (0, len(y)):
            outcome = "churned" if n_pos else "stayed"
            problems.append(
                f"'y_true' holds one class only: all {len(y):,} customers {outcome}. ROC AUC, "
                "PR AUC and lift need both churners and non-churners; evaluate on a cutoff where "
                "both occur (a later cutoff, a longer horizon or more customers)."
            )
    if problems or y is None or prob is None:
        raise _problems_error(where, problems)
    return y, prob


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        kind = "positive int" if minimum == 1 else f"int >= {minimum}"
        raise ValueError(f"The '{name}' parameter must be a {kind}. Got {value!r} instead.")
    return int(value)


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        shown = " or ".join(repr(c) for c in choices)
        raise ValueError(f"The '{name}' parameter must be {shown}. Got {value!r} instead.")


# --------------------------------------------------------------------------- ranking helpers


def _ranked_counts(y: IntArray, p: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """One entry per distinct ``p``, highest first: the threshold, the customers flagged at it
    (``p >= threshold``) and the churners among them. All (n_distinct,)."""
    order = np.argsort(-p, kind="stable")
    ps, ys = p[order], y[order]
    last = np.append(np.flatnonzero(ps[1:] != ps[:-1]), len(ps) - 1)
    flagged = (last + 1).astype(np.float64)
    caught = np.cumsum(ys)[last].astype(np.float64)
    return ps[last], flagged, caught


def _top_count(share: FloatArray, n: int) -> FloatArray:
    """Customers contacted for each share: ``ceil(share * n)``; the rounding keeps 0.07 * 100
    at 7 rather than 8."""
    return np.ceil(np.round(share * n, 9))


def _caught_in_top(y: IntArray, p: FloatArray, k: FloatArray) -> FloatArray:
    """Expected churners among the ``k`` highest ``p`` (ties at the cut shared pro rata)."""
    _, flagged, caught = _ranked_counts(y, p)
    return np.asarray(
        np.interp(k, np.append(0.0, flagged), np.append(0.0, caught)), dtype=np.float64
    )


def _roc_auc(y: IntArray, p: FloatArray) -> float:
    """Area under the ROC curve (trapezoids, so a tied pair counts one half); needs both
    classes. Equal to sklearn's ``roc_auc_score``."""
    _, flagged, caught = _ranked_counts(y, p)
    tpr = np.append(0.0, caught / caught[-1])
    fpr = np.append(0.0, (flagged - caught) / (flagged[-1] - caught[-1]))
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def _average_precision(y: IntArray, p: FloatArray) -> float:
    """Sum over distinct thresholds of (gain in recall) x precision; needs a churner. Equal to
    sklearn's ``average_precision_score`` (no interpolation)."""
    _, flagged, caught = _ranked_counts(y, p)
    recall = np.append(0.0, caught / caught[-1])
    return float(np.sum(np.diff(recall) * caught / flagged))


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


# --------------------------------------------------------------------------- metrics


def expected_calibration_error(
    y_true: ArrayLike | pd.Series,
    p: ArrayLike | pd.Series,
    n_bins: int = 10,
    strategy: BinStrategy = "quantile",
) -> float:
    """Expected calibration error: the mean over bins of ``|mean(p) - mean(y)|``, weighted by
    each bin's share of customers. 0 means every bin's predicted rate equals its observed rate.

    Bins are those of :func:`calibration_frame` (see the module docstring: equal-frequency
    quantile bins by default, ``"uniform"`` for equal-width bins on [0, 1]).

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
        ``pr_auc``: average precision (area under the precision-recall curve);
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
    y, prob = _validated("binary_metrics", y_true, p, need_both_classes=True)
    n = len(y)
    rate = float(y.mean())
    k = _top_count(np.array([TOP_DECILE]), n)
    top_rate = float(_caught_in_top(y, prob, k)[0] / k[0])
    return {
        "roc_auc": _roc_auc(y, prob),
        "pr_auc": _average_precision(y, prob),
        "brier": float(np.mean((prob - y) ** 2)),
        "ece": expected_calibration_error(y, prob),
        "lift_top_decile": top_rate / rate,
        "n_test": n,
        "positive_rate": rate,
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
    _check_choice("rule", rule, ("max_f1", "top_decile"))
    y, prob = _validated("operating_threshold", y_true, p, need_both_classes=rule == "max_f1")
    if rule == "top_decile":
        k = int(_top_count(np.array([TOP_DECILE]), len(prob))[0])
        return float(np.sort(prob)[::-1][k - 1])
    thresholds, flagged, caught = _ranked_counts(y, prob)
    f1 = 2.0 * caught / (flagged + y.sum())
    return float(thresholds[int(np.argmax(f1))])


# --------------------------------------------------------------------------- curve frames


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
    _check_int("max_points", max_points, 2)
    y, prob = _validated("roc_curve_frame", y_true, p, need_both_classes=True)
    thresholds, flagged, caught = _ranked_counts(y, prob)
    n_pos = float(y.sum())
    fpr = np.append(0.0, (flagged - caught) / (len(y) - n_pos))
    tpr = np.append(0.0, caught / n_pos)
    keep = _thin(fpr, tpr, max_points)
    return pd.DataFrame(
        {"fpr": fpr[keep], "tpr": tpr[keep], "threshold": np.append(1.0, thresholds)[keep]}
    )


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
    _check_int("max_points", max_points, 2)
    y, prob = _validated("pr_curve_frame", y_true, p, need_both_classes=True)
    thresholds, flagged, caught = _ranked_counts(y, prob)
    recall = np.append(0.0, caught / y.sum())
    precision = np.append(1.0, caught / flagged)
    keep = _thin(recall, precision, max_points)
    return pd.DataFrame(
        {
            "recall": recall[keep],
            "precision": precision[keep],
            "threshold": np.append(1.0, thresholds)[keep],
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
    _check_int("n_bins", n_bins, 1)
    _check_choice("strategy", strategy, ("quantile", "uniform"))
    y, prob = _validated("calibration_frame", y_true, p, need_both_classes=False)
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
    y, prob = _validated("gains_frame", y_true, p, need_both_classes=True)
    n = len(y)
    share = np.round(np.arange(101) / 100.0, 2)
    k = _top_count(share, n)
    caught = _caught_in_top(y, prob, k) / y.sum()
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
    if not isinstance(threshold, int | float) or not 0.0 <= float(threshold) <= 1.0:
        raise ValueError(
            f"The 'threshold' parameter must be a probability in [0, 1]. Got {threshold!r} instead."
        )
    y, prob = _validated(where, y_true, p, need_both_classes=False)
    return y, prob >= float(threshold)


# --------------------------------------------------------------------------- segments


def tenure_bands(days: pd.Series) -> pd.Series:
    """Customer age in days -> ordered categorical band: "<90d", "90-180d", "180-365d", "1-2y"
    (365 to 729 days), "2y+". Each band includes its lower bound; missing stays missing.

    Raises ValueError if ``days`` is not numeric or holds negative values.
    """
    if not pd.api.types.is_numeric_dtype(days) or pd.api.types.is_bool_dtype(days):
        raise ValueError(f"'days' must be a numeric Series of days; got dtype {days.dtype}.")
    values = days.astype("float64")
    negative = (values < 0).to_numpy(dtype=bool)
    if negative.any():
        raise ValueError(
            f"'days' must be customer ages in days (>= 0); found negative values for "
            f"{_positions(negative)}."
        )
    return pd.cut(values, bins=list(_TENURE_EDGES_DAYS), right=False, labels=list(TENURE_BANDS))


def top_categories(values: pd.Series, k: int = 8, *, other: str = "other") -> pd.Series:
    """Keep the ``k`` most frequent values and map the rest to ``other``.

    Returns
    -------
    Categorical Series on ``values``'s index, categories in falling frequency (ties by value
    text) with ``other`` last when used; missing stays missing.
    """
    _check_int("k", k, 1)
    counts = values.value_counts(dropna=True)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
    keep = [value for value, _ in ranked[:k]]
    plain = values.astype(object)
    rare = ~(plain.isin(keep) | plain.isna())
    mapped = plain.where(~rare, other)
    categories = keep + ([other] if rare.any() and other not in keep else [])
    return pd.Series(
        pd.Categorical(mapped, categories=categories), index=values.index, name=values.name
    )


def segment_metrics(
    y_true: ArrayLike | pd.Series,
    p: ArrayLike | pd.Series,
    segments: Mapping[str, ArrayLike | pd.Series],
    *,
    min_rows: int = MIN_SEGMENT_ROWS,
) -> pd.DataFrame:
    """Metrics per value of each segmentation (tenure band, country, plan, ...).

    Parameters
    ----------
    y_true, p : (n_customers,) 0/1 outcomes and churn probabilities (one class is allowed).
    segments : segment name -> (n_customers,) label per customer, paired with ``y_true`` by
        position (when both are Series their indexes must be equal), e.g.
        ``{"tenure": tenure_bands(...), "country": top_categories(...)}``.
        Categorical labels keep their category order, others are sorted; missing labels form
        the value "(missing)".
    min_rows : segments with fewer customers, or with one class only, get ``roc_auc`` NaN.

    Returns
    -------
    DataFrame, one row per (segment, value) present: ``segment``, ``value`` (str), ``n`` (int),
    ``positive_rate`` (observed churn rate), ``mean_predicted`` (mean ``p``), ``roc_auc``.
    """
    _check_int("min_rows", min_rows, 1)
    y, prob = _validated("segment_metrics", y_true, p, need_both_classes=False)
    problems: list[str] = []
    labels: dict[str, pd.Series] = {}
    for name, values in segments.items():
        s = _as_series(f"segments[{name!r}]", values, problems)
        if s is not None and len(s) != len(y):
            problems.append(
                f"'segments[{name!r}]' must have one label per customer; got {len(s):,} labels "
                f"for {len(y):,} customers."
            )
        elif (
            s is not None
            and isinstance(values, pd.Series)
            and isinstance(y_true, pd.Series)
            and not values.index.equals(y_true.index)
        ):
            problems.append(
                f"'segments[{name!r}]' and 'y_true' are pandas Series with different indexes; "
                "align them first (labels.reindex(y_true.index)) or pass numpy arrays."
            )
        elif s is not None:
            labels[name] = s
    if problems:
        raise _problems_error("segment_metrics", problems)

    rows: list[dict[str, object]] = []
    for name, s in labels.items():
        try:
            codes, uniques = pd.factorize(s, sort=True)
        except TypeError:  # mixed types that cannot be ordered
            codes, uniques = pd.factorize(s, sort=False)
        names = [str(u) for u in uniques]
        for code, value in [*enumerate(names), (-1, MISSING_SEGMENT)]:
            mask = codes == code
            n = int(mask.sum())
            if n == 0:
                continue
            ys, ps = y[mask], prob[mask]
            both = 0 < ys.sum() < n
            auc = _roc_auc(ys, ps) if both and n >= min_rows else math.nan
            rows.append(
                {
                    "segment": name,
                    "value": value,
                    "n": n,
                    "positive_rate": float(ys.mean()),
                    "mean_predicted": float(ps.mean()),
                    "roc_auc": auc,
                }
            )
    columns = ["segment", "value", "n", "positive_rate", "mean_predicted", "roc_auc"]
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------- figures


def _curves(
    curve: pd.DataFrame,
    label: str,
    baselines: Mapping[str, pd.DataFrame] | None,
    columns: tuple[str, ...],
    maker: str,
) -> list[tuple[str, pd.DataFrame]]:
    """The model's curve first, then each baseline; every frame checked for ``columns``."""
    curves = [(label, curve), *(baselines or {}).items()]
    for _, frame in curves:
        require_columns(frame, columns, what="the curve frame", fix=f"Build it with {maker}().")
    return curves


def _new_axes(figsize: tuple[float, float] = (6.4, 5.4)) -> tuple[Figure, Axes]:
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _style(ax: Axes, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=13)
    ax.set_xlabel(xlabel, fontsize=11)
    ax.set_ylabel(ylabel, fontsize=11)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=10, frameon=False)


def _line_style(i: int) -> tuple[float, str]:
    """Line width and style: the model (i = 0) bold and solid, baselines thinner and dashed."""
    return (2.2, "-") if i == 0 else (1.5, "--")


def roc_figure(
    curve: pd.DataFrame,
    *,
    label: str = "churn model",
    baselines: Mapping[str, pd.DataFrame] | None = None,
    title: str = "ROC curve",
) -> Figure:
    """ROC curve(s) from :func:`roc_curve_frame` frames: the model, each baseline (name ->
    frame) and the random-ranking diagonal. Put AUCs in ``label`` and the names if wanted."""
    fig, ax = _new_axes((6.4, 5.8))
    for i, (name, frame) in enumerate(
        _curves(curve, label, baselines, ("fpr", "tpr"), "roc_curve_frame")
    ):
        lw, ls = _line_style(i)
        ax.plot(frame["fpr"], frame["tpr"], label=name, lw=lw, ls=ls)
    ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1, label="random ranking")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    _style(
        ax,
        title,
        "False positive rate (share of non-churners flagged, 0-1)",
        "True positive rate (share of churners flagged, 0-1)",
    )
    return fig


def pr_figure(
    curve: pd.DataFrame,
    *,
    label: str = "churn model",
    baselines: Mapping[str, pd.DataFrame] | None = None,
    title: str = "Precision-recall curve",
) -> Figure:
    """Precision-recall curve(s) from :func:`pr_curve_frame` frames, with the no-skill line at
    the churn rate (read off the model frame's last row, where everyone is flagged)."""
    fig, ax = _new_axes()
    for i, (name, frame) in enumerate(
        _curves(curve, label, baselines, ("recall", "precision"), "pr_curve_frame")
    ):
        lw, ls = _line_style(i)
        ax.plot(frame["recall"], frame["precision"], label=name, lw=lw, ls=ls)
    if len(curve) and float(curve["recall"].iloc[-1]) == 1.0:
        rate = float(curve["precision"].iloc[-1])
        ax.axhline(rate, color="grey", ls=":", lw=1, label=f"no skill (churn rate {rate:.1%})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    _style(
        ax,
        title,
        "Recall (share of churners flagged, 0-1)",
        "Precision (share of flagged who churn, 0-1)",
    )
    return fig


def calibration_figure(
    frame: pd.DataFrame,
    *,
    label: str = "churn model",
    baselines: Mapping[str, pd.DataFrame] | None = None,
    title: str = "Calibration (reliability diagram)",
) -> Figure:
    """Observed churn rate against mean predicted probability per bin, from
    :func:`calibration_frame` frames, with the perfect-calibration diagonal. Both axes span
    0 to just above the largest rate shown, so low churn rates stay readable."""
    curves = _curves(
        frame, label, baselines, ("mean_predicted", "observed_rate"), "calibration_frame"
    )
    fig, ax = _new_axes((6.4, 5.8))
    shown = [f[["mean_predicted", "observed_rate"]].to_numpy().max() for _, f in curves if len(f)]
    top = float(max(shown, default=1.0))
    upper = min(1.0, 1.08 * top) if top > 0 else 1.0
    for i, (name, f) in enumerate(curves):
        lw, ls = _line_style(i)
        ax.plot(f["mean_predicted"], f["observed_rate"], marker="o", ms=5, label=name, lw=lw, ls=ls)
    ax.plot([0, upper], [0, upper], color="grey", ls=":", lw=1, label="perfectly calibrated")
    ax.set_xlim(0, upper)
    ax.set_ylim(0, upper)
    ax.set_aspect("equal")
    _style(
        ax,
        title,
        "Mean predicted churn probability in bin (0-1)",
        "Observed churn rate in bin (0-1)",
    )
    return fig


def gains_figure(
    frame: pd.DataFrame,
    *,
    label: str = "churn model",
    baselines: Mapping[str, pd.DataFrame] | None = None,
    title: str = "Cumulative gains and lift",
) -> Figure:
    """Two panels from :func:`gains_frame` frames: share of churners caught, and lift, against
    the share of customers contacted in order of falling churn probability (both in %)."""
    curves = _curves(
        frame,
        label,
        baselines,
        ("share_contacted", "share_of_churners_caught", "lift"),
        "gains_frame",
    )
    fig = Figure(figsize=(11.5, 5.0), layout="constrained")
    gains_ax, lift_ax = fig.subplots(1, 2)
    for i, (name, f) in enumerate(curves):
        x = 100 * f["share_contacted"]
        lw, ls = _line_style(i)
        gains_ax.plot(x, 100 * f["share_of_churners_caught"], label=name, lw=lw, ls=ls)
        lift_ax.plot(x, f["lift"], label=name, lw=lw, ls=ls)
    gains_ax.plot([0, 100], [0, 100], color="grey", ls=":", lw=1, label="random order")
    lift_ax.axhline(1.0, color="grey", ls=":", lw=1, label="random order")
    gains_ax.set_xlim(0, 100)
    gains_ax.set_ylim(0, 101)
    lift_ax.set_xlim(0, 100)
    lift_ax.set_ylim(bottom=0)
    contacted = "Customers contacted, highest risk first (%)"
    _style(gains_ax, "Cumulative gains", contacted, "Churners caught (% of all churners)")
    _style(lift_ax, "Lift", contacted, "Lift (churn rate contacted / overall, x)")
    fig.suptitle(title, fontsize=14)
    return fig
