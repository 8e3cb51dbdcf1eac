"""What ``churn export`` needs to know of the whole scored list, gathered in one pass over its
parts, so that only the rows it writes are ever held: every customer has an id, the list's
date, the actions it holds, whether its ids are email addresses and whether anyone has a
monetary value. Pure: frames in, facts out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from churn.crm.keys import address_counts

COLUMNS = ["customer_id", "cutoff", "recommended_action", "expected_value"]
"""The columns of ``scores.parquet`` the facts are read from."""


@dataclass(frozen=True)
class ListFacts:
    rows: int
    """Scored customers."""
    missing_ids: int
    """Rows without a customer id."""
    cutoff: pd.Timestamp | None
    """The latest scoring cutoff (None: no rows)."""
    actions: frozenset[str]
    """Every recommended action the list holds."""
    ids: tuple[int, int]
    """:func:`churn.crm.keys.address_counts` of the whole list."""
    valued: bool = True
    """Whether any customer has a monetary value (:func:`churn.scoring.value.has_monetary_value`):
    a list without one (no amount, no charge) holds 0 for everyone, which says nothing."""


def list_facts(parts: Iterable[pd.DataFrame]) -> ListFacts:
    """:class:`ListFacts` of the list made of ``parts`` (each with :data:`COLUMNS`; a list
    has one row per customer, so the parts' id counts add up)."""
    rows = missing = distinct = addresses = 0
    latest: pd.Timestamp | None = None
    actions: set[str] = set()
    valued = False
    for part in parts:
        valued = valued or bool(part["expected_value"].astype("float64").gt(0).any())
        rows += len(part)
        missing += int(part["customer_id"].isna().sum())
        n, a = address_counts(part["customer_id"])
        distinct, addresses = distinct + n, addresses + a
        cutoffs = pd.to_datetime(part["cutoff"]).dropna()
        if len(cutoffs):
            top = pd.Timestamp(cutoffs.max())
            latest = top if latest is None or top > latest else latest
        actions |= set(part["recommended_action"].dropna().astype(str))
    return ListFacts(rows, missing, latest, frozenset(actions), (distinct, addresses), valued)


VALUE_COLUMNS = ("expected_value", "value_at_risk")
"""What a customer is worth and that times the churn probability: money."""


def without_value(scores: pd.DataFrame) -> pd.DataFrame:
    """``scores`` with :data:`VALUE_COLUMNS` missing: for a list in which no customer has a
    monetary value (:attr:`ListFacts.valued`), whose 0s would read as "worth nothing" in a
    CRM rather than "not known". Pure: ``scores`` is not changed."""
    return scores.assign(**{c: float("nan") for c in VALUE_COLUMNS if c in scores.columns})
