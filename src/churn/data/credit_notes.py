"""Credit notes told by their sign: a document type whose rows carry the negative amounts.

An accounting export has one row per document, invoices and credit notes alike, and a column
saying which (a German ERP's ``Belegart``: ``Rechnung``, ``Gutschrift``; ``Document Type``:
``Invoice``, ``Credit Note``). Its name may be in any language and its values in any words,
but the credit notes are the rows whose amount is negative: such a value is a return, no
purchase, whatever it is called. Pure: a sample in, a column and its values out."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

MIN_CREDIT_ROWS = 3
"""Fewest rows of negative amount in the sample for their document type to be told."""
MIN_NEGATIVE_SHARE = 0.95
"""Share of a value's rows of negative amount for it to be a credit note's type, and share
of the negative rows such values must cover."""
MAX_DOCUMENT_TYPES = 50
"""Most distinct values of a column of document types."""

_NEGATIVE = r"^\s*[-\u2212(]|-\s*$"
"""An amount written negative: a leading minus, parentheses or a trailing minus, whatever the
decimal mark."""


def negative_amounts(values: pd.Series) -> pd.Series:
    """Whether each amount is written negative (blanks: False)."""
    text = values.astype("string")
    return text.str.contains(_NEGATIVE, regex=True).fillna(False).astype(bool)


def credit_values(types: pd.Series, negative: pd.Series) -> tuple[str, ...]:
    """The values of ``types`` whose rows are (nearly) all of negative amount, when they hold
    (nearly) every such row and some other value is left for the invoices; empty otherwise."""
    text = types.astype("string").str.strip()
    filled = text.notna() & (text != "")
    if int((negative & filled).sum()) < MIN_CREDIT_ROWS:
        return ()
    distinct = text[filled].nunique()
    if not 2 <= distinct <= MAX_DOCUMENT_TYPES:
        return ()
    share = negative[filled].groupby(text[filled]).mean()
    credits = sorted(str(v) for v in share.index[share >= MIN_NEGATIVE_SHARE])
    if not credits or len(credits) == distinct:
        return ()
    covered = text[negative & filled].isin(credits).mean()
    return tuple(credits) if covered >= MIN_NEGATIVE_SHARE else ()


def credit_column(
    sample: pd.DataFrame, amount: str, columns: Sequence[str]
) -> tuple[str, tuple[str, ...]] | None:
    """The first of ``columns`` (text, not numbers) with :func:`credit_values` for the
    ``amount`` column's signs, and those values; None when none has them."""
    negative = negative_amounts(sample[amount])
    for column in columns:
        if (values := credit_values(sample[column], negative)) != ():
            return column, values
    return None
