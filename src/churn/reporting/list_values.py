"""What the report says of the value of every scored customer, gathered a batch of the list at
a time (issue 17: 50 million customers): totals, value per risk tier, and the histogram of the
values above 0 with their medians. Only the values above 0 of the two measures are held
beyond a batch (8 bytes each), for the medians and the histogram's range; the four columns
read whole took 2.48 GB at 20 million customers. Pure: frames in, summaries out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from churn.scoring.outreach import TIERS
from churn.validation import require_columns

VALUE_MEASURES = ("expected_value", "value_at_risk")
COLUMNS = ("churn_probability", "risk_tier", *VALUE_MEASURES)
"""The columns of ``scores.parquet`` the summary is made of."""
HISTOGRAM_BINS = 40


@dataclass(frozen=True)
class ValueHistogram:
    """The values above 0 of each measure on a log axis: shared bin ``edges`` (None when no
    value is above 0), ``counts`` per bin, ``left_out`` (values at 0 or missing, which a log
    axis cannot show) and ``medians`` (of the values above 0; None without any)."""

    edges: list[float] | None
    counts: dict[str, np.ndarray]
    left_out: dict[str, int]
    medians: dict[str, float | None]


@dataclass(frozen=True)
class ListValues:
    customers: int
    totals: dict[str, float]
    """Sum of each measure over every scored customer (missing values skipped)."""
    by_tier: pd.DataFrame
    """One row per risk tier, High first: ``risk_tier``, ``customers``,
    ``mean_churn_probability``, ``expected_value`` and ``value_at_risk`` (sums),
    ``share_of_value_at_risk`` (0-1)."""
    histogram: ValueHistogram


def list_values(parts: Iterable[pd.DataFrame], bins: int = HISTOGRAM_BINS) -> ListValues:
    """:class:`ListValues` of the list made of ``parts`` (each with :data:`COLUMNS`)."""
    order = list(reversed(TIERS))
    sums = pd.DataFrame(0.0, index=order, columns=["customers", "p_sum", "p_n", *VALUE_MEASURES])
    totals = dict.fromkeys(VALUE_MEASURES, 0.0)
    positive: dict[str, list[np.ndarray]] = {m: [] for m in VALUE_MEASURES}
    customers = 0
    for part in parts:
        require_columns(part, COLUMNS, what="a part of scores.parquet")
        customers += len(part)
        tier = part["risk_tier"].astype(str)
        grouped = part.groupby(tier, sort=False)
        sums["customers"] += grouped.size().reindex(order, fill_value=0)
        sums["p_sum"] += grouped["churn_probability"].sum().reindex(order, fill_value=0.0)
        sums["p_n"] += grouped["churn_probability"].count().reindex(order, fill_value=0)
        for measure in VALUE_MEASURES:
            values = part[measure].astype("float64")
            totals[measure] += float(values.sum())
            sums[measure] += grouped[measure].sum().reindex(order, fill_value=0.0)
            positive[measure].append(values[values > 0].to_numpy(dtype="float64"))
    # one measure at a time: its parts go as its whole is made
    held = {m: np.concatenate([*positive.pop(m), np.array([], "float64")]) for m in VALUE_MEASURES}
    return ListValues(customers, totals, _by_tier(sums), _histogram(held, customers, bins))


def frame_histogram(scores: pd.DataFrame, bins: int = HISTOGRAM_BINS) -> ValueHistogram:
    """The :class:`ValueHistogram` of a list held as a frame (with :data:`VALUE_MEASURES`)."""
    held = {}
    for measure in VALUE_MEASURES:
        values = scores[measure].astype("float64")
        held[measure] = values[values > 0].to_numpy(dtype="float64", copy=True)
    return _histogram(held, len(scores), bins)


def _by_tier(sums: pd.DataFrame) -> pd.DataFrame:
    mean = (sums["p_sum"] / sums["p_n"]).where(sums["p_n"] > 0)
    by_tier = pd.DataFrame(
        {
            "customers": sums["customers"].astype("int64"),
            "mean_churn_probability": mean,
            "expected_value": sums["expected_value"],
            "value_at_risk": sums["value_at_risk"],
        }
    )
    total = float(by_tier["value_at_risk"].sum())
    by_tier["share_of_value_at_risk"] = (
        by_tier["value_at_risk"] / total if total > 0 else float("nan")
    )
    return by_tier.rename_axis("risk_tier").reset_index()


def _histogram(held: dict[str, np.ndarray], customers: int, bins: int) -> ValueHistogram:
    """The histogram of the values above 0 (``held``, reordered in place for the medians) of
    ``customers`` customers: no copy of them is made."""
    left_out = {m: customers - len(v) for m, v in held.items()}
    filled = [v for v in held.values() if len(v)]
    edges = None
    if filled:
        low, high = min(float(v.min()) for v in filled), max(float(v.max()) for v in filled)
        edges = np.geomspace(low, high if high > low else low * 10, bins + 1).tolist()
    counts = {} if edges is None else {m: np.histogram(v, bins=edges)[0] for m, v in held.items()}
    medians = {
        m: float(np.median(v, overwrite_input=True)) if len(v) else None for m, v in held.items()
    }
    return ValueHistogram(edges, counts, left_out, medians)
