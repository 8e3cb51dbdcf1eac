"""The contact fields of the customers table (email, names, company, CRM keys): how a CRM finds
each customer. They are read apart from the attributes into a canonical table of their own,
``canonical/contact_fields.parquet``, which only the export stage reads, so no contact field
can reach features, reports or MLflow."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from churn.data.contract import customer_ids
from churn.data.parsing import clean_text
from churn.data.problems import Problems
from churn.settings import CONTACT_FIELDS, CustomerSourceSettings, CustomersSettings

CONTACT_FIELDS_TABLE = "contact_fields"
"""Name of the canonical table (``canonical/contact_fields.parquet``)."""


def mapped_contact_fields(settings: CustomersSettings | None) -> list[str]:
    """The contact fields any customers source maps, in :data:`CONTACT_FIELDS` order."""
    if settings is None:
        return []
    mapped = {f for src in settings.sources for f in src.contact_fields}
    return [f for f in CONTACT_FIELDS if f in mapped]


def canonical_contact_fields(
    raw_by_source: Sequence[tuple[CustomerSourceSettings, pd.DataFrame]],
    settings: CustomersSettings,
) -> pd.DataFrame | None:
    """One row per customer: ``customer_id`` and each mapped contact field as text (missing
    where the file has none; a later source wins for a customer, as for the attributes).
    None when no source maps a contact field. Raises ContractViolation naming every mapped
    column a file lacks."""
    fields = mapped_contact_fields(settings)
    if not fields:
        return None
    problems = Problems()
    frames = []
    for src, raw in raw_by_source:
        absent = [c for c in src.contact_fields.values() if c not in raw.columns]
        for column in absent:
            problems.add(
                src.path,
                column,
                f"column mapped in contact_fields not found; the file has columns "
                f"{list(map(str, raw.columns))}",
            )
        id_column = src.columns.get("customer_id")
        if absent or id_column not in raw.columns:
            continue  # a missing id column is reported by the customers table itself
        out = pd.DataFrame({"customer_id": customer_ids(raw[id_column], src, problems)})
        for field in fields:
            column = src.contact_fields.get(field)  # type: ignore[call-overload]
            out[field] = clean_text(raw[column]) if column is not None else None
        frames.append(out.astype({f: "string" for f in fields}))
    problems.raise_if_any("Fix the customers table or data.customers.sources[].contact_fields.")
    if not frames:
        return None
    table = pd.concat(frames, ignore_index=True).dropna(subset=["customer_id"])
    return table.drop_duplicates("customer_id", keep="last").reset_index(drop=True)
