"""Integer columns that are not measurements of a customer, told apart by their values: a row
number (``RowNumber``, pandas' ``Unnamed: 0``: 1, 2, 3, ... in file order) and a fixed-width
numeric code that is unique on every row of a snapshot (``CLIENTNUM`` 768805383). ``churn init``
takes such a code for the customer id when no column is named like one, and leaves row
numbers out of the attributes: a model would learn the file's order, and a reason code would
read "Row number is 7421".

Pure: a sample of text cells in, column names out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from churn.data.inference import MIN_ID_VALUES, filled_text

_INDEX_NAME = re.compile(r"^(unnamed: ?0|index|level_0)$", re.I)
"""What pandas names the index it writes into a CSV (``to_csv`` without ``index=False``)."""
_DIGITS = re.compile(r"^\d+$")
MIN_CODE_DIGITS = 5
"""Fewest digits of a numeric code: shorter numbers unique on every row are more often counts
or amounts of a small file than codes."""


def _integers(values: pd.Series) -> np.ndarray | None:
    """The column as non-negative integers (every row filled, digits only), or None."""
    text = values.astype("string").str.strip()
    if text.isna().any() or not text.str.fullmatch(_DIGITS.pattern).fillna(False).all():
        return None
    return text.astype("int64").to_numpy()


def row_numbers(sample: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """The columns of ``columns`` that number the sample's rows: consecutive integers in file
    order (from any start), or named as pandas names an index it writes, whatever their
    values. ``sample``: the first rows of the file, as read, in order."""
    found = []
    for column in columns:
        if _INDEX_NAME.match(str(column).strip()):
            found.append(column)
            continue
        numbers = _integers(sample[column])
        if numbers is None or len(numbers) < MIN_ID_VALUES:
            continue
        if bool((np.diff(numbers) == 1).all()):
            found.append(column)
    return found


def numeric_codes(sample: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """The columns of ``columns`` that look like a numeric customer code: digits only, the same
    number of them (at least :data:`MIN_CODE_DIGITS`) on every row, a distinct value on every
    row, and not a row number. For snapshots, where each row is one customer."""
    numbered = set(row_numbers(sample, columns))
    found = []
    for column in columns:
        if column in numbered:
            continue
        text = filled_text(sample[column])
        if len(text) != len(sample) or len(text) < MIN_ID_VALUES or not text.is_unique:
            continue
        if _integers(text) is None:
            continue
        widths = text.str.len()
        if widths.nunique() == 1 and int(widths.iloc[0]) >= MIN_CODE_DIGITS:
            found.append(column)
    return found
