"""Which of a snapshot's date columns say when it was taken.

A subscriptions export (Stripe's, Chargebee's, Recurly's) holds dates of two kinds besides the
signup: dates ahead of the export (a period's or a trial's end, the next renewal, an expiry),
whose latest value is no day the export describes.

Pure: column names in, column names out.
"""

from __future__ import annotations

from collections.abc import Sequence

from churn.data.inference import name_words

AHEAD_WORDS = frozenset(
    {
        *("end", "ends", "expire", "expires", "expiry", "expiration", "due", "until"),
        *("valid", "next", "renewal", "renews", "upcoming", "scheduled"),
    }
)
"""Words of a date column's name that say the date may lie after the export (a period's end,
the next renewal); ``ended`` is no such word: an end that happened."""


def dating_columns(columns: Sequence[str]) -> list[str]:
    """The date columns of ``columns`` whose latest value can date a snapshot: every one but
    those named like a date ahead of the export (Stripe's ``Current Period End``, a trial's
    end), whose latest value is months after it."""
    return [c for c in columns if not set(name_words(c)) & AHEAD_WORDS]
