"""Measured campaign effects: contacted against control churn per group, their intervals on
campaigns with a known effect, and playbook offers updated by them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import churn.campaigns
from churn.campaigns import EffectUpdate, measure_effects, updated_offers
from churn.campaigns.effects import (
    ALL_CONTROLS,
    CONTROLS_WITHOUT_ACTION,
    EFFECT_COLUMNS,
    SAME_ACTION,
    newcombe_interval,
)
from churn.scoring.control import detectable_effect
from churn.scoring.playbook import Offer


def counts(action: str | None, control: bool, n: int, churned: int, **extra: str) -> pd.DataFrame:
    """``n`` contact outcomes of one arm, the first ``churned`` of them churned."""
    return pd.DataFrame(
        {
            "action": pd.Series([action] * n, dtype=object),
            "control": [control] * n,
            "churned": [i < churned for i in range(n)],
            **{k: [v] * n for k, v in extra.items()},
        }
    )


def campaign(
    rng: np.random.Generator,
    removed: dict[str, float],
    *,
    base: float = 0.3,
    contacted: int = 4000,
    control: int = 2000,
    control_action: bool = False,
) -> pd.DataFrame:
    """A campaign where ``base`` of the controls churn and action a removes ``removed[a]``
    (absolute). Controls recorded per action with ``control_action``, else one pooled group."""
    parts = []
    for action, effect in removed.items():
        parts.append(counts(action, False, contacted, int(rng.binomial(contacted, base - effect))))
        if control_action:
            parts.append(counts(action, True, control, int(rng.binomial(control, base))))
    if not control_action:
        parts.append(counts(None, True, control, int(rng.binomial(control, base))))
    return pd.concat(parts, ignore_index=True)


def test_public_names_are_pinned() -> None:
    assert churn.campaigns.__all__ == [
        "EffectUpdate",
        "UpliftModel",
        "UpliftParams",
        "compare_rankings",
        "fit_uplift",
        "measure_effects",
        "qini_coefficient",
        "qini_curve",
        "updated_offers",
        "uplift_at_k",
    ]


def test_the_interval_covers_a_known_effect() -> None:
    outcomes = campaign(np.random.default_rng(7), {"call": 0.10, "mail": 0.03})
    before = outcomes.copy()
    effects = measure_effects(outcomes).set_index("action")
    pd.testing.assert_frame_equal(outcomes, before)  # the input is not changed
    assert list(effects.columns) == list(EFFECT_COLUMNS)
    for action, absolute in (("call", 0.10), ("mail", 0.03)):
        row = effects.loc[action]
        assert row["comparison"] == CONTROLS_WITHOUT_ACTION
        assert (row["n_contacted"], row["n_control"]) == (4000, 2000)
        assert row["effect_low"] <= absolute <= row["effect_high"]
        assert row["relative_low"] <= absolute / 0.3 <= row["relative_high"]
        assert row["effect_low"] < row["effect"] < row["effect_high"]
        assert row["measurable"]
        assert not row["too_small"]
        assert row["reason"] == ""


def test_the_interval_covers_the_truth_about_as_often_as_its_level() -> None:
    rng = np.random.default_rng(2026)
    truth = {"call": 0.10, "mail": 0.03}
    frames = []
    for i in range(300):
        one = campaign(rng, truth, contacted=400, control=200, control_action=True)
        frames.append(one.assign(campaign=i))
    effects = measure_effects(pd.concat(frames, ignore_index=True), by=("campaign", "action"))
    assert len(effects) == 600
    assert (effects["comparison"] == SAME_ACTION).all()
    absolute = effects["action"].map(truth)
    relative = absolute / 0.3
    covered = (effects["effect_low"] <= absolute) & (absolute <= effects["effect_high"])
    covered_relative = (effects["relative_low"] <= relative) & (
        relative <= effects["relative_high"]
    )
    # 600 intervals: a coverage of 0.9 is seen within 0.9 +- 0.037 (3 standard errors)
    assert covered.mean() == pytest.approx(0.9, abs=0.037)
    assert covered_relative.mean() == pytest.approx(0.9, abs=0.037)


@pytest.mark.parametrize(
    ("a", "b", "low", "high"),
    [  # Newcombe (1998), Statistics in Medicine 17:873-890, table II, method 10
        ((56, 70), (48, 80), 0.0524, 0.3339),
        ((9, 10), (3, 10), 0.1705, 0.8090),
        ((6, 7), (2, 7), 0.0582, 0.8062),
        ((5, 56), (0, 29), -0.0381, 0.1926),
        ((0, 10), (0, 20), -0.1611, 0.2775),
        ((0, 10), (0, 10), -0.2775, 0.2775),
        ((10, 10), (0, 20), 0.6791, 1.0000),
        ((10, 10), (0, 10), 0.6075, 1.0000),
    ],
)
def test_newcombe_interval_matches_the_published_values(
    a: tuple[int, int], b: tuple[int, int], low: float, high: float
) -> None:
    got = newcombe_interval(*a, *b, 1.959964)
    assert got == pytest.approx((low, high), abs=1e-4)


def test_both_intervals_match_a_hand_computation() -> None:
    # control 40/100 churned, contacted 20/100: effect 0.2, risk ratio 0.5
    outcomes = pd.concat([counts("call", True, 100, 40), counts("call", False, 100, 20)])
    row = measure_effects(outcomes, level=0.95).iloc[0]
    assert row["effect"] == pytest.approx(0.2)
    # Wilson 95 %: control (0.30940, 0.49800), contacted (0.13337, 0.28883); Newcombe:
    # 0.2 - sqrt(0.09060^2 + 0.08883^2) = 0.07312, 0.2 + sqrt(0.09800^2 + 0.06663^2) = 0.31851
    assert (row["effect_low"], row["effect_high"]) == pytest.approx((0.07312, 0.31851), abs=1e-5)
    # Katz: se(log RR) = sqrt(1/20 - 1/100 + 1/40 - 1/100) = 0.234521; 1.959964 x se = 0.459652
    # RR in 0.5 exp(-+0.459652) = (0.31576, 0.79175), so 1 - RR in (0.20824, 0.68425)
    assert row["relative_effect"] == pytest.approx(0.5)
    assert (row["relative_low"], row["relative_high"]) == pytest.approx(
        (0.20824, 0.68425), abs=1e-5
    )


def test_groups_by_action_and_tier_and_by_nothing() -> None:
    outcomes = pd.concat(
        [
            counts("call", False, 300, 60, tier="high"),
            counts("call", False, 200, 20, tier="low"),
            counts("mail", False, 300, 80, tier="high"),
            counts(None, True, 150, 50, tier="high"),
            counts(None, True, 100, 15, tier="low"),
        ],
        ignore_index=True,
    )
    by_tier = measure_effects(outcomes, by=("action", "tier"))
    assert list(by_tier[["action", "tier"]].itertuples(index=False, name=None)) == [
        ("call", "high"),
        ("call", "low"),
        ("mail", "high"),
    ]
    assert list(by_tier["n_control"]) == [150, 100, 150]  # the controls of the same tier
    assert by_tier.loc[1, "churn_rate_control"] == pytest.approx(0.15)

    everyone = measure_effects(outcomes, by=())
    assert len(everyone) == 1
    row = everyone.iloc[0]
    assert (row["comparison"], row["n_contacted"], row["n_control"]) == (ALL_CONTROLS, 800, 250)
    assert row["effect"] == pytest.approx(65 / 250 - 160 / 800)


def test_controls_that_recorded_an_action_measure_only_that_action() -> None:
    outcomes = pd.concat(
        [
            counts("call", False, 200, 40),
            counts("call", True, 100, 30),
            counts("mail", False, 200, 50),
            counts(None, True, 80, 20),
            counts("gift", True, 50, 10),  # drawn for gift, never sent
        ],
        ignore_index=True,
    )
    effects = measure_effects(outcomes).set_index("action")
    assert effects.loc["call", "comparison"] == SAME_ACTION
    assert effects.loc["call", "n_control"] == 100
    assert effects.loc["mail", "comparison"] == CONTROLS_WITHOUT_ACTION
    assert effects.loc["mail", "n_control"] == 80
    assert not effects.loc["gift", "measurable"]
    assert "no contacted rows" in effects.loc["gift", "reason"]


def test_empty_arms_and_no_churn_give_explicit_not_measurable_rows() -> None:
    outcomes = pd.concat(
        [
            counts("call", False, 50, 5, tier="a"),  # no control in tier a
            counts("call", False, 50, 0, tier="b"),  # no churn among contacted: measurable
            counts(None, True, 50, 10, tier="b"),
            counts("call", False, 50, 3, tier="c"),  # no churn among controls
            counts(None, True, 50, 0, tier="c"),
            counts("call", False, 50, 0, tier="d"),  # no churn at all
            counts(None, True, 50, 0, tier="d"),
        ],
        ignore_index=True,
    )
    effects = measure_effects(outcomes, by=("action", "tier")).set_index("tier")
    assert list(effects["measurable"]) == [False, True, False, False]
    assert effects.loc["a", "reason"].startswith("no control rows")
    assert effects.loc["c", "reason"].startswith("no churn among the 50 control row(s)")
    assert effects.loc["d", "reason"].startswith("no churn among the 50 control row(s)")
    assert np.isnan(effects.loc["a", "effect"])
    assert effects.loc["a", "churn_rate_contacted"] == pytest.approx(0.1)

    b = effects.loc["b"]
    assert b["relative_effect"] == 1.0
    assert b["relative_high"] == 1.0
    assert -1 < b["relative_low"] < 1
    assert b["effect_low"] < 0.2 < b["effect_high"]
    # no churn among controls: the absolute effect is still defined, the relative one is not
    assert effects.loc["c", "effect"] == pytest.approx(-0.06)
    assert np.isnan(effects.loc["c", "relative_effect"])
    assert effects.loc["d", "effect"] == 0.0


def test_too_small_says_when_no_effect_could_be_detected() -> None:
    outcomes = pd.concat(
        [
            counts("call", False, 5, 1),
            counts("call", True, 5, 2),
            counts("mail", False, 2000, 400),
            counts("mail", True, 1000, 300),
        ],
        ignore_index=True,
    )
    effects = measure_effects(outcomes).set_index("action")
    assert effects.loc["call", "too_small"]
    assert effects.loc["call", "measurable"]
    assert not effects.loc["mail", "too_small"]
    assert effects.loc["mail", "detectable_effect"] == pytest.approx(
        detectable_effect(1000, 2000, 0.3)
    )


def test_bad_inputs_are_named() -> None:
    outcomes = counts("call", False, 10, 2)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['tier'\]"):
        measure_effects(outcomes, by=("action", "tier"))
    with pytest.raises(ValueError, match="'level' parameter must be a float in \\(0, 1\\)"):
        measure_effects(outcomes, level=90)
    with pytest.raises(ValueError, match="'churned' must be bool without missing values"):
        measure_effects(outcomes.assign(churned=pd.array([None] * 10, dtype="boolean")))


def test_the_posterior_lies_between_prior_and_measurement_and_is_narrower() -> None:
    outcomes = campaign(np.random.default_rng(3), {"call": 0.12}, contacted=600, control=300)
    measured = measure_effects(outcomes)
    prior = (Offer("call", 5.0, 0.10, 0.10), Offer("none", 0.0, 0.0, 0.0))
    offers, records = updated_offers(prior, measured)

    call, record = offers[0], records[0]
    assert isinstance(record, EffectUpdate)
    assert record.measured is not None
    assert record.measured_sd is not None
    lo, hi = sorted((0.10, record.measured))
    assert lo < call.effect < hi
    assert call.effect_sd < min(0.10, record.measured_sd)
    assert (call.action, call.cost) == ("call", 5.0)
    assert (record.posterior, record.posterior_sd) == (call.effect, call.effect_sd)
    assert (record.n_contacted, record.n_control) == (600, 300)
    # the measured sd is the interval's half width over z
    row = measured.iloc[0]
    z = 1.6448536
    assert record.measured_sd == pytest.approx((row["relative_high"] - row["relative_low"]) / 2 / z)
    expected = (0.10 / 0.01 + record.measured / record.measured_sd**2) / (
        1 / 0.01 + 1 / record.measured_sd**2
    )
    assert call.effect == pytest.approx(expected)

    # an action nobody measured keeps its prior
    assert offers[1] == prior[1]
    assert records[1].measured is None
    assert (records[1].n_contacted, records[1].n_control) == (0, 0)


def test_unmeasurable_rows_and_certain_priors_keep_the_prior() -> None:
    outcomes = pd.concat([counts("call", False, 100, 10), counts("call", True, 100, 0)])
    measured = measure_effects(outcomes)
    assert not measured.loc[0, "measurable"]
    prior = Offer("call", 1.0, 0.2, 0.05)
    assert updated_offers([prior], measured)[0] == (prior,)

    measurable = measure_effects(
        pd.concat([counts("call", False, 100, 10), counts("call", True, 100, 30)])
    )
    certain = Offer("call", 1.0, 0.2, 0.0)
    offers, records = updated_offers([certain], measurable)
    assert offers == (certain,)
    assert records[0].measured == pytest.approx(1 - 0.1 / 0.3)
    assert math.isfinite(records[0].posterior_sd)


def test_updated_offers_wants_one_row_per_action() -> None:
    outcomes = pd.concat(
        [
            counts("call", False, 50, 5, tier="a"),
            counts(None, True, 50, 9, tier="a"),
            counts("call", False, 50, 5, tier="b"),
            counts(None, True, 50, 9, tier="b"),
        ]
    )
    by_tier = measure_effects(outcomes, by=("action", "tier"))
    with pytest.raises(ValueError, match=r"several rows for action\(s\) \['call'\]"):
        updated_offers([Offer("call", 1.0, 0.2, 0.05)], by_tier)
    with pytest.raises(ValueError, match="lacks column"):
        updated_offers([Offer("call", 1.0, 0.2, 0.05)], by_tier.drop(columns="level"))
