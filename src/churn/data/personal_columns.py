"""Which columns of a user's customers table are how a CRM finds a person (email, names, CRM
record ids) or other personal data and identifiers, guessed from a sample: never model
features. ``churn init`` maps the first as ``contact_fields`` (they reach the CRM files only)
and leaves the others out.

Pure: column names and a sample of text cells in, column names out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from churn.data.inference import filled_text, is_numeric, name_words

CONTACT_NAMES: Mapping[str, frozenset[str]] = {
    "email": frozenset(
        {
            "email",
            "e_mail",
            "mail",
            "email_address",
            "emailaddress",
            "emailaddress1",
            "mail_address",
        }
    ),
    "first_name": frozenset({"first_name", "firstname", "given_name", "forename", "fname"}),
    "last_name": frozenset({"last_name", "lastname", "surname", "family_name", "lname"}),
    "company": frozenset(
        {"company", "company_name", "organisation", "organization", "organisation_name"}
        | {"organization_name", "employer", "business_name"}
    ),
    "crm_id": frozenset(
        {"crm_id", "salesforce_id", "sfdc_id", "sf_id", "hubspot_id", "hs_object_id"}
        | {"record_id", "contactid", "dynamics_id"}
    ),
    "external_id": frozenset({"external_id", "externalid", "ext_id"}),
}
"""Contact field -> column names (as :func:`_joined` writes them) that hold it."""

_PERSONAL_WORDS = frozenset(
    {"phone", "mobile", "telephone", "tel", "fax", "address", "street", "ssn", "passport", "iban"}
)
_PERSONAL_NAMES = frozenset(
    {"name", "full_name", "fullname", "customer_name", "client_name", "contact_name", "user_name"}
    | {"username", "member_name", "display_name"}
)
"""Personal data with no contact field of its own: a full name, a phone, a postal address."""

MIN_IDENTIFIER_VALUES = 50
IDENTIFIER_SHARE = 0.5
"""A text column with more distinct values than this share of its filled sample rows (and at
least ``MIN_IDENTIFIER_VALUES``) names people or rows, not a group of customers: as a feature
it can only memorise who churned in training."""


def _joined(column: str) -> str:
    return "_".join(name_words(column))


def contact_columns(columns: Sequence[str]) -> dict[str, str]:
    """Contact field -> column for the columns named like one (``Email``, ``Surname``,
    ``FirstName``, ``hs_object_id``); the first in the file's order for each field."""
    out: dict[str, str] = {}
    for column in columns:
        name = _joined(column)
        field = next((f for f, names in CONTACT_NAMES.items() if name in names), None)
        if field is not None and field not in out:
            out[field] = column
    return out


FEW_VALUES = 12
"""A column named after a phone or an address with at most this many distinct values in the
sample says something about the customer's service (Telco's ``PhoneService``: Yes, No;
``NumberOfAddress``: 1 to 11), not who they are: a feature."""


def personal_columns(columns: Sequence[str], sample: pd.DataFrame | None = None) -> list[str]:
    """Columns named like personal data without a contact field: a full name, a phone, a
    postal address; with ``sample``, a phone or address word counts only for a column of
    more than :data:`FEW_VALUES` distinct values."""

    def personal(column: str) -> bool:
        if _joined(column) in _PERSONAL_NAMES:
            return True
        if not set(name_words(column)) & _PERSONAL_WORDS:
            return False
        return sample is None or filled_text(sample[column]).nunique() > FEW_VALUES

    return [c for c in columns if personal(c)]


def identifier_columns(sample: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """Text columns of ``sample`` whose values are nearly all different (a second id, a free
    text, a timestamp written oddly): see :data:`IDENTIFIER_SHARE`."""
    out = []
    for column in columns:
        filled = filled_text(sample[column])
        distinct = filled.nunique()
        if (
            distinct >= MIN_IDENTIFIER_VALUES
            and distinct > IDENTIFIER_SHARE * len(filled)
            and not is_numeric(filled)
        ):
            out.append(column)
    return out


def private_columns(
    sample: pd.DataFrame, columns: Sequence[str]
) -> tuple[dict[str, str], list[str]]:
    """Of ``columns``: the contact fields (field -> column) and the other columns to leave out
    of the features (personal data, identifiers), in the file's order."""
    contacts = contact_columns(columns)
    taken = set(contacts.values())
    rest = [c for c in columns if c not in taken]
    personal = set(personal_columns(rest, sample))
    identifiers = set(identifier_columns(sample, [c for c in rest if c not in personal]))
    return contacts, [c for c in rest if c in personal | identifiers]
