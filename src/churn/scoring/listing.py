"""The top of an at-risk list as lines of text, for a terminal (``churn list``)."""

from __future__ import annotations

import math

import pandas as pd

COLUMNS = (
    ("priority_rank", "rank"),
    ("customer_id", "customer"),
    ("churn_probability", "P(churn)"),
    ("risk_tier", "tier"),
    ("value_at_risk", "value at risk"),
    ("outreach_status", "status"),
    ("recommended_action", "action"),
    ("reason_1_text", "first reason"),
)
WIDEST_REASON = 70


def list_lines(scores: pd.DataFrame, *, top: int = 20) -> list[str]:
    """A header, a rule and the first ``top`` customers by ``priority_rank``, columns aligned;
    the first reason is cut to :data:`WIDEST_REASON` characters. Columns the list lacks (an
    older version's) are left out."""
    shown = scores.sort_values("priority_rank", kind="stable").head(top)
    columns = [(c, title) for c, title in COLUMNS if c in shown.columns]
    cells = [[title for _, title in columns]]
    for _, row in shown.iterrows():
        cells.append([_cell(column, row[column]) for column, _ in columns])
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = [
        "  ".join(text.ljust(w) for text, w in zip(line, widths, strict=True)).rstrip()
        for line in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(f"{min(top, len(scores)):,} of {len(scores):,} customers")
    return lines


def _cell(column: str, value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if column == "churn_probability":
        return f"{float(value):.2f}"  # type: ignore[arg-type]
    if column == "value_at_risk":
        return f"{float(value):,.2f}"  # type: ignore[arg-type]
    text = str(value)
    if column == "reason_1_text" and len(text) > WIDEST_REASON:
        return text[: WIDEST_REASON - 1] + "…"
    return text
