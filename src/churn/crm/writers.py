"""CRM import files from the scored list: Salesforce, HubSpot, Dynamics 365 or a generic CSV.

Each target has its import conventions (field names, key column, date format, encoding); the
columns that leave the system are exactly the configured ones, in the configured order. Text
that a spreadsheet would run as a formula is neutralised.

* Salesforce (Bulk API 2.0 / Data Loader upsert): custom field API names ending in ``__c``,
  the first column the field to upsert on (:mod:`churn.crm.keys`); LF line endings, the API's
  default ``lineEnding``; an empty churn field written as ``#N/A``, since the API ignores empty
  cells on update and ``#N/A`` is how it sets a field to null; dateTime as
  ``yyyy-MM-ddTHH:mm:ss.SSSZ`` (UTC), dates as ``yyyy-MM-dd``.
* HubSpot (contact import): internal property names in snake_case; rows are matched on the
  first column, ``hs_object_id`` (Record ID) or ``email`` when the contact fields have one;
  date properties as ``YYYY-MM-DD`` (a date, which HubSpot stores as midnight UTC).
* Dynamics 365 (Data Import): UTF-8 with a byte-order mark, ISO 8601 dates.
* generic: UTF-8, ISO 8601, our own column names.

Text is cut to its field's declared length (:mod:`churn.crm.fields`), rows without their key
(or another required field) are left out, and both are counted in :class:`CrmFile`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from churn.crm.fields import CONTACT_PREFIX, CONTROL_STATUS, field_spec
from churn.crm.keys import contact_columns, contact_key, required_fields, with_contacts
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
    line_end: str = "\r\n"
    clear: str = ""
    """What an empty churn field holds so that an update clears the CRM's old value."""


CONVENTIONS: Mapping[Target, Convention] = {
    "salesforce": Convention(
        "utf-8", "%Y-%m-%dT%H:%M:%S.000Z", "%Y-%m-%d", line_end="\n", clear="#N/A"
    ),
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


def default_target(
    target: Target, available: Collection[str] | None = None, contact_fields: Collection[str] = ()
) -> ExportTarget:
    """The built-in column mapping of a target (overridable in params ``export.targets``).
    ``available``: the columns of the scores; reason columns they lack (``scoring.n_reasons``
    below 3, or fewer reasons in the catalogue) are left out. None keeps all three.
    ``contact_fields``: the mapped contact fields; the target's key among them comes first
    (:func:`churn.crm.keys.contact_key`), its other contact columns last. None mapped: the
    customer id is the key."""
    common = [
        c for c in _COMMON if available is None or not c.startswith("reason_") or c in available
    ]
    if target == "salesforce":
        names = {c: _salesforce_name(c) for c in common}
    elif target == "hubspot":
        names = {c: c if c.startswith("churn_") else f"churn_{c}" for c in common}
    else:
        names = {c: c for c in common}
    columns = [ExportColumn(source=c, name=n) for c, n in names.items()]
    contacts = contact_columns(target, contact_fields)
    if contact_key(target, contact_fields) is not None:
        return ExportTarget(columns=[contacts[0], *columns, *contacts[1:]])
    return ExportTarget(columns=[*columns, *contacts])


def target_settings(
    target: Target,
    configured: Mapping[Target, ExportTarget],
    available: Collection[str] | None = None,
    contact_fields: Collection[str] = (),
) -> ExportTarget:
    """The configured columns of ``target``, else its built-in ones that ``available`` (the
    scores' columns) and the mapped ``contact_fields`` can fill."""
    return configured.get(target) or default_target(target, available, contact_fields)


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
    group, which must never receive a campaign), the whole slice with ``include_control``, or
    everyone with ``only_outreach: false``."""
    if settings.only_outreach:
        control = scores["control_group"].astype(bool)
        in_file = scores["in_outreach"] & (~control | settings.include_control)
        return scores[in_file]
    return scores


@dataclass(frozen=True)
class CrmFile:
    """One target's import file before it is encoded, and what building it changed."""

    frame: pd.DataFrame
    """The rows and columns to write, every cell formatted for the target."""
    left_out: dict[str, int] = field(default_factory=dict)
    """Field name -> rows left out because that required field (the key first) was empty."""
    truncated: dict[str, int] = field(default_factory=dict)
    """Field name -> cells cut to the field's declared length."""
    neutralised_keys: list[str] = field(default_factory=list)
    """Keys written with a leading ``'`` (they looked like a formula): they will not match."""


def _check_sources(
    scores: pd.DataFrame, contacts: pd.DataFrame | None, target: Target, settings: ExportTarget
) -> None:
    sources = [c.source for c in settings.columns]
    mapped = [] if contacts is None else [c for c in contacts.columns if c != "customer_id"]
    wanted = [s.removeprefix(CONTACT_PREFIX) for s in sources if s.startswith(CONTACT_PREFIX)]
    unmapped = [f for f in wanted if f not in mapped]
    if unmapped:
        raise ConfigError(
            f"export.targets.{target}.columns: contact field(s) {unmapped} are not mapped. "
            f"Expected them in data.customers.sources[].contact_fields (mapped: {mapped})."
        )
    missing = [s for s in sources if not s.startswith(CONTACT_PREFIX) and s not in scores.columns]
    if missing:
        raise ConfigError(
            f"export.targets.{target}.columns: source column(s) {missing} are not in the scores. "
            f"Expected some of {list(scores.columns)}."
        )
    names = [c.name for c in settings.columns]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"export.targets.{target}.columns: field names repeat: {dupes}.")
    unknown = [n for n in required_fields(target, settings) if n not in names]
    if unknown:
        raise ConfigError(
            f"export.targets.{target}.required: {unknown} are not field names of the file. "
            f"Expected some of {names}."
        )


def crm_file(
    scores: pd.DataFrame,
    target: Target,
    settings: ExportTarget,
    *,
    contacts: pd.DataFrame | None = None,
) -> CrmFile:
    """The rows and columns to export, formatted for ``target``. Pure: no file is touched.
    ``contacts``: ``customer_id`` and the mapped contact fields (``contact_fields.parquet``),
    which columns sourced ``contact.<field>`` take.

    Raises ConfigError naming configured source columns the scores (or the contact fields)
    lack, repeated field names, or required fields the file does not have.
    """
    _check_sources(scores, contacts, target, settings)
    rows = with_contacts(exported_rows(scores, settings), contacts)
    control = rows["control_group"].astype(bool) & settings.include_control & settings.only_outreach
    convention = CONVENTIONS[target]
    out = pd.DataFrame(index=rows.index)
    truncated: dict[str, int] = {}
    neutralised: list[str] = []
    for position, column in enumerate(settings.columns):
        values = rows[column.source]
        if column.source == "recommended_action":
            values = values.astype(object).where(~control, None)
        elif column.source == "planned_action":  # a control row's would-be action: never sent
            values = values.astype(object).where(~rows["control_group"].astype(bool), None)
        elif column.source == "outreach_status":
            values = values.astype(object).where(~control, CONTROL_STATUS)
        cells = _format(values, column.source, convention, key=position == 0)
        if position == 0:
            raw = values.astype("string")
            changed = (cells.astype("string") == "'" + raw).fillna(False).astype(bool)
            neutralised = raw[changed].tolist()
        else:
            cells, cut = _cut_to_length(cells, field_spec(column, actions=()).length)
            if cut:
                truncated[column.name] = cut
        out[column.name] = cells
    kept = pd.Series(True, index=out.index)
    left_out: dict[str, int] = {}
    for name in required_fields(target, settings):
        empty = out[name].isna() | (out[name].astype("string") == "").fillna(True).astype(bool)
        if (empty & kept).any():
            left_out[name] = int((empty & kept).sum())
        kept &= ~empty
    out = out[kept]
    if convention.clear:
        for column in settings.columns[1:]:
            if not column.source.startswith(CONTACT_PREFIX):
                out[column.name] = _cleared(out[column.name], convention.clear)
    return CrmFile(out.reset_index(drop=True), left_out, truncated, neutralised)


def crm_frame(
    scores: pd.DataFrame,
    target: Target,
    settings: ExportTarget,
    *,
    contacts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The frame of :func:`crm_file`: the rows and columns to export, formatted for
    ``target``."""
    return crm_file(scores, target, settings, contacts=contacts).frame


def _cut_to_length(cells: pd.Series, length: int | None) -> tuple[pd.Series, int]:
    """Text ``cells`` cut to ``length`` characters, and how many were cut."""
    if length is None or not (
        pd.api.types.is_string_dtype(cells) or pd.api.types.is_object_dtype(cells)
    ):
        return cells, 0
    text = cells.astype("string")
    long = (text.str.len() > length).fillna(False).astype(bool)
    if not long.any():
        return cells, 0
    return text.where(~long, text.str.slice(0, length)), int(long.sum())


def _cleared(cells: pd.Series, marker: str) -> pd.Series:
    """``cells`` with every empty one holding ``marker``."""
    empty = cells.isna() | (cells.astype("string") == "").fillna(True).astype(bool)
    if not empty.any():
        return cells
    if pd.api.types.is_float_dtype(cells):  # written as the CSV writes floats, not 80.0
        cells = cells.map(lambda v: f"{v:.10g}", na_action="ignore")
    return cells.astype(object).where(~empty, marker)


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


def write_csv_text(frame: pd.DataFrame, line_end: str = "\r\n") -> str:
    """The CSV text: RFC 4180 quoting, no index, missing values as empty cells, rows ended
    by ``line_end`` (``\r\n`` or ``\n``; with ``\n``, a CRLF inside a quoted cell becomes
    ``\n`` too)."""
    # written with CRLF so that any cell holding a CR or an LF is quoted (the csv module quotes
    # only the characters of its own line terminator), then turned to LF when asked
    text: str = frame.to_csv(index=False, lineterminator="\r\n", float_format="%.10g")
    return text if line_end == "\r\n" else text.replace("\r\n", line_end)


def export_bytes(frame: pd.DataFrame, target: Target) -> bytes:
    """``frame`` as ``target``'s file: its line ends and encoding (Dynamics: with a BOM)."""
    convention = CONVENTIONS[target]
    return write_csv_text(frame, convention.line_end).encode(convention.encoding)
