"""What the events model accepts: canonical events (the columns ``churn ingest`` writes to
``events.parquet``, see :mod:`churn.data.contract`), which of them a pipeline needs, and how a
request's frame becomes the canonical events the pipeline's own feature code reads.

Nothing here touches files or MLflow's store: a frame and the pipeline's settings come in, a
canonical frame (or an error naming every problem) goes out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from churn.data.contract import EVENT_FRAME_COLUMNS, INEXACT_IDS, coverage_columns
from churn.data.parsing import clean_text, event_type_key, parse_ids
from churn.data.problems import Problems, row_labels
from churn.data.schemas import events_schema, schema_problems
from churn.settings import DataSettings, SourceSettings

REQUEST = "the request's events"
"""How an error names the events a caller sent (where ingest names a file)."""

type ColumnKind = Literal["text", "time", "number"]


@dataclass(frozen=True)
class RequestColumn:
    """One column of the events a caller sends: its canonical name, what it holds, and whether
    the pipeline needs it (a column no source of the pipeline maps may be left out)."""

    name: str
    kind: ColumnKind
    required: bool


def request_columns(data: DataSettings) -> list[RequestColumn]:
    """The canonical events columns (``EVENT_FRAME_COLUMNS``, the event attributes, then the
    measures) of the events pipeline ``data``. ``customer_id``, ``ts``, every attribute and
    every measure are required; the
    others exactly when a source maps them (``amount`` also when one maps quantity and unit
    price), since the model learnt from them; ``event_type`` when a source maps it (otherwise
    every event gets ``data.events.default_event_type``, as at ingest)."""
    assert data.events is not None
    mapped = {name for source in data.events.sources for name in source.columns}
    if {"quantity", "unit_price"} <= mapped:
        mapped.add("amount")
    kinds: dict[str, ColumnKind] = {"ts": "time", "amount": "number", "quantity": "number"}
    columns = [
        RequestColumn(
            name, kinds.get(name, "text"), name in ("customer_id", "ts") or name in mapped
        )
        for name in EVENT_FRAME_COLUMNS
    ]
    # the paid period's end, when the pipeline learnt from it: labels and features read it
    columns += [RequestColumn(c, "time", True) for c in coverage_columns(data.events)]
    numeric = set(data.events.numeric_attributes)
    columns += [
        RequestColumn(a, "number" if a in numeric else "text", True) for a in event_attributes(data)
    ]
    columns += [RequestColumn(m, "number", True) for m in data.events.measure_names]
    return columns


def event_attributes(data: DataSettings) -> list[str]:
    """The attributes of the events sources, sorted (as ingest orders them)."""
    assert data.events is not None
    return sorted({a for source in data.events.sources for a in source.attributes})


def tables_besides_events(data: DataSettings) -> list[str]:
    """The tables other than the events that an events pipeline's scoring population reads,
    which a frame of events cannot carry: ``data.customers`` (attributes and signup dates
    become features) and ``data.churn_events`` (a customer who left is not scored).
    ``data.contacts`` is not among them: it values actions, never builds a feature."""
    return [
        f"data.{name}"
        for name, table in (("customers", data.customers), ("churn_events", data.churn_events))
        if table is not None
    ]


def canonical_request(frame: pd.DataFrame, data: DataSettings, now: dt.datetime) -> pd.DataFrame:
    """The canonical events of a request: ``EVENT_FRAME_COLUMNS`` then the event attributes,
    typed as ``churn ingest`` writes them (ids and text as object, ``ts`` as datetime64[us]
    UTC without a zone, ``amount`` and ``quantity`` as float64), event types trimmed and
    case-folded with ``data.events``' default type and rules applied, rows without a customer
    id and exact duplicates dropped when ``data.events`` says so, sorted by customer and time.
    Extra columns are ignored, a column the pipeline does not need may be left out (missing
    values).

    ``ts``: datetimes or ISO 8601 text; a zone, when given, is converted to UTC. Raises
    ValueError naming every missing required column, or every broken value (as ingest checks
    a file: :func:`churn.data.schemas.events_schema`, no event after ``now``), at once.
    """
    assert data.events is not None
    columns = request_columns(data)
    missing = [c.name for c in columns if c.required and c.name not in frame.columns]
    if missing:
        required = [c.name for c in columns if c.required]
        optional = [c.name for c in columns if not c.required]
        raise ValueError(
            f"{REQUEST} lack {len(missing)} required column(s): {missing}. Expected the canonical "
            f"events columns {required} (optional: {optional}); found "
            f"{list(map(str, frame.columns))}."
        )
    problems = Problems()
    rows = frame.reset_index(drop=True)
    if data.events.drop_missing_customer_id:  # as ingest does: guest checkouts
        rows = rows[rows["customer_id"].notna()].reset_index(drop=True)
    if data.events.drop_missing_timestamp:  # as ingest does: a totals line
        rows = rows[rows["ts"].notna()].reset_index(drop=True)
    out = pd.DataFrame(index=rows.index)
    for column in columns:
        values = rows[column.name] if column.name in rows.columns else None
        out[column.name] = _typed(column, values, len(rows), problems)
    _missing_times(rows["ts"], problems)
    out["event_type"] = _event_types(out, data)
    attributes = event_attributes(data)
    source = SourceSettings(path=REQUEST, columns={c.name: c.name for c in columns})
    schema = events_schema(
        now,
        attributes,
        data.events.measure_names,
        numeric_attributes=data.events.numeric_attributes,
        covered=data.events.covered,
    )
    schema_problems(out, schema, source, problems)
    if problems.items:
        lines = "\n".join(f"  - {p.describe()}" for p in problems.items)
        raise ValueError(
            f"{len(problems.items)} problem(s) found in {REQUEST}:\n{lines}\nSend canonical "
            "events: text ids and types, timestamps in UTC, numbers as numbers."
        )
    if data.events.drop_duplicate_events:
        out = out.drop_duplicates(keep="first")
    return out.sort_values(["customer_id", "ts"], kind="stable").reset_index(drop=True)


def _typed(
    column: RequestColumn, values: pd.Series | None, n: int, problems: Problems
) -> pd.Series:
    """``values`` as the canonical column holds them (None: the column was left out, all
    missing); unreadable values are added to ``problems``."""
    if values is None:
        if column.kind == "number":
            return pd.Series(np.nan, index=range(n), dtype="float64")
        if column.kind == "time":
            return pd.Series(pd.NaT, index=range(n), dtype="datetime64[us]")
        return pd.Series(None, index=range(n), dtype=object)
    if column.name == "customer_id":
        ids, inexact = parse_ids(values)
        if len(inexact):
            problems.add(REQUEST, column.name, INEXACT_IDS, inexact)
        return ids.astype(object).where(ids.notna(), None)
    if column.kind == "number":
        parsed = pd.to_numeric(values, errors="coerce").astype("float64")
        bad = values[parsed.isna() & values.notna()]
        if len(bad):
            problems.add(REQUEST, column.name, "expected a number", bad)
        return parsed
    if column.kind == "time":
        return _timestamps(values, problems)
    text = clean_text(values)
    return text.where(text.notna(), None)  # missing as None, as ingest writes it


def _timestamps(values: pd.Series, problems: Problems) -> pd.Series:
    """Datetimes (a zone converted to UTC and dropped) or ISO 8601 text, as datetime64[us]."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        utc: pd.Series = values.dt.tz_convert("UTC").dt.tz_localize(None)
        return utc.astype("datetime64[us]")
    if pd.api.types.is_datetime64_dtype(values):
        return values.astype("datetime64[us]")
    parsed = pd.to_datetime(values, errors="coerce", utc=True, format="ISO8601")
    bad = values[parsed.isna() & values.notna()]
    if len(bad):
        problems.add(REQUEST, str(values.name), "unparseable timestamp (expected ISO 8601)", bad)
    return parsed.dt.tz_localize(None).astype("datetime64[us]")


def _missing_times(given: pd.Series, problems: Problems) -> None:
    """Events without a time cannot be placed before or after a cutoff."""
    missing = given.index[given.isna()]
    if len(missing):
        problems.add(REQUEST, "ts", "timestamp is missing", row_labels(missing))


def _event_types(events: pd.DataFrame, data: DataSettings) -> pd.Series:
    """Each event's type as ingest writes it: trimmed and case-folded, missing ones
    ``default_event_type``, then ``event_type_rules`` (canonical types pass unchanged)."""
    assert data.events is not None
    given = events["event_type"].dropna().unique()
    keys = events["event_type"].map({v: event_type_key(str(v)) for v in given})
    types = keys.astype(object).where(keys.notna(), event_type_key(data.events.default_event_type))
    for rule in data.events.event_type_rules:
        hit = events[rule.column].fillna("").astype(str).str.startswith(rule.startswith)
        types = types.where(~hit, event_type_key(rule.event_type))
    return types
