"""Point-in-time labels on tiny hand-made histories."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from churn.errors import LabelError
from churn.labels import (
    build_labels,
    cutoff_table,
    observed_until,
    schedule_dates,
    snapshot_labels,
)
from churn.settings import CutoffSchedule, SnapshotLabelSettings
from tests.conftest import events_frame, label_settings

D = dt.date


def labels_at(
    events: pd.DataFrame, cutoff: str, churns: pd.DataFrame | None = None, **overrides: object
) -> pd.DataFrame:
    settings = label_settings(**overrides)
    cutoffs = pd.DataFrame(
        {"cutoff": [D.fromisoformat(cutoff)], "split": ["test"], "observed": [True]}
    )
    return build_labels(events, cutoffs, settings, churns).set_index("customer_id")


def test_monthly_schedule_and_explicit_dates() -> None:
    monthly = CutoffSchedule(start="2010-03-10", end="2011-06-10", every_months=1)
    dates = schedule_dates(monthly)
    assert dates[0] == D(2010, 3, 10) and dates[-1] == D(2011, 6, 10) and len(dates) == 16
    assert schedule_dates(CutoffSchedule(dates=["2024-02-01", "2024-01-01"])) == [
        D(2024, 1, 1),
        D(2024, 2, 1),
    ]


def test_window_edges_are_half_open() -> None:
    events = events_frame(
        [
            ("at_cutoff", "2024-02-28 10:00", "purchase", 1),  # before c: eligible
            ("at_cutoff", "2024-03-01 00:00", "purchase", 1),  # exactly at c: inside the window
            ("at_end", "2024-02-10", "purchase", 1),
            ("at_end", "2024-03-31 00:00", "purchase", 1),  # c + 30 days: outside the window
            ("last_moment", "2024-02-10", "purchase", 1),
            ("last_moment", "2024-03-30 23:59:59", "purchase", 1),  # last second of the window
        ]
    )
    out = labels_at(events, "2024-03-01")
    assert not out.loc["at_cutoff", "churned"]
    assert out.loc["at_end", "churned"]
    assert not out.loc["last_moment", "churned"]


def test_only_customers_active_before_the_cutoff_are_eligible() -> None:
    events = events_frame(
        [
            ("old", "2024-01-05", "purchase", 1),
            ("new", "2024-03-01 00:00", "purchase", 1),  # first purchase at the cutoff
            ("browser", "2024-01-05", "visit", 0),  # no qualifying activity
        ]
    )
    out = labels_at(events, "2024-03-01")
    assert list(out.index) == ["old"]


def test_max_inactive_days_drops_long_gone_customers() -> None:
    events = events_frame(
        [
            ("recent", "2024-02-20", "purchase", 1),
            ("gone", "2023-01-01", "purchase", 1),
        ]
    )
    out = labels_at(events, "2024-03-01", max_inactive_days=365)
    assert list(out.index) == ["recent"]
    everyone = labels_at(events, "2024-03-01")
    assert sorted(everyone.index) == ["gone", "recent"]


def test_explicit_churn_labels_and_eligibility() -> None:
    events = events_frame(
        [
            ("stays", "2024-02-01", "login", 0),
            ("cancels", "2024-02-01", "login", 0),
            ("cancelled_before", "2024-01-01", "login", 0),
        ]
    )
    churns = pd.DataFrame(
        {
            "customer_id": ["cancels", "cancelled_before"],
            "ts": pd.to_datetime(["2024-03-10", "2024-01-15"]).astype("datetime64[us]"),
        }
    )
    out = labels_at(
        events,
        "2024-03-01",
        activity_event_types=["login"],
        churn_definition="explicit",
        churns=churns,
    )
    assert sorted(out.index) == ["cancels", "stays"]
    assert out.loc["cancels", "churned"] and not out.loc["stays", "churned"]


def test_unobserved_cutoff_is_scorable_without_label() -> None:
    events = events_frame([("a", "2023-12-05", "purchase", 1), ("a", "2024-05-20", "purchase", 1)])
    settings = label_settings()
    table = cutoff_table(settings, observed_until(events))
    assert observed_until(events) == D(2024, 5, 21)
    score = table.set_index("split").loc["score"]
    assert score["cutoff"] == D(2024, 5, 21) and not score["observed"]
    out = build_labels(events, table, settings)
    scored = out[out["split"] == "score"]
    assert len(scored) == 1 and scored["churned"].isna().all()
    assert out.loc[out["split"] == "test", "churned"].notna().all()


def test_split_roles() -> None:
    events = events_frame([("a", "2024-01-05", "purchase", 1), ("a", "2024-06-01", "purchase", 1)])
    table = cutoff_table(label_settings(), observed_until(events))
    assert table["split"].tolist() == ["train", "purged", "valid", "test", "score"]


def test_training_windows_overlapping_validation_are_purged() -> None:
    events = events_frame([("a", "2024-01-05", "purchase", 1), ("a", "2024-09-01", "purchase", 1)])
    settings = label_settings(
        horizon_days=45,
        train_cutoffs=CutoffSchedule(start="2024-01-01", end="2024-04-01"),
        test_cutoff="2024-06-01",
    )
    table = cutoff_table(settings, observed_until(events)).set_index("cutoff")["split"]
    assert table[D(2024, 2, 1)] == "train"  # window ends 03-17, before the validation cutoff
    assert table[D(2024, 3, 1)] == "purged"  # window ends 04-15, after it
    assert table[D(2024, 4, 1)] == "valid"


def test_training_window_into_test_period_is_refused() -> None:
    settings = label_settings(test_cutoff="2024-03-15")
    with pytest.raises(LabelError, match=r"runs past test_cutoff 2024-03-15"):
        cutoff_table(settings, D(2024, 12, 31))


def test_test_window_past_the_data_is_refused() -> None:
    with pytest.raises(LabelError, match=r"last day of data is 2024-04-09"):
        cutoff_table(label_settings(), D(2024, 4, 10))


def test_no_eligible_customers_is_an_error() -> None:
    events = events_frame([("a", "2024-05-01", "purchase", 1), ("a", "2024-06-01", "purchase", 1)])
    table = cutoff_table(label_settings(), observed_until(events))
    with pytest.raises(LabelError, match="No eligible customers"):
        build_labels(events, table, label_settings())


def test_documented_end_of_data_overrides_the_last_event() -> None:
    events = events_frame([("a", "2024-01-05", "purchase", 1), ("a", "2024-04-20", "purchase", 1)])
    assert observed_until(events, D(2024, 4, 30)) == D(2024, 5, 1)
    with pytest.raises(LabelError, match="before the last event"):
        observed_until(events, D(2024, 4, 1))


# ---- a snapshot's split placed by the md5 of each id (labels.split: hash) -----------------------


def _snapshot(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = [f"{i:07d}" for i in range(n)]
    ids[:4] = ["o'brien", 'say "hi"', "zoë", "12697"]
    return pd.DataFrame({"customer_id": ids, "churned": rng.random(n) < 0.25})


def _hash_settings(**extra: object) -> SnapshotLabelSettings:
    return SnapshotLabelSettings.model_validate(
        {"snapshot_date": "2024-06-30", "split": "hash", **extra}
    )


def test_a_hash_split_places_each_customer_by_its_id_about_in_the_asked_shares() -> None:
    snapshot = _snapshot(20_000)
    settings = _hash_settings(test_fraction=0.2, valid_fraction=0.25)
    labels = snapshot_labels(snapshot, settings)
    shares = labels["split"].value_counts(normalize=True)
    assert shares["test"] == pytest.approx(0.2, abs=0.01)
    assert shares["valid"] == pytest.approx(0.8 * 0.25, abs=0.01)
    rest = labels[labels["split"] != "test"]
    assert (labels.loc[labels["split"] == "test", "fold"] == -1).all()
    assert rest["fold"].value_counts(normalize=True).between(0.19, 0.21).all()  # 5 folds
    rates = labels.groupby("split")["churned"].mean()
    assert (rates - snapshot["churned"].mean()).abs().max() < 0.02  # about stratified
    # a customer keeps its place whatever else the snapshot holds, and in any row order
    again = snapshot_labels(snapshot.iloc[::-3], settings)
    again = again.set_index("customer_id")
    first = labels.set_index("customer_id").loc[again.index]
    assert (again["split"] == first["split"]).all() and (again["fold"] == first["fold"]).all()
    other = snapshot_labels(snapshot, _hash_settings(seed=7))
    assert (other["split"] != labels["split"]).mean() > 0.2
    assert list(labels.columns) == ["customer_id", "cutoff", "churned", "split", "fold"]
    assert labels.dtypes.equals(
        snapshot_labels(snapshot, _hash_settings(split="stratified")).dtypes
    )
