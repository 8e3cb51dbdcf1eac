"""``campaigns.json``: what every past contact with a known outcome measured, accumulated over
all campaigns: contacted against control overall, per action, and per action and risk tier
(the tier the customer had on churn's list of the contact's day, where there was one), with
the playbook's priors updated by it. Pure: frames in, a JSON-ready record out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from churn.campaigns.effects import measure_effects
from churn.campaigns.outcomes import ContactOutcomes
from churn.campaigns.priors import measured_playbook
from churn.settings import PlaybookSettings

NOT_ON_A_LIST = "not on a churn list"
"""Tier of contacts whose day has no scored list in history (a campaign run outside churn)."""


def with_tiers(
    outcomes: pd.DataFrame, lists: Mapping[dt.date, Callable[[], pd.DataFrame]]
) -> pd.DataFrame:
    """``outcomes`` with ``tier``: the customer's ``risk_tier`` on the list scored at the
    contact's day, else :data:`NOT_ON_A_LIST`. Only the lists of contact days are read."""
    tiers = []
    for day in sorted({d.date() for d in outcomes["cutoff"]}):
        if day in lists:
            frame = lists[day]()[["customer_id", "risk_tier"]]
            tiers.append(frame.assign(cutoff=pd.Timestamp(day)))
    out = outcomes.copy()
    if tiers:
        found = pd.concat(tiers, ignore_index=True).rename(columns={"risk_tier": "tier"})
        out = out.merge(found, on=["customer_id", "cutoff"], how="left")
    else:
        out["tier"] = np.nan
    out["tier"] = out["tier"].astype(object).where(out["tier"].notna(), NOT_ON_A_LIST)
    return out


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    clean = frame.astype(object).where(frame.notna(), None)
    return [{str(k): v for k, v in row.items()} for row in clean.to_dict(orient="records")]


def campaign_effects(
    contacts: ContactOutcomes,
    lists: Mapping[dt.date, Callable[[], pd.DataFrame]],
    playbook: PlaybookSettings,
    *,
    level: float = 0.9,
) -> dict[str, Any]:
    """The record of ``campaigns.json`` (see the module docstring)."""
    out: dict[str, Any] = {"contacts": contacts.summary(), "level": level}
    frame = contacts.frame
    if frame.empty:
        out["note"] = "no contact has a known outcome yet"
        return out
    tiered = with_tiers(frame, lists)
    tiered["action"] = tiered["action"].astype(object)
    out["campaigns"] = [
        {
            "day": f"{day:%Y-%m-%d}",
            "contacted": int((~rows["control"]).sum()),
            "control": int(rows["control"].sum()),
        }
        for day, rows in tiered.groupby("cutoff")
    ]
    out["overall"] = _records(measure_effects(tiered, by=(), level=level))
    out["by_action"] = _records(measure_effects(tiered, by=("action",), level=level))
    out["by_action_and_tier"] = _records(
        measure_effects(tiered, by=("action", "tier"), level=level)
    )
    _, updates = measured_playbook(playbook, frame, level=level)
    out["playbook_effects"] = updates
    return out
