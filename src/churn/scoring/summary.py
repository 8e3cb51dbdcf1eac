"""``scoring.json``: what a scored list holds, in numbers (tiers, value, outreach, reasons)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from churn.scoring.ranking import ScoreResult


def scoring_summary(result: ScoreResult, catalogue_version: str) -> dict[str, Any]:
    """Counts and totals of ``result.scores`` as written to ``scoring.json``."""
    s = result.scores
    outreach = s[s["in_outreach"]]
    contact = outreach[~outreach["control_group"]]
    return {
        "cutoff": str(pd.Timestamp(s["cutoff"].iloc[0]).date()) if len(s) else None,
        "model": {"name": s["model_name"].iloc[0], "version": s["model_version"].iloc[0]},
        "reason_catalogue": catalogue_version,
        "scored": len(s),
        "mean_churn_probability": float(s["churn_probability"].mean()),
        "risk_tiers": {
            str(k): int(v) for k, v in s["risk_tier"].value_counts().sort_index().items()
        },
        "risk_tier_definition": result.design.get("risk_tiers"),
        "control_group_power": result.design.get("control_group"),
        "expected_value_total": float(s["expected_value"].sum()),
        "value_at_risk_total": float(s["value_at_risk"].sum()),
        "outreach": {
            "customers": len(outreach),
            "to_contact": len(contact),
            "control_group": len(outreach) - len(contact),
            "value_at_risk": float(outreach["value_at_risk"].sum()),
            "mean_churn_probability": float(outreach["churn_probability"].mean()),
            "expected_value_saved": float(contact["expected_value_saved"].sum()),
        },
        "priority": result.design.get("priority"),
        "policies": result.design.get("policies"),
        "recommended_actions": _counts(contact["recommended_action"]),
        "top_reasons": _counts(outreach["reason_1_code"]),
    }


def _counts(values: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in values.value_counts(dropna=True).items()}
