"""Billing periods written as words: how many months a plan's charge pays for.

Subscription exports name the period a price is for beside it: Stripe's ``Interval``
(``month``, ``year``), Chargebee's ``billing_period_unit``, a CRM's ``Billing Frequency``
(``Monthly``, ``Annual``, ``Quarterly``), sometimes with a count (``3 months``, ``every 2
weeks``, ISO 8601's ``P1Y``). A yearly plan's price read as a monthly charge makes that customer
look twelve times as valuable, so ``scoring.value.method: recurring`` turns each charge into a
monthly one by the months its period covers. Pure: text in, months out.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from churn.data.inference import filled_text

DAYS_PER_MONTH = 365.25 / 12

UNIT_MONTHS: dict[str, float] = {
    "day": 1 / DAYS_PER_MONTH,
    "week": 7 / DAYS_PER_MONTH,
    "fortnight": 14 / DAYS_PER_MONTH,
    "month": 1.0,
    "quarter": 3.0,
    "year": 12.0,
}
"""Months in one of each unit."""

WORD_MONTHS: dict[str, float] = {
    "daily": UNIT_MONTHS["day"],
    "weekly": UNIT_MONTHS["week"],
    "biweekly": UNIT_MONTHS["fortnight"],
    "fortnightly": UNIT_MONTHS["fortnight"],
    "monthly": 1.0,
    "quarterly": 3.0,
    "semiannual": 6.0,
    "semiannually": 6.0,
    "halfyearly": 6.0,
    "halfyear": 6.0,
    "yearly": 12.0,
    "annual": 12.0,
    "annually": 12.0,
    "biennial": 24.0,
    "mo": 1.0,
    "mth": 1.0,
    "yr": 12.0,
    "wk": UNIT_MONTHS["week"],
}
"""Period words with no count, spelled without spaces, hyphens or underscores."""

_UNITS = "|".join(UNIT_MONTHS)
_COUNTED = re.compile(rf"^(?:every)?(\d+(?:\.\d+)?)?({_UNITS})s?$")
_ISO = re.compile(r"^p(\d+)([dwmy])$")
_ISO_MONTHS = {"d": UNIT_MONTHS["day"], "w": UNIT_MONTHS["week"], "m": 1.0, "y": 12.0}


def period_months(text: object) -> float | None:
    """Months one period covers (``"year"``: 12, ``"Every 2 weeks"``: 0.46, ``"P3M"``: 3),
    or None for a blank or a text that names no period."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return None
    word = re.sub(r"[\s_\-]+", "", str(text).strip().lower())
    if not word:
        return None
    if word in WORD_MONTHS:
        return WORD_MONTHS[word]
    counted = _COUNTED.match(word)
    if counted:
        count = float(counted.group(1)) if counted.group(1) else 1.0
        return count * UNIT_MONTHS[counted.group(2)] if count > 0 else None
    iso = _ISO.match(word)
    if iso and int(iso.group(1)) > 0:
        return int(iso.group(1)) * _ISO_MONTHS[iso.group(2)]
    return None


def months_of_periods(periods: pd.Series) -> pd.Series:
    """:func:`period_months` of every value (each distinct text parsed once), NaN where none."""
    text = periods.astype("string")
    months = {value: period_months(value) for value in text.dropna().unique()}
    return text.map(months).astype("float64")


def names_periods(values: pd.Series, *, share: float = 0.95) -> bool:
    """Whether a column's values are billing periods: at least ``share`` of its non-blank
    values name one (and some value is not blank)."""
    filled = filled_text(values)
    return not filled.empty and months_of_periods(filled).notna().mean() >= share
