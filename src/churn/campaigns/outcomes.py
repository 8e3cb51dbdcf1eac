"""Contact outcomes: each past contact (or control row) with whether its customer churned in
the label window that starts on the contact's day, by the pipeline's own label definition.

A contact's day is its cutoff: what the customer did before it is what a list made that day
knew; the ``labels.horizon_days`` after it are its outcome. Contacts whose window has not
passed yet, and contacts of customers not eligible that day (already gone, or never active
before it), have no outcome and are left out, counted in :class:`ContactOutcomes`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

OUTCOME_COLUMNS = ("customer_id", "cutoff", "action", "control", "channel", "cost", "churned")


@dataclass(frozen=True)
class ContactOutcomes:
    """``frame``: one row per contact with a known outcome, columns :data:`OUTCOME_COLUMNS`
    (``cutoff`` a midnight timestamp, ``churned`` bool); and how many contacts were left out."""

    frame: pd.DataFrame
    contacts: int
    waiting: int
    """contacts whose label window runs past the data"""
    not_eligible: int
    """contacts of customers not eligible at the contact's day (gone already, or not yet active)"""
    known_from: dt.date | None
    """the day the earliest waiting contact's outcome is known"""
    horizon_days: int

    def known_by(self, cutoff: dt.date) -> pd.DataFrame:
        """The outcomes a list made at ``cutoff`` could know: label windows ended by then."""
        ends = self.frame["cutoff"] + pd.Timedelta(days=self.horizon_days)
        return self.frame[ends <= pd.Timestamp(cutoff)]

    def summary(self) -> dict[str, object]:
        """The counts, for scoring.json and campaigns.json."""
        return {
            "contacts": self.contacts,
            "with_outcome": len(self.frame),
            "waiting_for_outcome": self.waiting,
            "not_eligible": self.not_eligible,
            "next_outcome_known_from": self.known_from.isoformat() if self.known_from else None,
        }


def contact_days(contacts: pd.DataFrame) -> pd.Series:
    """Each contact's cutoff: the midnight of its day."""
    return pd.to_datetime(contacts["ts"]).dt.normalize()


def contact_outcomes(
    contacts: pd.DataFrame,
    labels_at: Callable[[pd.DataFrame], pd.DataFrame],
    *,
    data_end: dt.date,
    horizon_days: int,
) -> ContactOutcomes:
    """Join ``contacts`` (canonical: customer_id, ts, action, control, channel, cost) to the
    labels at their days. ``labels_at(pairs)`` returns the labels of the ``pairs``
    (``customer_id``, ``cutoff``: midnight timestamp) eligible at their cutoff: ``customer_id``,
    ``cutoff``, ``churned``; only the contacts whose window ends by ``data_end`` (the day after
    the data) are asked for, so the labels of customers never contacted are never made. A
    customer contacted twice on one day counts once (the last row)."""
    horizon = dt.timedelta(days=horizon_days)
    rows = contacts.assign(cutoff=contact_days(contacts)).drop_duplicates(
        ["customer_id", "cutoff"], keep="last"
    )
    days = sorted({d.date() for d in rows["cutoff"]})
    known = [d for d in days if d + horizon <= data_end]
    waiting_days = [d for d in days if d + horizon > data_end]
    done = rows[rows["cutoff"].dt.date.isin(set(known))]
    if known:
        labels = labels_at(done[["customer_id", "cutoff"]].reset_index(drop=True))
        labels = labels.loc[labels["churned"].notna(), ["customer_id", "cutoff", "churned"]]
        joined = done.merge(labels, on=["customer_id", "cutoff"], how="inner")
    else:
        joined = done.iloc[0:0].assign(churned=pd.Series(dtype=bool))
    frame = joined[list(OUTCOME_COLUMNS)].assign(churned=joined["churned"].astype(bool))
    return ContactOutcomes(
        frame=frame.sort_values(["cutoff", "customer_id"], kind="stable").reset_index(drop=True),
        contacts=len(rows),
        waiting=len(rows) - len(done),
        not_eligible=len(done) - len(joined),
        known_from=(waiting_days[0] + horizon) if waiting_days else None,
        horizon_days=horizon_days,
    )
