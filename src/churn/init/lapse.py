"""How long a silence means a customer is already lost, guessed from an event log's own gaps.

Pure: (customer, time) pairs in, a number of days out. Without ``labels.max_inactive_days``
every customer who ever bought is eligible at every cutoff, so a log that runs for years puts
customers gone for years on the at-risk list, and their obvious churn inflates the test AUC. A
silence longer than 1.5 times the gap that 99 % of a log's returns come within is taken as a
loss; never less than the horizon, rounded up to whole months.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

QUANTILE = 0.99
"""Share of the observed returns whose gap the silence must exceed."""
MARGIN = 1.5
"""Factor on that gap: long gaps are seen less often than they happen (the log ends)."""
MIN_GAPS = 50
"""Fewer returns than this say too little to guess from: no limit is written."""
FREQUENT_RETURN_DAYS = 20
"""A log whose customers come back within this many days (99 % of its returns: calls, daily
logins, weekly shopping) is given at most :data:`FREQUENT_HORIZON_DAYS` as its horizon when the
user names none: a customer silent that long has left, and at 90 days most churners would be
gone before the cutoff, so the model would mostly find who already left."""
FREQUENT_HORIZON_DAYS = 30


@dataclass(frozen=True)
class Lapse:
    days: int
    """``labels.max_inactive_days`` to write."""
    return_gap_days: float
    """The gap within which ``QUANTILE`` of the returns came."""
    returns: int
    """Gaps measured: a customer's active day after an earlier one."""


@dataclass(frozen=True)
class Returns:
    """Who came back in an event log."""

    customers: int
    """Distinct customer ids (blank ones aside)."""
    returning: int
    """Customers active on two different days or more."""
    lapse: Lapse | None

    def at_horizon(self, horizon_days: int) -> Returns:
        """The same returns with the lapse never under ``horizon_days``."""
        if self.lapse is None:
            return self
        lapse = _floored(self.lapse.return_gap_days, self.lapse.returns, horizon_days)
        return Returns(self.customers, self.returning, lapse)

    @property
    def longest_horizon(self) -> int | None:
        """:data:`FREQUENT_HORIZON_DAYS` for a log whose customers come back within
        :data:`FREQUENT_RETURN_DAYS`, else None (no limit)."""
        frequent = self.lapse is not None and self.lapse.return_gap_days <= FREQUENT_RETURN_DAYS
        return FREQUENT_HORIZON_DAYS if frequent else None


def active_days(customers: pd.Series, times: pd.Series) -> pd.DataFrame:
    """Each customer's distinct active days (``c``, ``d``), sorted: ``times`` parsed, aligned
    with ``customers``; blank ids (guests) are no customer."""
    ids = customers.astype("string").str.strip()
    ids = ids.where(ids != "")
    days = pd.DataFrame({"c": ids.to_numpy(), "d": times.dt.floor("D").to_numpy()})
    return days.dropna().drop_duplicates().sort_values(["c", "d"])


def returns(customers: pd.Series, times: pd.Series, horizon_days: int) -> Returns:
    """How many customers came back, and the silence that means one is lost
    (:func:`lapse_days`)."""
    days = active_days(customers, times)
    per_customer = days["c"].value_counts()
    return Returns(len(per_customer), int((per_customer > 1).sum()), _lapse(days, horizon_days))


def lapse_days(customers: pd.Series, times: pd.Series, horizon_days: int) -> Lapse | None:
    """The silence after which a customer counts as lost, from the gaps between each
    customer's consecutive active days (``times`` parsed, aligned with ``customers``). None
    when fewer than ``MIN_GAPS`` returns were seen."""
    return _lapse(active_days(customers, times), horizon_days)


def _lapse(days: pd.DataFrame, horizon_days: int) -> Lapse | None:
    gaps = days.groupby("c", sort=False)["d"].diff().dropna().dt.days
    if len(gaps) < MIN_GAPS:
        return None
    return _floored(float(gaps.quantile(QUANTILE)), len(gaps), horizon_days)


def _floored(gap: float, returns: int, horizon_days: int) -> Lapse:
    months = math.ceil(MARGIN * gap / 30)
    return Lapse(max(horizon_days, 30 * months), gap, returns)
