"""What each customer is worth over the horizon, so the list can rank by value at risk.

* Purchases (``clv``): BG/NBD expected purchases in the horizon times the Gamma-Gamma expected
  spend per purchase, both fitted on the purchase histories before the cutoff (no labels).
* Subscriptions (``recurring``): the monthly charge times the months at stake.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from churn.data.billing_periods import months_of_periods
from churn.errors import PipelineStateError
from churn.modeling.clv import MIN_CUSTOMERS_TO_FIT, BetaGeoModel, GammaGammaModel, rfm_summary
from churn.settings import ValueSettings

log = logging.getLogger("churn")


def purchase_value(
    purchases: pd.DataFrame,
    cutoff: pd.Timestamp,
    horizon_days: int,
    returns: pd.DataFrame | None = None,
) -> pd.Series:
    """Expected spend in ``[cutoff, cutoff + horizon)`` per customer id with a purchase before
    ``cutoff``: BG/NBD purchases x Gamma-Gamma spend, net of the share of value the customer
    has returned or cancelled so far (``returns``: return events, amounts of either sign).

    Customers without a usable repeat history (one purchase day, or repeat days of zero or
    unknown value) get the population's mean spend per purchase. Raises PipelineStateError when
    too few customers have bought to fit either model.
    """
    summary = rfm_summary(purchases, cutoff)
    fit = fit_value(summary, cutoff)
    kept = kept_share(purchases, returns, cutoff).reindex(summary["customer_id"]).fillna(1.0)
    return pd.Series(
        values_of(summary, fit, horizon_days) * kept.to_numpy(),
        index=summary["customer_id"].to_numpy(),
        name="expected_value",
    )


@dataclass(frozen=True)
class ValueFit:
    """What :func:`purchase_value` fits on every customer's purchase summary at one cutoff:
    BG/NBD (None: it could not be fitted, each customer's own rate is used), Gamma-Gamma
    (None: too few repeat buyers, or it could not be fitted) and the mean spends that stand in
    for it."""

    bg: BetaGeoModel | None
    gg: GammaGammaModel | None
    repeat_buyers: bool
    """At least MIN_CUSTOMERS_TO_FIT customers with a usable repeat history."""
    mean_spend: float
    """Mean repeat spend of the usable customers (NaN without any)."""
    spend_of_all: float
    """Mean repeat spend of every customer with one (0 when nobody has a usable one)."""


def fit_value(summary: pd.DataFrame, cutoff: pd.Timestamp) -> ValueFit:
    """BG/NBD and Gamma-Gamma fitted on ``summary`` (:func:`rfm_summary` of every customer with
    a purchase before ``cutoff``, in its order). Raises PipelineStateError when too few
    customers have bought to fit either model; logs a warning for a model it could not fit."""
    if len(summary) < MIN_CUSTOMERS_TO_FIT:
        raise PipelineStateError(
            f"value at {cutoff.date()}: {len(summary)} customers have purchases before the "
            f"cutoff; the CLV model needs at least {MIN_CUSTOMERS_TO_FIT}. Use a later cutoff "
            "or scoring.value.method: recurring."
        )
    x, spend, usable = _repeat_spend(summary)
    bg: BetaGeoModel | None = None
    try:
        bg = BetaGeoModel().fit(summary["frequency"], summary["recency"], summary["T"])
    except RuntimeError as e:
        log.warning(
            "value at %s: BG/NBD could not be fitted (%s); using each customer's purchase rate "
            "so far instead",
            cutoff.date(),
            e,
        )
    spend_of_all = float(np.nanmean(spend)) if usable.any() else 0.0
    repeat_buyers = bool(usable.sum() >= MIN_CUSTOMERS_TO_FIT)
    mean_spend, gg = float("nan"), None
    if repeat_buyers:
        mean_spend = float(np.nanmean(spend[usable]))
        try:
            gg = GammaGammaModel().fit(np.where(usable, x, 0.0), np.where(usable, spend, np.nan))
        except RuntimeError as e:
            log.warning(
                "value at %s: Gamma-Gamma could not be fitted (%s); every repeat buyer at the "
                "mean repeat spend",
                cutoff.date(),
                e,
            )
    return ValueFit(bg, gg, repeat_buyers, mean_spend, spend_of_all)


def values_of(summary: pd.DataFrame, fit: ValueFit, horizon_days: int) -> np.ndarray:
    """(n,) expected spend over the horizon of each row of ``summary`` (any of the customers
    ``fit`` was fitted on), before returns: purchases ahead x spend per purchase."""
    x, spend, usable = _repeat_spend(summary)
    per_purchase = np.full(len(x), fit.spend_of_all)
    if fit.repeat_buyers and fit.gg is None:
        per_purchase = np.full(len(x), fit.mean_spend)
    elif fit.gg is not None:
        expected = fit.gg.conditional_expected_spend(
            np.where(usable, x, 0.0), np.where(usable, spend, np.nan)
        )
        per_purchase = np.where(np.isfinite(expected), expected, fit.mean_spend)
    ahead = _purchases_ahead(summary, horizon_days, fit.bg)
    return np.asarray(np.asarray(ahead, dtype="float64") * per_purchase, dtype="float64")


def _repeat_spend(summary: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frequency, mean repeat spend and whether the customer's repeat history is usable (a
    repeat day, every spend known and positive)."""
    x = summary["frequency"].to_numpy(dtype="float64")
    spend = summary["mean_repeat_spend"].to_numpy(dtype="float64")
    return x, spend, (x > 0) & np.isfinite(spend) & (spend > 0)


def _purchases_ahead(
    summary: pd.DataFrame, horizon_days: int, bg: BetaGeoModel | None
) -> np.ndarray:
    """BG/NBD expected purchases in the horizon; without a fitted BG/NBD (its likelihood could
    not be maximised on these histories: short or sparse ones), each customer's own purchase
    rate so far (purchase days per week of their history) times the horizon: a cruder value,
    not a stopped run."""
    weeks = horizon_days / 7.0
    own = (summary["frequency"].to_numpy(dtype="float64") + 1) / np.maximum(
        summary["T"].to_numpy(dtype="float64"), 1.0
    )
    if bg is None:
        return np.asarray(own * weeks, dtype="float64")
    ahead = np.asarray(
        bg.expected_purchases(weeks, summary["frequency"], summary["recency"], summary["T"]),
        dtype="float64",
    )
    unusable = ~np.isfinite(ahead)
    if unusable.any():  # never a value of -inf or NaN on a CRM list
        log.warning(
            "value: the fitted BG/NBD (r %.3g, alpha %.3g, a %.3g, b %.3g) gives no usable "
            "expected purchases for %s of %s customers; using their purchase rate so far",
            bg.r_,
            bg.alpha_,
            bg.a_,
            bg.b_,
            f"{int(unusable.sum()):,}",
            f"{len(ahead):,}",
        )
        ahead = np.where(unusable, own * weeks, ahead)
    return ahead


def kept_share(
    purchases: pd.DataFrame, returns: pd.DataFrame | None, cutoff: pd.Timestamp
) -> pd.Series:
    """Per customer, the share of the value bought before ``cutoff`` not returned (0 to 1)."""
    if returns is None or returns.empty:
        return pd.Series(dtype="float64")
    bought = purchases.loc[purchases["ts"] < cutoff].groupby("customer_id")["amount"].sum()
    back = returns.loc[returns["ts"] < cutoff].groupby("customer_id")["amount"].sum().abs()
    share = 1.0 - back.reindex(bought.index).fillna(0.0) / bought.where(bought > 0)
    return share.clip(0.0, 1.0).fillna(1.0)


def recurring_value(features: pd.DataFrame, value: ValueSettings) -> pd.Series:
    """Monthly charge x ``value.months`` per row of ``features`` (missing and negative charges
    count as 0, the negative ones with a warning).
    The charge is per unit when ``value.charge_quantity_feature`` names the units (seats,
    licences; a missing count is 1), and for the period ``value.charge_period_feature`` names
    (a yearly plan's price is 12 months' charge, :mod:`churn.data.billing_periods`; a period
    no word names counts as a month, with a warning)."""
    assert value.charge_feature is not None
    named = [value.charge_feature, value.charge_quantity_feature, value.charge_period_feature]
    for setting, name in zip(
        ("charge_feature", "charge_quantity_feature", "charge_period_feature"), named, strict=True
    ):
        if name is not None and name not in features:
            known = sorted(str(c) for c in features if c not in ("customer_id", "cutoff"))
            raise PipelineStateError(
                f"scoring.value.{setting} {name!r} is not a feature of this pipeline. "
                f"Expected one of {known}."
            )
    charge = pd.to_numeric(features[value.charge_feature], errors="coerce").fillna(0.0)
    credits = int((charge < 0).sum())
    if credits:  # a credit on the bill: the customer is worth nothing more, not less
        log.warning(
            "scoring.value.charge_feature %r is negative for %s of %s customers (credits?): "
            "their value counts as 0",
            value.charge_feature,
            f"{credits:,}",
            f"{len(charge):,}",
        )
        charge = charge.clip(lower=0.0)
    if value.charge_quantity_feature is not None:
        units = pd.to_numeric(features[value.charge_quantity_feature], errors="coerce")
        charge = charge * units.fillna(1.0)
    if value.charge_period_feature is not None:
        charge = charge / _period_months(features[value.charge_period_feature], value)
    return (charge * value.months).astype("float64").rename("expected_value")


def _period_months(periods: pd.Series, value: ValueSettings) -> pd.Series:
    """Months each row's charge pays for; 1 where the period is blank or names none."""
    months = months_of_periods(periods)
    unknown = months.isna()
    if unknown.any():
        counts = periods[unknown].astype("string").fillna("<blank>").value_counts()
        shown = ", ".join(f"{v!r} ({n:,})" for v, n in counts.head(5).items())
        log.warning(
            "scoring.value.charge_period_feature %r: %s of %s rows name no billing period (%s); "
            "their charge is taken as monthly",
            value.charge_period_feature,
            f"{int(unknown.sum()):,}",
            f"{len(periods):,}",
            shown,
        )
    return months.fillna(1.0)


def has_monetary_value(expected_value: pd.Series) -> bool:
    """Whether any customer is worth something: without an amount column (a log of visits, a
    snapshot without a charge) every expected value is 0 or missing, and value-based ranking
    and playbook rules would act on ties."""
    value = expected_value.to_numpy(dtype="float64")
    return bool(np.any(np.nan_to_num(value) > 0))


def worth(expected_value: pd.Series) -> np.ndarray:
    """What saving each customer is worth, for the expected value saved: the expected value
    (missing: 0), or 1 for everyone when nobody has a monetary value (then the expected value
    saved is the churn probability an action removes, less its cost)."""
    if not has_monetary_value(expected_value):
        log.info(
            "no customer has a monetary value: expected value saved counts each customer as "
            "worth 1, so it is the churn probability an action removes, less its cost"
        )
        return np.ones(len(expected_value))
    value = expected_value.to_numpy(dtype="float64")
    return np.where(np.isnan(value), 0.0, value)


def value_percentiles(expected_value: pd.Series) -> np.ndarray:
    """Each customer's expected value as a percentile (0-100, ties at their highest rank); 0
    for everyone when nobody has a monetary value, so that no value-based rule fires on ties."""
    if not has_monetary_value(expected_value):
        return np.zeros(len(expected_value))
    return np.asarray(expected_value.rank(method="max", pct=True) * 100.0)
