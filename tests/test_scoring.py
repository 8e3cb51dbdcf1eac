"""From probabilities to an outreach list: SHAP reasons, tiers, ranking, budget, control group,
playbook and value, on small hand-made inputs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from scipy.stats import norm

from churn.errors import ConfigError, PipelineStateError
from churn.features import FeatureSpec, catalogue_records, feature_catalogue
from churn.features.derived import derived_catalogue
from churn.modeling.base_margin import BaseMargin
from churn.modeling.clv import BetaGeoModel
from churn.modeling.model import Calibrator, ChurnModel
from churn.scoring.control import (
    control_plan,
    control_share_for,
    detectable_effect,
    hold_out_control,
    stratified_control,
)
from churn.scoring.explain import (
    NO_SINGLE_DRIVER,
    Contributions,
    Reference,
    on_the_safe_side,
    only_typical,
    reason_sums,
    shap_contributions,
    top_reasons,
    with_no_single_driver,
)
from churn.scoring.outreach import (
    control_group,
    describe_tiers,
    misread_tiers,
    outreach_size,
    priority_rank,
    risk_percentile,
    risk_tier,
    riskiest_share,
    tier_definition,
)
from churn.scoring.playbook import best_actions, check_rules, recommend, top_actionable_reason
from churn.scoring.ranking import CONTROL, ModelIdentity, score_columns, score_customers, worth
from churn.scoring.reasons import (
    CatalogueSpec,
    ReasonCatalogue,
    default_catalogue,
    load_catalogue,
    render_many,
    resolve,
)
from churn.scoring.value import _purchases_ahead, purchase_value, recurring_value
from churn.settings import (
    DataSettings,
    FeatureSettings,
    OutreachSettings,
    PlaybookSettings,
    RiskTiers,
    ScoringSettings,
    ValueSettings,
)
from tests.conftest import events_frame

FEATURES = ["days_since_last_activity", "orders_total", "spend_total", "country"]
CATALOGUE = [
    {"name": "days_since_last_activity", "family": "recency", "description": "Days since"},
    {"name": "orders_total", "family": "frequency", "description": "Orders over the history"},
    {"name": "spend_total", "family": "monetary", "description": "Total spend"},
    {"name": "country", "family": "attribute", "description": "Country", "kind": "categorical"},
]


def toy_features(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    recency = rng.integers(0, 200, n).astype(float)
    orders = rng.poisson(4, n).astype(float)
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i:04d}" for i in range(n)],
            "cutoff": pd.Timestamp("2024-01-01"),
            "days_since_last_activity": recency,
            "orders_total": orders,
            "spend_total": orders * rng.gamma(2, 20, n),
            "country": rng.choice(["UK", "FR", "DE"], n).astype(object),
        }
    )
    logit = 0.02 * (recency - 100) - 0.3 * (orders - 4) + (frame["country"] == "FR") * 0.8
    churned = rng.random(n) < 1 / (1 + np.exp(-logit))
    return frame, churned.astype(int)


@pytest.fixture(scope="module")
def model() -> ChurnModel:
    return toy_model()


def toy_model() -> ChurnModel:
    """A booster and Platt calibrator fitted on :func:`toy_features`."""
    frame, y = toy_features()
    numeric = ("days_since_last_activity", "orders_total", "spend_total")
    categories = {"country": ("DE", "FR", "UK")}
    empty = ChurnModel(xgb.Booster(), Calibrator("none"), numeric, categories)
    matrix = xgb.DMatrix(empty.matrix(frame), label=y, enable_categorical=True)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3, "seed": 0, "nthread": 1},
        matrix,
        num_boost_round=30,
    )
    margin = booster.predict(matrix, output_margin=True)
    return ChurnModel(booster, Calibrator.fit("platt", margin, y), numeric, categories)


@pytest.fixture(scope="module")
def reasons() -> CatalogueSpec:
    return default_catalogue(CATALOGUE, FEATURES)


# --------------------------------------------------------------------------- SHAP and reasons


def test_shap_values_plus_base_equal_the_models_log_odds(model: ChurnModel) -> None:
    frame, _ = toy_features(50, seed=1)
    contributions = shap_contributions(model, frame)
    assert contributions.values.shape == (50, 4)
    total = contributions.values.sum(axis=1) + contributions.base
    np.testing.assert_allclose(total, model.margin(frame), rtol=1e-5, atol=1e-5)


def test_a_model_boosted_from_a_score_attributes_that_score_to_its_feature() -> None:
    frame, y = toy_features(300, seed=5)
    numeric = ("days_since_last_activity", "orders_total", "spend_total")
    start = BaseMargin.fit(frame, y, ["orders_total"])
    empty = ChurnModel(xgb.Booster(), Calibrator("none"), numeric, {"country": ("DE", "FR", "UK")})
    matrix = xgb.DMatrix(empty.matrix(frame), label=y, enable_categorical=True)
    matrix.set_base_margin(start(frame))
    booster = xgb.train(
        {"max_depth": 2, "seed": 0, "nthread": 1, "objective": "binary:logistic"}, matrix, 10
    )
    model = ChurnModel(booster, Calibrator("none"), numeric, empty.categories, base_margin=start)
    contributions = shap_contributions(model, frame)
    total = contributions.values.sum(axis=1) + contributions.base
    np.testing.assert_allclose(total, model.margin(frame), rtol=1e-5, atol=1e-5)
    orders = contributions.values[:, 1]
    few, many = frame["orders_total"] <= 1, frame["orders_total"] >= 8
    assert orders[few].mean() > 0 > orders[many].mean()  # few orders raise the risk


def test_reasons_are_the_largest_risk_raising_sums_only(
    model: ChurnModel, reasons: CatalogueSpec
) -> None:
    frame, y = toy_features(80, seed=2)
    contributions = shap_contributions(model, frame)
    catalogue = resolve(reasons, CATALOGUE, model.feature_names)
    reference = Reference.from_labelled(frame.assign(churned=y.astype(bool)), FEATURES)
    out = top_reasons(frame, contributions, catalogue, reference)
    sums = reason_sums(contributions, catalogue)
    codes = catalogue.codes
    rates = reference.churn_rate_by_value["country"]
    # a reason quoting the typical value says nothing, one on the side of it that churns less
    # reads backwards (their own tests below)
    shap_frame = contributions.frame(frame.index)
    sums[only_typical(frame, shap_frame, catalogue, reference)] = 0.0
    sums[on_the_safe_side(frame, shap_frame, catalogue, reference)] = 0.0
    for i in range(len(frame)):
        # actionable reasons first, then context (COUNTRY: the country's own reason); a country
        # that churns less than average is never given as raising risk
        lowers = rates[frame["country"].iloc[i]] < reference.overall_churn_rate
        raising = [
            (s, c)
            for s, c in zip(sums[i], codes, strict=True)
            if s > 0 and not (c == "COUNTRY" and lowers)
        ]
        positive = sorted(raising, key=lambda sc: (sc[1] != "COUNTRY", sc[0]), reverse=True)[:3]
        got = [out[f"reason_{k}_code"].iloc[i] for k in (1, 2, 3)]
        got = [None if pd.isna(code) else code for code in got]
        expected = [c for _, c in positive] + [None] * (3 - len(positive))
        assert got == expected
        for k, (s, _) in enumerate(positive, start=1):
            assert out[f"reason_{k}_shap"].iloc[i] == pytest.approx(s)
            assert out[f"reason_{k}_text"].iloc[i]
    assert (out["reason_1_shap"].dropna() > 0).all()


def test_country_reason_is_flagged_not_actionable_and_quotes_churn_rates(
    model: ChurnModel, reasons: CatalogueSpec
) -> None:
    frame, y = toy_features(300, seed=3)
    contributions = shap_contributions(model, frame)
    catalogue = resolve(reasons, CATALOGUE, model.feature_names)
    reference = Reference.from_labelled(frame.assign(churned=y.astype(bool)), FEATURES)
    out = top_reasons(frame, contributions, catalogue, reference)
    country = out[out["reason_1_code"] == "COUNTRY"]
    assert len(country), "FR customers should get the country as a reason"
    assert not country["reason_1_actionable"].any()
    assert country["reason_1_text"].str.contains(r"Country is (?:UK|FR|DE) \(churned at \d+%").all()
    recency = out[out["reason_1_code"] == "RECENCY"]
    assert recency["reason_1_actionable"].all()
    typical = reference.typical["days_since_last_activity"]
    assert (
        recency["reason_1_text"].str.contains(f"typical for active customers: {typical:,.0f}").all()
    )


def _tenure_recency_country() -> tuple[pd.DataFrame, ReasonCatalogue, Reference]:
    records = [
        {"name": "tenure_days", "family": "tenure", "description": "Days as a customer"},
        {"name": "recency", "family": "recency", "description": "Days since"},
        {"name": "country", "family": "attribute", "description": "Country", "kind": "categorical"},
    ]
    names = [r["name"] for r in records]
    catalogue = resolve(default_catalogue(records, names), records, names)
    frame = pd.DataFrame(
        {
            "tenure_days": [30.0, 30.0, 30.0, 30.0],
            "recency": [90.0, 90.0, 90.0, 90.0],
            "country": ["Norway", "Germany", "Norway", "Norway"],
        }
    )
    reference = Reference(
        {"tenure_days": 400.0, "recency": 20.0, "country": "UK"},
        {"country": {"Norway": 0.33, "Germany": 0.6}},
        0.49,
    )
    return frame, catalogue, reference


def test_the_first_reason_is_actionable_and_context_comes_after() -> None:
    frame, catalogue, reference = _tenure_recency_country()
    # log-odds of tenure, recency, country: tenure is the biggest, but nobody can change it
    values = np.array([[1.5, 0.2, 0.0], [1.5, 0.2, 0.9], [0.4, 0.0, 0.0], [-1.0, -0.2, 0.0]])
    out = top_reasons(frame, Contributions(values, 0.0, tuple(frame.columns)), catalogue, reference)
    assert out["reason_1_code"].tolist()[:2] == ["RECENCY", "RECENCY"]
    assert out["reason_1_actionable"].tolist()[:2] == [True, True]
    assert out["reason_2_code"].tolist()[:2] == ["TENURE", "TENURE"]  # context, by size
    assert out.loc[1, "reason_3_code"] == "COUNTRY"  # Germany churns more than average
    # only context raises the risk: it comes first from top_reasons, flagged not actionable ...
    assert (out.loc[2, "reason_1_code"], out.loc[2, "reason_1_actionable"]) == ("TENURE", False)
    assert out.loc[3].isna().all()  # nothing raises the risk
    # ... and on the list it follows the plain statement that there is nothing to act on
    given = with_no_single_driver(out)
    assert given["reason_1_code"].tolist() == ["RECENCY", "RECENCY"] + [NO_SINGLE_DRIVER] * 2
    assert given.loc[2, "reason_2_code"] == "TENURE" and not given.loc[2, "reason_2_actionable"]
    assert given.loc[2, "reason_2_text"] == out.loc[2, "reason_1_text"]
    assert given.loc[2, "reason_2_shap"] == 0.4 and np.isnan(given.loc[2, "reason_1_shap"])
    assert pd.isna(given.loc[3, "reason_2_code"])
    pd.testing.assert_frame_equal(given.loc[:1], out.loc[:1])  # actionable first: unchanged


def test_a_category_that_churns_less_than_average_is_never_a_reason_for_risk() -> None:
    frame, catalogue, reference = _tenure_recency_country()
    values = np.array([[0.0, 0.1, 0.8], [0.0, 0.1, 0.8], [0.0, 0.0, 0.8], [0.0, 0.0, 0.0]])
    out = top_reasons(frame, Contributions(values, 0.0, tuple(frame.columns)), catalogue, reference)
    texts = out[[f"reason_{k}_text" for k in (1, 2, 3)]].fillna("").to_numpy().ravel()
    assert not any("Norway" in t for t in texts)  # 33 % against 49 %: lowers risk on average
    assert out.loc[0, "reason_1_code"] == "RECENCY" and pd.isna(out.loc[0, "reason_2_code"])
    assert out.loc[1, "reason_2_text"] == "Country is Germany (churned at 60% against 49% overall)"
    assert out.loc[2].isna().all()  # Norway was its only risk-raising reason: none is left
    given = with_no_single_driver(out)
    assert given.loc[2, "reason_1_code"] == NO_SINGLE_DRIVER
    assert given.loc[2, "reason_1_text"].startswith("No single driver")
    assert not given.loc[2, "reason_1_actionable"]
    assert given.loc[0, "reason_1_code"] == "RECENCY"  # customers with a reason keep it
    assert out.loc[2].isna().all()  # the input is not changed


def test_a_value_that_is_the_typical_one_is_never_a_reason() -> None:
    """ "Silent for 0 % of the time; typical for active customers: 0 %" gives no reason."""
    frame, catalogue, reference = _tenure_recency_country()
    frame["recency"] = [90.0, 20.0, 20.0, 90.0]  # 20: the typical recency of who stayed
    values = np.array([[0.0, 0.6, 0.0], [0.3, 0.6, 0.0], [0.0, 0.6, 0.0], [0.0, 0.0, 0.0]])
    out = top_reasons(frame, Contributions(values, 0.0, tuple(frame.columns)), catalogue, reference)
    assert out.loc[0, "reason_1_code"] == "RECENCY"
    assert (out.loc[1, "reason_1_code"], pd.isna(out.loc[1, "reason_2_code"])) == ("TENURE", True)
    assert out.loc[2].isna().all()  # its one risk-raising reason said nothing
    texts = out[[f"reason_{k}_text" for k in (1, 2, 3)]].fillna("").to_numpy().ravel()
    assert not any(": 20 days; typical" in t for t in texts)


def test_a_number_on_the_side_of_typical_that_churns_less_is_never_a_reason() -> None:
    """ "Days since: 5; typical 20" when customers under 20 churned at 10 % and those over
    it at 80 % reads backwards, whatever SHAP found through interactions: it is dropped. A
    value on the side that churns more, or without side rates, stays a reason."""
    frame, catalogue, reference = _tenure_recency_country()
    frame["recency"] = [5.0, 90.0, 5.0, 5.0]
    sided = Reference(
        reference.typical,
        reference.churn_rate_by_value,
        reference.overall_churn_rate,
        {"recency": (0.10, 0.80), "tenure_days": (0.70, 0.30)},
    )
    values = np.array([[0.0, 0.6, 0.0], [0.0, 0.6, 0.0], [0.5, 0.6, 0.0], [0.0, 0.0, 0.0]])
    out = top_reasons(frame, Contributions(values, 0.0, tuple(frame.columns)), catalogue, sided)
    assert out.loc[0].isna().all()  # recency 5 < 20, where 10 % churn: no reason is left
    assert out.loc[1, "reason_1_code"] == "RECENCY"  # 90 > 20, where 80 % churn
    # tenure 30 < 400, where 70 % churn: still a reason; recency 5 is not
    assert out.loc[2, "reason_1_code"] == "TENURE" and pd.isna(out.loc[2, "reason_2_code"])
    unsided = top_reasons(
        frame, Contributions(values, 0.0, tuple(frame.columns)), catalogue, reference
    )
    assert unsided.loc[0, "reason_1_code"] == "RECENCY"  # no side rates: nothing to drop on


def test_the_sides_are_compared_with_each_other_not_with_customers_without_the_number() -> None:
    """One-time buyers have no gap between purchases and churn the most: they pull the
    overall rate above both sides of the typical gap. A long gap is still the risky side."""
    frame, catalogue, _ = _tenure_recency_country()
    labelled = pd.DataFrame(
        {
            "tenure_days": 100.0,
            "recency": [0.5, 0.6, 1.0, 1.0, 1.0, 3.0, 4.0, 5.0] + [np.nan] * 8,
            "country": "UK",
            "churned": [False, False, False, False, False, True, False, False] + [True] * 8,
        }
    )
    labelled = pd.concat([labelled] * 15, ignore_index=True)  # 30 rows on the smaller side
    reference = Reference.from_labelled(labelled, ["tenure_days", "recency", "country"])
    assert reference.typical["recency"] == 1.0
    assert reference.churn_rate_by_side["recency"] == (0.0, pytest.approx(1 / 3))
    assert reference.overall_churn_rate == pytest.approx(9 / 16)  # above both sides
    frame["recency"] = [5.0, 0.5, 5.0, 5.0]
    values = np.array([[0.0, 0.6, 0.0], [0.0, 0.6, 0.0], [0.0, 0.6, 0.0], [0.0, 0.0, 0.0]])
    shap = Contributions(values, 0.0, tuple(frame.columns)).frame(frame.index)
    dropped = on_the_safe_side(frame, shap, catalogue, reference)
    recency = catalogue.codes.index("RECENCY")
    assert dropped[:, recency].tolist() == [False, True, False, False]


def test_the_reference_holds_the_churn_rates_on_each_side_of_the_typical_value() -> None:
    labelled = pd.DataFrame(
        {
            "days": [1.0, 2.0, 3.0, 3.0, 8.0, 9.0, np.nan],
            "flag": pd.array([True, False, True, False, True, None, False], dtype="boolean"),
            "churned": [False, False, False, True, True, True, True],
        }
    )
    ref = Reference.from_labelled(pd.concat([labelled] * 30, ignore_index=True), ["days", "flag"])
    assert ref.typical["days"] == 2.0  # the median of who stayed: 1, 2, 3
    below, above = ref.churn_rate_by_side["days"]
    assert below == 0.0 and above == pytest.approx(3 / 4)  # 1 | 3, 3, 8, 9 (NaN on no side)
    assert ref.typical["flag"] == 1.0  # stayed: True, False, True
    below_flag, above_flag = ref.churn_rate_by_side["flag"]
    assert below_flag == pytest.approx(2 / 3) and np.isnan(above_flag)  # False: 1 of 3 stayed
    # a side of fewer than MIN_SIDE_ROWS rows has no rate to drop a reason on: 29 rows below
    few = Reference.from_labelled(pd.concat([labelled] * 29, ignore_index=True), ["days"])
    assert np.isnan(few.churn_rate_by_side["days"][0])
    assert few.churn_rate_by_side["days"][1] == pytest.approx(3 / 4)


def test_reasons_shared_by_everyone_scored_are_never_a_customers_reason() -> None:
    spec = CatalogueSpec.model_validate(
        {
            "version": "t",
            "reasons": [
                {"code": "SEASON", "families": ["season"], "per_customer": False},
                {"code": "OTHER", "families": ["recency"]},
            ],
        }
    )
    catalogue = resolve(
        spec,
        [
            {"name": "m", "family": "season", "description": "month"},
            {"name": "r", "family": "recency", "description": "recency"},
        ],
        ["m", "r"],
    )
    contributions = Contributions(np.array([[2.0, 0.5], [3.0, -1.0]]), 0.0, ("m", "r"))
    frame = pd.DataFrame({"m": [12.0, 12.0], "r": [5.0, 1.0]})
    reference = Reference({"m": 6.0, "r": 3.0}, {}, 0.5)
    out = top_reasons(frame, contributions, catalogue, reference, n_reasons=2)
    assert out["reason_1_code"].iloc[0] == "OTHER" and pd.isna(out["reason_1_code"].iloc[1])
    assert out["reason_2_code"].isna().all()


def test_reference_holds_medians_of_stayers_modes_and_churn_rates() -> None:
    labelled = pd.DataFrame(
        {
            "x": [1.0, 3.0, 100.0, 5.0],
            "c": ["a", "a", "b", "b"],
            "churned": [False, False, True, True],
        }
    )
    ref = Reference.from_labelled(labelled, ["x", "c", "absent"])
    assert ref.typical == {"x": 2.0, "c": "a", "absent": None}
    assert ref.churn_rate_by_value["c"] == {"a": 0.0, "b": 1.0}
    assert ref.overall_churn_rate == 0.5


@pytest.mark.parametrize(
    ("template", "value", "typical", "expected"),
    [
        (
            "No purchase for {value:,.0f} days; typical {typical:,.0f}",
            74.0,
            21.0,
            "No purchase for 74 days; typical 21",
        ),
        ("{value:.0%} vs {typical:.0%}", 0.256, 0.9, "26% vs 90%"),
        ("{feature}: {value:,.0f}", "Month-to-month", None, "Gap days: Month-to-month"),
        ("{value} / {typical}", float("nan"), 2.5, "unknown / 2.50"),
        ("{value} / {typical}", 1234567.0, 0.0123, "1,234,567 / 0.012"),
    ],
)
def test_sentences_format_what_they_can_and_never_fail(
    template: str, value: object, typical: object, expected: str
) -> None:
    (text,) = render_many(
        template, feature="gap_days", values=[value], typical=typical, description="d"
    )
    assert text == expected


def test_built_in_catalogue_covers_every_feature_of_an_event_pipeline() -> None:
    spec = FeatureSpec(
        settings=FeatureSettings(event_types=["purchase", "return"], return_event_types=["return"]),
        activity_event_types=("purchase",),
        event_attributes=("country",),
        has_signup_date=True,
    )
    records = catalogue_records(
        feature_catalogue(spec) + derived_catalogue(calendar=True, bgnbd=True, horizon_days=90)
    )
    names = [r["name"] for r in records]
    catalogue = resolve(default_catalogue(records, names), records, names)
    gathered = [f for r in catalogue.reasons for f in r.features]
    assert sorted(gathered) == sorted(r["name"] for r in records)
    assert len(set(catalogue.codes)) == len(catalogue.codes)


def test_a_feature_no_reason_gathers_is_named(reasons: CatalogueSpec) -> None:
    with pytest.raises(ConfigError, match=r"'mystery': 'astrology'"):
        resolve(
            reasons, [{"name": "mystery", "family": "astrology", "description": "?"}], ["mystery"]
        )


def test_named_features_win_over_their_family() -> None:
    spec = CatalogueSpec.model_validate(
        {
            "version": "t",
            "reasons": [
                {"code": "A", "families": ["f"]},
                {"code": "B", "features": ["y"]},
            ],
        }
    )
    records = [{"name": n, "family": "f", "description": n} for n in ("x", "y")]
    catalogue = resolve(spec, records, ["x", "y"])
    assert {r.code: r.features for r in catalogue.reasons} == {"A": ("x",), "B": ("y",)}


def test_catalogue_errors_name_the_file_and_problem(tmp_path: Path) -> None:
    path = tmp_path / "reasons.yaml"
    path.write_text("version: '1'\nreasons:\n  - code: A\n  - code: A\n")
    with pytest.raises(
        ConfigError, match=r"reasons.yaml: reason codes must be unique; repeated: \['A'\]"
    ):
        load_catalogue(path)
    path.write_text("version: '1'\nreasons:\n  - code: lower\n")
    with pytest.raises(
        ConfigError, match=r"reasons.yaml: invalid reason catalogue: reasons.0.code"
    ):
        load_catalogue(path)
    with pytest.raises(ConfigError, match="not found"):
        load_catalogue(path.with_name("absent.yaml"))


def test_sentences_name_an_active_day_a_purchase_only_where_events_have_amounts(
    tmp_path: Path,
) -> None:
    def recency(spec: CatalogueSpec) -> str:
        return next(r for r in spec.reasons if r.code == "RECENCY").texts[
            "days_since_last_activity"
        ]

    assert recency(load_catalogue()).startswith("No purchase for {value")
    usage = recency(load_catalogue(None, "activity"))
    assert usage.startswith("No activity for {value")
    every = load_catalogue(None, "activity").model_dump_json()
    assert "purchase" not in every.replace("interpurchase", "")
    assert "{activity}" not in every
    own = tmp_path / "reasons.yaml"
    own.write_text("version: '1'\nreasons:\n  - code: A\n    text: 'Last {activity}: {value}'\n")
    assert load_catalogue(own, "activity").reasons[0].text == "Last activity: {value}"

    def events(columns: dict[str, str]) -> DataSettings:
        source = {"path": "x.csv", "columns": {"customer_id": "c", "timestamp": "t", **columns}}
        return DataSettings.model_validate({"kind": "events", "events": {"sources": [source]}})

    assert events({}).active_day_word == "activity"
    assert events({"amount": "total"}).active_day_word == "purchase"
    assert events({"quantity": "q", "unit_price": "p"}).active_day_word == "purchase"


# --------------------------------------------------------------------------- list and budget


def test_risk_tiers_follow_the_configured_thresholds() -> None:
    tiers = risk_tier(np.array([0.1, 0.3, 0.59, 0.6, 0.99]), RiskTiers(high=0.6, medium=0.3))
    assert list(tiers) == ["Low", "Medium", "Medium", "High", "High"]
    with pytest.raises(ValueError, match="must not exceed"):
        RiskTiers(high=0.2, medium=0.5)


def test_risk_tiers_by_percentile_keep_their_share_whatever_the_probabilities() -> None:
    tiers = RiskTiers()  # default: percentile, High = top 20 %, Medium = next 30 %
    assert tiers.method == "percentile"
    p = np.linspace(0.5, 0.99, 100)  # a December: everybody above any absolute threshold
    counts = pd.Series(risk_tier(p, tiers)).value_counts()
    assert (counts["High"], counts["Medium"], counts["Low"]) == (20, 30, 50)
    assert set(np.asarray(risk_tier(p, tiers))[-20:]) == {"High"}  # the riskiest are High
    custom = RiskTiers(high_percent=10, medium_percent=0)
    assert pd.Series(risk_tier(p, custom)).value_counts()["High"] == 10
    # customers with the same probability share a tier; the cut is the nearest to the share
    tied = np.concatenate([np.full(12, 0.9), np.full(10, 0.8), np.linspace(0.1, 0.7, 78)])
    tiers_of = pd.Series(risk_tier(tied, tiers)).value_counts()
    assert (tiers_of["High"], tiers_of["Medium"]) == (22, 28)  # 22 is nearer 20 than 12 is
    assert not riskiest_share(np.full(10, 0.5), 20).any()  # 0 is nearer 2 than 10 is
    assert riskiest_share(np.full(10, 0.5), 60).all()


def test_thresholds_without_a_method_mean_probability_and_mixed_keys_are_refused() -> None:
    assert RiskTiers(high=0.6, medium=0.3).method == "probability"
    with pytest.raises(ValueError, match="high applies only with method 'probability'"):
        RiskTiers(method="percentile", high=0.5)
    with pytest.raises(ValueError, match="high_percent applies only with method 'percentile'"):
        RiskTiers(method="probability", high_percent=10)
    with pytest.raises(ValueError, match="must not exceed 100"):
        RiskTiers(high_percent=60, medium_percent=50)


def test_tier_definition_states_the_rule_and_the_probabilities_it_spans() -> None:
    p = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
    tiers = RiskTiers()
    definition = tier_definition(tiers, p, risk_tier(p, tiers))
    assert definition["method"] == "percentile"
    assert definition["High"] == {
        "rule": "the riskiest 20 % of scored customers (as near as customers with the same "
        "probability, kept together, allow)",
        "min_probability": 0.9,
        "max_probability": 0.95,
    }
    assert definition["Low"]["max_probability"] == 0.5
    text = describe_tiers(definition)
    assert text.startswith("Risk tiers by percentile: High: the riskiest 20 %")
    absolute = RiskTiers(method="probability", high=0.99, medium=0.3)
    nobody = tier_definition(absolute, p, risk_tier(p, absolute))
    assert nobody["High"]["min_probability"] is None
    assert "High: churn probability >= 0.99 (nobody)" in describe_tiers(nobody)


def test_percentile_tiers_that_call_likely_churners_low_are_said_to_mislead() -> None:
    """Where most customers churn (one-time buyers), the remaining half of percentile tiers
    holds customers more likely to leave than stay: a CRM would show them as Low risk."""
    rng = np.random.default_rng(3)
    mostly_gone = rng.uniform(0.55, 0.99, 500)
    tiers = RiskTiers()
    warning = misread_tiers(tier_definition(tiers, mostly_gone, risk_tier(mostly_gone, tiers)))
    assert warning is not None
    assert "Low risk tier reaches a churn probability of 0.77" in warning
    assert "scoring.risk_tiers.method: probability" in warning
    typical = rng.uniform(0.0, 0.6, 500)
    assert misread_tiers(tier_definition(tiers, typical, risk_tier(typical, tiers))) is None
    absolute = RiskTiers(method="probability")
    assert (
        misread_tiers(tier_definition(absolute, mostly_gone, risk_tier(mostly_gone, absolute)))
        is None
    )
    nobody_low = RiskTiers(high_percent=50, medium_percent=50)
    assert (
        misread_tiers(tier_definition(nobody_low, mostly_gone, risk_tier(mostly_gone, nobody_low)))
        is None
    )


def test_risk_percentile_is_100_for_the_riskiest() -> None:
    assert risk_percentile(np.array([0.1, 0.9, 0.5, 0.5])).tolist() == [25.0, 100.0, 75.0, 75.0]


def test_priority_rank_breaks_ties_by_customer_id_not_row_order() -> None:
    ids = pd.Series(["b", "a", "c", "d"])
    ranks = priority_rank(np.array([0.5, 0.5, 0.9, np.nan]), ids)
    assert ranks.tolist() == [3, 2, 1, 4]


def test_outreach_budget_is_top_k_or_top_percent() -> None:
    assert outreach_size(1000, OutreachSettings(top_percent=20)) == 200
    assert outreach_size(999, OutreachSettings(top_percent=20)) == 200
    assert outreach_size(50, OutreachSettings(top_k=80, top_percent=None)) == 50
    with pytest.raises(ValueError, match="exactly one of top_k and top_percent"):
        OutreachSettings(top_k=10, top_percent=5)


def test_control_group_is_stable_per_customer_and_near_the_configured_share() -> None:
    ids = pd.Series([f"cust-{i}" for i in range(20_000)])
    control = control_group(ids, 10.0, "seed")
    assert 0.09 < control.mean() < 0.11
    shuffled = ids.sample(frac=1.0, random_state=1)
    again = pd.Series(control_group(shuffled, 10.0, "seed"), index=shuffled.index)
    assert (again.sort_index().to_numpy() == control).all()
    other_seed = control_group(ids, 10.0, "other")
    assert (other_seed != control).any()
    assert not control_group(ids, 0.0, "seed").any()


def test_detectable_effect_matches_cohens_table_for_two_proportions() -> None:
    # Cohen (1988), table 6.4.1: h = 0.2 needs n = 392 per group (two-sided alpha 0.05,
    # power 0.8), where h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p2)).
    for base in (0.2, 0.5, 0.63):
        mde = detectable_effect(392, 392, base)
        assert mde is not None
        h = 2 * np.arcsin(np.sqrt(base)) - 2 * np.arcsin(np.sqrt(base - mde))
        assert h == pytest.approx(0.2, abs=0.001)
    # the normal-approximation power at that effect is 0.8, with unequal groups too
    base, n1, n2 = 0.6, 87, 780
    mde = detectable_effect(n1, n2, base)
    assert mde is not None
    h = 2 * np.arcsin(np.sqrt(base)) - 2 * np.arcsin(np.sqrt(base - mde))
    z = h / np.sqrt(1 / n1 + 1 / n2)
    power = norm.cdf(z - norm.ppf(0.975)) + norm.cdf(-z - norm.ppf(0.975))
    assert power == pytest.approx(0.8, abs=0.001)
    assert 0.12 < mde < 0.17  # retail's 87 controls: only effects over 12 points show
    assert detectable_effect(0, 100, 0.5) is None
    assert detectable_effect(2, 2, 0.05) is None  # not even a fall to zero is detectable


def test_auto_control_share_detects_the_wanted_effect_and_is_capped() -> None:
    share = control_share_for(0.05, 20_000, 0.4, cap=0.5)
    n_control = round(20_000 * share)
    mde = detectable_effect(n_control, 20_000 - n_control, 0.4)
    assert mde is not None and mde == pytest.approx(0.05, abs=0.0005)
    assert control_share_for(0.05, 800, 0.6, cap=0.5) == 0.5  # too small a slice: the cap
    settings = OutreachSettings(control_percent="auto", min_detectable_effect=0.05)
    assert control_plan(settings, 20_000, 0.4).share == pytest.approx(share)
    assert control_plan(OutreachSettings(control_percent=10), 800, 0.6).share == 0.1
    with pytest.raises(ValueError, match="control_percent"):
        OutreachSettings(control_percent="half")


def test_control_group_takes_the_same_share_of_every_stratum_stably() -> None:
    ids = pd.Series([f"cust-{i}" for i in range(1_000)])
    strata = pd.Series(np.repeat(["High x call", "High x offer", "Medium x call"], [500, 300, 200]))
    control = stratified_control(ids, strata, 0.1, "seed")
    assert control.sum() == 100
    assert pd.Series(control).groupby(strata).sum().tolist() == [50, 30, 20]
    order = np.random.default_rng(0).permutation(1_000)
    again = stratified_control(
        ids.iloc[order].reset_index(drop=True),
        strata.iloc[order].reset_index(drop=True),
        0.1,
        "seed",
    )
    assert set(ids.iloc[order][again]) == set(ids[control])  # row order does not matter
    small = stratified_control(ids[:7], pd.Series(["a", "a", "a", "b", "b", "c", "c"]), 0.3, "s")
    assert small.sum() == 2  # round(7 x 0.3), given to the largest remainders
    assert not stratified_control(ids, strata, 0.0, "seed").any()


def test_an_auto_sized_control_group_is_drawn_within_each_tier_and_action() -> None:
    n = 4_000
    ranked = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "churn_probability": np.full(n, 0.4),
            "risk_tier": np.repeat(["High", "Medium"], n // 2),
            "in_outreach": np.arange(n) < 3_000,
        }
    )
    action = np.tile(np.array(["call", "offer"], dtype=object), n // 2)
    settings = ScoringSettings(
        outreach=OutreachSettings(control_percent="auto", min_detectable_effect=0.06)
    )
    control, power = hold_out_control(ranked, action, settings)
    assert not control[~ranked["in_outreach"]].any()
    share = control_share_for(0.06, 3_000, 0.4, cap=0.5)
    assert power["sizing"] == "auto" and power["control"] == round(3_000 * share)
    assert power["min_detectable_effect_points"] <= 6.0 + 0.05
    inside = ranked[ranked["in_outreach"]].assign(action=action[:3_000], control=control[:3_000])
    by_stratum = inside.groupby(["risk_tier", "action"])["control"].mean()
    assert (by_stratum - share).abs().max() < 1 / 500  # the same share of every stratum


# --------------------------------------------------------------------------- playbook


PLAYBOOK = PlaybookSettings.model_validate(
    {
        "rules": [
            {"action": "service_call", "reasons": ["RETURNS"]},
            {"action": "loyalty_reward", "min_value_percentile": 90},
            {"action": "win_back_offer", "reasons": ["RECENCY"], "min_probability": 0.8},
            {"action": "re_engagement_message", "reasons": ["RECENCY", "FREQUENCY"]},
        ],
        "default_action": "feedback_request",
    }
)


def test_first_matching_playbook_rule_wins() -> None:
    codes = pd.Series(["RETURNS", "RECENCY", "RECENCY", "FREQUENCY", None, "RECENCY"])
    p = np.array([0.9, 0.9, 0.5, 0.5, 0.5, 0.95])
    value = np.array([95.0, 10.0, 10.0, 10.0, 10.0, 99.0])
    assert recommend(codes, p, value, PLAYBOOK).tolist() == [
        "service_call",
        "win_back_offer",
        "re_engagement_message",
        "re_engagement_message",
        "feedback_request",
        "loyalty_reward",
    ]


def test_the_action_follows_the_top_actionable_reason() -> None:
    reasons = pd.DataFrame(
        {
            "reason_1_code": ["TENURE", "RECENCY", "TENURE"],
            "reason_1_actionable": pd.array([False, True, False], dtype="boolean"),
            "reason_2_code": ["FREQUENCY", None, None],
            "reason_2_actionable": pd.array([True, pd.NA, pd.NA], dtype="boolean"),
        }
    )
    top = top_actionable_reason(reasons)
    assert top.iloc[:2].tolist() == ["FREQUENCY", "RECENCY"] and pd.isna(top.iloc[2])


PRICED = PlaybookSettings.model_validate(
    {
        "rules": [
            {"action": "win_back_offer", "reasons": ["RECENCY"], "cost": 20, "effect": 0.3},
            {"action": "re_engagement_message", "reasons": ["RECENCY"], "cost": 1, "effect": 0.1},
            {"action": "service_call", "reasons": ["RETURNS"], "cost": 30, "effect": 0.2},
        ],
        "default_action": "feedback_request",
        "default_cost": 0.5,
        "default_effect": 0.02,
        "default_effect_sd": 0.01,
    }
)


def test_the_action_recommended_is_the_matching_one_that_saves_the_most() -> None:
    codes = pd.Series(["RECENCY", "RECENCY", "RETURNS", None])
    p = np.array([0.5, 0.5, 0.5, 0.5])
    value = np.array([200.0, 50.0, 100.0, 1000.0])
    choice = best_actions(codes, p, np.zeros(4), value, PRICED)
    # 0.5 x 200: offer 0.3 x 100 - 20 = 10 beats message 0.1 x 100 - 1 = 9
    # 0.5 x 50: offer 7.5 - 20 < 0, message 2.5 - 1 = 1.5
    # RETURNS: the call, even at a loss (5 - 30): the only rule that answers the reason
    # no actionable reason: the default, 0.02 x 500 - 0.5 = 9.5
    assert choice.action.tolist() == [
        "win_back_offer",
        "re_engagement_message",
        "service_call",
        "feedback_request",
    ]
    np.testing.assert_allclose(choice.saved, [10.0, 1.5, -20.0, 9.5])
    np.testing.assert_allclose(choice.saved_sd, [0.05 * 100, 0.05 * 25, 0.05 * 50, 0.01 * 500])
    bound = best_actions(None, p, np.zeros(4), value, PRICED).saved  # reasons ignored
    assert (bound >= choice.saved).all()
    np.testing.assert_allclose(bound, [10.0, 1.5, 4.0, 130.0])  # row 3: 0.1 x 50 - 1


def test_the_list_by_value_saved_is_exact_and_contacts_only_where_it_pays(
    model: ChurnModel, reasons: CatalogueSpec
) -> None:
    frame, y = toy_features(400, seed=5)
    catalogue = resolve(reasons, CATALOGUE, model.feature_names)
    reference = Reference.from_labelled(frame.assign(churned=y.astype(bool)), FEATURES)
    playbook = PlaybookSettings.model_validate(
        {
            "rules": [
                {"action": "win_back_offer", "reasons": ["RECENCY"], "cost": 25, "effect": 0.4},
                {"action": "call", "reasons": ["FREQUENCY"], "cost": 5, "effect": 0.05},
            ],
            "default_cost": 3,
            "default_effect": 0.05,
        }
    )
    outreach = OutreachSettings(top_percent=25, control_percent=0)
    kwargs = {
        "catalogue": catalogue,
        "reference": reference,
        "playbook": playbook,
        "identity": ModelIdentity("churn-toy", "7"),
        "scored_at": dt.datetime(2024, 1, 2, tzinfo=dt.UTC),
    }
    listed = score_customers(
        model, frame, frame["spend_total"], settings=ScoringSettings(outreach=outreach), **kwargs
    )
    everyone = score_customers(  # every customer explained: the exact value saved of each
        model,
        frame,
        frame["spend_total"],
        settings=ScoringSettings(outreach=outreach, explain="all"),
        **kwargs,
    )
    s, truth = listed.scores, everyone.scores.set_index("customer_id")
    contacted = s[s["in_outreach"]]
    saved = truth["expected_value_saved"]
    assert 0 < len(contacted) <= 100
    assert (contacted["expected_value_saved"] > 0).all()  # nobody contacted at a loss
    left_out = saved.drop(contacted["customer_id"])
    assert contacted["expected_value_saved"].min() >= left_out.max()  # the best, exactly
    if len(contacted) < 100:  # fewer than the budget: nobody else is worth contacting
        assert left_out.max() <= 0
    np.testing.assert_allclose(
        contacted["expected_value_saved"], saved[contacted["customer_id"]].to_numpy()
    )
    assert set(contacted["recommended_action"]) <= {"win_back_offer", "call", "feedback_request"}
    assert s["priority_rank"].tolist() == list(range(1, 401))
    policies = listed.design["policies"]
    assert set(policies) == {"expected_value_saved", "value_at_risk", "churn_probability"}
    assert policies["expected_value_saved"]["chosen"]
    assert policies["expected_value_saved"]["customers"] == len(contacted)
    assert (
        policies["value_at_risk"]["customers"] == policies["churn_probability"]["customers"] == 100
    )
    top_p = truth["churn_probability"].nlargest(100).index
    assert policies["churn_probability"]["expected_value_saved"] == pytest.approx(
        saved[top_p].sum()
    )
    best = policies["expected_value_saved"]["expected_value_saved"]
    assert best >= policies["value_at_risk"]["expected_value_saved"]
    assert best >= policies["churn_probability"]["expected_value_saved"]


def test_without_a_monetary_value_each_customer_is_worth_1_and_the_log_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="churn")
    assert worth(pd.Series([0.0, np.nan])).tolist() == [1.0, 1.0]
    assert "worth 1" in caplog.text
    assert worth(pd.Series([0.0, np.nan, 5.0])).tolist() == [0.0, 0.0, 5.0]


def test_a_rule_naming_an_unknown_reason_code_is_refused() -> None:
    with pytest.raises(
        ConfigError,
        match=r"playbook.rules\[0\] \(service_call\) names reason code\(s\) \['RETURNS'\]",
    ):
        check_rules(PLAYBOOK, ["RECENCY", "FREQUENCY"], where="params.yaml")


# --------------------------------------------------------------------------- value


def test_recurring_value_is_charge_times_months() -> None:
    frame = pd.DataFrame({"monthly": [10.0, None, 25.5]})
    value = ValueSettings(method="recurring", charge_feature="monthly", months=12)
    assert recurring_value(frame, value).tolist() == [120.0, 0.0, 306.0]
    with pytest.raises(PipelineStateError, match="charge_feature 'absent'"):
        recurring_value(frame, value.model_copy(update={"charge_feature": "absent"}))


def test_purchase_value_is_higher_for_frequent_big_spenders() -> None:
    start = pd.Timestamp("2024-01-01")
    rows = [  # regular buyers: every 1 to 5 weeks, bigger baskets for higher i
        (f"c{i}", str(start + pd.Timedelta(weeks=w)), "purchase", 10.0 + i)
        for i in range(40)
        for w in range(0, 40, 1 + i % 5)
    ]
    rows += [(f"one{i}", "2024-03-01", "purchase", 20.0) for i in range(20)]
    events = events_frame(rows)
    value = purchase_value(events, pd.Timestamp("2024-10-10"), 90)
    assert len(value) == 60
    assert (value >= 0).all()
    assert value["c39"] > value["c34"] > value["one0"]  # same rhythm, bigger spend; one-off

    # c39 sends back everything it bought, c34 half of it: their value is net of returns
    bought = events.groupby("customer_id")["amount"].sum()
    returns = events_frame(
        [
            ("c39", "2024-09-01", "return", -bought["c39"]),
            ("c34", "2024-09-01", "return", -bought["c34"] / 2),
            ("c0", "2024-11-01", "return", -bought["c0"]),  # after the cutoff: not counted
        ]
    )
    net = purchase_value(events, pd.Timestamp("2024-10-10"), 90, returns)
    assert net["c39"] == 0.0
    assert net["c34"] == pytest.approx(value["c34"] / 2)
    assert net["c0"] == pytest.approx(value["c0"])
    assert net["one0"] == pytest.approx(value["one0"])


def test_a_bgnbd_figure_that_is_not_finite_never_reaches_the_list(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Whatever a fitted BG/NBD gives (-inf, NaN), each customer's expected purchases are a
    number: the customer's purchase rate so far stands in where the model's is not finite."""

    class Overflowing(BetaGeoModel):
        def expected_purchases(self, t: Any, frequency: Any, recency: Any, T: Any) -> Any:
            return np.array([-np.inf, np.nan, 2.0])

    model = Overflowing()
    model.r_, model.alpha_, model.a_, model.b_ = 57.0, 75.0, 17_620.0, 1_645_000.0
    summary = pd.DataFrame({"frequency": [3.0, 9.0, 4.0], "recency": 10.0, "T": [20.0, 30.0, 10.0]})
    ahead = _purchases_ahead(summary, 70, model)
    assert np.isfinite(ahead).all()
    np.testing.assert_allclose(ahead, [4 / 20 * 10, 10 / 30 * 10, 2.0])
    assert "no usable expected purchases for 2 of 3 customers" in caplog.text


# --------------------------------------------------------------------------- the whole list


def test_score_customers_builds_the_full_list(model: ChurnModel, reasons: CatalogueSpec) -> None:
    frame, y = toy_features(500, seed=4)
    settings = ScoringSettings(outreach=OutreachSettings(top_percent=10, control_percent=20))
    when = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    result = score_customers(
        model,
        frame,
        frame["spend_total"],
        catalogue=resolve(reasons, CATALOGUE, model.feature_names),
        reference=Reference.from_labelled(frame.assign(churned=y.astype(bool)), FEATURES),
        settings=settings,
        playbook=PLAYBOOK,
        identity=ModelIdentity("churn-toy", "7"),
        scored_at=when,
    )
    s = result.scores
    assert list(s.columns) == score_columns(3)
    assert s["priority_rank"].tolist() == list(range(1, 501))
    assert s["value_at_risk"].is_monotonic_decreasing  # priority: value_at_risk
    np.testing.assert_allclose(s["value_at_risk"], s["churn_probability"] * s["expected_value"])
    assert s["in_outreach"].sum() == 50 and s["in_outreach"].iloc[:50].all()
    assert not (s["control_group"] & ~s["in_outreach"]).any()
    assert (s.loc[s["control_group"], "outreach_status"] == CONTROL).all()
    outside = s[~s["in_outreach"]]
    assert outside["reason_1_code"].isna().all()
    assert (outside["recommended_action"] == "none").all()
    inside = s[s["in_outreach"]]
    assert inside["reason_1_code"].notna().all()  # a reason, or NO_SINGLE_DRIVER
    any_actionable = inside[[f"reason_{k}_actionable" for k in (1, 2, 3)]].fillna(False).any(axis=1)
    assert inside.loc[any_actionable, "reason_1_actionable"].all()
    control = inside[inside["control_group"]]
    assert len(control) == 10  # 20 % of 50, the same share of each risk tier x action
    assert (control["recommended_action"] == "none").all()  # nobody may act on a control row
    assert (
        inside.loc[~inside["control_group"], "recommended_action"]
        .isin(
            [
                "service_call",
                "loyalty_reward",
                "win_back_offer",
                "re_engagement_message",
                "feedback_request",
            ]
        )
        .all()
    )
    assert (s["scored_at"] == "2024-01-02T03:04:05Z").all()
    assert (s["model_name"] == "churn-toy").all() and (s["model_version"] == "7").all()
    assert len(result.contributions.values) == 50

    everyone = score_customers(
        model,
        frame,
        frame["spend_total"],
        catalogue=resolve(reasons, CATALOGUE, model.feature_names),
        reference=Reference.from_labelled(frame.assign(churned=y.astype(bool)), FEATURES),
        settings=settings.model_copy(update={"explain": "all"}),
        playbook=PLAYBOOK,
        identity=ModelIdentity("churn-toy", "7"),
        scored_at=when,
    )
    others = everyone.scores[~everyone.scores["control_group"]]
    assert others["recommended_action"].ne("none").all()
    power = result.design["control_group"]
    assert (power["control"], power["contacted"], power["sizing"]) == (10, 40, "configured")
    assert power["base_churn_rate"] == pytest.approx(inside["churn_probability"].mean())
    mde = detectable_effect(10, 40, power["base_churn_rate"])
    assert power["min_detectable_effect_points"] == pytest.approx(100 * mde, abs=0.01)
    pd.testing.assert_frame_equal(
        everyone.scores[s["in_outreach"].to_numpy()].reset_index(drop=True),
        s[s["in_outreach"]].reset_index(drop=True),
    )


def _one_reason_each(
    features: dict[str, str],
    frame: pd.DataFrame,
    reference: Reference,
    spec: CatalogueSpec | None = None,
) -> pd.DataFrame:
    """top_reasons where every customer's single risk-raising feature is the first column
    (reasons of ``spec``, the built-in catalogue by default)."""
    spec = load_catalogue() if spec is None else spec
    names = list(features)
    records = [
        {"name": n, "family": f, "description": n.replace("_", " ")} for n, f in features.items()
    ]
    catalogue = resolve(spec, records, names)
    values = np.zeros((len(frame), len(names)))
    values[:, 0] = 1.0
    contributions = Contributions(values, 0.0, tuple(names))
    return top_reasons(frame, contributions, catalogue, reference, n_reasons=1)


def test_planned_action_keeps_a_control_rows_would_be_action(
    model: ChurnModel, reasons: CatalogueSpec
) -> None:
    frame, y = toy_features(500, seed=4)

    def scored(control_percent: float) -> pd.DataFrame:
        outreach = OutreachSettings(top_percent=10, control_percent=control_percent)
        return score_customers(
            model,
            frame,
            frame["spend_total"],
            catalogue=resolve(reasons, CATALOGUE, model.feature_names),
            reference=Reference.from_labelled(frame.assign(churned=y.astype(bool)), FEATURES),
            settings=ScoringSettings(outreach=outreach),
            playbook=PLAYBOOK,
            identity=ModelIdentity("churn-toy", "7"),
            scored_at=dt.datetime(2024, 1, 2, tzinfo=dt.UTC),
        ).scores.set_index("customer_id")

    held, nobody_held = scored(20), scored(0)
    assert not nobody_held["control_group"].any()
    # the action each customer would get with no control group at all: the pre-control action
    pd.testing.assert_series_equal(
        held["planned_action"],
        nobody_held["recommended_action"].loc[held.index],
        check_names=False,
    )
    control = held[held["control_group"]]
    assert len(control) == 10
    assert (control["recommended_action"] == "none").all()  # nobody may act on it
    assert (
        control["planned_action"]
        .isin([r.action for r in PLAYBOOK.rules] + ["feedback_request"])
        .all()
    )
    contacted = held[held["in_outreach"] & ~held["control_group"]]
    assert (contacted["planned_action"] == contacted["recommended_action"]).all()
    assert (held.loc[~held["in_outreach"], "planned_action"] == "none").all()


def test_a_one_time_buyers_gap_reasons_read_naturally_not_unknown() -> None:
    frame = pd.DataFrame({"overdue_ratio": [np.nan, 3.0], "gap_std_days": [np.nan, 4.0]})
    reference = Reference({"overdue_ratio": 1.2, "gap_std_days": 9.0}, {}, 0.3)
    recency = _one_reason_each(
        {"overdue_ratio": "recency", "gap_std_days": "interpurchase"}, frame, reference
    )
    texts = recency["reason_1_text"].tolist()
    assert texts[0].startswith("Only one active day so far") and "unknown" not in texts[0]
    assert texts[1].startswith("Time since the last purchase is 3.0 times")
    gaps = _one_reason_each(
        {"gap_std_days": "interpurchase", "overdue_ratio": "recency"}, frame, reference
    )
    assert gaps["reason_1_text"].iloc[0].startswith("Fewer than three active days")
    assert "unknown" not in " ".join(gaps["reason_1_text"])


def test_a_churn_rate_sentence_quotes_flags_and_reads_measurements_plainly() -> None:
    """A catalogue's sentence with {value_churn_rate} (a user's own may gather attributes into
    one reason with it) quotes a flag's churn rate, and a measurement with too many values for
    rates reads plainly beside the typical value."""
    spec = CatalogueSpec.model_validate(
        {
            "version": "t",
            "reasons": [
                {
                    "code": "PROFILE",
                    "families": ["attribute"],
                    "actionable": False,
                    "text": "{description}: {value} (churned at {value_churn_rate:.0%} against "
                    "{overall_churn_rate:.0%} overall)",
                }
            ],
        }
    )
    labelled = pd.DataFrame(
        {
            "senior": [0, 0, 1, 1, 0, 1],
            "charges": [10.5, 20.25, 30.75, 40.5, 50.25, 60.75],
            "churned": [False, False, True, False, False, True],
        }
    )
    reference = Reference.from_labelled(labelled, ["senior", "charges"])
    assert reference.churn_rate_by_value["senior"] == {"0": 0.0, "1": pytest.approx(2 / 3)}
    frame = pd.DataFrame({"senior": [1.0], "charges": [99.0]})
    flag = _one_reason_each({"senior": "attribute", "charges": "attribute"}, frame, reference, spec)
    assert flag["reason_1_text"].iloc[0] == "senior: 1 (churned at 67% against 33% overall)"
    measurement = _one_reason_each(
        {"charges": "attribute", "senior": "attribute"}, frame, reference, spec
    )
    assert measurement["reason_1_text"].iloc[0] == (
        "charges: 99; typical for active customers: 30.38"
    )


def _terminal_list() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["b", "a", "c", "d"],
            "churn_probability": [0.5, 0.91234, 0.1, 0.7],
            "risk_tier": ["Medium", "High", "Low", "High"],
            "value_at_risk": [1234.5, 10.0, float("nan"), 3.0],
            "priority_rank": [2, 1, 3, 4],
            "outreach_status": ["outreach", "outreach", "not in outreach", "control"],
            "recommended_action": ["loyalty_reward", "service_call", None, None],
            "reason_1_text": ["x" * 100, "short", None, None],
        }
    )


def test_the_list_in_a_terminal_is_ranked_and_cut_to_top() -> None:
    from churn.scoring.listing import WIDEST_REASON, top_cells  # noqa: PLC0415

    titles, rows = top_cells(_terminal_list(), top=2)
    assert titles == [
        "rank",
        "customer",
        "P(churn)",
        "tier",
        "value at risk",
        "status",
        "action",
        "first reason",
    ]
    assert rows[0][:5] == ["1", "a", "0.91", "High", "10.00"]
    assert rows[1][:5] == ["2", "b", "0.50", "Medium", "1,234.50"]
    assert rows[1][-1] == "x" * (WIDEST_REASON - 1) + "…"
    assert len(rows) == 2


def test_the_list_is_filtered_by_tier_action_and_status_whatever_the_case() -> None:
    from churn.scoring.listing import select  # noqa: PLC0415

    scores = _terminal_list()
    assert select(scores, where="x", tier=" high ")["customer_id"].tolist() == ["a", "d"]
    assert select(scores, where="x", tier="HIGH", status="control")["customer_id"].tolist() == ["d"]
    assert select(scores, where="x", action="service_call")["customer_id"].tolist() == ["a"]
    assert select(scores, where="x", tier=None).equals(scores)


def test_a_filter_no_customer_matches_names_the_values_the_list_has() -> None:
    from churn.scoring.listing import select  # noqa: PLC0415

    with pytest.raises(ConfigError) as info:
        select(_terminal_list(), where="data/scored/p/scores.parquet", tier="hihg")
    message = str(info.value)
    assert "data/scored/p/scores.parquet" in message and "--tier 'hihg'" in message
    assert "['High', 'Low', 'Medium']" in message
    with pytest.raises(ConfigError, match="column outreach_status"):
        select(_terminal_list().drop(columns="outreach_status"), where="x", status="control")


def test_purchase_value_falls_back_to_each_customers_rate_when_bgnbd_cannot_be_fitted(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A BG/NBD likelihood that cannot be maximised (short, sparse histories) gives a cruder
    value with a warning, never a stopped run."""
    from churn.modeling.clv import BetaGeoModel  # noqa: PLC0415

    def no_maximum(*args: object, **kwargs: object) -> None:
        raise RuntimeError("BetaGeoModel.fit did not converge")

    start = pd.Timestamp("2024-01-01")
    rows = [
        (f"c{i}", str(start + pd.Timedelta(weeks=w)), "purchase", 10.0 + i)
        for i in range(40)
        for w in range(0, 40, 1 + i % 5)
    ]
    events = events_frame(rows)
    monkeypatch.setattr(BetaGeoModel, "fit", no_maximum)
    with caplog.at_level("WARNING", logger="churn"):
        value = purchase_value(events, pd.Timestamp("2024-10-10"), 90)
    assert "BG/NBD could not be fitted" in caplog.text
    assert np.isfinite(value).all() and (value > 0).all()
    assert value["c35"] > value["c39"]  # weekly beats every five weeks at similar spend


def test_a_baseline_that_cannot_be_fitted_is_left_out_not_fatal() -> None:
    from churn.modeling.baselines import BaselineInputs, baseline_probabilities  # noqa: PLC0415

    def fine(inputs: BaselineInputs) -> Callable[[pd.DataFrame], np.ndarray]:
        return lambda rows: np.full(len(rows), 0.5)

    def broken(inputs: BaselineInputs) -> Callable[[pd.DataFrame], np.ndarray]:
        raise RuntimeError("BetaGeoModel.fit did not converge")

    empty = pd.DataFrame({"x": [1.0, 2.0]})
    inputs = BaselineInputs(empty, empty, None, 30)
    scores, skipped = baseline_probabilities({"flat": fine, "bgnbd": broken}, inputs, empty)
    assert list(scores) == ["flat"] and scores["flat"].tolist() == [0.5, 0.5]
    assert skipped == {"bgnbd": "BetaGeoModel.fit did not converge"}


def test_one_of_a_thing_is_written_in_the_singular() -> None:
    """ "No activity for 1 days" reached the CRM files of a weekly usage log."""
    said = render_many(
        "No activity for {value:.0f} days; typical for active customers: {typical:.0f} days",
        feature="days_since_last_activity",
        values=[1, 11, 21, 2],
        typical=1,
        description="",
    )
    assert said == [
        "No activity for 1 day; typical for active customers: 1 day",
        "No activity for 11 days; typical for active customers: 1 day",
        "No activity for 21 days; typical for active customers: 1 day",
        "No activity for 2 days; typical for active customers: 1 day",
    ]
