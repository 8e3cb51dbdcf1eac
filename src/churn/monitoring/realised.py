"""Realised performance: scored lists whose label window has passed, evaluated against what
their customers then did (``realised.json``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from churn.evaluation import metrics as evaluation_metrics


def no_later_outcome() -> dict[str, Any]:
    """``realised.json`` of a pipeline whose customers have no later outcome (a snapshot)."""
    return {
        "evaluated": [],
        "note": "a snapshot has no later outcome to compare its scores with",
    }


def realised_performance(
    lists: Mapping[dt.date, Callable[[], pd.DataFrame]],
    outcome_at: Callable[[dt.date], pd.DataFrame],
    *,
    data_end: dt.date,
    horizon_days: int,
) -> dict[str, Any]:
    """Each scored list (by cutoff, in order; read only when its outcome is known) evaluated
    against ``outcome_at(cutoff)`` (``customer_id``, ``churned``) once ``cutoff`` + horizon is
    no later than ``data_end``; the others listed with the day their outcome is known from."""
    horizon = dt.timedelta(days=horizon_days)
    evaluated, waiting = [], []
    for cutoff, read in lists.items():
        if cutoff + horizon > data_end:
            waiting.append(
                {"cutoff": cutoff.isoformat(), "known_from": (cutoff + horizon).isoformat()}
            )
            continue
        evaluated.append(list_performance(read(), outcome_at(cutoff), cutoff))
    return {"evaluated": evaluated, "not_yet_known": waiting}


def list_performance(
    scores: pd.DataFrame, outcome: pd.DataFrame, cutoff: dt.date
) -> dict[str, Any]:
    """One scored list against its customers' outcome (``customer_id``, ``churned``): the
    model's metrics, and the churn rate inside and outside the outreach slice."""
    joined = scores.merge(outcome[["customer_id", "churned"]], on="customer_id", how="inner")
    y = joined["churned"].astype(bool).to_numpy().astype(int)
    metrics = evaluation_metrics.binary_metrics(y, joined["churn_probability"].to_numpy())
    contact = joined[joined["in_outreach"]]
    rest = joined[~joined["in_outreach"]]
    return {
        "cutoff": cutoff.isoformat(),
        "model": f"{scores['model_name'].iloc[0]} v{scores['model_version'].iloc[0]}",
        "scored": len(scores),
        "with_outcome": len(joined),
        **metrics,
        "churn_rate_outreach": float(contact["churned"].mean()) if len(contact) else None,
        "churn_rate_rest": float(rest["churned"].mean()) if len(rest) else None,
    }
