"""Features derived after the SQL pass, per (customer, cutoff) row rather than per event, so
they are cheap and engine-independent:

* calendar: the cutoff's month, so a model trained across a year can learn seasonality
  (a September cutoff's window holds the Christmas peak; a June one the summer lull);
* rates: lifetime counts divided by tenure, which stay comparable as histories grow longer;
* bgnbd: the BG/NBD model refitted at each cutoff on all purchase histories before it
  (unsupervised, so no label is read): probability alive and expected purchases in the
  horizon, the probabilistic view of the same history.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from churn.features.catalogue import Feature
from churn.modeling.clv import BetaGeoModel, rfm_summary


def derived_catalogue(*, calendar: bool, bgnbd: bool, horizon_days: int) -> list[Feature]:
    out = [
        Feature(
            "orders_per_month",
            "frequency",
            "Orders per 30 days of customer age (lifetime order rate)",
        ),
        Feature("spend_per_month", "monetary", "Spend per 30 days of customer age"),
        Feature(
            "recency_share_of_tenure",
            "recency",
            "Days since last activity as a share of customer age (1: nothing since the first)",
        ),
    ]
    if calendar:
        out.append(
            Feature(
                "cutoff_month",
                "season",
                "Month of the cutoff (1-12): the season the churn window falls in",
            )
        )
    if bgnbd:
        out += [
            Feature(
                bgnbd_names(horizon_days)[0],
                "bgnbd",
                "BG/NBD probability the customer is still active, from purchase history",
            ),
            Feature(
                bgnbd_names(horizon_days)[1],
                "bgnbd",
                f"BG/NBD expected purchases in the next {horizon_days} days",
            ),
        ]
    return out


def bgnbd_names(horizon_days: int) -> list[str]:
    """The BG/NBD columns, in catalogue order."""
    return ["bgnbd_p_alive", f"bgnbd_expected_purchases_{horizon_days}d"]


MIN_BGNBD_CUSTOMERS = 10
"""Fewer customers with a purchase before a cutoff than this: no BG/NBD fit there."""


def fitted_bgnbd(summary: pd.DataFrame) -> BetaGeoModel | None:
    """BG/NBD fitted on one cutoff's ``summary`` (``rfm_summary``: one row per customer with a
    purchase before it, sorted by customer_id), or None when it is too small to fit (fewer
    than ``MIN_BGNBD_CUSTOMERS`` customers, or no repeat purchase)."""
    if len(summary) < MIN_BGNBD_CUSTOMERS or (summary["frequency"] > 0).sum() == 0:
        return None
    return BetaGeoModel().fit(summary["frequency"], summary["recency"], summary["T"])


def bgnbd_values(summary: pd.DataFrame, model: BetaGeoModel, horizon_days: int) -> pd.DataFrame:
    """``customer_id`` and the :func:`bgnbd_names` columns for each row of ``summary`` (any
    subset of a cutoff's ``rfm_summary`` rows), from ``model`` fitted on the whole of it."""
    x, tx, t = summary["frequency"], summary["recency"], summary["T"]
    p_alive, expected = bgnbd_names(horizon_days)
    return pd.DataFrame(
        {
            "customer_id": summary["customer_id"].to_numpy(),
            p_alive: model.probability_alive(x, tx, t),
            expected: model.expected_purchases(horizon_days / 7.0, x, tx, t),
        }
    )


@dataclass(frozen=True)
class BgnbdFits:
    """The BG/NBD columns of every (customer, cutoff) key, fitted before the feature rows
    exist: per cutoff (a midnight timestamp), a frame indexed by ``customer_id`` with the two
    columns ``names``. A cutoff with too few purchase histories to fit has no entry."""

    names: tuple[str, str]
    by_cutoff: dict[pd.Timestamp, pd.DataFrame]


def fit_bgnbd(keys: pd.DataFrame, purchases: pd.DataFrame, horizon_days: int) -> BgnbdFits:
    """Refit BG/NBD at each cutoff of ``keys`` (``customer_id``, ``cutoff``) on every purchase
    history before it (``purchases``: daily totals, ``customer_id``, ``ts``, ``amount``) and
    keep the fitted columns of the customers ``keys`` has at that cutoff. The fit reads only
    the purchases, never the keys, so it is the same whichever rows are asked for."""
    p_alive, expected = bgnbd_names(horizon_days)
    by_cutoff = {}
    for cutoff, ids in keys.groupby("cutoff", sort=True)["customer_id"]:
        summary = rfm_summary(purchases, pd.Timestamp(str(cutoff)))
        model = fitted_bgnbd(summary)
        if model is None:
            continue
        fitted = bgnbd_values(summary, model, horizon_days).set_index("customer_id")
        by_cutoff[pd.Timestamp(str(cutoff))] = fitted[fitted.index.isin(ids.to_numpy())]
    return BgnbdFits((p_alive, expected), by_cutoff)


def _bgnbd_values(features: pd.DataFrame, fits: BgnbdFits) -> dict[str, np.ndarray]:
    """The two BG/NBD columns of ``features``' rows (missing where a cutoff was not fitted or
    a customer had no purchase before it)."""
    values = {name: np.full(len(features), np.nan) for name in fits.names}
    ids = features["customer_id"].to_numpy()
    for cutoff, rows in features.groupby("cutoff", sort=True).indices.items():
        fitted = fits.by_cutoff.get(pd.Timestamp(str(cutoff)))
        if fitted is None:
            continue
        aligned = fitted.reindex(ids[rows])
        for name in fits.names:
            values[name][rows] = aligned[name].to_numpy()
    return values


def with_rates(features: pd.DataFrame, *, calendar: bool) -> pd.DataFrame:
    """``features`` with the rate columns and (``calendar``) the cutoff's month appended: the
    derived columns computed from each row alone."""
    out = features.copy(deep=False)  # copy-on-write: adding columns leaves ``features`` alone
    months = out["days_since_first_activity"] / 30.0
    out["orders_per_month"] = out["orders_total"] / months.where(months > 0)
    out["spend_per_month"] = out["spend_total"] / months.where(months > 0)
    tenure = out["days_since_first_activity"]
    out["recency_share_of_tenure"] = out["days_since_last_activity"] / tenure.where(tenure > 0)
    if calendar:
        out["cutoff_month"] = pd.to_datetime(out["cutoff"]).dt.month.astype("float64")
    return out


def add_derived_features(
    features: pd.DataFrame,
    purchases: pd.DataFrame | None,
    *,
    calendar: bool,
    bgnbd: bool,
    horizon_days: int,
) -> pd.DataFrame:
    """``features`` (from ``build_features``) with the derived columns appended, in catalogue
    order. ``purchases``: canonical events of the activity types, needed when ``bgnbd``."""
    fits = None
    if bgnbd:
        assert purchases is not None
        fits = fit_bgnbd(features[["customer_id", "cutoff"]], purchases, horizon_days)
    return derive_columns(features, fits, calendar=calendar)


def derive_columns(
    features: pd.DataFrame, bgnbd: BgnbdFits | None, *, calendar: bool
) -> pd.DataFrame:
    """``features`` (all of ``build_features``' rows or any slice of them) with the derived
    columns appended, in catalogue order; ``bgnbd``: the fits of :func:`fit_bgnbd` when the
    BG/NBD columns are wanted. Row by row, so slices give the slices of the whole."""
    out = with_rates(features, calendar=calendar)
    if bgnbd is not None:
        for name, values in _bgnbd_values(out, bgnbd).items():
            out[name] = values
        out.index = pd.RangeIndex(len(out))  # as a merge numbers its rows
    return out
