"""Simple churn baselines a data scientist would otherwise trust, scored on the same rows as
the model: recency alone, logistic regression on log RFM features, and (for purchase data)
the BG/NBD model's expected purchases in the horizon. Snapshot pipelines get a one-hot
logistic regression (the published Telco baseline) and tenure alone.

Every baseline is fitted with the training and validation cutoffs only; score-only baselines
(recency, BG/NBD) become probabilities through Platt scaling fitted on the validation cutoff.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from churn.modeling.clv import BetaGeoModel, rfm_summary
from churn.modeling.model import Calibrator
from churn.modeling.training_data import outcome

RFM = ("days_since_last_activity", "orders_total", "spend_total")

Scorer = Callable[[pd.DataFrame], np.ndarray]
"""Rows of one cutoff in, churn probabilities out."""


@dataclass(frozen=True)
class BaselineInputs:
    """What baselines may learn from: training and validation rows, and for BG/NBD the purchase
    events (the BG/NBD fit at a cutoff only reads events before it)."""

    train: pd.DataFrame
    valid: pd.DataFrame
    purchases: pd.DataFrame | None = None
    horizon_days: int = 90


def _calibrated(score: Scorer, valid: pd.DataFrame) -> Scorer:
    """Turn a higher-is-riskier score into probabilities, fitted on the validation rows.
    Platt scaling is strictly monotone, so the baseline's ranking (and AUC) is its own."""
    cal = Calibrator.fit("platt", score(valid), outcome(valid))
    return lambda rows: np.clip(cal(score(rows)), 0.0, 1.0)


def recency_baseline(inputs: BaselineInputs) -> Scorer:
    """Days since the last activity: the longer, the likelier to churn."""

    def score(rows: pd.DataFrame) -> np.ndarray:
        return rows["days_since_last_activity"].fillna(1e6).to_numpy(dtype=float)

    return _calibrated(score, inputs.valid)


def _log_rfm(rows: pd.DataFrame) -> np.ndarray:
    x = rows[list(RFM)].to_numpy(dtype=float)
    return np.asarray(np.log1p(np.clip(np.nan_to_num(x, nan=0.0), 0.0, None)), dtype=float)


def logistic_rfm_baseline(inputs: BaselineInputs) -> Scorer:
    """Logistic regression on log(1 + recency, frequency, monetary), fitted on training rows."""
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415 - slow import
    from sklearn.pipeline import make_pipeline  # noqa: PLC0415
    from sklearn.preprocessing import StandardScaler  # noqa: PLC0415

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(_log_rfm(inputs.train), outcome(inputs.train))
    return lambda rows: np.asarray(model.predict_proba(_log_rfm(rows))[:, 1], dtype=float)


def bgnbd_baseline(inputs: BaselineInputs) -> Scorer:
    """BG/NBD expected purchases in the horizon (fewer: riskier), refitted at each cutoff on all
    purchase histories before it (unsupervised, so no labels are read)."""
    purchases = inputs.purchases
    assert purchases is not None
    weeks = inputs.horizon_days / 7.0
    fitted: dict[pd.Timestamp, pd.Series] = {}

    def expected(cutoff: pd.Timestamp) -> pd.Series:
        if cutoff not in fitted:
            summary = rfm_summary(purchases, cutoff)
            bg = BetaGeoModel().fit(summary["frequency"], summary["recency"], summary["T"])
            e = bg.expected_purchases(weeks, summary["frequency"], summary["recency"], summary["T"])
            fitted[cutoff] = pd.Series(e, index=summary["customer_id"].to_numpy())
        return fitted[cutoff]

    def score(rows: pd.DataFrame) -> np.ndarray:
        out = np.zeros(len(rows))
        for cutoff, idx in rows.groupby("cutoff").indices.items():
            e = expected(pd.Timestamp(str(cutoff)))
            out[idx] = -e.reindex(rows["customer_id"].iloc[idx].to_numpy()).fillna(0).to_numpy()
        return out

    return _calibrated(score, inputs.valid)


def onehot_logistic_baseline(
    numeric: Sequence[str], categorical: Sequence[str]
) -> Callable[[BaselineInputs], Scorer]:
    """Logistic regression on one-hot categories and scaled numbers (the Telco reference)."""

    def fit(inputs: BaselineInputs) -> Scorer:
        from sklearn.compose import make_column_transformer  # noqa: PLC0415 - slow import
        from sklearn.impute import SimpleImputer  # noqa: PLC0415
        from sklearn.linear_model import LogisticRegression  # noqa: PLC0415
        from sklearn.pipeline import make_pipeline  # noqa: PLC0415
        from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: PLC0415

        prep = make_column_transformer(
            (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), list(numeric)),
            (OneHotEncoder(handle_unknown="ignore"), list(categorical)),
        )
        model = make_pipeline(prep, LogisticRegression(max_iter=2000))

        def frame(rows: pd.DataFrame) -> pd.DataFrame:
            out = rows[[*numeric, *categorical]].copy()
            out[list(categorical)] = out[list(categorical)].astype(object).fillna("missing")
            return out

        model.fit(frame(inputs.train), outcome(inputs.train))
        return lambda rows: np.asarray(model.predict_proba(frame(rows))[:, 1], dtype=float)

    return fit


def single_feature_baseline(
    name: str, *, higher_is_riskier: bool
) -> Callable[[BaselineInputs], Scorer]:
    def fit(inputs: BaselineInputs) -> Scorer:
        sign = 1.0 if higher_is_riskier else -1.0

        def score(rows: pd.DataFrame) -> np.ndarray:
            return sign * rows[name].fillna(0).to_numpy(dtype=float)

        return _calibrated(score, inputs.valid)

    return fit


def event_baselines(has_purchases: bool) -> Mapping[str, Callable[[BaselineInputs], Scorer]]:
    out: dict[str, Callable[[BaselineInputs], Scorer]] = {
        "recency": recency_baseline,
        "logistic_rfm": logistic_rfm_baseline,
    }
    if has_purchases:
        out["bgnbd"] = bgnbd_baseline
    return out


def baseline_probabilities(
    makers: Mapping[str, Callable[[BaselineInputs], Scorer]],
    inputs: BaselineInputs,
    rows: pd.DataFrame,
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Each baseline fitted on ``inputs`` and applied to ``rows``; and the baselines that could
    not be fitted, with why. A baseline is a yardstick, never the product: one that does not
    fit these data (a BG/NBD likelihood that does not converge on a short, sparse history) is
    left out of the comparison, not allowed to stop training."""
    scores: dict[str, np.ndarray] = {}
    skipped: dict[str, str] = {}
    for name, make in makers.items():
        try:
            scores[name] = make(inputs)(rows)
        except (RuntimeError, ValueError, ArithmeticError, np.linalg.LinAlgError) as e:
            skipped[name] = str(e)
    return scores, skipped
