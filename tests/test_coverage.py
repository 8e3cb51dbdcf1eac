"""A payment that says how long it pays for (KKBox's ``membership_expire_date``, a Stripe
invoice's period end, an annual plan's paid-through date), mapped as ``covered_until``: the
customer is still one while paid up, whatever the days since the payment say. Before it, a
member who paid once for a 410-day plan read "No purchase for 379 days" and was labelled
churned while still paid up."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from churn.data.contract import canonical_events, clean_event_chunk
from churn.data.notes import SourceNotes, source_warnings
from churn.data.problems import Problems
from churn.errors import ContractViolation
from churn.features import FeatureSpec, build_features, feature_catalogue
from churn.labels import build_labels, labels_sql
from churn.settings import EventsSettings, FeatureSettings, SourceSettings
from tests.conftest import events_frame, label_settings

NOW = dt.datetime(2026, 1, 1)
CUTOFF = "2024-03-01"
"""The cutoff of the label tests; with the horizon of 30 days its window ends on 2024-03-31."""


def paid(rows: list[tuple[str, str, str, str | None]]) -> pd.DataFrame:
    """Canonical events from (customer, day, event type, covered_until) tuples."""
    events = events_frame([(c, ts, kind, 9.99) for c, ts, kind, _ in rows])
    until = pd.to_datetime([r[3] for r in rows], format="ISO8601")
    return events.assign(covered_until=until.astype("datetime64[us]"))


MEMBERS = paid(
    [
        # one payment 379 days before the cutoff for a 410-day plan: paid up to 2024-04-01
        ("annual", "2023-02-16", "purchase", "2024-04-01"),
        # a month paid for, ending inside the window, never renewed
        ("lapses", "2024-02-10", "purchase", "2024-03-10"),
        # the same month, renewed inside the window
        ("renews", "2024-02-10", "purchase", "2024-03-10"),
        ("renews", "2024-03-09", "purchase", "2024-04-09"),
        # paid up to the last day of the window, not past it: churned
        ("to_last_day", "2024-02-01", "purchase", "2024-03-30"),
        # paid up to the day after the window: still a customer
        ("past_window", "2024-02-01", "purchase", "2024-03-31"),
        # coverage that ended long ago: as before coverage existed
        ("long_gone", "2022-01-01", "purchase", "2022-02-01"),
        # a cancellation row whose expiry lies far ahead covers nobody: not activity
        ("cancelled", "2024-01-05", "purchase", "2024-02-05"),
        ("cancelled", "2024-02-01", "cancel", "2030-01-01"),
        # a purchase without a paid period (a one-off), bought long ago
        ("one_off", "2023-06-01", "purchase", None),
    ]
)


def labels(events: pd.DataFrame, *, covered: bool, **overrides: object) -> pd.DataFrame:
    cutoffs = pd.DataFrame(
        {"cutoff": [dt.date.fromisoformat(CUTOFF)], "split": ["test"], "observed": [True]}
    )
    out = build_labels(events, cutoffs, label_settings(**overrides), covered=covered)
    return out.set_index("customer_id")


def test_a_member_paid_up_through_the_window_is_no_churner() -> None:
    out = labels(MEMBERS, covered=True)
    churned = out["churned"].astype(bool).to_dict()
    assert churned == {
        "annual": False,
        "lapses": True,
        "renews": False,
        "to_last_day": True,
        "past_window": False,
        "long_gone": True,
        "cancelled": True,
        "one_off": True,
    }
    # read as plain purchases, the annual member and the one paid past the window churn
    before = labels(MEMBERS, covered=False)["churned"].astype(bool)
    assert before["annual"] and before["past_window"]


def test_a_member_covered_at_the_cutoff_is_eligible_however_old_the_payment() -> None:
    out = labels(MEMBERS, covered=True, max_inactive_days=90)
    assert "annual" in out.index and not out.loc["annual", "churned"]
    assert "long_gone" not in out.index and "one_off" not in out.index  # gone, as before
    assert "annual" not in labels(MEMBERS, covered=False, max_inactive_days=90).index


def test_either_churn_keeps_a_cancellation_a_churn_while_paid_up() -> None:
    """A cancellation inside the window is churn under ``either`` even while paid up: the
    member said they leave."""
    events = paid(
        [
            ("annual", "2023-06-01", "purchase", "2024-06-01"),
            ("annual", "2024-03-05", "cancel", "2024-06-01"),
            ("stays", "2023-06-01", "purchase", "2024-06-01"),
        ]
    )
    churns = events.loc[events["event_type"] == "cancel", ["customer_id", "ts"]]
    cutoffs = pd.DataFrame(
        {"cutoff": [dt.date.fromisoformat(CUTOFF)], "split": ["test"], "observed": [True]}
    )
    out = build_labels(
        events, cutoffs, label_settings(churn_definition="either"), churns, covered=True
    ).set_index("customer_id")
    assert out["churned"].astype(bool).to_dict() == {"annual": True, "stays": False}


def test_without_coverage_the_labels_query_is_the_one_before_it() -> None:
    settings = label_settings(max_inactive_days=90)
    assert "covered" not in labels_sql(settings)
    assert "covered_until" in labels_sql(settings, covered=True)


SPEC = FeatureSpec(
    settings=FeatureSettings(windows_days=[7, 30], trend_window_days=7),
    activity_event_types=("purchase",),
    covered=True,
)


def features_at(events: pd.DataFrame, cutoff: str, spec: FeatureSpec = SPEC) -> pd.DataFrame:
    ids = sorted(events["customer_id"].unique())
    pairs = pd.DataFrame({"customer_id": ids, "cutoff": pd.Timestamp(cutoff).as_unit("us")}).astype(
        {"customer_id": object}
    )
    return build_features(events, pairs, spec).set_index("customer_id")


def test_coverage_features_say_how_long_the_customer_is_paid_up() -> None:
    out = features_at(MEMBERS, CUTOFF)
    left, plan = out["coverage_days_left"], out["coverage_plan_days"]
    assert (left["annual"], plan["annual"]) == (31, 410)
    assert (left["lapses"], plan["lapses"]) == (9, 29)
    assert (left["long_gone"], plan["long_gone"]) == (-759, 31)
    assert left["cancelled"] == -25  # the cancellation's far expiry is no payment's
    assert pd.isna(left["one_off"]) and pd.isna(plan["one_off"])
    names = [f.name for f in feature_catalogue(SPEC)]
    assert names[-2:] == ["coverage_days_left", "coverage_plan_days"]
    plain = FeatureSpec(settings=SPEC.settings, activity_event_types=("purchase",))
    assert not {"coverage_days_left", "coverage_plan_days"} & {
        f.name for f in feature_catalogue(plain)
    }


def test_no_row_at_or_after_the_cutoff_changes_the_coverage_features() -> None:
    later = paid(
        [
            # a renewal on the cutoff's day and one after it, each paying far ahead
            ("lapses", CUTOFF, "purchase", "2026-01-01"),
            ("lapses", "2024-03-20 10:00", "purchase", "2027-01-01"),
            # a first payment of a plan after the cutoff
            ("one_off", "2024-03-02", "purchase", "2025-03-02"),
            ("annual", "2024-03-01 23:59", "purchase", "2024-03-05"),
        ]
    )
    with_later = pd.concat([MEMBERS, later], ignore_index=True).sort_values(
        ["customer_id", "ts"], kind="stable", ignore_index=True
    )
    before = features_at(MEMBERS, CUTOFF)
    after = features_at(with_later, CUTOFF)
    pd.testing.assert_frame_equal(after.loc[before.index], before)
    # the next day's cutoff sees the renewal of the cutoff's day
    assert features_at(with_later, "2024-03-02").loc["lapses", "coverage_days_left"] == 670


def test_ties_on_one_day_give_the_plan_of_the_payment_covering_longest() -> None:
    """Two payments on one day (KKBox writes dates without a time): the latest plan is the one
    that covers longest, on every engine alike, not whichever row comes first."""
    events = paid(
        [
            ("twice", "2024-02-01", "purchase", "2024-03-01"),
            ("twice", "2024-02-01", "purchase", "2024-05-01"),
        ]
    )
    out = features_at(events, CUTOFF)
    assert out.loc["twice", "coverage_plan_days"] == 90
    assert out.loc["twice", "coverage_days_left"] == 61


def kkbox_source(**overrides: object) -> SourceSettings:
    return SourceSettings.model_validate(
        {
            "path": "transactions.csv",
            "columns": {
                "customer_id": "msno",
                "timestamp": "transaction_date",
                "amount": "actual_amount_paid",
                "event_type": "is_cancel",
                "covered_until": "membership_expire_date",
            },
            "timestamp_format": "%Y%m%d",
            **overrides,
        }
    )


KKBOX_ROWS = pd.DataFrame(
    {
        "msno": ["a", "a", "b"],
        "transaction_date": [20170101, 20170201, 20170115],
        "actual_amount_paid": [149, 149, 1788],
        "is_cancel": [0, 1, 0],
        # the cancellation ends the membership before its own transaction date, as KKBox does
        "membership_expire_date": [20170201, 20170131, 20180301],
    }
)


def test_covered_until_is_read_with_the_timestamp_s_format_and_carried_into_the_events() -> None:
    src = kkbox_source()
    events, _ = canonical_events([(src, KKBOX_ROWS)], EventsSettings(sources=[src]), now=NOW)
    assert list(events.columns[:8]) == [
        "customer_id",
        "ts",
        "event_type",
        "amount",
        "quantity",
        "order_id",
        "product_id",
        "covered_until",
    ]
    assert events["covered_until"].dtype == "datetime64[us]"
    assert events["covered_until"].tolist() == list(
        pd.to_datetime(["2017-02-01", "2017-01-31", "2018-03-01"])
    )
    plain = SourceSettings.model_validate(
        {**kkbox_source().model_dump(), "columns": {"customer_id": "msno", "timestamp": "t"}}
    )
    none, _ = canonical_events(
        [(plain, KKBOX_ROWS.rename(columns={"transaction_date": "t"}))],
        EventsSettings(sources=[plain]),
        now=NOW,
    )
    assert "covered_until" not in none.columns


def test_a_row_covered_until_before_it_happened_is_kept_and_said() -> None:
    src = kkbox_source()
    notes = SourceNotes()
    frame, _ = clean_event_chunk(
        KKBOX_ROWS,
        src,
        EventsSettings(sources=[src]),
        Problems(),
        now=NOW,
        attributes=[],
        notes=notes,
    )
    assert frame is not None and len(frame) == 3
    warning = " ".join(source_warnings(src, notes, EventsSettings(sources=[src])))
    assert "'membership_expire_date' (covered_until): 1 row(s)" in warning


def test_an_unreadable_covered_until_names_the_file_column_and_values() -> None:
    src = kkbox_source()
    broken = KKBOX_ROWS.assign(membership_expire_date=["20170201", "2017-13-45", "soon"])
    with pytest.raises(ContractViolation) as caught:
        canonical_events([(src, broken)], EventsSettings(sources=[src]), now=NOW)
    text = str(caught.value)
    assert "transactions.csv" in text and "membership_expire_date" in text
    assert "unparseable covered_until" in text and "'soon'" in text and "%Y%m%d" in text


def test_covered_until_has_a_format_of_its_own_when_written_otherwise() -> None:
    src = kkbox_source(covered_until_format="%d/%m/%Y")
    dated = KKBOX_ROWS.assign(membership_expire_date=["01/02/2017", "31/01/2017", "01/03/2018"])
    events, _ = canonical_events([(src, dated)], EventsSettings(sources=[src]), now=NOW)
    assert events["covered_until"].max() == pd.Timestamp("2018-03-01")
