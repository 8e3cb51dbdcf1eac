"""``churn init`` on two files of one log: visits (no amount) and orders (an amount). The plan
counted a pipeline as having amounts only when every file had one, so it said "no amount
column", left out the value and ranked outreach by probability alone. The orders' amounts are
now the spend the value model reads (``scoring.value.purchase_event_types``), whatever
``labels.activity_event_types`` counts as activity."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.io.canonical import CanonicalFiles
from churn.io.paths import PipelinePaths
from churn.kinds import kind_of
from churn.modeling.clv import BetaGeoModel
from churn.settings import load_settings
from tests._project import run_stages
from tests.test_init import export, init, project, written


def _visits_and_orders(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    visits, orders = [], []
    for i in range(n):
        t = pd.Timestamp("2023-01-01") + pd.Timedelta(days=float(rng.uniform(0, 200)))
        spend = float(rng.lognormal(3.5, 0.4))
        for _ in range(int(rng.integers(3, 12))):
            t += pd.Timedelta(days=float(rng.exponential(25)))
            visits.append({"visitor": f"v{i:04d}", "visited_at": t.isoformat(), "page": "product"})
            if rng.random() < 0.4:
                orders.append(
                    {
                        "visitor": f"v{i:04d}",
                        "ordered_at": (t + pd.Timedelta(minutes=4)).isoformat(),
                        "order_value": f"{spend * rng.uniform(0.7, 1.3):.2f}",
                    }
                )
    return pd.DataFrame(visits), pd.DataFrame(orders)


def test_the_orders_amounts_are_the_value_beside_visits_without_one(tmp_path: Path) -> None:
    visits, orders = _visits_and_orders(160, seed=6)
    root = project(tmp_path / "p")
    code, out = init(
        root,
        "shop",
        "--events",
        str(export(tmp_path, visits, "visits.csv")),
        "--events",
        str(export(tmp_path, orders, "orders.csv")),
    )
    assert code == 0, out
    said = " ".join(out.split())
    assert "no amount column" not in said
    assert "the amounts of data/raw/shop/orders.csv are the spend the value model reads" in said
    params = written(root, "shop")
    assert params["scoring"]["value"]["purchase_event_types"] == ["purchase"]
    assert "priority" not in params["scoring"].get("outreach", {})  # ranked by value at risk

    run_stages(root, ["ingest", "labels", "features"], name="shop")
    settings = load_settings(root, "shop")
    assert "product" in settings.labels.activity_event_types  # visits keep a customer
    paths = PipelinePaths(root, "shop")
    features = pd.read_parquet(paths.features, columns=["customer_id"]).drop_duplicates()
    value = kind_of(settings).expected_value(
        CanonicalFiles(paths, settings.features), features, pd.Timestamp("2024-03-01").date()
    )
    buyers = set(orders["visitor"])
    bought = features["customer_id"].isin(buyers).to_numpy()
    assert (value[bought] > 0).mean() > 0.9
    assert (value[~bought] == 0).all()


def test_a_log_without_amounts_is_worth_nothing_without_fitting_a_value_model(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An app's visits, no amount anywhere: the value step had fitted BG/NBD at every cutoff
    (on Sparkify's log it warned that it did not converge) and multiplied by a spend of 0 all
    the same."""

    def no_fit(*args: object, **kwargs: object) -> None:
        raise AssertionError("a value model was fitted on a log without amounts")

    monkeypatch.setattr(BetaGeoModel, "fit", no_fit)
    visits, _ = _visits_and_orders(120, seed=7)
    root = project(tmp_path / "p")
    code, out = init(root, "app", "--events", str(export(tmp_path, visits, "visits.csv")))
    assert code == 0, out
    run_stages(root, ["ingest", "labels", "features"], name="app")
    settings = load_settings(root, "app")
    paths = PipelinePaths(root, "app")
    features = pd.read_parquet(paths.features, columns=["customer_id"]).drop_duplicates()
    with caplog.at_level(logging.WARNING, logger="churn"):
        value = kind_of(settings).expected_value(
            CanonicalFiles(paths, settings.features), features, pd.Timestamp("2024-03-01").date()
        )
    assert (value == 0).all() and len(value) == len(features)
    assert not [r for r in caplog.records if "could not be fitted" in r.getMessage()]


def _payments_and_usage(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A music service's renewals (a cancellation flag is their type column, an amount) and its
    listening days (no type, no amount), both keyed by one member code, dates as 20170301."""
    rng = np.random.default_rng(seed)
    payments, usage = [], []
    for i in range(n):
        member = f"m{i:05d}"
        t = pd.Timestamp("2023-01-01") + pd.Timedelta(days=int(rng.integers(0, 120)))
        for _ in range(int(rng.integers(2, 12))):
            cancel = int(rng.random() < 0.08)
            payments.append(
                {
                    "member": member,
                    "paid_amount": int(rng.choice([99, 149])),
                    "paid_on": t.strftime("%Y%m%d"),
                    "is_cancel": cancel,
                }
            )
            for day in range(0, 30, int(rng.integers(2, 6))):
                seconds = float(rng.uniform(100, 9000))
                day_of = (t + pd.Timedelta(days=day)).strftime("%Y%m%d")
                usage.append({"member": member, "day": day_of, "total_secs": seconds})
            if cancel:
                break
            t += pd.Timedelta(days=30)
    return pd.DataFrame(payments), pd.DataFrame(usage)


def test_typed_payments_beside_a_usage_log_are_the_spend(tmp_path: Path) -> None:
    """KKBox's transactions (``is_cancel`` their type, an amount) beside its user logs (no
    type, no amount): the spend types were left unwritten, so the value model read the
    listening days among the purchases and valued every customer at 0, the outreach list
    ranked by nothing. The payments' own activity type is the spend."""
    payments, usage = _payments_and_usage(150, seed=8)
    root = project(tmp_path / "p")
    code, out = init(
        root,
        "music",
        "--events",
        str(export(tmp_path, payments, "transactions.csv")),
        "--events",
        str(export(tmp_path, usage, "user_logs.csv")),
    )
    assert code == 0, out
    params = written(root, "music")
    assert params["data"]["events"]["churn_event_types"] == ["1"]
    assert set(params["labels"]["activity_event_types"]) == {"0", "purchase"}  # listening too
    assert params["scoring"]["value"]["purchase_event_types"] == ["0"]

    run_stages(root, ["ingest", "labels", "features"], name="music")
    settings = load_settings(root, "music")
    paths = PipelinePaths(root, "music")
    features = pd.read_parquet(paths.features, columns=["customer_id"]).drop_duplicates()
    value = kind_of(settings).expected_value(
        CanonicalFiles(paths, settings.features), features, pd.Timestamp("2023-09-01").date()
    )
    assert (value > 0).mean() > 0.5  # all 0 before; a member who cancelled is worth nothing


def test_a_table_of_an_orders_details_is_named_as_one(tmp_path: Path) -> None:
    """Olist's payments beside its orders: keyed by `order_id`, no customer and no time. init
    said only that no column looked like the customer id, with no hint of the join."""
    orders = pd.DataFrame(
        {
            "order_id": [f"o{k:04d}" for k in range(200)],
            "customer_id": [f"c{k % 40:03d}" for k in range(200)],
            "order_purchase_timestamp": pd.date_range("2023-01-01", periods=200, freq="2D")
            .strftime("%Y-%m-%d %H:%M:%S")
            .tolist(),
        }
    )
    payments = pd.DataFrame(
        {
            "order_id": [f"o{k:04d}" for k in range(200)],
            "payment_type": ["credit_card", "boleto"] * 100,
            "payment_value": [f"{10 + k % 50}.90" for k in range(200)],
        }
    )
    root = project(tmp_path / "p")
    code, out = init(
        root,
        "olist",
        "--events",
        str(export(tmp_path, orders, "orders.csv")),
        "--events",
        str(export(tmp_path, payments, "payments.csv")),
    )
    assert code == 2
    said = " ".join(out.split())
    assert "payments.csv: no column looks like the customer id" in said
    assert "It shares ['order_id'] with data/raw/olist/orders.csv" in said
    assert "Join it to data/raw/olist/orders.csv on 'order_id' first, or leave it out." in said
