"""Why a customer is at risk: TreeSHAP contributions summed into reasons, and the top
risk-raising reasons of each customer as codes and sentences, the actionable ones first.

Contributions come from xgboost's own TreeSHAP (``pred_contribs``), in log-odds: per customer,
the contributions plus the base value equal the booster's margin. The calibrator is monotone in
the margin, so a positive contribution raises the churn probability and only positive reason
sums are reported as reasons.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

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
    among those who stayed (median, or most common category), for categorical features the
    churn rate of each category, and for numeric features the churn rates of the customers
    below and above the typical value (``churn_rate_by_side``, NaN for a side of fewer than
    :data:`MIN_SIDE_ROWS` rows)."""

    typical: Mapping[str, object]
    churn_rate_by_value: Mapping[str, Mapping[str, float]]
    overall_churn_rate: float
    churn_rate_by_side: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    @classmethod
    def from_labelled(cls, labelled: pd.DataFrame, columns: list[str]) -> Reference:
        """``labelled``: feature rows with a boolean ``churned`` column (one cutoff)."""
        churned = labelled["churned"].astype(bool)
        stayed = labelled[~churned]
        typical: dict[str, object] = {}
        rates: dict[str, dict[str, float]] = {}
        sides: dict[str, tuple[float, float]] = {}
        for name in columns:
            if name not in labelled:
                typical[name] = None
            elif pd.api.types.is_numeric_dtype(labelled[name]):
                values = stayed[name]
                median = float(values.median()) if values.notna().any() else None
                typical[name] = median
                if median is not None:
                    sides[name] = _side_rates(labelled[name], churned, median)
                if labelled[name].nunique() <= FEW_VALUES:  # a flag or a small count
                    by_value = churned.groupby(labelled[name]).mean()
                    rates[name] = {value_key(k): float(v) for k, v in by_value.items()}
            else:
                mode = stayed[name].dropna().astype(str).mode()
                typical[name] = str(mode.iloc[0]) if len(mode) else None
                by_value = churned.groupby(labelled[name].astype(str)).mean()
                rates[name] = {value_key(k): float(v) for k, v in by_value.items()}
        overall = float(churned.mean()) if len(churned) else float("nan")
        return cls(typical, rates, overall, sides)


MIN_SIDE_ROWS = 30
"""Labelled rows a side of a typical value needs for its churn rate to count: fewer give a rate
too noisy to drop a customer's reason on (NaN)."""


def _side_rates(values: pd.Series, churned: pd.Series, typical: float) -> tuple[float, float]:
    """The churn rates of the rows below and above ``typical`` (NaN: fewer than
    :data:`MIN_SIDE_ROWS` rows on that side)."""
    numbers = values.astype("float64")
    below, above = churned[numbers < typical], churned[numbers > typical]
    return (
        float(below.mean()) if len(below) >= MIN_SIDE_ROWS else float("nan"),
        float(above.mean()) if len(above) >= MIN_SIDE_ROWS else float("nan"),
    )


def top_reasons(
    features: pd.DataFrame,
    contributions: Contributions,
    catalogue: ReasonCatalogue,
    reference: Reference,
    *,
    n_reasons: int = 3,
) -> pd.DataFrame:
    """The ``n_reasons`` risk-raising reasons of each row of ``features``, the ones someone can
    act on first: actionable reasons by decreasing contribution, then the others (tenure,
    country: context, never the reason a customer is contacted for) by decreasing contribution.

    Returns, indexed like ``features``, columns ``reason_<k>_code``, ``reason_<k>_text``,
    ``reason_<k>_actionable`` and ``reason_<k>_shap`` (the reason's summed log-odds) for k = 1..n;
    missing where a customer has fewer risk-raising reasons than ``n_reasons``. Reasons marked
    ``per_customer: false`` (the season of the cutoff, shared by everyone scored) are skipped,
    and so is a reason whose sentence would quote a value that churns less than average (it
    would read as raising risk while saying the opposite): :func:`contradicted`, a number on
    the side of the typical value that churns less (:func:`on_the_safe_side`),
    or the typical value itself (:func:`only_typical`).
    """
    sums = reason_sums(contributions, catalogue)
    shared = [j for j, r in enumerate(catalogue.reasons) if not r.per_customer]
    sums[:, shared] = -np.inf  # the same for everyone scored at once: not this customer's reason
    shap_frame = contributions.frame(features.index)
    sums[contradicted(features, shap_frame, catalogue, reference)] = -np.inf
    sums[on_the_safe_side(features, shap_frame, catalogue, reference)] = -np.inf
    sums[only_typical(features, shap_frame, catalogue, reference)] = -np.inf
    n = len(features)
    actionable_reason = np.array([r.actionable for r in catalogue.reasons], dtype=bool)
    # primary key (last): actionable and raising, then raising, then the rest; then the sum
    group = np.where(sums > 0, np.where(actionable_reason, 2, 1), 0)
    order = np.lexsort((-sums, -group), axis=1)[:, :n_reasons]
    picked = np.take_along_axis(sums, order, axis=1)
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


NO_SINGLE_DRIVER = "NO_SINGLE_DRIVER"
"""Reason code of an explained customer no reason stands out for (not a catalogue code)."""
NO_SINGLE_DRIVER_TEXT = (
    "No single driver to act on: no reason that outreach can change stands out for this "
    "customer; the risk comes from several small signals, or from the context that follows"
)
_PARTS = ("code", "text", "actionable", "shap")


def with_no_single_driver(reasons: pd.DataFrame) -> pd.DataFrame:
    """``reasons`` (from :func:`top_reasons`) where every row whose first reason is missing or
    not actionable gets ``NO_SINGLE_DRIVER`` as reason 1 (not actionable) and its context
    reasons moved one place down (the last one drops off a full row), so the first reason of
    each explained customer is one someone can act on, or says plainly that there is none."""
    out = reasons.copy()
    n = 0
    while f"reason_{n + 1}_code" in out:
        n += 1
    first = out["reason_1_actionable"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    rows = out.index[~first]
    for k in range(n, 1, -1):
        for part in _PARTS:
            out.loc[rows, f"reason_{k}_{part}"] = out.loc[rows, f"reason_{k - 1}_{part}"]
    out.loc[rows, "reason_1_code"] = NO_SINGLE_DRIVER
    out.loc[rows, "reason_1_text"] = NO_SINGLE_DRIVER_TEXT
    out.loc[rows, "reason_1_actionable"] = False
    out.loc[rows, "reason_1_shap"] = np.nan
    return out


def contradicted(
    features: pd.DataFrame,
    shap_frame: pd.DataFrame,
    catalogue: ReasonCatalogue,
    reference: Reference,
) -> np.ndarray:
    """(n, n_reasons): True where the reason's sentence would quote a value whose churn rate
    is known and below the overall rate ("Norway, churned at 33 % against 49 % overall"), a
    category or flag that lowers risk on average. SHAP may still find it risk-raising for this
    customer through interactions, but no sentence can say so truthfully, so it is dropped."""
    out = np.zeros((len(features), len(catalogue.reasons)), dtype=bool)
    overall = reference.overall_churn_rate
    if not math.isfinite(overall):
        return out
    everyone = np.arange(len(features))
    for j, reason in enumerate(catalogue.reasons):
        rated = [
            name
            for name in reason.features
            if name in reference.churn_rate_by_value
            and name in features
            and (
                "value_churn_rate" in reason.template(name)
                or not pd.api.types.is_numeric_dtype(features[name])
            )
        ]
        if not rated:
            continue
        quoted = _quoted(reason, shap_frame, everyone)
        for name in rated:
            mine = quoted == name
            rates = reference.churn_rate_by_value[name]
            values = features[name].to_numpy(dtype=object)[mine]
            rate = np.array(
                [rates.get(value_key(_python(v)), np.nan) if _known(v) else np.nan for v in values],
                dtype="float64",
            )
            out[np.flatnonzero(mine)[rate < overall], j] = True
    return out


def on_the_safe_side(
    features: pd.DataFrame,
    shap_frame: pd.DataFrame,
    catalogue: ReasonCatalogue,
    reference: Reference,
) -> np.ndarray:
    """(n, n_reasons): True where the reason's sentence would set a number beside the typical
    value on the side of it whose customers churn less than those on the other side
    ("Distinct days with activity: 76; typical 9", where customers above 9 churned at 12 %
    and those below at 55 %). SHAP may find it risk-raising for this customer through
    interactions, but the sentence would read backwards to whoever calls, so it is dropped,
    as :func:`contradicted` drops a category that churns less than average. The two sides are
    compared with each other, not with the overall rate: customers without the number (no
    second purchase, so no gap between purchases) churn at their own rate, which says nothing
    about which side of the typical gap is the risky one."""

    def safe_side(name: str, values: np.ndarray, typical: float) -> np.ndarray:
        below, above = reference.churn_rate_by_side.get(name, (np.nan, np.nan))
        return ((values < typical) & (below < above)) | ((values > typical) & (above < below))

    return _beside_typical(features, shap_frame, catalogue, reference, safe_side)


def only_typical(
    features: pd.DataFrame,
    shap_frame: pd.DataFrame,
    catalogue: ReasonCatalogue,
    reference: Reference,
) -> np.ndarray:
    """(n, n_reasons): True where the reason's sentence would set the customer's value beside
    the same typical value ("Spend in the last 30 days: 0.00; typical for active customers:
    0.00"): SHAP may find it risk-raising through interactions, but the sentence gives the
    customer no reason, so it is dropped."""
    return _beside_typical(
        features, shap_frame, catalogue, reference, lambda _, values, typical: values == typical
    )


def _beside_typical(
    features: pd.DataFrame,
    shap_frame: pd.DataFrame,
    catalogue: ReasonCatalogue,
    reference: Reference,
    dropped: Callable[[str, np.ndarray, float], np.ndarray],
) -> np.ndarray:
    """(n, n_reasons): True where a reason's sentence would set a number beside its typical
    value and ``dropped(feature, the customers' values, typical)`` says the sentence must go."""
    out = np.zeros((len(features), len(catalogue.reasons)), dtype=bool)
    everyone = np.arange(len(features))
    for j, reason in enumerate(catalogue.reasons):
        compared = [
            name
            for name in reason.features
            if name in features
            and pd.api.types.is_numeric_dtype(features[name])
            and isinstance(reference.typical.get(name), float | int)
            and "{typical" in reason.template(name)
        ]
        if not compared:
            continue
        quoted = _quoted(reason, shap_frame, everyone)
        for name in compared:
            typical = float(reference.typical[name])  # type: ignore[arg-type]
            values = features[name].astype("float64").to_numpy()
            out[(quoted == name) & dropped(name, values, typical), j] = True
    return out


def _known(value: object) -> bool:
    v = _python(value)
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def _quoted(reason: Reason, shap_frame: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """Per row position, the feature the reason's sentence quotes: its headline, or the
    customer's most risk-raising feature of the reason."""
    if reason.headline is not None:
        return np.full(len(rows), reason.headline, dtype=object)
    members = shap_frame.iloc[rows][list(reason.features)].to_numpy()
    return np.asarray(reason.features, dtype=object)[members.argmax(axis=1)]


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
    quoted = _quoted(reason, shap_frame, rows)
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
        negative = np.zeros(len(values), dtype=bool)
        negated = values
        if (below := reason.negative_template(name)) is not None:
            below_zero = [
                isinstance(v, int | float) and not math.isnan(v) and v < 0 for v in values
            ]
            negative = np.asarray(below_zero, dtype=bool)
            negated = np.asarray(
                [-v if n else v for v, n in zip(values, below_zero, strict=True)], dtype=object
            )
        sentences = np.empty(len(values), dtype=object)
        for sentence, where in (
            (template, ~missing & rated & ~negative),
            (below or template, ~missing & rated & negative),
            (NUMERIC_TEXT, ~missing & ~rated),
            (reason.missing_template(name), missing),
        ):
            if where.any():
                sentences[where] = render_many(
                    sentence,
                    feature=name,
                    values=list(negated[where]),
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
