"""The at-risk list for a terminal: its top, filtered by tier, action or status (``churn
show``), and one customer's line in full (``churn explain``)."""

from __future__ import annotations

import difflib
import re

import pandas as pd

from churn.errors import ConfigError, PipelineStateError

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


FILTERS = {"tier": "risk_tier", "action": "recommended_action", "status": "outreach_status"}
"""``churn show`` option -> the list's column it filters on."""


def select(scores: pd.DataFrame, *, where: str, **wanted: str | None) -> pd.DataFrame:
    """The customers of ``scores`` whose :data:`FILTERS` columns equal the values asked for
    (``tier="high"``), compared without case or surrounding spaces; None keeps everyone. A
    status is matched on its words before a colon (``control`` for ``control: do not contact``).

    Raises :class:`~churn.errors.ConfigError` naming ``where`` (the list's file), the option,
    the value and the values the list has, when no customer has it: a typo is never an empty
    list."""
    kept = scores
    for option, value in wanted.items():
        if value is None:
            continue
        column = FILTERS[option]
        if column not in scores.columns:
            raise ConfigError(
                f"{where}: --{option} filters on the column {column}, which this list does not "
                "have (written by an older churn); run `churn score` again."
            )
        cells = scores[column].astype("string")
        if option == "status":
            cells = cells.str.split(":").str[0]
        match = (cells.str.strip().str.casefold() == value.strip().casefold()).fillna(False)
        if not match.any():
            present = sorted(scores[column].dropna().astype(str).str.strip().unique())
            raise ConfigError(
                f"{where}: --{option} {value!r}: no customer of the list has {column} "
                f"{value!r}; the list has {present}."
            )
        kept = kept[match.loc[kept.index]]
    return kept


def top_cells(scores: pd.DataFrame, *, top: int = 20) -> tuple[list[str], list[list[str]]]:
    """The column titles and the cells of the first ``top`` customers by ``priority_rank``,
    as text; the first reason is cut to :data:`WIDEST_REASON` characters. Columns the list
    lacks (an older version's) are left out."""
    shown = scores.sort_values("priority_rank", kind="stable").head(top)
    columns = [(c, title) for c, title in COLUMNS if c in shown.columns]
    rows = [[_cell(column, row[column]) for column, _ in columns] for _, row in shown.iterrows()]
    return [title for _, title in columns], rows


SIMILAR_IDS = 5


def customer_lines(scores: pd.DataFrame, customer_id: str, *, where: str) -> list[str]:
    """One customer's line of ``scores`` (a ``scores.parquet``), a field a line: probability,
    risk tier and percentile, value and value at risk, rank, outreach status, action and every
    reason (code, actionable, text). Ids are compared as strings, stripped of spaces.

    Raises :class:`~churn.errors.PipelineStateError` naming ``where`` (the list's file), the
    id and the ids most like it when the customer is not on the list."""
    wanted = customer_id.strip()
    ids = scores["customer_id"].astype(str).str.strip()
    found = scores[ids == wanted]
    if found.empty:
        raise _not_listed(wanted, ids, where=where)
    row = found.iloc[0]
    lines = [
        f"customer {wanted} at cutoff {_date(row.get('cutoff'))}, scored by "
        f"{row.get('model_name', '?')} v{row.get('model_version', '?')} "
        f"at {row.get('scored_at', '?')}",
        f"churn probability   {float(row['churn_probability']):.3f}",
        f"risk                {_text(row.get('risk_tier'))} tier, percentile "
        f"{_number(row.get('risk_percentile'), '.1f')} (100: the riskiest)",
        f"expected value      {_number(row.get('expected_value'), ',.2f')}",
        f"value at risk       {_number(row.get('value_at_risk'), ',.2f')}",
        f"priority rank       {_number(row.get('priority_rank'), ',.0f')} of {len(scores):,}",
        f"outreach status     {_text(row.get('outreach_status'))}",
        f"recommended action  {_text(row.get('recommended_action')) or 'none'}",
    ]
    reasons = [
        (row[f"reason_{k}_code"], row.get(f"reason_{k}_actionable"), row.get(f"reason_{k}_text"))
        for k in _reason_numbers(scores.columns)
        if _text(row[f"reason_{k}_code"])
    ]
    if not reasons:
        lines.append(
            "reasons             none given (reasons explain the outreach slice; "
            "`churn score --explain-all` gives everyone theirs)"
        )
    for k, (code, actionable, text) in enumerate(reasons, start=1):
        kind = "actionable" if not _missing(actionable) and bool(actionable) else "not actionable"
        lines.append(f"reason {k}            {code} ({kind}): {_text(text)}")
    return lines


def _not_listed(wanted: str, ids: pd.Series, *, where: str) -> PipelineStateError:
    similar = difflib.get_close_matches(wanted, ids.unique().tolist(), n=SIMILAR_IDS)
    hint = f"ids like it: {', '.join(similar)}" if similar else "no id on the list looks like it"
    return PipelineStateError(
        f"{where}: customer id {wanted!r} is not among the {len(ids):,} customers of the list "
        f"({hint}). Only eligible customers at the scoring cutoff are scored; run `churn score` "
        "again if the list is older than the customer."
    )


def _reason_numbers(columns: pd.Index) -> list[int]:
    found = (re.fullmatch(r"reason_(\d+)_code", str(c)) for c in columns)
    return sorted(int(m.group(1)) for m in found if m)


def _missing(value: object) -> bool:
    """None, NaN, NA or NaT: an empty cell of the list."""
    scalar = value is not None and pd.api.types.is_scalar(value)
    return not scalar or bool(pd.isna(value))  # type: ignore[call-overload]


def _text(value: object) -> str:
    return "" if _missing(value) else str(value)


def _number(value: object, spec: str) -> str:
    return "?" if _missing(value) else format(float(value), spec)  # type: ignore[arg-type]


def _date(value: object) -> str:
    return "?" if _missing(value) else str(pd.Timestamp(value).date())  # type: ignore[arg-type]


def _cell(column: str, value: object) -> str:
    if _missing(value):
        return ""
    if column == "churn_probability":
        return f"{float(value):.2f}"  # type: ignore[arg-type]
    if column == "value_at_risk":
        return f"{float(value):,.2f}"  # type: ignore[arg-type]
    text = str(value)
    if column == "reason_1_text" and len(text) > WIDEST_REASON:
        return text[: WIDEST_REASON - 1] + "…"
    return text
