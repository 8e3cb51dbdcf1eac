"""Whom the list targets and what each action is expected to save: the outreach slice's
reasons and recommended actions, the slice itself when it is chosen by expected value saved,
and the targeting policies compared at the same budget.

Pure: the model, features, the ranked frame and settings come in; frames and numbers come out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from churn.modeling.model import ChurnModel
from churn.scoring.explain import (
    Contributions,
    Reference,
    shap_contributions,
    top_reasons,
    with_no_single_driver,
)
from churn.scoring.outreach import outreach_size, priority_rank
from churn.scoring.playbook import Choice, best_actions, top_actionable_reason
from churn.scoring.reasons import ReasonCatalogue
from churn.scoring.value import value_percentiles, worth
from churn.settings import PlaybookSettings, ScoringSettings


@dataclass(frozen=True)
class Explained:
    ranked: pd.DataFrame
    """``ranked`` with ``expected_value_saved``, and with priority ``expected_value_saved``
    its final ``priority_rank`` and ``in_outreach``."""
    reasons: pd.DataFrame
    """``reason_<k>_*`` columns and ``recommended_action`` for every ranked row."""
    contributions: Contributions
    rows: np.ndarray
    """Boolean mask of the ranked rows that were explained."""
    policies: dict[str, Any] = field(default_factory=dict)
    """Per targeting policy at the same budget: customers contacted and value saved."""


class _Explainer:
    """Reasons of a growing set of rows, each row explained once (TreeSHAP is the cost)."""

    def __init__(
        self,
        model: ChurnModel,
        frame: pd.DataFrame,
        catalogue: ReasonCatalogue,
        reference: Reference,
        n_reasons: int,
    ) -> None:
        self.model, self.frame, self.catalogue = model, frame, catalogue
        self.reference, self.n_reasons = reference, n_reasons
        self.done = np.zeros(len(frame), dtype=bool)
        self.parts: list[tuple[np.ndarray, pd.DataFrame, Contributions]] = []

    def add(self, wanted: np.ndarray) -> None:
        new = wanted & ~self.done
        if not new.any():
            return
        rows = self.frame[new]
        contributions = shap_contributions(self.model, rows)
        reasons = top_reasons(
            rows, contributions, self.catalogue, self.reference, n_reasons=self.n_reasons
        )
        self.parts.append((np.flatnonzero(new), reasons, contributions))
        self.done |= new

    def reasons(self, index: pd.Index) -> pd.DataFrame:
        """Reasons of the explained rows (NO_SINGLE_DRIVER where none), missing elsewhere."""
        if not self.parts:
            empty = top_reasons(
                self.frame.iloc[:0],
                shap_contributions(self.model, self.frame.iloc[:0]),
                self.catalogue,
                self.reference,
                n_reasons=self.n_reasons,
            )
            return empty.reindex(index)
        return with_no_single_driver(pd.concat([r for _, r, _ in self.parts])).reindex(index)

    def contributions(self, keep: np.ndarray) -> Contributions:
        """SHAP values of the explained rows in ``keep``, in row order."""
        if not self.parts:
            return shap_contributions(self.model, self.frame[keep])
        first = self.parts[0][2]
        positions = np.concatenate([p for p, _, _ in self.parts])
        values = np.vstack([c.values for _, _, c in self.parts])
        order = np.argsort(positions, kind="stable")
        positions, values = positions[order], values[order]
        return Contributions(values[keep[positions]], first.base, first.features)


def explain_customers(
    model: ChurnModel,
    features: pd.DataFrame,
    ranked: pd.DataFrame,
    *,
    catalogue: ReasonCatalogue,
    reference: Reference,
    settings: ScoringSettings,
    playbook: PlaybookSettings,
    uplift: pd.DataFrame | None = None,
) -> Explained:
    """Reason codes, one recommended action and its expected value saved for the outreach
    slice (or everyone, with ``settings.explain == "all"``); other rows get
    ``playbook.not_contacted_action`` and no reasons.

    With priority ``expected_value_saved`` the slice is the customers whose best action saves
    the most, while it saves anything, within the budget. Their actions need their reasons, so
    customers are explained in order of the most any action could save them (ignoring the
    rules' reason conditions, an upper bound), the batch doubling until no customer left
    unexplained could enter the slice: the slice is exact, and only about the slice is
    explained when effects and costs are alike. The tops of the budget by value at risk and by
    churn probability are explained too, to compare the policies (``policies``).

    ``uplift`` (rows aligned with ``ranked``'s positions; one column per action): the churn
    probability each action removes by the uplift model; the actions it covers are then valued
    by it instead of P(churn) x effect.
    """
    if uplift is not None:
        uplift = uplift.set_axis(ranked.index)
    frame = features.reset_index(drop=True)
    n = len(ranked)
    p = ranked["churn_probability"].to_numpy(dtype="float64")
    value = worth(ranked["expected_value"])
    value_pct = value_percentiles(ranked["expected_value"])
    ids = ranked["customer_id"]
    budget = outreach_size(n, settings.outreach)
    explainer = _Explainer(model, frame, catalogue, reference, settings.n_reasons)
    slices = {
        "churn_probability": priority_rank(p, ids) <= budget,
        "value_at_risk": priority_rank(ranked["value_at_risk"].to_numpy(), ids) <= budget,
    }
    explainer.add(slices["churn_probability"] | slices["value_at_risk"])
    if settings.explain == "all":
        explainer.add(np.ones(n, dtype=bool))

    def choose() -> tuple[pd.DataFrame, Choice]:
        reasons = explainer.reasons(ranked.index)
        return reasons, best_actions(
            top_actionable_reason(reasons), p, value_pct, value, playbook, uplift=uplift
        )

    by_value_saved = settings.outreach.priority == "expected_value_saved"
    if by_value_saved:
        bound = best_actions(None, p, value_pct, value, playbook, uplift=uplift).saved
        bound_rank = priority_rank(bound, ids)
        size = max(budget, 1)
        while True:
            explainer.add(bound_rank <= size)
            reasons, choice = choose()
            saved = np.where(explainer.done, choice.saved, -np.inf)
            best = np.sort(saved[saved > 0])[::-1]
            floor = best[budget - 1] if len(best) >= budget > 0 else 0.0
            rest = bound[~explainer.done]
            if size >= n or not len(rest) or rest.max() <= floor:
                break
            size = min(n, 2 * size)
    reasons, choice = choose()
    out = ranked.copy()
    out["expected_value_saved"] = np.where(explainer.done, choice.saved, np.nan)
    if by_value_saved:
        out["priority_rank"] = _rank_by_value_saved(out["expected_value_saved"], bound, ids)
        positive = out["expected_value_saved"].fillna(0.0).to_numpy() > 0
        out["in_outreach"] = (out["priority_rank"].to_numpy() <= budget) & positive
    slices["expected_value_saved"] = out["in_outreach"].to_numpy(dtype=bool)
    rows = (
        out["in_outreach"].to_numpy(dtype=bool)
        if settings.explain == "outreach"
        else np.ones(n, dtype=bool)
    )
    reasons = reasons.copy()
    reasons.loc[~rows, [c for c in reasons.columns if c.startswith("reason_")]] = None
    for c in reasons.columns:
        if c.endswith("_actionable"):
            reasons[c] = reasons[c].astype("boolean")
    action = np.full(n, playbook.not_contacted_action, dtype=object)
    action[rows] = choice.action[rows]
    reasons["recommended_action"] = action
    policies = compare_policies(slices, choice, p, value, settings.outreach.priority)
    return Explained(out, reasons, explainer.contributions(rows), rows, policies)


def _rank_by_value_saved(saved: pd.Series, bound: np.ndarray, ids: pd.Series) -> np.ndarray:
    """1 for the customer to contact first: by expected value saved where the customer was
    explained, else by the most an action could save them (never less); ties by customer id."""
    key = np.where(saved.notna().to_numpy(), saved.to_numpy(dtype="float64"), bound)
    return priority_rank(key, ids)


def compare_policies(
    slices: dict[str, np.ndarray],
    choice: Choice,
    probability: np.ndarray,
    value: np.ndarray,
    chosen: str,
) -> dict[str, Any]:
    """Per policy (its slice of the same budget): customers contacted, mean churn probability,
    expected value saved by their best actions and its standard deviation (effects of one
    action move together: their uncertainty adds up within an action)."""
    out: dict[str, Any] = {}
    for policy, members in slices.items():
        saved = choice.saved[members]
        spread = pd.Series(choice.saved_sd[members]).groupby(choice.action[members]).sum()
        out[policy] = {
            "chosen": policy == chosen,
            "customers": int(members.sum()),
            "mean_churn_probability": float(probability[members].mean()) if members.any() else None,
            "expected_value_saved": float(saved.sum()),
            "expected_value_saved_sd": float(np.sqrt((spread**2).sum())),
            "value_at_risk": float((probability * value)[members].sum()),
        }
    return out
