"""The control group of the outreach slice: who is held out, how many, and what it can measure.

Control and contacted customers must have the same mix, or the difference in their churn
rates measures the mix and not the outreach: the control group is drawn within each stratum
(risk tier x recommended action), the same share of each. Its size decides the smallest effect
the comparison can tell from chance; :func:`detectable_effect` computes it for a two-sided
two-proportion test (alpha 0.05, power 0.8) at the slice's mean churn probability, with
Cohen's arcsine effect size h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p2)), the approximation
statsmodels' ``NormalIndPower`` also uses. Pure: frames and numbers in, numbers out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from churn.scoring.outreach import control_draws
from churn.settings import OutreachSettings, ScoringSettings

ALPHA = 0.05
"""Two-sided significance level of the contacted-versus-control comparison."""
POWER = 0.8
"""Chance of detecting an effect of the minimum detectable size."""


def _z_sum(alpha: float = ALPHA, power: float = POWER) -> float:
    return float(norm.ppf(1 - alpha / 2) + norm.ppf(power))


def detectable_effect(
    n_control: int,
    n_contacted: int,
    base_rate: float,
    *,
    alpha: float = ALPHA,
    power: float = POWER,
) -> float | None:
    """The smallest fall in churn rate (a fraction: 0.05 is 5 percentage points) from
    ``base_rate`` that a two-sided two-proportion test at ``alpha`` detects with ``power``
    between ``n_control`` and ``n_contacted`` customers. None when a group is empty or no fall
    (not even to a churn rate of 0) can be detected."""
    if n_control <= 0 or n_contacted <= 0 or not 0 < base_rate <= 1:
        return None
    h = _z_sum(alpha, power) * math.sqrt(1 / n_control + 1 / n_contacted)
    angle = math.asin(math.sqrt(base_rate)) - h / 2
    if angle < 0:
        return None
    return base_rate - math.sin(angle) ** 2


def control_share_for(
    effect: float,
    n_slice: int,
    base_rate: float,
    *,
    cap: float,
    alpha: float = ALPHA,
    power: float = POWER,
) -> float:
    """The smallest control share (a fraction of the slice) at which a fall of ``effect`` in
    the churn rate from ``base_rate`` is detectable among ``n_slice`` customers, at most
    ``cap`` (when even ``cap`` is too small, ``cap``)."""
    target = max(base_rate - effect, 0.0)
    h = 2 * (math.asin(math.sqrt(base_rate)) - math.asin(math.sqrt(target)))
    if n_slice <= 0 or h <= 0:
        return cap
    # 1/(n c) + 1/(n (1 - c)) <= (h / z)^2  <=>  c (1 - c) >= z^2 / (n h^2)
    need = _z_sum(alpha, power) ** 2 / (n_slice * h**2)
    if need > 0.25:
        return cap
    return min(cap, (1 - math.sqrt(1 - 4 * need)) / 2)


def stratified_control(
    customer_id: pd.Series, strata: pd.Series, share: float, seed: str
) -> np.ndarray:
    """True for the customers held out as control: in every stratum the same ``share`` (a
    fraction), the customers with the lowest stable hash of (``seed``, id), so a customer's
    draw does not depend on row order, run or machine. Stratum sizes are rounded by largest
    remainder, so the whole group is round(n x share) customers."""
    n = len(customer_id)
    if share <= 0 or n == 0:
        return np.zeros(n, dtype=bool)
    draws = control_draws(customer_id, seed)
    members = {
        str(name): np.asarray(rows)
        for name, rows in pd.Series(np.arange(n))
        .groupby(strata.astype(str).to_numpy())
        .indices.items()
    }
    take = stratum_quotas({name: len(rows) for name, rows in members.items()}, share)
    control = np.zeros(n, dtype=bool)
    for name, rows in members.items():
        control[rows[np.argsort(draws[rows], kind="stable")[: take[name]]]] = True
    return control


def stratum_quotas(sizes: Mapping[str, int], share: float) -> dict[str, int]:
    """How many customers of each stratum (``sizes``: customers per stratum name) the control
    group takes: ``share`` of each, rounded by largest remainder so that the whole group is
    round(n x share) customers (ties by name)."""
    names = sorted(sizes)
    n = sum(sizes.values())
    quota = {name: sizes[name] * share for name in names}
    take = {name: math.floor(quota[name]) for name in names}
    extra = round(n * share) - sum(take.values())
    by_remainder = sorted(names, key=lambda name: take[name] - quota[name])  # stable: ties by name
    for name in by_remainder[: max(extra, 0)]:
        take[name] += 1
    return take


@dataclass(frozen=True)
class ControlPlan:
    """How big the control group is and why: ``share`` of the slice, and the settings that
    chose it, for ``scoring.json``."""

    share: float
    method: str  # "configured" or "auto"


def control_plan(settings: OutreachSettings, n_slice: int, base_rate: float) -> ControlPlan:
    """The control share of the slice: ``control_percent``, or with ``auto`` the smallest
    share that detects ``min_detectable_effect``, capped at ``max_control_percent``."""
    if settings.control_percent == "auto":
        share = control_share_for(
            settings.min_detectable_effect,
            n_slice,
            base_rate,
            cap=settings.max_control_percent / 100.0,
        )
        return ControlPlan(share, "auto")
    return ControlPlan(settings.control_percent / 100.0, "configured")


def control_power(
    plan: ControlPlan,
    settings: OutreachSettings,
    n_control: int,
    n_contacted: int,
    base_rate: float,
) -> dict[str, Any]:
    """What the control group can measure, for ``scoring.json``: its size, the base rate and the
    minimum detectable effect in percentage points (None: none can be detected)."""
    mde = detectable_effect(n_control, n_contacted, base_rate)
    return {
        "sizing": plan.method,
        "share_percent": round(plan.share * 100.0, 2),
        "control": n_control,
        "contacted": n_contacted,
        "stratified_by": ["risk_tier", "recommended_action"],
        "test": f"two-sided two-proportion test, alpha {ALPHA:g}, power {POWER:g}",
        "base_churn_rate": base_rate,
        "min_detectable_effect_points": None if mde is None else round(mde * 100.0, 2),
        "wanted_effect_points": round(settings.min_detectable_effect * 100.0, 2),
    }


def hold_out_control(
    ranked: pd.DataFrame, action: np.ndarray, settings: ScoringSettings
) -> tuple[np.ndarray, dict[str, Any]]:
    """The control group of the outreach slice of ``ranked`` (a mask over its rows), drawn
    within each risk tier x recommended ``action`` so control and contacted have the same
    mix, and what it can measure (:func:`churn.scoring.control.control_power`)."""
    outreach = settings.outreach
    in_slice = ranked["in_outreach"].to_numpy(dtype=bool)
    base_rate = float(ranked.loc[in_slice, "churn_probability"].mean()) if in_slice.any() else 0.0
    plan = control_plan(outreach, int(in_slice.sum()), base_rate)
    strata = (
        ranked.loc[in_slice, "risk_tier"].astype(str)
        + " x "
        + pd.Series(action[in_slice], index=ranked.index[in_slice]).astype(str)
    )
    control = np.zeros(len(ranked), dtype=bool)
    control[in_slice] = stratified_control(
        ranked.loc[in_slice, "customer_id"], strata, plan.share, outreach.control_seed
    )
    n_control = int(control.sum())
    power = control_power(plan, outreach, n_control, int(in_slice.sum()) - n_control, base_rate)
    return control, power
