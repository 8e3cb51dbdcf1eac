"""Event logs whose customer id is new on every order (Olist's ``customer_id``), with a
customers table that names the person behind each (``customer_unique_id``): the customers
source maps ``person_id``, and every canonical table is keyed by the person, so a customer's
second order is their return, not a new customer's first.

Pure: raw customers frames and settings in, a (customer_id -> person_id) table out; applying
it to a canonical table; and the SQL that applies it to the stacked events in DuckDB.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from churn.data.parsing import parse_ids
from churn.settings import CustomersSettings, SourceSettings

PERSONS_TABLE = "persons"
"""The name :func:`persons_join_sql` reads the (customer_id, person_id) table under."""


def person_ids(
    raw_by_source: Sequence[tuple[SourceSettings, pd.DataFrame]], settings: CustomersSettings
) -> pd.DataFrame | None:
    """``customer_id`` -> ``person_id`` (both exact text) of the customers sources that map
    ``person_id``; None when none does. A later source wins for an id, as for attributes.
    Rows without either id are left out (the customers table reports a missing id)."""
    if not any("person_id" in s.columns for s in settings.sources):
        return None
    frames = []
    for src, raw in raw_by_source:
        columns = src.columns
        if "person_id" not in columns or not {columns["customer_id"], columns["person_id"]} <= set(
            raw.columns
        ):
            continue
        frames.append(
            pd.DataFrame(
                {
                    "customer_id": parse_ids(raw[columns["customer_id"]])[0],
                    "person_id": parse_ids(raw[columns["person_id"]])[0],
                }
            )
        )
    if not frames:
        return None
    table = pd.concat(frames, ignore_index=True).dropna()
    return table.drop_duplicates("customer_id", keep="last").reset_index(drop=True)


def by_person(frame: pd.DataFrame, persons: pd.DataFrame | None) -> pd.DataFrame:
    """``frame`` with each ``customer_id`` the table ``persons`` maps replaced by its person
    (others kept as they are)."""
    if persons is None or frame.empty:
        return frame
    mapping = dict(zip(persons["customer_id"], persons["person_id"], strict=True))
    ids = frame["customer_id"]
    return frame.assign(customer_id=ids.map(mapping).where(ids.isin(mapping.keys()), ids))


def one_row_per_person(frame: pd.DataFrame, persons: pd.DataFrame | None) -> pd.DataFrame:
    """A one-row-per-customer table (customers, contact fields) keyed by person: the last row
    of each person's ids wins, as a later source does."""
    if persons is None:
        return frame
    mapped = by_person(frame, persons)
    return mapped.drop_duplicates("customer_id", keep="last").reset_index(drop=True)


def persons_join_sql(table: str) -> str:
    """``table`` (rows with a ``customer_id``) with each id the ``persons`` table maps replaced
    by its person, as a subquery."""
    return (
        f"(SELECT t.* REPLACE (COALESCE(m.person_id, t.customer_id) AS customer_id) "
        f"FROM {table} AS t LEFT JOIN {PERSONS_TABLE} AS m ON m.customer_id = t.customer_id)"
    )
