"""``churn init`` on e-commerce clickstreams as analytics tools export them (REES46's
``2019-10-01 00:00:04 UTC`` times, ``user_id`` beside ``user_session``, Retail Rocket's
``visitorid``; views, carts and purchases in one event type column): the person is found, the
times read, and only purchases keep a customer from churning, the rest becoming features."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.data.inference import infer_event_roles, timestamp_format
from churn.data.parsing import parse_timestamps
from churn.init.event_kinds import purchase_types
from churn.init.lapse import returns
from churn.settings import load_settings
from tests.test_init import export, init, project, written


def clickstream(n: int, seed: int) -> pd.DataFrame:
    """A shop's event log: sessions of views, carts and now and then a purchase, with the
    product's price on every row, times written with a ``UTC`` suffix."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2019-10-01")
    rows = []
    for _ in range(n):
        user = 500_000_000 + int(rng.integers(0, 10**8))
        t, life, rate = rng.uniform(0, 200), rng.exponential(200), rng.gamma(1.0, 0.1)
        while t < min(life, 364):
            session = str(uuid.UUID(int=int(rng.integers(0, 2**62))))
            for k in range(int(rng.integers(1, 6))):
                kind = rng.choice(
                    ["view", "cart", "remove_from_cart", "purchase"], p=[0.7, 0.15, 0.05, 0.1]
                )
                rows.append(
                    {
                        "event_time": (start + pd.Timedelta(days=t, minutes=k)).strftime(
                            "%Y-%m-%d %H:%M:%S UTC"
                        ),
                        "event_type": kind,
                        "product_id": int(rng.integers(10**6, 10**7)),
                        "brand": rng.choice(["samsung", "apple", ""]),
                        "price": round(float(rng.gamma(2, 50)), 2),
                        "user_id": user,
                        "user_session": session,
                    }
                )
            t += rng.exponential(1 / rate)
    return pd.DataFrame(rows).sort_values("event_time", kind="stable")


def test_times_with_a_utc_suffix_read_as_instants() -> None:
    values = pd.Series(["2019-10-01 00:00:00 UTC", "2019-10-01 23:00:04 GMT", None])
    assert timestamp_format(values.dropna()) is None  # ISO 8601 with a zone
    parsed, bad = parse_timestamps(values, fmt=None, timezone="Europe/Paris")
    assert parsed.tolist()[:2] == [pd.Timestamp("2019-10-01"), pd.Timestamp("2019-10-01 23:00:04")]
    assert bad.empty


def test_the_person_is_the_user_id_not_the_session() -> None:
    roles = infer_event_roles(clickstream(40, 1).astype(str))
    assert roles.customer_id == "user_id"
    assert roles.timestamp.column == "event_time" and roles.timestamp.format is None
    assert roles.event_type == "event_type"


@pytest.mark.parametrize("column", ["visitorid", "player_id", "PatientID"])
def test_people_of_other_trades_are_customers(column: str) -> None:
    rng = np.random.default_rng(2)
    log = pd.DataFrame(
        {
            "timestamp": (1_433_221_332_117 + rng.integers(0, 10**9, 200)).astype(str),
            column: rng.integers(0, 40, 200).astype(str),
            "event": rng.choice(["view", "addtocart", "transaction"], 200),
        }
    )
    roles = infer_event_roles(log)
    assert roles.customer_id == column
    assert roles.timestamp.format == "unix_ms"


@pytest.mark.parametrize(
    ("types", "bought"),
    [
        (["cart", "purchase", "remove_from_cart", "view"], ("purchase",)),
        (["addtocart", "transaction", "view"], ("transaction",)),
        (["login", "payment", "payment_failed"], ("payment",)),
        (["order_completed", "order_refunded", "page_view"], ("order_completed",)),
        (["purchase"], ()),  # every event a purchase: nothing to choose
        (["Home", "NextSong", "Thumbs Up"], ()),  # a music app: no purchase among them
        # the steps towards a purchase are not one
        (["Opened Checkout", "Shared Order", "Purchase Completed"], ("Purchase Completed",)),
        # a shop's order statuses: completed and processing orders are sales (WooCommerce)
        (
            ["cancelled", "completed", "failed", "on-hold", "pending", "processing", "refunded"],
            ("completed", "processing"),
        ),
        # an order partly refunded is a sale: the customer kept the rest (Shopify)
        (
            ["authorized", "paid", "partially_refunded", "pending", "voided"],
            ("paid", "partially_refunded"),
        ),
        (["Completed", "Partially Returned", "Returned"], ("Completed", "Partially Returned")),
        # Olist's order statuses: an invoiced or approved order is a sale, a created one not yet
        (
            [
                *("approved", "canceled", "created", "delivered", "invoiced", "processing"),
                *("shipped", "unavailable"),
            ],
            ("approved", "delivered", "invoiced", "processing", "shipped"),
        ),
    ],
)
def test_purchases_among_other_events(types: list[str], bought: tuple[str, ...]) -> None:
    assert purchase_types(types) == bought


def test_a_clickstream_initialises_with_purchases_as_activity(tmp_path: Path) -> None:
    log = clickstream(300, 3)
    root = project(tmp_path / "p")
    code, out = init(root, "shop", "--events", str(export(tmp_path, log, "events.csv")))
    assert code == 0, out
    params = written(root, "shop")
    assert params["labels"]["activity_event_types"] == ["purchase"]
    assert set(params["features"]["event_types"]) == {
        "cart",
        "purchase",
        "remove_from_cart",
        "view",
    }
    assert "only purchase events keep a customer" in out
    settings = load_settings(root, "shop")
    assert settings.data.events is not None
    assert settings.data.events.sources[0].columns["amount"] == "price"


def test_who_returns_is_counted_on_purchases(tmp_path: Path) -> None:
    """The silence that means a customer is lost comes from gaps between purchases, not
    between page views."""
    log = clickstream(300, 4)
    bought = log[log["event_type"] == "purchase"]
    times = pd.to_datetime(bought["event_time"].str.replace(" UTC", ""))
    expected = returns(bought["user_id"].astype(str), times, 90)
    assert expected.lapse is not None
    root = project(tmp_path / "p")
    code, out = init(root, "shop", "--events", str(export(tmp_path, log, "events.csv")))
    assert code == 0, out
    assert f"99 % of the {expected.lapse.returns:,} returns" in out
    assert written(root, "shop")["labels"]["max_inactive_days"] == expected.lapse.days
