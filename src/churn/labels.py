"""Point-in-time churn labels.

For each cutoff ``c`` the eligible customers are those with qualifying activity before ``c``
who have not already churned; the label says whether they churn in ``[c, c + horizon)``:
no qualifying activity in the window (inactivity churn), an explicit churn event in it, or
either, as configured. Cutoffs are whole days (midnight UTC), so "before c" is "on an earlier
day". Cutoffs whose window runs past the end of the data get no label but stay scorable.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from churn.data.event_summaries import EventSpan, event_span
from churn.data.parsing import event_type_matches
from churn.engines.sql import (
    SqlRunner,
    Table,
    day_of,
    days_to_timestamp,
    duckdb_runner,
    quote_literal,
    timestamp_to_days,
)
from churn.errors import LabelError
from churn.settings import CutoffSchedule, EventLabelSettings, SnapshotLabelSettings

LABEL_COLUMNS = ("customer_id", "cutoff", "churned", "split")


def schedule_dates(schedule: CutoffSchedule) -> list[dt.date]:
    """The cutoff dates of a schedule, ascending."""
    if schedule.dates is not None:
        return sorted(set(schedule.dates))
    assert schedule.start is not None and schedule.end is not None
    out: list[dt.date] = []
    start = pd.Timestamp(schedule.start)
    while (d := (start + pd.DateOffset(months=len(out) * schedule.every_months)).date()) <= (
        schedule.end
    ):
        out.append(d)
    return out


def observed_until(
    events: pd.DataFrame | EventSpan, last_day_of_data: dt.date | None = None
) -> dt.date:
    """First day not covered by the data: the day after ``last_day_of_data`` if given (an
    extract's documented end), else the day after the last event. ``events``: the canonical
    events, or their span (``churn.data.event_summaries.event_span``)."""
    span = events if isinstance(events, EventSpan) else EventSpan.of_frame(events)
    if span.last is None:
        raise LabelError("No events: cannot place cutoffs on an empty history.")
    last_event_day = span.last.floor("D").date()
    if last_day_of_data is not None:
        if last_day_of_data < last_event_day:
            raise LabelError(
                f"labels.last_day_of_data {last_day_of_data} is before the last event "
                f"({last_event_day}). Expected a date on or after {last_event_day}."
            )
        return last_day_of_data + dt.timedelta(days=1)
    return last_event_day + dt.timedelta(days=1)


def cutoff_table(settings: EventLabelSettings, data_end: dt.date) -> pd.DataFrame:
    """One row per cutoff: ``cutoff`` (date), ``split`` and whether its label is observable.

    The last training cutoff is the validation cutoff; earlier cutoffs whose label window runs
    past it are ``purged``. Raises LabelError if a training label window reaches past the test
    cutoff (that would leak the test period into training) or the test window is not fully
    observed.
    """
    horizon = dt.timedelta(days=settings.horizon_days)
    train = schedule_dates(settings.train_cutoffs)
    leaking = [c for c in train if c + horizon > settings.test_cutoff]
    if leaking:
        raise LabelError(
            f"labels.train_cutoffs: the label window of {leaking[0]} (+{settings.horizon_days} "
            f"days = {leaking[0] + horizon}) runs past test_cutoff {settings.test_cutoff}, so "
            "training would see the test period. Expected every training cutoff on or before "
            f"{settings.test_cutoff - horizon}; move the last training cutoff earlier."
        )
    if settings.test_cutoff + horizon > data_end:
        raise LabelError(
            f"labels.test_cutoff {settings.test_cutoff} + horizon {settings.horizon_days} days "
            f"= {settings.test_cutoff + horizon}, but the last day of data is "
            f"{data_end - dt.timedelta(days=1)}, so its labels are not known. Expected a "
            f"test cutoff on or before {data_end - horizon}."
        )
    first_day = min(train)
    valid = train[-1]
    # A training label window that runs past the validation cutoff shares outcomes with the
    # validation labels (the same customers, overlapping windows): early stopping and
    # calibration would be fooled. Such cutoffs are "purged": labelled, used by backtests as
    # test points, never fitted on for this model.
    rows = [(c, "train" if c + horizon <= valid else "purged") for c in train[:-1]]
    rows.append((valid, "valid"))
    if not any(role == "train" for _, role in rows):
        raise LabelError(
            f"labels.train_cutoffs: no training cutoff's {settings.horizon_days}-day window ends "
            f"by the validation cutoff {valid} (the last training cutoff). Expected at least one "
            f"cutoff on or before {valid - horizon}; add earlier cutoffs."
        )
    rows.append((settings.test_cutoff, "test"))
    score = settings.score_cutoff or data_end
    if score < first_day:
        raise LabelError(f"labels.score_cutoff {score} is before the first cutoff {first_day}.")
    if score not in {c for c, _ in rows}:
        rows.append((score, "score"))
    table = pd.DataFrame(rows, columns=["cutoff", "split"])
    table["observed"] = [c + horizon <= data_end for c in table["cutoff"]]
    return table


def cutoff_days(cutoffs: pd.DataFrame) -> pd.DataFrame:
    """``cutoffs`` (from :func:`cutoff_table`) as table ``cut`` of :func:`labels_sql`:
    ``cutoff_day`` (days since 1970-01-01), ``split``, ``observed``."""
    return pd.DataFrame(
        {
            "cutoff_day": (pd.to_datetime(cutoffs["cutoff"]) - pd.Timestamp("1970-01-01")).dt.days,
            "split": cutoffs["split"].astype(str),
            "observed": cutoffs["observed"].astype(bool),
        }
    )


NO_CHURNS = pd.DataFrame(
    {"customer_id": pd.Series([], dtype="str"), "ts": pd.Series([], dtype="datetime64[us]")}
)
"""Table ``churns`` of :func:`labels_sql` when the pipeline has no explicit churn events."""


def labels_sql(settings: EventLabelSettings, *, covered: bool = False) -> str:
    """The labels query of :func:`build_labels` on tables ``events``, ``churns`` (customer_id,
    ts) and ``cut`` (:func:`cutoff_days`): ``customer_id``, ``cutoff_day``, ``split``,
    ``churned``, sorted by cutoff_day then customer_id.

    ``covered``: the events hold ``covered_until`` (the day each payment covers the customer
    through). A customer is then still one through the window ``[c, c + h)`` when an activity
    event before ``c + h`` covers them to day ``c + h`` or later, and eligible, whatever
    ``max_inactive_days`` says, while an activity event before ``c`` covers them to ``c`` or
    later. Without it the query is the one written before coverage existed."""
    h = settings.horizon_days
    types = ", ".join(quote_literal(t) for t in event_type_matches(settings.activity_event_types))
    inactive = (
        "TRUE"
        if settings.max_inactive_days is None
        else f"a.last_day >= a.cutoff_day - {settings.max_inactive_days}"
    )
    if covered and settings.max_inactive_days is not None:
        inactive = f"({inactive} OR a.covered_to >= a.cutoff_day)"
    inactivity_label = (
        f"(a.n_window = 0 AND COALESCE(a.covered_through, a.cutoff_day) < a.cutoff_day + {h})"
        if covered
        else "a.n_window = 0"
    )
    explicit_label = "COALESCE(x.n_window, 0) > 0"
    label = {
        "inactivity": inactivity_label,
        "explicit": explicit_label,
        "either": f"({inactivity_label} OR {explicit_label})",
    }[settings.churn_definition]
    act = f"""SELECT DISTINCT customer_id, {day_of("ts")} AS day
        FROM events WHERE event_type IN ({types})"""
    coverage = ""
    if covered:
        act = f"""SELECT customer_id, {day_of("ts")} AS day,
            MAX({day_of("covered_until")}) AS covered_day
        FROM events WHERE event_type IN ({types})
        GROUP BY customer_id, {day_of("ts")}"""
        coverage = """
               MAX(CASE WHEN act.day < c.cutoff_day THEN act.covered_day END) AS covered_to,
               MAX(act.covered_day) AS covered_through,"""
    return f"""
    WITH act AS (
        {act}
    ),
    a AS (
        SELECT act.customer_id, c.cutoff_day,{coverage}
               MAX(CASE WHEN act.day < c.cutoff_day THEN act.day END) AS last_day,
               COUNT(CASE WHEN act.day >= c.cutoff_day THEN 1 END) AS n_window
        FROM act JOIN cut AS c ON act.day < c.cutoff_day + {h}
        GROUP BY act.customer_id, c.cutoff_day
    ),
    x AS (
        SELECT ch.customer_id, c.cutoff_day,
               MAX(CASE WHEN ch.day < c.cutoff_day THEN ch.day END) AS last_churn_day,
               COUNT(CASE WHEN ch.day >= c.cutoff_day THEN 1 END) AS n_window
        FROM (SELECT customer_id, {day_of("ts")} AS day FROM churns) AS ch
        JOIN cut AS c ON ch.day < c.cutoff_day + {h}
        GROUP BY ch.customer_id, c.cutoff_day
    )
    SELECT a.customer_id, a.cutoff_day, c.split,
           CASE WHEN c.observed THEN {label} END AS churned
    FROM a JOIN cut AS c ON c.cutoff_day = a.cutoff_day
    LEFT JOIN x ON a.customer_id = x.customer_id AND a.cutoff_day = x.cutoff_day
    WHERE a.last_day IS NOT NULL AND {inactive}
      AND (x.last_churn_day IS NULL OR x.last_churn_day < a.last_day)
    ORDER BY a.cutoff_day, a.customer_id
    """


def empty_splits(cutoffs: pd.DataFrame, found: Iterable[str]) -> list[str]:
    """The training, validation and test splits of ``cutoffs`` without a label among
    ``found`` (the splits the labels have)."""
    return sorted({"train", "valid", "test"} & (set(cutoffs["split"]) - set(found)))


def no_eligible_customers(
    empty: list[str], settings: EventLabelSettings, events: Table, run_sql: SqlRunner
) -> LabelError:
    """The error for cutoffs of splits ``empty`` where nobody is eligible, with the data's
    span and event types to check the settings against."""
    span = event_span(events, run_sql)
    return LabelError(
        f"No eligible customers at the {', '.join(empty)} cutoff(s): nobody has "
        f"{'/'.join(settings.activity_event_types)} activity before them"
        + (
            f" within max_inactive_days={settings.max_inactive_days}"
            if settings.max_inactive_days
            else ""
        )
        + f". The data runs from {span.first:%Y-%m-%d} to {span.last:%Y-%m-%d}"
        f" and has event types {list(span.event_types)[:10]}. "
        "Check labels.activity_event_types and the cutoffs against them."
    )


def build_labels(
    events: Table,
    cutoffs: pd.DataFrame,
    settings: EventLabelSettings,
    churn_events: pd.DataFrame | None = None,
    *,
    threads: int | None = None,
    run_sql: SqlRunner | None = None,
    only: pd.DataFrame | None = None,
    covered: bool = False,
) -> pd.DataFrame:
    """Labels for every eligible (customer, cutoff) pair, all cutoffs in one query.

    ``events``: canonical events (customer_id, ts, event_type), a frame or a parquet file the
    engine scans (``churn.engines.sql.ParquetTable``). ``cutoffs``: from
    ``cutoff_table``. ``churn_events``: canonical explicit churn events, if any. ``run_sql``:
    the engine (default: DuckDB with ``threads``). ``only``: just these pairs (``customer_id``,
    ``cutoff``, one row each; past contacts), the rest left in the engine. ``covered``: the
    events hold ``covered_until`` and a paid-up customer is no churner (:func:`labels_sql`).
    Returns ``customer_id``, ``cutoff`` (timestamp at midnight), ``churned`` (bool, missing
    where the window is not observed) and ``split``, sorted by cutoff then customer.
    """
    churns = churn_events if churn_events is not None else NO_CHURNS
    cut = cutoff_days(cutoffs)
    sql = labels_sql(settings, covered=covered)
    if run_sql is None:
        run_sql = duckdb_runner(threads=threads)
    read = ["customer_id", "ts", "event_type", *(["covered_until"] if covered else [])]
    used = events[read] if isinstance(events, pd.DataFrame) else events
    tables: dict[str, Table] = {"events": used, "churns": churns, "cut": cut}
    if only is not None:
        tables["only_pairs"] = pd.DataFrame(
            {
                "customer_id": only["customer_id"].astype(str),
                "cutoff_day": timestamp_to_days(pd.to_datetime(only["cutoff"])),
            }
        )
        sql = f"""
        SELECT l.* FROM ({sql}) AS l
        JOIN only_pairs AS o ON l.customer_id = o.customer_id AND l.cutoff_day = o.cutoff_day
        ORDER BY l.cutoff_day, l.customer_id
        """
    out = run_sql(tables, sql).to_pandas()
    labels = pd.DataFrame(
        {
            "customer_id": out["customer_id"].astype(object),
            "cutoff": days_to_timestamp(out["cutoff_day"]),
            "churned": out["churned"].astype("boolean"),
            "split": out["split"].astype(object),
        }
    )
    empty = empty_splits(cut, labels["split"])
    if empty:
        raise no_eligible_customers(empty, settings, events, run_sql)
    return labels


HASH_DIGITS = 13
"""Hex digits of the md5 read as a number per draw (52 bits: exact as a double, in Python and
in Spark SQL alike)."""
_HASH_SCALE = float(16**HASH_DIGITS)


@dataclass(frozen=True)
class HashSplit:
    """``labels.split: hash``: a customer's place from ``md5("<seed>:<customer_id>")``; the first
    :data:`HASH_DIGITS` hex digits over 16^13 give ``u`` in [0, 1): test below
    ``test_below``, valid below ``valid_below``, else train; the next 13 digits modulo
    ``n_folds`` give the fold of a row not in test (test rows: -1). Python
    (:meth:`place`) and Spark SQL (:meth:`sql`) compute it alike."""

    seed: int
    test_below: float
    valid_below: float
    n_folds: int

    @classmethod
    def of(cls, settings: SnapshotLabelSettings) -> HashSplit:
        test = settings.test_fraction
        return cls(
            settings.seed, test, test + (1 - test) * settings.valid_fraction, settings.n_folds
        )

    def place(self, customer_ids: pd.Series) -> pd.DataFrame:
        """``split`` and ``fold`` of each id (same index)."""
        digests = [
            hashlib.md5(f"{self.seed}:{c}".encode(), usedforsecurity=False).hexdigest()
            for c in customer_ids.astype(str)
        ]
        u = np.array([int(d[:HASH_DIGITS], 16) for d in digests], dtype="float64") / _HASH_SCALE
        fold = np.array([int(d[HASH_DIGITS : 2 * HASH_DIGITS], 16) for d in digests], dtype=object)
        split = np.where(
            u < self.test_below, "test", np.where(u < self.valid_below, "valid", "train")
        )
        folds = np.where(split == "test", -1, (fold % self.n_folds).astype("int64"))
        return pd.DataFrame(
            {
                "split": pd.Series(split, index=customer_ids.index, dtype=object),
                "fold": pd.Series(folds, index=customer_ids.index, dtype="int64"),
            }
        )

    def sql(self, column: str = "customer_id") -> tuple[str, str]:
        """Spark SQL expressions of ``split`` and ``fold`` for the id column ``column``: the
        same doubles compared (``D`` literals, not decimals) as :meth:`place` compares."""
        digest = f"md5(concat('{self.seed}:', CAST({column} AS STRING)))"
        u = (
            f"(CAST(CAST(conv(substr({digest}, 1, {HASH_DIGITS}), 16, 10) AS BIGINT) AS DOUBLE)"
            f" / {_HASH_SCALE!r}D)"
        )
        split = (
            f"CASE WHEN {u} < {self.test_below!r}D THEN 'test' "
            f"WHEN {u} < {self.valid_below!r}D THEN 'valid' ELSE 'train' END"
        )
        draw = f"CAST(conv(substr({digest}, {HASH_DIGITS + 1}, {HASH_DIGITS}), 16, 10) AS BIGINT)"
        fold = (
            f"CASE WHEN {u} < {self.test_below!r}D THEN CAST(-1 AS BIGINT) "
            f"ELSE pmod({draw}, CAST({self.n_folds} AS BIGINT)) END"
        )
        return split, fold


def snapshot_labels(snapshot: pd.DataFrame, settings: SnapshotLabelSettings) -> pd.DataFrame:
    """Labels of a snapshot table: a held-out test split, a validation split, and
    cross-validation folds (``fold``, 0..n_folds-1) over the non-test rows; stratified by
    scikit-learn, or with ``labels.split: hash`` placed by :class:`HashSplit`."""
    if settings.split == "hash":
        placed = HashSplit.of(settings).place(snapshot["customer_id"])
        return _snapshot_label_frame(snapshot, settings, placed["split"], placed["fold"])
    from sklearn.model_selection import (  # noqa: PLC0415 - slow import, only snapshots need it
        StratifiedKFold,
        train_test_split,
    )

    y = snapshot["churned"].astype(bool)
    idx = snapshot.index.to_numpy()
    rest, test = train_test_split(
        idx, test_size=settings.test_fraction, stratify=y, random_state=settings.seed
    )
    _train, valid = train_test_split(
        rest,
        test_size=settings.valid_fraction,
        stratify=y.loc[rest],
        random_state=settings.seed,
    )
    split = pd.Series("train", index=snapshot.index, dtype=object)
    split.loc[valid] = "valid"
    split.loc[test] = "test"
    fold = pd.Series(-1, index=snapshot.index, dtype="int64")
    folds = StratifiedKFold(n_splits=settings.n_folds, shuffle=True, random_state=settings.seed)
    for k, (_, held) in enumerate(folds.split(rest, y.loc[rest])):
        fold.loc[rest[held]] = k
    return _snapshot_label_frame(snapshot, settings, split, fold)


def _snapshot_label_frame(
    snapshot: pd.DataFrame, settings: SnapshotLabelSettings, split: pd.Series, fold: pd.Series
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": snapshot["customer_id"].astype(object),
            "cutoff": pd.Timestamp(settings.snapshot_date).as_unit("us"),
            "churned": snapshot["churned"].astype(bool).astype("boolean"),
            "split": split,
            "fold": fold,
        }
    ).reset_index(drop=True)
