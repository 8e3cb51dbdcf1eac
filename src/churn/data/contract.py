"""The input contract: user tables mapped by column name onto canonical frames, then validated.

Canonical frames (all timestamps are UTC without a zone, microsecond precision):

* events: ``customer_id`` (str), ``ts``, ``event_type`` (str), ``amount`` (float, may be
  missing), ``quantity`` (float, may be missing), ``order_id`` (str, may be missing),
  ``product_id`` (str, may be missing), then one column per configured attribute.
* customers: ``customer_id`` and, when mapped, ``signup_date``, then attribute columns.
* churn_events: ``customer_id``, ``ts``.
* snapshot: ``customer_id``, ``churned`` (bool), then attribute columns.

Every problem in every source is collected before anything is raised, so a user fixes their
data in one pass. Nothing here touches files: raw frames come in, canonical frames go out.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from churn.engines.sql import Table, duckdb_runner, duckdb_session, quote_identifier
from churn.errors import ContractViolation, Problem
from churn.settings import (
    ChurnEventsSettings,
    CustomersSettings,
    EventsSettings,
    SnapshotSettings,
    SourceSettings,
)


@contextlib.contextmanager
def _without_pyspark_pandas_warning() -> Iterator[None]:
    """Where pyspark is installed (churn[spark]), pandera imports pyspark.pandas, on import and
    again lazily on the first validation, which warns that it does not fully support pandas 3.
    churn never uses pyspark.pandas."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
        )
        yield


with _without_pyspark_pandas_warning():
    import pandera.pandas as pa
    from pandera.errors import SchemaErrors

NUMERIC_COLUMNS = ("amount", "quantity", "unit_price")
TEXT_COLUMNS = ("order_id", "product_id", "event_type")
MAX_ABS_AMOUNT = 1e12
"""Larger amounts (or infinities) on one event are refused: they come from a wrong unit or a
misread number, and would swamp every monetary feature."""
EVENT_FRAME_COLUMNS = (
    "customer_id",
    "ts",
    "event_type",
    "amount",
    "quantity",
    "order_id",
    "product_id",
)


@dataclass
class Problems:
    """Problems collected over every source (and chunk), raised at once (``raise_if_any``)."""

    items: list[Problem] = field(default_factory=list)

    def add(self, source: str, column: str, rule: str, bad: pd.Series | None = None) -> None:
        n = 0 if bad is None else len(bad)
        examples = () if bad is None else tuple(bad.drop_duplicates().head(5).tolist())
        self.items.append(Problem(source, column, rule, n, examples))

    def raise_if_any(self, hint: str = "") -> None:
        if self.items:
            raise ContractViolation(_merged(self.items), hint)


def _merged(items: Sequence[Problem]) -> list[Problem]:
    """One problem per source, column and rule: chunks of one source report theirs apart."""
    out: dict[tuple[str, str, str], Problem] = {}
    for item in items:
        key = (item.source, item.column, item.rule)
        if key not in out:
            out[key] = item
            continue
        seen = out[key]
        examples = list(seen.examples)
        examples += [e for e in item.examples if e not in examples]
        out[key] = Problem(
            item.source, item.column, item.rule, seen.n_rows + item.n_rows, tuple(examples[:5])
        )
    return list(out.values())


def _missing_columns(raw: pd.DataFrame, src: SourceSettings, problems: Problems) -> bool:
    wanted = {**src.columns, **src.attributes}
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


def normalise_ids(values: pd.Series) -> pd.Series:
    """Customer ids as text. Numeric ids stored as floats (13085.0) become '13085'."""
    if pd.api.types.is_float_dtype(values):
        whole = values.dropna()
        if (whole == np.floor(whole)).all():
            return values.astype("Int64").astype("string").astype(object).where(values.notna())
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("string").astype(object).where(values.notna())
    text = values.astype("string").str.strip()
    return text.astype(object).where(text.notna() & (text != ""))


def parse_timestamps(
    values: pd.Series, *, fmt: str | None, timezone: str
) -> tuple[pd.Series, pd.Series]:
    """Parse to UTC-naive timestamps. Returns (parsed, unparseable original values)."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        parsed = values.dt.tz_convert("UTC").dt.tz_localize(None)
        return parsed.astype("datetime64[us]"), values.iloc[0:0]
    if pd.api.types.is_datetime64_dtype(values):
        local = values.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="shift_forward")
        parsed = local.dt.tz_convert("UTC").dt.tz_localize(None)
        return parsed.astype("datetime64[us]"), values[parsed.isna() & values.notna()]
    text = values.astype("string").str.strip()
    try:
        parsed = _local_to_utc(text, fmt=fmt, timezone=timezone)
    except (ValueError, TypeError):
        # some values carry a UTC offset and some do not (or offsets differ): values with an
        # offset are instants, values without one are read in ``timezone``
        with_offset = text.str.contains(_ISO_OFFSET, regex=True).fillna(False).astype(bool)
        parsed = pd.concat(
            [_instants(text[with_offset], fmt=fmt), _mixed(text[~with_offset], fmt, timezone)]
        ).reindex(text.index)
    bad = values[parsed.isna() & text.notna()]
    return parsed.astype("datetime64[us]"), bad


_ISO_OFFSET = r"\d:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$"
"""The end of a time that carries a UTC offset ('...10:00+02:00', '...10:00:00 +0200', 'Z')."""


def _local_to_utc(text: pd.Series, *, fmt: str | None, timezone: str) -> pd.Series:
    """UTC-naive timestamps when every value has the same offset or none has one (then read in
    ``timezone``). Raises ValueError when offsets differ or only some values have one."""
    parsed = pd.to_datetime(text, format=fmt or "ISO8601", errors="coerce")
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        return parsed.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
    local = parsed.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="shift_forward")
    return local.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")


def _instants(text: pd.Series, *, fmt: str | None) -> pd.Series:
    parsed = pd.to_datetime(text, format=fmt or "ISO8601", errors="coerce", utc=True)
    return parsed.dt.tz_localize(None).astype("datetime64[us]")


def _mixed(text: pd.Series, fmt: str | None, timezone: str) -> pd.Series:
    try:
        return _local_to_utc(text, fmt=fmt, timezone=timezone)
    except (ValueError, TypeError):  # an offset the pattern does not know: read as instants
        return _instants(text, fmt=fmt)


def _numeric(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype("float64"), values.iloc[0:0]
    text = values.astype("string").str.strip()
    parsed = pd.to_numeric(text, errors="coerce").astype("float64")
    return parsed, values[parsed.isna() & text.notna()]


def _text(values: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(values):
        return normalise_ids(values)
    text = values.astype("string").str.strip()
    return text.astype(object).where(text.notna() & (text != ""))


def _schema_problems(
    frame: pd.DataFrame,
    schema: pa.DataFrameSchema,
    src: SourceSettings,
    problems: Problems,
) -> None:
    """Run a pandera schema lazily; report failures under the user's column names."""
    user_names = {"ts": src.columns.get("timestamp", "ts"), **src.columns, **src.attributes}
    try:
        with _without_pyspark_pandas_warning():
            schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
        for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
            bad = group["failure_case"].astype(object).map(_readable)
            problems.items.append(
                Problem(
                    src.path,
                    user_names.get(str(column), str(column)),
                    f"fails check {check}",
                    len(bad),
                    tuple(bad.drop_duplicates().head(5).tolist()),
                )
            )


def _readable(value: object) -> object:
    """Timestamps as their text ('2099-01-01 10:00:00'), not their repr, in examples."""
    return str(value) if isinstance(value, pd.Timestamp) else value


def _events_schema(now: dt.datetime) -> pa.DataFrameSchema:
    horizon = pd.Timestamp(now) + pd.Timedelta(days=1)
    return pa.DataFrameSchema(
        {
            "customer_id": pa.Column(None, nullable=True),  # missing ids are reported above
            "ts": pa.Column(
                "datetime64[us]",
                checks=[
                    pa.Check(lambda s: s >= pd.Timestamp("1900-01-01"), name="not before 1900"),
                    pa.Check(
                        lambda s: s <= horizon, name=f"not in the future (after {horizon:%Y-%m-%d})"
                    ),
                ],
                nullable=True,  # unparseable timestamps are reported by parse_timestamps
            ),
            "amount": pa.Column(
                float,
                checks=pa.Check(
                    lambda s: (s.abs() <= MAX_ABS_AMOUNT) | s.isna(),
                    name=f"a finite amount of at most {MAX_ABS_AMOUNT:.0e} either way "
                    "(a unit or parsing error?)",
                ),
                nullable=True,
            ),
            "quantity": pa.Column(
                float,
                checks=pa.Check(lambda s: np.isfinite(s) | s.isna(), name="finite"),
                nullable=True,
            ),
            "event_type": pa.Column(None, nullable=False),
        },
        strict=False,
    )


def _map_event_source(
    raw: pd.DataFrame,
    src: SourceSettings,
    settings: EventsSettings,
    problems: Problems,
) -> pd.DataFrame | None:
    if not _missing_columns(raw, src, problems):
        return None
    cols = src.columns
    out = pd.DataFrame(index=raw.index)
    out["customer_id"] = normalise_ids(raw[cols["customer_id"]])
    ts, bad_ts = parse_timestamps(
        raw[cols["timestamp"]], fmt=src.timestamp_format, timezone=settings.timezone
    )
    if len(bad_ts):
        fmt = src.timestamp_format or "ISO 8601"
        problems.add(src.path, cols["timestamp"], f"unparseable timestamp (format {fmt})", bad_ts)
    out["ts"] = ts
    for name in NUMERIC_COLUMNS:
        if name in cols:
            parsed, bad = _numeric(raw[cols[name]])
            if len(bad):
                problems.add(src.path, cols[name], "expected a number", bad)
            out[name] = parsed
    for name in TEXT_COLUMNS:
        if name in cols:
            out[name] = _text(raw[cols[name]])
    for attr, col in src.attributes.items():
        out[attr] = _text(raw[col])
    return out


def _derive_event_columns(frame: pd.DataFrame, settings: EventsSettings) -> pd.DataFrame:
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
    if "event_type" not in out:
        out["event_type"] = settings.default_event_type
    out["event_type"] = out["event_type"].fillna(settings.default_event_type)
    for rule in settings.event_type_rules:
        hit = out[rule.column].fillna("").astype(str).str.startswith(rule.startswith)
        out.loc[hit, "event_type"] = rule.event_type
    return out


def clean_event_chunk(
    raw: pd.DataFrame,
    src: SourceSettings,
    settings: EventsSettings,
    problems: Problems,
    *,
    now: dt.datetime,
    attributes: Sequence[str],
) -> tuple[pd.DataFrame | None, int]:
    """Map, clean and validate one chunk of rows of one events source (its index: the rows'
    0-based positions in the source, which error messages quote as line numbers). Problems are
    added to ``problems``. Returns the canonical rows (``EVENT_FRAME_COLUMNS`` then
    ``attributes``), or None if the source lacks mapped columns, and the number of rows dropped
    for a missing customer id. Overlaps and duplicates are settled across all chunks by
    ``canonical_events_sql``."""
    frame = _map_event_source(raw, src, settings, problems)
    if frame is None:
        return None, 0
    no_id = frame["customer_id"].isna()
    n_missing = 0
    if no_id.any():
        if settings.drop_missing_customer_id:
            n_missing = int(no_id.sum())
            frame = frame[~no_id]
        else:
            rows = frame.index[no_id].to_series().map(lambda i: f"row {i + 2}")
            problems.add(
                src.path,
                src.columns["customer_id"],
                "customer id is missing (set data.events.drop_missing_customer_id: true "
                "to drop such rows, e.g. guest checkouts)",
                rows,
            )
    frame = _derive_event_columns(frame, settings)
    _schema_problems(frame, _events_schema(now), src, problems)
    for attr in attributes:
        if attr not in frame:
            frame[attr] = None
    return frame[[*EVENT_FRAME_COLUMNS, *attributes]], n_missing


ORDER_COLUMNS = ("_source", "_row")
"""Columns ``canonical_events_sql`` expects beside the canonical ones: the source's position in
the params and the row's position in its source; they make the result's order that of a stable
sort by customer and time over the sources stacked in order."""


def canonical_events_sql(settings: EventsSettings, attributes: Sequence[str]) -> str:
    """The query that turns table ``parts`` (cleaned chunks of every source with
    ``ORDER_COLUMNS``) into the canonical events: an ``overlap_key`` value seen in an earlier
    source drops the row, exact duplicates are dropped if configured (the first is kept), and
    rows are sorted by customer and time, typed as the contract says."""
    where = _overlap_filter(settings)
    columns = [*EVENT_FRAME_COLUMNS, *attributes]
    quoted = ", ".join(quote_identifier(c) for c in columns)
    first = (
        f"QUALIFY ROW_NUMBER() OVER (PARTITION BY {quoted} ORDER BY _source, _row) = 1"
        if settings.drop_duplicate_events
        else ""
    )
    kinds = {"ts": "TIMESTAMP", "amount": "DOUBLE", "quantity": "DOUBLE"}
    typed = ", ".join(f'CAST("{c}" AS {kinds.get(c, "VARCHAR")}) AS "{c}"' for c in columns)
    return f"""
    WITH kept AS (SELECT * FROM parts AS p {where})
    SELECT {typed} FROM kept {first} ORDER BY customer_id, ts, _source, _row
    """


def canonical_events(
    raw_by_source: Sequence[tuple[SourceSettings, pd.DataFrame]],
    settings: EventsSettings,
    *,
    now: dt.datetime,
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
    with duckdb_session({"parts": stacked}) as con:
        events = con.sql(canonical_events_sql(settings, attributes)).df()
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


def empty_events(attributes: Sequence[str]) -> pd.DataFrame:
    """A canonical events frame without rows."""
    kinds = {"ts": "datetime64[us]", "amount": "float64", "quantity": "float64"}
    return pd.DataFrame(
        {c: pd.Series([], dtype=kinds.get(c, object)) for c in [*EVENT_FRAME_COLUMNS, *attributes]}
    )


def _as_canonical(events: pd.DataFrame, attributes: Sequence[str]) -> pd.DataFrame:
    """Text columns as object (missing: None), timestamps in microseconds."""
    out = events.copy()
    out["ts"] = out["ts"].astype("datetime64[us]")
    for name in ("customer_id", "event_type", "order_id", "product_id", *attributes):
        out[name] = out[name].astype(object).where(out[name].notna(), None)
    return out


def event_warnings(events: Table, settings: EventsSettings) -> list[str]:
    """What is legal in canonical ``events`` (a frame, or the parquet file, scanned by DuckDB)
    but may surprise: each with its count and what to do about it. Duplicates and negative
    amounts are kept, so the stage logs these."""
    run = duckdb_runner()
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
) -> pd.DataFrame:
    """One row per customer: id, optional signup_date, attribute columns."""
    problems = Problems()
    frames = []
    for src, raw in raw_by_source:
        if not _missing_columns(raw, src, problems):
            continue
        out = pd.DataFrame({"customer_id": normalise_ids(raw[src.columns["customer_id"]])})
        if "signup_date" in src.columns:
            ts, bad = parse_timestamps(
                raw[src.columns["signup_date"]], fmt=src.timestamp_format, timezone="UTC"
            )
            if len(bad):
                problems.add(src.path, src.columns["signup_date"], "unparseable date", bad)
            out["signup_date"] = ts
        for attr, col in src.attributes.items():
            out[attr] = _text(raw[col])
        missing = out["customer_id"].isna()
        if missing.any():
            problems.add(
                src.path,
                src.columns["customer_id"],
                "customer id is missing",
                out.index[missing].to_series().map(lambda i: f"row {i + 2}"),
            )
        dup = out["customer_id"].duplicated(keep=False) & ~missing
        if dup.any():
            problems.add(
                src.path,
                src.columns["customer_id"],
                "customer id is not unique",
                out.loc[dup, "customer_id"],
            )
        frames.append(out)
    problems.raise_if_any("Fix the customers table or its mapping in data.customers.")
    return pd.concat(frames, ignore_index=True).drop_duplicates("customer_id", keep="last")


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
        ids = normalise_ids(raw[src.columns["customer_id"]])
        ts, bad = parse_timestamps(
            raw[src.columns["timestamp"]], fmt=src.timestamp_format, timezone=settings.timezone
        )
        if len(bad):
            problems.add(src.path, src.columns["timestamp"], "unparseable timestamp", bad)
        if ids.isna().any():
            problems.add(
                src.path,
                src.columns["customer_id"],
                "customer id is missing",
                ids.index[ids.isna()].to_series().map(lambda i: f"row {i + 2}"),
            )
        frames.append(pd.DataFrame({"customer_id": ids, "ts": ts}))
    problems.raise_if_any("Fix the churn events table or its mapping in data.churn_events.")
    return pd.concat(frames, ignore_index=True).dropna().sort_values(["customer_id", "ts"])


def canonical_snapshot(raw: pd.DataFrame, settings: SnapshotSettings) -> pd.DataFrame:
    """A snapshot table: customer_id, churned, then attributes (numeric ones as floats)."""
    src = settings.source
    problems = Problems()
    if not _missing_columns(raw, src, problems):
        problems.raise_if_any()
    if "label" not in src.columns:
        problems.items.append(
            Problem(src.path, "label", "the snapshot must map a 'label' column", 0)
        )
        problems.raise_if_any()
    out = pd.DataFrame({"customer_id": normalise_ids(raw[src.columns["customer_id"]])})
    label = _text(raw[src.columns["label"]])
    if label.isna().any():
        problems.add(
            src.path,
            src.columns["label"],
            "label is missing",
            label.index[label.isna()].to_series().map(lambda i: f"row {i + 2}"),
        )
    out["churned"] = label == settings.positive_label
    if out["churned"].all() or not out["churned"].any():
        found = sorted(label.dropna().unique().tolist())[:5]
        problems.items.append(
            Problem(
                src.path,
                src.columns["label"],
                f"positive_label {settings.positive_label!r} must split the rows into two "
                f"classes; values found: {found}",
                len(out),
            )
        )
    numeric = set(settings.numeric_attributes)
    unknown = sorted(numeric - set(src.attributes))
    if unknown:
        problems.items.append(
            Problem(src.path, str(unknown), "numeric_attributes must be mapped attributes", 0)
        )
    for attr, col in src.attributes.items():
        values = raw[col]
        if settings.blank_as_missing and not pd.api.types.is_numeric_dtype(values):
            text = values.astype("string").str.strip()
            values = text.where(text != "")
        if attr in numeric:
            parsed, bad = _numeric(values)
            if len(bad):
                problems.add(src.path, col, "expected a number", bad)
            out[attr] = parsed
        else:
            out[attr] = _text(values)
    missing = out["customer_id"].isna()
    if missing.any():
        problems.add(
            src.path,
            src.columns["customer_id"],
            "customer id is missing",
            out.index[missing].to_series().map(lambda i: f"row {i + 2}"),
        )
    dup = out["customer_id"].duplicated(keep=False) & ~missing
    if dup.any():
        problems.add(
            src.path,
            src.columns["customer_id"],
            "customer id is not unique",
            out.loc[dup, "customer_id"],
        )
    problems.raise_if_any("Fix the snapshot file or its mapping in data.snapshot.")
    return out
