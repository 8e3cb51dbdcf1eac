"""The retention playbook: one recommended action per explained customer, from the customer's
top actionable reason, value and risk. Rules come from params (``playbook``); the first rule
that matches wins, and a customer no rule matches gets the default action."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churn.errors import ConfigError
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


def recommend(
    reason_code: pd.Series,
    probability: np.ndarray,
    value_percentile: np.ndarray,
    playbook: PlaybookSettings,
) -> np.ndarray:
    """The first matching rule's action per customer, else ``playbook.default_action``.

    ``reason_code``: the top actionable reason (missing: none); ``value_percentile``: 0-100.
    """
    n = len(reason_code)
    action = np.full(n, None, dtype=object)
    code = reason_code.to_numpy(dtype=object)
    p = np.asarray(probability, dtype="float64")
    value = np.asarray(value_percentile, dtype="float64")
    for rule in playbook.rules:
        match = (action == None) & (p >= rule.min_probability)  # noqa: E711 - elementwise
        match &= value >= rule.min_value_percentile
        if rule.reasons:
            match &= np.isin(code, rule.reasons)
        action[match] = rule.action
    action[action == None] = playbook.default_action  # noqa: E711
    return action


def check_rules(playbook: PlaybookSettings, codes: list[str], *, where: str) -> None:
    """Raise ConfigError naming any rule whose reason codes the reason catalogue lacks (a typo
    would otherwise make the rule silently never match)."""
    for i, rule in enumerate(playbook.rules):
        unknown = [c for c in rule.reasons if c not in codes]
        if unknown:
            raise ConfigError(
                f"{where}: playbook.rules[{i}] ({rule.action}) names reason code(s) {unknown} "
                f"that the reason catalogue does not define. Expected some of {codes}."
            )
