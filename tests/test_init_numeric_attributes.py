"""Event logs whose rows carry numbers about the customer or their plan, not the event (KKBox's
``is_auto_renew`` and ``payment_plan_days``, a SaaS log's seats): the same value on each of a
customer's rows, different between customers. Summed they mean nothing, so they were no
measure, and only text columns could be event attributes, so init dropped them, though an
auto-renew flag is among the strongest signs of who stays. Init now maps them as numeric
event attributes (``data.events.numeric_attributes``): ingest keeps them as numbers and the
latest value before each cutoff is a numeric feature."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from churn.data.inference import customer_number_columns, infer_event_roles
from tests._project import run_stages
from tests.test_init import export, init, project, written

TEST_CUTOFF = "2024-10-01"
FLIPPED = "flip-0001"
"""A customer who turns auto-renew off and moves to a yearly plan on the test cutoff's day."""


def _billing_log(n: int, seed: int) -> pd.DataFrame:
    """Monthly payments of ``n`` customers over two years; each keeps one auto-renew flag and
    plan length (those without auto-renew leave sooner), a payment method id and a contract
    number; ``FLIPPED`` pays every day and changes both on ``TEST_CUTOFF``."""
    rng = np.random.default_rng(seed)
    start, end = pd.Timestamp("2023-01-01"), pd.Timestamp("2024-12-31")
    rows = []
    for c in range(n):
        auto = int(rng.random() < 0.7)
        plan = int(rng.choice([30, 30, 90, 365]))
        method = int(rng.choice([34, 36, 38, 41]))
        t = start + pd.Timedelta(days=int(rng.integers(0, 120)))
        while t <= end:
            rows.append(
                {
                    "member": f"m-{c:04d}",
                    "paid_on": t.strftime("%Y-%m-%d"),
                    "amount_paid": 9.99 * plan / 30,
                    "is_auto_renew": auto,
                    "plan_days": plan,
                    "payment_method_id": method,  # an id: no attribute
                    "contract": 700_000 + c,  # a number per customer, all different: none
                    "is_churned": 0,  # the label's name: never
                }
            )
            if rng.random() < (0.03 if auto else 0.2):
                break
            t += pd.Timedelta(days=30)
    for day in pd.date_range(start, end, freq="D"):
        after = day >= pd.Timestamp(TEST_CUTOFF)
        rows.append(
            {
                "member": FLIPPED,
                "paid_on": day.strftime("%Y-%m-%d"),
                "amount_paid": 0.33,
                "is_auto_renew": 0 if after else 1,
                "plan_days": 365 if after else 30,
                "payment_method_id": 41,
                "contract": 799_999,
                "is_churned": 0,
            }
        )
    return pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def test_numbers_each_customer_keeps_are_attributes_and_ids_and_labels_are_not() -> None:
    sample = _billing_log(150, seed=1).astype(str).head(5000)
    sample["logins"] = np.arange(len(sample)) % 9  # differs from event to event: a measure
    columns = [c for c in sample.columns if c not in ("member", "paid_on", "amount_paid")]
    found = customer_number_columns(sample, columns, sample["member"])
    assert found == ("is_auto_renew", "plan_days")
    roles = infer_event_roles(sample)
    assert (roles.customer_id, roles.timestamp.column) == ("member", "paid_on")
    assert roles.amount == "amount_paid"
    assert roles.numeric_attributes == ("is_auto_renew", "plan_days")
    assert roles.measures == ("logins",)


def test_a_plan_flag_goes_from_init_to_a_point_in_time_numeric_feature(tmp_path: Path) -> None:
    log = _billing_log(150, seed=2)
    root = project(tmp_path)
    path = export(tmp_path, log, "payments.csv")
    code, output = init(root, "plans", "--events", str(path), "--test-cutoff", TEST_CUTOFF)
    assert code == 0, output
    assert "is_auto_renew, plan_days" in output  # init says what it took
    events = written(root, "plans")["data"]["events"]
    assert events["sources"][0]["attributes"] == {
        "is_auto_renew": "is_auto_renew",
        "plan_days": "plan_days",
    }
    assert events["numeric_attributes"] == ["is_auto_renew", "plan_days"]

    run_stages(root, ["ingest", "labels", "features"], name="plans")
    canonical = pd.read_parquet(root / "data/interim/plans/canonical/events.parquet")
    assert canonical["is_auto_renew"].dtype == "float64"
    catalogue = json.loads(
        (root / "data/interim/plans/feature_catalogue.json").read_text(encoding="utf-8")
    )
    kinds = {f["name"]: (f["family"], f["kind"]) for f in catalogue}
    assert kinds["is_auto_renew"] == kinds["plan_days"] == ("attribute", "numeric")
    features = pd.read_parquet(root / "data/interim/plans/features.parquet")
    assert features["is_auto_renew"].dtype == "float64"

    flipped = features[features["customer_id"] == FLIPPED].set_index("cutoff")
    # the change is on the test cutoff's day itself: that cutoff still sees the earlier plan
    at_test = flipped.loc[pd.Timestamp(TEST_CUTOFF)]
    assert (at_test["is_auto_renew"], at_test["plan_days"]) == (1.0, 30.0)
    later = flipped[flipped.index > pd.Timestamp(TEST_CUTOFF)]
    assert len(later) and (later["is_auto_renew"] == 0.0).all()
    assert (later["plan_days"] == 365.0).all()

    by_customer = log.groupby("member")[["is_auto_renew", "plan_days"]].first()
    others = features[features["customer_id"] != FLIPPED].merge(
        by_customer, left_on="customer_id", right_index=True, suffixes=("", "_raw")
    )
    assert len(others)
    assert (others["is_auto_renew"] == others["is_auto_renew_raw"]).all()
    assert (others["plan_days"] == others["plan_days_raw"]).all()
