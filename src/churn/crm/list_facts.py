"""What ``churn export`` needs to know of the whole scored list, gathered in one pass over its
parts, so that only the rows it writes are ever held: every customer has an id, the list's
date, the actions it holds and whether its ids are email addresses. Pure: frames in, facts out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from churn.crm.keys import address_counts

COLUMNS = ["customer_id", "cutoff", "recommended_action"]
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


def list_facts(parts: Iterable[pd.DataFrame]) -> ListFacts:
    """:class:`ListFacts` of the list made of ``parts`` (each with :data:`COLUMNS`; a list
    has one row per customer, so the parts' id counts add up)."""
    rows = missing = distinct = addresses = 0
    latest: pd.Timestamp | None = None
    actions: set[str] = set()
    for part in parts:
        rows += len(part)
        missing += int(part["customer_id"].isna().sum())
        n, a = address_counts(part["customer_id"])
        distinct, addresses = distinct + n, addresses + a
        cutoffs = pd.to_datetime(part["cutoff"]).dropna()
        if len(cutoffs):
            top = pd.Timestamp(cutoffs.max())
            latest = top if latest is None or top > latest else latest
        actions |= set(part["recommended_action"].dropna().astype(str))
    return ListFacts(rows, missing, latest, frozenset(actions), (distinct, addresses))
