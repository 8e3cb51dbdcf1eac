"""A paid period told by its dates: the column of a subscription log that says until when each
payment covers the customer.

A billing export writes beside each payment the end of what it pays for: KKBox's
``membership_expire_date``, a Stripe invoice's ``period_end``, Chargebee's
``current_term_end``, an annual plan's ``paid_through``. Such a column is named like an end
or an expiry and its dates come on or after the row's own on nearly every row (a cancellation
may end the period early, before its own date). Pure: dates in, a column out.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import pandas as pd

COVER_WORDS = frozenset(
    {
        *("expire", "expires", "expiry", "expiration", "expiring"),
        *("end", "ends", "until", "through", "thru", "renewal", "renews"),
    }
)
"""Words of a column's name that say it is where a paid period ends (``membership_expire_date``,
``current_period_end``, ``paid_through``, ``valid_until``, ``next_renewal``); ``ended`` is an
end that happened, ``due`` a bill's date."""
NOT_COVER_WORDS = frozenset({"trial", "ended", "due", "cancel", "cancelled", "canceled"})
"""Words that say a date is no paid period's end: a trial's end is not paid for, a
cancellation's date is when the customer left."""
MIN_AFTER_SHARE = 0.95
"""Share of the rows with both dates whose period ends on or after the row's own date."""
MIN_ROWS = 20
"""Fewest rows of the sample with both dates for a column to be told a paid period."""


@dataclass(frozen=True)
class PaidPeriod:
    """A column of paid periods' ends: its name and the share of rows on or after their own."""

    column: str
    after_share: float


def paid_period_column(
    times: pd.Series, ends: Mapping[str, pd.Series], words: Mapping[str, Collection[str]]
) -> PaidPeriod | None:
    """The column of ``ends`` (each a column's dates, parsed as the events' ``times`` are, same
    index) whose name (its ``words``) says it ends a paid period, whose dates come on or after
    ``times`` on at least :data:`MIN_AFTER_SHARE` of the rows and after them (by a day or
    more) on most: the one on or after most often; None when none is."""
    found: list[PaidPeriod] = []
    for column, dates in ends.items():
        named = set(words[column])
        if not named & COVER_WORDS or named & NOT_COVER_WORDS:
            continue
        both = times.notna() & dates.notna()
        if int(both.sum()) < MIN_ROWS:
            continue
        ahead = (dates[both].dt.floor("D") - times[both].dt.floor("D")).dt.days
        share = float((ahead >= 0).mean())
        if share >= MIN_AFTER_SHARE and float(ahead.median()) >= 1:
            found.append(PaidPeriod(column, share))
    return max(found, key=lambda p: p.after_share, default=None)
