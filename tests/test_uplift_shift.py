"""The logit_shift uplift learner: an action as a shift on the churn model's log-odds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from scipy.stats import spearmanr

from churn.campaigns import UpliftModel, fit_uplift
from churn.campaigns.uplift import POOLED
from churn.campaigns.uplift_shift import ShiftArm
from churn.errors import PipelineStateError
from churn.tracking.uplift_pyfunc import uplift_frame, uplift_input


def campaign(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    """Generated contacts (20 % control) whose churn log-odds are ``base(x)`` plus, when
    contacted with "call", a shift that depends on one feature: the call keeps customers with
    many open tickets and does nothing (or a little harm) to the rest. Columns have
    uninformative names and messy shapes (skewed, missing values, a text category). Returns
    features, outcomes, a churn model's probability (the true risk seen through noise: a
    model, not the truth) and the true churn probability "call" removes."""
    rng = np.random.default_rng(seed)
    features = pd.DataFrame(
        {
            "f_a": rng.lognormal(0.0, 1.0, n),
            "f_b": rng.poisson(1.0, n).astype(float),
            "f_c": rng.normal(size=n),
            "f_d": rng.choice(["x", "y", "z"], n),
        }
    )
    features.loc[rng.uniform(size=n) < 0.05, "f_c"] = np.nan
    a, b = features["f_a"].to_numpy(), features["f_b"].to_numpy()
    base = -1.5 + 0.8 * np.log(a) + 0.3 * (features["f_d"] == "z").to_numpy()
    shift = 0.2 - 0.6 * b  # log-odds: harms the ticket-free a little, keeps the others
    effect = expit(base) - expit(base + shift)
    control = rng.uniform(size=n) < 0.2
    action = np.where(control, None, np.where(rng.uniform(size=n) < 0.6, "call", "mail"))
    logit = np.where(action == "call", base + shift, base)
    outcomes = pd.DataFrame(
        {"action": action, "control": control, "churned": rng.uniform(size=n) < expit(logit)}
    )
    churn_model = expit(base + rng.normal(0.0, 0.3, n))
    return features, outcomes, churn_model, effect


def fit(features: pd.DataFrame, outcomes: pd.DataFrame, risk: np.ndarray) -> UpliftModel:
    return fit_uplift(
        features,
        outcomes["action"],
        outcomes["control"],
        outcomes["churned"],
        min_rows=500,
        learner="logit_shift",
        churn_probability=risk,
    )


@pytest.fixture(scope="module")
def fitted() -> UpliftModel:
    features, outcomes, risk, _ = campaign(8_000, seed=1)
    return fit(features, outcomes, risk)


def test_it_recovers_a_heterogeneous_log_odds_effect_better_than_risk(
    fitted: UpliftModel,
) -> None:
    features, _, risk, effect = campaign(5_000, seed=2)
    predicted = fitted.predict(features, risk)["call"].to_numpy()
    assert spearmanr(predicted, effect).statistic > 0.8
    assert spearmanr(predicted, effect).statistic > spearmanr(risk, effect).statistic + 0.3
    k = len(effect) // 5
    top, risk_top = np.argsort(-predicted)[:k], np.argsort(-risk)[:k]
    assert effect[top].sum() > 1.3 * effect[risk_top].sum()
    # the shift is learned on the log-odds scale: ticket-free customers are not helped
    assert predicted[features["f_b"].to_numpy() == 0].mean() < 0.01
    arm = fitted.arms["call"]
    assert isinstance(arm, ShiftArm) and arm.risk_slope > 0.5


def test_actions_without_a_shift_of_their_own_use_the_pooled_one(fitted: UpliftModel) -> None:
    assert fitted.actions == {"call": "call", "mail": "mail"}
    assert set(fitted.arms) == {POOLED, "call", "mail"}
    features, _, risk, _ = campaign(2_000, seed=3)
    mail = fitted.predict(features, risk)["mail"]
    assert abs(mail.mean()) < 0.02  # mail does nothing in this campaign


def test_it_round_trips_and_needs_the_churn_probability(
    fitted: UpliftModel, tmp_path: Path
) -> None:
    features, _, risk, _ = campaign(500, seed=4)
    fitted.save(tmp_path)
    loaded = UpliftModel.load(tmp_path)
    assert loaded.needs_churn_probability
    pd.testing.assert_frame_equal(loaded.predict(features, risk), fitted.predict(features, risk))
    with pytest.raises(ValueError, match="needs the churn model's probability of each of the 500"):
        loaded.predict(features)


def test_fitting_without_the_churn_probability_or_with_an_unknown_learner_is_refused() -> None:
    features, outcomes, _, _ = campaign(600, seed=5)
    args = (features, outcomes["action"], outcomes["control"], outcomes["churned"])
    with pytest.raises(ValueError, match="logit_shift learner needs the churn model's"):
        fit_uplift(*args, learner="logit_shift")
    with pytest.raises(ValueError, match="learner must be one of"):
        fit_uplift(*args, learner="t_learner")


def test_the_x_learner_on_risk_fits_on_the_churn_logit_and_predicts_from_features() -> None:
    features, outcomes, risk, _ = campaign(6_000, seed=6)
    model = fit_uplift(
        features,
        outcomes["action"],
        outcomes["control"],
        outcomes["churned"],
        min_rows=500,
        learner="x_learner_on_risk",
        churn_probability=risk,
    )
    assert not model.needs_churn_probability
    test_features, _, test_risk, test_effect = campaign(4_000, seed=7)
    predicted = model.predict(test_features)["call"].to_numpy()
    assert spearmanr(predicted, test_effect).statistic > spearmanr(test_risk, test_effect).statistic


def test_the_pyfunc_input_carries_the_churn_probability_a_logit_shift_model_needs(
    fitted: UpliftModel,
) -> None:
    features, _, risk, _ = campaign(300, seed=8)
    with pytest.raises(PipelineStateError, match=r"\['churn_probability'\]"):
        uplift_input(fitted, features)
    example = uplift_input(fitted, features.assign(churn_probability=risk))
    out = uplift_frame(fitted, example)
    expected = fitted.predict(features, risk)
    np.testing.assert_allclose(out["call"].to_numpy(), expected["call"].to_numpy())
