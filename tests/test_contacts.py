"""Past retention contacts: the contract's contacts table and each contact's outcome."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from pydantic import ValidationError

from churn.campaigns.outcomes import contact_outcomes
from churn.data.contract import canonical_contacts
from churn.errors import ContractViolation
from churn.settings import ContactsSettings, DataSettings, SourceSettings


def contacts_settings(**columns: str) -> ContactsSettings:
    mapping = {"customer_id": "cust", "timestamp": "sent", "action": "offer", "control": "group"}
    return ContactsSettings(
        sources=[SourceSettings(path="contacts.csv", columns={**mapping, **columns})]
    )


def raw_contacts(**extra: list[object]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cust": ["A", "B", "C", "D"],
            "sent": ["2024-03-01", "2024-03-01 10:30", "2024-03-01", "2024-04-01"],
            "offer": ["discount", " call ", None, "discount"],
            "group": ["Contacted", "control", "HOLDOUT", "treatment"],
            **extra,
        }
    )


def test_contacts_map_onto_the_canonical_table() -> None:
    settings = contacts_settings()
    out = canonical_contacts([(settings.sources[0], raw_contacts())], settings)
    assert list(out.columns) == ["customer_id", "ts", "action", "control", "channel", "cost"]
    by_id = out.set_index("customer_id")
    assert by_id["control"].to_dict() == {"A": False, "B": True, "C": True, "D": False}
    assert by_id.loc["B", "action"] == "call"  # trimmed; a control row keeps its would-be action
    assert pd.isna(by_id.loc["C", "action"])  # a control row without one
    assert by_id.loc["B", "ts"] == pd.Timestamp("2024-03-01 10:30")
    assert out["ts"].is_monotonic_increasing
    assert out["cost"].isna().all() and out["channel"].isna().all()


def test_boolean_and_numeric_control_flags_read_as_flags() -> None:
    settings = contacts_settings()
    bools = raw_contacts().assign(group=[False, True, True, False])
    out = canonical_contacts([(settings.sources[0], bools)], settings)
    assert out.set_index("customer_id")["control"].tolist() == [False, True, True, False]
    numbers = raw_contacts().assign(group=[0, 1, 1, 0])
    out = canonical_contacts([(settings.sources[0], numbers)], settings)
    assert out.set_index("customer_id")["control"].tolist() == [False, True, True, False]


def test_without_a_control_column_every_row_was_contacted() -> None:
    settings = ContactsSettings(
        sources=[SourceSettings(path="c.csv", columns={"customer_id": "cust", "timestamp": "sent"})]
    )
    out = canonical_contacts([(settings.sources[0], raw_contacts())], settings)
    assert not out["control"].any()
    assert out["action"].isna().all()


def test_every_bad_value_is_named_with_its_file_and_column() -> None:
    settings = contacts_settings(cost="price")
    bad = raw_contacts(price=["1", "-2", "x", None]).assign(
        group=["contacted", "maybe", "control", "contacted"],
        sent=["2024-03-01", "yesterday", "2024-03-01", "2024-04-01"],
    )
    with pytest.raises(ContractViolation) as caught:
        canonical_contacts([(settings.sources[0], bad)], settings)
    text = str(caught.value)
    assert "contacts.csv" in text
    assert "'group'" in text or "group" in text
    assert "maybe" in text  # the unknown control flag, quoted
    assert "yesterday" in text  # the unparseable date
    assert "'x'" in text or "x" in text  # the cost that is not a number
    assert "-2" in text or "at least 0" in text  # a negative cost
    assert "data.contacts" in text


def test_settings_refuse_unknown_columns_and_snapshots() -> None:
    with pytest.raises(ValidationError, match="unknown contract column"):
        contacts_settings(segment="seg")
    with pytest.raises(ValidationError, match="must map"):
        ContactsSettings(sources=[SourceSettings(path="c.csv", columns={"customer_id": "c"})])
    with pytest.raises(ValidationError, match="share"):
        ContactsSettings(
            sources=[SourceSettings(path="c.csv", columns={"customer_id": "c", "timestamp": "t"})],
            control_values=["yes"],
            contacted_values=["YES "],
        )
    snapshot = {"source": {"path": "s.csv", "columns": {"label": "churn"}}}
    contacts = {"sources": [{"path": "c.csv", "columns": {"customer_id": "c", "timestamp": "t"}}]}
    with pytest.raises(ValidationError, match="needs kind 'events'"):
        DataSettings.model_validate(
            {"kind": "snapshot", "snapshot": snapshot, "contacts": contacts}
        )


def _labels(pairs: pd.DataFrame) -> pd.DataFrame:
    """The pairs of customers A, B, C (eligible at every day); A churns, B and C stay."""
    eligible = pairs[pairs["customer_id"].isin(["A", "B", "C"])]
    return eligible.assign(churned=eligible["customer_id"].eq("A"))


def _canonical(rows: list[tuple[str, str, str | None, bool]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "ts": pd.to_datetime([r[1] for r in rows], format="ISO8601"),
            "action": [r[2] for r in rows],
            "control": [r[3] for r in rows],
            "channel": None,
            "cost": float("nan"),
        }
    )


def test_outcomes_come_from_the_labels_at_each_contacts_day() -> None:
    contacts = _canonical(
        [
            ("A", "2024-03-01 09:00", "call", False),
            ("B", "2024-03-01 17:00", None, True),
            ("Z", "2024-03-01", "call", False),  # not eligible that day
            ("C", "2024-05-20", "call", False),  # its window has not passed
        ]
    )
    asked: list[pd.DataFrame] = []

    def labels_at(pairs: pd.DataFrame) -> pd.DataFrame:
        asked.append(pairs)
        return _labels(pairs)

    out = contact_outcomes(contacts, labels_at, data_end=dt.date(2024, 6, 1), horizon_days=28)
    # only the contacts whose window passed, once each
    assert len(asked) == 1 and asked[0]["customer_id"].tolist() == ["A", "B", "Z"]
    assert asked[0]["cutoff"].eq(pd.Timestamp("2024-03-01")).all()
    assert out.frame["customer_id"].tolist() == ["A", "B"]
    assert out.frame["churned"].tolist() == [True, False]
    assert out.frame["cutoff"].eq(pd.Timestamp("2024-03-01")).all()
    assert (out.contacts, out.waiting, out.not_eligible) == (4, 1, 1)
    assert out.known_from == dt.date(2024, 6, 17)
    assert out.summary()["with_outcome"] == 2


def test_no_contact_with_a_known_outcome_gives_an_empty_frame() -> None:
    contacts = _canonical([("A", "2024-05-20", "call", False)])
    out = contact_outcomes(contacts, _labels, data_end=dt.date(2024, 6, 1), horizon_days=28)
    assert out.frame.empty and list(out.frame.columns)[-1] == "churned"
    assert out.waiting == 1


def test_a_list_knows_only_the_outcomes_whose_window_ended_before_it() -> None:
    contacts = _canonical([("A", "2024-03-01", "call", False), ("B", "2024-04-01", "call", True)])
    out = contact_outcomes(contacts, _labels, data_end=dt.date(2024, 6, 1), horizon_days=28)
    assert out.known_by(dt.date(2024, 3, 29))["customer_id"].tolist() == ["A"]
    assert out.known_by(dt.date(2024, 3, 28)).empty
    assert len(out.known_by(dt.date(2024, 6, 1))) == 2


def test_held_out_campaigns_are_the_test_period_and_fitting_stops_before_them() -> None:
    from churn.campaigns.uplift_training import held_out_split  # noqa: PLC0415

    days = pd.Series(pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"]))
    fit, held = held_out_split(days, test_cutoff=dt.date(2024, 3, 1), horizon_days=28)
    assert held.tolist() == [False, False, True, True]
    assert fit.tolist() == [True, True, False, False]  # 02-01 + 28 d = 02-29 <= 03-01
    fit, held = held_out_split(days, test_cutoff=dt.date(2024, 3, 1), horizon_days=40)
    assert fit.tolist() == [True, False, False, False]  # 02-01's window runs into March
    fit, held = held_out_split(days, test_cutoff=dt.date(2025, 1, 1), horizon_days=28)
    assert held.tolist() == [False, False, False, True]  # none after the test: the last quarter


def test_a_list_uses_only_an_uplift_model_whose_outcomes_it_could_know() -> None:
    from churn.campaigns.uplift import UpliftModel  # noqa: PLC0415
    from churn.campaigns.uplift_training import KNOWN_BY, usable_at  # noqa: PLC0415

    def model(known_by: str) -> UpliftModel:
        return UpliftModel({}, {}, (), {}, {KNOWN_BY: known_by})

    served, held_out = model("2024-12-31"), model("2024-11-01")
    assert usable_at([served, held_out], dt.date(2025, 1, 1)) is served
    assert usable_at([served, held_out], dt.date(2024, 11, 1)) is held_out
    assert usable_at([served, held_out], dt.date(2024, 10, 1)) is None


def test_an_uplift_model_is_used_only_when_it_beats_the_risk_ranking() -> None:
    from churn.campaigns.uplift_training import beats_risk  # noqa: PLC0415

    def judged(uplift: float, risk: float) -> dict[str, object]:
        return {
            "evaluated": True,
            "rankings": {"uplift": {"qini": uplift}, "churn_probability": {"qini": risk}},
        }

    assert beats_risk(judged(0.02, 0.01))[0] is True
    used, why = beats_risk(judged(0.01, 0.02))
    assert used is False and "did not beat" in why
    assert beats_risk(judged(-0.01, -0.02))[0] is False  # worse than random targeting
    assert beats_risk({"evaluated": False, "reason": "no campaign"})[0] is False
    # a lead the paired bootstrap cannot tell from chance is not enough
    chance = {
        **judged(0.02, 0.01),
        "qini_vs_risk": {"confidence": 0.9, "low": -0.004, "high": 0.02},
    }
    used, why = beats_risk(chance)
    assert used is False and "not by more than chance" in why
    real = {**judged(0.02, 0.01), "qini_vs_risk": {"confidence": 0.9, "low": 0.002, "high": 0.02}}
    assert beats_risk(real)[0] is True
