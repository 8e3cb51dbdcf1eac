"""Population stability: zero for identical populations, growing with a shift; missing values,
unseen categories, exempt families; and the promotion gate that refuses a drifted challenger."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churn.modeling.model import Calibrator, ChurnModel, design_matrix
from churn.monitoring.drift import categorical_psi, drift_problems, feature_drift, numeric_psi
from churn.settings import MonitoringSettings


def normal(mean: float, n: int = 5000, seed: int = 0) -> pd.Series:
    return pd.Series(np.random.default_rng(seed).normal(mean, 1.0, n))


def test_psi_is_zero_for_identical_populations() -> None:
    x = normal(0.0)
    assert numeric_psi(x, x) == pytest.approx(0.0, abs=1e-12)
    c = pd.Series(["a", "b", "b", None] * 100)
    assert categorical_psi(c, c) == pytest.approx(0.0, abs=1e-12)


def test_psi_grows_with_the_shift() -> None:
    reference = normal(0.0, seed=1)
    psis = [numeric_psi(reference, normal(shift, seed=2)) for shift in (0.0, 0.25, 0.5, 1.0)]
    assert psis[0] < 0.02  # two samples of the same distribution
    assert psis == sorted(psis)
    assert psis[1] > 0.05 and psis[3] > 0.5


def test_a_constant_reference_still_shows_a_shift() -> None:
    june = pd.Series([6.0] * 100)
    assert numeric_psi(june, pd.Series([12.0] * 100)) > 1.0
    assert numeric_psi(june, june) == pytest.approx(0.0, abs=1e-12)


def test_missing_values_and_unseen_categories_are_reported() -> None:
    reference = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0] * 50, "plan": ["basic", "pro"] * 100})
    current = pd.DataFrame(
        {"x": [1.0, None, None, 4.0] * 50, "plan": ["basic", "pro", "max", "max"] * 50}
    )
    out = {
        d.feature: d
        for d in feature_drift(
            reference, current, numeric=["x"], categorical=["plan"], threshold=0.2
        )
    }
    assert out["x"].missing_reference == 0.0 and out["x"].missing_current == 0.5
    assert out["x"].flagged
    assert out["plan"].unseen_categories == ["max"] and out["plan"].unseen_share == 0.5
    assert out["plan"].flagged and out["plan"].kind == "categorical"


def test_drift_problems_name_each_drifted_feature_and_the_score_for_the_gate() -> None:
    """Training rows are the train and valid cutoffs of labels; scoring rows the score one."""
    import xgboost as xgb  # noqa: PLC0415

    rng = np.random.default_rng(0)
    n = 400
    recency, steady = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 2, "seed": 0},
        xgb.DMatrix(
            design_matrix(
                pd.DataFrame({"recency": recency, "steady": steady}), ["recency", "steady"], {}
            ),
            label=(recency > 0.5).astype(int),
        ),
        num_boost_round=5,
    )
    model = ChurnModel(booster, Calibrator("none"), ("recency", "steady"), {})
    cutoffs = np.repeat(pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]), n)
    labels = pd.DataFrame(
        {
            "customer_id": np.tile(np.arange(n), 3),
            "cutoff": cutoffs,
            "split": np.repeat(["train", "valid", "score"], n),
            "churned": [*([False] * (2 * n)), *([None] * n)],
        }
    )

    def features(score_recency: np.ndarray) -> pd.DataFrame:
        return labels[["customer_id", "cutoff"]].assign(
            recency=np.concatenate([recency, recency, score_recency]),
            steady=np.tile(steady, 3),
        )

    catalogue = [{"name": "recency", "family": "recency"}, {"name": "steady", "family": "x"}]
    settings = MonitoringSettings()
    assert (
        drift_problems(model, labels, features(recency), catalogue=catalogue, settings=settings)
        == []
    )
    shifted = drift_problems(
        model, labels, features(recency * 0.2), catalogue=catalogue, settings=settings
    )
    assert shifted[0].startswith("score PSI ")
    assert shifted[-1].startswith("recency PSI ") and shifted[-1].endswith("(threshold 0.2)")
    assert not any(p.startswith("steady") for p in shifted)
