"""Timestamps written as day numbers: extracts that number their days instead of dating them
(Dunnhumby's ``DAY``: 1, 2, ... 711). Such a column is read with ``timestamp_format:
days_since_YYYY-MM-DD`` (:data:`churn.settings.DAY_NUMBERS`); with no date given, ``churn
init`` counts from :data:`DEFAULT_ORIGIN` and says so, so every date the pipeline writes is a
relative one until the user names the real day before day 1.

Pure: a sample of text cells in, a column name or a format out.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

import pandas as pd

from churn.settings import DAY_NUMBERS

DEFAULT_ORIGIN = dt.date(1999, 12, 31)
"""Day 1 is 2000-01-01 when the extract does not say which day it was."""
_DAY_NAME = re.compile(r"^(day|day_?(number|num|no|nr|index|idx|id|key|seq))$", re.I)
"""A column named as the day itself (``DAY``, ``day_number``), not a gap (``days_since_prior``),
a weekday (``order_dow``) or an hour of the day."""
MIN_DAYS = 28
"""Fewest days between the first and the last day number of the sample: four weeks at least,
or the column is more likely a small count."""
MAX_DAY_NUMBER = 36_600
"""A hundred years of days: larger numbers are not day numbers (a unix time, a code)."""


EXCEL_ORIGIN = dt.date(1899, 12, 30)
"""The day before Excel's serial day 1 as Excel counts (serial 44927 is 2023-01-01): a date
cell exported as a number."""
EXCEL_SERIALS = (25_569, 73_051)
"""Excel serial numbers of 1970-01-01 and 2100-01-01: serial dates are guessed only between."""


def day_number_format(origin: dt.date = DEFAULT_ORIGIN) -> str:
    """``timestamp_format`` of day numbers counted from ``origin`` (day 1 = the day after)."""
    return f"{DAY_NUMBERS}{origin.isoformat()}"


def _days_spanned(values: pd.Series, pattern: str, low: float, high: float) -> bool:
    """Whether every non-blank value is written as ``pattern`` and read as a number from
    ``low`` up to (not including) ``high``, and they span at least :data:`MIN_DAYS` days."""
    text = values.astype("string").str.strip()
    text = text[text.notna() & (text != "")]
    if text.empty or not text.str.fullmatch(pattern).all():
        return False
    numbers = text.astype("float64")
    inside = numbers.min() >= low and numbers.max() < high
    return bool(inside and numbers.max() - numbers.min() >= MIN_DAYS)


def reads_as_day_numbers(values: pd.Series) -> bool:
    """Whether the non-blank values are whole numbers from 0 to :data:`MAX_DAY_NUMBER` that
    span at least :data:`MIN_DAYS` days."""
    return _days_spanned(values, r"\d+", 0, MAX_DAY_NUMBER + 1)


def reads_as_excel_serials(values: pd.Series) -> bool:
    """Whether the non-blank values are numbers of days as Excel counts them (a fraction is the
    time of day) between 1970 and 2100, spanning at least :data:`MIN_DAYS` days."""
    return _days_spanned(values, r"\d+(\.\d+)?", *EXCEL_SERIALS)


def day_number_columns(sample: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """The columns of ``columns`` named as a day (``DAY``, ``day_number``) whose values read
    as day numbers (:func:`reads_as_day_numbers`)."""
    return [
        c for c in columns if _DAY_NAME.match(str(c).strip()) and reads_as_day_numbers(sample[c])
    ]
