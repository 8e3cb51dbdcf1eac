"""Fitting the uplift model on past contacts, and judging it on campaigns it never saw.

The contacts are split by day, never by customer: the campaigns on or after the test cutoff
(or, without any, the latest quarter of campaign days) are held out, and the model fitted on
the earlier ones, whose label windows end before the first held-out day, is compared there
with the risk ranking (Qini and uplift at k: does contacting the customers a ranking puts first
keep more of them than the control group?). The model that scoring uses is then refitted on
every contact with a known outcome. Pure: frames and settings in, a model and a record out.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from churn.campaigns.qini import DEFAULT_KS, compare_rankings, qini_difference
from churn.campaigns.uplift import POOLED, UpliftModel, fit_uplift
from churn.campaigns.uplift_drivers import DriverReasons
from churn.errors import TrainingError
from churn.modeling.model import ChurnModel
from churn.settings import UpliftSettings

HELD_OUT = "held_out"
"""Subfolder of a saved uplift model holding the model judged on the held-out campaigns."""
UNSERVED = "held_out_unserved"
"""Subfolder of a saved uplift model folder holding the model judged on the held-out campaigns
when it did not beat the risk ranking: kept for inspection and benchmarks, never scored with."""
KNOWN_BY = "known_by"
"""Metadata key of a fitted model: the day every outcome it was fitted on was known (the last
label window's end). A list scored at an earlier cutoff must not use it."""


@dataclass(frozen=True)
class UpliftResult:
    """``model`` is None when there is too little to fit one; ``report`` says why, or how the
    held-out campaigns ranked (``uplift.json``). ``held_out_model``: the model judged there,
    fitted only on contacts whose outcomes were known before the held-out campaigns (what a
    list scored at those campaigns' days may use); also kept when ``model`` is None because it
    did not beat the risk ranking there (saved under :data:`UNSERVED`, never scored with).
    ``unserved_model``: the model fitted on every contact but not used for scoring (it did not
    beat the risk ranking), kept for the registry only."""

    model: UpliftModel | None
    report: dict[str, Any]
    held_out_model: UpliftModel | None = None
    unserved_model: UpliftModel | None = None


def usable_at(models: list[UpliftModel], cutoff: dt.date) -> UpliftModel | None:
    """Of ``models``, the one fitted on the most recent outcomes that were all known by
    ``cutoff``; None when every model knows something later."""
    usable = [m for m in models if dt.date.fromisoformat(str(m.metadata[KNOWN_BY])) <= cutoff]
    return max(usable, key=lambda m: str(m.metadata[KNOWN_BY]), default=None)


def held_out_split(
    cutoffs: pd.Series, *, test_cutoff: dt.date | None, horizon_days: int
) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the contacts to fit on and to judge on. Held out: contacts on or after
    ``test_cutoff`` when there are any, else the latest quarter of contact days. Fitted on:
    contacts whose label window ends by the first held-out day (none overlaps it)."""
    days = pd.to_datetime(cutoffs)
    first_held = pd.Timestamp(test_cutoff) if test_cutoff is not None else None
    if first_held is None or not (days >= first_held).any():
        unique = np.sort(days.unique())
        first_held = (
            pd.Timestamp(unique[max(1, math.floor(len(unique) * 0.75))])
            if len(unique) > 1
            else days.max() + pd.Timedelta(days=1)
        )
    held = (days >= first_held).to_numpy()
    fit = (days + pd.Timedelta(days=horizon_days) <= first_held).to_numpy()
    return fit, held


def beats_risk(evaluation: dict[str, Any]) -> tuple[bool, str]:
    """Whether scoring may rank by the uplift model: only when, on the held-out campaigns, its
    ranking kept more customers than random (Qini above 0) and than the churn model's risk
    ranking, by more than chance: the interval of ``qini_vs_risk`` (a paired bootstrap) lies
    above 0. A model that cannot show it is worse than the playbook's effects, which rank by
    risk."""
    if not evaluation.get("evaluated"):
        return False, (
            "the uplift model could not be judged on held-out campaigns "
            f"({evaluation.get('reason')}); scoring ranks by the playbook's effects"
        )
    rankings = evaluation["rankings"]
    uplift, risk = rankings["uplift"]["qini"], rankings["churn_probability"]["qini"]
    if not uplift > max(risk, 0.0):
        return False, (
            f"on held-out campaigns its Qini {uplift:.4f} did not beat the risk ranking's "
            f"{risk:.4f} (and random's 0); scoring ranks by the playbook's effects instead"
        )
    gap = evaluation.get("qini_vs_risk")
    if gap is None:
        return (
            True,
            f"on held-out campaigns its Qini {uplift:.4f} beat the risk ranking's {risk:.4f}",
        )
    span = (
        f"{gap['confidence']:.0%} interval of the difference {gap['low']:.4f} to {gap['high']:.4f}"
    )
    if gap["low"] > 0:
        return True, (
            f"on held-out campaigns its Qini {uplift:.4f} beat the risk ranking's {risk:.4f} "
            f"({span})"
        )
    return False, (
        f"on held-out campaigns its Qini {uplift:.4f} beat the risk ranking's {risk:.4f}, but "
        f"not by more than chance ({span}, which reaches 0); scoring ranks by the playbook's "
        "effects instead"
    )


def own_action_uplift(predicted: pd.DataFrame, action: pd.Series) -> np.ndarray:
    """Each row's predicted uplift for its own action (a control row's would-be action); rows
    without one (or with an action the model does not know) get the "any contact" arm's, or
    the mean over actions when the model has no such column."""
    fallback = predicted[POOLED] if POOLED in predicted else predicted.mean(axis=1)
    out = fallback.to_numpy(dtype="float64").copy()
    acts = action.to_numpy(dtype=object)
    for name in predicted.columns:
        rows = acts == name
        out[rows] = predicted[name].to_numpy(dtype="float64")[rows]
    return out


@dataclass(frozen=True)
class ChurnView:
    """What ``driver_shift`` borrows from the churn model and the playbook: the model itself
    (its logit and reason contributions), per action the reasons it answers, and per action the
    prior of its driver slope (the playbook's prior effect)."""

    model: ChurnModel
    drivers: Mapping[str, DriverReasons]
    slopes: Mapping[str, float]


def _fit(
    rows: pd.DataFrame,
    x: pd.DataFrame,
    *,
    risk: np.ndarray,
    settings: UpliftSettings,
    seed: int,
    actions: list[str],
    horizon_days: int,
    churn: ChurnView | None,
) -> UpliftModel:
    model = fit_uplift(
        x,
        rows["action"],
        rows["control"],
        rows["churned"],
        min_rows=settings.min_action_rows,
        actions=actions,
        seed=seed,
        learner=settings.learner,
        churn_probability=risk,
        shift_penalty=settings.shift_penalty,
        churn_model=None if churn is None else churn.model,
        drivers=None if churn is None else churn.drivers,
        driver_penalty=settings.driver_penalty,
        driver_slopes=None if churn is None else churn.slopes,
    )
    known = pd.to_datetime(rows["cutoff"]).max() + pd.Timedelta(days=horizon_days)
    return replace(model, metadata={**model.metadata, KNOWN_BY: f"{known:%Y-%m-%d}"})


def train_uplift(
    rows: pd.DataFrame,
    x: pd.DataFrame,
    *,
    risk: np.ndarray,
    value: np.ndarray,
    settings: UpliftSettings,
    seed: int,
    test_cutoff: dt.date | None,
    horizon_days: int,
    actions: list[str],
    churn: ChurnView | None = None,
) -> UpliftResult:
    """``rows``: contact outcomes (``cutoff``, ``action``, ``control``, ``churned``); ``x``: the
    model's features built at each contact's day; ``risk``: the churn model's probability of
    each row, ``value``: each row's customer value (all aligned by position). ``actions``: the
    playbook's, so every one gets a prediction. ``churn``: the churn model and the playbook's
    drivers, which the ``driver_shift`` learner needs (ValueError without them)."""
    n = len(rows)
    base: dict[str, Any] = {
        "contacts_with_outcome": n,
        "min_contacts": settings.min_contacts,
        "used_for_scoring": False,  # set below: a model can be fitted and still not served
    }
    if not settings.enabled:
        return UpliftResult(
            None, {**base, "fitted": False, "reason": "train.uplift.enabled is false"}
        )
    n_control = int(rows["control"].sum()) if n else 0
    if n < settings.min_contacts or n_control == 0:
        reason = (
            f"{n:,} contacts with a known outcome ({n_control:,} in a control group); an uplift "
            f"model needs at least train.uplift.min_contacts = {settings.min_contacts:,} and a "
            "control group. Scoring ranks by the playbook's effects (measured ones where the "
            "control group allows)."
        )
        return UpliftResult(None, {**base, "fitted": False, "reason": reason})
    fit, held = held_out_split(rows["cutoff"], test_cutoff=test_cutoff, horizon_days=horizon_days)
    report: dict[str, Any] = {**base, "fitted": True}
    held_model = None
    try:
        held_model, evaluation = _evaluate(
            rows,
            x,
            fit=fit,
            held=held,
            risk=risk,
            value=value,
            settings=settings,
            seed=seed,
            actions=actions,
            horizon_days=horizon_days,
            churn=churn,
        )
    except TrainingError as e:  # too few held-in rows of one outcome: judged nowhere
        evaluation = {"evaluated": False, "reason": str(e)}
    try:
        model = _fit(
            rows,
            x,
            risk=risk,
            settings=settings,
            seed=seed,
            actions=actions,
            horizon_days=horizon_days,
            churn=churn,
        )
    except TrainingError as e:
        return UpliftResult(None, {**base, "fitted": False, "reason": str(e)})
    report["held_out"] = evaluation
    beats, why = beats_risk(evaluation)
    report["used_for_scoring"] = beats
    report["use_reason"] = why
    if not beats:
        return UpliftResult(None, {**report, "reason": why}, held_model, unserved_model=model)
    report["served_model"] = {
        "fitted_on_contacts": n,
        "control_rows": n_control,
        "arms": sorted(set(model.actions.values()) | {POOLED}),
        "actions": dict(model.actions),
        "known_by": model.metadata[KNOWN_BY],
        "note": "refitted on every contact with a known outcome after the held-out evaluation; "
        "a list scored before known_by uses the held-out model (or none), never outcomes it "
        "could not have known",
    }
    return UpliftResult(model, report, held_model)


def _evaluate(
    rows: pd.DataFrame,
    x: pd.DataFrame,
    *,
    fit: np.ndarray,
    held: np.ndarray,
    risk: np.ndarray,
    value: np.ndarray,
    settings: UpliftSettings,
    seed: int,
    actions: list[str],
    horizon_days: int,
    churn: ChurnView | None,
) -> tuple[UpliftModel | None, dict[str, Any]]:
    test = rows[held]
    if not held.any() or not test["control"].any() or test["control"].all():
        return None, {
            "evaluated": False,
            "reason": "no held-out campaign with contacted and control rows",
        }
    model = _fit(
        rows[fit],
        x[fit],
        risk=risk[fit],
        settings=settings,
        seed=seed,
        actions=actions,
        horizon_days=horizon_days,
        churn=churn,
    )
    uplift = own_action_uplift(model.predict(x[held], risk[held]), test["action"])
    p, v = risk[held], value[held]
    rankings = {
        "churn_probability": p,
        "value_at_risk": p * v,
        "uplift": uplift,
        "uplift_x_value": uplift * v,
    }
    outcomes = test[["control", "churned"]].reset_index(drop=True)
    table = compare_rankings(rankings, outcomes)
    gap = qini_difference(
        uplift,
        p,
        outcomes,
        confidence=settings.confidence,
        resamples=settings.bootstrap_resamples,
        seed=seed,
    )
    days = pd.to_datetime(test["cutoff"])
    return model, {
        "evaluated": True,
        "fitted_on": {
            "contacts": int(fit.sum()),
            "days": f"{pd.to_datetime(rows['cutoff'][fit]).min():%Y-%m-%d} to "
            f"{pd.to_datetime(rows['cutoff'][fit]).max():%Y-%m-%d}"
            if fit.any()
            else None,
            "known_by": model.metadata[KNOWN_BY],
        },
        "held_out": {
            "contacts": int(held.sum()),
            "control": int(test["control"].sum()),
            "days": f"{days.min():%Y-%m-%d} to {days.max():%Y-%m-%d}",
        },
        "budgets": [float(k) for k in DEFAULT_KS],
        "rankings": {
            name: {k: (None if pd.isna(x) else float(x)) for k, x in row.items()}
            for name, row in table.iterrows()
        },
        "qini_vs_risk": gap,
        "note": "qini: area between the ranking's cumulative extra customers kept and random "
        "targeting's, on the held-out campaigns; uplift_at_<k>: control churn rate minus "
        "contacted churn rate among the top k of the ranking",
    }
