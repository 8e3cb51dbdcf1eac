"""Columns of a snapshot that ``churn init`` keys by or leaves out, told by their values: a
column named like a key (``EmployeeNumber``, ``account_no``) that is distinct on every row is
the id when no column is named like a customer, and a column with one value on every row
(``EmployeeCount``: 1, ``Over18``: Y) is left out, as it tells no customer from another.

Pure: a sample of text cells in, column names out.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from churn.data.inference import _ID_WORDS as KEY_WORDS  # the words id_candidates reads
from churn.data.inference import filled_text, name_words


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
