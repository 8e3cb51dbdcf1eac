"""Which customer attributes are numbers and which are categories, decided once at ingest and
recorded in the canonical customers table's column types: floats for numbers, text for
categories. The feature SQL follows those types (:func:`churn.features.catalogue.text_columns`),
so training and scoring on one canonical table read every attribute the same way.

An attribute named in ``features.categorical_attributes`` stays text. Any other is a number when
every value reads as one, a category when fewer than ``MIN_PARSED_SHARE`` do (a plan, a
channel), and a problem in between: a few values that do not read as numbers among many that
do are more likely typing errors than categories.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import pandas as pd

from churn.data.inference import MIN_PARSED_SHARE
from churn.data.parsing import parse_numbers
from churn.data.problems import Problems

RESERVED = ("customer_id", "signup_date")
"""Canonical customers columns that are not attributes."""


@dataclass(frozen=True)
class AttributeColumn:
    """One source's values of an attribute: its file, raw column and cleaned values (text,
    missing where blank)."""

    path: str
    column: str
    values: pd.Series


def reads_as_numbers(attribute: str, parts: Sequence[AttributeColumn], problems: Problems) -> bool:
    """True when every non-missing value of ``attribute`` (over every source) reads as a
    number. False when fewer than ``MIN_PARSED_SHARE`` of them do: a category. In between,
    a problem per source naming the values that do not read, and False."""
    bad = [parse_numbers(part.values)[1] for part in parts]
    filled = sum(int(part.values.notna().sum()) for part in parts)
    n_bad = sum(len(b) for b in bad)
    if filled == 0 or n_bad == 0:
        return filled > 0
    if (filled - n_bad) / filled < MIN_PARSED_SHARE:
        return False
    for part, values in zip(parts, bad, strict=True):
        if len(values):
            problems.add(
                part.path,
                part.column,
                f"expected a number: {filled - n_bad:,} of {filled:,} values of attribute "
                f"{attribute!r} read as numbers, these do not. Fix them, or list {attribute!r} "
                "in features.categorical_attributes if it is a category",
                values,
            )
    return False


def typed_attributes(
    customers: pd.DataFrame,
    parts: dict[str, list[AttributeColumn]],
    categorical: Collection[str],
    problems: Problems,
) -> pd.DataFrame:
    """``customers`` (attributes as text) with each attribute that reads as numbers as floats
    (``reads_as_numbers``); those in ``categorical`` stay text. ``parts``: each attribute's
    values per source, for the problems to name the file and column."""
    out = customers.copy()
    for attribute, columns in parts.items():
        if attribute not in categorical and reads_as_numbers(attribute, columns, problems):
            out[attribute] = parse_numbers(out[attribute])[0]
    return out


def inferred_categories(customers: pd.DataFrame, categorical: Collection[str]) -> list[str]:
    """Attributes of a canonical customers table held as text though
    ``features.categorical_attributes`` does not name them: ingest found that their values do
    not all read as numbers."""
    return [
        str(c)
        for c in customers.columns
        if c not in RESERVED
        and c not in categorical
        and not pd.api.types.is_numeric_dtype(customers[c])
    ]


def category_notes(customers: pd.DataFrame, categorical: Collection[str]) -> list[str]:
    """One line per attribute that ingest took as a category on its own, for the log."""
    return [
        f"data.customers attribute {name!r} does not read as numbers (values such as "
        f"{customers[name].dropna().drop_duplicates().head(3).tolist()}): taken as a category; "
        "list it in features.categorical_attributes to say so"
        for name in inferred_categories(customers, categorical)
    ]
