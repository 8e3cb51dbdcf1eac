"""What past retention contacts did: churn among contacted versus control customers, per group.

Input is the *contact outcomes* frame, one row per contact whose label window has passed:
``action`` (str, may be missing on control rows), ``control`` (bool: held out, not contacted),
``churned`` (bool: churned within the horizon after the contact) and any grouping columns
(``tier``, ...). Pure: frames and numbers in, frames and offers out.

Intervals
---------
* Absolute effect (control rate - contacted rate, a difference of probabilities: 0.05 is five
  percentage points): Newcombe's hybrid score interval (his method 10, Statistics in Medicine
  1998), built from the two arms' Wilson score intervals. It stays inside [-1, 1] and is
  defined with zero events in either arm.
* Relative effect (1 - contacted rate / control rate: the share of the churn probability the
  contact removed, the unit of :attr:`churn.scoring.playbook.Offer.effect`): Katz's log
  risk-ratio interval. With no churn among the contacted the ratio's log is -inf: the interval
  then uses the Haldane-Anscombe correction (0.5 added to each cell) for its lower end and
  reaches 1 (all churn removed) at its upper end. With no churn among the controls there is no
  churn to remove and the relative effect is undefined: the row says so (``measurable`` False).

Which controls
--------------
Grouped by ``action``, the contacted rows of an action are compared with the control rows that
recorded the same action (the would-be action of a control group drawn within each action)
when there are any; otherwise with the control rows that recorded no action (a campaign that
held out one group for every action). Control rows that recorded another action are never
used: they were drawn from another stratum. Without ``action`` in ``by``, every contacted row
of a group is compared with every control row of it. ``comparison`` names which one each row
used.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from churn.scoring.control import detectable_effect
from churn.scoring.playbook import Offer

SAME_ACTION = "same action"
"""``comparison``: contacted rows against the control rows that recorded their action."""
CONTROLS_WITHOUT_ACTION = "controls without action"
"""``comparison``: contacted rows against the control rows that recorded no action."""
ALL_CONTROLS = "all controls"
"""``comparison`` without ``action`` in ``by``: every contacted row against every control."""

REQUIRED = ("action", "control", "churned")
"""Columns :func:`measure_effects` needs in the outcomes frame."""
EFFECT_COLUMNS = (
    "comparison",
    "n_contacted",
    "n_control",
    "churned_contacted",
    "churned_control",
    "churn_rate_contacted",
    "churn_rate_control",
    "effect",
    "effect_low",
    "effect_high",
    "relative_effect",
    "relative_low",
    "relative_high",
    "level",
    "detectable_effect",
    "too_small",
    "measurable",
    "reason",
)
"""Columns of :func:`measure_effects` after the ``by`` columns."""

Key = tuple[Hashable, ...]


def wilson_interval(events: int, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval of a proportion ``events``/``n`` (n > 0) at normal quantile ``z``."""
    p = events / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_interval(
    events_a: int, n_a: int, events_b: int, n_b: int, z: float
) -> tuple[float, float]:
    """Newcombe's hybrid score interval of ``p_a - p_b`` (both n > 0) at normal quantile ``z``."""
    pa, pb = events_a / n_a, events_b / n_b
    la, ua = wilson_interval(events_a, n_a, z)
    lb, ub = wilson_interval(events_b, n_b, z)
    d = pa - pb
    return (
        d - math.sqrt((pa - la) ** 2 + (ub - pb) ** 2),
        d + math.sqrt((ua - pa) ** 2 + (pb - lb) ** 2),
    )


def relative_interval(
    events_t: int, n_t: int, events_c: int, n_c: int, z: float
) -> tuple[float, float]:
    """Katz log interval of ``1 - p_t / p_c`` (``events_c`` > 0) at normal quantile ``z``; with
    ``events_t`` 0 the Haldane-Anscombe corrected ratio bounds the lower end and the upper is 1."""
    if events_t == 0:
        xt, nt, xc, nc = events_t + 0.5, n_t + 1.0, events_c + 0.5, n_c + 1.0
    else:
        xt, nt, xc, nc = float(events_t), float(n_t), float(events_c), float(n_c)
    log_ratio = math.log((xt / nt) / (xc / nc))
    se = math.sqrt(max(1 / xt - 1 / nt + 1 / xc - 1 / nc, 0.0))
    low = 1 - math.exp(log_ratio + z * se)
    high = 1.0 if events_t == 0 else 1 - math.exp(log_ratio - z * se)
    return low, high


def _check(outcomes: pd.DataFrame, by: Sequence[str], level: float) -> None:
    problems = []
    if not 0 < level < 1:
        problems.append(f"The 'level' parameter must be a float in (0, 1). Got {level!r} instead.")
    missing = [c for c in (*REQUIRED, *by) if c not in outcomes.columns]
    if missing:
        problems.append(
            f"the outcomes frame lacks column(s) {missing}; found {list(outcomes.columns)}."
        )
    if not missing:
        for name in ("control", "churned"):
            if outcomes[name].isna().any():
                n = int(outcomes[name].isna().sum())
                problems.append(f"column '{name}' must be bool without missing values; {n} are.")
    reserved = [c for c in by if c in ("control", "churned")]
    if reserved:
        problems.append(f"'by' may not name {reserved}: they are what is compared.")
    if problems:
        raise ValueError(f"{len(problems)} problem(s) found: " + " ".join(problems))


def _key(value: object) -> Key:
    items = value if isinstance(value, tuple) else (value,)
    return tuple(None if pd.isna(v) else v for v in items)


def _order(key: Key) -> tuple[tuple[bool, str, Any], ...]:
    """Sort key of a group: by value within each column, missing values last."""
    return tuple((v is None, type(v).__name__, "" if v is None else v) for v in key)


def _counts(rows: pd.DataFrame, columns: Sequence[str]) -> dict[Key, tuple[int, int]]:
    """(rows, churned) per group of ``columns`` (missing values form a group keyed None)."""
    if not columns:
        return {(): (len(rows), int(rows["churned"].sum()))}
    grouped = rows.groupby(list(columns), dropna=False, sort=False)["churned"].agg(["size", "sum"])
    return {_key(k): (int(n), int(s)) for k, n, s in grouped.itertuples(name=None)}


@dataclass(frozen=True)
class _Arms:
    comparison: str
    contacted: tuple[int, int]
    control: tuple[int, int]


def _arms(outcomes: pd.DataFrame, by: Sequence[str]) -> dict[Key, _Arms]:
    control = outcomes["control"].astype(bool).to_numpy()
    contacted, held_out = outcomes[~control], outcomes[control]
    keys = _counts(contacted, by)
    if "action" not in by:
        controls = _counts(held_out, by)
        return {
            key: _Arms(ALL_CONTROLS, keys.get(key, (0, 0)), controls.get(key, (0, 0)))
            for key in sorted({*keys, *controls}, key=_order)
        }
    at = list(by).index("action")
    others = [c for c in by if c != "action"]
    recorded = held_out["action"].notna().to_numpy()
    same = _counts(held_out[recorded], by)
    pool = _counts(held_out[~recorded], others)
    out = {}
    for key in sorted({*keys, *same}, key=_order):
        if key in same:
            out[key] = _Arms(SAME_ACTION, keys.get(key, (0, 0)), same[key])
        else:
            rest = key[:at] + key[at + 1 :]
            out[key] = _Arms(CONTROLS_WITHOUT_ACTION, keys[key], pool.get(rest, (0, 0)))
    return out


def _row(arms: _Arms, z: float) -> dict[str, Any]:
    (n_t, x_t), (n_c, x_c) = arms.contacted, arms.control
    nan = float("nan")
    row: dict[str, Any] = {
        "comparison": arms.comparison,
        "n_contacted": n_t,
        "n_control": n_c,
        "churned_contacted": x_t,
        "churned_control": x_c,
        "churn_rate_contacted": x_t / n_t if n_t else nan,
        "churn_rate_control": x_c / n_c if n_c else nan,
        **dict.fromkeys(("effect", "effect_low", "effect_high"), nan),
        **dict.fromkeys(("relative_effect", "relative_low", "relative_high"), nan),
        "detectable_effect": nan,
        "too_small": True,
        "measurable": False,
        "reason": "",
    }
    if n_t == 0:
        row["reason"] = f"no contacted rows to compare with the {n_c} control row(s)"
        return row
    if n_c == 0:
        wanted = "that recorded this action or none" if arms.comparison != ALL_CONTROLS else ""
        row["reason"] = f"no control rows {wanted}".strip() + f" for the {n_t} contacted row(s)"
        return row
    p_t, p_c = x_t / n_t, x_c / n_c
    low, high = newcombe_interval(x_c, n_c, x_t, n_t, z)
    row.update(effect=p_c - p_t, effect_low=low, effect_high=high)
    mde = detectable_effect(n_c, n_t, p_c)
    row.update(detectable_effect=nan if mde is None else mde, too_small=mde is None)
    if x_c == 0:
        row["reason"] = (
            f"no churn among the {n_c} control row(s): there is no churn to remove, so the "
            "relative effect is undefined"
        )
        return row
    rel_low, rel_high = relative_interval(x_t, n_t, x_c, n_c, z)
    row.update(relative_effect=1 - p_t / p_c, relative_low=rel_low, relative_high=rel_high)
    row["measurable"] = True
    return row


def measure_effects(
    outcomes: pd.DataFrame, *, by: Sequence[str] = ("action",), level: float = 0.9
) -> pd.DataFrame:
    """One row per group of ``by``: contacted versus control churn and the effect of contact.

    ``outcomes``: the contact outcomes (columns ``action``, ``control``, ``churned`` and the
    ``by`` columns). ``by``: the grouping, e.g. ``("action",)``, ``("action", "tier")`` or
    ``()`` (everyone contacted against every control). ``level``: the intervals' coverage.

    Returns the ``by`` columns then :data:`EFFECT_COLUMNS`: the counts and churn rates of each
    arm; ``effect`` with its ``level`` interval ``effect_low``/``effect_high`` (Newcombe hybrid
    score; a difference of probabilities, positive when contact kept customers);
    ``relative_effect`` with ``relative_low``/``relative_high`` (Katz log ratio; the share of
    churn removed); ``detectable_effect``, the smallest fall in churn rate a two-sided test at
    alpha 0.05 detects with power 0.8 at these sizes
    (:func:`churn.scoring.control.detectable_effect`), and ``too_small``, True when none can
    be; ``measurable`` False with the ``reason`` when a group has no contacted rows, no
    control rows or no churn among its controls (statistics that cannot be computed are NaN,
    the others are kept). Rows are sorted by group. Raises ValueError naming a missing column
    or a bad ``level``.
    """
    _check(outcomes, by, level)
    z = float(norm.ppf(0.5 + level / 2))
    arms = _arms(outcomes, by)
    rows = [
        {**dict(zip(by, key, strict=True)), **_row(a, z), "level": level} for key, a in arms.items()
    ]
    return pd.DataFrame(rows, columns=[*by, *EFFECT_COLUMNS])


@dataclass(frozen=True)
class EffectUpdate:
    """How one action's effect was updated: the playbook's prior, what was measured (relative
    effect and its standard error from the interval; None when nothing usable was measured),
    the posterior and the sizes it rests on."""

    action: str
    prior: float
    prior_sd: float
    measured: float | None
    measured_sd: float | None
    posterior: float
    posterior_sd: float
    n_contacted: int
    n_control: int


def _measured_rows(measured: pd.DataFrame) -> dict[str, pd.Series]:
    needed = ("action", "relative_effect", "relative_low", "relative_high", "level")
    missing = [c for c in (*needed, "measurable", "n_contacted", "n_control") if c not in measured]
    if missing:
        raise ValueError(
            f"'measured' lacks column(s) {missing}: expected the frame measure_effects(outcomes, "
            "by=('action',)) returns."
        )
    actions = measured["action"].dropna()
    repeated = sorted(set(actions[actions.duplicated()].astype(str)))
    if repeated:
        raise ValueError(
            f"'measured' has several rows for action(s) {repeated}: expected one row per action "
            "(measure_effects(outcomes, by=('action',)))."
        )
    return {str(row["action"]): row for _, row in measured.dropna(subset=["action"]).iterrows()}


def updated_offers(
    offers: Sequence[Offer], measured: pd.DataFrame
) -> tuple[tuple[Offer, ...], tuple[EffectUpdate, ...]]:
    """The ``offers`` with ``effect``/``effect_sd`` replaced by the normal-normal posterior of
    their prior and the measured relative effect, and one :class:`EffectUpdate` per offer.

    ``measured``: :func:`measure_effects` by ``("action",)``. The measurement's standard error
    is its interval's width over 2 z (z the normal quantile of its ``level``). The posterior
    mean is the precision-weighted mean of prior and measurement, its sd
    ``1 / sqrt(1/prior_sd^2 + 1/se^2)``; it is not clipped (a measured harm can pull an
    effect below 0). An offer keeps its prior when its action was not measured, its row is not
    ``measurable``, its interval has no width, or its ``effect_sd`` is 0 (a prior held as
    certain)."""
    rows = _measured_rows(measured)
    new_offers, records = [], []
    for offer in offers:
        row = rows.get(offer.action)
        n_t = 0 if row is None else int(row["n_contacted"])
        n_c = 0 if row is None else int(row["n_control"])
        effect, sd, m, se = offer.effect, offer.effect_sd, None, None
        if row is not None and bool(row["measurable"]):
            z = float(norm.ppf(0.5 + float(row["level"]) / 2))
            width = float(row["relative_high"]) - float(row["relative_low"])
            m, se = float(row["relative_effect"]), width / (2 * z)
            if se > 0 and offer.effect_sd > 0 and np.isfinite(se):
                w_prior, w_data = offer.effect_sd**-2, se**-2
                effect = (w_prior * offer.effect + w_data * m) / (w_prior + w_data)
                sd = (w_prior + w_data) ** -0.5
        new_offers.append(Offer(offer.action, offer.cost, effect, sd))
        records.append(
            EffectUpdate(offer.action, offer.effect, offer.effect_sd, m, se, effect, sd, n_t, n_c)
        )
    return tuple(new_offers), tuple(records)
