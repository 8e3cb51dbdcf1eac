"""An events pipeline's attributes (a customers table's plan, contract, country; the events'
latest attributes) get one reason each from the built-in catalogue, as a snapshot's do: coded
from the attribute's name, actionable unless the name says who or where the customer is or how
long they have been one. Before, they were all one reason, PROFILE, never actionable, so a
joined plan could never lead a customer's reasons nor pick an action."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.campaigns.uplift_drivers import playbook_drivers
from churn.errors import ConfigError
from churn.features import FeatureSpec, catalogue_records, feature_catalogue
from churn.features.derived import derived_catalogue
from churn.scoring.explain import Contributions, Reference, top_reasons
from churn.scoring.playbook import check_rules, recommend, top_actionable_reason
from churn.scoring.reasons import CatalogueSpec, load_catalogue, pipeline_catalogue, resolve
from churn.settings import FeatureSettings, PlaybookSettings

CUSTOMERS = ("plan", "Country", "Contract Type", "support tier", "monthly_fee", "tenure", "spend")
"""A customers table's columns: three an agent can change, a place, a fee, and two whose codes
the built-in catalogue already has (TENURE, SPEND)."""
TEXT = ("plan", "Country", "Contract Type", "support tier")


def events_records() -> list[dict[str, str]]:
    """The feature catalogue of an events pipeline joined to :data:`CUSTOMERS`, as the
    features stage writes it, with one attribute of the events themselves (``channel``)."""
    spec = FeatureSpec(
        settings=FeatureSettings(event_types=["purchase", "return"], return_event_types=["return"]),
        activity_event_types=("purchase",),
        event_attributes=("channel",),
        customer_attributes=CUSTOMERS,
        text_customer_attributes=TEXT,
        has_signup_date=True,
    )
    return catalogue_records(
        feature_catalogue(spec) + derived_catalogue(calendar=True, bgnbd=True, horizon_days=90)
    )


def events_catalogue(
    path: Path | None = None,
) -> tuple[CatalogueSpec, list[dict[str, str]], list[str]]:
    """The catalogue :func:`events_records` explain with (``path``: the user's own), the
    records and the model's features (all of them)."""
    records = events_records()
    names = [r["name"] for r in records]
    return pipeline_catalogue(records, names, path), records, names


def test_each_attribute_of_an_events_pipeline_has_its_own_reason() -> None:
    spec, records, names = events_catalogue()
    codes = [r.code for r in spec.reasons]
    assert "PROFILE" not in codes
    own = {r.code: (r.features, r.actionable) for r in spec.reasons if r.features}
    assert own == {
        "CHANNEL": (["channel"], True),
        "PLAN": (["plan"], True),
        "COUNTRY": (["Country"], False),  # where the customer is: context
        "CONTRACT_TYPE": (["Contract Type"], True),
        "SUPPORT_TIER": (["support tier"], True),
        "MONTHLY_FEE": (["monthly_fee"], True),
        "TENURE_2": (["tenure"], False),  # the built-in TENURE keeps its meaning
        "SPEND_2": (["spend"], True),
    }
    built_in = [r.code for r in load_catalogue().reasons]
    assert codes[: len(built_in)] == built_in  # the behaviour reasons come first, unchanged
    assert len(set(codes)) == len(codes)
    catalogue = resolve(spec, records, names)
    gathered = [f for r in catalogue.reasons for f in r.features]
    assert sorted(gathered) == sorted(names)
    by_code = {r.code: r.features for r in catalogue.reasons}
    assert "days_since_last_activity" in by_code["RECENCY"]
    assert "days_since_signup" in by_code["TENURE"]
    assert "tenure" not in by_code["TENURE"] and "spend" not in by_code["SPEND"]


def test_attribute_sentences_take_the_snapshots_shapes() -> None:
    spec, _, _ = events_catalogue()
    text = {r.code: r.text for r in spec.reasons}
    assert text["PLAN"].startswith("{feature} is {value} (churned at {value_churn_rate")
    assert text["MONTHLY_FEE"] == (
        "{feature} is {value} (typical for customers who stay: {typical})"
    )


PLAN_PLAYBOOK = PlaybookSettings.model_validate(
    {
        "rules": [
            {"action": "plan_review", "reasons": ["PLAN", "CONTRACT_TYPE"]},
            {"action": "re_engagement_message", "reasons": ["RECENCY"]},
        ],
        "default_action": "feedback_request",
    }
)


def _plan_country_recency() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Four customers of an events pipeline: reasons from plan, country, monthly fee and
    recency, and their contributions (log-odds)."""
    spec, records, _ = events_catalogue()
    names = ["days_since_last_activity", "plan", "Country", "monthly_fee"]
    catalogue = resolve(spec, records, names)
    frame = pd.DataFrame(
        {
            "days_since_last_activity": [90.0, 90.0, 90.0, 90.0],
            "plan": ["Basic", "Basic", "Premium", "Basic"],
            "Country": ["Ruritania", "Ruritania", "Ruritania", "Ruritania"],
            "monthly_fee": [80.0, 80.0, 80.0, 40.0],
        }
    )
    reference = Reference(
        {"days_since_last_activity": 20.0, "plan": "Premium", "Country": "X", "monthly_fee": 40.0},
        {"plan": {"Basic": 0.6, "Premium": 0.2}, "Country": {"Ruritania": 0.7, "X": 0.3}},
        0.4,
        {"days_since_last_activity": (0.2, 0.6), "monthly_fee": (0.3, 0.5)},
    )
    values = np.array(
        [
            [0.2, 1.0, 2.0, 0.0],  # plan beats recency; the country is bigger but context
            [0.9, 0.1, 2.0, 0.0],  # recency beats plan
            [0.2, 1.0, 2.0, 0.0],  # Premium churns less than average: no plan reason
            [0.0, 0.0, 0.0, 0.5],  # the typical fee: nothing to say
        ]
    )
    out = top_reasons(frame, Contributions(values, 0.0, tuple(names)), catalogue, reference)
    return out, frame


def test_a_joined_plan_leads_the_reasons_and_the_country_follows_as_context() -> None:
    out, _ = _plan_country_recency()
    assert out["reason_1_code"].tolist()[:3] == ["PLAN", "RECENCY", "RECENCY"]
    assert out.loc[0, "reason_1_actionable"]
    assert out.loc[0, "reason_1_text"] == "Plan is Basic (churned at 60% against 40% overall)"
    assert (out.loc[0, "reason_2_code"], out.loc[0, "reason_3_code"]) == ("RECENCY", "COUNTRY")
    assert not out.loc[0, "reason_3_actionable"]
    assert out.loc[0, "reason_3_text"] == (
        "Country is Ruritania (churned at 70% against 40% overall)"
    )
    assert out.loc[1, "reason_2_code"] == "PLAN"
    codes = out[[f"reason_{k}_code" for k in (1, 2, 3)]]
    assert not (codes.loc[2] == "PLAN").any()  # Premium lowers risk on average
    assert out.loc[3].isna().all()  # 40 is the typical fee


def test_a_playbook_rule_naming_an_attribute_code_picks_its_action() -> None:
    spec, records, names = events_catalogue()
    check_rules(PLAN_PLAYBOOK, [r.code for r in spec.reasons], where="params.yaml")
    out, _ = _plan_country_recency()
    top = top_actionable_reason(out)
    actions = recommend(top, np.full(4, 0.5), np.full(4, 50.0), PLAN_PLAYBOOK)
    assert actions.tolist() == [
        "plan_review",
        "re_engagement_message",
        "re_engagement_message",
        "feedback_request",
    ]
    drivers = playbook_drivers(PLAN_PLAYBOOK, resolve(spec, records, names))
    assert drivers["plan_review"] == {"PLAN": ("plan",), "CONTRACT_TYPE": ("Contract Type",)}


def test_a_rule_naming_the_retired_profile_says_what_became_of_it() -> None:
    spec, _, _ = events_catalogue()
    playbook = PlaybookSettings.model_validate(
        {"rules": [{"action": "plan_review", "reasons": ["PROFILE"]}]}
    )
    with pytest.raises(ConfigError, match=r"\['PROFILE'\].*'PLAN'.*never matched anyone"):
        check_rules(playbook, [r.code for r in spec.reasons], where="params.yaml")


def test_a_users_own_catalogue_is_read_as_written(tmp_path: Path) -> None:
    own = tmp_path / "reasons.yaml"
    own.write_text(
        'version: "mine-1"\nreasons:\n'
        "  - code: BEHAVIOUR\n"
        "    families: [recency, frequency, trend, interpurchase, monetary, returns, event_mix,\n"
        "               diversity, bgnbd, tenure, season]\n"
        "  - code: PROFILE\n    families: [attribute]\n    actionable: false\n"
    )
    spec, records, names = events_catalogue(own)
    assert [(r.code, r.actionable) for r in spec.reasons] == [
        ("BEHAVIOUR", True),
        ("PROFILE", False),
    ]
    catalogue = resolve(spec, records, names)
    assert set(catalogue.reasons[1].features) == {"channel", *CUSTOMERS}
    check_rules(
        PlaybookSettings.model_validate({"rules": [{"action": "a", "reasons": ["PROFILE"]}]}),
        catalogue.codes,
        where="params.yaml",
    )
