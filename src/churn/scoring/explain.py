"""Why a customer is at risk: TreeSHAP contributions summed into reasons, and the top
risk-raising reasons of each customer as codes and sentences.

Contributions come from xgboost's own TreeSHAP (``pred_contribs``), in log-odds: per customer,
the contributions plus the base value equal the booster's margin. The calibrator is monotone in
the margin, so a positive contribution raises the churn probability and only positive reason
sums are reported as reasons.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xgboost as xgb

from churn.modeling.model import ChurnModel
from churn.scoring.reasons import (
    NUMERIC_TEXT,
    Reason,
    ReasonCatalogue,
    render_many,
    value_key,
)


@dataclass(frozen=True)
class Contributions:
    """SHAP values of ``n`` customers over the model's features, in log-odds."""

    values: np.ndarray  # (n, n_features)
    base: float
    features: tuple[str, ...]

    def frame(self, index: pd.Index) -> pd.DataFrame:
        return pd.DataFrame(self.values, columns=list(self.features), index=index)


def shap_contributions(model: ChurnModel, features: pd.DataFrame) -> Contributions:
    """TreeSHAP contributions of every model feature for every row of ``features``.

    A model boosted from a starting score (``model.base_margin``) gets that linear part's exact
    SHAP values added to the features it is computed from, so the reasons see it too and the
    base value stays one number.
    """
    matrix = xgb.DMatrix(model.matrix(features), enable_categorical=True)
    if model.base_margin is not None:
        matrix.set_base_margin(model.base_margin(features))
    raw = np.asarray(model.booster.predict(matrix, pred_contribs=True), dtype="float64")
    values, bias = raw[:, :-1].copy(), raw[:, -1].copy()
    if model.base_margin is not None:
        linear = model.base_margin.contributions(features)
        position = {name: i for i, name in enumerate(model.feature_names)}
        for j, name in enumerate(model.base_margin.features):
            values[:, position[name]] += linear[:, j]
        bias -= linear.sum(axis=1)
    base = float(bias[0]) if len(bias) else 0.0
    return Contributions(values, base, tuple(model.feature_names))


def reason_sums(contributions: Contributions, catalogue: ReasonCatalogue) -> np.ndarray:
    """(n, n_reasons): each reason's contributions summed, in catalogue order."""
    position = {name: i for i, name in enumerate(contributions.features)}
    membership = np.zeros((len(contributions.features), len(catalogue.reasons)))
    for j, reason in enumerate(catalogue.reasons):
        for name in reason.features:
            membership[position[name], j] = 1.0
    return np.asarray(contributions.values @ membership, dtype="float64")


FEW_VALUES = 12  # a numeric feature with at most this many values also gets churn rates per value


@dataclass(frozen=True)
class Reference:
    """What labelled customers looked like, for the sentences: per feature, its typical value
    among those who stayed (median, or most common category), and for categorical features the
    churn rate of each category."""

    typical: Mapping[str, object]
    churn_rate_by_value: Mapping[str, Mapping[str, float]]
    overall_churn_rate: float

    @classmethod
    def from_labelled(cls, labelled: pd.DataFrame, columns: list[str]) -> Reference:
        """``labelled``: feature rows with a boolean ``churned`` column (one cutoff)."""
        churned = labelled["churned"].astype(bool)
        stayed = labelled[~churned]
        typical: dict[str, object] = {}
        rates: dict[str, dict[str, float]] = {}
        for name in columns:
            if name not in labelled:
                typical[name] = None
            elif pd.api.types.is_numeric_dtype(labelled[name]):
                values = stayed[name]
                typical[name] = float(values.median()) if values.notna().any() else None
                if labelled[name].nunique() <= FEW_VALUES:  # a flag or a small count
                    by_value = churned.groupby(labelled[name]).mean()
                    rates[name] = {value_key(k): float(v) for k, v in by_value.items()}
            else:
                mode = stayed[name].dropna().astype(str).mode()
                typical[name] = str(mode.iloc[0]) if len(mode) else None
                by_value = churned.groupby(labelled[name].astype(str)).mean()
                rates[name] = {value_key(k): float(v) for k, v in by_value.items()}
        overall = float(churned.mean()) if len(churned) else float("nan")
        return cls(typical, rates, overall)


def top_reasons(
    features: pd.DataFrame,
    contributions: Contributions,
    catalogue: ReasonCatalogue,
    reference: Reference,
    *,
    n_reasons: int = 3,
) -> pd.DataFrame:
    """The ``n_reasons`` most risk-raising reasons of each row of ``features``.

    Returns, indexed like ``features``, columns ``reason_<k>_code``, ``reason_<k>_text``,
    ``reason_<k>_actionable`` and ``reason_<k>_shap`` (the reason's summed log-odds) for k = 1..n;
    missing where a customer has fewer risk-raising reasons than ``n_reasons``. Reasons marked
    ``per_customer: false`` (the season of the cutoff, shared by everyone scored) are skipped.
    """
    sums = reason_sums(contributions, catalogue)
    shared = [j for j, r in enumerate(catalogue.reasons) if not r.per_customer]
    sums[:, shared] = -np.inf  # the same for everyone scored at once: not this customer's reason
    n = len(features)
    order = np.argsort(-sums, axis=1, kind="stable")[:, :n_reasons]
    picked = np.take_along_axis(sums, order, axis=1)
    shap_frame = contributions.frame(features.index)
    out: dict[str, object] = {}
    for k in range(order.shape[1]):
        raising = picked[:, k] > 0
        codes = np.full(n, None, dtype=object)
        texts = np.full(n, None, dtype=object)
        actionable = pd.array([pd.NA] * n, dtype="boolean")
        for j, reason in enumerate(catalogue.reasons):
            rows = np.flatnonzero(raising & (order[:, k] == j))
            if not len(rows):
                continue
            codes[rows] = reason.code
            actionable[rows] = reason.actionable
            texts[rows] = _sentences(
                features, shap_frame, reason, rows=rows, reference=reference, catalogue=catalogue
            )
        out[f"reason_{k + 1}_code"] = codes
        out[f"reason_{k + 1}_text"] = texts
        out[f"reason_{k + 1}_actionable"] = actionable
        out[f"reason_{k + 1}_shap"] = np.where(raising, picked[:, k], np.nan)
    return pd.DataFrame(out, index=features.index)


def _sentences(
    features: pd.DataFrame,
    shap_frame: pd.DataFrame,
    reason: Reason,
    *,
    rows: np.ndarray,
    reference: Reference,
    catalogue: ReasonCatalogue,
) -> np.ndarray:
    """Sentences of ``reason`` for the given row positions, each quoting the reason's headline
    feature or, without one, the customer's most risk-raising feature of the reason."""
    if reason.headline is not None:
        quoted = np.full(len(rows), reason.headline, dtype=object)
    else:
        members = shap_frame.iloc[rows][list(reason.features)].to_numpy()
        quoted = np.asarray(reason.features, dtype=object)[members.argmax(axis=1)]
    texts = np.empty(len(rows), dtype=object)
    for name in dict.fromkeys(quoted):  # each quoted feature once, in order of appearance
        mine = quoted == name
        values = np.asarray(
            [_python(v) for v in features[name].to_numpy(dtype=object)[rows[mine]]], dtype=object
        )
        missing = np.fromiter(
            (v is None or (isinstance(v, float) and math.isnan(v)) for v in values), dtype=bool
        )
        template = reason.template(name)
        rates = reference.churn_rate_by_value.get(name, {})
        if "value_churn_rate" in template:  # a value without its own churn rate reads plainly
            rated = np.fromiter((v is not None and value_key(v) in rates for v in values), bool)
        else:
            rated = np.ones(len(values), dtype=bool)
        sentences = np.empty(len(values), dtype=object)
        for sentence, where in (
            (template, ~missing & rated),
            (NUMERIC_TEXT, ~missing & ~rated),
            (reason.missing_template(name), missing),
        ):
            if where.any():
                sentences[where] = render_many(
                    sentence,
                    feature=name,
                    values=list(values[where]),
                    typical=reference.typical.get(name),
                    description=catalogue.descriptions.get(name, name),
                    churn_rate_by_value=rates,
                    overall_churn_rate=reference.overall_churn_rate,
                )
        texts[mine] = sentences
    return texts


def _python(value: object) -> object:
    """numpy and pandas scalars as plain Python values (missing as None)."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value
