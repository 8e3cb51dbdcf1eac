"""Metrics per customer segment (tenure band, country, plan, ...) and the helpers that turn raw
columns into segment labels.

Inputs are those of :mod:`churn.evaluation.inputs`; one class is allowed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd
from numpy.typing import ArrayLike

from churn.errors import TrainingError
from churn.evaluation.inputs import as_series, validated
from churn.evaluation.metrics import roc_auc
from churn.validation import check_int, positions, problems_error

MIN_SEGMENT_ROWS = 30
"""Fewest customers a segment needs before its ROC AUC is reported (else NaN)."""
TENURE_BANDS = ("<90d", "90-180d", "180-365d", "1-2y", "2y+")
_TENURE_EDGES_DAYS = (0.0, 90.0, 180.0, 365.0, 730.0, math.inf)
MISSING_SEGMENT = "(missing)"


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
            f"{positions(negative)}."
        )
    return pd.cut(values, bins=list(_TENURE_EDGES_DAYS), right=False, labels=list(TENURE_BANDS))


def top_categories(values: pd.Series, k: int = 8, *, other: str = "other") -> pd.Series:
    """Keep the ``k`` most frequent values and map the rest to ``other``.

    Returns
    -------
    Categorical Series on ``values``'s index, categories in falling frequency (ties by value
    text) with ``other`` last when used; missing stays missing.
    """
    check_int("k", k, minimum=1)
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
    check_int("min_rows", min_rows, minimum=1)
    y, prob = validated("segment_metrics", y_true, p, need_both_classes=False)
    problems: list[str] = []
    labels: dict[str, pd.Series] = {}
    for name, values in segments.items():
        s = as_series(f"segments[{name!r}]", values, problems)
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
        raise problems_error("segment_metrics", problems, TrainingError)

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
            auc = roc_auc(ys, ps) if both and n >= min_rows else math.nan
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
