"""The features of ``churn.features.build_features``, written the way a data scientist would by
hand in pandas: loop over the cutoffs, keep the events before each, group by customer.

It is the honest baseline of the benchmark and the reference the DuckDB query is tested
against, so it follows each feature's documented meaning rather than the SQL's shape (no daily
rollup, no range join). Event features only: a spec with customer attributes or a signup date
is refused.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churn.features import FeatureSpec, feature_catalogue

_EPOCH = pd.Timestamp("1970-01-01")


def _trend(recent: pd.Series, before: pd.Series) -> pd.Series:
    """(recent - before) / (recent + before); 0 when both are 0."""
    total = recent + before
    return ((recent - before) / total.where(total != 0)).fillna(0.0)


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    return num / den.where(den != 0)


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text.lower()).strip("_")


def _features_at(past: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """Features of every customer with an event in ``past``: the events before one cutoff, with
    ``age`` = whole days from the event's day to the cutoff (>= 1). One row per customer."""
    s = spec.settings
    windows = sorted(set(s.windows_days))
    longest, t = windows[-1], s.trend_window_days
    by_customer = past.groupby("customer_id")
    act = past[past["event_type"].isin(spec.activity_event_types)]
    by_act = act.groupby("customer_id")
    # An order is its order_id; an activity without one is keyed by its timestamp.
    orders = act.drop_duplicates(["customer_id", "order_id", "ts_if_no_order"])
    active_days = act.drop_duplicates(["customer_id", "day"]).sort_values(["customer_id", "day"])
    gaps = active_days["day"] - active_days.groupby("customer_id")["day"].shift()
    active_days = active_days.assign(gap=gaps)
    by_day = active_days.groupby("customer_id")

    def count(frame: pd.DataFrame) -> pd.Series:
        return frame.groupby("customer_id").size()

    def total(frame: pd.DataFrame, column: str) -> pd.Series:
        return frame.groupby("customer_id")[column].sum()

    f: dict[str, pd.Series] = {
        "days_since_last_activity": by_act["age"].min(),
        "days_since_last_event": by_customer["age"].min(),
        "days_since_first_activity": by_act["age"].max(),
        "active_days_total": by_day.size(),
        "orders_total": count(orders),
        "spend_total": by_act["amount"].sum(),
        "items_total": by_act["quantity"].sum(),
    }
    for w in sorted({*windows, t}):
        f[f"active_days_{w}d"] = count(active_days[active_days["age"] <= w])
        f[f"orders_{w}d"] = count(orders[orders["age"] <= w])
        f[f"spend_{w}d"] = total(act[act["age"] <= w], "amount")

    def previous(frame: pd.DataFrame) -> pd.DataFrame:
        """Rows of the trend window before the latest one: t < age <= 2t."""
        return frame[(frame["age"] > t) & (frame["age"] <= 2 * t)]

    f[f"active_days_prev_{t}d"] = count(previous(active_days))
    f[f"orders_prev_{t}d"] = count(previous(orders))
    f[f"spend_prev_{t}d"] = total(previous(act), "amount")
    f["gap_mean_days"] = by_day["gap"].mean()
    f["gap_std_days"] = by_day["gap"].std()
    f["gap_max_days"] = by_day["gap"].max()
    f["gap_last_days"] = by_day["gap"].last(skipna=False)
    recent = past[past["age"] <= longest]
    f[f"events_{longest}d"] = count(recent)
    for et in s.event_types:
        f[f"events_{_slug(et)}_{longest}d"] = count(recent[recent["event_type"] == et])
    if s.return_event_types:
        returned = past[past["event_type"].isin(s.return_event_types)]
        returns = returned.drop_duplicates(["customer_id", "order_id", "ts_if_no_order"])
        f["returns_total"] = count(returns)
        f[f"returns_{longest}d"] = count(returns[returns["age"] <= longest])
        f["return_value"] = returned["amount"].abs().groupby(returned["customer_id"]).sum()
    first_bought = act.dropna(subset=["product_id"]).groupby(["customer_id", "product_id"])
    first_age = first_bought["age"].max().reset_index()
    f["products_total"] = count(first_age)
    f[f"new_products_{t}d"] = count(first_age[first_age["age"] <= t])
    for attr in spec.event_attributes:
        seen = past.dropna(subset=[attr])
        latest = seen.loc[seen.groupby("customer_id")["ts"].idxmax()]
        f[attr] = latest.set_index("customer_id")[attr]
    return pd.DataFrame(f)


def _derived(raw: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """Ratios and trends from the counts and sums of ``_features_at``."""
    s = spec.settings
    longest, t = max(s.windows_days), s.trend_window_days
    d = raw.copy()
    d["avg_order_value"] = _ratio(d["spend_total"], d["orders_total"])
    d["spend_per_active_day"] = _ratio(d["spend_total"], d["active_days_total"])
    d["items_per_order"] = _ratio(d["items_total"], d["orders_total"])
    d[f"avg_order_value_{longest}d"] = _ratio(d[f"spend_{longest}d"], d[f"orders_{longest}d"])
    d["overdue_ratio"] = _ratio(d["days_since_last_activity"], d["gap_mean_days"])
    for name in ("orders", "spend", "active_days"):
        d[f"{name}_trend_{t}d"] = _trend(d[f"{name}_{t}d"], d[f"{name}_prev_{t}d"])
    for et in s.event_types:
        d[f"share_{_slug(et)}_{longest}d"] = _ratio(
            d[f"events_{_slug(et)}_{longest}d"], d[f"events_{longest}d"]
        )
    if s.return_event_types:
        d["return_value_share"] = _ratio(d["return_value"], d["spend_total"])
    return d


def pandas_features(events: pd.DataFrame, pairs: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """Features for each (customer_id, cutoff) of ``pairs`` from ``events`` before the cutoff
    day, in pandas, one cutoff at a time.

    ``events``: canonical events frame. ``pairs``: ``customer_id`` and ``cutoff`` (midnight
    timestamps). Returns what ``build_features`` returns for the same inputs: ``customer_id``,
    ``cutoff``, then the catalogue's columns (numeric float64, categorical object), sorted by
    cutoff then customer.
    """
    if spec.customer_attributes or spec.has_signup_date:
        raise ValueError(
            "pandas_features computes event features only; got a spec with "
            "customer attributes or a signup date."
        )
    catalogue = feature_catalogue(spec)
    keys = pairs[["customer_id", "cutoff"]].drop_duplicates()
    keys = keys.assign(cutoff=pd.to_datetime(keys["cutoff"]).astype("datetime64[us]"))
    events = events[events["customer_id"].isin(keys["customer_id"])]
    events = events.assign(
        day=(events["ts"].dt.floor("D") - _EPOCH).dt.days,
        ts_if_no_order=events["ts"].where(events["order_id"].isna()),
    )
    frames = []
    for cutoff, at_cutoff in keys.groupby("cutoff"):
        cutoff_day = (cutoff.floor("D") - _EPOCH).days
        past = events[events["day"] < cutoff_day]
        past = past.assign(age=cutoff_day - past["day"])
        raw = _features_at(past, spec).reindex(at_cutoff["customer_id"])
        # Counts and sums are 0 for a customer with no such events; recency, gaps and
        # attributes stay missing.
        counts = [
            c
            for c in raw.columns
            if c not in spec.event_attributes and not c.startswith(("days_since_", "gap_"))
        ]
        raw[counts] = raw[counts].fillna(0.0)
        feats = _derived(raw, spec).reset_index()
        frames.append(feats.assign(cutoff=cutoff))
    out = pd.concat(frames, ignore_index=True)
    out = out.sort_values(["cutoff", "customer_id"], ignore_index=True)
    columns = {f.name: np.float64 if f.kind == "numeric" else object for f in catalogue}
    return out[["customer_id", "cutoff", *columns]].astype({"customer_id": object, **columns})
