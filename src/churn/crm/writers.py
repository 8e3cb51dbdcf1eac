"""CRM import files from the scored list: Salesforce, HubSpot, Dynamics 365 or a generic CSV.

Each target has its import conventions (field names, key column, date format, encoding); the
columns that leave the system are exactly the configured ones, in the configured order. Text
that a spreadsheet would run as a formula is neutralised.

* Salesforce (Data Import Wizard / Data Loader upsert): custom field API names ending in
  ``__c``, the first column an External ID field to upsert on; dateTime as
  ``yyyy-MM-ddTHH:mm:ss.SSSZ`` (UTC), dates as ``yyyy-MM-dd``.
* HubSpot (contact import): internal property names in snake_case; rows are matched on the
  first column, which should be ``hs_object_id`` (Record ID) or ``email`` when your customer id
  is one of those, or a unique-value property; dates as ``YYYY-MM-DD``.
* Dynamics 365 (Data Import): UTF-8 with a byte-order mark, ISO 8601 dates.
* generic: UTF-8, ISO 8601, our own column names.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from churn.errors import ConfigError
from churn.settings import ExportColumn, ExportTarget

type Target = Literal["salesforce", "hubspot", "dynamics", "generic"]
TARGETS: tuple[Target, ...] = ("salesforce", "hubspot", "dynamics", "generic")

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""Leading characters that make Excel, LibreOffice or Google Sheets evaluate a cell (OWASP)."""


@dataclass(frozen=True)
class Convention:
    encoding: str
    datetime_format: str  # strftime, applied to UTC timestamps
    date_format: str


CONVENTIONS: Mapping[Target, Convention] = {
    "salesforce": Convention("utf-8", "%Y-%m-%dT%H:%M:%S.000Z", "%Y-%m-%d"),
    "hubspot": Convention("utf-8", "%Y-%m-%d", "%Y-%m-%d"),
    "dynamics": Convention("utf-8-sig", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d"),
    "generic": Convention("utf-8", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d"),
}

_COMMON = (
    "customer_id",
    "churn_probability",
    "risk_tier",
    "risk_percentile",
    "expected_value",
    "value_at_risk",
    "priority_rank",
    "outreach_status",
    "control_group",
    "reason_1_code",
    "reason_1_text",
    "reason_2_code",
    "reason_2_text",
    "reason_3_code",
    "reason_3_text",
    "recommended_action",
    "model_version",
    "cutoff",
    "scored_at",
)

_SALESFORCE_NAMES = {
    "customer_id": "Churn_Customer_ID__c",
    "churn_probability": "Churn_Probability__c",
    "risk_tier": "Churn_Risk_Tier__c",
    "risk_percentile": "Churn_Risk_Percentile__c",
    "expected_value": "Churn_Expected_Value__c",
    "value_at_risk": "Churn_Value_At_Risk__c",
    "priority_rank": "Churn_Priority_Rank__c",
    "outreach_status": "Churn_Outreach_Status__c",
    "control_group": "Churn_Control_Group__c",
    "recommended_action": "Churn_Recommended_Action__c",
    "model_version": "Churn_Model_Version__c",
    "cutoff": "Churn_Cutoff_Date__c",
    "scored_at": "Churn_Scored_At__c",
}


def _salesforce_name(column: str) -> str:
    if column in _SALESFORCE_NAMES:
        return _SALESFORCE_NAMES[column]
    words = column.split("_")  # reason_1_text -> Churn_Reason_1_Text__c
    return "Churn_" + "_".join(w.capitalize() for w in words) + "__c"


def default_target(target: Target, available: Collection[str] | None = None) -> ExportTarget:
    """The built-in column mapping of a target (overridable in params ``export.targets``).
    ``available``: the columns of the scores; reason columns they lack (``scoring.n_reasons``
    below 3, or fewer reasons in the catalogue) are left out. None keeps all three."""
    common = [
        c for c in _COMMON if available is None or not c.startswith("reason_") or c in available
    ]
    if target == "salesforce":
        names = {c: _salesforce_name(c) for c in common}
    elif target == "hubspot":
        names = {c: c if c.startswith("churn_") else f"churn_{c}" for c in common}
    else:
        names = {c: c for c in common}
    return ExportTarget(columns=[ExportColumn(source=c, name=n) for c, n in names.items()])


def target_settings(
    target: Target,
    configured: Mapping[Target, ExportTarget],
    available: Collection[str] | None = None,
) -> ExportTarget:
    """The configured columns of ``target``, else its built-in ones that ``available`` (the
    scores' columns) can fill."""
    return configured.get(target) or default_target(target, available)


PLAIN_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
"""A signed number (``-123``, ``-0.5``, ``+1e3``): a spreadsheet reads it as that number and
runs nothing, so it is written as it is."""

PLAIN_KEY = r"[+-][\d\s().-]*"
"""A key that is a signed number or a phone number (``+33 612``, ``-12 34``): digits, blanks,
dots, hyphens and brackets only, so a spreadsheet has no function or reference to run. Keys
like these are written as they are, so they still match the CRM record."""


def neutralise(text: pd.Series, *, key: bool = False) -> pd.Series:
    """Prefix a ``'`` to text cells a spreadsheet would run as a formula: starting with =, +,
    -, @, a tab or a carriage return, unless a plain number (:data:`PLAIN_NUMBER`). In the key
    column (``key``) signed numbers and phone numbers (:data:`PLAIN_KEY`) are left alone too,
    since a changed key no longer matches its record."""
    values = text.astype("string")
    harmless = values.str.fullmatch(PLAIN_NUMBER)
    if key:
        harmless |= values.str.fullmatch(PLAIN_KEY)
    risky = values.str.startswith(FORMULA_PREFIXES) & ~harmless
    return values.where(~risky.fillna(False).astype(bool), "'" + values)


def exported_rows(scores: pd.DataFrame, settings: ExportTarget) -> pd.DataFrame:
    """The rows a target's file holds: the contact list (the outreach slice less its control
    group, which must never receive a campaign), or everyone with ``only_outreach: false``."""
    if settings.only_outreach:
        return scores[scores["in_outreach"] & ~scores["control_group"].astype(bool)]
    return scores


def neutralised_keys(
    frame: pd.DataFrame, scores: pd.DataFrame, settings: ExportTarget
) -> list[str]:
    """The keys (first column) of ``frame``, made by :func:`crm_frame` from ``scores``, that
    had to be neutralised: they will not match their CRM record as written."""
    key = settings.columns[0]
    raw = exported_rows(scores, settings)[key.source].astype("string").reset_index(drop=True)
    written = frame[key.name].astype("string")
    changed = (written == "'" + raw).fillna(False).astype(bool)
    return raw[changed].tolist()


def crm_frame(scores: pd.DataFrame, target: Target, settings: ExportTarget) -> pd.DataFrame:
    """The rows and columns to export, formatted for ``target``. Pure: no file is touched.

    Raises ConfigError naming configured source columns the scores lack.
    """
    sources = [c.source for c in settings.columns]
    missing = [s for s in sources if s not in scores.columns]
    if missing:
        raise ConfigError(
            f"export.targets.{target}.columns: source column(s) {missing} are not in the scores. "
            f"Expected some of {list(scores.columns)}."
        )
    names = [c.name for c in settings.columns]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"export.targets.{target}.columns: field names repeat: {dupes}.")
    rows = exported_rows(scores, settings)
    convention = CONVENTIONS[target]
    out = pd.DataFrame(index=rows.index)
    for position, column in enumerate(settings.columns):
        values = rows[column.source]
        out[column.name] = _format(values, column.source, convention, key=position == 0)
    return out.reset_index(drop=True)


CONTROL_FILE = "control_group"
"""Name of the file (``data/exports/<p>/control_group.csv``) listing the held-out customers."""
CONTROL_COLUMNS = (
    "customer_id",
    "churn_probability",
    "risk_percentile",
    "risk_tier",
    "expected_value",
    "value_at_risk",
    "priority_rank",
    "reason_1_code",
    "model_version",
    "cutoff",
    "scored_at",
)


def control_frame(scores: pd.DataFrame) -> pd.DataFrame:
    """The control group of the outreach slice in the generic format: who was held out, to be
    kept out of every campaign and compared with the contacted customers later."""
    rows = scores[scores["in_outreach"] & scores["control_group"].astype(bool)]
    columns = [c for c in CONTROL_COLUMNS if c in scores.columns]
    convention = CONVENTIONS["generic"]
    out = pd.DataFrame({c: _format(rows[c], c, convention) for c in columns}, index=rows.index)
    return out.reset_index(drop=True)


def _format(
    values: pd.Series, source: str, convention: Convention, *, key: bool = False
) -> pd.Series:
    if source == "scored_at":  # an ISO 8601 UTC string in the scores
        stamps: pd.Series = pd.to_datetime(values, utc=True)
        text: pd.Series = stamps.dt.strftime(convention.datetime_format)
        return text
    if pd.api.types.is_datetime64_any_dtype(values):
        dates: pd.Series = values.dt.strftime(convention.date_format)
        return dates
    if pd.api.types.is_bool_dtype(values):
        return values.map({True: "true", False: "false"}).astype("string")
    if pd.api.types.is_float_dtype(values):
        rounded: pd.Series = values.round(4 if source == "churn_probability" else 2)
        return rounded
    if pd.api.types.is_numeric_dtype(values):
        return values
    return neutralise(values.astype(object).where(values.notna(), None), key=key)


def write_csv_text(frame: pd.DataFrame) -> str:
    """The CSV text: RFC 4180 quoting, no index, missing values as empty cells."""
    text: str = frame.to_csv(index=False, lineterminator="\r\n", float_format="%.10g")
    return text


def export_bytes(frame: pd.DataFrame, target: Target) -> bytes:
    return write_csv_text(frame).encode(CONVENTIONS[target].encoding)
