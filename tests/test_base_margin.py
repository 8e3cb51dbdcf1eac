"""The base margin a booster starts from: fitted on logged scores, finite for any input, stored
as plain numbers, and applied the same way when a saved model scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from churn.modeling.base_margin import LOG_EPSILON, BaseMargin


def scored_rows(n: int, seed: int) -> pd.DataFrame:
    """Customers whose churn odds fall with the log of their expected purchases."""
    rng = np.random.default_rng(seed)
    expected = rng.gamma(0.8, 2.0, n)
    logit = -1.2 * np.log(expected + LOG_EPSILON) - 0.5
    churned = rng.uniform(size=n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame({"expected": expected, "churned": churned.astype(int)})


def test_fit_recovers_the_slope_and_ranks_like_the_score() -> None:
    rows = scored_rows(4000, seed=1)
    base = BaseMargin.fit(rows, rows["churned"].to_numpy(), ["expected"])
    assert base.features == ("expected",)
    assert base.coefs[0] == pytest.approx(-1.2, abs=0.15)
    margin = base(rows)
    assert margin.shape == (len(rows),)
    assert roc_auc_score(rows["churned"], margin) == pytest.approx(
        roc_auc_score(rows["churned"], -rows["expected"])
    )


def test_missing_zero_and_negative_scores_give_finite_margins() -> None:
    base = BaseMargin(("expected",), (-1.0,), 0.5)
    rows = pd.DataFrame({"expected": [np.nan, 0.0, -3.0, 2.0]})
    margin = base(rows)
    assert np.all(np.isfinite(margin))
    assert margin[0] == margin[1] == margin[2] == pytest.approx(0.5 - np.log(LOG_EPSILON))
    assert margin[3] == pytest.approx(0.5 - np.log(2.0 + LOG_EPSILON))


def test_does_not_change_its_input() -> None:
    rows = scored_rows(200, seed=2)
    before = rows.copy()
    BaseMargin.fit(rows, rows["churned"].to_numpy(), ["expected"])(rows)
    pd.testing.assert_frame_equal(rows, before)


def test_record_round_trip() -> None:
    base = BaseMargin(("a", "b"), (-0.7, 0.25), 1.5)
    assert BaseMargin.from_dict(base.to_dict()) == base


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"log_epsilon": 1.0}, id="other-epsilon"),
        pytest.param({"coefs": [1.0, 2.0]}, id="coefs-mismatch"),
        pytest.param({"features": [], "coefs": []}, id="no-feature"),
    ],
)
def test_record_that_does_not_fit_together_is_refused(change: dict[str, object]) -> None:
    record = {**BaseMargin(("a",), (-0.7,), 1.5).to_dict(), **change}
    with pytest.raises(ValueError, match="base_margin"):
        BaseMargin.from_dict(record)
