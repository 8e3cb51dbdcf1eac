"""Who gets contacted: risk tiers, a ranking by priority, the outreach budget, and a random
control group held out of the outreach slice so its effect can be measured later."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from churn.settings import OutreachSettings, RiskTiers

TIERS = ("Low", "Medium", "High")


def risk_tier(probability: np.ndarray, tiers: RiskTiers) -> pd.Categorical[str]:
    """Low / Medium / High per customer. ``percentile``: High for the riskiest
    ``tiers.high_percent`` of customers, Medium for the next ``medium_percent``
    (:func:`riskiest_share`); ``probability``: High >= tiers.high, Medium >= tiers.medium."""
    p = np.asarray(probability, dtype="float64")
    if tiers.method == "percentile":
        high = riskiest_share(p, tiers.high_percent)
        medium = riskiest_share(p, tiers.high_percent + tiers.medium_percent)
    else:
        high, medium = p >= tiers.high, p >= tiers.medium
    labels = np.where(high, "High", np.where(medium, "Medium", "Low"))
    return pd.Categorical(labels, categories=list(TIERS), ordered=True)


def riskiest_share(probability: np.ndarray, percent: float) -> np.ndarray:
    """True for the riskiest ``percent`` of customers. Customers with the same probability
    stay together (one-time buyers often share one), so the cut falls at the boundary between
    two probabilities whose share is nearest to ``percent`` (the smaller one on a tie)."""
    p = np.asarray(probability, dtype="float64")
    if not len(p):
        return np.zeros(0, dtype=bool)
    values, counts = np.unique(p, return_counts=True)
    values, counts = values[::-1], counts[::-1]  # riskiest first
    above = np.concatenate([[0], np.cumsum(counts)])  # customers in the k riskiest groups
    k = int(np.argmin(np.abs(above - len(p) * percent / 100.0)))
    if k == 0:
        return np.zeros(len(p), dtype=bool)
    return np.asarray(p >= values[k - 1], dtype=bool)


def tier_definition(
    tiers: RiskTiers, probability: np.ndarray, tier: pd.Categorical[str] | pd.Series
) -> dict[str, Any]:
    """What each tier means, for ``scoring.json`` and the report: the method, each tier's rule
    in words, and the churn probabilities it spans on this list (min and max, None if empty)."""
    p = np.asarray(probability, dtype="float64")
    labels = np.asarray(tier, dtype=object)
    spans: dict[str, tuple[float, float] | None] = {}
    for name in TIERS:
        mine = p[labels == name]
        spans[name] = (float(mine.min()), float(mine.max())) if len(mine) else None
    return tier_definition_of_spans(tiers, spans)


def tier_definition_of_spans(
    tiers: RiskTiers, spans: Mapping[str, tuple[float, float] | None]
) -> dict[str, Any]:
    """:func:`tier_definition` from each tier's (min, max) churn probability on the list (None:
    an empty tier), all it needs of the list."""
    if tiers.method == "percentile":
        low_share = 100.0 - tiers.high_percent - tiers.medium_percent
        rules = {
            "High": f"the riskiest {tiers.high_percent:g} % of scored customers (as near as "
            "customers with the same probability, kept together, allow)",
            "Medium": f"the next {tiers.medium_percent:g} %",
            "Low": f"the remaining {low_share:g} %",
        }
    else:
        rules = {
            "High": f"churn probability >= {tiers.high:g}",
            "Medium": f"churn probability >= {tiers.medium:g} and < {tiers.high:g}",
            "Low": f"churn probability < {tiers.medium:g}",
        }
    out: dict[str, Any] = {"method": tiers.method}
    for name in reversed(TIERS):
        span = spans.get(name)
        out[name] = {
            "rule": rules[name],
            "min_probability": None if span is None else span[0],
            "max_probability": None if span is None else span[1],
        }
    return out


def describe_tiers(definition: dict[str, Any]) -> str:
    """One sentence for people: "High: the riskiest 20 % (churn probability 0.41 to 0.97); ..."."""
    parts = []
    for name in reversed(TIERS):
        tier = definition[name]
        span = (
            f" (churn probability {tier['min_probability']:.2f} to {tier['max_probability']:.2f})"
            if tier["min_probability"] is not None
            else " (nobody)"
        )
        parts.append(f"{name}: {tier['rule']}{span}")
    return f"Risk tiers by {definition['method']}: " + "; ".join(parts) + "."


LIKELY = 0.5
"""A churn probability at which a customer is more likely to leave than to stay."""


def misread_tiers(definition: Mapping[str, Any]) -> str | None:
    """A warning when percentile tiers call customers Low who are more likely to churn than
    not (a Low tier reaching :data:`LIKELY`: most customers churn, as in many shops where most
    buyers never come back), since a CRM shows them as low risk; None otherwise."""
    if definition.get("method") != "percentile":
        return None
    highest = (definition.get("Low") or {}).get("max_probability")
    if highest is None or highest < LIKELY:
        return None
    return (
        f"the Low risk tier reaches a churn probability of {highest:.2f}: percentile tiers rank "
        "customers (the riskiest share is High), they do not say how likely each is to leave, "
        "and the CRM files will show these customers as Low risk. To tier by probability, "
        "set scoring.risk_tiers.method: probability (High >= high, default 0.6; Medium >= "
        "medium, default 0.3)"
    )


def risk_percentile(probability: np.ndarray) -> np.ndarray:
    """Percent of scored customers at or below each customer's probability (100: riskiest)."""
    p = pd.Series(np.asarray(probability, dtype="float64"))
    return np.asarray(p.rank(method="max", pct=True) * 100.0, dtype="float64")


def priority_rank(priority: np.ndarray, customer_id: pd.Series) -> np.ndarray:
    """1 for the customer to contact first. Ties go to the smaller customer id, so the order
    never depends on row order."""
    order = pd.DataFrame(
        {"priority": np.asarray(priority, dtype="float64"), "id": customer_id.astype(str).values}
    ).sort_values(["priority", "id"], ascending=[False, True], na_position="last", kind="stable")
    rank = np.empty(len(order), dtype="int64")
    rank[order.index.to_numpy()] = np.arange(1, len(order) + 1)
    return rank


def outreach_size(n_scored: int, settings: OutreachSettings) -> int:
    """How many customers the budget allows: top_k, or top_percent of the scored customers."""
    if settings.top_k is not None:
        return min(settings.top_k, n_scored)
    assert settings.top_percent is not None
    return min(n_scored, int(np.ceil(n_scored * settings.top_percent / 100.0)))


def control_draws(customer_id: pd.Series, seed: str) -> np.ndarray:
    """A stable pseudo-random number in [0, 2**64) per customer: a hash of (seed, id), the same
    on every run and machine whatever the row order."""
    salt = seed.encode("utf-8") + b"\x00"
    return np.fromiter(
        (
            int.from_bytes(hashlib.blake2b(salt + str(cid).encode("utf-8"), digest_size=8).digest())
            for cid in customer_id
        ),
        dtype="float64",
        count=len(customer_id),
    )


def control_group(customer_id: pd.Series, percent: float, seed: str) -> np.ndarray:
    """True for the customers held out as control: a stable hash of (seed, id) below
    ``percent``, so a customer stays in (or out of) control across runs and machines."""
    if percent <= 0:
        return np.zeros(len(customer_id), dtype=bool)
    threshold = percent / 100.0 * 2.0**64
    return control_draws(customer_id, seed) < threshold
