"""From samples of a user's files and the flags of ``churn init`` to a :class:`EventsPlan` or
:class:`SnapshotPlan`: what each column is, the cutoffs, and what to tell the user to check.

Pure: sample frames (every cell as text) and dates in, plans out. Roles the flags leave open
are guessed by :mod:`churn.data.inference`; a required role it cannot find raises
:class:`~churn.data.inference.RoleNotFound` (exit code 2) naming the candidates.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from churn.data.billing_periods import names_periods
from churn.data.inference import (
    CANCEL_FLAG_WORDS,
    LABEL_NAME_WORDS,
    NO_AMOUNT,
    EventRoles,
    RoleNotFound,
    SnapshotRoles,
    TimestampGuess,
    charge_candidates,
    filled_text,
    id_candidates,
    infer_event_roles,
    infer_snapshot_roles,
    is_code_column,
    is_numeric,
    is_running_total,
    leaving_status,
    name_words,
    named_as_id,
    timestamp_format,
    yes_values,
)
from churn.data.number_columns import numeric_codes, row_numbers
from churn.data.parsing import parse_numbers, parse_timestamps, whole_number_ids
from churn.data.personal_columns import private_columns
from churn.data.snapshot import label_text
from churn.init.event_attributes import text_attributes
from churn.init.event_kinds import (
    RETURN_TYPE,
    cancellation_types,
    purchase_types,
    return_types,
)
from churn.init.lapse import Returns
from churn.init.schedule import CutoffPlan
from churn.init.snapshot_columns import constant_columns, key_columns
from churn.init.sniff import FileFormat
from churn.io.paths import check_pipeline_name
from churn.modeling.leakage import leak_suspects
from churn.settings import EventsSettings, SnapshotLabelSettings, TrainSettings

DEFAULT_HORIZON_DAYS = 90
RESERVED = frozenset({"customer_id", "churned", "cutoff", "label", "signup_date"})
"""Contract columns an attribute must not be named after."""
_SIGNUP_NAME = re.compile(
    r"signup|sign_up|joined|registered|registration|created|since|start|first", re.I
)
MAX_EVENT_TYPES = 1000
"""More distinct event types than this is free text or an id, not a type."""
MAX_FEATURE_TYPES = 20
"""Event types counted one feature each; a log with more (an analytics tool's event names)
counts its most frequent ones and the purchases, the rest only in the event count."""
SMALL_CLASS_WARNING = 5
"""Below this many of the smaller class in the validation set, the findings warn of noise."""


@dataclass(frozen=True)
class EventFlags:
    """What the user said about an events pipeline; None: guess it."""

    customer_id: str | None = None
    timestamp: str | None = None
    timestamp_format: str | None = None
    amount: str | None = None
    order_id: str | None = None
    event_type: str | None = None
    horizon_days: int | None = None
    """None: :data:`DEFAULT_HORIZON_DAYS`, or shorter when the data is too short for it."""
    test_cutoff: dt.date | None = None
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class SnapshotFlags:
    label: str | None = None
    """None: guessed from the column names (:func:`churn.data.inference.label_column`)."""
    positive: str | None = None
    customer_id: str | None = None
    value: str | None = None
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceFile:
    """One input file: its path relative to the project folder and how to read it."""

    path: str
    format: FileFormat


@dataclass(frozen=True)
class CustomerTable:
    """The optional customers table of a pipeline: an events pipeline's customers, or more
    attributes of a snapshot's."""

    source: SourceFile
    customer_id: str
    signup_date: TimestampGuess | None
    attributes: dict[str, str]
    """Attribute name -> column."""
    categorical: tuple[str, ...]
    contact_fields: dict[str, str] = field(default_factory=dict)
    """Contact field -> column (``email``, ``last_name``...): for the CRM files, never
    features (:mod:`churn.data.personal_columns`)."""
    private: tuple[str, ...] = ()
    """Columns left out as personal data or identifiers."""
    person_id: str | None = None
    """The column naming the person behind each customer id (ids new on every order:
    :func:`by_person`)."""
    notes: tuple[str, ...] = ()
    charge: str | None = None
    """The numeric attribute that reads as what a customer pays each month
    (:func:`churn.data.inference.charge_candidates`): the value of an events log without
    amounts."""
    charge_period: str | None = None
    """The attribute naming the billing period of that charge (:func:`billing_columns`)."""
    charge_quantity: str | None = None
    """The attribute counting the units (seats) the charge is for, each."""


@dataclass(frozen=True)
class ChurnEventTable:
    source: SourceFile
    customer_id: str
    timestamp: TimestampGuess


@dataclass(frozen=True)
class EventsPlan:
    name: str
    sources: tuple[tuple[SourceFile, EventRoles], ...]
    horizon_days: int
    cutoffs: CutoffPlan
    event_types: tuple[str, ...] = ()
    """Event types seen in a mapped event type column, cancellations aside; empty: every event
    is a purchase."""
    customers: CustomerTable | None = None
    churn_events: ChurnEventTable | None = None
    notes: tuple[str, ...] = ()
    churn_event_types: tuple[str, ...] = ()
    """Event types named like a cancellation (data.events.churn_event_types)."""
    return_event_types: tuple[str, ...] = ()
    """Event types named like a return (features.return_event_types)."""
    max_inactive_days: int | None = None
    """labels.max_inactive_days to write (:mod:`churn.init.lapse`); None: everyone eligible."""
    min_class_rows: int | None = None
    """train.min_class_rows to write (:func:`sized_events`): None keeps the default."""
    tiers_by_probability: bool = False
    """scoring.risk_tiers.method: probability (:func:`tiered_events`): most customers churn."""
    missing_timestamps: int = 0
    """Rows without a timestamp (a totals line): data.events.drop_missing_timestamp."""
    missing_ids: int = 0
    """Rows of the whole log without a customer id (guests), the sample's included."""
    zero_amounts: float = 0.0
    """Share of the log's rows whose amount is 0 when it is so large that they are no
    purchase (a statement per month, spend or not): data.events.zero_amount_event_type.
    0: such rows are purchases."""
    label_activity: tuple[str, ...] = ()
    """labels.activity_event_types when only some event types keep a customer (purchases
    among views and carts, :func:`purchase_types`); empty: every one of ``event_types``."""
    feature_types: tuple[str, ...] = ()
    """features.event_types when ``event_types`` are more than :data:`MAX_FEATURE_TYPES`: the
    most frequent and those that keep a customer; empty: every one of ``event_types``."""
    return_rule: str | None = None
    """The letters that start a cancelled invoice's order id (``C536379``): its lines are
    returns (``data.events.event_type_rules``)."""
    return_gap_days: float | None = None
    """The gap within which 99 % of the log's returns came (:mod:`churn.init.lapse`); None:
    too few returns to say."""
    paid_types: tuple[str, ...] = ()
    """Event types seen in the event type columns of the files with an amount (the payments
    beside a usage log): the types whose amounts are spend."""
    cancellations_only: bool = False
    """``labels.churn_definition: explicit``: with known cancellations, inactivity is no churn
    (a subscriptions table whose rows are starts: nobody "comes back" within the horizon)."""

    @property
    def explicit_churn(self) -> bool:
        """Whether cancellations are known (a table of them, or event types)."""
        return self.churn_events is not None or bool(self.churn_event_types)

    @property
    def has_amount(self) -> bool:
        """Whether some file has an amount: the value model reads those rows."""
        return any(roles.amount is not None for _, roles in self.sources)

    @property
    def charge_feature(self) -> str | None:
        """Without amounts, the customers table's monthly charge: the value is that charge over
        the horizon (``scoring.value.method: recurring``); None otherwise."""
        if self.has_amount or self.customers is None:
            return None
        return self.customers.charge

    @property
    def charge_period(self) -> str | None:
        """The attribute naming that charge's billing period, when there is a charge."""
        customers = self.customers
        return None if self.charge_feature is None or customers is None else customers.charge_period

    @property
    def charge_quantity(self) -> str | None:
        """The attribute counting the units that charge is for, when there is a charge."""
        customers = self.customers
        return (
            None if self.charge_feature is None or customers is None else customers.charge_quantity
        )

    @property
    def charge_months(self) -> float:
        """Months of that charge at stake: the horizon's."""
        return round(self.horizon_days / 30, 1)

    @property
    def purchase_types(self) -> tuple[str, ...]:
        """scoring.value.purchase_event_types to write when some files have an amount and
        others none (orders beside visits): the default type of the paid files' rows when they
        have no type column, else those of their types that keep a customer; empty: the
        activity types are the purchases."""
        paid = [roles for _, roles in self.sources if roles.amount is not None]
        if not paid or len(paid) == len(self.sources):
            return ()
        if not any(r.event_type for r in paid):
            return (EventsSettings.model_fields["default_event_type"].default,)
        # typed payments beside an untyped usage log (KKBox's transactions and listening
        # days): the usage rows keep a customer too, but their missing amounts are no spend
        keeps = self.label_activity or self.event_types
        return tuple(t for t in keeps if t in self.paid_types)


@dataclass(frozen=True)
class SnapshotPlan:
    name: str
    source: SourceFile
    roles: SnapshotRoles
    attributes: dict[str, str]
    """Attribute name (snake_case) -> column, in the file's order."""
    numeric_attributes: tuple[str, ...]
    snapshot_date: dt.date
    notes: tuple[str, ...] = field(default=())
    min_class_rows: int | None = None
    """train.min_class_rows to write: None keeps the default, which this snapshot can meet."""
    customers: CustomerTable | None = None
    """A table of more attributes, joined by customer id."""
    left_out: tuple[tuple[str, str], ...] = ()
    """(column, why) of the columns left out as the label in disguise (:func:`without_leaks`)."""
    date_attributes: tuple[str, ...] = ()
    """Attributes holding dates: days before the snapshot date (:func:`date_columns`)."""
    date_format: str | None = None
    """Their format (the source's timestamp_format); None: ISO 8601."""
    dated_by: str = "file date"
    """Where :attr:`snapshot_date` comes from: the file's date, or its latest date."""
    contacts: dict[str, str] = field(default_factory=dict)
    """Contact fields of the snapshot file itself (field -> column): mapped through a
    customers source of the same file (:func:`with_contacts`) unless a customers table has
    its own."""

    charge_columns: tuple[str | None, str | None] = (None, None)
    """The columns naming the charge's billing period and counting its units
    (:func:`billing_columns`)."""
    rank_by_probability: bool = False
    """The value is 0 or blank for so many customers (:data:`WORTHLESS_SHARE`) that ranking by
    expected value saved would never contact them: the list ranks by churn probability."""

    @property
    def charge_feature(self) -> str | None:
        by_column = {column: name for name, column in self.attributes.items()}
        return by_column.get(self.roles.value) if self.roles.value else None

    @property
    def charge_period(self) -> str | None:
        """The attribute naming each charge's billing period (None: monthly, or no charge)."""
        return self._charge_attribute(self.charge_columns[0])

    @property
    def charge_quantity(self) -> str | None:
        """The attribute counting the units each charge is for (None: the whole charge)."""
        return self._charge_attribute(self.charge_columns[1])

    def _charge_attribute(self, column: str | None) -> str | None:
        if column is None or self.charge_feature is None:
            return None
        return next((name for name, c in self.attributes.items() if c == column), None)


def class_sizes(labels: pd.Series, positive: str, *, any_value: bool = False) -> tuple[int, int]:
    """Churners and stayers among every label of a snapshot (blanks left out), compared with
    ``positive`` as the pipeline compares them (:func:`churn.data.snapshot.label_text`); with
    ``any_value``, a value is a churner and a blank a stayer (``churned_when: filled``)."""
    texts = [label_text(v) for v in labels]
    if any_value:
        churners = sum(t is not None for t in texts)
        return churners, len(texts) - churners
    wanted = label_text(positive)
    filled = [t for t in texts if t is not None]
    churners = sum(t == wanted for t in filled)
    return churners, len(filled) - churners


def fitting_min_class_rows(
    churners: int, stayers: int, *, test_fraction: float, valid_fraction: float, default: int
) -> int | None:
    """The ``train.min_class_rows`` a snapshot this small needs, or None when the default fits.

    The validation set is the smallest of the stratified splits (``(1 - test) x valid`` of the
    rows); the expected count of its smaller class, less one for rounding, must reach the
    setting, or ``churn train`` stops (exit 6) after the whole pipeline ran up to it."""
    smallest = int(min(churners, stayers) * (1 - test_fraction) * valid_fraction) - 1
    return None if smallest >= default else max(smallest, 1)


def split_list(text: str | None) -> tuple[str, ...]:
    """``"a, b"`` -> ``("a", "b")``: the value of ``--exclude``."""
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def snake_case(column: str) -> str:
    """An attribute name for a column: ``"Monthly Usage (GB)"`` -> ``monthly_usage_gb``,
    ``"SeniorCitizen"`` -> ``senior_citizen``, ``"1st"`` -> ``x1st``, ``"年齡層級"`` as it is."""
    # a name in another script (Ta-Feng's 年齡層級) has no latin word: its letters as they are
    text = "_".join(name_words(column) or re.findall(r"[^\W_]+", column.lower()))
    if not text or not text[0].isalpha():
        text = f"x{text}"
    return text


def attribute_names(columns: Sequence[str]) -> dict[str, str]:
    """Attribute name -> column for ``columns``: snake_case, made unique with a number and
    kept clear of the contract's own columns."""
    out: dict[str, str] = {}
    for column in columns:
        base = snake_case(column)
        if base in RESERVED:
            base = f"{base}_attribute"
        name, n = base, 2
        while name in out:
            name, n = f"{base}_{n}", n + 1
        out[name] = column
    return out


def _check_excluded(exclude: Sequence[str], sample: pd.DataFrame, what: str) -> None:
    unknown = sorted(set(exclude) - {str(c) for c in sample.columns})
    if unknown:
        raise RoleNotFound(
            f"--exclude names no such column(s) {unknown} in {what}; it has {list(sample.columns)}"
        )


def event_sources(
    files: Sequence[tuple[SourceFile, pd.DataFrame]],
    *,
    customer_id: str | None = None,
    timestamp: str | None = None,
    amount: str | None = None,
    order_id: str | None = None,
    event_type: str | None = None,
    exclude: Sequence[str] = (),
    timestamp_format: str | None = None,
) -> tuple[tuple[SourceFile, EventRoles], ...]:
    """Each events file with its roles, its text attributes narrowed to those that describe
    the customer (:func:`~churn.init.event_attributes.text_attributes`); the flags apply to
    every file."""
    out = []
    for source, sample in files:
        try:
            roles = infer_event_roles(
                sample,
                customer_id=customer_id,
                timestamp=timestamp,
                amount=amount,
                order_id=order_id,
                event_type=event_type,
                exclude=[c for c in exclude if c in sample.columns],
                given_format=timestamp_format,
            )
        except RoleNotFound as exc:
            keys = _shared_keys(sample, [(s.path, other) for s, other in files if s != source])
            said = f"{str(exc).rstrip('.')}{keys}." if keys else str(exc)
            raise RoleNotFound(f"{source.path}: {said}") from None
        chosen = text_attributes(sample, roles, exclude=exclude)
        notes = (*roles.notes, note) if (note := chosen.note(source.path)) else roles.notes
        roles = replace(roles, attributes=chosen.taken, notes=notes)
        out.append((source, roles))
    return tuple(out)


def _shared_keys(sample: pd.DataFrame, others: Sequence[tuple[str, pd.DataFrame]]) -> str:
    """A hint for an events file whose roles cannot be told: the id-named columns it shares
    with another events file (Olist's payments, keyed by the orders' ``order_id``), whose
    rows it details. Empty when it shares none."""
    for path, other in others:
        shared = [str(c) for c in sample.columns if named_as_id(str(c)) and c in other.columns]
        if shared:
            return (
                f". It shares {shared} with {path}: a table of details keyed by "
                f"{'them' if len(shared) > 1 else 'it'}, not an events file of its own (each "
                f"events file needs its customer and time). Join it to {path} on "
                f"{shared[0]!r} first, or leave it out"
            )
    return ""


def type_counts(sources: Sequence[tuple[pd.DataFrame, EventRoles]]) -> pd.Series:
    """Rows per event type in the event type columns of ``sources`` (blanks aside), counted in
    one pass over each column."""
    counts: pd.Series = pd.Series(dtype="int64")
    for column, roles in sources:
        if roles.event_type is not None:
            values = column[roles.event_type].astype(str).str.strip()
            counts = counts.add(values[values != ""].value_counts(), fill_value=0)
    return counts


def event_types(counts: pd.Series, sources: Sequence[tuple[object, EventRoles]]) -> tuple[str, ...]:
    """Distinct event types of :func:`type_counts` (blanks are purchases), and the default type
    (``purchase``) when some files have no event type column: their rows take it."""
    seen = {str(t) for t in counts.index}
    typed = [roles.event_type is not None for _, roles in sources]
    if any(typed) and not all(typed):  # the rows of a file without types get the default one
        seen.add(EventsSettings.model_fields["default_event_type"].default)
    if len(seen) > MAX_EVENT_TYPES:
        raise RoleNotFound(
            f"the event type column holds {len(seen):,} distinct values (more than "
            f"{MAX_EVENT_TYPES:,}: free text or an id?); name the right one with --event-type "
            "COLUMN"
        )
    return tuple(sorted(seen))


def most_frequent_types(counts: pd.Series, limit: int) -> tuple[str, ...]:
    """The ``limit`` most frequent event types of :func:`type_counts` (ties by name)."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    return tuple(str(t) for t, _ in ranked[:limit])


def _id_column(sample: pd.DataFrame, events_id: str, what: str) -> str:
    """The events' customer id column in another table: the same name, or the same name in
    snake_case (``Customer ID`` and ``customer_id``), else its one column named like an id
    (``user_id`` beside the events' ``userid``; Last.fm's profiles keyed ``#id``)."""
    same = [c for c in sample.columns if snake_case(str(c)) == snake_case(events_id)]
    if events_id in sample.columns:
        return events_id
    if len(same) == 1:
        return str(same[0])
    named = [str(c) for c in sample.columns if named_as_id(str(c))]
    if len(named) == 1:
        return named[0]
    raise RoleNotFound(
        f"{what}: no column {events_id!r} (the events' customer id)"
        + (f", and more than one named like an id ({named})" if named else "")
        + f"; it has {list(sample.columns)}. Give it the events' column name."
    )


def _reads_as_dates(values: pd.Series) -> bool:
    """Whether a column's filled values read as dates in one format."""
    try:
        return timestamp_format(values, unix=True) is not False
    except ValueError:
        return False


_BARE_DATE_WORDS = frozenset({"date", "datum", "fecha", "data", "dt", "day"})
"""Names of a customers table's date that say no more than that it is a date (the PKDD'99
bank's ``account.asc``: ``date``, the day the account was opened)."""


def _bare_date(sample: pd.DataFrame, skip: Sequence[str]) -> TimestampGuess | None:
    """A customers table's one column named as a bare date (:data:`_BARE_DATE_WORDS`) whose
    values read as dates, when none is named like a signup: the day the row, the customer,
    was made. None unless exactly one."""
    found = []
    for column in sample.columns:
        words = set(name_words(str(column)))
        if column in skip or not words or not words <= _BARE_DATE_WORDS:
            continue
        if (guess := _dates(sample, str(column))) is not None:
            found.append(guess)
    return found[0] if len(found) == 1 else None


def _dates(sample: pd.DataFrame, column: str) -> TimestampGuess | None:
    """``column`` as dates and their format, when its values read as dates in one."""
    try:
        fmt = timestamp_format(sample[column], unix=True)
    except ValueError:
        return None
    return None if fmt is False else TimestampGuess(column, fmt if isinstance(fmt, str) else None)


def customer_table(
    source: SourceFile, sample: pd.DataFrame, *, events_id: str, exclude: Sequence[str] = ()
) -> CustomerTable:
    """The customers table: the events' id column (or one like it), a signup date if a date
    column is named like one, every other column an attribute."""
    customer_id = _id_column(sample, events_id, source.path)
    ids = whole_number_ids(filled_text(sample[customer_id]))  # '12.0' is '12', as ingest reads it
    if not (repeated := ids[ids.duplicated()]).empty:
        raise RoleNotFound(
            f"{source.path}: column {customer_id!r} repeats {repeated.nunique():,} customer "
            f"id(s) in its first {len(sample):,} rows (e.g. {repeated.iloc[0]!r}); a customers "
            "table has one row per customer, and ingest would stop on it. One row per contract "
            "or subscription? Keep each customer's latest row (its attributes today), and give "
            "the contracts' end dates as --churn-events if they are cancellations."
        )
    signup = None
    for column in sample.columns:
        if column == customer_id or column in exclude or not _SIGNUP_NAME.search(column):
            continue
        if (signup := _dates(sample, str(column))) is not None:
            break
    bare_date = None
    if signup is None and (bare_date := _bare_date(sample, [customer_id, *exclude])) is not None:
        signup = bare_date
    taken = {customer_id, signup.column if signup else "", *exclude}
    # a churn flag, a cancellation date or a status that says a customer left is known only
    # after the customer left (KKBox's members with is_churn, a subscription's status of
    # active or canceled): the table is as of its export, so as a feature of every cutoff
    # before it would be the label
    outcomes = [
        str(c)
        for c in sample.columns
        if c not in taken
        and (
            set(name_words(str(c))) & (LABEL_NAME_WORDS | CANCEL_FLAG_WORDS)
            or leaving_status(str(c), sample[c])
        )
    ]
    taken |= set(outcomes)
    candidates = [str(c) for c in sample.columns if c not in taken]
    contacts, private = private_columns(sample, candidates)
    kept = set(contacts.values()) | set(private)
    attributes = attribute_names([c for c in candidates if c not in kept])
    categorical = tuple(
        n
        for n, c in attributes.items()
        if not is_numeric(sample[c]) or is_code_column(c, sample[c])
    )
    dated = [c for c in outcomes if _reads_as_dates(sample[c])]
    notes: tuple[str, ...] = (
        (
            f"{source.path}: left out {', '.join(map(repr, outcomes))}: named like a churn "
            "label or a cancellation, or a status with a value that says a customer left, "
            "known only once a customer has left, so no feature of the cutoffs before; the "
            "events say who churned"
            + (
                f" (--churn-events {source.path} reads the dates of "
                f"{', '.join(map(repr, dated))} as cancellations)"
                if dated
                else ""
            ),
        )
        if outcomes
        else ()
    )
    numeric = [c for n, c in attributes.items() if n not in categorical]
    notes += tuple(f"{source.path}: {note}" for note in age_notes(sample, numeric))
    if bare_date is not None:
        notes += (
            f"{source.path}: {bare_date.column!r} is the table's one date, taken for the day "
            "each customer signed up (signup_date: tenure and signup features); if it is "
            f"another date, give --exclude {bare_date.column}",
        )
    # a monthly charge, never a running total: that times the horizon's months is no value
    charges = [c for c in charge_candidates(sample, numeric) if not is_running_total(c)]
    by_column = {column: name for name, column in attributes.items()}
    period, units = (
        billing_columns(
            sample,
            [c for n, c in attributes.items() if n in categorical],
            numeric,
            charge=charges[0],
        )
        if charges
        else (None, None)
    )
    return CustomerTable(
        source,
        customer_id,
        signup,
        attributes,
        categorical,
        contacts,
        tuple(private),
        notes=notes,
        charge=by_column[charges[0]] if charges else None,
        charge_period=None if period is None else by_column[period],
        charge_quantity=None if units is None else by_column[units],
    )


_AGE_WORDS = frozenset({"age", "bd", "ages"})
"""Words of a column's name that make it a person's age (KKBox's ``bd``)."""
AGE_RANGE = (1, 110)
"""Ages a customer can have; others are placeholders or typos (KKBox's ``bd`` of 0, -7000,
2016)."""


def age_notes(sample: pd.DataFrame, numeric: Sequence[str]) -> list[str]:
    """A note for each numeric column of ``sample`` named like an age (:data:`_AGE_WORDS`)
    with values outside :data:`AGE_RANGE`: the data is read as it is, the user told."""
    notes = []
    low, high = AGE_RANGE
    for column in numeric:
        if not set(name_words(column)) & _AGE_WORDS:
            continue
        numbers, _ = parse_numbers(filled_text(sample[column]))
        odd = numbers[(numbers < low) | (numbers > high)]
        if odd.empty:
            continue
        examples = ", ".join(f"{v:g}" for v in sorted(odd.unique())[:5])
        notes.append(
            f"{column!r} holds ages outside {low} to {high} on {len(odd):,} of "
            f"{len(numbers):,} sampled rows ({examples}): placeholders or typos, read as they "
            "are; blank them in the file (or leave the column out with --exclude) if they "
            "should not count as ages"
        )
    return notes


MIN_ID_OVERLAP = 0.5
"""The share of a customers table's ids (in its sample) that must be among the events' ids
for init to take the two as keyed alike without a word."""


def customer_overlap_notes(
    table: CustomerTable, sample: pd.DataFrame, event_ids: pd.Series
) -> list[str]:
    """A note when fewer than :data:`MIN_ID_OVERLAP` of the customers table's sampled ids are
    among ``event_ids`` (the whole log's, as :mod:`churn.init.whole_log` reads them), the
    table's read the same way (``12697.0`` is ``12697``): a table keyed by another id, or ids
    written otherwise, joins few customers and their attributes go missing."""
    ids = whole_number_ids(filled_text(sample[table.customer_id]))
    if ids.empty:
        return []
    shared = ids.isin(set(event_ids.dropna()))
    if shared.mean() >= MIN_ID_OVERLAP:
        return []
    missing = ids[~shared].head(3).tolist()
    return [
        f"{table.source.path}: only {int(shared.sum()):,} of the first {len(ids):,} customer "
        f"ids in column {table.customer_id!r} are among the events' ids (e.g. {missing} are "
        "not): check that both files key the same customers, written the same way"
    ]


_QUANTITY_WORDS = frozenset({"quantity", "qty", "seats", "seat", "licenses", "licences"})


def charge_is_total(charges: pd.Series, counts: pd.Series) -> bool:
    """Whether a charge already holds a price times the count beside it (an accounts table's
    ``mrr`` of 99 per seat for 3 seats: 297): over the rows of one count or more, with some
    above one, the charge per unit takes at most half as many values (to the cent) as the
    charge itself. A price per seat (Stripe's ``Amount`` beside ``Quantity``) takes few
    values, and divided by the seats many."""
    both = pd.DataFrame(
        {"charge": parse_numbers(filled_text(charges))[0], "count": parse_numbers(counts)[0]}
    ).dropna()
    both = both[both["count"] >= 1]
    if both.empty or not (both["count"] > 1).any():
        return False
    per_unit = (both["charge"] / both["count"]).round(2).nunique()
    return bool(per_unit * 2 <= both["charge"].round(2).nunique())


def billing_columns(
    sample: pd.DataFrame,
    text_columns: Sequence[str],
    numeric_columns: Sequence[str],
    *,
    charge: str | None = None,
) -> tuple[str | None, str | None]:
    """The columns beside a charge that say what it pays for: the first text column whose
    values name billing periods (Stripe's ``Interval``: month, year;
    :func:`churn.data.billing_periods.names_periods`), and the first number named like a
    count of seats or licences (Stripe's ``Quantity``) holding whole numbers of at least 0,
    unless the ``charge`` column already holds the price times it (:func:`charge_is_total`),
    which that count would multiply a second time."""
    period = next((c for c in text_columns if names_periods(sample[c])), None)
    units = None
    for column in numeric_columns:
        if not set(name_words(column)) & _QUANTITY_WORDS:
            continue
        counts = parse_numbers(filled_text(sample[column]))[0].dropna()
        if len(counts) and (counts >= 0).all() and (counts == counts.round()).all():
            if charge is None or not charge_is_total(sample[charge], filled_text(sample[column])):
                units = column
            break
    return period, units


PERSON_GAIN = 2
"""A person column is taken when reading the log by person shows at least this many times as
many customers coming back (any, where none came back by the events' own id)."""


def person_candidates(sample: pd.DataFrame, table: CustomerTable) -> list[str]:
    """Columns of a customers table that may name the person behind the events' customer id:
    named like an id, not the id itself, not a contact field, with values that repeat in the
    sample (one person, several ids) first."""
    taken = {table.customer_id, *table.contact_fields.values()}
    named = [c for c in id_candidates([str(c) for c in sample.columns]) if c not in taken]

    def repeats(column: str) -> bool:
        values: pd.Series = sample[column]
        return bool(filled_text(values).duplicated().any())

    return sorted(named, key=lambda c: not repeats(c))


def by_person(table: CustomerTable, column: str, before: Returns, after: Returns) -> CustomerTable:
    """``table`` mapping ``column`` as ``person_id``, out of its attributes, with a note of
    what reading the log by person changes."""
    attributes = {n: c for n, c in table.attributes.items() if c != column}
    note = (
        f"{table.source.path}: customer ids are read as the person in {column!r} "
        f"(data.customers person_id): {before.customers:,} ids are {after.customers:,} "
        f"people, of whom {after.returning:,} come back ({before.returning:,} by id alone)"
    )
    return replace(
        table,
        attributes=attributes,
        categorical=tuple(n for n in table.categorical if n in attributes),
        private=tuple(c for c in table.private if c != column),
        person_id=column,
        notes=(*table.notes, note),
    )


def private_notes(contacts: dict[str, str], private: Sequence[str], where: str) -> list[str]:
    """What :func:`churn.data.personal_columns.private_columns` found in ``where``, said."""
    notes = []
    if contacts:
        mapped = ", ".join(f"{f} {c!r}" for f, c in contacts.items())
        notes.append(
            f"{where}: contact fields for the CRM files, never features "
            f"(data.customers.sources[].contact_fields): {mapped}"
        )
    if private:
        notes.append(
            f"{where}: left out of the features as personal data or an identifier (named "
            "like a name, a phone or an address with many values, or nearly every value "
            f"different): {', '.join(repr(c) for c in private)}"
        )
    return notes


def churn_event_table(
    source: SourceFile, sample: pd.DataFrame, *, events_id: str
) -> ChurnEventTable:
    """Cancellations: the events' id column (or one like it) and a timestamp, a date named
    like a cancellation or an end when there is one (a subscriptions table's ``Canceled At``
    beside its ``Created``; its blank rows, subscriptions not cancelled, are dropped)."""
    given = events_id if events_id in sample.columns else None
    try:
        roles = infer_event_roles(sample, customer_id=given, timestamp=_cancel_time(sample))
    except RoleNotFound as exc:
        raise RoleNotFound(f"{source.path}: {exc}") from None
    return ChurnEventTable(source, roles.customer_id, roles.timestamp)


_CANCEL_WORDS = (
    frozenset({"cancel", "canceled", "cancelled", "cancellation", "canceledat", "cancelledat"}),
    frozenset({"churn", "churned", "terminated", "termination", "unsubscribed", "deactivated"}),
    frozenset({"end", "ended", "ends", "closed", "stopped", "left"}),
)
"""Words of a date column's name that make it when a customer left, strongest first."""
_NOT_CANCEL_WORDS = frozenset({"period", "trial", "billing", "renewal", "expected", "scheduled"})
"""Words that make an end-named date something else (Stripe's ``Current Period End``)."""


def cancellation_label(sample: pd.DataFrame) -> str | None:
    """A snapshot's label when no column is named like one: the date named like a
    cancellation (:func:`_cancel_time`) that is blank on some rows and filled on others, so
    that a date means churned and a blank stayed (``churned_when: filled``); None otherwise."""
    column = _cancel_time(sample)
    if column is None:
        return None
    filled = filled_text(sample[column]).size
    return column if 0 < filled < len(sample) else None


def _cancel_time(sample: pd.DataFrame) -> str | None:
    """The column of ``sample`` that reads as dates and is named like a cancellation (first of
    :data:`_CANCEL_WORDS`), or None."""
    ranked = []
    for position, column in enumerate(map(str, sample.columns)):
        words = set(name_words(column))
        strength = next((k for k, group in enumerate(_CANCEL_WORDS) if words & group), None)
        if strength is None or words & _NOT_CANCEL_WORDS:
            continue
        try:
            dated = timestamp_format(sample[column]) is not False
        except ValueError:  # day-first and month-first: still a date
            dated = True
        if dated and filled_text(sample[column]).size:
            ranked.append(((strength, position), column))
    return min(ranked)[1] if ranked else None


FEW_RETURNING = 0.02
"""Below this share of customers seen on two days or more, the findings warn that almost
everyone will churn."""


def _return_notes(
    came_back: Returns,
    sources: Sequence[tuple[SourceFile, EventRoles]],
    *,
    explicit: bool,
) -> list[str]:
    """Notes on who came back; raises RoleNotFound when nobody did and churn can only be read
    from inactivity: every customer would churn and ``churn train`` would stop at its end."""
    ids = sorted({roles.customer_id for _, roles in sources})
    column = ids[0] if len(ids) == 1 else ids
    files = ", ".join(source.path for source, _ in sources)
    if came_back.returning == 0 and came_back.customers > 0:
        said = (
            f"{files}: none of the {came_back.customers:,} customers of column {column!r} is "
            "active on two different days, so every one of them would read as churned"
        )
        if explicit:
            return [
                f"{said} by inactivity: set labels.churn_definition to explicit to count the "
                "cancellations only"
            ]
        raise RoleNotFound(
            f"{said} and churn train would stop with one class. If {column!r} is a new id per "
            "order or visit, name the column of the person with --customer-id COLUMN; or give "
            "the table that maps each id to its person with --customers FILE (Olist's "
            "customers table, with customer_unique_id), and init keys everything by the person."
        )
    share = came_back.returning / came_back.customers if came_back.customers else 1.0
    if share < FEW_RETURNING:
        return [
            f"only {came_back.returning:,} of {came_back.customers:,} customers ({share:.1%}) "
            f"are active on two different days: almost everyone will read as churned. Check "
            f"that {column!r} identifies a person, not an order"
        ]
    return []


def _cancel_flag(sources: Sequence[tuple[SourceFile, EventRoles]]) -> str | None:
    return next((roles.event_type for _, roles in sources if roles.cancel_flag), None)


def _cancels(types: Sequence[str], flag: str | None) -> tuple[str, ...]:
    return yes_values(types) if flag is not None else cancellation_types(types)


def label_activity(
    types: Sequence[str], sources: Sequence[tuple[SourceFile, EventRoles]]
) -> tuple[str, ...]:
    """The event types that keep a customer from churning (``labels.activity_event_types``):
    every type but cancellations, or only the purchases among views and carts
    (:func:`purchase_types`). Empty: every event (a log without an event type column)."""
    flag = _cancel_flag(sources)
    cancels = _cancels(types, flag)
    credits = _credits(sources)
    activity = tuple(t for t in types if t not in cancels and t not in credits)
    # a file without event types (a usage log beside the payments) may be anything: keep all
    typed = all(roles.event_type is not None for _, roles in sources)
    return (purchase_types(activity) if flag is None and typed else ()) or activity


def _credits(sources: Sequence[tuple[SourceFile, EventRoles]]) -> tuple[str, ...]:
    """The event types whose rows carry negative amounts (credit notes): returns."""
    return tuple(dict.fromkeys(t for _, roles in sources for t in roles.credit_types))


ZERO_AMOUNT_TYPE = "no_spend"
"""The event type init gives rows of amount 0 when they are a large share of the log."""
ZERO_AMOUNT_SHARE = 0.05
"""Share of rows with amount 0 from which they are taken as no purchase: a shop's free lines
and zero-priced samples are far fewer."""


def _listed_types(types: Sequence[str], most: int = 12) -> str:
    shown = ", ".join(types[:most])
    return shown + (f" and {len(types) - most:,} more" if len(types) > most else "")


def events_plan(
    name: str,
    sources: tuple[tuple[SourceFile, EventRoles], ...],
    cutoffs: CutoffPlan,
    *,
    horizon_days: int,
    types: tuple[str, ...] = (),
    customers: CustomerTable | None = None,
    churn_events: ChurnEventTable | None = None,
    came_back: Returns | None = None,
    missing_timestamps: int = 0,
    missing_ids: int = 0,
    zero_amounts: float = 0.0,
    frequent_types: tuple[str, ...] = (),
    return_rule: str | None = None,
    paid_types: tuple[str, ...] = (),
) -> EventsPlan:
    """The plan of an events pipeline. ``came_back``: who returned in the whole log; a log in
    which nobody returns (ids that are an order's) is refused unless cancellations are
    known. ``return_rule``: the prefix of a cancelled invoice's order id
    (:func:`churn.init.event_kinds.return_prefix`), for a log without an event type column.
    ``paid_types``: the event types of the files with an amount."""
    notes = [note for _, roles in sources for note in roles.notes]
    paid = [source.path for source, roles in sources if roles.amount is not None]
    if paid and len(paid) < len(sources):  # orders beside visits: the orders' amounts count
        notes = [n for n in notes if n != NO_AMOUNT]
        unpaid = [source.path for source, roles in sources if roles.amount is None]
        notes.append(
            f"the amounts of {', '.join(paid)} are the spend the value model reads; "
            f"{', '.join(unpaid)} ha{'s' if len(unpaid) == 1 else 've'} none"
        )
    if customers is not None and customers.charge is not None and not paid:
        charged = customers.attributes[customers.charge]
        notes = [n for n in notes if n != NO_AMOUNT]
        notes.append(
            f"no amount column: a customer's value is their {charged!r} of "
            f"{customers.source.path} over the horizon (scoring.value.method: recurring)"
        )
    if customers is not None:
        notes += customers.notes
        notes += private_notes(customers.contact_fields, customers.private, customers.source.path)
    flag = _cancel_flag(sources)
    cancels = _cancels(types, flag)
    if came_back is not None:
        notes.extend(_return_notes(came_back, sources, explicit=bool(churn_events or cancels)))
    if missing_timestamps:
        notes.append(
            f"{missing_timestamps:,} row(s) have no timestamp (a totals line?): such rows are "
            "dropped (data.events.drop_missing_timestamp)"
        )
    if zero_amounts:
        amounts = sorted({roles.amount for _, roles in sources if roles.amount})
        notes.append(
            f"{zero_amounts:.0%} of the rows have {', '.join(map(repr, amounts))} 0 (a "
            f"statement of a month without spend?): they are event type {ZERO_AMOUNT_TYPE}, "
            "which is no activity (data.events.zero_amount_event_type)"
        )
    if missing_ids and not any(roles.blank_ids for _, roles in sources):  # else said already
        notes.append(
            f"{missing_ids:,} row(s) have no customer id (guests?), none among the first rows: "
            "such rows are dropped (data.events.drop_missing_customer_id)"
        )
    lapse = came_back.lapse if came_back is not None else None
    if lapse is not None:
        notes.append(
            f"customers silent for more than {lapse.days} days before a cutoff are taken as "
            f"already lost and not scored (labels.max_inactive_days): 99 % of the "
            f"{lapse.returns:,} returns in the data came within {lapse.return_gap_days:.0f} days"
        )
    activity = tuple(t for t in types if t not in cancels)
    keeps = label_activity(types, sources)
    returns = (
        ()
        if flag is not None
        else tuple(dict.fromkeys((*return_types(activity), *_credits(sources))))
    )
    rule = return_rule if not activity else None
    if rule is not None:  # the lines of a cancelled invoice are returns
        purchase = EventsSettings.model_fields["default_event_type"].default
        activity, keeps, returns = (purchase, RETURN_TYPE), (purchase,), (RETURN_TYPE,)
        notes.append(
            f"lines whose order id starts with {rule!r} have negative units: they are "
            f"returns (data.events.event_type_rules), event type {RETURN_TYPE!r}, which is no "
            "purchase"
        )
    if flag is not None:
        notes.append(
            f"rows whose {flag!r} is {' or '.join(cancels) or 'yes'} are taken as cancellations "
            "(data.events.churn_event_types), every other row as activity"
        )
    else:
        if cancels:
            notes.append(
                f"events of type {', '.join(cancels)} are taken as cancellations "
                "(data.events.churn_event_types), not as activity"
            )
        if returns:
            notes.append(
                f"events of type {', '.join(returns)} count as returns "
                "(features.return_event_types): return features, value net of returns"
            )
        if (bought := keeps) != activity:
            others = [t for t in activity if t not in bought]
            counted = (
                f"{_listed_types(others)} are counted as features"
                if len(activity) <= MAX_FEATURE_TYPES
                else f"of the {len(others):,} others ({_listed_types(others, 6)}) the most "
                "frequent are counted as features (features.event_types), every one in the "
                "count of events"
            )
            notes.append(
                f"only {_listed_types(bought)} events keep a customer from churning "
                f"(labels.activity_event_types): a customer is someone who buys; {counted}. "
                "Add any that mean a customer stays"
            )
        elif activity:
            notes.append(
                f"every other event type counts as activity ({_listed_types(activity)}): keep "
                "only the ones that mean a customer is still a customer in "
                "labels.activity_event_types"
            )
    if churn_events is not None or cancels:
        notes.append(
            "a customer churns on a cancellation or on inactivity (labels.churn_definition: "
            "either); set explicit to count cancellations only"
        )
    return EventsPlan(
        check_pipeline_name(name),
        sources,
        horizon_days,
        cutoffs,
        activity,
        customers,
        churn_events,
        tuple(dict.fromkeys(notes)),
        cancels,
        returns,
        lapse.days if lapse is not None else None,
        missing_timestamps=missing_timestamps,
        missing_ids=missing_ids,
        zero_amounts=zero_amounts,
        label_activity=keeps,
        feature_types=_feature_types(activity, keeps, returns, frequent_types),
        return_rule=rule,
        return_gap_days=lapse.return_gap_days if lapse is not None else None,
        paid_types=paid_types,
    )


def _feature_types(
    activity: Sequence[str],
    keeps: Sequence[str],
    returns: Sequence[str],
    frequent: Sequence[str],
) -> tuple[str, ...]:
    """The event types counted one feature each when there are too many to count every one:
    those that keep a customer (when they are few) and the returns, then the most frequent,
    :data:`MAX_FEATURE_TYPES` in all; empty when every type is counted."""
    if len(activity) <= MAX_FEATURE_TYPES:
        return ()
    first = [*(keeps if len(keeps) <= MAX_FEATURE_TYPES else ()), *returns]
    chosen = list(dict.fromkeys([*first, *(t for t in frequent if t in activity)]))
    return tuple(sorted(chosen[: max(MAX_FEATURE_TYPES, len(first))]))


def date_columns(sample: pd.DataFrame, columns: Sequence[str]) -> tuple[list[str], str | None]:
    """The text columns of ``columns`` whose values read as dates, in one format (a source
    has one ``timestamp_format``: that of the first, others written alike), and the format
    (None: ISO 8601). Columns that read day-first and month-first alike are left as they are."""
    found: list[str] = []
    first: str | bool | None = False
    for column in columns:
        try:
            fmt = timestamp_format(sample[column])
        except ValueError:
            continue
        if fmt is False or (found and fmt != first):
            continue
        found.append(column)
        first = fmt
    return found, first if isinstance(first, str) else None


def _without(roles: SnapshotRoles, columns: Sequence[str]) -> SnapshotRoles:
    """``roles`` with ``columns`` neither attributes nor the value (nor a note naming it the
    value: init would say "value column X" and "none found" at once)."""
    gone = roles.value in columns
    return replace(
        roles,
        numeric=tuple(c for c in roles.numeric if c not in columns),
        categorical=tuple(c for c in roles.categorical if c not in columns),
        value=None if gone else roles.value,
        notes=tuple(
            n for n in roles.notes if not (gone and n.startswith(f"value column {roles.value!r}"))
        ),
    )


def snapshot_plan(
    name: str,
    source: SourceFile,
    sample: pd.DataFrame,
    *,
    label: str,
    snapshot_date: dt.date,
    positive: str | None = None,
    customer_id: str | None = None,
    value: str | None = None,
    exclude: Sequence[str] = (),
    label_filled: bool = False,
    whole_file: bool = False,
    dated_by: str = "file date",
) -> SnapshotPlan:
    """A snapshot's roles. A file without a customer id column numbers its customers by row
    (``row_1``, ...), which the printed findings say. ``label_filled``: the label is a
    cancellation date, blank for customers who stayed (:func:`cancellation_label`).
    ``whole_file``: ``sample`` holds every row, so a column with one value there has one value
    everywhere and is left out. ``dated_by``: where ``snapshot_date`` comes from, as said."""
    _check_excluded(exclude, sample, source.path)
    named = set(id_candidates([str(c) for c in sample.columns]))  # an id 50001, 50002, ...
    numbered = [
        c
        for c in row_numbers(sample, list(sample.columns))
        if c not in {label, customer_id, *named}
    ]
    kept_out = [*exclude, *(c for c in numbered if c not in exclude)]

    def roles_with(customer_id: str | None) -> SnapshotRoles:
        try:
            return infer_snapshot_roles(
                sample,
                label=label,
                positive=positive,
                customer_id=customer_id,
                value=value,
                exclude=kept_out,
                filled=label_filled,
            )
        except RoleNotFound as exc:
            raise RoleNotFound(f"{source.path}: {exc}") from None

    roles = roles_with(customer_id)
    notes: list[str] = []
    if roles.customer_id is None:
        open_columns = [c for c in sample.columns if c not in {label, *kept_out}]
        for found, why in (
            (numeric_codes(sample, open_columns), "by its values (a numeric code of one width"),
            (key_columns(sample, open_columns), "(named like a key"),
        ):
            if len(found) == 1:
                roles = roles_with(found[0])
                notes.append(
                    f"no column is named like a customer id: {found[0]!r} was taken for one "
                    f"{why}, distinct on every row); if it is not the customer, give "
                    "--customer-id COLUMN"
                )
                break
    if roles.customer_id is None:  # an id named like one that repeats keys nobody
        # only a name with an id word: "Customer service calls" and "Account length" are
        # measures of the customer, named after them (Orange Telecom's churn-bigml)
        repeated = [
            c for c in (*roles.numeric, *roles.categorical) if c in named and named_as_id(c)
        ]
        if repeated:
            roles = _without(roles, repeated)
            notes.append(
                f"left out {', '.join(map(repr, repeated))}: named like the customer id but "
                "repeating, so not the key (a synthetic or joined file?), and an id tells "
                "nothing about a customer"
            )
    if whole_file:  # a column with one value everywhere tells no customer from another
        attributes_in_order = [
            c for c in sample.columns if c in {*roles.numeric, *roles.categorical}
        ]
        constant = constant_columns(sample, attributes_in_order)
        if constant:
            roles = _without(roles, constant)
            notes.append(f"left out {', '.join(repr(c) for c in constant)}: one value on every row")
    if numbered:
        notes.append(
            f"left out {', '.join(repr(c) for c in numbered)}: row numbers (1, 2, 3, ... in "
            "file order), not a trait of the customer"
        )
    # said below, with the candidates
    notes += [n for n in roles.notes if not n.startswith("no unique customer id column")]
    if roles.customer_id is None:
        candidates = [
            c for c in sample.columns if c not in {label, *numbered} and sample[c].is_unique
        ]
        notes.append(
            "no column is a unique customer id by its name, so customers are numbered by row "
            f"(row_1, ...); columns with unique values: {candidates or 'none'}. If one of them "
            "is the id, run again with --customer-id COLUMN --force"
        )
    dated, date_format = date_columns(sample, roles.categorical)
    contacts, private = private_columns(
        sample, [c for c in (*roles.numeric, *roles.categorical) if c not in dated]
    )
    if roles.customer_id is None:  # no id to join the CRM's fields by: leave them out too
        private, contacts = [*contacts.values(), *private], {}
    notes += private_notes({}, private, source.path)  # contacts: said by with_contacts
    roles = _without(roles, [*contacts.values(), *private])
    attributes = attribute_names(
        [c for c in sample.columns if c in roles.numeric + roles.categorical]
    )
    attributes = {
        (f"days_since_{snake_case(c)}" if c in dated else n): c for n, c in attributes.items()
    }
    numeric = tuple(n for n, c in attributes.items() if c in roles.numeric)
    dates = tuple(n for n, c in attributes.items() if c in dated)
    if dates:
        notes.append(
            f"dates become days before the snapshot date (data.snapshot.date_attributes): "
            f"{', '.join(repr(attributes[n]) for n in dates)}"
        )
    notes.append(
        f"the snapshot is dated {snapshot_date} ({dated_by}; labels.snapshot_date): set the day "
        "the export describes"
    )
    charge_columns = (
        billing_columns(
            sample,
            [c for n, c in attributes.items() if n not in numeric and n not in dates],
            [c for n, c in attributes.items() if n in numeric],
            charge=roles.value,
        )
        if roles.value
        else (None, None)
    )
    worthless = worthless_share(sample[roles.value]) if roles.value else 0.0
    if worthless >= WORTHLESS_SHARE:
        notes.append(
            f"{worthless:.0%} of the customers have {roles.value!r} 0 or blank: ranked by "
            "expected value saved (the default) they would never be contacted, so the list "
            "ranks by churn probability (scoring.outreach.priority); value at risk is still "
            "given"
        )
    return SnapshotPlan(
        check_pipeline_name(name),
        source,
        roles,
        attributes,
        numeric,
        snapshot_date,
        tuple(notes),
        contacts=contacts,
        date_attributes=dates,
        date_format=date_format,
        dated_by=dated_by,
        charge_columns=charge_columns,
        rank_by_probability=worthless >= WORTHLESS_SHARE,
    )


WORTHLESS_SHARE = 0.2
"""Share of customers of value 0 or blank from which a value cannot rank the outreach list:
scoring contacts only customers an action is worth something for."""


def worthless_share(values: pd.Series) -> float:
    """Share of ``values`` that are blank or a number of at most 0 (a value of nothing);
    text that is no number counts as a value."""
    text = values.astype("string").str.strip()
    blank = text.isna() | (text == "")
    numbers = parse_numbers(text.where(~blank))[0]
    return float((blank | (numbers <= 0).fillna(False)).mean()) if len(text) else 0.0


def without_leaks(plan: SnapshotPlan, sample: pd.DataFrame) -> SnapshotPlan:
    """``plan`` without the attributes that look like the label in disguise on ``sample`` (a
    churn value, score, reason or date known only after a customer left), by the leak screen
    ``churn train`` runs (:func:`churn.modeling.leakage.leak_suspects`): the first run then
    trains instead of stopping there. Each is named in a note and in the params file."""
    wanted = label_text(plan.roles.positive)
    labels = [label_text(v) for v in sample[plan.roles.label]]
    filled = plan.roles.filled  # a value churned, a blank stayed: every row is known
    known = [filled or t is not None for t in labels]
    y = np.array(
        [
            (t is not None) if filled else t == wanted
            for t, k in zip(labels, known, strict=True)
            if k
        ],
        dtype=np.int8,
    )
    rows = sample[known].reset_index(drop=True)
    numbers = (*plan.numeric_attributes, *plan.date_attributes)

    def values(name: str, column: str) -> pd.Series:
        if name in plan.date_attributes:  # the order of dates is what a model sees of them
            parsed, _ = parse_timestamps(rows[column], fmt=plan.date_format, timezone="UTC")
            return parsed.astype("int64").where(parsed.notna()).astype(float)
        if name in plan.numeric_attributes:
            return parse_numbers(rows[column])[0]
        return rows[column].replace("", None)

    frame = pd.DataFrame({name: values(name, column) for name, column in plan.attributes.items()})
    suspects = leak_suspects(
        frame,
        y,
        numeric=[n for n in plan.attributes if n in numbers],
        categorical=[n for n in plan.attributes if n not in numbers],
        label_name=plan.roles.label,
    )
    if not suspects:
        return plan
    names = {s.column for s in suspects}
    left_out = tuple((plan.attributes[s.column], s.phrase()) for s in suspects)
    note = (
        f"left out {', '.join(repr(c) for c, _ in left_out)}: they look like the label in "
        "disguise on the first rows (a value known only after a customer left); put any back "
        "in data.snapshot.source.attributes if it is known before"
    )
    return replace(
        plan,
        attributes={n: c for n, c in plan.attributes.items() if n not in names},
        numeric_attributes=tuple(n for n in plan.numeric_attributes if n not in names),
        date_attributes=tuple(n for n in plan.date_attributes if n not in names),
        left_out=left_out,
        notes=(*plan.notes, note),
    )


def sized_for_training(plan: SnapshotPlan, labels: pd.Series) -> SnapshotPlan:
    """``plan`` with the ``train.min_class_rows`` its class sizes allow (``labels``: every
    value of the label column), and a note saying so: a small export must not run every stage
    only to stop in ``churn train``."""
    churners, stayers = class_sizes(labels, plan.roles.positive, any_value=plan.roles.filled)
    split = SnapshotLabelSettings.model_fields
    default = TrainSettings.model_fields["min_class_rows"].default
    needed = fitting_min_class_rows(
        churners,
        stayers,
        test_fraction=split["test_fraction"].default,
        valid_fraction=split["valid_fraction"].default,
        default=default,
    )
    if needed is None:
        return plan
    note = (
        f"only {min(churners, stayers):,} {'churners' if churners <= stayers else 'stayers'} "
        f"of {churners + stayers:,} rows: train.min_class_rows is set to {needed} (default "
        f"{default}) so the validation set can be used"
    )
    if needed < SMALL_CLASS_WARNING:
        note += "; with so few, every figure is noise: add rows before trusting the model"
    return replace(plan, min_class_rows=needed, notes=(*plan.notes, note))


_ROLE_NAMES = {"train": "training", "valid": "validation", "test": "test"}


def sized_events(plan: EventsPlan, counts: dict[str, tuple[int, int]]) -> EventsPlan:
    """``plan`` with the ``train.min_class_rows`` its labels allow, and a note saying so.
    ``counts``: (churners, stayers) per training, validation and test split of the labels the
    plan's settings make on the whole log. A split without one of the classes cannot train or
    be judged: the note says which and what to change."""
    default = TrainSettings.model_fields["min_class_rows"].default
    split, (churners, stayers) = min(counts.items(), key=lambda item: min(item[1]))
    smallest = min(churners, stayers)
    if smallest >= default:
        return plan
    fewer = "churners" if churners <= stayers else "stayers"
    said = f"the {_ROLE_NAMES[split]} cutoff labels {churners:,} churners and {stayers:,} stayers"
    if smallest == 0:
        note = (
            f"{said}: churn train will stop with one class. Change --horizon-days or "
            "--test-cutoff, or add data"
        )
        return replace(plan, notes=(*plan.notes, note))
    note = (
        f"{said}: train.min_class_rows is set to {smallest} (default {default}) so the model "
        "can train"
    )
    if smallest < SMALL_CLASS_WARNING:
        note += f"; with so few {fewer}, every figure is noise: add data before trusting it"
    return replace(plan, min_class_rows=smallest, notes=(*plan.notes, note))


MOSTLY_CHURN = 0.5
"""Churn rate at the test cutoff from which init tiers risk by probability: percentile tiers
would call Low the half of the customers who are still more likely to leave than stay."""


def tiered_events(plan: EventsPlan, counts: dict[str, tuple[int, int]]) -> EventsPlan:
    """``plan`` with risk tiers by probability, and a note, when most customers of the test
    cutoff churn (``counts``: (churners, stayers) per split, as :func:`sized_events` reads
    them; CDNOW's one-time buyers: 86 %)."""
    churners, stayers = counts.get("test", (0, 0))
    if churners + stayers == 0 or churners / (churners + stayers) < MOSTLY_CHURN:
        return plan
    rate = churners / (churners + stayers)
    note = (
        f"{rate:.0%} of the test cutoff's customers churn: risk tiers are by probability "
        "(scoring.risk_tiers: High >= 0.6, Medium >= 0.3), since the default tiers by "
        "percentile would call half of them, likely churners too, Low risk in the CRM files"
    )
    return replace(plan, tiers_by_probability=True, notes=(*plan.notes, note))


def with_contacts(plan: SnapshotPlan, table: CustomerTable | None) -> SnapshotPlan:
    """``plan`` with its customers table: ``table`` (``--customers``), else, when the
    snapshot itself holds contact fields, the snapshot file read a second time as a customers
    source holding only them (the CRM files need them; the features never see them)."""
    notes = list(plan.notes)
    if table is None and plan.contacts and plan.roles.customer_id is not None:
        table = CustomerTable(plan.source, plan.roles.customer_id, None, {}, (), plan.contacts)
        notes += private_notes(plan.contacts, (), plan.source.path)
    elif table is not None:
        notes += table.notes
        notes += private_notes(table.contact_fields, table.private, table.source.path)
        if plan.contacts:
            notes.append(
                f"{plan.source.path}: left out of the features as contact data: "
                f"{', '.join(repr(c) for c in plan.contacts.values())} (the CRM files take "
                f"contact fields from {table.source.path} only)"
            )
    return replace(plan, customers=table, notes=tuple(notes))
