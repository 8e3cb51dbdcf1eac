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
from collections.abc import Mapping
from dataclasses import dataclass

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
    (:func:`leaver_values`). No previous file: everyone entered."""
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
    for column, value in leavers_hold.items():
        if column in leavers.columns and column != key:
            leavers[column] = value
    frame = pd.concat([current[entered | changed], leavers], ignore_index=True)
    return Delta(frame, int(entered.sum()), len(leavers), int(changed.sum()))
