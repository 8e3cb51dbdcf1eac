"""From a feature frame to the at-risk list: probabilities, tiers, value at risk, ranking, the
outreach slice with its control group, reasons and one recommended action per customer.

Pure: the model, features, values and settings come in; a frame comes out. ``churn score``
(stages/score.py) does the reading and writing.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from churn.modeling.model import ChurnModel
from churn.scoring.control import hold_out_control
from churn.scoring.explain import Contributions, Reference
from churn.scoring.outreach import (
    outreach_size,
    priority_rank,
    risk_percentile,
    risk_tier,
    tier_definition,
)
from churn.scoring.reasons import ReasonCatalogue
from churn.scoring.targeting import Explained, explain_customers
from churn.scoring.value import has_monetary_value, value_percentiles, worth
from churn.settings import PlaybookSettings, ScoringSettings

__all__ = [  # the scoring steps in order, and what they return
    "CONTACT",
    "CONTROL",
    "NOT_IN_OUTREACH",
    "Explained",
    "ModelIdentity",
    "ScoreResult",
    "explain_customers",
    "has_monetary_value",
    "hold_out_control",
    "priority_column",
    "rank_customers",
    "score_columns",
    "score_customers",
    "value_percentiles",
    "worth",
]

log = logging.getLogger("churn")

CONTACT = "contact"
CONTROL = "control: do not contact"
NOT_IN_OUTREACH = "not in outreach"


@dataclass(frozen=True)
class ModelIdentity:
    name: str
    version: str


@dataclass(frozen=True)
class ScoreResult:
    scores: pd.DataFrame
    """One row per customer, sorted by ``priority_rank``; columns :func:`score_columns`."""
    contributions: Contributions
    """SHAP values of the explained customers (rows of ``explained``), for global plots."""
    explained: pd.DataFrame
    """Model features of the explained customers, aligned with ``contributions``."""
    design: dict[str, Any] = field(default_factory=dict)
    """How the list was drawn, for ``scoring.json``: ``risk_tiers`` (:func:`tier_definition`)
    ``control_group`` (its size and power, :func:`hold_out_control`), ``priority`` and
    ``policies`` (:func:`compare_policies`)."""


def score_columns(n_reasons: int) -> list[str]:
    parts = ("code", "text", "actionable")
    reasons = [f"reason_{k}_{part}" for k in range(1, n_reasons + 1) for part in parts]
    return [
        "customer_id",
        "churn_probability",
        "risk_percentile",
        "risk_tier",
        "expected_value",
        "value_at_risk",
        "expected_value_saved",
        "priority_rank",
        "in_outreach",
        "control_group",
        "outreach_status",
        *reasons,
        "recommended_action",
        "planned_action",
        "model_name",
        "model_version",
        "cutoff",
        "scored_at",
    ]


def priority_column(expected_value: pd.Series, settings: ScoringSettings) -> str:
    """The column the outreach list is ranked by: ``settings.outreach.priority``, except that
    value at risk falls back to the churn probability when no customer has a monetary value."""
    wanted = settings.outreach.priority
    if wanted == "expected_value_saved":
        return wanted
    if wanted == "value_at_risk" and not has_monetary_value(expected_value):
        log.warning(
            "no customer has a monetary value (no amount, or every amount is 0): the outreach "
            "list is ranked by churn probability, and playbook rules on value are skipped"
        )
        return "churn_probability"
    return wanted


def rank_customers(
    model: ChurnModel,
    features: pd.DataFrame,
    expected_value: pd.Series,
    settings: ScoringSettings,
    *,
    probabilities: np.ndarray | None = None,
) -> pd.DataFrame:
    """Probabilities, tiers, value at risk, priority and the outreach slice, one row per row of
    ``features`` in its order (index 0..n-1). With priority ``expected_value_saved`` the rank
    and slice are provisional (by value at risk): :func:`explain_customers` sets them from each
    customer's best action. ``probabilities``: the model's, computed elsewhere (on Spark), one
    per row; default: ``model.predict_proba``."""
    frame = features.reset_index(drop=True)
    value = expected_value.to_numpy(dtype="float64")
    value = np.where(np.isnan(value), 0.0, value)
    p = model.predict_proba(frame) if probabilities is None else np.asarray(probabilities)
    if p.shape != (len(frame),):
        raise ValueError(
            f"probabilities must hold one value per feature row ({len(frame)}). "
            f"Got shape {p.shape} instead."
        )
    out = pd.DataFrame(
        {
            "customer_id": frame["customer_id"].to_numpy(),
            "churn_probability": p,
            "risk_percentile": risk_percentile(p),
            "risk_tier": risk_tier(p, settings.risk_tiers),
            "expected_value": value,
            "value_at_risk": p * value,
        }
    )
    by = priority_column(expected_value, settings)
    if by == "expected_value_saved":  # provisional: explain_customers ranks by the actions
        by = "value_at_risk" if has_monetary_value(expected_value) else "churn_probability"
    ranking = out[by].to_numpy()
    out["priority_rank"] = priority_rank(ranking, out["customer_id"])
    out["in_outreach"] = out["priority_rank"] <= outreach_size(len(out), settings.outreach)
    return out


def score_customers(
    model: ChurnModel,
    features: pd.DataFrame,
    expected_value: pd.Series,
    *,
    catalogue: ReasonCatalogue,
    reference: Reference,
    settings: ScoringSettings,
    playbook: PlaybookSettings,
    identity: ModelIdentity,
    scored_at: dt.datetime,
    probabilities: np.ndarray | None = None,
    uplift: pd.DataFrame | None = None,
) -> ScoreResult:
    """Score every row of ``features`` (one per customer, one cutoff): :func:`rank_customers`
    then :func:`explain_customers`, sorted by priority.

    ``expected_value``: value over the horizon per row, aligned with ``features``' rows.
    ``reference``: typical values of labelled customers, quoted in the reason sentences.
    ``probabilities``: see :func:`rank_customers`. ``uplift``: the uplift model's churn
    probability removed per action, one row per row of ``features`` (see
    :func:`churn.scoring.playbook.best_actions`).
    """
    out = rank_customers(model, features, expected_value, settings, probabilities=probabilities)
    explained = explain_customers(
        model,
        features,
        out,
        catalogue=catalogue,
        reference=reference,
        settings=settings,
        playbook=playbook,
        uplift=None if uplift is None else uplift.reset_index(drop=True),
    )
    out = explained.ranked
    reasons = explained.reasons
    action = reasons["recommended_action"].to_numpy(dtype=object)
    control, power = hold_out_control(out, action, settings)
    out["control_group"] = control
    out["outreach_status"] = np.select(
        [control, out["in_outreach"]], [CONTROL, CONTACT], default=NOT_IN_OUTREACH
    )
    for k in range(1, settings.n_reasons + 1):
        out[f"reason_{k}_code"] = reasons[f"reason_{k}_code"]
        out[f"reason_{k}_text"] = reasons[f"reason_{k}_text"]
        out[f"reason_{k}_actionable"] = reasons[f"reason_{k}_actionable"].astype("boolean")
    # control rows carry no action: nothing in the list may suggest contacting them; the action
    # they would have had is kept apart, to compare them with the contacted rows of that action
    out["recommended_action"] = np.where(control, playbook.not_contacted_action, action)
    in_slice = out["in_outreach"].to_numpy(dtype=bool)
    out["planned_action"] = np.where(in_slice, action, playbook.not_contacted_action)
    out["model_name"] = identity.name
    out["model_version"] = identity.version
    out["cutoff"] = pd.to_datetime(features["cutoff"]).to_numpy()
    out["scored_at"] = scored_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    scores = out.sort_values("priority_rank", kind="stable").reset_index(drop=True)
    return ScoreResult(
        scores[score_columns(settings.n_reasons)],
        explained.contributions,
        model.matrix(features.reset_index(drop=True)[explained.rows]),
        {
            "risk_tiers": tier_definition(
                settings.risk_tiers, scores["churn_probability"].to_numpy(), scores["risk_tier"]
            ),
            "control_group": power,
            "priority": settings.outreach.priority,
            "policies": explained.policies,
        },
    )
