"""The two pipeline kinds behind one interface, on tiny hand-made tables held in memory: the
same contract for both, and the events kind's point-in-time guarantee."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from churn.data.snapshot import canonical_snapshot
from churn.engines import Table
from churn.errors import ConfigError
from churn.io.customer_sample import CustomerSample, place
from churn.kinds import Kind, kind_of
from churn.kinds.events import EventsKind
from churn.kinds.snapshot import SnapshotKind
from churn.labels import build_labels
from churn.modeling.training_data import FeatureColumns
from churn.settings import PipelineSettings, ValueSettings, load_settings
from tests._project import orders, params
from tests.conftest import events_frame

ROOT = Path(__file__).resolve().parents[1]
KEYS = ["customer_id", "cutoff"]
SCORE_AT = dt.date(2024, 3, 1)


@dataclass(frozen=True)
class Frames:
    """Canonical tables held in memory (the test seam of :class:`churn.kinds.Canonical`)."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    def frame(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def optional(self, name: str, sample: CustomerSample | None = None) -> pd.DataFrame | None:
        table = self.tables.get(name)
        if table is None or sample is None:
            return table
        return table[sample.keeps(table["customer_id"])].reset_index(drop=True)

    def events(self) -> Table:
        return self.tables["events"]


def shop_orders() -> pd.DataFrame:
    """A and B buy all along, C stops in the summer of 2023, D starts late; ten regulars
    and the 40 synthetic customers of the test shop (the CLV model needs ten buyers)."""
    shop = orders(n_customers=40)
    rows = [
        ("S" + c, w, "purchase", t)
        for c, w, t in zip(shop["cust"], shop["when"], shop["total"], strict=True)
    ]
    for month in range(1, 19):
        day = pd.Timestamp("2023-01-05") + pd.DateOffset(months=month - 1)
        rows.append(("A", f"{day:%Y-%m-%d} 10:00", "purchase", 20.0 + month))
        if month % 2:
            rows.append(("B", f"{day:%Y-%m-%d} 15:30", "purchase", 55.0))
        if month <= 7:
            rows.append(("C", f"{day:%Y-%m-%d} 09:00", "purchase", 12.5))
        if month >= 10:
            rows.append(("D", f"{day:%Y-%m-%d} 18:45", "purchase", 8.0 * month))
    return events_frame(rows)


def events_settings() -> PipelineSettings:
    values = params()
    values["labels"]["max_inactive_days"] = 180
    return PipelineSettings.model_validate({"name": "shop", **values})


def snapshot_settings() -> PipelineSettings:
    return load_settings(ROOT, "telco")


def telco_rows(settings: PipelineSettings, n: int = 40) -> pd.DataFrame:
    assert settings.data.snapshot is not None
    raw = pd.read_csv(ROOT / "data/raw/telco/WA_Fn-UseC_-Telco-Customer-Churn.csv", dtype=str)
    return canonical_snapshot(raw.head(n), settings.data.snapshot)


def events_case() -> tuple[Kind, Frames]:
    return kind_of(events_settings()), Frames({"events": shop_orders()})


def snapshot_case() -> tuple[Kind, Frames]:
    settings = snapshot_settings()
    return kind_of(settings), Frames({"snapshot": telco_rows(settings)})


CASES = {"events": events_case, "snapshot": snapshot_case}


def test_kind_of_picks_the_implementation_the_labels_name() -> None:
    assert isinstance(kind_of(events_settings()), EventsKind)
    assert isinstance(kind_of(snapshot_settings()), SnapshotKind)


# ---- one contract, run over every implementation ----------------------------------------------


@pytest.mark.parametrize("case", sorted(CASES))
def test_features_have_one_row_per_labelled_pair_and_a_catalogue_entry_per_column(
    case: str,
) -> None:
    kind, tables = CASES[case]()
    labels = kind.labels(tables)
    assert not labels.empty and not labels.duplicated(KEYS).any()
    features = kind.features(tables, labels)
    pd.testing.assert_frame_equal(
        features[KEYS].reset_index(drop=True), labels[KEYS].reset_index(drop=True)
    )
    names = {f.name for f in kind.catalogue(features)}
    assert names == set(features.columns) - set(KEYS)


@pytest.mark.parametrize("case", sorted(CASES))
def test_population_is_one_row_per_eligible_customer_with_a_value_each(case: str) -> None:
    kind, tables = CASES[case]()
    population = kind.population(tables, SCORE_AT)
    features = population.features
    assert len(features) > 0 and features["customer_id"].is_unique
    assert (pd.to_datetime(features["cutoff"]).dt.date == population.cutoff).all()
    value = population.expected_value.to_numpy()
    assert len(value) == len(features) and np.isfinite(value).all() and (value >= 0).all()


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_score_cutoff_is_where_a_population_without_a_cutoff_is_scored(case: str) -> None:
    kind, tables = CASES[case]()  # a --cutoff before it is back-dated (churn score)
    assert kind.score_cutoff(tables) == kind.population(tables, None).cutoff


@pytest.mark.parametrize("case", sorted(CASES))
def test_baselines_and_backtest_cover_the_labelled_rows(case: str) -> None:
    kind, tables = CASES[case]()
    baselines = kind.baselines(tables, FeatureColumns(numeric=["tenure_months"], categorical=[]))
    assert baselines.makers and all(callable(m) for m in baselines.makers.values())
    inputs = baselines.inputs(pd.DataFrame(), pd.DataFrame())
    assert inputs.purchases is baselines.purchases
    assert inputs.horizon_days == baselines.horizon_days


# ---- events --------------------------------------------------------------------------------


def test_events_population_is_the_customers_active_before_the_cutoff_and_not_churned() -> None:
    kind, tables = events_case()
    population = kind.population(tables, SCORE_AT)
    # C's last purchase was in July 2023, over max_inactive_days (180) before the cutoff
    assert {"A", "B", "D"} <= set(population.features["customer_id"])
    assert "C" not in set(population.features["customer_id"])
    assert population.cutoff == SCORE_AT


def test_no_event_at_or_after_the_cutoff_changes_the_features() -> None:
    kind, tables = events_case()
    before = kind.population(tables, SCORE_AT).features
    orders = tables.frame("events")
    later = events_frame(
        [
            ("A", "2024-03-01 00:00", "purchase", 999.0),  # at the cutoff itself
            ("B", "2024-03-02 12:00", "purchase", 500.0),
            ("D", "2024-05-20 08:00", "purchase", 1.0),
            ("E", "2024-03-03 08:00", "purchase", 70.0),  # a customer new after the cutoff
        ]
    )
    more = Frames({"events": pd.concat([orders, later], ignore_index=True)})
    after = kind.population(more, SCORE_AT).features
    pd.testing.assert_frame_equal(after, before)


def test_events_value_is_the_clv_unless_a_recurring_charge_is_set() -> None:
    kind, tables = events_case()
    features = kind.population(tables, SCORE_AT).features
    clv = kind.expected_value(tables, features, SCORE_AT)
    assert clv.index.equals(features.index) and (clv > 0).any()


def test_purchases_whose_days_each_hold_one_without_an_amount_are_valued_0_and_said(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A listening log typed like the payments (KKBox's user logs beside its transactions):
    every purchase day holds a row without an amount, so no day's spend is known."""
    kind, tables = events_case()
    events = tables.tables["events"]
    usage = events.assign(amount=np.nan)
    mixed = Frames({"events": pd.concat([events, usage], ignore_index=True)})
    features = kind.population(mixed, SCORE_AT).features
    value = kind.expected_value(mixed, features, SCORE_AT)
    assert (value == 0).all()
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("purchase_event_types" in m and "valued 0" in m for m in said), said


def test_events_realised_evaluates_only_lists_whose_outcome_is_known() -> None:
    kind, tables = events_case()
    scored = pd.DataFrame(
        {
            "customer_id": ["A", "B", "C"],
            "churn_probability": [0.1, 0.4, 0.9],
            "in_outreach": [False, True, True],
            "model_name": "m",
            "model_version": "1",
        }
    )
    read: list[dt.date] = []

    def reader(cutoff: dt.date) -> Any:
        def read_list() -> pd.DataFrame:
            read.append(cutoff)
            return scored

        return read_list

    known, waiting = dt.date(2023, 9, 1), dt.date(2024, 6, 1)
    out = kind.realised(tables, {known: reader(known), waiting: reader(waiting)})
    assert [e["cutoff"] for e in out["evaluated"]] == ["2023-09-01"]
    assert out["not_yet_known"] == [{"cutoff": "2024-06-01", "known_from": "2024-07-31"}]
    assert read == [known]  # a list still waiting for its outcome is never read


def test_events_backfill_cutoffs_come_from_the_monitoring_settings() -> None:
    values = {"name": "shop", **params(), "monitoring": {"backfill_cutoffs": ["2024-01-01"]}}
    kind = kind_of(PipelineSettings.model_validate(values))
    assert kind.backfill_cutoffs() == (dt.date(2024, 1, 1),)


# ---- snapshot ------------------------------------------------------------------------------


def test_the_tenure_baseline_follows_the_declared_role_not_a_column_name() -> None:
    kind, tables = snapshot_case()  # telco declares data.snapshot.tenure_attribute
    columns = FeatureColumns(numeric=["tenure_months"], categorical=[])
    assert set(kind.baselines(tables, columns).makers) == {"logistic_onehot", "tenure"}
    settings = snapshot_settings()
    assert settings.data.snapshot is not None
    undeclared = settings.model_copy(
        update={
            "data": settings.data.model_copy(
                update={
                    "snapshot": settings.data.snapshot.model_copy(update={"tenure_attribute": None})
                }
            )
        }
    )
    assert set(kind_of(undeclared).baselines(tables, columns).makers) == {"logistic_onehot"}


def test_snapshot_population_is_its_current_customers_at_the_snapshot_date() -> None:
    kind, tables = snapshot_case()
    snapshot = tables.frame("snapshot")
    population = kind.population(tables, dt.date(2001, 1, 1))  # a snapshot has one date
    current = snapshot.loc[~snapshot["churned"].astype(bool), "customer_id"]
    assert list(population.features["customer_id"]) == list(current)
    assert isinstance(kind, SnapshotKind)
    assert population.cutoff == kind.labs.snapshot_date


def test_snapshot_has_no_clv_no_backfill_and_no_later_outcome() -> None:
    settings = snapshot_settings()
    clv = settings.scoring.model_copy(
        update={"value": settings.scoring.value.model_copy(update={"method": "clv"})}
    )
    kind = kind_of(settings.model_copy(update={"scoring": clv}))
    tables = Frames({"snapshot": telco_rows(settings)})
    with pytest.raises(ConfigError, match="'clv' needs purchase events"):
        kind.population(tables, None)
    assert kind.backfill_cutoffs() == ()
    assert kind.realised(tables, {})["evaluated"] == []
    assert kind.activity(tables) is None


def test_a_snapshot_without_a_charge_is_worth_nothing_rather_than_refused() -> None:
    settings = snapshot_settings()  # telco's params set method: recurring; leave it unset
    scoring = settings.scoring.model_copy(update={"value": ValueSettings()})
    kind = kind_of(settings.model_copy(update={"scoring": scoring}))
    tables = Frames({"snapshot": telco_rows(settings)})
    population = kind.population(tables, None)
    assert len(population.features) > 0
    assert list(population.expected_value) == [0.0] * len(population.features)


def test_tenure_is_the_declared_attribute_of_a_snapshot_and_nothing_for_events() -> None:
    assert snapshot_case()[0].tenure_column() == ("tenure_months", 30.4)
    assert events_case()[0].tenure_column() is None


def test_contact_outcomes_label_the_contacted_alone_and_a_sample_keeps_its_customers() -> None:
    """Past contacts are labelled by the labels query restricted to the contacted pairs (the
    labels of customers never contacted are never made): the same outcomes as joining them to
    every eligible customer's labels; with a driver sample, those of its customers alone."""
    kind, frames = events_case()
    assert isinstance(kind, EventsKind)
    events = frames.tables["events"]
    ids = sorted(events["customer_id"].unique())
    days = ["2023-09-01 10:00", "2024-01-02 16:00"]
    rows = [(c, d) for i, c in enumerate(ids) for d in days if i % 3 != 1]
    rows += [("never-seen", days[0]), (ids[0], "2023-09-01 18:00")]  # unknown; twice a day
    contacts = pd.DataFrame(
        {
            "customer_id": [c for c, _ in rows],
            "ts": pd.to_datetime([d for _, d in rows]),
            "action": "call",
            "control": [i % 4 == 0 for i in range(len(rows))],
            "channel": None,
            "cost": float("nan"),
        }
    )
    tables = Frames({"events": events, "contacts": contacts})
    out = kind.contact_outcomes(tables)
    assert out is not None and len(out.frame) > 10

    cut = pd.DataFrame(
        {"cutoff": [dt.date(2023, 9, 1), dt.date(2024, 1, 2)], "split": "contact", "observed": True}
    )
    everyone = build_labels(events, cut, kind.labs)
    expected = (
        contacts.assign(cutoff=contacts["ts"].dt.normalize())
        .drop_duplicates(["customer_id", "cutoff"], keep="last")
        .merge(everyone[["customer_id", "cutoff", "churned"]], on=["customer_id", "cutoff"])
        .sort_values(["cutoff", "customer_id"])
    )
    assert len(everyone) > len(expected)  # the uncontacted third was labelled there, not here
    pd.testing.assert_frame_equal(
        out.frame[["customer_id", "cutoff", "churned"]].reset_index(drop=True),
        expected[["customer_id", "cutoff", "churned"]]
        .astype({"churned": bool})
        .reset_index(drop=True),
        check_dtype=False,
    )
    assert out.not_eligible == out.contacts - len(expected) > 1  # never-seen, lapsed, not yet

    threshold = sorted(place(str(c)) for c in ids)[len(ids) // 2]
    sample = CustomerSample(threshold, len(ids) // 2 + 1, len(ids))
    sampled = kind.contact_outcomes(tables, sample)
    assert sampled is not None
    kept = out.frame[sample.keeps(out.frame["customer_id"])].reset_index(drop=True)
    assert 0 < len(kept) < len(out.frame)
    pd.testing.assert_frame_equal(sampled.frame, kept)
