"""Cancellations that live in the event log itself (``data.events.churn_event_types``): an app's
"Cancellation Confirmation" page, a billing system's "subscription_cancelled" event. Ingest
writes them to the churn events table, beside any churn events file; ``churn init`` finds
them in the whole event type column, even when they are too rare for its sample."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from churn.cli import app
from churn.errors import ConfigError
from churn.init.event_kinds import cancellation_types, return_types
from churn.settings import load_settings
from tests.test_init import init, project, written


def app_log(n_users: int, seed: int) -> pd.DataFrame:
    """Daily visits; a third of the users cancel (two events, as a web app logs it) and stop."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        day = pd.Timestamp("2023-01-01") + pd.Timedelta(days=int(rng.integers(0, 30)))
        stop = pd.Timestamp("2024-06-30")
        cancel = day + pd.Timedelta(days=int(rng.integers(60, 400)))
        cancels = rng.random() < 0.35
        while day < (min(stop, cancel) if cancels else stop):
            rows.append((f"u{user}", day, rng.choice(["Home", "NextSong", "Thumbs Up"])))
            day += pd.Timedelta(days=float(rng.exponential(6)) + 0.01)
        if cancels and cancel < stop:
            rows += [
                (f"u{user}", cancel, "Cancel"),
                (f"u{user}", cancel, "Cancellation Confirmation"),
            ]
    return pd.DataFrame(rows, columns=["userId", "when", "page"]).sort_values("when")


@pytest.mark.parametrize(
    ("types", "cancels"),
    [
        (["Home", "Cancellation Confirmation", "Submit Downgrade"], ["Cancellation Confirmation"]),
        (
            ["order", "subscription_cancelled", "UNSUBSCRIBE"],
            ["subscription_cancelled", "UNSUBSCRIBE"],
        ),
        (["account_closed", "Login", "churned"], ["account_closed", "churned"]),
        (["purchase", "return", "view"], []),
        (["Order Cancelled", "cancelled_order", "Cancel", "payment_cancelled"], []),
        (
            ["Subscription Cancelled", "cancel membership"],
            ["Subscription Cancelled", "cancel membership"],
        ),
        # a bare "cancelled" in a log of subscriptions is the customer's (Chargebee's events)
        (["subscription_created", "renewed", "cancelled", "plan_changed"], ["cancelled"]),
        (["trial_started", "Canceled", "payment_succeeded"], ["Canceled"]),
        # and an order's status in a shop's log
        (["placed", "shipped", "cancelled", "delivered"], []),
        # a utility's reading reasons: a move-out and a switch of supplier end the contract
        (
            ["Turnusablesung", "Auszug", "Lieferantenwechsel", "Zwischenablesung"],
            ["Auszug", "Lieferantenwechsel"],
        ),
        (["Kontoauszug", "Überweisung", "Kündigung"], ["Kündigung"]),
        (["Move Out", "Move In", "Meter Read"], ["Move Out"]),
        (["alta", "baja", "factura"], ["baja"]),
        (
            ["résiliation", "opzegging", "rescisão", "commande"],
            ["résiliation", "opzegging", "rescisão"],
        ),
    ],
)
def test_cancellations_are_named_apart_from_activity(types: list[str], cancels: list[str]) -> None:
    assert list(cancellation_types(types)) == cancels


def test_init_and_ingest_take_cancellations_from_the_event_log(tmp_path: Path) -> None:
    log = app_log(150, seed=1)
    log["when"] = log["when"].dt.strftime("%Y-%m-%d %H:%M:%S")
    root = project(tmp_path / "p")
    export = tmp_path / "log.csv"
    log.to_csv(export, index=False)
    assert "Cancel" not in set(log["page"].head(200))  # the sample's first rows hold none
    code, out = init(root, "app", "--events", str(export), "--horizon-days", "60")
    assert code == 0, out
    params = written(root, "app")
    events = params["data"]["events"]
    assert events["churn_event_types"] == ["Cancellation Confirmation"]
    assert params["labels"]["churn_definition"] == "either"
    assert "Cancellation Confirmation" not in params["labels"]["activity_event_types"]
    assert "Cancellation Confirmation" not in params["features"]["event_types"]
    assert "Cancel" in params["labels"]["activity_event_types"]  # a visit to the page
    assert "taken as cancellations" in out

    result = CliRunner().invoke(app, ["ingest", "app", "--project-dir", str(root)])
    assert result.exit_code == 0, result.output
    churns = pd.read_parquet(root / "data/interim/app/canonical/churn_events.parquet")
    cancelled = log[log["page"] == "Cancellation Confirmation"]
    assert len(churns) == len(cancelled) > 0
    assert set(churns["customer_id"]) == set(cancelled["userId"])
    assert churns.equals(churns.sort_values(["customer_id", "ts"]))
    labels = CliRunner().invoke(app, ["labels", "app", "--project-dir", str(root)])
    assert labels.exit_code == 0, labels.output


def test_types_add_to_a_churn_events_file(tmp_path: Path) -> None:
    log = app_log(60, seed=2)
    log["when"] = log["when"].dt.strftime("%Y-%m-%d %H:%M:%S")
    root = project(tmp_path / "p")
    raw = root / "data/raw/app"
    raw.mkdir(parents=True)
    log.to_csv(raw / "log.csv", index=False)
    pd.DataFrame({"user": ["u0", "zz"], "closed": ["2024-01-05", "2024-02-01"]}).to_csv(
        raw / "closures.csv", index=False
    )
    params = {
        "engine": "local",
        "data": {
            "kind": "events",
            "events": {
                "sources": [
                    {
                        "path": "data/raw/app/log.csv",
                        "columns": {
                            "customer_id": "userId",
                            "timestamp": "when",
                            "event_type": "page",
                        },
                    }
                ],
                "churn_event_types": ["cancellation confirmation"],  # case and blanks aside
            },
            "churn_events": {
                "sources": [
                    {
                        "path": "data/raw/app/closures.csv",
                        "columns": {"customer_id": "user", "timestamp": "closed"},
                    }
                ]
            },
        },
        "labels": {
            "churn_definition": "explicit",
            "activity_event_types": ["Home", "NextSong"],
            "horizon_days": 60,
            "train_cutoffs": {"dates": ["2023-09-01", "2023-11-01"]},
            "test_cutoff": "2024-01-01",
        },
    }
    (root / "pipelines/app").mkdir(parents=True)
    (root / "pipelines/app/params.yaml").write_text(json.dumps(params))
    result = CliRunner().invoke(app, ["ingest", "app", "--project-dir", str(root)])
    assert result.exit_code == 0, result.output
    churns = pd.read_parquet(root / "data/interim/app/canonical/churn_events.parquet")
    confirmed = log[log["page"] == "Cancellation Confirmation"]
    assert len(churns) == len(confirmed) + 2
    assert {"u0", "zz"} <= set(churns["customer_id"])


def test_explicit_churn_needs_a_table_or_event_types(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    log = app_log(20, seed=3)
    export = tmp_path / "log.csv"
    log.to_csv(export, index=False)
    code, out = init(root, "app", "--events", str(export), "--horizon-days", "60")
    assert code == 0, out
    bare = written(root, "app")
    assert bare["labels"]["churn_definition"] == "either"
    del bare["data"]["events"]["churn_event_types"]
    (root / "pipelines/app/params.yaml").write_text(json.dumps(bare))
    with pytest.raises(
        ConfigError, match=r"needs a data.churn_events table, or data.events.churn_event_types"
    ):
        load_settings(root, "app")


def test_a_cancel_flag_mapped_as_the_event_type(tmp_path: Path) -> None:
    """A billing log (KKBox's shape): dates as YYYYMMDD numbers, is_cancel 0 or 1 per row."""
    rng = np.random.default_rng(5)
    n = 400
    log = pd.DataFrame(
        {
            "msno": rng.choice([f"m{i}" for i in range(60)], n),
            "transaction_date": pd.to_datetime("2016-01-01")
            + pd.to_timedelta(rng.integers(0, 700, n), unit="D"),
            "actual_amount_paid": rng.choice([99, 129, 149], n),
            "is_cancel": (rng.random(n) < 0.1).astype(int),
        }
    )
    log["transaction_date"] = log["transaction_date"].dt.strftime("%Y%m%d").astype(int)
    root = project(tmp_path / "p")
    (root / "data/raw/kk").mkdir(parents=True)
    log.to_csv(root / "data/raw/kk/transactions.csv", index=False)
    params = {
        "engine": "local",
        "data": {
            "kind": "events",
            "events": {
                "sources": [
                    {
                        "path": "data/raw/kk/transactions.csv",
                        "columns": {
                            "customer_id": "msno",
                            "timestamp": "transaction_date",
                            "amount": "actual_amount_paid",
                            "event_type": "is_cancel",
                        },
                        "timestamp_format": "%Y%m%d",
                    }
                ],
                "churn_event_types": ["1"],
            },
        },
        "labels": {
            "churn_definition": "either",
            "activity_event_types": ["0"],
            "horizon_days": 60,
            "train_cutoffs": {"dates": ["2016-09-01", "2016-12-01"]},
            "test_cutoff": "2017-06-01",
        },
    }
    (root / "pipelines/kk").mkdir(parents=True)
    (root / "pipelines/kk/params.yaml").write_text(json.dumps(params))
    for stage in ("ingest", "labels"):
        result = CliRunner().invoke(app, [stage, "kk", "--project-dir", str(root)])
        assert result.exit_code == 0, result.output
    churns = pd.read_parquet(root / "data/interim/kk/canonical/churn_events.parquet")
    assert len(churns) == int(log["is_cancel"].sum())
    assert set(churns["customer_id"]) == set(log.loc[log["is_cancel"] == 1, "msno"])


def test_returns_are_named_apart_from_cancellations() -> None:
    types = ["Order Placed", "Refund Issued", "return", "Order Cancelled", "Chargeback", "Cancel"]
    assert list(return_types(types)) == ["Refund Issued", "return", "Order Cancelled", "Chargeback"]
    assert cancellation_types(types) == ()
    # an order partly refunded is a sale the customer kept most of, not a return
    assert return_types(["partially_refunded", "Partially Returned", "refunded"]) == ("refunded",)
