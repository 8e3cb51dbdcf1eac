"""Which of a snapshot's date columns say when it was taken, and which give its label away.

A subscriptions export (Stripe's, Chargebee's, Recurly's) holds dates of two kinds besides the
signup: dates ahead of the export (a period's or a trial's end, the next renewal, an expiry),
and dates the subscription's renewals move forward while it lasts (the current period's start,
the last payment) and that stop at its cancellation.

Pure: column names and plans in, names and plans out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from churn.data.inference import name_words
from churn.init.plan import SnapshotPlan

AHEAD_WORDS = frozenset(
    {
        *("end", "ends", "expire", "expires", "expiry", "expiration", "due", "until"),
        *("valid", "next", "renewal", "renews", "upcoming", "scheduled"),
    }
)
"""Words of a date column's name that say the date may lie after the export (a period's end,
the next renewal); ``ended`` is no such word: an end that happened."""

MOVING_WORDS = frozenset({"current", "last", "latest", "recent", "next", "renewal", "renewed"})
"""Words of a date column's name that say a customer's renewals move it forward (the current
period, the last or next renewal)."""


def dating_columns(columns: Sequence[str]) -> list[str]:
    """The date columns of ``columns`` whose latest value can date a snapshot: every one but
    those named like a date ahead of the export (Stripe's ``Current Period End``, a trial's
    end), whose latest value is months after it."""
    return [c for c in columns if not set(name_words(c)) & AHEAD_WORDS]


def without_moving_dates(plan: SnapshotPlan) -> SnapshotPlan:
    """``plan`` without the date attributes named like a date renewals move forward (Stripe's
    ``Current Period Start``), when the label is a cancellation date: a churner's stopped at its
    cancellation, so its days before the snapshot date say how long ago a customer left, not
    whether one will (single-feature ROC AUC 0.92 to 0.97 on a Stripe export, under the leak
    screen's 0.98, and 0.999 together). Each is named in a note and in the params file."""
    if not plan.roles.filled:
        return plan
    moving = [
        name
        for name in plan.date_attributes
        if set(name_words(plan.attributes[name])) & MOVING_WORDS
    ]
    if not moving:
        return plan
    why = (
        "a date renewals move forward, which stops at the cancellation: days before the "
        "snapshot date say how long ago a churner left"
    )
    left_out = tuple((plan.attributes[name], why) for name in moving)
    note = (
        f"left out {', '.join(repr(c) for c, _ in left_out)}: {why}; put any back in "
        "data.snapshot.source.attributes if it was recorded before customers left"
    )
    return replace(
        plan,
        attributes={n: c for n, c in plan.attributes.items() if n not in moving},
        date_attributes=tuple(n for n in plan.date_attributes if n not in moving),
        left_out=(*plan.left_out, *left_out),
        notes=(*plan.notes, note),
    )
