"""The retention playbook: one recommended action per explained customer, from the customer's
top actionable reason, value and risk. Rules come from params (``playbook``); of the rules that
match, the one with the highest expected net value saved wins (P(churn) x effect x value -
cost; ties: the first), and a customer no rule matches gets the default action."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from churn.errors import ConfigError
from churn.scoring.reasons import RETIRED_CODES
from churn.settings import PlaybookSettings


def top_actionable_reason(reasons: pd.DataFrame) -> pd.Series:
    """Per row, the code of the highest-ranked actionable reason (missing if none)."""
    out = pd.Series(None, index=reasons.index, dtype=object)
    k = 1
    while f"reason_{k}_code" in reasons:
        usable = reasons[f"reason_{k}_actionable"].fillna(False).astype(bool) & out.isna()
        out[usable] = reasons.loc[usable, f"reason_{k}_code"]
        k += 1
    return out


@dataclass(frozen=True)
class Offer:
    """One action with its economics: ``cost`` per contact, ``effect`` the share of the churn
    probability it removes (a prior), ``effect_sd`` that prior's uncertainty."""

    action: str
    cost: float
    effect: float
    effect_sd: float


def offers(playbook: PlaybookSettings) -> tuple[Offer, ...]:
    """The rules' offers in order, then the default action's."""
    rules = tuple(Offer(r.action, r.cost, r.effect, r.effect_sd) for r in playbook.rules)
    default = Offer(
        playbook.default_action,
        playbook.default_cost,
        playbook.default_effect,
        playbook.default_effect_sd,
    )
    return (*rules, default)


def rule_matches(
    reason_code: pd.Series | None,
    probability: np.ndarray,
    value_percentile: np.ndarray,
    playbook: PlaybookSettings,
) -> np.ndarray:
    """(n, n_rules): whether each rule applies to each customer. ``reason_code``: the top
    actionable reason per customer (missing: none); None ignores the rules' reason conditions
    (every rule the customer's risk and value allow, for an upper bound)."""
    p = np.asarray(probability, dtype="float64")
    value = np.asarray(value_percentile, dtype="float64")
    code = None if reason_code is None else reason_code.to_numpy(dtype=object)
    out = np.zeros((len(p), len(playbook.rules)), dtype=bool)
    for j, rule in enumerate(playbook.rules):
        match = (p >= rule.min_probability) & (value >= rule.min_value_percentile)
        if rule.reasons and code is not None:
            match &= np.isin(code, rule.reasons)
        out[:, j] = match
    return out


@dataclass(frozen=True)
class Choice:
    """Per customer: the recommended ``action``, its expected net value ``saved``
    (P(churn) x effect x value - cost) and the standard deviation of that from the effect's
    uncertainty (``saved_sd``)."""

    action: np.ndarray
    saved: np.ndarray
    saved_sd: np.ndarray


def best_actions(
    reason_code: pd.Series | None,
    probability: np.ndarray,
    value_percentile: np.ndarray,
    value: np.ndarray,
    playbook: PlaybookSettings,
    *,
    uplift: pd.DataFrame | None = None,
) -> Choice:
    """Among the rules that match each customer, the one with the highest expected net value
    saved (ties: the first rule); ``playbook.default_action`` when none matches. ``value``:
    what the customer is worth (money; 1 each without a monetary value). With ``reason_code``
    None the reason conditions are ignored and the default competes with every rule: the most
    any action could save, an upper bound of the exact choice.

    ``uplift``: one column per action, one row per customer (same order): the churn
    probability the action removes by the uplift model. An action it covers saves uplift x
    value - cost (its uncertainty is not modelled: sd 0); the others P(churn) x effect x value
    - cost. The rules' reason conditions still apply: on the simulator (seeds 7 and 11),
    letting every action the model covers compete for every customer made the list's own
    actions save less than nothing (its per-action estimates are noisy at a few hundred
    control rows per action), while the reasons pick actions that help."""
    p = np.asarray(probability, dtype="float64")
    worth = np.asarray(value, dtype="float64")
    choices = offers(playbook)
    effect = np.array([o.effect for o in choices])
    cost = np.array([o.cost for o in choices])
    sd = np.array([o.effect_sd for o in choices])
    saved_each = (p * worth)[:, None] * effect[None, :] - cost[None, :]
    spread = (p * worth)[:, None] * sd[None, :]
    if uplift is not None:
        for j, offer in enumerate(choices):
            if offer.action in uplift.columns:
                removed = uplift[offer.action].to_numpy(dtype="float64")
                saved_each[:, j] = removed * worth - offer.cost
                spread[:, j] = 0.0
    rules = rule_matches(reason_code, p, value_percentile, playbook)
    default = ~rules.any(axis=1) if reason_code is not None else np.ones(len(p), dtype=bool)
    allowed = np.column_stack([rules, default])
    best = np.argmax(np.where(allowed, saved_each, -np.inf), axis=1)  # first of equal maxima
    rows = np.arange(len(p))
    action = np.asarray([o.action for o in choices], dtype=object)[best]
    return Choice(action, saved_each[rows, best], spread[rows, best])


def recommend(
    reason_code: pd.Series,
    probability: np.ndarray,
    value_percentile: np.ndarray,
    playbook: PlaybookSettings,
    value: np.ndarray | None = None,
) -> np.ndarray:
    """The recommended action per customer (:func:`best_actions`); with equal effects and
    costs, the first matching rule's action, else ``playbook.default_action``.

    ``reason_code``: the top actionable reason (missing: none); ``value_percentile``: 0-100;
    ``value``: money per customer, default 1 each.
    """
    worth = np.ones(len(reason_code)) if value is None else value
    return best_actions(reason_code, probability, value_percentile, worth, playbook).action


def check_rules(playbook: PlaybookSettings, codes: list[str], *, where: str) -> None:
    """Raise ConfigError naming any rule whose reason codes the reason catalogue lacks (a typo
    would otherwise make the rule silently never match), saying what became of a code the
    built-in catalogue retired (:data:`~churn.scoring.reasons.RETIRED_CODES`)."""
    for i, rule in enumerate(playbook.rules):
        unknown = [c for c in rule.reasons if c not in codes]
        if unknown:
            retired = "".join(f" {RETIRED_CODES[c]}." for c in unknown if c in RETIRED_CODES)
            raise ConfigError(
                f"{where}: playbook.rules[{i}] ({rule.action}) names reason code(s) {unknown} "
                f"that the reason catalogue does not define. Expected some of {codes}.{retired}"
            )
