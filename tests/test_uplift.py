"""The uplift model and the Qini measures, on generated campaigns whose effects are known:
risk depends on tenure, the actions' effects on engagement."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from scipy.stats import spearmanr

from churn.campaigns import (
    UpliftModel,
    UpliftParams,
    compare_rankings,
    fit_uplift,
    qini_coefficient,
    qini_curve,
    uplift_at_k,
)
from churn.campaigns.uplift import MANIFEST_FILE, POOLED
from churn.errors import PipelineStateError, TrainingError

SHARES = {"call": 0.35, "mail": 0.33, "letter": 0.02}
"""Share of contacts per action; the rest (30 %) are control."""


def true_effects(features: pd.DataFrame) -> pd.DataFrame:
    """Churn probability each action removes: call helps the engaged and pushes a few of the
    disengaged away, mail helps the disengaged, letter removes 5 points from everyone."""
    engagement = features["engagement"].to_numpy()
    return pd.DataFrame(
        {
            "call": 0.25 * (expit(3 * engagement) - 0.3),
            "mail": 0.15 * expit(-3 * engagement),
            "letter": np.full(len(features), 0.05),
        },
        index=features.index,
    )


def contacts(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features and outcomes (``action``, ``control``, ``churned``, the true ``risk`` without
    contact) of ``n`` generated contacts."""
    rng = np.random.default_rng(seed)
    features = pd.DataFrame(
        {
            "tenure": rng.normal(size=n),
            "engagement": rng.normal(size=n),
            "noise": rng.normal(size=n),
            "plan": rng.choice(["basic", "plus", "pro"], size=n),
        }
    )
    risk = 0.15 + 0.5 * expit(2 * features["tenure"].to_numpy())
    arm = np.searchsorted(np.cumsum(list(SHARES.values())), rng.uniform(size=n), side="right")
    action = np.array([*SHARES, None], dtype=object)[arm]
    probability = risk.copy()
    effects = true_effects(features)
    for name in SHARES:
        rows = action == name
        probability[rows] -= effects[name].to_numpy()[rows]
    outcomes = pd.DataFrame(
        {
            "action": action,
            "control": arm == len(SHARES),
            "churned": rng.uniform(size=n) < probability,
            "risk": risk,
        }
    )
    return features, outcomes


def fit(features: pd.DataFrame, outcomes: pd.DataFrame, **options: object) -> UpliftModel:
    return fit_uplift(
        features, outcomes["action"], outcomes["control"], outcomes["churned"], **options
    )


@pytest.fixture(scope="module")
def campaign() -> tuple[UpliftModel, pd.DataFrame, pd.DataFrame]:
    features, outcomes = contacts(12_000, seed=0)
    model = fit(features, outcomes, min_rows=500, actions=("sms",))
    held_out_features, held_out = contacts(8_000, seed=100)
    return model, held_out_features, held_out


def test_uplift_ranks_better_than_true_risk(
    campaign: tuple[UpliftModel, pd.DataFrame, pd.DataFrame],
) -> None:
    model, features, outcomes = campaign
    predicted = model.predict(features)
    rows = ((outcomes["action"] == "call") | outcomes["control"]).to_numpy()
    compared = compare_rankings(
        {"risk": outcomes["risk"][rows], "uplift": predicted["call"][rows]}, outcomes[rows]
    )
    assert list(compared.columns) == [
        "qini",
        "uplift_at_10pct",
        "uplift_at_20pct",
        "uplift_at_30pct",
    ]
    assert compared.loc["uplift", "qini"] > compared.loc["risk", "qini"] + 0.01
    assert compared.loc["uplift", "uplift_at_20pct"] > compared.loc["risk", "uplift_at_20pct"]


def test_each_action_ranks_customers_by_its_own_effect(
    campaign: tuple[UpliftModel, pd.DataFrame, pd.DataFrame],
) -> None:
    model, features, _ = campaign
    predicted, truth = model.predict(features), true_effects(features)
    assert list(predicted.columns) == ["call", "letter", "mail", "sms"]
    assert predicted.index.equals(features.index)
    assert spearmanr(predicted["call"], truth["call"]).statistic > 0.6
    assert spearmanr(predicted["mail"], truth["mail"]).statistic > 0.4
    # the two actions help opposite customers, and the model sees it
    assert spearmanr(predicted["call"], predicted["mail"]).statistic < 0
    assert predicted.abs().max().max() <= 1


def test_rare_and_unseen_actions_use_the_pooled_model(
    campaign: tuple[UpliftModel, pd.DataFrame, pd.DataFrame],
) -> None:
    model, features, _ = campaign
    assert model.actions == {"call": "call", "letter": POOLED, "mail": "mail", "sms": POOLED}
    assert set(model.arms) == {POOLED, "call", "mail"}
    predicted = model.predict(features)
    pd.testing.assert_series_equal(predicted["letter"], predicted["sms"], check_names=False)
    # the pooled arm averages every contact: between the call and mail effects on average
    mean = predicted.mean()
    assert min(mean["call"], mean["mail"]) < mean["letter"] < max(mean["call"], mean["mail"])


def test_the_same_seed_gives_the_same_model_and_it_round_trips(tmp_path: Path) -> None:
    features, outcomes = contacts(3_000, seed=5)
    small = UpliftParams(n_rounds=30)
    first = fit(features, outcomes, min_rows=300, params=small, seed=11)
    again = fit(features, outcomes, min_rows=300, params=small, seed=11)
    pd.testing.assert_frame_equal(first.predict(features), again.predict(features))

    first.save(tmp_path / "uplift")
    files = sorted(p.name for p in (tmp_path / "uplift").iterdir())
    assert all(name.endswith(".json") for name in files)  # xgboost JSON and the manifest
    manifest = json.loads((tmp_path / "uplift" / MANIFEST_FILE).read_text(encoding="utf-8"))
    assert manifest["method"] == "x-learner"
    assert manifest["metadata"]["params"]["n_rounds"] == 30
    loaded = UpliftModel.load(tmp_path / "uplift")
    assert loaded.actions == first.actions
    pd.testing.assert_frame_equal(loaded.predict(features), first.predict(features))


def test_a_broken_model_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(PipelineStateError, match=f"not an uplift model folder.*{MANIFEST_FILE}"):
        UpliftModel.load(tmp_path)
    (tmp_path / MANIFEST_FILE).write_text('{"format_version": 1, "arms": []}', encoding="utf-8")
    with pytest.raises(PipelineStateError, match=f"{tmp_path}: expected an uplift model"):
        UpliftModel.load(tmp_path)


def test_a_control_group_without_churn_cannot_train() -> None:
    features, outcomes = contacts(500, seed=1)
    outcomes.loc[outcomes["control"], "churned"] = False
    with pytest.raises(TrainingError, match=r"control rows with both outcomes.*0 churned"):
        fit(features, outcomes)


def test_qini_curve_by_hand() -> None:
    # ranked: treated kept, control churned, treated churned, control kept
    score = [4.0, 3.0, 2.0, 1.0]
    treated = [True, False, True, False]
    churned = [False, True, True, False]
    curve = qini_curve(score, treated, churned)
    assert list(curve["targeted"]) == [0, 1, 2, 3, 4]
    # qini(t) = (x_c n_t / n_c - x_t) / N_t with N_t = 2
    # t = 2: (1 x 1 / 1 - 0) / 2; t = 3: (1 x 2 / 1 - 1) / 2; t = 4: (1 x 2 / 2 - 1) / 2
    assert list(curve["qini"]) == pytest.approx([0.0, 0.0, 0.5, 0.5, 0.0])
    # the line to (1, 0) is 0: the area is the curve's, trapezoids of width 0.25
    assert qini_coefficient(score, treated, churned) == pytest.approx(0.25 * (0.25 + 0.5 + 0.25))
    at = uplift_at_k(score, treated, churned, ks=(0.25, 0.5, 1.0))
    assert np.isnan(at[0.25])  # the top row is a contacted one only
    assert at[0.5] == pytest.approx(1.0)
    assert at[1.0] == pytest.approx(0.0)


def test_tied_scores_enter_together() -> None:
    rng = np.random.default_rng(4)
    treated, churned = rng.uniform(size=400) < 0.5, rng.uniform(size=400) < 0.3
    flat = np.zeros(400)
    assert list(qini_curve(flat, treated, churned)["targeted"]) == [0, 400]
    assert qini_coefficient(flat, treated, churned) == pytest.approx(0.0, abs=1e-12)
    coarse = np.repeat([3.0, 2.0, 1.0, 0.0], 100)
    order = rng.permutation(400)
    assert qini_coefficient(coarse, treated, churned) == pytest.approx(
        qini_coefficient(coarse[order], treated[order], churned[order])
    )


def test_a_random_ranking_scores_about_zero_and_the_truth_scores_best() -> None:
    features, outcomes = contacts(20_000, seed=2)
    rows = ((outcomes["action"] == "call") | outcomes["control"]).to_numpy()
    truth = true_effects(features)["call"][rows]
    treated = ~outcomes["control"][rows]
    churned = outcomes["churned"][rows]
    random = np.random.default_rng(0).uniform(size=int(rows.sum()))
    assert abs(qini_coefficient(random, treated, churned)) < 0.005
    assert qini_coefficient(truth, treated, churned) > 0.01
    assert qini_coefficient(-truth, treated, churned) < -0.01


def test_mismatched_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="one value per row; got lengths 2, 3 and 3"):
        qini_curve([1.0, 2.0], [True, False, True], [False, False, True])
    with pytest.raises(ValueError, match="'ks' parameter must hold shares"):
        uplift_at_k([1.0], [True], [False], ks=(0, 0.5))
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['control'\]"):
        compare_rankings({"a": [1.0]}, pd.DataFrame({"churned": [True]}))


def few_controls(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    """A campaign as a retention team runs one: five actions, only 8 % held out (about two
    hundred control rows per action), churn driven mostly by a collapse in usage that no action
    reverses (lost causes), and one action ("fix") that removes the risk an open problem adds
    for customers who still use the service (persuadables). Features, outcomes, the true risk
    without contact and the true effect of "fix"."""
    rng = np.random.default_rng(seed)
    features = pd.DataFrame(
        {
            "usage_drop": rng.beta(0.6, 2.0, n),
            "open_problems": rng.poisson(0.4, n).clip(0, 3).astype(float),
            "months": rng.exponential(14.0, n),
            "noise": rng.normal(size=n),
            "region": rng.choice(["north", "south", "east", "west"], n),
        }
    )
    drop, problems = features["usage_drop"].to_numpy(), features["open_problems"].to_numpy()
    logit = -3.2 + 4.0 * drop + 1.1 * problems
    risk = expit(logit)
    fix = risk - expit(logit - 1.1 * problems * (1 - drop) ** 3)
    actions = np.array(["fix", "mail", "survey", "call", "offer"], dtype=object)
    control = rng.uniform(size=n) < 0.08
    action = np.where(control, None, actions[rng.integers(0, len(actions), n)])
    probability = np.where(action == "fix", risk - fix, risk)
    outcomes = pd.DataFrame(
        {"action": action, "control": control, "churned": rng.uniform(size=n) < probability}
    )
    return features, outcomes, risk, fix


def test_a_few_hundred_controls_find_the_persuadables_not_the_lost_causes() -> None:
    """The control group is pooled across actions (a control customer got nothing), so even
    about two hundred control rows per action are enough to rank the persuadables of "fix"
    first, where the risk ranking also takes the lost causes."""
    features, outcomes, _, _ = few_controls(12_000, seed=4)
    assert 800 < outcomes["control"].sum() < 1_100
    model = fit(features, outcomes, min_rows=500)
    test_features, _, risk, fix = few_controls(6_000, seed=40)
    predicted = model.predict(test_features)["fix"].to_numpy()
    assert spearmanr(predicted, fix).statistic > 0.3
    top = np.argsort(-predicted)[: len(fix) // 5]
    risk_top = np.argsort(-risk)[: len(fix) // 5]
    # the uplift ranking's top fifth keeps more customers with "fix" than the true risk's,
    # and over half as many as the truth's own top fifth could
    assert fix[top].sum() > 1.2 * fix[risk_top].sum()
    assert fix[top].sum() > 0.55 * np.sort(fix)[::-1][: len(fix) // 5].sum()
    assert fix[top].mean() > 2 * fix.mean()


def test_qini_difference_tells_a_real_lead_from_chance() -> None:
    """A paired bootstrap of one ranking's Qini minus another's: a ranking that knows who a
    contact helps leads random scores with an interval above 0; a ranking against itself, or
    two random rankings on few rows, do not."""
    from churn.campaigns.qini import qini_difference  # noqa: PLC0415

    rng = np.random.default_rng(5)
    n = 4000
    helped = rng.random(n) < 0.3  # a contact halves their churn; the others are unmoved
    control = rng.random(n) < 0.3
    base = rng.uniform(0.2, 0.6, n)
    churned = rng.random(n) < np.where(helped & ~control, base / 2, base)
    outcomes = pd.DataFrame({"control": control, "churned": churned})
    knows = helped + rng.normal(0, 0.1, n)
    noise = rng.random(n)
    lead = qini_difference(knows, noise, outcomes, confidence=0.9, resamples=300, seed=1)
    assert lead["low"] > 0 and lead["low"] <= lead["estimate"] <= lead["high"]
    same = qini_difference(noise, noise, outcomes, confidence=0.9, resamples=50, seed=1)
    assert same["estimate"] == 0 and same["low"] == 0 and same["high"] == 0
    few = outcomes.iloc[:300]
    chance = qini_difference(
        rng.random(300), rng.random(300), few, confidence=0.9, resamples=300, seed=1
    )
    assert chance["low"] < 0 < chance["high"]
