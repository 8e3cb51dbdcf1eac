"""Event logs whose rows carry text about the customer (a plan, a country, a device, a payment
method, a channel) beside text about the event or the product (a product's name and category,
a comment, a session) and personal data. Init found the first (``roles.attributes``) but
wrote none of them, so a user got no such feature (the bundled retail pipeline's ``country``
was written by hand). Init now maps those that describe the customer as the source's
``attributes``, whose latest value before a cutoff is a category feature, and says which it
left out and why."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from churn.data.inference import infer_event_roles
from churn.init.event_attributes import MAX_TEXT_ATTRIBUTES, text_attributes
from tests._project import run_stages
from tests.test_init import export, init, project, written

TEST_CUTOFF = "2024-10-01"
MOVER = "u-9999"
"""A customer who moves from the Basic to the Pro plan on the test cutoff's day."""
COUNTRIES = [f"Country {c}" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"] + ["Elsewhere"] * 4
PRODUCTS = [f"Product {p:03d} ({p % 7} pack)" for p in range(300)]
CATEGORIES = [f"Category {c:02d}" for c in range(25)]


def _shop_log(n: int, seed: int) -> pd.DataFrame:
    """Orders of ``n`` customers over two years, shuffled: each keeps a plan, a country and a
    name and email; device, payment method and channel change from order to order among a
    few values; product, category, comment, session and weekday are the order's.
    ``MOVER`` buys every week and moves plan on ``TEST_CUTOFF``."""
    rng = np.random.default_rng(seed)
    start, end = pd.Timestamp("2023-01-01"), pd.Timestamp("2024-12-31")
    rows = []

    def row(c: str, t: pd.Timestamp, plan: str, country: str) -> dict[str, object]:
        return {
            "user_id": c,
            "ordered_at": t.strftime("%Y-%m-%d %H:%M:%S"),
            "total": round(float(rng.gamma(2, 20)), 2),
            "plan": plan,
            "Country": country,
            "device": str(rng.choice(["mobile", "desktop", "tablet"])),
            "payment_method": str(rng.choice(["card", "paypal", "bank transfer"])),
            "channel": str(rng.choice(["web", "app", "email", "store"])),
            "product_name": str(rng.choice(PRODUCTS)),
            "product_category": str(rng.choice(CATEGORIES)),
            "customer_email": f"{c}@example.com",
            "Customer Name": f"Person {c}",
            "session": f"s-{rng.integers(0, 10**9):09d}",
            "comment": str(rng.choice(["", "please leave it at the back door", "gift wrap it"])),
            "subscription_status": "canceled" if rng.random() < 0.05 else "active",
            "weekday": t.strftime("%A"),
        }

    for k in range(n):
        c = f"u-{k:04d}"
        plan = str(rng.choice(["Basic", "Pro", "Team"]))
        country = str(rng.choice(COUNTRIES))
        loyal = plan != "Basic"
        t = start + pd.Timedelta(days=int(rng.integers(0, 200)))
        while t <= end:
            rows.append(row(c, t, plan, country))
            if rng.random() < (0.04 if loyal else 0.15):
                break
            t += pd.Timedelta(days=int(rng.integers(5, 40)), hours=int(rng.integers(0, 20)))
    for t in pd.date_range(start, end, freq="7D"):
        plan = "Pro" if t >= pd.Timestamp(TEST_CUTOFF) else "Basic"
        rows.append(row(MOVER, t + pd.Timedelta(hours=10), plan, "Country A"))
    return pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def test_text_about_the_customer_is_taken_and_the_rest_left_out_with_a_reason() -> None:
    sample = _shop_log(300, seed=1).astype(str).head(5000)
    roles = infer_event_roles(sample)
    assert (roles.customer_id, roles.timestamp.column, roles.amount) == (
        "user_id",
        "ordered_at",
        "total",
    )
    chosen = text_attributes(sample, roles)
    # those constant per customer first, then in the file's order
    assert chosen.taken == ("plan", "Country", "device", "payment_method", "channel")
    why = dict(chosen.left_out)
    assert set(why) == {
        "product_name",
        "product_category",
        "customer_email",
        "Customer Name",
        "session",
        "comment",
        "subscription_status",
        "weekday",
    }
    assert "about each row or product" in why["product_name"]
    assert "changing within a customer" in why["product_category"]
    assert why["customer_email"].startswith("personal") and why["Customer Name"].startswith(
        "personal"
    )
    assert why["subscription_status"].startswith("an outcome")
    assert why["comment"] == "free text"
    assert why["weekday"] == "the time of the event"
    note = chosen.note("orders.csv")
    assert note is not None and "'plan'" in note and "'product_name'" in note


def test_at_most_ten_text_attributes() -> None:
    sample = _shop_log(80, seed=2).astype(str).head(2000)
    for k in range(12):
        sample[f"segment_{k}"] = sample["plan"] + str(k)
    chosen = text_attributes(sample, infer_event_roles(sample))
    assert len(chosen.taken) == MAX_TEXT_ATTRIBUTES
    beyond = [c for c, why in chosen.left_out if why.startswith("beyond")]
    assert len(beyond) == 5 + 12 - MAX_TEXT_ATTRIBUTES


def test_a_plan_goes_from_init_to_a_point_in_time_category(tmp_path: Path) -> None:
    log = _shop_log(150, seed=3)
    root = project(tmp_path)
    path = export(tmp_path, log, "orders.csv")
    code, output = init(root, "shop", "--events", str(path), "--test-cutoff", TEST_CUTOFF)
    assert code == 0, output
    assert "plan, Country, device, payment_method, channel" in output  # the findings
    assert "left out" in output and "'customer_email'" in output  # the notes say why
    events = written(root, "shop")["data"]["events"]
    assert events["sources"][0]["attributes"] == {
        "plan": "plan",
        "country": "Country",
        "device": "device",
        "payment_method": "payment_method",
        "channel": "channel",
    }
    assert "numeric_attributes" not in events

    run_stages(root, ["ingest", "labels", "features"], name="shop")
    catalogue = json.loads(
        (root / "data/interim/shop/feature_catalogue.json").read_text(encoding="utf-8")
    )
    kinds = {f["name"]: (f["family"], f["kind"]) for f in catalogue}
    assert kinds["plan"] == kinds["country"] == ("attribute", "categorical")
    features = pd.read_parquet(root / "data/interim/shop/features.parquet")
    mover = features[features["customer_id"] == MOVER].set_index("cutoff")
    # the move is on the test cutoff's day itself: that cutoff still sees the earlier plan
    assert mover.loc[pd.Timestamp(TEST_CUTOFF), "plan"] == "Basic"
    later = mover[mover.index > pd.Timestamp(TEST_CUTOFF)]
    assert len(later) and (later["plan"] == "Pro").all()


def test_json_objects_are_no_category() -> None:
    """Amplitude's CSV export: ``user_properties`` holds each user's JSON (``{"plan":
    "free"}``), a few values in a small sample, so init took the whole text as a category while
    saying no field inside one is read."""
    rng = np.random.default_rng(14)
    n = 400
    users = rng.integers(0, 40, n)
    sample = pd.DataFrame(
        {
            "user_id": [f"user_{u:03d}" for u in users],
            "event_time": pd.date_range("2023-01-01", periods=n, freq="3h").strftime(
                "%Y-%m-%d %H:%M:%S.%f"
            ),
            "event_type": rng.choice(["session_start", "Viewed Page"], n),
            "user_properties": [json.dumps({"plan": ["free", "pro"][u % 2]}) for u in users],
            "platform": [["Web", "iOS", "Android"][u % 3] for u in users],
        }
    )
    found = text_attributes(sample, infer_event_roles(sample))
    assert found.taken == ("platform",)
    assert dict(found.left_out)["user_properties"] == "JSON objects: no field inside one is read"
