"""The whole event log, read once by ``churn init``: its span, each row's customer, time and
type, a customers table's person behind each id, and the label counts the written settings
make on it (the labels stage's own query).

I/O at the top (reading columns of the user's files); the rest works on the frames read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from churn.data.inference import EventRoles, timestamp_format
from churn.data.parsing import (
    event_type_key,
    event_type_matches,
    parse_numbers,
    parse_timestamps,
    whole_number_ids,
)
from churn.errors import InputDataError
from churn.init.plan import ChurnEventTable, CustomerTable, SourceFile
from churn.init.sniff import read_column
from churn.labels import build_labels, cutoff_table, observed_until
from churn.settings import EventLabelSettings, PipelineSettings


def read_log(
    files: Sequence[tuple[Path, SourceFile, EventRoles]],
) -> tuple[dt.date, dt.date, pd.DataFrame]:
    """First and last day of the events of known customers (ingest drops a guest's row, so a
    guest's late visit does not extend the data: the labels would not see it), and the whole
    log as ``customer_id``, ``ts`` (parsed, UTC), ``event_type`` (as ingest keys it; missing
    without a type column), ``no_time`` (the row has no timestamp: a totals line) and
    ``zero_amount`` (a file without types whose amount is 0 on the row, and no measure above
    0: :func:`_nothing_carried`) and ``covered_until`` (parsed, UTC; missing in a file
    without paid periods: :attr:`EventRoles.covered_until`)."""
    firsts, lasts, logs = [], [], []
    for path, source, roles in files:
        column, fmt = roles.timestamp.column, roles.timestamp.format
        raw = read_column(path, source.format, column)
        parsed, _ = parse_timestamps(raw.replace("", None), fmt=fmt, timezone="UTC")
        if parsed.dropna().empty:
            raise InputDataError(
                f"{source.path}: no timestamp in column {column!r} reads as a date"
            )
        ids = _ids(read_column(path, source.format, roles.customer_id).reset_index(drop=True))
        guests = set(_ids(pd.Series(roles.placeholder_ids, dtype=object)))
        ids = ids.mask(ids.isin(guests))  # a guest's 0 is no customer
        known = parsed.reset_index(drop=True)[ids.fillna("").ne("").to_numpy()].dropna()
        if known.empty:
            raise InputDataError(
                f"{source.path}: no row with a timestamp has a customer id in column "
                f"{roles.customer_id!r}; expected ids on most rows"
            )
        firsts.append(known.min().date())
        lasts.append(known.max().date())
        types = (
            read_column(path, source.format, roles.event_type).map(event_type_key)
            if roles.event_type is not None
            else None
        )
        zero = (
            _nothing_carried(path, source, roles)
            if roles.amount is not None and types is None
            else pd.Series(False, index=raw.index)
        )
        logs.append(
            pd.DataFrame(
                {
                    "customer_id": ids,
                    "ts": parsed.reset_index(drop=True),
                    "event_type": None if types is None else types.reset_index(drop=True),
                    "no_time": raw.astype("string").str.strip().fillna("").eq("").to_numpy(),
                    "zero_amount": zero.to_numpy(),
                    "covered_until": _covered_until(path, source, roles, len(raw)),
                }
            )
        )
    return min(firsts), max(lasts), pd.concat(logs, ignore_index=True)


def _covered_until(path: Path, source: SourceFile, roles: EventRoles, rows: int) -> pd.Series:
    """The paid periods' ends of a file (``rows`` long, its own index dropped), parsed as
    ingest reads them; all missing without such a column."""
    guess = roles.covered_until
    if guess is None:
        return pd.Series(pd.NaT, index=range(rows), dtype="datetime64[us]")
    raw = read_column(path, source.format, guess.column).replace("", None)
    parsed, _ = parse_timestamps(raw, fmt=guess.format, timezone="UTC")
    return parsed.reset_index(drop=True).astype("datetime64[us]")


def _nothing_carried(path: Path, source: SourceFile, roles: EventRoles) -> pd.Series:
    """Rows of an untyped file whose amount is 0 and whose measures are none above 0: a month
    of a statement without spend. A game's session with no purchase still carries its length,
    so it stays activity (its log has purchases on 3 % of the rows, and treating the rest as no
    activity made churn "stopped paying": 433 of 830 churners were still playing)."""
    decimal = source.format.decimal
    assert roles.amount is not None
    amount, _ = parse_numbers(read_column(path, source.format, roles.amount), decimal)
    nothing = amount.eq(0)
    for measure in roles.measures:
        values, _ = parse_numbers(read_column(path, source.format, measure), decimal)
        nothing &= ~values.gt(0)
    return nothing


def latest_date(path: Path, source: SourceFile, columns: Sequence[str]) -> dt.date | None:
    """The latest date in ``columns`` of a file (a snapshot's signup and cancellation dates),
    each column read whole in the format its values show; None if none reads as dates."""
    latest = []
    for column in columns:
        values = read_column(path, source.format, column)
        try:
            fmt = timestamp_format(values)
        except ValueError:  # day-first and month-first alike: no latest date to trust
            continue
        if isinstance(fmt, bool):  # False: not dates
            continue
        parsed, _ = parse_timestamps(values.replace("", None), fmt=fmt, timezone="UTC")
        if parsed.notna().any():
            latest.append(parsed.max().date())
    return max(latest, default=None)


def persons_in(path: Path, table: CustomerTable, column: str) -> dict[str, str]:
    """customer id -> the person in ``column`` of the customers file, as text."""
    fmt = table.source.format
    ids = _ids(read_column(path, fmt, table.customer_id)).astype(str)
    people = _ids(read_column(path, fmt, column)).astype(str)
    known = (ids != "") & (people != "")
    return dict(zip(ids[known], people[known], strict=True))


def _ids(values: pd.Series) -> pd.Series:
    """Ids read as text (blank: '') as ingest reads them: trimmed, '12697.0' as '12697'
    (:func:`churn.data.parsing.whole_number_ids`), so the tables join here as they will."""
    return whole_number_ids(values.astype("string").str.strip())


def mapped(ids: pd.Series, persons: dict[str, str]) -> pd.Series:
    """``ids`` with those ``persons`` knows replaced by their person."""
    return ids.map(persons).where(ids.isin(persons.keys()), ids)


def _naive(frame: pd.DataFrame | None) -> pd.DataFrame:
    """``customer_id`` and ``ts`` of ``frame`` (none: no rows) with UTC times as the canonical
    tables hold them (no zone); rows without either left out."""
    if frame is None:
        return pd.DataFrame(
            {"customer_id": pd.Series(dtype="string"), "ts": pd.Series(dtype="datetime64[ns]")}
        )
    known = frame.dropna(subset=["customer_id", "ts"])
    known = known[known["customer_id"] != ""]
    return known.assign(ts=known["ts"].dt.tz_localize(None))


SIZED_ROWS = 2_000_000
"""Logs up to this many rows get their labels built at init to size ``train.min_class_rows``
(:func:`churn.init.plan.sized_events`); a larger one is not read again for it."""


def read_cancellations(path: Path, table: ChurnEventTable) -> pd.DataFrame:
    """The cancellations file as ``customer_id`` and ``ts`` (parsed, UTC)."""
    fmt = table.source.format
    parsed, _ = parse_timestamps(
        read_column(path, fmt, table.timestamp.column).replace("", None),
        fmt=table.timestamp.format,
        timezone="UTC",
    )
    ids = _ids(read_column(path, fmt, table.customer_id))
    return pd.DataFrame(
        {"customer_id": ids.reset_index(drop=True), "ts": parsed.reset_index(drop=True)}
    )


def label_counts(
    log: pd.DataFrame, settings: PipelineSettings, cancellations: pd.DataFrame | None = None
) -> dict[str, tuple[int, int]]:
    """(churners, stayers) per training, validation and test split of the labels the written
    settings make on the whole ``log`` (:func:`read_log`), with the churn events that are
    rows of the log (``data.events.churn_event_types``) and ``cancellations`` (the file of
    them, :func:`read_cancellations`). Raises LabelError as the labels stage would."""
    events_settings = settings.data.events
    assert events_settings is not None
    events = _naive(log)
    events = events.assign(
        event_type=events["event_type"].fillna(event_type_key(events_settings.default_event_type))
    )
    # ingest keeps cancellations among the events and copies them to the churn events
    is_churn = events["event_type"].isin(event_type_matches(events_settings.churn_event_types))
    churns = pd.concat([events.loc[is_churn, ["customer_id", "ts"]], _naive(cancellations)])
    labs = settings.labels
    assert isinstance(labs, EventLabelSettings)
    cutoffs = cutoff_table(labs, observed_until(events, labs.last_day_of_data))
    labels = build_labels(
        events, cutoffs, labs, churns if len(churns) else None, covered=events_settings.covered
    )
    out = {}
    for split in ("train", "valid", "test"):
        churned = labels.loc[labels["split"] == split, "churned"].dropna()
        out[split] = (int(churned.sum()), int((~churned.astype(bool)).sum()))
    return out
