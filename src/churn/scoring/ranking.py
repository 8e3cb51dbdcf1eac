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
from churn.scoring.control import control_plan, control_power, stratified_control
from churn.scoring.explain import (
    Contributions,
    Reference,
    shap_contributions,
    top_reasons,
    with_no_single_driver,
)
from churn.scoring.outreach import (
    outreach_size,
    priority_rank,
    risk_percentile,
    risk_tier,
    tier_definition,
)
from churn.scoring.playbook import Choice, best_actions, top_actionable_reason
from churn.scoring.reasons import ReasonCatalogue
from churn.settings import PlaybookSettings, ScoringSettings

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
        "model_name",
        "model_version",
        "cutoff",
        "scored_at",
    ]


def has_monetary_value(expected_value: pd.Series) -> bool:
    """Whether any customer is worth something: without an amount column (a log of visits, a
    snapshot without a charge) every expected value is 0 or missing, and value-based ranking
    and playbook rules would act on ties."""
    value = expected_value.to_numpy(dtype="float64")
    return bool(np.any(np.nan_to_num(value) > 0))


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


def worth(expected_value: pd.Series) -> np.ndarray:
    """What saving each customer is worth, for the expected value saved: the expected value
    (missing: 0), or 1 for everyone when nobody has a monetary value (then the expected value
    saved is the churn probability an action removes, less its cost)."""
    if not has_monetary_value(expected_value):
        log.info(
            "no customer has a monetary value: expected value saved counts each customer as "
            "worth 1, so it is the churn probability an action removes, less its cost"
        )
        return np.ones(len(expected_value))
    value = expected_value.to_numpy(dtype="float64")
    return np.where(np.isnan(value), 0.0, value)


def value_percentiles(expected_value: pd.Series) -> np.ndarray:
    """Each customer's expected value as a percentile (0-100, ties at their highest rank); 0
    for everyone when nobody has a monetary value, so that no value-based rule fires on ties."""
    if not has_monetary_value(expected_value):
        return np.zeros(len(expected_value))
    return np.asarray(expected_value.rank(method="max", pct=True) * 100.0)


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


def hold_out_control(
    ranked: pd.DataFrame, action: np.ndarray, settings: ScoringSettings
) -> tuple[np.ndarray, dict[str, Any]]:
    """The control group of the outreach slice of ``ranked`` (a mask over its rows), drawn
    within each risk tier x recommended ``action`` so control and contacted have the same
    mix, and what it can measure (:func:`churn.scoring.control.control_power`)."""
    outreach = settings.outreach
    in_slice = ranked["in_outreach"].to_numpy(dtype=bool)
    base_rate = float(ranked.loc[in_slice, "churn_probability"].mean()) if in_slice.any() else 0.0
    plan = control_plan(outreach, int(in_slice.sum()), base_rate)
    strata = (
        ranked.loc[in_slice, "risk_tier"].astype(str)
        + " x "
        + pd.Series(action[in_slice], index=ranked.index[in_slice]).astype(str)
    )
    control = np.zeros(len(ranked), dtype=bool)
    control[in_slice] = stratified_control(
        ranked.loc[in_slice, "customer_id"], strata, plan.share, outreach.control_seed
    )
    n_control = int(control.sum())
    power = control_power(plan, outreach, n_control, int(in_slice.sum()) - n_control, base_rate)
    return control, power


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
        positions = np.concatenate([p for p, _, _ in self.parts]) if self.parts else np.array([])
        first = self.parts[0][2] if self.parts else shap_contributions(self.model, self.frame[keep])
        if not self.parts:
            return first
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
    """
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
        return reasons, best_actions(top_actionable_reason(reasons), p, value_pct, value, playbook)

    by_value_saved = settings.outreach.priority == "expected_value_saved"
    if by_value_saved:
        bound = best_actions(None, p, value_pct, value, playbook).saved
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
) -> ScoreResult:
    """Score every row of ``features`` (one per customer, one cutoff): :func:`rank_customers`
    then :func:`explain_customers`, sorted by priority.

    ``expected_value``: value over the horizon per row, aligned with ``features``' rows.
    ``reference``: typical values of labelled customers, quoted in the reason sentences.
    ``probabilities``: see :func:`rank_customers`.
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
    # control rows carry no action: nothing in the list may suggest contacting them
    out["recommended_action"] = np.where(control, playbook.not_contacted_action, action)
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
