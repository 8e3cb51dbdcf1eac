"""One customer of the at-risk list, explained: their feature row at the scoring cutoff, the
model's SHAP contributions for it, a waterfall figure and their reasons as a table.

:func:`explain_scored_customer` reads what ``churn score`` read (the canonical tables and the
model that scored) and rebuilds the customer's features with the scoring code itself (the
pipeline kind's ``population``, as ``churn score`` does); the other functions are pure.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from churn.errors import PipelineStateError
from churn.io.paths import PipelinePaths
from churn.scoring.explain import Contributions, shap_contributions
from churn.scoring.ranking import ModelIdentity
from churn.settings import PipelineSettings

if TYPE_CHECKING:
    from churn.tracking.store import Tracker

LOCAL_MODEL_VERSION = "local"
"""``model_version`` of rows scored with ``churn score --model <folder>``."""
MAX_DISPLAY = 12
_REASON = re.compile(r"^reason_(\d+)_code$")


@dataclass(frozen=True)
class CustomerExplanation:
    """One customer's model input and SHAP contributions at one cutoff."""

    customer_id: str
    cutoff: dt.date
    matrix: pd.DataFrame
    """One row: the model's input (numeric features float64, categorical as categories)."""
    contributions: Contributions
    """One row of SHAP values in log-odds; ``base`` + their sum = the booster's margin."""
    churn_probability: float
    """The calibrated probability the model gives this row."""
    model: ModelIdentity


def first_to_contact(scores: pd.DataFrame) -> pd.Series:
    """The top of the outreach list: the outreach row with the best ``priority_rank`` that is
    not held out as control. Raises PipelineStateError when nobody is to be contacted."""
    contact = scores[scores["in_outreach"] & ~scores["control_group"]]
    if contact.empty:
        raise PipelineStateError(
            "scores: nobody in the outreach slice is to be contacted (empty slice, or all "
            "control). Check scoring.outreach in params.yaml and rerun `churn score`."
        )
    return contact.sort_values("priority_rank", kind="stable").iloc[0]


def scored_row(scores: pd.DataFrame, customer_id: str) -> pd.Series:
    """The row of ``customer_id`` in ``scores``; PipelineStateError if it was not scored."""
    rows = scores[scores["customer_id"].astype(str) == str(customer_id)]
    if rows.empty:
        raise PipelineStateError(
            f"customer {customer_id!r} is not in scores.parquet: only customers eligible at the "
            "scoring cutoff are scored."
        )
    return rows.iloc[0]


def reason_table(row: pd.Series) -> pd.DataFrame:
    """A scored customer's reasons as rows: ``rank`` (1 = shown first: the strongest actionable
    reason, or NO_SINGLE_DRIVER; context after), ``code``, ``text``, ``actionable``; only the
    reasons the customer has."""
    ranks = sorted(int(m.group(1)) for c in row.index if (m := _REASON.match(str(c))))
    records = [
        {
            "rank": k,
            "code": row[f"reason_{k}_code"],
            "text": row[f"reason_{k}_text"],
            "actionable": row[f"reason_{k}_actionable"],
        }
        for k in ranks
        if pd.notna(row[f"reason_{k}_code"])
    ]
    return pd.DataFrame(records, columns=["rank", "code", "text", "actionable"])


def explain_scored_customer(
    settings: PipelineSettings,
    paths: PipelinePaths,
    scores: pd.DataFrame,
    customer_id: str,
    *,
    tracker: Tracker | None = None,
) -> CustomerExplanation:
    """Rebuild ``customer_id``'s features at the cutoff ``scores`` was made at, with the model
    that scored it (the folder for ``churn score --model``, else the registry's champion), and
    compute its SHAP contributions. The champion is read from ``tracker``'s registry (default:
    the store ``$MLFLOW_TRACKING_URI`` names, else the project's, as ``churn score`` reads it).

    Raises PipelineStateError if the customer was not scored, if the champion is no longer the
    version that scored, or if the rebuilt row no longer gives the scored probability (the
    data or params changed since): rerun ``churn score`` then.
    """
    from churn.io.canonical import CanonicalFiles  # noqa: PLC0415 - pulls in the engines
    from churn.kinds import kind_of  # noqa: PLC0415 - pulls in the whole feature stack
    from churn.tracking.loading import load_scoring_model  # noqa: PLC0415 - mlflow is slow
    from churn.tracking.store import Tracker  # noqa: PLC0415

    row = scored_row(scores, customer_id)
    version = str(row["model_version"])
    model_path = None
    if version == LOCAL_MODEL_VERSION:  # model_name is the folder, as given to churn score
        model_path = paths.project_dir / Path(str(row["model_name"]))
    if tracker is None:  # a notebook's call: the store the CLI would use
        tracker = Tracker.from_environment(paths.project_dir, os.environ)
    loaded = load_scoring_model(paths, model_path, tracker=tracker)
    if version not in (LOCAL_MODEL_VERSION, loaded.identity.version):
        raise PipelineStateError(
            f"scores.parquet was scored by {row['model_name']} v{version}, but the champion is "
            f"now v{loaded.identity.version}. Rerun `churn score {paths.name}` first."
        )
    loaded.model.booster.set_param({"nthread": settings.scoring.threads or 1})
    cutoff = pd.Timestamp(row["cutoff"]).date()
    population = kind_of(settings).population(CanonicalFiles(paths, settings.features), cutoff)
    features = population.features
    mine = features[features["customer_id"].astype(str) == str(customer_id)]
    probability = float(loaded.model.predict_proba(mine)[0])
    if not np.isclose(probability, float(row["churn_probability"]), rtol=0, atol=1e-9):
        raise PipelineStateError(
            f"customer {customer_id!r}: the rebuilt features give a churn probability of "
            f"{probability:.6f}, but scores.parquet says {float(row['churn_probability']):.6f}; "
            f"the data or params changed since scoring. Rerun `churn score {paths.name}`."
        )
    return CustomerExplanation(
        customer_id=str(customer_id),
        cutoff=cutoff,
        matrix=loaded.model.matrix(mine).reset_index(drop=True),
        contributions=shap_contributions(loaded.model, mine),
        churn_probability=probability,
        model=loaded.identity,
    )


def _display_values(matrix: pd.DataFrame) -> np.ndarray:
    """The row's values as shown beside each feature: numbers, category names, or NaN."""
    row = matrix.iloc[0]
    return np.array(
        [None if pd.isna(v) else (v if isinstance(v, int | float) else str(v)) for v in row],
        dtype=object,
    )


def waterfall_figure(explanation: CustomerExplanation, *, max_display: int = MAX_DISPLAY) -> Any:
    """SHAP waterfall of one customer: from the model's base log-odds, each feature's push up
    (towards churn) or down, to the customer's log-odds; the ``max_display`` - 1 largest
    features shown, the rest summed. Returns a matplotlib figure."""
    import matplotlib.pyplot as plt  # noqa: PLC0415 - shap draws on pyplot's current figure
    import shap  # noqa: PLC0415 - slow import, only needed here

    c = explanation.contributions
    figure = plt.figure()
    shap.plots.waterfall(
        shap.Explanation(
            values=c.values[0],
            base_values=c.base,
            data=_display_values(explanation.matrix),
            feature_names=list(c.features),
        ),
        max_display=max_display,
        show=False,
    )
    figure.set_size_inches(10.0, figure.get_size_inches()[1] + 0.6)
    figure.suptitle(
        f"Why customer {explanation.customer_id} is at risk: churn probability "
        f"{explanation.churn_probability:.0%} at {explanation.cutoff}\n"
        "SHAP values in log-odds of churn (> 0 raises the risk), from the average customer "
        "E[f(X)] to this one f(x)",
        fontsize=11,
        x=0.02,
        ha="left",
    )
    figure.tight_layout()
    plt.close(figure)  # the caller owns it now: pyplot keeps no reference, nothing shows twice
    return figure
