"""Typed, frozen settings for every stage, loaded from ``pipelines/<name>/params.yaml``.

This module is the only reader of params files. Each stage gets its own section
(``data``, ``labels``, ``features``) as a frozen pydantic model; unknown keys and values of the
wrong type or range are rejected with the file and the dotted key named.
"""

from __future__ import annotations

import codecs
import datetime as dt
import difflib
import re
import zoneinfo
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

from churn.errors import ConfigError
from churn.io.paths import check_pipeline_name
from churn.io.yaml_files import read_yaml

EVENT_COLUMNS = (
    "customer_id",
    "timestamp",
    "amount",
    "quantity",
    "unit_price",
    "event_type",
    "order_id",
    "product_id",
    "covered_until",
)
"""Columns of the events contract a source may map. ``customer_id`` and ``timestamp`` are
required; ``amount`` may instead be derived as ``quantity * unit_price``; ``covered_until`` is
the date a row's payment covers the customer through (a membership's expiry, an invoice's
period end)."""


class Frozen(BaseModel):
    """Base of every settings model: immutable, and unknown keys are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def known_time_zone(name: str) -> str:
    """``name`` if it is an IANA time zone (``UTC`` in any case too), else ValueError naming
    the closest known zones."""
    if name.upper() == "UTC":
        return name
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zones = {zone.lower(): zone for zone in zoneinfo.available_timezones()}
        close = [zones[name.lower()]] if name.lower() in zones else []
        close = close or difflib.get_close_matches(name, sorted(zones.values()), n=3)
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        raise ValueError(f"expected an IANA time zone such as UTC or Europe/London{hint}") from None
    return name


def known_text_encoding(name: str) -> str:
    """``name`` if Python knows it as a text encoding (utf-8, latin-1, cp1252, ...), else
    ValueError. Codecs such as base64 or rot13, which are not text encodings, are refused."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise ValueError("expected a text encoding such as utf-8, latin-1 or cp1252")
    return name


MEMORY_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB|%)", re.IGNORECASE)
"""A DuckDB memory limit: a positive number and a unit, e.g. 4GB, 512 MiB or 80%."""


def memory_size(text: str) -> str:
    """``text`` if it matches ``MEMORY_SIZE`` with a number above 0, else ValueError. It reaches
    DuckDB's ``SET memory_limit``, so nothing else may get through."""
    match = MEMORY_SIZE.fullmatch(text)
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(
            "expected a size above 0 with a unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB) or a "
            "percentage of the memory, e.g. 4GB, 512MiB or 80%"
        )
    return text


TimeZone = Annotated[str, AfterValidator(known_time_zone)]
TextEncoding = Annotated[str, AfterValidator(known_text_encoding)]
MemorySize = Annotated[str, AfterValidator(memory_size)]


type UnixUnit = Literal["s", "ms", "us", "ns"]
UNIX_FORMATS: dict[str, UnixUnit] = {
    "unix_s": "s",
    "unix_ms": "ms",
    "unix_us": "us",
    "unix_ns": "ns",
}
"""``timestamp_format`` values for numbers of seconds (milliseconds, microseconds,
nanoseconds) since 1970-01-01 UTC, and the unit each counts."""

DAY_NUMBERS = "days_since_"
"""``timestamp_format: days_since_YYYY-MM-DD``: whole numbers of days after that date, for
extracts that number their days instead of dating them (Dunnhumby's ``DAY``: 1, 2, ... 711);
day N is the date plus N days, at midnight in ``data.timezone``."""


def day_number_origin(fmt: str | None) -> dt.date | None:
    """The date of ``days_since_YYYY-MM-DD`` (:data:`DAY_NUMBERS`); None for other formats.
    Raises ValueError when the date after the prefix is not a date."""
    if fmt is None or not fmt.startswith(DAY_NUMBERS):
        return None
    written = fmt.removeprefix(DAY_NUMBERS)
    try:
        return dt.date.fromisoformat(written)
    except ValueError:
        raise ValueError(
            f"{fmt!r}: expected {DAY_NUMBERS}YYYY-MM-DD, the day before day 1 (e.g. "
            f"{DAY_NUMBERS}2019-12-31); found {written!r} after {DAY_NUMBERS}"
        ) from None


WEEKDAY_DIRECTIVES = ("%u", "%w", "%a", "%A")
"""strftime directives of a day of the week."""


def week_start_format(fmt: str) -> str | None:
    """For a strftime format of weeks without a day (``%G-W%V`` for ISO weeks such as
    ``2024-W05``, ``%Y-%W``), the format that reads such a week as its Monday once `` 1`` is
    appended to each value (Python and pandas read no week without a day); None for others."""
    if any(d in fmt for d in WEEKDAY_DIRECTIVES):
        return None
    if "%V" in fmt:
        return f"{fmt} %u"
    if "%W" in fmt or "%U" in fmt:
        return f"{fmt} %w"
    return None


def check_strftime(fmt: str) -> None:
    """Raises ValueError saying why when ``fmt`` cannot read back the dates it writes (a
    directive Python does not know, %G without %V): a format checked here never fails the
    parser itself."""
    week = week_start_format(fmt)
    moment = dt.datetime(2024, 1, 29, 13, 45, 30, tzinfo=dt.UTC)
    try:
        if week is None:
            dt.datetime.strptime(moment.strftime(fmt), fmt)
        else:
            dt.datetime.strptime(moment.strftime(fmt) + " 1", week)
    except ValueError as exc:
        raise ValueError(
            f"{fmt!r} is no strftime format that reads dates ({exc}); expected e.g. "
            "'%d/%m/%Y %H:%M', or '%G-W%V' for ISO weeks such as 2024-W05"
        ) from None


class SourceSettings(Frozen):
    """One raw file and how its columns map onto the contract."""

    path: str = Field(
        description="the file, relative to the project folder; or a glob pattern (`*`, `?`, "
        "`[...]`, `**` across folders, e.g. data/raw/shop/orders_*.csv): every matching file, "
        "in sorted order, is a source of its own with this mapping (a pattern matching no "
        "file is an error; data.snapshot.source names one file)"
    )
    format: Literal["auto", "csv", "parquet", "json", "excel"] = Field(
        "auto",
        description="file format; auto: parquet for .parquet or .pq files, json for .json, "
        ".jsonl or .ndjson (gzipped or not), excel for .xlsx or .xlsm, else CSV. json: one "
        "object per line, or an array of objects; nested objects become columns named by "
        "their path (page.name)",
    )
    sheet: str | None = Field(
        None,
        description="excel: the sheet to read, by name, or '*' for every sheet stacked (they "
        "must share the first one's header); default: the first sheet",
    )
    decimal: Literal[".", ","] = Field(
        ".",
        description="decimal mark of the numbers written in this file (amount, quantity, "
        "unit_price, cost, a snapshot's numeric attributes): '.' (1,234.50) or ',' (1.234,50); "
        "thousands grouped by the other mark, a space or an apostrophe, and a currency sign "
        "or code around the number, are read either way",
    )
    separator: str = Field(
        ",", description="CSV field separator: a character, or 'whitespace' for runs of blanks"
    )
    encoding: TextEncoding = Field("utf-8", description="text encoding of a CSV file, e.g. latin-1")
    header: bool = Field(True, description="whether the first row of a CSV file names the columns")
    skip_rows: NonNegativeInt = Field(
        0,
        description="lines of a CSV file, or rows of a sheet, above its header (a report's "
        "title, a date, comment lines), skipped",
    )
    column_names: list[str] | None = Field(
        None, description="names of the file's columns when it has no header row"
    )
    missing_ids: list[str] = Field(
        default_factory=list,
        description="values of the customer_id column that stand for no customer (a guest "
        "checkout's 0, 'guest', '-1'), read as a missing id: rows with one are dropped with "
        "data.events.drop_missing_customer_id, else stop ingest",
    )
    columns: dict[str, str] = Field(
        description="contract column -> column in this file, e.g. {customer_id: cust_no}; "
        "events: customer_id and timestamp, optionally amount (or quantity and unit_price), "
        "event_type, order_id, product_id, covered_until (the date a payment covers the "
        "customer through: a membership's expiry, an invoice's period end); customers: "
        "customer_id, optionally signup_date and person_id (the person behind an id that is "
        "new on every order: every table is then keyed by the person); "
        "churn events: customer_id, timestamp; snapshot: label, optionally customer_id (rows "
        "are numbered without it)"
    )
    attributes: dict[str, str] = Field(
        default_factory=dict,
        description="attribute name -> column in this file; each attribute becomes a feature "
        "(a snapshot without it takes every column other than the id and the label)",
    )
    measures: dict[str, str] = Field(
        default_factory=dict,
        description="events: measure name -> column of numbers in this file that say how much "
        "each event holds (logins, minutes played, API calls, GB stored); each is summed "
        "over every feature window and compared between the two trend windows; a row "
        "without one counts 0",
    )
    timestamp_format: str | None = Field(
        None,
        description="strftime format of the timestamp (and signup_date) column, e.g. "
        "'%d/%m/%Y %H:%M'; unix_s, unix_ms, unix_us or unix_ns for numbers of seconds "
        "(milliseconds, ...) since 1970-01-01 UTC, read as instants whatever the timezone; "
        "days_since_YYYY-MM-DD for whole numbers of days after that date (day numbers); "
        "null parses ISO 8601",
    )
    covered_until_format: str | None = Field(
        None,
        description="events: format of the covered_until column, written as timestamp_format "
        "is; null: the timestamp's own (timestamp_format), for a file that writes both alike",
    )

    @field_validator("timestamp_format", "covered_until_format")
    @classmethod
    def _known_unix_unit(cls, value: str | None) -> str | None:
        if value is not None and value.startswith("unix") and value not in UNIX_FORMATS:
            raise ValueError(
                f"{value!r} is no unix time format; expected one of {sorted(UNIX_FORMATS)} "
                "(seconds, milliseconds, microseconds or nanoseconds since 1970-01-01 UTC)"
            )
        if value is not None and value not in UNIX_FORMATS and day_number_origin(value) is None:
            check_strftime(value)  # a days_since_ format must name a date, as above
        return value

    @model_validator(mode="after")
    def _headerless_files_need_names(self) -> SourceSettings:
        if not self.header and not self.column_names:
            raise ValueError("a source with header: false needs column_names")
        return self


def _source_column_problems(sources: Sequence[SourceSettings], allowed: Sequence[str]) -> list[str]:
    """Each source's mapped contract columns outside ``allowed``, and customer_id or timestamp
    left unmapped, as messages naming the source."""
    problems = []
    for i, src in enumerate(sources):
        unknown = sorted(set(src.columns) - set(allowed))
        if unknown:
            problems.append(
                f"sources[{i}].columns: unknown contract column(s) {unknown}; "
                f"expected some of {list(allowed)}"
            )
        missing = [c for c in ("customer_id", "timestamp") if c not in src.columns]
        if missing:
            problems.append(f"sources[{i}].columns must map {missing}")
    return problems


class EventTypeRule(Frozen):
    """Derive an event type from another column, e.g. invoices starting with 'C' are returns."""

    column: Literal["order_id", "product_id"] = Field(
        description="contract column whose value the rule looks at"
    )
    startswith: str = Field(min_length=1, description="prefix that makes the rule apply, e.g. C")
    event_type: str = Field(min_length=1, description="event type given to matching rows")


class EventsSettings(Frozen):
    """The events table: one row per purchase, visit, return or other customer event."""

    sources: list[SourceSettings] = Field(
        min_length=1,
        description="one or more files of events; each maps at least customer_id and timestamp",
    )
    timezone: TimeZone = Field(
        "UTC", description="IANA zone of timestamps written without an offset, e.g. Europe/London"
    )
    default_event_type: str = Field(
        "purchase", description="event type of rows whose event_type is not mapped or is empty"
    )
    event_type_rules: list[EventTypeRule] = Field(
        default_factory=list,
        description="rules that set the event type from order_id or product_id, e.g. returns",
    )
    drop_missing_customer_id: bool = Field(
        False, description="drop rows without a customer id (guest checkouts) instead of failing"
    )
    drop_missing_timestamp: bool = Field(
        False,
        description="drop rows without a timestamp (a totals line, a draft order) instead of "
        "failing",
    )
    overlap_key: Literal["order_id"] | None = Field(
        None,
        description="sources may overlap: an order already seen in an earlier source is "
        "dropped from later ones, so it counts once",
    )
    drop_duplicate_events: bool = Field(
        False,
        description="drop exact duplicate events; by default they are kept (an order may repeat "
        "a line) and counted in the log",
    )
    zero_amount_event_type: str | None = Field(
        None,
        description="event type given to rows of the default event type whose amount is 0 (a "
        "monthly statement of a month without spend): no activity unless "
        "labels.activity_event_types lists it; null: such rows are like any other",
    )
    churn_event_types: list[str] = Field(
        default_factory=list,
        description="event types that are a cancellation (e.g. [Cancellation Confirmation]): "
        "ingest writes them to the churn events table, with data.churn_events if any, for "
        "labels.churn_definition explicit or either",
    )
    numeric_attributes: list[str] = Field(
        default_factory=list,
        description="attributes of the sources held as numbers (a plan's length in days, an "
        "auto-renew flag, seats): ingest reads them as numbers and their latest value before "
        "each cutoff is a numeric feature; every other event attribute is text, its latest "
        "value a category",
    )

    @model_validator(mode="after")
    def _sources_map_required_columns(self) -> EventsSettings:
        problems = _source_column_problems(self.sources, EVENT_COLUMNS)
        attributes = {a for src in self.sources for a in src.attributes}
        if unknown := sorted(set(self.numeric_attributes) - attributes):
            problems.append(
                f"numeric_attributes: {unknown} name no attribute of the sources; expected "
                f"some of {sorted(attributes)}"
            )
        for i, src in enumerate(self.sources):
            canonical = {*CANONICAL_EVENT_COLUMNS, "covered_until"}
            clash = sorted(set(src.measures) & (attributes | canonical))
            if clash:
                problems.append(
                    f"sources[{i}].measures: {clash} also name an attribute or a canonical "
                    f"column ({', '.join(CANONICAL_EVENT_COLUMNS)}); give the measures other "
                    "names"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def covered(self) -> bool:
        """Whether some source maps ``covered_until``: the canonical events then hold it, and
        labels and features read how long each payment covers the customer."""
        return any("covered_until" in src.columns for src in self.sources)

    @property
    def measure_names(self) -> list[str]:
        """The measures of every source, sorted: columns of the canonical events after the
        attributes."""
        return sorted({m for src in self.sources for m in src.measures})


CONTACT_FIELDS = ("email", "first_name", "last_name", "company", "crm_id", "external_id")
"""Contact fields a customers source may map (``contact_fields``): how a CRM finds the person.
``crm_id`` is the CRM's own record id (Salesforce Id, HubSpot Record ID, Dynamics contactid),
``external_id`` the value of a key field the CRM already holds (a Salesforce External ID, a
Dynamics alternate key). They are never attributes: they reach the CRM files only."""

ContactField = Literal["email", "first_name", "last_name", "company", "crm_id", "external_id"]


CANONICAL_EVENT_COLUMNS = (
    "customer_id",
    "ts",
    "event_type",
    "amount",
    "quantity",
    "order_id",
    "product_id",
)
"""The columns of the canonical events before the attributes and measures
(``churn.data.contract.EVENT_FRAME_COLUMNS``)."""


class CustomerSourceSettings(SourceSettings):
    """A customers file: the columns and attributes of any source, plus contact fields."""

    contact_fields: dict[ContactField, str] = Field(
        default_factory=dict,
        description="contact field -> column in this file, e.g. {email: email_address, "
        "last_name: surname}; fields: email, first_name, last_name, company, crm_id (the CRM's "
        "record id), external_id (a key the CRM holds); they go to canonical/contact_fields"
        ".parquet and the CRM files only, never to features, reports or MLflow",
    )

    @model_validator(mode="after")
    def _contact_fields_are_not_attributes(self) -> CustomerSourceSettings:
        reused = sorted(
            f"{field} ({column})"
            for field, column in self.contact_fields.items()
            if column in self.attributes.values()
        )
        if reused:
            raise ValueError(
                f"contact_fields {reused} are also mapped as attributes, which would make "
                "them model features; map each contact column under contact_fields only"
            )
        return self


class CustomersSettings(Frozen):
    """Optional static attributes per customer (one row each), e.g. signup date, plan."""

    sources: list[CustomerSourceSettings] = Field(
        min_length=1,
        description="files with one row per customer: customer_id, optionally signup_date "
        "(read with the source's timestamp_format), and attributes",
    )

    @field_validator("sources", mode="before")
    @classmethod
    def _plain_sources_have_no_contact_fields(cls, sources: Any) -> Any:
        """A plain :class:`SourceSettings` (built in code) is a customers source without
        contact fields."""
        if not isinstance(sources, list):
            return sources
        return [
            s.model_dump() if type(s) is SourceSettings else s  # exactly the base class
            for s in sources
        ]


class ChurnEventsSettings(Frozen):
    """Optional explicit churn events (cancellations): customer_id and timestamp."""

    sources: list[SourceSettings] = Field(
        min_length=1, description="files of churn events; each maps customer_id and timestamp"
    )
    timezone: TimeZone = Field(
        "UTC", description="IANA zone of timestamps written without an offset"
    )


CONTACT_COLUMNS = ("customer_id", "timestamp", "action", "control", "channel", "cost")
"""Contract columns of a contacts source: customer_id and timestamp required, the rest optional."""


class ContactsSettings(Frozen):
    """Optional past retention contacts (kind events): who was contacted, when, with which
    action, and who was held out as a control. ``churn`` measures what each action did from
    them (contacted against control, once each contact's label window has passed)."""

    sources: list[SourceSettings] = Field(
        min_length=1,
        description="files of contacts, one row per customer contacted or held out; each maps "
        "customer_id and timestamp (when the contact was made), optionally action, control "
        "(the column saying whether the row was held out), channel and cost",
    )
    timezone: TimeZone = Field(
        "UTC", description="IANA zone of timestamps written without an offset"
    )
    control_values: list[str] = Field(
        default_factory=lambda: [
            "control",
            "holdout",
            "hold-out",
            "held out",
            "true",
            "yes",
            "y",
            "t",
            "1",
        ],
        min_length=1,
        description="values of the control column that mean the customer was held out, "
        "compared trimmed and case-folded",
    )
    contacted_values: list[str] = Field(
        default_factory=lambda: [
            "contacted",
            "contact",
            "treatment",
            "treated",
            "target",
            "false",
            "no",
            "n",
            "f",
            "0",
        ],
        min_length=1,
        description="values of the control column that mean the customer was contacted; any "
        "other value is refused, naming the file and column",
    )

    @model_validator(mode="after")
    def _sources_map_contact_columns(self) -> ContactsSettings:
        problems = _source_column_problems(self.sources, CONTACT_COLUMNS)
        both = {v.strip().casefold() for v in self.control_values} & {
            v.strip().casefold() for v in self.contacted_values
        }
        if both:
            problems.append(
                f"control_values and contacted_values share {sorted(both)}; a value must mean one"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self


class SnapshotSettings(Frozen):
    """A table with one row per customer and a label column (contractual snapshot)."""

    source: SourceSettings = Field(
        description="the snapshot file; its columns map customer_id and label"
    )
    positive_label: str = Field(
        "Yes",
        description="value of the label column that means the customer churned, compared "
        "after trimming and case-folding (' Yes', 'YES' and 'yes' all match 'Yes'; '1.0' "
        "matches '1')",
    )
    churned_when: Literal["equals", "filled"] = Field(
        "equals",
        description="equals: a customer churned when the label is positive_label; filled: "
        "when the label column holds any value (a cancellation date), and stayed when it is "
        "blank",
    )
    numeric_attributes: list[str] = Field(
        default_factory=list,
        description="attributes read as numbers; every other mapped attribute is a category "
        "(attributes inferred from the file are numeric when their values read as numbers)",
    )
    exclude: list[str] = Field(
        default_factory=list,
        description="columns of the file that are not attributes when source.attributes is "
        "left out (by default every column other than the id and the label is one)",
    )
    date_attributes: list[str] = Field(
        default_factory=list,
        description="attributes holding dates (a last login, a signup), read with "
        "source.timestamp_format (ISO 8601 without it): each becomes the number of days from "
        "it to the snapshot date",
    )
    tenure_attribute: str | None = Field(
        None,
        description="the numeric attribute holding how long each customer has been one; it "
        "gives the tenure baseline and the tenure segments (both skipped when unset)",
    )
    tenure_unit: Literal["days", "months", "years"] = Field(
        "months", description="unit of tenure_attribute"
    )
    blank_as_missing: bool = Field(
        True, description="treat blank or all-space text cells of attributes as missing values"
    )


class DataSettings(Frozen):
    """Which raw files the pipeline reads and how they map onto the input contract."""

    kind: Literal["events", "snapshot"] = Field(
        description="events: a history of customer events; snapshot: one row per customer "
        "with a churn label column"
    )
    events: EventsSettings | None = Field(None, description="the events table (kind events)")
    customers: CustomersSettings | None = Field(
        None,
        description="optional table of static customer attributes, joined by customer_id (a "
        "snapshot gets its attributes as more columns; customers it lacks have them missing)",
    )
    churn_events: ChurnEventsSettings | None = Field(
        None,
        description="optional explicit churn events (kind events); needed by churn_definition "
        "explicit or either",
    )
    snapshot: SnapshotSettings | None = Field(
        None, description="the snapshot table (kind snapshot)"
    )
    contacts: ContactsSettings | None = Field(
        None,
        description="optional past retention contacts (kind events): customer, date, action "
        "and control flag, from churn's lists or campaigns run outside it; their measured "
        "effects update the playbook's priors",
    )

    @model_validator(mode="after")
    def _kind_has_its_tables(self) -> DataSettings:
        if self.kind == "events" and self.events is None:
            raise ValueError("kind 'events' needs an 'events' table")
        if self.kind == "snapshot" and self.snapshot is None:
            raise ValueError("kind 'snapshot' needs a 'snapshot' table")
        if self.kind == "snapshot" and self.contacts is not None:
            raise ValueError(
                "data.contacts needs kind 'events': a snapshot has no dates to measure a "
                "contact's outcome from"
            )
        return self

    @property
    def active_day_word(self) -> str:
        """What one active day is, for reason sentences: "purchase" when some events source
        maps an amount (or a unit price), "activity" for a usage log without amounts, where
        "No purchase for 57 days" would mislead."""
        sources = self.events.sources if self.events is not None else []
        priced = any({"amount", "unit_price"} & set(src.columns) for src in sources)
        return "purchase" if priced else "activity"

    @property
    def context_attributes(self) -> tuple[str, ...]:
        """Attributes the params say are context whatever their name: a snapshot's tenure
        attribute (``months_active``), which no reason may offer as something to act on."""
        tenure = self.snapshot.tenure_attribute if self.snapshot is not None else None
        return () if tenure is None else (tenure,)


class CutoffSchedule(Frozen):
    """Cutoff dates: either ``start``/``end``/``every_months`` or an explicit ``dates`` list."""

    start: dt.date | None = Field(None, description="first cutoff (YYYY-MM-DD)")
    end: dt.date | None = Field(
        None, description="last cutoff at most this date; the last one is the validation cutoff"
    )
    every_months: PositiveInt = Field(1, description="months between cutoffs from start")
    dates: list[dt.date] | None = Field(
        None, description="explicit cutoff dates instead of start/end/every_months"
    )

    @model_validator(mode="after")
    def _one_form(self) -> CutoffSchedule:
        if self.dates is not None:
            if self.start is not None or self.end is not None:
                raise ValueError("give either dates or start/end, not both")
            if not self.dates:
                raise ValueError("dates must not be empty")
        elif self.start is None or self.end is None:
            raise ValueError("give start and end (and every_months), or dates")
        elif self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class EventLabelSettings(Frozen):
    """Point-in-time labels of an events pipeline: at each cutoff, who was eligible and who
    churned within the horizon after it."""

    kind: Literal["events"] = Field("events", description="set from data.kind; no need to write it")
    churn_definition: Literal["inactivity", "explicit", "either"] = Field(
        "inactivity",
        description="churned means: no qualifying activity in the horizon (inactivity), a churn "
        "event in it (explicit), or either",
    )
    activity_event_types: list[str] = Field(
        min_length=1, description="event types that count as activity, e.g. [purchase]"
    )
    horizon_days: PositiveInt = Field(
        description="days after a cutoff in which churn is looked for (the label window)"
    )
    max_inactive_days: PositiveInt | None = Field(
        None,
        description="eligible only if active within this many days before the cutoff; "
        "null: everyone with earlier activity",
    )
    train_cutoffs: CutoffSchedule = Field(
        description="cutoffs of the training rows; the last is the validation cutoff"
    )
    test_cutoff: dt.date = Field(
        description="cutoff of the held-out test rows; must come after the training cutoffs"
    )
    score_cutoff: dt.date | None = Field(
        None, description="cutoff to score today's customers at; default: the day after the data"
    )
    last_day_of_data: dt.date | None = Field(
        None,
        description="last day the data fully covers (an extract's end date); default: the day "
        "of the last event",
    )

    @model_validator(mode="after")
    def _test_after_training(self) -> EventLabelSettings:
        if self.train_cutoffs.dates is None:
            assert self.train_cutoffs.end is not None
            last = self.train_cutoffs.end
        else:
            last = max(self.train_cutoffs.dates)
        if last >= self.test_cutoff:
            raise ValueError(f"test_cutoff {self.test_cutoff} must come after the training cutoffs")
        return self


class SnapshotLabelSettings(Frozen):
    """Labels of a snapshot pipeline: stratified test and validation splits and CV folds."""

    kind: Literal["snapshot"] = Field(
        "snapshot", description="set from data.kind; no need to write it"
    )
    snapshot_date: dt.date = Field(description="the date the snapshot describes; its rows' cutoff")
    test_fraction: float = Field(
        0.2, gt=0, lt=1, description="share of rows held out as the test set (stratified)"
    )
    valid_fraction: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="share of the non-test rows used for early stopping and calibration",
    )
    n_folds: int = Field(5, ge=2, description="cross-validation folds over the non-test rows")
    seed: int = Field(42, description="random seed of the splits and folds")
    split: Literal["stratified", "hash"] = Field(
        "stratified",
        description="stratified: scikit-learn's stratified splits and folds (churners exactly in "
        "proportion), computed in this process; hash: each customer's split and fold from the md5 "
        "of the seed and its id (churners about in proportion), the same in every engine and "
        "computed by Spark's executors with features.engine spark: for snapshots too large for "
        "one process",
    )


class SparkSettings(Frozen):
    """The Spark session of every stage set to run on Spark (churn[spark]):
    ``features.engine``, ``train.engine`` and ``scoring.engine``."""

    master: str | None = Field(
        None,
        description="Spark master URL, e.g. spark://host:7077 or yarn; default: $SPARK_MASTER, "
        "else the master spark-submit was given, else local[2] (bound to localhost)",
    )
    shuffle_partitions: PositiveInt = Field(
        4,
        description="spark.sql.shuffle.partitions: a few for one machine, ~2-3 per core on a "
        "cluster",
    )
    driver_memory: str = Field("2g", description="spark.driver.memory of a session churn starts")
    conf: dict[str, str] = Field(
        default_factory=dict, description="any other Spark properties, e.g. spark.executor.memory"
    )


class FeatureSettings(Frozen):
    """Which features are built for every customer and cutoff, and where the SQL runs."""

    windows_days: list[PositiveInt] = Field(
        default_factory=lambda: [30, 90, 180, 365],
        description="lengths in days of the windows before the cutoff that frequency and "
        "spend are counted over",
    )
    trend_window_days: PositiveInt = Field(
        90,
        description="trend features compare the last this-many days with the same length before",
    )
    event_types: list[str] = Field(
        default_factory=list,
        description="event types whose count and share in the longest window become features",
    )
    return_event_types: list[str] = Field(
        default_factory=list,
        description="event types that are returns or cancellations: return features, and "
        "customer value net of returns",
    )
    categorical_attributes: list[str] = Field(
        default_factory=list,
        description="customer attributes (data.customers) treated as categories even if their "
        "values read as numbers; others are numbers when every value reads as one, categories "
        "when few do",
    )
    calendar: bool = Field(False, description="add the cutoff's month (seasonal businesses)")
    bgnbd: bool = Field(False, description="add BG/NBD p(alive) and expected purchases")
    engine: Literal["duckdb", "spark"] = Field(
        "duckdb", description="where the label and feature SQL runs: embedded DuckDB or Spark"
    )
    spark: SparkSettings = Field(
        default_factory=SparkSettings,
        description="the Spark session of every stage set to run on Spark",
    )
    duckdb_memory_limit: MemorySize = Field(
        "4GB",
        description="DuckDB memory limit of every stage (ingest too), a size with a unit or a "
        "percentage of the memory, e.g. 4GB, 512MiB or 80%; beyond it DuckDB spills to disk",
    )
    duckdb_threads: PositiveInt | None = Field(
        None, description="DuckDB threads; null: DuckDB's default (all cores)"
    )


class SearchSettings(Frozen):
    """Hyperparameters chosen per dataset with optuna, scored on folds before the test cutoff
    (:mod:`churn.modeling.search`). Only the shape parameters the params file leaves unset are
    searched: a recipe written in ``train`` wins wherever it is given."""

    enabled: bool = Field(
        True,
        description="search the unset shape parameters (learning_rate, max_depth, "
        "min_child_weight, subsample, colsample_bytree, reg_lambda) before training",
    )
    n_trials: PositiveInt = Field(
        20, description="parameter sets to try, the configured recipe first"
    )
    timeout_seconds: PositiveInt | None = Field(
        180, description="stop the search after this many seconds; null: after n_trials"
    )
    folds: PositiveInt = Field(
        2,
        description="folds scored per trial: events, the rolling-origin folds just older than "
        "the backtest's (so the backtest stays out of sample when the cutoffs allow); "
        "snapshots, the first cross-validation folds",
    )


class LeakageSettings(Frozen):
    """The guard ``churn train`` runs on the training rows before fitting
    (:mod:`churn.modeling.leakage`): features that give the label away stop training."""

    max_single_feature_auc: float = Field(
        0.98,
        gt=0.5,
        le=1.0,
        description="a feature whose value (or missingness) alone reaches this ROC AUC on the "
        "training labels stops training as a probable leak",
    )
    allow: list[str] = Field(
        default_factory=list,
        description="features the guard must not stop on (a genuine, very strong signal) nor "
        "leave out as identifiers",
    )
    drop_identifiers: bool = Field(
        True,
        description="leave out text features with so many distinct values that they name "
        "customers (surnames, emails), with a warning",
    )
    max_rows: PositiveInt = Field(
        500_000,
        description="training rows the single-feature ROC AUCs are measured on; more are "
        "sampled down to this many (seeded by train.seed): a leak separates a sample as well "
        "as the whole, at a fraction of the time",
    )


class UpliftSettings(Frozen):
    """The uplift model ``churn uplift`` fits on past contacts (``data.contacts``): who each
    action changes, learned from contacted against control customers
    (:mod:`churn.campaigns.uplift`)."""

    enabled: bool = Field(
        True, description="fit an uplift model when past contacts with outcomes allow it"
    )
    min_contacts: PositiveInt = Field(
        400,
        description="contacts with a known outcome (contacted and control together) needed to "
        "fit one; fewer: scoring ranks by the playbook's (measured) effects",
    )
    min_action_rows: PositiveInt = Field(
        300,
        description="contacted rows an action needs for models of its own; rarer actions use "
        "the model fitted on every contact (driver_shift: every contacted action has its own "
        "two numbers, pulled towards their priors)",
    )
    learner: Literal["x_learner", "x_learner_on_risk", "logit_shift", "driver_shift"] = Field(
        "x_learner",
        description="x_learner: an X-learner on xgboost boosters (features only); "
        "x_learner_on_risk: the same with its outcome models fitted as corrections to the churn "
        "model's logit; logit_shift: per action, a logistic shift on the churn model's logit "
        "that may depend on the features; driver_shift: per action, a shift on that logit "
        "proportional to the risk (SHAP log-odds) from the reasons the playbook maps to the "
        "action, two numbers per action. Measured on the simulator in docs/experiments.md",
    )
    shift_penalty: float = Field(
        50.0,
        gt=0,
        description="logit_shift only: L2 penalty on each feature's share of an action's "
        "shift (larger: closer to one shift for every customer)",
    )
    driver_penalty: float = Field(
        20.0,
        gt=0,
        description="driver_shift only: L2 penalty, in rows, pulling each action's constant "
        "shift towards the pooled one of every contact and its driver slope towards 0",
    )
    confidence: float = Field(
        0.9,
        gt=0,
        lt=1,
        description="scoring ranks by the uplift model only when the two-sided interval of this "
        "confidence on its held-out Qini minus the risk ranking's (a paired bootstrap over the "
        "held-out contacts) lies above 0: a model whose lead may be chance is not used",
    )
    bootstrap_resamples: PositiveInt = Field(400, description="resamples of that paired bootstrap")


class TrainSettings(Frozen):
    """xgboost (hist) with early stopping on the validation cutoff, then calibration on it."""

    seed: int = Field(42, description="random seed of xgboost's sampling and of the optuna search")
    max_rounds: PositiveInt = Field(2000, description="most boosting rounds (trees) to grow")
    early_stopping_rounds: PositiveInt = Field(
        50, description="stop after this many rounds without a better validation metric"
    )
    learning_rate: float = Field(
        0.05, gt=0, le=1, description="xgboost eta: how much each tree adds"
    )
    max_depth: PositiveInt = Field(4, description="depth of each tree")
    min_child_weight: float = Field(
        5.0, ge=0, description="xgboost min_child_weight: least weight of rows in a leaf"
    )
    subsample: float = Field(0.8, gt=0, le=1, description="share of rows each tree samples")
    colsample_bytree: float = Field(
        0.8, gt=0, le=1, description="share of features each tree samples"
    )
    reg_lambda: float = Field(1.0, ge=0, description="xgboost L2 penalty on leaf weights")
    early_stopping_metric: Literal["logloss", "auc"] = Field(
        "logloss",
        description="validation metric early stopping watches; auc ignores a shift in the churn "
        "rate between training and validation cutoffs, which the calibrator corrects anyway",
    )
    boost_from: list[str] = Field(
        default_factory=list,
        description="non-negative features whose logistic fit on log(x + 0.01) the trees start "
        "from (churn.modeling.base_margin); empty: start from a constant",
    )
    refit_on_purged: bool = Field(
        False,
        description="after early stopping on the training cutoffs, grow the same number of trees "
        "on the training and purged cutoffs (the most recent behaviour), then calibrate on the "
        "validation cutoff",
    )
    class_weight: Literal["none", "balanced"] | float = Field(
        "none", description="weight of churners: none, balanced (negatives/positives) or a number"
    )
    calibration: Literal["auto", "isotonic", "platt", "none"] = Field(
        "auto",
        description="how probabilities are calibrated on the validation cutoff: isotonic, "
        "platt (logistic) or none; auto: isotonic on 1,000 calibration rows or more with 50 "
        "of each class, else platt (isotonic's steps on fewer give probabilities of exactly 0 "
        "and 1)",
    )
    calibration_cutoffs: PositiveInt = Field(
        1,
        description="cutoffs the calibrator is fitted on, pooled: the validation cutoff and the "
        "latest ones before it (purged, then training cutoffs); 1: the validation cutoff alone. "
        "More dilute a validation month whose churn level the next cutoff will not share, at "
        "the price of older levels where churn trends: choose it on the backtests",
    )
    exclude_features: list[str] = Field(
        default_factory=list,
        description="features (names from the feature catalogue) the model must not use",
    )
    min_class_rows: PositiveInt = Field(
        20, description="fewest churners and fewest stayers a training set may have"
    )
    backtest_cutoffs: int = Field(3, ge=0, description="earlier cutoffs to re-train and score at")
    threads: PositiveInt = Field(
        1, description="xgboost threads; more than the idle cores slows it down"
    )
    engine: Literal["local", "spark"] = Field(
        "local",
        description="where the booster is fitted: in this process, or on Spark with "
        "xgboost.spark (churn[spark]; session from features.spark); the rest of training "
        "(base margin, calibrator, baselines, backtest, search) runs here either way",
    )
    spark_workers: PositiveInt = Field(
        1,
        description="engine spark: Spark tasks that fit the booster together (at most the "
        "executor cores); 1 grows the same trees as the local engine",
    )
    driver_customers: PositiveInt | None = Field(
        None,
        description="most customers whose labelled rows churn train reads into this process: "
        "with more in the labels, a fixed sample of that many (by the md5 of their ids, every "
        "cutoff of a customer kept together) feeds the checks, leakage screen, base margin, "
        "categories, calibrator, baselines, backtest, search and test metrics, and "
        "metrics.json says so; with engine spark and features.engine spark the booster still "
        "learns from every row, read by the executors, else from the sample. register, "
        "promote and monitor judge on the same customers, and monitor, uplift and score read "
        "the past contacts of the sample's customers alone. null: every customer; under the "
        "top-level engine spark the default is 1000000 (write null to read every customer)",
    )
    search: SearchSettings = Field(
        default_factory=SearchSettings,
        description="hyperparameters chosen per dataset on folds before the test cutoff",
    )
    uplift: UpliftSettings = Field(
        default_factory=UpliftSettings,
        description="the uplift model fitted on past contacts (churn uplift)",
    )
    leakage: LeakageSettings = Field(
        default_factory=LeakageSettings,
        description="the leak and identifier guard run before fitting",
    )


class RegistrySettings(Frozen):
    """When a challenger may replace the champion: compared on the backtest folds both
    versions were evaluated on (the same customers, paired), never selected on the test
    cutoff unless no fold can be paired (docs/pipeline.md, promotion)."""

    auc_margin: float = Field(
        0.005,
        ge=0,
        description="the challenger's mean ROC AUC difference over the paired backtest folds "
        "must be at least this, and the lower end of its confidence interval at least minus "
        "this (better by the margin, and not plausibly worse by more than it)",
    )
    max_ece: float = Field(
        0.05,
        gt=0,
        le=1,
        description="the challenger's expected calibration error on the test cutoff and its "
        "mean over the backtest folds must each be at most this (plus the ECE a calibrated "
        "model shows by chance on that many rows); a first version too",
    )
    confidence: float = Field(
        0.95,
        ge=0.5,
        lt=1,
        description="coverage of the paired bootstrap interval of the ROC AUC difference",
    )
    bootstrap_resamples: int = Field(
        1000,
        ge=100,
        le=100_000,
        description="bootstrap resamples of the customers within each fold for that interval "
        "(seeded: the same predictions give the same interval)",
    )


class RiskTiers(Frozen):
    """How customers are put in the Low / Medium / High risk tiers. ``percentile`` (default):
    High is the riskiest ``high_percent`` of the scored customers and Medium the next
    ``medium_percent``, so the tiers keep their size when every probability moves (a season,
    a December); ``probability``: absolute calibrated-probability thresholds, High >= high,
    Medium >= medium. Without ``method``, giving ``high`` or ``medium`` means probability, so
    params written before tiers had a method keep their meaning."""

    method: Literal["percentile", "probability"] = Field(
        "percentile",
        description="percentile: tiers by share of scored customers (high_percent, "
        "medium_percent); probability: by absolute churn probability (high, medium); default "
        "percentile, or probability when only high or medium is given",
    )
    high_percent: float = Field(
        20.0, gt=0, le=100, description="percentile: the riskiest share (percent) that is High"
    )
    medium_percent: float = Field(
        30.0, ge=0, lt=100, description="percentile: the next share (percent) that is Medium"
    )
    high: float = Field(
        0.6,
        gt=0,
        le=1,
        description="probability: churn probability from which a customer is High risk",
    )
    medium: float = Field(
        0.3,
        ge=0,
        le=1,
        description="probability: churn probability from which a customer is Medium risk",
    )

    @model_validator(mode="before")
    @classmethod
    def _thresholds_mean_probability(cls, data: Any) -> Any:
        if isinstance(data, dict) and "method" not in data and ({"high", "medium"} & set(data)):
            return {**data, "method": "probability"}
        return data

    @model_validator(mode="after")
    def _ordered(self) -> RiskTiers:
        if self.medium > self.high:
            raise ValueError(f"medium ({self.medium}) must not exceed high ({self.high})")
        if self.high_percent + self.medium_percent > 100:
            raise ValueError(
                f"high_percent ({self.high_percent:g}) plus medium_percent "
                f"({self.medium_percent:g}) must not exceed 100"
            )
        unused = {
            "percentile": ("high", "medium"),
            "probability": ("high_percent", "medium_percent"),
        }[self.method]
        given = [key for key in unused if key in self.model_fields_set]
        if given:
            wanted = "probability" if self.method == "percentile" else "percentile"
            raise ValueError(
                f"{' and '.join(given)} {'apply' if len(given) > 1 else 'applies'} only with "
                f"method '{wanted}', but method is "
                f"'{self.method}'. Set method: {wanted}, or remove {', '.join(given)}"
            )
        return self


class OutreachSettings(Frozen):
    """Who is contacted: the top of the list by ``priority``, within a budget, minus a random
    control group that is flagged "do not contact" so the effect of outreach can be measured."""

    priority: Literal["expected_value_saved", "value_at_risk", "churn_probability"] = Field(
        "expected_value_saved",
        description="what ranks the list: expected value saved by the best action, P(churn) x "
        "effect x value - cost (only customers it is positive for are contacted), value at "
        "risk, or churn probability",
    )
    top_k: PositiveInt | None = Field(None, description="contact at most this many customers")
    top_percent: float | None = Field(
        20.0, gt=0, le=100, description="contact this share of scored customers (percent)"
    )
    control_percent: Annotated[float, Field(ge=0, lt=100)] | Literal["auto"] = Field(
        10.0,
        description="share of the outreach slice held out (percent), drawn within each risk "
        "tier x action; auto: the smallest share that detects min_detectable_effect",
    )
    min_detectable_effect: float = Field(
        0.05,
        gt=0,
        lt=1,
        description="fall in churn rate (0.05: 5 points) the control group should detect "
        "(two-sided, alpha 0.05, power 0.8); sizes it with control_percent: auto, else a "
        "warning when the configured size cannot",
    )
    max_control_percent: float = Field(
        50.0,
        gt=0,
        le=50,
        description="control_percent auto: never hold out more than this share of the slice",
    )
    control_seed: str = Field(
        "churn-control", description="salt of the hash that puts a customer id in control"
    )

    @model_validator(mode="after")
    def _one_budget(self) -> OutreachSettings:
        if (self.top_k is None) == (self.top_percent is None):
            raise ValueError("set exactly one of top_k and top_percent (the other to null)")
        return self


class ValueSettings(Frozen):
    """What a customer is worth over the horizon: a CLV model (BG/NBD purchases x Gamma-Gamma
    spend) for purchase data, or a recurring charge x months for subscriptions."""

    method: Literal["clv", "recurring"] = Field(
        "clv",
        description="clv: BG/NBD x Gamma-Gamma over the horizon; recurring: monthly charge x "
        "months",
    )
    charge_feature: str | None = Field(
        None,
        description="recurring: the feature holding the charge (monthly, unless "
        "charge_period_feature names each customer's billing period)",
    )
    charge_period_feature: str | None = Field(
        None,
        description="recurring: the feature naming the billing period each charge is for "
        "(month, year, annual, quarterly, weekly, '3 months', P1Y, ...); the charge is "
        "divided by the months of its period. A blank or unknown period counts as a month, "
        "with a warning. null: every charge is monthly",
    )
    charge_quantity_feature: str | None = Field(
        None,
        description="recurring: the feature holding how many units (seats, licences) the "
        "charge is for, each (a missing count is 1); null: the charge is the customer's whole",
    )
    months: float = Field(1.0, gt=0, description="recurring: months of charges at stake")
    purchase_event_types: list[str] | None = Field(
        None,
        description="clv: the event types whose amounts are a customer's spend (the orders of "
        "a log whose visits, from another file, have no amount); null: "
        "labels.activity_event_types",
    )

    @model_validator(mode="after")
    def _recurring_needs_charge(self) -> ValueSettings:
        if self.method == "recurring" and not self.charge_feature:
            raise ValueError("method 'recurring' needs charge_feature")
        if self.method != "recurring" and (
            self.charge_period_feature or self.charge_quantity_feature
        ):
            raise ValueError(
                "charge_period_feature and charge_quantity_feature apply to method 'recurring' "
                f"only; method is {self.method!r}"
            )
        return self


class ScoringSettings(Frozen):
    """How ``churn score`` turns probabilities into a ranked outreach list with reasons."""

    risk_tiers: RiskTiers = Field(
        default_factory=RiskTiers,
        description="risk tiers by percentile (default) or by probability thresholds",
    )
    outreach: OutreachSettings = Field(
        default_factory=OutreachSettings,
        description="who is contacted, within what budget, and the control group",
    )
    value: ValueSettings = Field(
        default_factory=ValueSettings, description="how a customer's value is estimated"
    )
    explain: Literal["outreach", "all"] = Field(
        "outreach", description="whose reasons to compute: the outreach slice or everyone"
    )
    reasons: str | None = Field(
        None, description="reason catalogue YAML (project-relative); default: the built-in one"
    )
    n_reasons: int = Field(
        3, ge=1, le=3, description="reasons per customer in scores.parquet (reason_1 to 3)"
    )
    threads: PositiveInt | None = Field(
        None, description="xgboost threads for probabilities and SHAP values; default: all cores"
    )
    engine: Literal["local", "spark"] = Field(
        "local",
        description="where the list is computed: in this process, or on Spark (churn[spark]; "
        "session from features.spark): with features.engine spark, an events pipeline without "
        "an uplift model is scored wholly in the executors (population, probabilities, reasons, "
        "value, list); otherwise only the probabilities, by the registered champion as an "
        "MLflow spark_udf",
    )


class PlaybookRule(Frozen):
    """One retention action, when it applies, what it costs and what it is expected to do."""

    action: str = Field(
        min_length=1,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="name of the action in snake_case, e.g. loyalty_reward",
    )
    description: str = Field(
        "", description="what the action is, for people reading the params; not used by churn"
    )
    reasons: list[str] = Field(
        default_factory=list, description="reason codes of reason_1 it answers; empty: any"
    )
    min_value_percentile: float = Field(
        0.0, ge=0, le=100, description="only customers at least this high in expected value"
    )
    min_probability: float = Field(
        0.0, ge=0, le=1, description="only customers with at least this churn probability"
    )
    cost: float = Field(
        0.0, ge=0, description="money one contact with this action costs (same unit as value)"
    )
    effect: float = Field(
        0.1,
        ge=0,
        le=1,
        description="prior share of the churn probability the action removes (0.1: a customer "
        "at 60 % falls to 54 %), until the control group measures it",
    )
    effect_sd: float = Field(0.05, ge=0, description="uncertainty (standard deviation) of effect")


class PlaybookSettings(Frozen):
    """Which retention action each explained customer gets, from their top actionable reason:
    among the rules that match, the one with the highest expected net value saved,
    P(churn) x effect x value - cost (ties: the first); default_action when none matches."""

    rules: list[PlaybookRule] = Field(
        default_factory=list, description="rules tried in order; the first that matches wins"
    )
    default_action: str = Field(
        "feedback_request",
        pattern=r"^[a-z][a-z0-9_]*$",
        description="action of explained customers no rule matches",
    )
    default_cost: float = Field(0.0, ge=0, description="cost of one default_action contact")
    default_effect: float = Field(
        0.1, ge=0, le=1, description="prior share of the churn probability default_action removes"
    )
    default_effect_sd: float = Field(0.05, ge=0, description="uncertainty of default_effect")
    not_contacted_action: str = Field(
        "none", description="action of customers outside the explained slice"
    )


class ExportColumn(Frozen):
    """One exported column: where it comes from and what the CRM calls it."""

    source: str = Field(
        description="column of scores.parquet, or contact.<field> for a contact field of "
        "data.customers (contact.email, contact.last_name, contact.crm_id, ...)"
    )
    name: str = Field(description="field name in the CRM")
    max_length: PositiveInt | None = Field(
        None,
        description="text fields: the most characters the CRM field holds (longer text is cut, "
        "with a count in the log); default 255, 80 for codes and ids, the CRM's own for "
        "contact fields",
    )


class ExportTarget(Frozen):
    """The columns and rows of one CRM import file."""

    columns: list[ExportColumn] = Field(
        min_length=1, description="exported columns in order; the first is the record key"
    )
    only_outreach: bool = Field(
        True,
        description="export the customers to contact only (the control group goes to "
        "control_group.csv); false: everyone, control rows flagged and without an action",
    )
    include_control: bool = Field(
        False,
        description="with only_outreach: also write the control group's rows, with an empty "
        "action and status 'control', so the CRM can keep them out of every campaign",
    )
    required: list[str] | None = Field(
        None,
        description="field names a row must have a value in, else it is left out of the file "
        "(counted in the log); default: the key (first column), and Salesforce's LastName when "
        "an upsert may create Contacts",
    )


class FileLimit(Frozen):
    """How large one import file may be: a longer list is written in parts, each with the
    header, none over the limit."""

    rows: PositiveInt | None = Field(
        None, description="most data rows in one file (the header not counted); null: no limit"
    )
    megabytes: PositiveFloat | None = Field(
        None, description="most megabytes (10^6 bytes) in one file, header included; null: no limit"
    )


class FileLimits(Frozen):
    """Per target, the largest import file its CRM takes (``<target>.csv`` and
    ``<target>_delta.csv``; the dated copies under history/ stay whole). A target set here
    replaces its defaults."""

    salesforce: FileLimit = Field(
        default_factory=lambda: FileLimit(megabytes=100),
        description="Bulk API 2.0 takes 150 MB of base64-encoded CSV per upload, about 100 MB",
    )
    hubspot: FileLimit = Field(
        default_factory=lambda: FileLimit(rows=1_048_576, megabytes=512),
        description="HubSpot's import tool on a paid plan: 1,048,576 rows and 512 MB per file "
        "(its free tools: 20 MB)",
    )
    dynamics: FileLimit = Field(
        default_factory=lambda: FileLimit(megabytes=8),
        description="Dynamics 365's Import Data wizard: 8 MB per .csv file",
    )
    generic: FileLimit = Field(
        default_factory=FileLimit, description="no limit: the generic file is read by people"
    )


class ExportSettings(Frozen):
    """Per CRM target, which columns leave the system and under what names. Targets not set
    here use the built-in defaults (see churn.crm.writers)."""

    targets: dict[Literal["salesforce", "hubspot", "dynamics", "generic"], ExportTarget] = Field(
        default_factory=dict,
        description="CRM target -> its columns; targets left out use the built-in columns",
    )
    file_limits: FileLimits = Field(
        default_factory=FileLimits,
        description="per target, the largest file its CRM imports; a longer list is written as "
        "<target>_part1.csv, <target>_part2.csv, ... each with the header",
    )


class MonitoringSettings(Frozen):
    """Drift of the scored population from the training one, and realised performance."""

    psi_threshold: float = Field(0.2, gt=0, description="flag features with a larger PSI")
    psi_bins: int = Field(
        10,
        ge=2,
        le=100,
        description="quantile bins of the training values in the PSI (10: deciles), plus bins "
        "below and above their range and for missing values",
    )
    exempt_families: list[str] = Field(
        default_factory=lambda: ["season", "tenure"],
        description="feature families that drift by construction (the calendar, customer age): "
        "reported, never flagged",
    )
    gate_promotion: bool = Field(
        True, description="churn promote refuses a challenger whose scoring population drifted"
    )
    backfill_cutoffs: list[dt.date] = Field(
        default_factory=list,
        description="past cutoffs churn score also scores into history/, so realised "
        "performance can be shown where the outcome is already known",
    )


STAGE_ENGINES = ("features", "train", "scoring")
"""Sections with an ``engine`` of their own, which the top-level ``engine`` sets by default."""
SPARK_DRIVER_CUSTOMERS = 1_000_000
"""``train.driver_customers`` under ``engine: spark`` unless written: a cluster's data need not
fit its driver, so by default the driver holds the labelled rows, past contacts and scored
rows of a fixed sample of a million customers (about 0.5 GB of features at 50 columns)."""


class PipelineSettings(Frozen):
    """Everything in one ``pipelines/<name>/params.yaml``, one section per stage."""

    name: str = Field(
        description="the pipeline's name: its folder under pipelines/ (set by churn, not in "
        "the file)"
    )
    engine: Literal["local", "spark"] = Field(
        "local",
        description="where the whole pipeline runs: local (embedded DuckDB and this process, "
        "or each stage's own engine setting) or spark (features.engine, train.engine and "
        "scoring.engine all spark, on the session of features.spark; a stage's engine written "
        "in the file still wins)",
    )
    data: DataSettings = Field(description="the raw input files and their column mapping")
    labels: Annotated[
        EventLabelSettings | SnapshotLabelSettings,
        Field(discriminator="kind", description="how churn labels are made"),
    ]
    features: FeatureSettings = Field(
        default_factory=FeatureSettings, description="the features and the SQL engine"
    )
    train: TrainSettings = Field(
        default_factory=TrainSettings, description="the model and how it is trained"
    )
    registry: RegistrySettings = Field(
        default_factory=RegistrySettings, description="the champion/challenger gate"
    )
    scoring: ScoringSettings = Field(
        default_factory=ScoringSettings, description="the at-risk list: tiers, value, outreach"
    )
    playbook: PlaybookSettings = Field(
        default_factory=PlaybookSettings, description="retention actions per reason"
    )
    export: ExportSettings = Field(default_factory=ExportSettings, description="CRM import files")
    monitoring: MonitoringSettings = Field(
        default_factory=MonitoringSettings, description="drift and realised performance"
    )

    @model_validator(mode="before")
    @classmethod
    def _stages_follow_engine(cls, values: Any) -> Any:
        """``engine: spark`` is the default of every stage's own engine setting, and
        :data:`SPARK_DRIVER_CUSTOMERS` that of ``train.driver_customers``."""
        if not isinstance(values, dict) or values.get("engine") != "spark":
            return values
        values = dict(values)
        for section in STAGE_ENGINES:
            given = values.get(section)
            if section not in values:
                values[section] = {"engine": "spark"}
            elif isinstance(given, dict) and "engine" not in given:
                values[section] = {**given, "engine": "spark"}
        train = values["train"]
        if isinstance(train, dict) and "driver_customers" not in train:
            values["train"] = {**train, "driver_customers": SPARK_DRIVER_CUSTOMERS}
        return values

    @model_validator(mode="before")
    @classmethod
    def _labels_follow_data_kind(cls, values: Any) -> Any:
        if isinstance(values, dict):
            kind = (values.get("data") or {}).get("kind")
            labels = values.get("labels")
            if isinstance(labels, dict) and kind in ("events", "snapshot"):
                values = {**values, "labels": {"kind": kind, **labels}}
        return values

    @model_validator(mode="after")
    def _labels_match_data(self) -> PipelineSettings:
        if self.data.kind != self.labels.kind:
            raise ValueError(
                f"labels are for kind {self.labels.kind!r}, data is {self.data.kind!r}"
            )
        if (
            isinstance(self.labels, EventLabelSettings)
            and self.labels.churn_definition != ("inactivity")
            and self.data.churn_events is None
            and not (self.data.events is not None and self.data.events.churn_event_types)
        ):
            raise ValueError(
                f"labels.churn_definition {self.labels.churn_definition!r} needs a "
                "data.churn_events table, or data.events.churn_event_types (the event types "
                "that are a cancellation)"
            )
        return self


def _format_validation_error(path: Path, err: ValidationError) -> str:
    lines = [f"{path}: {err.error_count()} invalid setting(s):"]
    for e in err.errors():
        loc = list(e["loc"])
        if loc[:1] == ["labels"] and loc[1:2] in (["events"], ["snapshot"]):
            del loc[1]  # the union's tag, not a key the user wrote
        key = ".".join(str(p) for p in loc)
        got = e.get("input")
        got_text = "" if isinstance(got, dict) else f" Got {got!r} instead."
        lines.append(f"  - {key or '<top level>'}: {e['msg']}.{got_text}")
    lines.append(
        "Fix the key(s) above in the params file; every setting is described in docs/settings.md."
    )
    return "\n".join(lines)


def pipeline_params_path(project_dir: Path, name: str) -> Path:
    """``pipelines/<name>/params.yaml``; ConfigError for a name that could leave pipelines/."""
    return project_dir / "pipelines" / check_pipeline_name(name) / "params.yaml"


def load_settings(project_dir: Path, name: str) -> PipelineSettings:
    """Read and validate ``pipelines/<name>/params.yaml`` under ``project_dir``."""
    path = pipeline_params_path(project_dir, name)
    if not path.is_file():
        known = sorted(p.parent.name for p in (project_dir / "pipelines").glob("*/params.yaml"))
        raise ConfigError(
            f"No params file for pipeline {name!r}: expected {path}. Known pipelines: {known}."
        )
    try:
        raw = read_yaml(path)
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"{path}: not valid YAML: {exc}\nFix the syntax at the line and column shown."
        ) from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections, got {type(raw).__name__}.")
    try:
        return PipelineSettings.model_validate({"name": name, **raw})
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(path, exc)) from exc
