"""Columns of a snapshot that ``churn init`` keys by or leaves out, told by their values: a
column named like a key (``EmployeeNumber``, ``account_no``) that is distinct on every row is
the id when no column is named like a customer, and a column with one value on every row
(``EmployeeCount``: 1, ``Over18``: Y) is left out, as it tells no customer from another. A
file of snapshots stacked (a row per customer per month) is told apart from one row per
customer.

Pure: a sample of text cells in, column names out.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from churn.data.inference import _ID_WORDS as KEY_WORDS  # the words id_candidates reads
from churn.data.inference import (
    MIN_ID_VALUES,
    filled_text,
    id_candidates,
    name_words,
    timestamp_format,
)


def key_columns(sample: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """The columns of ``columns`` named with a key word whose values are filled and distinct on
    every row of ``sample``."""
    return [
        c
        for c in columns
        if set(name_words(str(c))) & KEY_WORDS
        and len(filled_text(sample[c])) == len(sample)
        and filled_text(sample[c]).is_unique
    ]


def constant_columns(sample: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """The columns of ``columns`` with at most one value (blanks aside) in ``sample``; only
    meaningful when ``sample`` is the whole file."""
    return [c for c in columns if filled_text(sample[c]).nunique() <= 1]


def panel_columns(sample: pd.DataFrame, columns: Sequence[str]) -> tuple[str, str] | None:
    """``(id, period)`` when ``sample`` is snapshots stacked, a row per customer per period
    (a telecom's monthly usage with a churned-next-month flag): a column named like a customer
    id, or a numeric code of one width, that repeats, and a date column with which it is
    distinct on every row. None for one row per customer."""
    ids = [
        c for c in columns if c in id_candidates(columns) or c in _codes_of_one_width(sample, [c])
    ]
    periods = [c for c in columns if c not in ids and _reads_as_dates(sample[c])]
    for id_column in ids:
        key = filled_text(sample[id_column])
        if len(key) < len(sample) or key.nunique() < MIN_ID_VALUES or key.is_unique:
            continue
        for period in periods:
            # periods are few and shared (months), not a date of each customer's own
            few = 1 < sample[period].nunique() <= len(sample) / MIN_ROWS_PER_PERIOD
            if few and not sample[[id_column, period]].astype(str).duplicated().any():
                return id_column, period
    return None


MIN_ROWS_PER_PERIOD = 5
"""Fewest rows per distinct period, on average, for a date column to be a panel's period."""


def _codes_of_one_width(sample: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """Columns of digits, the same number of them (at least 7: a phone number, an account
    number; not a postcode) on every row."""
    found = []
    for column in columns:
        text = filled_text(sample[column])
        digits = len(text) == len(sample) and text.str.fullmatch(r"\d{7,}").all()
        if digits and text.str.len().nunique() == 1:
            found.append(column)
    return found


def _reads_as_dates(values: pd.Series) -> bool:
    try:
        return timestamp_format(values) is not False
    except ValueError:  # day-first and month-first alike: dates all the same
        return True
