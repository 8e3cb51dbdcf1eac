"""Who entered the list, left it or changed action since the previous export: the delta file a
CRM admin loads instead of the whole list. Pure: frames in, frames out.

The frames compared are import files as written (every cell text, read back with
:func:`read_export`), so a delta is exactly what the CRM holds against what it will hold.
Leavers keep their key and contact fields; their churn fields are cleared by the CRM's own
convention (Salesforce ``#N/A``; an empty cell elsewhere; ``false`` in a checkbox) and their
``outreach_status`` says ``not in outreach``, so a campaign filtering on it drops them whatever
the import does with empty cells.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import pandas as pd

from churn.crm.fields import FieldType

NOT_IN_OUTREACH = "not in outreach"


@dataclass(frozen=True)
class Delta:
    frame: pd.DataFrame
    """Rows of customers who entered or changed action (as in the new file), then leavers."""
    entered: int
    left: int
    changed: int


def read_export(data: bytes, encoding: str) -> pd.DataFrame:
    """An import file as text cells (empty cells as ``""``), the way it was written."""
    return pd.read_csv(
        io.BytesIO(data), encoding=encoding, dtype=str, keep_default_na=False, na_filter=False
    )


def read_export_parts(
    source: BinaryIO, encoding: str, *, columns: Collection[str] | None = None, rows: int
) -> Iterator[pd.DataFrame]:
    """An import file (open for reading) as :func:`read_export` reads it, ``rows`` rows at a
    time; with ``columns``, only those of them it has (none: no parts)."""
    header = pd.read_csv(source, encoding=encoding, dtype=str, nrows=0).columns
    source.seek(0)
    usecols = None if columns is None else [c for c in header if c in columns]
    if usecols == []:
        return
    yield from pd.read_csv(
        source,
        encoding=encoding,
        dtype=str,
        keep_default_na=False,
        na_filter=False,
        usecols=usecols,
        chunksize=rows,
    )


def leaver_values(
    fields: Mapping[str, FieldType], *, status: str | None, clear: str
) -> dict[str, str]:
    """What a leaver's row holds in each churn field (``fields``: name -> type, contact fields
    and the key left out): ``clear``, the CRM's clearing convention; ``false`` in a boolean
    field (a checkbox holds no null); ``not in outreach`` in the ``status`` field."""
    values = {name: "false" if kind == "boolean" else clear for name, kind in fields.items()}
    if status is not None:
        values[status] = NOT_IN_OUTREACH
    return values


def export_delta(
    current: pd.DataFrame,
    previous: pd.DataFrame | None,
    *,
    action: str | None,
    leavers_hold: Mapping[str, str],
) -> Delta:
    """The delta from ``previous`` to ``current`` (both :func:`read_export` frames, the key in
    the first column): rows of customers who entered or changed ``action`` (the name of the
    recommended action field; None when not exported) as ``current`` has them, then one row per
    leaver, its fields as ``previous`` had them but those of ``leavers_hold``
    (:func:`leaver_values`). No previous file: everyone entered. The whole-frame form of
    :class:`DeltaParts`."""
    parts = DeltaParts(
        list(current.columns),
        None if previous is None else [previous],
        action=action,
        leavers_hold=leavers_hold,
    )
    moved = parts.add(current)
    leavers = list(parts.leavers([] if previous is None else [previous]))
    frame = pd.concat([moved, *leavers], ignore_index=True)
    return Delta(frame, parts.entered, parts.left, parts.changed)


class DeltaParts:
    """:func:`export_delta` for files too large to hold: the previous file's keys (and
    actions) are read once, the current file is added a part at a time (:meth:`add` returns
    each part's rows that entered or changed action), and the leavers come last, picked from
    a second pass over the previous file (:meth:`leavers`). Only keys and actions are held."""

    def __init__(
        self,
        columns: list[str],
        previous_keys: Iterable[pd.DataFrame] | None,
        *,
        action: str | None,
        leavers_hold: Mapping[str, str],
    ) -> None:
        """``columns``: the current file's (the key first); ``previous_keys``: the previous
        file in parts, in order, with at least its key column and ``action`` when it has one
        (None: there is no previous file, so everyone entered)."""
        self.columns = columns
        self.key = columns[0]
        self.action = action
        self.leavers_hold = leavers_hold
        self.entered = self.left = self.changed = 0
        self._current_keys: list[pd.Series] = []
        self._before: pd.Series | None = None  # key -> action (or key -> key) of each last row
        self._last_rows = np.array([], dtype="int64")  # positions of those last rows
        self._compares_action = False
        parts = [] if previous_keys is None else list(previous_keys)
        if not parts or self.key not in parts[0].columns:
            return
        self._compares_action = (
            action is not None and action != self.key and action in columns and action in parts[0]
        )
        value = action if self._compares_action else self.key
        rows = pd.concat([p[[self.key, value]] for p in parts], ignore_index=True)
        last = rows.drop_duplicates(self.key, keep="last")
        self._last_rows = last.index.to_numpy(dtype="int64")
        self._before = pd.Series(last[value].to_numpy(), index=pd.Index(last[self.key]))

    def add(self, current: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``current`` (the next part of the current file) whose customer entered
        the list or changed action."""
        keys = current[self.key]
        self._current_keys.append(keys)
        if self._before is None:
            self.entered += len(current)
            return current
        entered = ~keys.isin(self._before.index)
        changed = pd.Series(False, index=current.index)
        if self._compares_action:
            changed = ~entered & (keys.map(self._before) != current[self.action])
        self.entered += int(entered.sum())
        self.changed += int(changed.sum())
        return current[entered | changed]

    def leavers(self, previous: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        """Once every part was added: the previous file's customers not in the current one,
        one row each (their last), from ``previous`` (the previous file in parts, in order)
        with the current file's columns and ``leavers_hold``'s values."""
        if self._before is None:
            return
        now = pd.concat(self._current_keys) if self._current_keys else pd.Series([], dtype=object)
        leaving = self._last_rows[~self._before.index.isin(now)]
        self.left = len(leaving)
        start = 0
        for part in previous:
            lo, hi = np.searchsorted(leaving, [start, start + len(part)])
            rows = part.iloc[leaving[lo:hi] - start].reset_index(drop=True)
            start += len(part)
            if len(rows):
                yield self._as_leavers(rows)

    def _as_leavers(self, rows: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame(
            {c: rows.get(c, "") for c in self.columns}, index=rows.index, dtype=object
        )
        for column, value in self.leavers_hold.items():
            if column in out.columns and column != self.key:
                out[column] = value
        return out
