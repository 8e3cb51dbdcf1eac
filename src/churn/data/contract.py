"""The input contract: user tables mapped by column name onto canonical frames, then validated.

Canonical frames (all timestamps are UTC without a zone, microsecond precision):

* events: ``customer_id`` (str), ``ts``, ``event_type`` (str), ``amount`` (float, may be
  missing), ``quantity`` (float, may be missing), ``order_id`` (str, may be missing),
  ``product_id`` (str, may be missing), then one column per configured attribute.
* customers: ``customer_id`` and, when mapped, ``signup_date``, then attribute columns (floats
  or text, as ``churn.data.attribute_types`` decides).
* churn_events: ``customer_id``, ``ts``.
* contacts: ``customer_id``, ``ts``, ``action``, ``control`` (bool), ``channel``, ``cost``.
* snapshot: ``customer_id``, ``churned`` (bool), then attribute columns
  (``churn.data.snapshot``).

Raw columns are read by ``churn.data.parsing``; each canonical table is then checked against
its pandera schema (``churn.data.schemas``). Every problem in every source is collected
(``churn.data.problems``) before anything is raised, so a user fixes their data in one pass.
Nothing here touches files: raw frames come in, canonical frames go out.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd

from churn.data.attribute_types import AttributeColumn, typed_attributes
from churn.data.inference import plain_number_text
from churn.data.notes import SourceNotes
from churn.data.parsing import (
    clean_text,
    event_type_key,
    event_type_matches,
    parse_ids,
    parse_numbers,
    parse_timestamps,
    whole_number_ids,
    written_as_none,
)
from churn.data.persons import PERSONS_TABLE, persons_join_sql
from churn.data.problems import Problems, row_labels
from churn.data.schemas import (
    churn_events_schema,
    contacts_schema,
    customers_schema,
    events_schema,
    schema_problems,
)
from churn.engines.sql import (
    SqlRunner,
    Table,
    duckdb_runner,
    duckdb_session,
    quote_identifier,
    quote_literal,
)
from churn.errors import Problem
from churn.settings import (
    CANONICAL_EVENT_COLUMNS,
    ChurnEventsSettings,
    ContactsSettings,
    CustomersSettings,
    EventsSettings,
    SourceSettings,
)

NUMERIC_COLUMNS = ("amount", "quantity", "unit_price")
TEXT_COLUMNS = ("order_id", "product_id", "event_type")
EVENT_FRAME_COLUMNS = CANONICAL_EVENT_COLUMNS
COVERAGE_COLUMN = "covered_until"
"""The column of the canonical events, after ``EVENT_FRAME_COLUMNS``, that says until when each
row's payment covers the customer; there only when a source maps it
(:func:`coverage_columns`), so a pipeline without it keeps its tables as they were."""


def coverage_columns(settings: EventsSettings) -> tuple[str, ...]:
    """``(COVERAGE_COLUMN,)`` when some source maps it, else nothing: the canonical events'
    columns are ``EVENT_FRAME_COLUMNS``, these, the attributes, then the measures."""
    return (COVERAGE_COLUMN,) if settings.covered else ()


INEXACT_IDS = (
    "customer id stored as a floating-point number that is not a whole number below 2^53, so "
    "it may already be another customer's id; store the ids as text or integers"
)


def customer_ids(values: pd.Series, src: SourceSettings, problems: Problems) -> pd.Series:
    """A raw id column as exact text (:func:`churn.data.parsing.parse_ids`: '12697.0' is read
    as '12697'), the source's ``missing_ids`` as missing (read the same way, so a guest's
    '0.0' is the '0' it is written as); float ids that cannot be exact are added to
    ``problems``."""
    ids, inexact = parse_ids(values)
    if len(inexact):
        problems.add(src.path, str(values.name), INEXACT_IDS, inexact)
    if src.missing_ids:
        missing = whole_number_ids(pd.Series(src.missing_ids, dtype=object))
        ids = ids.mask(ids.isin(set(missing)))
    return ids


def _missing_columns(raw: pd.DataFrame, src: SourceSettings, problems: Problems) -> bool:
    wanted = {**src.columns, **src.attributes, **src.measures}
    ok = True
    for target, col in wanted.items():
        if col not in raw.columns:
            ok = False
            problems.items.append(
                Problem(
                    src.path,
                    col,
                    f"column mapped to {target!r} not found; the file has columns "
                    f"{list(map(str, raw.columns))}",
                    0,
                )
            )
    if ok and raw.empty:
        problems.items.append(Problem(src.path, "<all>", "the file has a header but no rows", 0))
        ok = False
    return ok


MISSING_TIMESTAMP = (
    "timestamp is missing (a totals line? set data.events.drop_missing_timestamp: true to drop "
    "such rows)"
)


def _blank(values: pd.Series) -> pd.Series:
    """Where ``values`` hold nothing: missing, or blank text."""
    if pd.api.types.is_datetime64_any_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return values.isna()
    text = values.astype("string").str.strip()
    return (text.isna() | (text == "")).astype(bool)


def _map_event_source(
    raw: pd.DataFrame,
    src: SourceSettings,
    settings: EventsSettings,
    problems: Problems,
    notes: SourceNotes,
) -> pd.DataFrame | None:
    if not _missing_columns(raw, src, problems):
        return None
    cols = src.columns
    blank = _blank(raw[cols["timestamp"]])
    if blank.any():
        if settings.drop_missing_timestamp:
            notes.count_missing_timestamps(int(blank.sum()))
            raw = raw[~blank]
        else:
            problems.add(
                src.path, cols["timestamp"], MISSING_TIMESTAMP, row_labels(raw.index[blank])
            )
    out = pd.DataFrame(index=raw.index)
    out["customer_id"] = customer_ids(raw[cols["customer_id"]], src, problems)
    notes.ids.count(raw[cols["customer_id"]])
    ts, bad_ts = parse_timestamps(
        raw[cols["timestamp"]],
        fmt=src.timestamp_format,
        timezone=settings.timezone,
        clock_changes=notes.clock_changes,
    )
    if len(bad_ts):
        fmt = src.timestamp_format or "ISO 8601"
        problems.add(src.path, cols["timestamp"], f"unparseable timestamp (format {fmt})", bad_ts)
    out["ts"] = ts
    if "covered_until" in cols:
        out["covered_until"] = _covered_until(
            raw[cols["covered_until"]], ts, src, settings.timezone, problems=problems, notes=notes
        )
    for name in NUMERIC_COLUMNS:
        if name in cols:
            parsed, bad = parse_numbers(raw[cols[name]], src.decimal)
            if len(bad):
                problems.add(src.path, cols[name], _expected_number(src), bad)
            out[name] = parsed
    for name in TEXT_COLUMNS:
        if name in cols:
            out[name] = clean_text(raw[cols[name]])
    numeric = set(settings.numeric_attributes)
    for attr, col in src.attributes.items():
        out[attr] = (
            _event_numbers(raw[col], src, problems) if attr in numeric else clean_text(raw[col])
        )
    for measure, col in src.measures.items():
        out[measure] = _event_numbers(raw[col], src, problems)
    return out


def _covered_until(
    values: pd.Series,
    ts: pd.Series,
    src: SourceSettings,
    timezone: str,
    *,
    problems: Problems,
    notes: SourceNotes,
) -> pd.Series:
    """The ``covered_until`` column read as the timestamp is (``covered_until_format``, else
    the source's ``timestamp_format``; the same time zone): missing where blank (a payment
    without a paid period), a problem where unreadable. Rows covered until before their own
    timestamp (KKBox writes a cancellation's expiry before its transaction date) are counted
    in ``notes`` and kept: they reach no later day, so they extend nobody's coverage."""
    fmt = src.covered_until_format or src.timestamp_format
    parsed, bad = parse_timestamps(values, fmt=fmt, timezone=timezone)
    if len(bad):
        problems.add(
            src.path,
            str(values.name),
            f"unparseable covered_until date (format {fmt or 'ISO 8601'}; leave it blank for "
            "a payment without a paid period, or set covered_until_format on this source "
            "when the file writes it otherwise than the timestamp)",
            bad,
        )
    notes.covered_before_event += int((parsed < ts).sum())
    return parsed


def _event_numbers(values: pd.Series, src: SourceSettings, problems: Problems) -> pd.Series:
    """A column of numbers of an events source (a measure, a numeric attribute) as floats:
    values written as none are missing, those that do not read as numbers are problems."""
    written = values.mask(written_as_none(values))
    parsed, bad = parse_numbers(written, src.decimal)
    if len(bad):
        problems.add(src.path, str(values.name), _expected_number(src), bad)
    return parsed


def _derive_event_columns(
    frame: pd.DataFrame, settings: EventsSettings, notes: SourceNotes
) -> pd.DataFrame:
    """Amount from quantity and unit price when not mapped, missing optional columns, and
    the event type of each row: its own (trimmed and case-folded, see ``event_type_key``),
    else ``default_event_type``, then ``event_type_rules``, then ``zero_amount_event_type``
    for a row of the default type whose amount is 0."""
    out = frame.copy()
    if "amount" not in out and "unit_price" in out and "quantity" in out:
        out["amount"] = out["quantity"] * out["unit_price"]
    out = out.drop(columns=["unit_price"], errors="ignore")
    for name in ("amount", "quantity"):
        if name not in out:
            out[name] = np.nan
    for name in ("order_id", "product_id"):
        if name not in out:
            out[name] = None
    if "event_type" in out:
        spellings = out["event_type"].dropna().unique()
        notes.count_spellings(spellings)
        out["event_type"] = out["event_type"].map({v: event_type_key(v) for v in spellings})
    else:
        out["event_type"] = None
    out["event_type"] = out["event_type"].fillna(event_type_key(settings.default_event_type))
    for rule in settings.event_type_rules:
        hit = out[rule.column].fillna("").astype(str).str.startswith(rule.startswith)
        out.loc[hit, "event_type"] = event_type_key(rule.event_type)
    if settings.zero_amount_event_type is not None:
        zero = out["event_type"].eq(event_type_key(settings.default_event_type)) & out["amount"].eq(
            0
        )
        out.loc[zero, "event_type"] = event_type_key(settings.zero_amount_event_type)
    return out


def clean_event_chunk(
    raw: pd.DataFrame,
    src: SourceSettings,
    settings: EventsSettings,
    problems: Problems,
    *,
    now: dt.datetime,
    attributes: Sequence[str],
    notes: SourceNotes | None = None,
) -> tuple[pd.DataFrame | None, int]:
    """Map, clean and validate one chunk of rows of one events source (its index: the rows'
    0-based positions in the source, which error messages quote as line numbers). Problems are
    added to ``problems``, what is legal but worth a log line is counted in ``notes``. Returns
    the canonical rows (``EVENT_FRAME_COLUMNS``, ``covered_until`` when mapped, ``attributes``,
    then the measures of ``settings``), or None if the source
    lacks mapped columns, and the number of rows dropped for a missing customer id. Overlaps
    and duplicates are settled across all chunks by ``canonical_events_sql``."""
    notes = notes if notes is not None else SourceNotes()
    frame = _map_event_source(raw, src, settings, problems, notes)
    if frame is None:
        return None, 0
    n_missing = 0
    if settings.drop_missing_customer_id:
        no_id = frame["customer_id"].isna()
        n_missing = int(no_id.sum())
        frame = frame[~no_id]
    frame = _derive_event_columns(frame, settings, notes)
    notes.count_amounts(frame["amount"])
    for attr in attributes:
        if attr not in frame:  # another source's attribute
            frame[attr] = np.nan if attr in settings.numeric_attributes else None
    measures = settings.measure_names
    for measure in measures:
        if measure not in frame:  # another source's measure
            frame[measure] = np.nan
    covered = coverage_columns(settings)
    if covered and COVERAGE_COLUMN not in frame:  # another source's coverage
        frame[COVERAGE_COLUMN] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us]")
    frame = frame[[*EVENT_FRAME_COLUMNS, *covered, *attributes, *measures]]
    schema = events_schema(
        now,
        attributes,
        measures,
        numeric_attributes=settings.numeric_attributes,
        covered=bool(covered),
    )
    schema_problems(frame, schema, src, problems)
    return frame, n_missing


CLEANING_VERSION = 3
"""Version of the events cleaning (``clean_event_chunk`` and what it calls). Bump it when a
change would clean a file's rows differently: ``churn ingest`` then reads every events file
again instead of reusing the rows it cleaned before (see :func:`cleaning_fingerprint`)."""


def cleaning_fingerprint(
    src: SourceSettings, settings: EventsSettings, attributes: Sequence[str]
) -> str:
    """A digest (hex sha256) of all that decides how :func:`clean_event_chunk` cleans a file of
    ``src``: the source's settings but its path, the events settings cleaning reads (all but
    the sources, and overlap_key and drop_duplicate_events, which ``canonical_events_sql``
    settles across files), the attribute columns and ``CLEANING_VERSION``. Two reads with the
    same fingerprint clean the same file into the same rows. The numeric attributes count only
    when there are some, so a pipeline without any keeps the fingerprint it had before they
    existed (and its cleaned rows)."""
    across_files = {"sources", "overlap_key", "drop_duplicate_events", "numeric_attributes"}
    # covered_until_format counts only when written, as the numeric attributes below do
    unset = {"covered_until_format"} if src.covered_until_format is None else set()
    settled: dict[str, object] = {
        "source": src.model_dump(mode="json", exclude={"path", *unset}),
        "events": settings.model_dump(mode="json", exclude=across_files),
        "attributes": list(attributes),
        "cleaning_version": CLEANING_VERSION,
    }
    if settings.numeric_attributes:
        settled["numeric_attributes"] = sorted(settings.numeric_attributes)
    return hashlib.sha256(json.dumps(settled, sort_keys=True).encode()).hexdigest()


ORDER_COLUMNS = ("_source", "_row")
"""Columns ``canonical_events_sql`` expects beside the canonical ones: the source's position in
the params and the row's position in its source; they make the result's order that of a stable
sort by customer and time over the sources stacked in order."""


def canonical_events_sql(
    settings: EventsSettings, attributes: Sequence[str], *, persons: bool = False
) -> str:
    """The query that turns table ``parts`` (cleaned chunks of every source with
    ``ORDER_COLUMNS``) into the canonical events: an ``overlap_key`` value seen in an earlier
    source drops the row, ``persons`` replaces each customer id by its person (table
    ``persons``, :mod:`churn.data.persons`), exact duplicates are dropped if configured (the
    first is kept), and rows are sorted by customer and time, typed as the contract says."""
    where = _overlap_filter(settings)
    measures = settings.measure_names
    columns = [*EVENT_FRAME_COLUMNS, *coverage_columns(settings), *attributes, *measures]
    quoted = ", ".join(quote_identifier(c) for c in columns)
    first = (
        f"QUALIFY ROW_NUMBER() OVER (PARTITION BY {quoted} ORDER BY _source, _row) = 1"
        if settings.drop_duplicate_events
        else ""
    )
    kinds = {"ts": "TIMESTAMP", COVERAGE_COLUMN: "TIMESTAMP", "amount": "DOUBLE"}
    kinds |= {"quantity": "DOUBLE"}
    kinds |= {measure: "DOUBLE" for measure in [*measures, *settings.numeric_attributes]}
    typed = ", ".join(
        f"CAST({quote_identifier(c)} AS {kinds.get(c, 'VARCHAR')}) AS {quote_identifier(c)}"
        for c in columns
    )
    rows = f"{persons_join_sql('kept')} AS mapped" if persons else "kept"
    return f"""
    WITH kept AS (SELECT * FROM parts AS p {where})
    SELECT {typed} FROM {rows} {first} ORDER BY customer_id, ts, _source, _row
    """


def canonical_events(
    raw_by_source: Sequence[tuple[SourceSettings, pd.DataFrame]],
    settings: EventsSettings,
    *,
    now: dt.datetime,
    persons: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Map, clean and validate every events source, then stack them (in memory; ``churn
    ingest`` runs the same steps chunk by chunk with the stack on disk).

    Returns the canonical events frame, sorted by customer and time, and counts of rows dropped
    by cleaning rules (for the log). Raises ContractViolation naming every problem at once.
    """
    problems = Problems()
    attributes = sorted({a for src, _ in raw_by_source for a in src.attributes})
    parts, n_missing = [], 0
    for position, (src, raw) in enumerate(raw_by_source):
        frame, missing = clean_event_chunk(
            raw, src, settings, problems, now=now, attributes=attributes
        )
        n_missing += missing
        if frame is not None:
            parts.append(frame.assign(_source=position, _row=np.arange(len(frame))))
    problems.raise_if_any("Fix the source files or the column mapping in data.events.")
    stacked = pd.concat(parts, ignore_index=True)
    tables = {"parts": stacked} | ({PERSONS_TABLE: persons} if persons is not None else {})
    with duckdb_session(tables) as con:
        sql = canonical_events_sql(settings, attributes, persons=persons is not None)
        events = con.sql(sql).df()
        overlapping = len(stacked) - int(con.execute(kept_rows_sql(settings)).fetchall()[0][0])
    events = _as_canonical(events, attributes)
    return events, {
        "missing_customer_id": n_missing,
        "overlapping_orders": overlapping,
        "duplicate_events": len(stacked) - overlapping - len(events),
    }


def _overlap_filter(settings: EventsSettings) -> str:
    """WHERE clause over ``parts AS p``: rows whose overlap key no earlier source has."""
    key = settings.overlap_key
    if key is None:
        return ""
    return f"""WHERE p.{key} IS NULL OR NOT EXISTS (
            SELECT 1 FROM parts AS q WHERE q.{key} = p.{key} AND q._source < p._source)"""


def kept_rows_sql(settings: EventsSettings) -> str:
    """Count of the rows of ``parts`` left after dropping overlaps (before duplicates)."""
    return f"SELECT COUNT(*) FROM parts AS p {_overlap_filter(settings)}"


def empty_events(
    attributes: Sequence[str], measures: Sequence[str] = (), *, covered: bool = False
) -> pd.DataFrame:
    """A canonical events frame without rows (with ``covered_until`` when ``covered``)."""
    kinds = {"ts": "datetime64[us]", COVERAGE_COLUMN: "datetime64[us]", "amount": "float64"}
    kinds |= {"quantity": "float64"} | {measure: "float64" for measure in measures}
    coverage = [COVERAGE_COLUMN] if covered else []
    columns = [*EVENT_FRAME_COLUMNS, *coverage, *attributes, *measures]
    return pd.DataFrame({c: pd.Series([], dtype=kinds.get(c, object)) for c in columns})


def _as_canonical(events: pd.DataFrame, attributes: Sequence[str]) -> pd.DataFrame:
    """Text columns as object (missing: None), timestamps in microseconds."""
    out = events.copy()
    out["ts"] = out["ts"].astype("datetime64[us]")
    if COVERAGE_COLUMN in out:
        out[COVERAGE_COLUMN] = out[COVERAGE_COLUMN].astype("datetime64[us]")
    for name in ("customer_id", "event_type", "order_id", "product_id", *attributes):
        out[name] = out[name].astype(object).where(out[name].notna(), None)
    return out


def event_warnings(
    events: Table, settings: EventsSettings, run_sql: SqlRunner | None = None
) -> list[str]:
    """What is legal in canonical ``events`` (a frame, or the parquet file, scanned by DuckDB)
    but may surprise: each with its count and what to do about it. Duplicates and negative
    amounts are kept, so the stage logs these. ``run_sql``: the engine (default: DuckDB with
    its default memory limit; the stage passes the configured one)."""
    run = run_sql or duckdb_runner()
    warnings = []
    if not settings.drop_duplicate_events:
        sql = """SELECT (SELECT COUNT(*) FROM events)
                      - (SELECT COUNT(*) FROM (SELECT DISTINCT * FROM events) AS d) AS n"""
        repeated = int(run({"events": events}, sql).to_pandas()["n"].iloc[0])
        if repeated:
            warnings.append(
                f"{repeated:,} event(s) repeat another one exactly (customer, time, type, amount, "
                "order, product); kept, as one order may repeat a line. Set "
                "data.events.drop_duplicate_events: true to drop them."
            )
    sql = """SELECT event_type, COUNT(*) AS n, COUNT(CASE WHEN amount < 0 THEN 1 END) AS negative
             FROM events GROUP BY event_type ORDER BY event_type"""
    for row in run({"events": events}, sql).to_pandas().itertuples():
        if 0 < row.negative < row.n / 2:
            warnings.append(
                f"{row.negative:,} of {row.n:,} {row.event_type!r} events have a negative amount "
                "(refunds or corrections?); kept, they lower the monetary features. Add a rule "
                "to data.events.event_type_rules if they are returns."
            )
    return warnings


def canonical_customers(
    raw_by_source: Sequence[tuple[SourceSettings, pd.DataFrame]],
    settings: CustomersSettings,
    *,
    categorical: Collection[str] | None = None,
) -> pd.DataFrame:
    """One row per customer: id, optional signup_date, attribute columns. Attributes are text
    when ``categorical`` is None (a snapshot types them itself); otherwise those it names stay
    text and the others are floats when they read as numbers (``churn.data.attribute_types``).
    """
    problems = Problems()
    frames = []
    parts: dict[str, list[AttributeColumn]] = {}
    for src, raw in raw_by_source:
        if not _missing_columns(raw, src, problems):
            continue
        ids = customer_ids(raw[src.columns["customer_id"]], src, problems)
        out = pd.DataFrame({"customer_id": ids})
        if "signup_date" in src.columns:
            ts, bad = parse_timestamps(
                raw[src.columns["signup_date"]], fmt=src.timestamp_format, timezone="UTC"
            )
            if len(bad):
                problems.add(src.path, src.columns["signup_date"], "unparseable date", bad)
            out["signup_date"] = ts
        for attr, col in src.attributes.items():
            text = clean_text(raw[col])
            kept = src.decimal == "." or (categorical is not None and attr in categorical)
            out[attr] = text if kept else plain_number_text(text, src.decimal)
            parts.setdefault(attr, []).append(AttributeColumn(src.path, col, out[attr]))
        schema = customers_schema(list(src.attributes), signup_date="signup_date" in out)
        schema_problems(out, schema, src, problems)
        frames.append(out)
    problems.raise_if_any("Fix the customers table or its mapping in data.customers.")
    customers = pd.concat(frames, ignore_index=True).drop_duplicates("customer_id", keep="last")
    if categorical is None:
        return customers
    typed = typed_attributes(customers, parts, categorical, problems)
    problems.raise_if_any("Fix the customers table or its mapping in data.customers.")
    return typed


def _expected_number(src: SourceSettings) -> str:
    other = "," if src.decimal == "." else "."
    return (
        f"expected a number with decimal mark {src.decimal!r} (set decimal: {other!r} on this "
        f"source if its numbers are written 1{other}5)"
    )


def churn_events_of_types(
    events: Table, types: Sequence[str], run_sql: SqlRunner | None = None
) -> pd.DataFrame:
    """The churn events (customer_id, ts) that canonical ``events`` (a frame or the parquet
    file) hold as events of ``types`` (``data.events.churn_event_types``), sorted."""
    listed = ", ".join(quote_literal(t) for t in event_type_matches(types))
    sql = f"""SELECT customer_id, ts FROM events WHERE event_type IN ({listed})
              ORDER BY customer_id, ts"""
    frame: pd.DataFrame = (run_sql or duckdb_runner())({"events": events}, sql).to_pandas()
    return frame


def with_churn_events(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Churn events of several origins (sources, event types) as one table, sorted."""
    return pd.concat(tables, ignore_index=True).sort_values(["customer_id", "ts"])


def canonical_churn_events(
    raw_by_source: Sequence[tuple[SourceSettings, pd.DataFrame]],
    settings: ChurnEventsSettings,
) -> pd.DataFrame:
    """Explicit churn events (cancellations): customer_id, ts."""
    problems = Problems()
    frames = []
    for src, raw in raw_by_source:
        if not _missing_columns(raw, src, problems):
            continue
        ids = customer_ids(raw[src.columns["customer_id"]], src, problems)
        ts, bad = parse_timestamps(
            raw[src.columns["timestamp"]], fmt=src.timestamp_format, timezone=settings.timezone
        )
        if len(bad):
            problems.add(src.path, src.columns["timestamp"], "unparseable timestamp", bad)
        out = pd.DataFrame({"customer_id": ids, "ts": ts})
        schema_problems(out, churn_events_schema(), src, problems)
        frames.append(out)
    problems.raise_if_any("Fix the churn events table or its mapping in data.churn_events.")
    return pd.concat(frames, ignore_index=True).dropna().sort_values(["customer_id", "ts"])


def _control_flags(
    values: pd.Series, settings: ContactsSettings, path: str, problems: Problems
) -> pd.Series:
    """The control column as booleans: True for ``control_values``, False for
    ``contacted_values`` (both trimmed and case-folded); anything else is a problem."""
    if pd.api.types.is_bool_dtype(values):
        return values.astype(bool)
    text = clean_text(values).astype("string").str.casefold()
    control = {v.strip().casefold() for v in settings.control_values}
    contacted = {v.strip().casefold() for v in settings.contacted_values}
    known = text.isin(control | contacted)
    bad = values[~known.fillna(False).astype(bool)]
    if len(bad):
        expected = sorted(control)[:4] + sorted(contacted)[:4]
        problems.add(
            path,
            str(values.name),
            f"expected a control flag (one of data.contacts.control_values or "
            f"contacted_values, e.g. {expected})",
            bad,
        )
    return text.isin(control).fillna(False).astype(bool)


def canonical_contacts(
    raw_by_source: Sequence[tuple[SourceSettings, pd.DataFrame]],
    settings: ContactsSettings,
) -> pd.DataFrame:
    """Past retention contacts: customer_id, ts, action, control, channel, cost. Without a
    mapped control column every row was contacted; without an action column, actions are
    missing (effects are then measured for all contacts together)."""
    problems = Problems()
    frames = []
    for src, raw in raw_by_source:
        if not _missing_columns(raw, src, problems):
            continue
        cols = src.columns
        ids = customer_ids(raw[cols["customer_id"]], src, problems)
        ts, bad = parse_timestamps(
            raw[cols["timestamp"]], fmt=src.timestamp_format, timezone=settings.timezone
        )
        if len(bad):
            problems.add(src.path, cols["timestamp"], "unparseable timestamp", bad)
        missing_text = pd.Series(None, index=raw.index, dtype=object)
        out = pd.DataFrame({"customer_id": ids, "ts": ts})
        out["action"] = clean_text(raw[cols["action"]]) if "action" in cols else missing_text
        if "control" in cols:
            out["control"] = _control_flags(raw[cols["control"]], settings, src.path, problems)
        else:
            out["control"] = False
        out["channel"] = clean_text(raw[cols["channel"]]) if "channel" in cols else missing_text
        if "cost" in cols:
            cost, bad_cost = parse_numbers(raw[cols["cost"]], src.decimal)
            if len(bad_cost):
                problems.add(src.path, cols["cost"], _expected_number(src), bad_cost)
            out["cost"] = cost
        else:
            out["cost"] = np.nan
        schema_problems(out, contacts_schema(), src, problems)
        frames.append(out)
    problems.raise_if_any("Fix the contacts table or its mapping in data.contacts.")
    contacts = pd.concat(frames, ignore_index=True).dropna(subset=["customer_id", "ts"])
    return contacts.sort_values(["ts", "customer_id"], kind="stable").reset_index(drop=True)
