"""How each CRM finds the record a row updates: the key it matches on and the contact fields
it needs, from the contact fields of ``data.customers`` (``canonical/contact_fields.parquet``).

* Salesforce (Bulk API 2.0 upsert on Contact): the record ``Id`` (``crm_id``), else an External
  ID field (``external_id`` as ``External_ID__c``, else our ``Churn_Customer_ID__c``). An upsert
  that creates a Contact fails without ``LastName``, so a row without one is left out unless
  the key is ``Id`` (an update only).
* HubSpot (contact import): ``hs_object_id`` (Record ID, ``crm_id``), else ``email``, the two
  identifiers it deduplicates contacts on; else ``churn_customer_id``, which the admin makes a
  unique-value property.
* Dynamics 365 (Data Import): ``contactid`` (``crm_id``), else an alternate key column
  (``external_id`` as ``churn_externalid``, else ``emailaddress1``, else ``customer_id``), which
  the shipped column list declares as the alternate key.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import pandas as pd

from churn.crm.fields import CONTACT_PREFIX
from churn.data.parsing import EMAIL_ADDRESS
from churn.settings import CONTACT_FIELDS, ExportColumn, ExportTarget

CONTACT_NAMES: Mapping[str, Mapping[str, str]] = {
    "salesforce": {
        "crm_id": "Id",
        "external_id": "External_ID__c",
        "last_name": "LastName",
        "first_name": "FirstName",
        "email": "Email",
    },
    "hubspot": {
        "crm_id": "hs_object_id",
        "email": "email",
        "first_name": "firstname",
        "last_name": "lastname",
        "company": "company",
    },
    "dynamics": {
        "crm_id": "contactid",
        "external_id": "churn_externalid",
        "email": "emailaddress1",
        "first_name": "firstname",
        "last_name": "lastname",
    },
    "generic": {field: field for field in CONTACT_FIELDS},
}
"""Each target's name for a contact field it takes (Salesforce and Dynamics Contacts have no
company text field: the company is a related Account)."""

KEY_ORDER: Mapping[str, tuple[str, ...]] = {
    "salesforce": ("crm_id", "external_id"),
    "hubspot": ("crm_id", "email"),
    "dynamics": ("crm_id", "external_id", "email"),
    "generic": (),
}
"""Contact fields a target matches records on, the surest first."""

STANDARD_FIELDS: Mapping[str, frozenset[str]] = {
    "salesforce": frozenset({"Id", "LastName", "FirstName", "Email"}),
    "hubspot": frozenset({"hs_object_id", "email", "firstname", "lastname", "company"}),
    "dynamics": frozenset({"contactid", "emailaddress1", "firstname", "lastname"}),
    "generic": frozenset(),
}
"""Fields the CRM has already: the shipped definitions create none of them."""


def contact_key(target: str, fields: Collection[str]) -> str | None:
    """The contact field ``target`` matches on, among the mapped ``fields``; None: the
    customer id is the key."""
    return next((f for f in KEY_ORDER[target] if f in fields), None)


def contact_columns(target: str, fields: Collection[str]) -> list[ExportColumn]:
    """The contact columns of ``target``'s built-in file, its key first when a contact field
    is the key."""
    names = CONTACT_NAMES[target]
    key = contact_key(target, fields)
    order = [key] if key else []
    order += [f for f in CONTACT_FIELDS if f in fields and f in names and f != key]
    order = [f for f in order if f not in ("crm_id", "external_id") or f == key]
    return [ExportColumn(source=CONTACT_PREFIX + f, name=names[f]) for f in order]


def required_fields(target: str, settings: ExportTarget) -> list[str]:
    """Field names a row of ``target`` must fill: ``settings.required``, or by default the key
    (first column) and, for a Salesforce upsert that may create a Contact (a key other than
    ``Id``), ``LastName`` when the file has it."""
    if settings.required is not None:
        return list(settings.required)
    names = [c.name for c in settings.columns]
    required = names[:1]
    if target == "salesforce" and names[0] != "Id" and "LastName" in names:
        required.append("LastName")
    return required


def with_contacts(rows: pd.DataFrame, contacts: pd.DataFrame | None) -> pd.DataFrame:
    """``rows`` with each contact field joined by ``customer_id`` as ``contact.<field>``
    (missing where the customers table has no value). Pure: ``rows`` is not changed."""
    if contacts is None:
        return rows
    fields = [c for c in contacts.columns if c != "customer_id"]
    renamed = contacts.rename(columns={f: CONTACT_PREFIX + f for f in fields})
    renamed = renamed.drop_duplicates("customer_id", keep="last")
    by_id = renamed.assign(customer_id=renamed["customer_id"].astype("string")).set_index(
        "customer_id"
    )
    looked_up = by_id.reindex(pd.Index(rows["customer_id"].astype("string")))
    looked_up.index = rows.index
    return pd.concat([rows, looked_up], axis=1)


MIN_EMAIL_ID_SHARE = 0.95
"""Share of customer ids that must be email addresses for the ids to be the customers' email."""


def address_counts(customer_ids: pd.Series) -> tuple[int, int]:
    """(distinct ids, those of them that are email addresses) among ``customer_ids``: summed
    over the parts of a list that has one row per customer, they decide
    :func:`with_email_ids` for the whole list. Pure."""
    ids = customer_ids.dropna().astype("string").drop_duplicates()
    return len(ids), int(ids.str.fullmatch(EMAIL_ADDRESS).fillna(False).sum())


def with_email_ids(
    customer_ids: pd.Series,
    contacts: pd.DataFrame | None,
    *,
    of_all: tuple[int, int] | None = None,
) -> pd.DataFrame | None:
    """The contact fields, with each customer's id as their ``email`` when no email is mapped
    and the ids are email addresses (at least :data:`MIN_EMAIL_ID_SHARE` of them: a shop's
    orders keyed by the buyer's address); ids that are not an address get no email. So a
    CRM matching contacts on the email (HubSpot, Dynamics) finds them without a customers
    table. Otherwise ``contacts`` unchanged. ``of_all``: :func:`address_counts` of the whole
    list when ``customer_ids`` are only the rows to export (default: those ids decide). Pure."""
    if contacts is not None and "email" in contacts.columns:
        return contacts
    ids = customer_ids.dropna().astype("string").drop_duplicates()
    distinct, addresses = address_counts(ids) if of_all is None else of_all
    if distinct == 0 or addresses / distinct < MIN_EMAIL_ID_SHARE:
        return contacts
    is_address = ids.str.fullmatch(EMAIL_ADDRESS).fillna(False).astype(bool)
    emails = pd.DataFrame({"customer_id": ids, "email": ids.where(is_address)}).reset_index(
        drop=True
    )
    if contacts is None:
        return emails
    return contacts.merge(emails, on="customer_id", how="outer")
