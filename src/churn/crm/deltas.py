"""Who entered the list, left it or changed action since the previous export: the delta file a
CRM admin loads instead of the whole list. Pure: frames in, frames out.

The frames compared are import files as written (every cell text, read back with
:func:`read_export`), so a delta is exactly what the CRM holds against what it will hold.
Leavers keep their key and contact fields; their churn fields are cleared by the CRM's own
convention (Salesforce ``#N/A``; an empty cell elsewhere) and their ``outreach_status`` says
``not in outreach``, so a campaign filtering on it drops them whatever the import does with
empty cells.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

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


def export_delta(
    current: pd.DataFrame,
    previous: pd.DataFrame | None,
    *,
    action: str | None,
    status: str | None,
    churn_fields: Sequence[str],
    clear: str,
) -> Delta:
    """The delta from ``previous`` to ``current`` (both :func:`read_export` frames, the key in
    the first column). ``action``, ``status``: the names of the recommended action and
    outreach status fields (None when not exported); ``churn_fields``: fields a leaver has
    cleared, written as ``clear``. No previous file: everyone entered."""
    key = current.columns[0]
    if previous is None or key not in previous.columns:
        return Delta(current.reset_index(drop=True), len(current), 0, 0)
    before = previous.drop_duplicates(key, keep="last").set_index(key)
    entered = ~current[key].isin(before.index)
    changed = pd.Series(False, index=current.index)
    if action is not None and action in before.columns and action in current.columns:
        was = current[key].map(before[action])
        changed = ~entered & (was != current[action])
    leaving = before[~before.index.isin(current[key])].reset_index()
    leavers = pd.DataFrame(
        {c: leaving.get(c, "") for c in current.columns}, index=leaving.index, dtype=object
    )
    for column in churn_fields:
        if column in leavers.columns and column != key:
            leavers[column] = clear
    if status is not None and status in leavers.columns:
        leavers[status] = NOT_IN_OUTREACH
    moved = current[entered | changed]
    frame = pd.concat([moved, leavers], ignore_index=True)
    return Delta(frame, int(entered.sum()), len(leavers), int(changed.sum()))
