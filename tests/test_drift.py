"""Population stability: zero for identical populations, growing with a shift; missing values,
unseen categories, exempt families; and the promotion gate that refuses a drifted challenger."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churn.monitoring.drift import categorical_psi, feature_drift, numeric_psi


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
